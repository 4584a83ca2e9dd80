"""Tables and figures of the distillation runs (results/distill/reproduce.sh).

    python results/distill/report.py DIR

Reads DIR/<method>_<variant>_seed<S>/metrics.json and writes DIR/distill.md (the tables),
DIR/distill.png (final validation loss against parameters and against bytes of the 8-bit
file, mean and min-max over seeds), DIR/fade.png (validation loss at alpha = 0 ... 1 for
the fade lengths) and DIR/curve.png (the progressive n = 4 run of seed 0, alpha on a
second axis).
"""
import csv
import json
import math
import re
import sys
from collections import OrderedDict
from pathlib import Path

from hyperprune import io, plots

NAME = re.compile(r"^(?P<group>.+)_seed(?P<seed>\d+)$")
LABELS = OrderedDict([
    ("dense", "dense, trained on (no replacement)"),
    ("progressive_n4", "progressive, n=4 learned"),
    ("abrupt_n4", "abrupt, n=4 learned"),
    ("scratch_n4", "from scratch, n=4 learned"),
    ("progressive_n2", "progressive, n=2 learned"),
    ("abrupt_n2", "abrupt, n=2 learned"),
    ("scratch_n2", "from scratch, n=2 learned"),
    ("progressive_quaternion", "progressive, quaternion table"),
    ("abrupt_quaternion", "abrupt, quaternion table"),
    ("scratch_quaternion", "from scratch, quaternion table"),
    ("progressive_n4_fade100", "progressive n=4, fade 100"),
    ("progressive_n4_fade800", "progressive n=4, fade 800"),
    ("progressive_n4_nokd", "progressive n=4, no KD"),
    ("progressive_n4_norecon", "progressive n=4, no L_recon"),
    ("progressive_n4_nokd_norecon", "progressive n=4, no KD, no L_recon"),
    ("progressive_fisher", "progressive, Fisher capacity (n in 2,4,8)"),
    ("progressive_random", "progressive, random capacity (same n's)"),
])


def load(out):
    groups = OrderedDict()
    for path in sorted(Path(out).glob("*/metrics.json")):
        match = NAME.match(path.parent.name)
        meta = io.load_json(path)
        if not match or not meta.get("finished"):
            continue
        groups.setdefault(match["group"], []).append((int(match["seed"]), path.parent, meta))
    return OrderedDict((g, groups[g]) for g in list(LABELS) + sorted(set(groups) - set(LABELS))
                       if g in groups)


def spread(values, digits=3):
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def main_table(groups):
    lines = ["| student | n seeds | parameters | MLP weights | final val loss | best val "
             "loss | 8-bit file |", "|---|---|---|---|---|---|---|"]
    teacher = next(iter(groups.values()))[0][2]["summary"]
    lines.append(f"| dense teacher | — | {teacher['teacher_parameters']:,} | "
                 f"{teacher['dense_weights']:,} | {teacher['teacher_val_loss']:.3f} | — | "
                 f"{teacher['quantization']['teacher']['8']['bytes'] / 1024:.0f} KB |")
    for group, runs in groups.items():
        s = [m["summary"] for _, _, m in runs]
        lines.append(f"| {LABELS.get(group, group)} | {len(runs)} | "
                     f"{s[0]['student_parameters']:,} | {s[0]['replaced_weights']:,} | "
                     f"{spread([x['final_val_loss'] for x in s])} | "
                     f"{spread([x['best_val_loss'] for x in s])} | "
                     f"{s[0]['quantization']['student']['8']['bytes'] / 1024:.0f} KB |")
    return lines


def alpha_table(groups):
    keys = ("0", "0.25", "0.5", "0.75", "1")
    lines = ["| run | " + " | ".join(f"α = {k}" for k in keys) + " | end of stage B |",
             "|---|" + "---|" * (len(keys) + 1)]
    for group, runs in groups.items():
        for seed, _, meta in runs:
            at = meta["summary"]["val_loss_at_alpha"]
            if not at:
                continue
            lines.append(f"| {LABELS.get(group, group)} (seed {seed}) | " +
                         " | ".join(f"{at[k]:.3f}" for k in keys) +
                         f" | {meta['summary']['final_val_loss']:.3f} |")
    return lines


