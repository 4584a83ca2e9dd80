"""Figures from run directories (matplotlib, written to a file; never shown).

lottery_figure(run_dirs, out): the lottery-ticket plot of Frankle & Carbin's figures,
real and quaternion on the same axes:
    left    test accuracy at early stop vs weights remaining (% of the *real* model)
    middle  test accuracy at the end of training vs weights remaining
    right   early-stop iteration vs weights remaining
x on a log scale, decreasing to the right; runs with the same label (algebra, strategy,
granularity, control) are replicates: their mean is the line, min/max the band.

Supermask runs (hyperprune.supermask: one point each) plot beside the IMP runs: the runs
of one seed that differ only in `keep` are one line, over keep; seeds are replicates.
"""
import json
import textwrap
from collections import OrderedDict
from pathlib import Path

import numpy as np

from . import io, models
from .config import LotteryConfig, SupermaskConfig
from .rundir import find_runs


def run_label(config):
    algebra = config["algebra"]
    if "keep" in config:                            # a supermask run
        parts = ["supermask", algebra, config["init"].replace("_", " ")]
        parts += [f"{config['weight_bits']}-bit"] if config["init"] == "kbit" else []
        parts += ["whole-element"] if config["granularity"] == "element" and \
            algebra != "real" else []
        parts += ["scaled fan"] if config.get("scale_fan") else []
        return " ".join(parts + (["biprop"] if config["binary"] else []))
    name = f"phm n={config.get('phm_n', 4)}" if algebra == "phm" else algebra
    parts = [name, config["strategy"]]
    if algebra != "real" and config.get("granularity") in ("quaternion", "element"):
        parts.append("whole-quaternion" if algebra == "quaternion" else "whole-element")
    if config.get("fused_qkv"):
        parts.append("fused QKV (qytorch)")
    if config.get("quaternion_mlp"):
        parts.append(f"{'quaternion' if algebra == 'quaternion' else 'hypercomplex'} MLP")
    if config.get("control", "none") != "none":
        parts.append(config["control"].replace("_", " "))
    return " ".join(parts)


# settings in which the replicates of one experiment may differ
REPLICATE_FIELDS = ("seed", "levels", "checkpoint_every", "masks_from")


def experiment_labels(configs):
    """run_label of each config; configs whose short labels coincide are told apart by
    the settings in which they differ, e.g. "real componentwise (rate 0.3)" (replicate
    settings such as the seed excepted)."""
    short = [run_label(c) for c in configs]
    labels = []
    for label, config in zip(short, configs):
        namesakes = [c for other, c in zip(short, configs) if other == label]
        differing = [k for k in sorted(config) if k not in REPLICATE_FIELDS
                     and len({json.dumps(c.get(k)) for c in namesakes}) > 1]
        if differing:
            label += " (" + ", ".join(f"{k.replace('_', ' ')} {config[k]}"
                                      for k in differing) + ")"
        labels.append(label)
    return labels


def load_groups(paths):
    """OrderedDict label -> list of per-replicate level summaries.  Runs are replicates
    of one experiment when their configs agree except in REPLICATE_FIELDS; experiments
    whose short labels coincide are told apart by the settings in which they differ
    (e.g. "real componentwise (rate 0.3)")."""
    experiments = OrderedDict()
    for run in find_runs(paths):
        config, levels = run.read_metrics()
        supermask = "keep" in config
        # settings added later: their defaults
        config = {**(SupermaskConfig if supermask else LotteryConfig)().to_dict(), **config}
        skip = REPLICATE_FIELDS + (("keep",) if supermask else ())
        key = json.dumps({k: v for k, v in config.items() if k not in skip}, sort_keys=True)
        replicates = experiments.setdefault(key, (config, OrderedDict()))[1]
        # a supermask run is one point: a seed's runs over keep make its line
        replicates.setdefault(config["seed"] if supermask else len(replicates),
                              []).extend(levels)
    configs = [config for config, _ in experiments.values()]
    groups = OrderedDict(zip(experiment_labels(configs), (
        [sorted(r, key=lambda s: -s["pm_of_real"]) for r in replicates.values()]
        for _, replicates in experiments.values())))
    order = sorted(groups, key=lambda label: (label.startswith("supermask"),
                                              "real" not in label.split()[:2], label))
    return OrderedDict((label, groups[label]) for label in order)


