"""The accuracy-per-byte frontier: pruned levels x bit widths, as compressed model files.

    python results/frontier/frontier.py NAME RUN_DIR [RUN_DIR ...] [--levels 0,3,6]
        [--bits 32,8,4,3,2] [--qat-bits 4,3,2] [--qat-iterations 2000] [--out DIR]

For every run (one per algebra), every chosen level and bit width: the level's trained
weights (hyperprune.deploy: kept by the runner, or the level replayed), quantized after
training (PTQ, one scale per output unit), written as a .hpz file and evaluated from the
file; then, for the levels on the frontier, quantization-aware fine-tuning (QAT) at the
low bit widths.  Writes DIR/NAME.csv (every point), DIR/NAME.md (the best model under
8, 16, 32 and 64 KB) and DIR/NAME.png (accuracy against bytes on disk, log x, one colour
per algebra, the Pareto frontier drawn through the best points).
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


def points_of(run_dir, levels, bits_list, qat_bits, qat_iterations, data_dir, tmp):
    config = json.loads((Path(run_dir) / "config.json").read_text())["config"]
    label = plots.run_label(config)
    out = []
    for level in levels:
        if not RunDir(run_dir).level_path(level).exists():
            continue
        for bits in bits_list:
            cfg, model, masks = deploy.run_model(run_dir, level, data_dir)
            path = Path(tmp) / f"{label}_{level}_{bits}.hpz"
            tensors, model = deploy.file_tensors(model, masks, bits)
            spec = {"config": cfg.to_dict(), "level": level, "bits": bits}
            modelfile.write(path, spec, tensors)
            result = deploy.evaluate_file(path, data_dir)
            report = deploy.size_report(model, masks, bits, path)
            out.append(dict(algebra=label, level=level, bits=bits, method="ptq",
                            pm_of_real=RunDir(run_dir).read_level(level)["summary"]
                            ["pm_of_real"], bytes=result["bytes"], bound=report["bound"],
                            accuracy=result.get("accuracy"),
                            perplexity=result.get("perplexity")))
            print(out[-1], flush=True)
    frontier = pareto(out)
    for p in [p for p in frontier if p["bits"] in qat_bits]:
        cfg, model, masks = deploy.run_model(run_dir, p["level"], data_dir)
        deploy.quantization_aware(cfg, model, masks, p["bits"], qat_iterations,
                                  data_dir=data_dir)
        path = Path(tmp) / f"{label}_{p['level']}_{p['bits']}_qat.hpz"
        tensors, model = deploy.file_tensors(model, masks, p["bits"])
        modelfile.write(path, {"config": cfg.to_dict(), "level": p["level"],
                               "bits": p["bits"]}, tensors)
        result = deploy.evaluate_file(path, data_dir)
        out.append({**p, "method": "qat", "bytes": result["bytes"],
                    "accuracy": result.get("accuracy"),
                    "perplexity": result.get("perplexity")})
        print(out[-1], flush=True)
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


def figure(points, out, title):
    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    metric = "accuracy" if points[0]["accuracy"] is not None else "perplexity"
    for label in dict.fromkeys(p["algebra"] for p in points):
        mine = [p for p in points if p["algebra"] == label]
        line, = ax.plot([p["bytes"] / 1024 for p in mine],
                        [p[metric] * (100 if metric == "accuracy" else 1) for p in mine],
                        "o", ms=4, alpha=0.5, label=label)
        front = pareto(mine)
        ax.plot([p["bytes"] / 1024 for p in front],
                [p[metric] * (100 if metric == "accuracy" else 1) for p in front], "-",
                color=line.get_color())
    overall = pareto(points)
    ax.plot([p["bytes"] / 1024 for p in overall],
            [p[metric] * (100 if metric == "accuracy" else 1) for p in overall], "k*",
            ms=9, label="overall frontier")
    ax.set_xscale("log")
    ax.set_xlabel("bytes on disk (KB, the .hpz file)")
    ax.set_ylabel("test accuracy (%)" if metric == "accuracy" else "validation perplexity")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return plots._save(fig, out, title)


def table(points):
    metric = "accuracy" if points[0]["accuracy"] is not None else "perplexity"
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
            value = f"{p['accuracy'] * 100:.2f}%" if metric == "accuracy" else \
                f"{p['perplexity']:.2f}"
            cells.append(f"{value} ({p['bytes'] / 1024:.1f} KB: level {p['level']}, "
                         f"{p['pm_of_real'] * 100:.2g}% of real, {p['bits']} bits, "
                         f"{p['method']})")
        lines.append(f"| ≤ {kb} KB | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--levels", default="0,2,4,6,8,10,12,14,16,18")
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
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            points += points_of(run, levels, bits, qat, args.qat_iterations, args.data_dir,
                                tmp)
    rows = [{k: p.get(k) for k in ("algebra", "level", "pm_of_real", "bits", "method",
                                   "bytes", "bound", "accuracy", "perplexity")}
            for p in points]
    with open(out / f"{args.name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    io.save_text(out / f"{args.name}.md", table(points))
    figure(points, out / f"{args.name}.png", args.title or args.name)


if __name__ == "__main__":
    main()