def quantization_table(groups):
    bits = ("32", "8", "4", "3")
    lines = ["| model | " + " | ".join(f"{b} bits: val loss (KB)" for b in bits) +
             " | loss added at 3 bits |", "|---|" + "---|" * (len(bits) + 1)]

    def row(name, q):
        cells = [f"{q[b]['val_loss']:.3f} ({q[b]['bytes'] / 1024:.0f})" for b in bits]
        return f"| {name} | " + " | ".join(cells) + \
            f" | {q['3']['val_loss'] - q['32']['val_loss']:+.3f} |"
    first = next(iter(groups.values()))[0][2]["summary"]
    lines.append(row("dense teacher", first["quantization"]["teacher"]))
    for group, runs in groups.items():
        for seed, _, meta in runs:
            lines.append(row(f"{LABELS.get(group, group)} (seed {seed})",
                             meta["summary"]["quantization"]["student"]))
    return lines


def projection_table(groups):
    run = next(iter(groups.values()))[0][2]["report"]
    lines = ["| layer | n | ‖H − W‖/‖W‖, trained | same, Gaussian matrix | √(1 − 1/n) |",
             "|---|---|---|---|---|"]
    for name, errors in run["projection_error"].items():
        for n, e in errors.items():
            lines.append(f"| {name} | {n} | {e:.3f} | "
                         f"{run['random_matrix_error'][name][n]:.3f} | "
                         f"{math.sqrt(1 - 1 / int(n)):.3f} |")
    return lines


def capacity_lines(groups):
    lines = []
    for group in ("progressive_fisher", "progressive_random"):
        for seed, _, meta in groups.get(group, []):
            traces = meta["report"].get("fisher_trace", {})
            lines.append(f"* {LABELS[group]} (seed {seed}): " + ", ".join(
                f"{name} n={n}" + (f" (tr F {traces[name]:.3g})" if name in traces else "")
                for name, n in meta["capacity"].items()))
    return lines


def fade_figure(groups, out):
    """Validation loss against iteration through stage A (seed 0): the three fade lengths,
    the abrupt switch, and the dense control, whose own bump is the restarted learning-
    rate warmup on trained weights -- the fades are read against it."""
    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    stage_a = max(int(r["iteration"]) for r in csv.DictReader(
        open(groups["progressive_n4"][0][1] / "curve.csv")) if r["stage"] == "A")
    for group in ("dense", "abrupt_n4", "progressive_n4_fade100", "progressive_n4",
                  "progressive_n4_fade800"):
        for seed, run_dir, _ in groups.get(group, [])[:1]:
            with open(run_dir / "curve.csv") as f:
                curve = [row for row in csv.DictReader(f) if int(row["iteration"]) <= stage_a]
            label = LABELS[group]
            if group == "progressive_n4":
                label += ", fade 500"
            ax.plot([int(r["iteration"]) for r in curve], [float(r["val_loss"]) for r in curve],
                    ".-", label=f"{label} (seed {seed})")
    ax.set_ylim(top=2.1)
    ax.set_xlabel("iteration (stage A)")
    ax.set_ylabel("validation loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return plots._save(fig, out, "The transition: validation loss through stage A")


def main(out):
    out = Path(out)
    groups = load(out)
    if not groups:
        raise SystemExit(f"no finished distillation runs under {out}")
    compared = OrderedDict((LABELS[g], [d for _, d, _ in groups[g]])
                           for g in ("dense", "progressive_n4", "abrupt_n4", "scratch_n4",
                                     "progressive_n2", "abrupt_n2", "scratch_n2",
                                     "progressive_quaternion", "abrupt_quaternion",
                                     "scratch_quaternion") if g in groups)
    plots.distill_comparison(compared, out / "distill.png",
                             "gpt_char: MLP blocks as PHM layers, final validation loss")
    plots.distill_comparison(compared, out / "distill_bytes.png",
                             "gpt_char: final validation loss against the 8-bit file",
                             x="bytes")
    if groups.get("progressive_n4"):
        plots.distill_figure(groups["progressive_n4"][0][1], out / "curve.png")
    if "progressive_n4" in groups:
        fade_figure(groups, out / "fade.png")
    text = ["# Dense -> PHM replacement of gpt_char's MLP blocks", "",
            "Regenerate: `bash results/distill/reproduce.sh` (protocol in its header).", "",
            "## Students (validation loss: mean ± std over seeds)", "", *main_table(groups),
            "", "## Along the fade (validation loss when alpha first reaches each value)",
            "", *alpha_table(groups), "",
            "## Post-training quantization, one scale per output unit", "",
            *quantization_table(groups), "",
            "## Projection of the trained MLP weights onto PHM layers", "",
            *projection_table(groups), "", "## Capacity assignments", "",
            *capacity_lines(groups), ""]
    io.save_text(out / "distill.md", "\n".join(text))
    print(json.dumps({g: len(r) for g, r in groups.items()}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
