"""The run directory: the one format runners write and plots (and export) read.

    config.json            {"config": every setting, "command": the command that made it,
                            "hyperprune": the version}
    init.npz               θ0 (rebuilt bitwise from the seed when missing); rewind.npz,
                           the weights at the rewind iteration
    masks/level_KK.npz     the mask trained at level KK (0/1 uint8, compressed)
    weights/level_KK.npz   the weights level KK ended training with (for `hyperprune
                           export`; not committed, export replays a level without them)
    levels/level_KK.json   level KK's summary, evaluation curve and surviving-weight
                           histogram, and the digest of the mask it made for level KK+1;
                           its existence marks the level done
    metrics.csv, metrics.json, curves.csv   every finished level, rewritten after each
    checkpoint.npz         mid-level state of the level in progress (removed when done)

Every file is written atomically (hyperprune.io), so a kill at any moment leaves a
consistent directory; every file is verified when a run reads it back (the runner checks
masks against the model, the previous mask and the level records, and θ0 against its
rebuild from the seed), and every error names its file.
"""
import csv
import io as _io
from pathlib import Path

from . import io, prune

SUMMARY_FIELDS = ("level", "weights_remaining", "pm", "pm_of_real", "final_iteration",
                  "early_stop_iteration",
                  "early_stop_val_loss", "early_stop_val_acc", "early_stop_test_acc",
                  "final_val_loss", "final_val_acc", "final_test_acc", "final_test_loss",
                  "early_stop_val_perplexity", "final_val_perplexity", "seconds",
                  "keep")                                   # keep: a supermask run's
CURVE_FIELDS = ("iteration", "train_loss", "val_loss", "val_acc", "test_loss", "test_acc",
                "last")


class RunDir:
    """The files of one run directory (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.init_path = self.path / "init.npz"
        self.rewind_path = self.path / "rewind.npz"
        self.checkpoint_path = self.path / "checkpoint.npz"

    def __repr__(self):
        return f"RunDir({str(self.path)!r})"

    def file(self, *parts):
        return self.path.joinpath(*parts)

    def mask_path(self, level):
        return self.file("masks", f"level_{level:02d}.npz")

    def level_path(self, level):
        return self.file("levels", f"level_{level:02d}.json")

    def weights_path(self, level):
        """The weights level `level` ended training with (kept for export; not committed)."""
        return self.file("weights", f"level_{level:02d}.npz")

    # ----------------------------------------------------------------- records
    def read_config(self):
        """The flat settings dict saved in config.json."""
        return io.load_json(self.config_path)["config"]

    def write_config(self, config, command, version):
        io.save_json(self.config_path, {"config": config, "command": command,
                                        "hyperprune": version})

    def level_records(self):
        """Every level record present ({"summary", "curve", "histogram"}), in level order."""
        return [io.load_json(p) for p in sorted(self.file("levels").glob("level_*.json"))]

    def finished_levels(self, last):
        """The levels 0..last whose record exists."""
        return [k for k in range(last + 1) if self.level_path(k).exists()]

    def read_level(self, level):
        """{"summary", "curve", "histogram"} of a finished level."""
        return io.load_json(self.level_path(level))

    def write_level(self, level, summary, curve, histogram, next_mask=None):
        """Level `level` is done: its record, with the digest of the mask it made for the
        next level (Masks.digest), so that a changed mask file is recognised."""
        record = {"summary": summary, "curve": curve, "histogram": histogram}
        if next_mask is not None:
            record["next_mask"] = next_mask
        io.save_json(self.level_path(level), record, compact=True)

    def clear(self):
        """Remove every file of the run (to start it again); other files stay."""
        for path in (self.config_path, self.init_path, self.rewind_path, self.checkpoint_path,
                     self.file("metrics.csv"), self.file("metrics.json"),
                     self.file("curves.csv")):
            path.unlink(missing_ok=True)
        for folder in ("masks", "levels", "weights"):
            for path in self.file(folder).glob("level_*.*"):
                path.unlink()

    def summaries(self, levels):
        """The summaries of `levels` (finished), each with the fields of SUMMARY_FIELDS."""
        return [_fields(self.read_level(k)["summary"], SUMMARY_FIELDS) for k in levels]

    def verified_mask(self, level, model, scope):
        """The mask of `level`, checked against the model (its layers in `scope`, their
        shapes, not empty), against the previous level's mask (nested) and against what
        the previous level recorded (its mask's weight count, the digest of the mask it
        made): a changed file is refused, naming it."""
        path = self.mask_path(level)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: level {level - 1} of {self.path} "
                                    "did not finish")
        masks = prune.Masks.load(path)
        previous = None
        if level > 0 and self.mask_path(level - 1).exists():
            previous = prune.Masks.load(self.mask_path(level - 1))
            previous.verify(model, scope, self.mask_path(level - 1))
        masks.verify(model, scope, path, previous)
        if previous is not None and self.level_path(level - 1).exists():
            record = self.read_level(level - 1)
            kept = sum(previous.remaining().values())
            if record["summary"]["weights_remaining"] != kept:
                raise ValueError(f"{self.mask_path(level - 1)} keeps {kept} weights, but "
                                 f"{self.level_path(level - 1)} recorded "
                                 f"{record['summary']['weights_remaining']}: a changed file")
            if record.get("next_mask", masks.digest()) != masks.digest():
                raise ValueError(f"{path} is not the mask level {level - 1} made (its digest "
                                 f"differs from the one in {self.level_path(level - 1)}): a "
                                 "changed file")
        return masks

    def write_metrics(self, config, levels):
        """metrics.csv, curves.csv and metrics.json of the finished `levels`."""
        records = [self.read_level(k) for k in levels]
        if not records:
            return
        summaries = [_fields(r["summary"], SUMMARY_FIELDS) for r in records]
        io.save_text(self.file("metrics.csv"), _csv(summaries))
        curves = [{"level": k, **_fields(point, CURVE_FIELDS)}
                  for k, r in zip(levels, records) for point in r["curve"]]
        io.save_text(self.file("curves.csv"), _csv(curves))
        io.save_json(self.file("metrics.json"), {"config": config, "levels": summaries})

    def read_metrics(self):
        """(config, level summaries) from metrics.json."""
        metrics = io.load_json(self.file("metrics.json"))
        return metrics["config"], metrics["levels"]


def _fields(record, names):
    return {k: record[k] for k in names if k in record}


def _csv(rows):
    """CSV of dict rows: the columns of every row, in first-seen order (a column a row
    lacks is empty there: e.g. a test point skipped by test_when_improved)."""
    fields = list(dict.fromkeys(k for row in rows for k in row))
    out = _io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def find_runs(paths):
    """Every run directory (holding metrics.json) at or below the given paths."""
    runs = []
    for p in map(Path, paths):
        if (p / "metrics.json").exists():
            runs.append(RunDir(p))
        else:
            runs.extend(RunDir(q) for q in sorted(q.parent for q in p.rglob("metrics.json")))
    if not runs:
        raise FileNotFoundError(f"no run directories (with metrics.json) under "
                                f"{', '.join(map(str, paths))}")
    return runs
