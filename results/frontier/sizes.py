"""Bytes on disk against the information bound, at every density of committed runs.

    python results/frontier/sizes.py [RUN_DIR ...] [--bits 32,8,6,4,3,2] [--out DIR]

A .hpz file's size depends on the masks and the bit width, not on the weights' values
(codes are bit-packed at k bits each, one float16 scale per output unit, the other
parameters float16), so every level of a run is sized without its trained weights: the
model at its θ0 (rebuilt from the seed), the level's masks, quantized and written with
hyperprune.deploy exactly as `hyperprune export` writes it.  The bound is
hyperprune.deploy.size_report's: Σ over coded weights of N·H(d)/8 + nnz·k/8 bytes, plus
the other parameters at their stored width.

Writes, under --out: sizes.csv (every run x level x bits) and sizes.md (bytes / bound by
density and bit width, per run).
"""
import argparse
import csv
import tempfile
from pathlib import Path

from hyperprune import deploy, io, lottery, modelfile, prune
from hyperprune.config import LotteryConfig
from hyperprune.rundir import RunDir

RUNS = ("results/lenet_300_100/frankle/real_seed1",
        "results/lenet_300_100/frankle/quaternion_seed1")
COLUMNS = ("run", "algebra", "level", "density", "pm_of_real", "bits", "bytes", "bound",
           "ratio", "dense_float32")


def run_sizes(run_dir, bits_list, tmp):
    run = RunDir(run_dir)
    config = LotteryConfig.from_dict(run.read_config()).validate()
    rows = []
    for summary in run.summaries(run.finished_levels(config.levels)):
        level = summary["level"]
        model = lottery.build_model(config)          # θ0: sizes do not depend on values
        masks = prune.Masks.ones(model, config.scope) if level == 0 else \
            prune.Masks.load(run.mask_path(level))
        masks.verify(model, config.scope, run.mask_path(level))
        for bits in bits_list:
            tensors, sized = deploy.file_tensors(model, masks, bits)
            path = Path(tmp) / f"level_{level}_{bits}.hpz"
            modelfile.write(path, deploy.file_spec(config, level, bits, "unit", run_dir),
                            tensors)
            report = deploy.size_report(sized, masks, bits, path)
            rows.append(dict(run=str(run_dir), algebra=config.algebra, level=level,
                             density=masks.density(), pm_of_real=summary["pm_of_real"],
                             bits=bits, **report))
            model = lottery.build_model(config)
    return rows


def table(rows, bits_list):
    lines = []
    for run in dict.fromkeys(r["run"] for r in rows):
        mine = [r for r in rows if r["run"] == run]
        lines += [f"### {run} ({mine[0]['algebra']})", "",
                  "| level | weights kept | % of real | " +
                  " | ".join(f"{b} bits: KB (× bound)" for b in bits_list) + " |",
                  "|---|---|---|" + "---|" * len(bits_list)]
        for level in dict.fromkeys(r["level"] for r in mine):
            at = {r["bits"]: r for r in mine if r["level"] == level}
            first = next(iter(at.values()))
            lines.append(f"| {level} | {first['density']:.2%} | {first['pm_of_real']:.2%} | " +
                         " | ".join(f"{at[b]['bytes'] / 1024:.1f} ({at[b]['ratio']:.3f})"
                                    for b in bits_list) + " |")
        lines.append("")
    worst = max((r for r in rows if r["density"] <= 0.2 and r["bits"] != 32),
                key=lambda r: r["ratio"], default=None)
    if worst:
        lines.append(f"Largest bytes / bound at densities ≤ 20% and k ≤ 8: {worst['ratio']:.3f} "
                     f"({worst['algebra']}, level {worst['level']}, {worst['bits']} bits).")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", default=list(RUNS))
    parser.add_argument("--bits", default="32,8,6,4,3,2")
    parser.add_argument("--out", default=str(Path(__file__).parent))
    args = parser.parse_args()
    bits_list = [int(b) for b in args.bits.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            rows += run_sizes(run, bits_list, tmp)
    with open(out / "sizes.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in COLUMNS} for r in rows)
    text = ["# Bytes on disk against the information bound", "",
            "Regenerate: `python results/frontier/sizes.py` (or `bash "
            "results/frontier/reproduce.sh`).  Each cell: the .hpz file in KB and its ratio "
            "to the bound Σ N·H(d)/8 + nnz·k/8 (+ the other parameters at their stored "
            "width).  Sizes depend on the masks and k only, so every level is sized at its "
            "θ0 with its masks, without replaying training.", "", *table(rows, bits_list)]
    io.save_text(out / "sizes.md", "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