def _language_models(paths):
    """True when the runs are language models (perplexity), False for classifiers
    (accuracy); a mix is refused -- a character accuracy is not a test accuracy."""
    kinds = {}
    for run in find_runs(paths):
        lm = models.get_family(run.read_metrics()[0]["model"]).language_model
        kinds.setdefault(lm, []).append(str(run.path))
    if len(kinds) > 1:
        raise ValueError(f"these runs mix language models (validation perplexity: "
                         f"{', '.join(kinds[True])}) with classifiers (test accuracy: "
                         f"{', '.join(kinds[False])}); plot them separately")
    return next(iter(kinds))


def own_targets(groups, merge=1.02):
    """The x positions of the runs' own levels (% of the real model, first replicate of
    every group, 3 significant digits), largest first; values within a factor `merge` of
    each other are one position (the same fraction reached by two runs)."""
    values = sorted({float(f"{level['pm_of_real'] * 100:.3g}") for replicates in
                     groups.values() for level in replicates[0]}, reverse=True)
    kept = []
    for v in values:
        if not kept or kept[-1] > merge * v:
            kept.append(v)
    return kept


def _series(replicates, key):
    """x (pm_of_real, %) and mean/min/max of `key` over replicates at common levels."""
    n = min(len(r) for r in replicates)  # levels every replicate has finished
    x = np.array([replicates[0][k]["pm_of_real"] * 100 for k in range(n)])
    values = np.array([[r[k][key] for k in range(n)] for r in replicates], dtype=float)
    return x, values.mean(0), values.min(0), values.max(0)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out, title=None, legend_rows=0):
    """Title, lay out (leaving room below for a figure legend of `legend_rows` rows),
    write atomically (a temporary file renamed), close; the path."""
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * legend_rows if legend_rows else 0, 1, 1))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=120)
    tmp.replace(out)
    _pyplot().close(fig)
    return out


def _spaced(ticks, ratio=1.5):
    """The ticks, largest first, without those closer than `ratio` to the last one kept
    (labels on a log axis overlap otherwise; a table can still list them all)."""
    kept = []
    for t in sorted(ticks, reverse=True):
        if not kept or kept[-1] >= ratio * t:
            kept.append(t)
    return kept


def _log_axis(ax, ticks):
    """Weights remaining on a log axis, decreasing to the right, labelled at `ticks`
    (those within the data, thinned so that labels never overlap); no minor labels."""
    from matplotlib.ticker import NullFormatter
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("weights remaining (% of the real model)")
    ax.grid(True, which="both", alpha=0.3)
    lo, hi = ax.get_xlim()
    shown = _spaced([t for t in ticks if min(lo, hi) <= t <= max(lo, hi)])
    ax.set_xticks(shown)
    ax.set_xticklabels([f"{t:g}" for t in shown])
    ax.xaxis.set_minor_formatter(NullFormatter())   # matplotlib labels minor ticks on
    return shown                                    # narrow ranges: they would overlap


