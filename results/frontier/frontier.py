"""The accuracy-per-byte frontier: pruned levels x bit widths, as compressed model files.

    python results/frontier/frontier.py NAME RUN_DIR[@LEVELS] [...] [--levels 0,3,6]
        [--bits 32,8,4,3,2] [--qat-bits 4,3,2] [--qat-iterations 2000] [--out DIR]

For every run (one per algebra and seed), every chosen level (RUN_DIR@0,6,10 chooses a
run's own; --levels those of the others) and bit width: the level's
trained weights (hyperprune.deploy: kept by the runner, or the level replayed from its
mask and θ0 and checked against its record), quantized after training (PTQ, one scale per
output unit), written as a .hpz file and evaluated *from the file* on the test set; and
at the low bit widths also quantization-aware fine-tuning (QAT: the same level, fake-
quantized weights, masks held, Adam at a tenth of the run's rate for --qat-iterations
steps of its training data), exported and evaluated the same way.

Writes, under --out:
    NAME.csv        every point: algebra, seed, level, % of the real model's weights, bits,
                    method, bytes on disk, the information bound, accuracy
    NAME.md         the best model under 8, 16, 32 and 64 KB per algebra; the accuracy
                    lost to quantization per level and bit width; bytes against the bound
    NAME.png        accuracy against bytes on disk (log x), one colour per algebra, each
                    algebra's Pareto frontier drawn, the overall frontier starred
    NAME_points/    one JSON per (run, level): the run resumes from them when restarted
"""
import argparse
import csv
import json
import math
import tempfile
from pathlib import Path

from hyperprune import deploy, io, modelfile, plots
from hyperprune.rundir import RunDir

BUDGETS_KB = (8, 16, 32, 64)
COLUMNS = ("algebra", "seed", "level", "pm_of_real", "bits", "method", "bytes",
           "dense_float32", "bound", "accuracy", "perplexity")


def level_points(run_dir, level, bits_list, qat_bits, qat_iterations, data_dir, tmp):
    """Every point of one level of one run: PTQ at each bit width, QAT at qat_bits."""
    run = RunDir(run_dir)
    config = run.read_config()
    label = plots.run_label(config).replace(" layerwise", "").replace(" global", "")
    pm_of_real = run.read_level(level)["summary"]["pm_of_real"]
    weights = deploy.level_weights(run_dir, level, data_dir)     # replayed at most once
    out = []
    for method, widths in (("ptq", bits_list), ("qat", qat_bits)):
        for bits in widths:
            cfg, model, masks = deploy.run_model(run_dir, level, data_dir, weights)
            if method == "qat":
                deploy.quantization_aware(cfg, model, masks, bits, qat_iterations,
                                          data_dir=data_dir)
            tensors, model = deploy.file_tensors(model, masks, bits)
            path = Path(tmp) / f"level_{level}_{bits}_{method}.hpz"
            modelfile.write(path, deploy.file_spec(cfg, level, bits, "unit", run_dir),
                            tensors)                # the header `hyperprune export` writes
            result = deploy.evaluate_file(path, data_dir)
            report = deploy.size_report(model, masks, bits, path)
            out.append(dict(algebra=label, seed=config["seed"], level=level,
                            pm_of_real=pm_of_real, bits=bits, method=method,
                            bytes=result["bytes"], dense_float32=report["dense_float32"],
                            bound=report["bound"], accuracy=result.get("accuracy"),
                            perplexity=result.get("perplexity")))
            print(json.dumps(out[-1]), flush=True)
    return out


def score(p):
    return p["accuracy"] if p["accuracy"] is not None else -p["perplexity"]


def pareto(points):
    """The points no other point beats in both bytes (fewer) and quality (higher)."""
    best, front = -math.inf, []
    for p in sorted(points, key=lambda p: (p["bytes"], -score(p))):
        if score(p) > best:
            front.append(p)
            best = score(p)
    return front


def quality(p):
    return p["accuracy"] * 100 if p["accuracy"] is not None else p["perplexity"]