def lottery_figure(paths, out, title=None, ticks=None):
    """Language-model runs plot validation perplexity instead of test accuracy (a mix
    is refused).  `ticks`: x positions to label (default: the runs' own levels)."""
    plt = _pyplot()
    groups = load_groups(paths)
    text = _language_models(paths)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    panels = [("early_stop_test_acc", "test accuracy at early stop (%)", 100),
              ("final_test_acc", "test accuracy at end of training (%)", 100),
              ("early_stop_iteration", "early-stop iteration", 1)]
    if text:
        panels[:2] = [("early_stop_val_perplexity", "validation perplexity at early stop", 1),
                      ("final_val_perplexity", "validation perplexity at end of training", 1)]
    for ax, (key, ylabel, scale) in zip(axes, panels):
        for label, replicates in groups.items():
            x, mean, lo, hi = _series(replicates, key)
            line, = ax.plot(x, mean * scale, marker="o", ms=3,
                            label=f"{label} (n={len(replicates)})")
            if len(replicates) > 1:
                ax.fill_between(x, lo * scale, hi * scale, alpha=0.2, color=line.get_color())
        ax.set_ylabel(ylabel)
        _log_axis(ax, ticks or own_targets(groups))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=8,
               title="n: runs (seeds) averaged; line: their mean, band: min to max",
               title_fontsize=8, frameon=False)
    return _save(fig, out, title, legend_rows=1 + (len(labels) - 1) // 3)


def histogram_figure(paths, out, title=None, max_levels=8):
    """The distribution of surviving weights in the pruned layers, one row per run and
    one panel per level (up to `max_levels`, spread over the run), as the transformer
    paper's weight-distribution figures."""
    plt = _pyplot()
    runs = find_runs(paths)
    configs = [{**LotteryConfig().to_dict(), **run.read_config()} for run in runs]
    records = []
    for run, label in zip(runs, experiment_labels(configs)):
        levels = run.level_records()
        pick = np.unique(np.linspace(0, len(levels) - 1, min(max_levels, len(levels)))
                         .round().astype(int)) if levels else []
        records.append((label, [levels[i] for i in pick]))
    records.sort(key=lambda record: not record[0].startswith("real"))  # real first
    cols = max(len(r) for _, r in records)
    fig, axes = plt.subplots(len(records), cols, figsize=(2.4 * cols, 2.0 * len(records)),
                             squeeze=False)
    for row, (label, levels) in zip(axes, records):
        for ax, record in zip(row, levels):
            hist = record.get("histogram")
            if hist:
                edges = np.array(hist["edges"])
                ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge")
            s = record["summary"]
            ax.set_title(f"level {s['level']}: {s['pm_of_real'] * 100:.3g}% of real",
                         fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_xlabel("surviving weight", fontsize=7)
        row[0].set_ylabel(textwrap.fill(label, 16) + "\ncount", fontsize=8)
        for ax in row[len(levels):]:
            ax.axis("off")
    return _save(fig, out, title)


def markdown_table(paths, targets=None):
    """A markdown table: one row per x position (weights remaining, % of the real model),
    with each run group's test accuracy at the early-stop iteration / at the end of
    training (%) -- validation perplexity for language models -- as mean ± standard
    deviation over replicates (with their number n) when a group has several; a row
    averages the replicates that reached it (n counts them), so a run still going adds
    its finished levels only.

    targets: the rows; each group contributes the level nearest to a row (within 15%).
    Default: the runs' own levels (own_targets), each group's level in its own row, so
    that no level is listed twice or left out."""
    groups = load_groups(paths)
    if targets is None:
        return _table(groups, own_targets(groups), _language_models(paths), _own_level)
    return _table(groups, targets, _language_models(paths), _nearest)


def _table(groups, targets, text, pick):
    names = list(groups)
    keys, scale = (("early_stop_val_perplexity", "final_val_perplexity"), 1) if text else \
        (("early_stop_test_acc", "final_test_acc"), 100)
    lines = ["| weights remaining (% of real) | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for target in targets:
        cells = []
        for name in names:
            # the replicates that reached this row (runs still going have fewer levels);
            # n says how many whenever the group has several
            picks = [p for p in (pick(levels, target, targets) for levels in groups[name])
                     if p is not None]
            if not picks:
                cells.append("—")
                continue
            where = f"keep {picks[0]['keep']:g}" if "keep" in picks[0] else \
                f"level {picks[0]['level']}"
            n = f", n={len(picks)}" if len(groups[name]) > 1 else ""
            cells.append(" / ".join(_spread([p[key] * scale for p in picks]) for key in keys)
                         + f" ({where}, {picks[0]['pm_of_real'] * 100:.2f}%{n})")
        if any(c != "—" for c in cells):
            lines.append(f"| {target:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _spread(values):
    """"mean" of one value, "mean ± std" (sample standard deviation) of replicates."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.2f}"
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.2f} ± {std:.2f}"


def _distance(level, target):
    return abs(level["pm_of_real"] * 100 / target - 1)


def _nearest(levels, target, targets=None):
    """The level nearest to `target`, if within 15% of it."""
    best = min(levels, key=lambda s: _distance(s, target))
    return best if _distance(best, target) < 0.15 else None


def _own_level(levels, target, targets):
    """The level whose nearest row is `target` (the nearest such, if two are)."""
    mine = [s for s in levels if min(targets, key=lambda t: _distance(s, t)) == target]
    return min(mine, key=lambda s: _distance(s, target)) if mine else None


# ------------------------------------------------------------------ distillation
def distill_label(summary):
    """"progressive, n=4 learned" and the like, from a distillation run's summary
    ("dense, no replacement" for the control)."""
    if summary["method"] == "dense":
        return "dense, no replacement"
    return f"{summary['method']}, {summary.get('label') or summary['rules']}"


def distill_description(summary):
    """"progressive (learned rules, uniform capacity)", or "dense (no replacement)"."""
    if summary["method"] == "dense":
        return "dense (no replacement)"
    return f"{summary['method']} ({summary['rules']} rules, {summary['capacity']} capacity)"


def distill_figure(run_dir, out, title=None):
    """A distillation run (hyperprune.distill): validation loss against iteration, alpha
    on a second axis, the teacher's validation loss and the end of stage A marked."""
    meta = io.load_json(Path(run_dir) / "metrics.json")
    curve, s = meta["curve"], meta["summary"]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([p["iteration"] for p in curve], [p["val_loss"] for p in curve], "o-", ms=3,
            color="C0", label="student, validation loss")
    ax.axhline(s["teacher_val_loss"], color="k", ls=":", lw=1, label="teacher")
    config = io.load_json(Path(run_dir) / "config.json")["config"]
    if s["method"] == "progressive":
        ax.axvline(config["stage_a_iters"], color="gray", ls="--", lw=1,
                   label="stage A -> B (dense dropped)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation loss (cross-entropy)")
    ax.grid(True, alpha=0.3)
    twin = ax.twinx()
    twin.plot([p["iteration"] for p in curve], [p["alpha"] for p in curve], color="C3",
              lw=1, label="alpha")
    twin.set_ylabel("alpha (0 dense, 1 PHM)", color="C3")
    twin.set_ylim(-0.05, 1.05)
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper right")
    name = title or (f"{distill_description(s)}: "
                     f"{s['student_parameters']:,} parameters")
    return _save(fig, out, name)


def distill_comparison(groups, out, title=None, x="student_parameters"):
    """Final validation loss of distillation runs against their parameter count (or
    x="bytes": bytes of the 8-bit file), mean and min-max over each group's replicates.

    groups: {label: [run_dir, ...]} -- one marker per label; the teacher(s) as a star."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    teachers = {}
    for i, (label, dirs) in enumerate(groups.items()):
        summaries = [io.load_json(Path(d) / "metrics.json")["summary"] for d in dirs]
        xs = [s[x] if x != "bytes" else s["quantization"]["student"]["8"]["bytes"]
              for s in summaries]
        ys = [s["final_val_loss"] for s in summaries]
        mean = sum(ys) / len(ys)
        ax.errorbar([sum(xs) / len(xs)], [mean], yerr=[[mean - min(ys)], [max(ys) - mean]],
                    fmt="os^vDP"[i % 6], ms=6, capsize=3, color=f"C{i}",
                    label=f"{label} (n={len(ys)})")
        for s in summaries:
            tx = s["teacher_parameters"] if x != "bytes" else \
                s["quantization"]["teacher"]["8"]["bytes"]
            teachers[round(s["teacher_val_loss"], 6)] = tx
    for loss, tx in teachers.items():
        ax.plot([tx], [loss], "k*", ms=10)
    if teachers:
        ax.plot([], [], "k*", ms=10, label="dense teacher")
    ax.set_xscale("log")
    ax.set_xlabel("parameters" if x != "bytes" else "bytes on disk (8-bit .hpz)")
    ax.set_ylabel("final validation loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, title)