def figure(points, out, title):
    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    metric = "accuracy" if points[0]["accuracy"] is not None else "perplexity"
    for i, label in enumerate(dict.fromkeys(p["algebra"] for p in points)):
        mine, colour = [p for p in points if p["algebra"] == label], f"C{i}"
        for method, marker in (("ptq", "o"), ("qat", "^")):
            some = [p for p in mine if p["method"] == method]
            ax.plot([p["bytes"] / 1024 for p in some], [quality(p) for p in some], marker,
                    ms=4, alpha=0.45, color=colour, label=f"{label} ({method.upper()})")
        front = pareto(mine)
        ax.plot([p["bytes"] / 1024 for p in front], [quality(p) for p in front], "-",
                color=colour, label=f"{label}: frontier")
    overall = pareto(points)
    ax.plot([p["bytes"] / 1024 for p in overall], [quality(p) for p in overall], "k*",
            ms=9, label="overall frontier")
    ax.set_xscale("log")
    ax.set_xlabel("bytes on disk (KB, the .hpz file)")
    ax.set_ylabel("test accuracy (%)" if metric == "accuracy" else "validation perplexity")
    if metric == "accuracy":
        top = max(quality(p) for p in points)
        ax.set_ylim(max(0, min(quality(p) for p in overall) - 5), top + 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return plots._save(fig, out, title)


def _value(p):
    return f"{p['accuracy'] * 100:.2f}%" if p["accuracy"] is not None else \
        f"{p['perplexity']:.2f}"


def budget_table(points):
    labels = list(dict.fromkeys(p["algebra"] for p in points))
    lines = ["| budget | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for kb in BUDGETS_KB:
        cells = []
        for label in labels:
            fits = [p for p in points if p["algebra"] == label and p["bytes"] <= kb * 1024]
            if not fits:
                cells.append("—")
                continue
            p = max(fits, key=score)
            cells.append(f"{_value(p)} ({p['bytes'] / 1024:.1f} KB: level {p['level']}, "
                         f"{p['pm_of_real'] * 100:.3g}% of real, {p['bits']} bits "
                         f"{p['method'].upper()})")
        lines.append(f"| ≤ {kb} KB | " + " | ".join(cells) + " |")
    return lines


def loss_table(points):
    """Accuracy lost to k bits (points; float32 minus k bits), per algebra and level."""
    widths = sorted({p["bits"] for p in points if p["bits"] != 32}, reverse=True)
    lines = ["| algebra | level | % of real | float32 | " +
             " | ".join(f"{k}-bit PTQ / QAT" for k in widths) + " |",
             "|---|---|---|---|" + "---|" * len(widths)]
    keys = list(dict.fromkeys((p["algebra"], p["seed"], p["level"]) for p in points))
    for algebra, seed, level in keys:
        mine = {(p["method"], p["bits"]): p for p in points
                if (p["algebra"], p["seed"], p["level"]) == (algebra, seed, level)}
        base = mine.get(("ptq", 32))
        if base is None or base["accuracy"] is None:
            continue
        cells = []
        for k in widths:
            drops = [f"{(base['accuracy'] - mine[(m, k)]['accuracy']) * 100:+.2f}"
                     if (m, k) in mine else "·" for m in ("ptq", "qat")]
            cells.append(" / ".join(drops))
        lines.append(f"| {algebra} (seed {seed}) | {level} | {base['pm_of_real'] * 100:.3g}% "
                     f"| {_value(base)} | " + " | ".join(cells) + " |")
    return lines


def size_table(points):
    """Bytes on disk against the bound N H(d)/8 + nnz k/8 (+ the other parameters)."""
    lines = ["| algebra | level | % of real | bits | bytes | bound | bytes / bound | "
             "dense float32 |", "|---|---|---|---|---|---|---|---|"]
    seen = set()
    for p in points:
        key = (p["algebra"], p["level"], p["bits"], p["method"])
        if p["method"] != "ptq" or key in seen:
            continue
        seen.add(key)
        lines.append(f"| {p['algebra']} | {p['level']} | {p['pm_of_real'] * 100:.3g}% | "
                     f"{p['bits']} | {p['bytes']:,} | {p['bound']:,.0f} | "
                     f"{p['bytes'] / p['bound']:.3f} | {p['dense_float32']:,} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--levels", default="0,2,4,6,8,10,12,14,16,18",
                        help="levels of every run (those a run has)")
    parser.add_argument("--bits", default="32,8,4,3,2")
    parser.add_argument("--qat-bits", default="4,3,2")
    parser.add_argument("--qat-iterations", type=int, default=2000)
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--title", default=None)
    args = parser.parse_args()
    levels = [int(v) for v in args.levels.split(",")]
    bits = [int(v) for v in args.bits.split(",")]
    qat = [int(v) for v in args.qat_bits.split(",") if v]
    out = Path(args.out)
    cache = out / f"{args.name}_points"
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for arg in args.runs:
            run, _, own = arg.partition("@")
            for level in [int(v) for v in own.split(",")] if own else levels:
                if not RunDir(run).level_path(level).exists():
                    continue
                done = cache / f"{Path(run).name}_level_{level:02d}.json"
                if not done.exists():
                    found = level_points(run, level, bits, qat, args.qat_iterations,
                                         args.data_dir, tmp)
                    io.save_text(done, json.dumps(found, indent=1) + "\n")
                points += io.load_json(done)
    with open(out / f"{args.name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: p.get(k) for k in COLUMNS} for p in points)
    title = args.title or args.name
    levels = [] if all("@" in run for run in args.runs) else ["--levels", args.levels]
    text = [f"# {title}", "", "Regenerate: `" + " ".join(
        ["python results/frontier/frontier.py", args.name, *args.runs, *levels, "--bits",
         args.bits, "--qat-bits", args.qat_bits, "--qat-iterations",
         str(args.qat_iterations)]) + "` (all of them: `bash results/frontier/reproduce.sh`)",
        "", "Accuracy is test accuracy, so a model chosen here by it is chosen on the test "
        "set: confirm the choice on data of your own.  A QAT point has trained "
        f"{args.qat_iterations:,} iterations more than its float32 point (with the masks, "
        "Adam at a tenth of the run's rate), which is why some lie above it.", "",
        "## The best model under a budget (test accuracy; bytes of the .hpz file)", "",
        *budget_table(points), "", "## Accuracy lost to quantization (points: float32 "
        "minus k bits; PTQ / QAT)", "", *loss_table(points), "",
        "## Bytes on disk against the information bound", "", *size_table(points), ""]
    io.save_text(out / f"{args.name}.md", "\n".join(text))
    figure(points, out / f"{args.name}.png", title)


if __name__ == "__main__":
    main()
