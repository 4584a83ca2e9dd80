"""A capped level trained longer: the same mask and the same θ0, a larger iteration cap.

    python results/conv4_converged/longer.py RUN_DIR LEVEL [--iterations 30000]
                                             [--out DIR (default: RUN_DIR/../longer)]
                                             [--data-dir CIFAR_DIR]
    python results/conv4_converged/longer.py --table [DIR (default: results/conv4_converged/longer)]

Levels whose early stop is their last iteration were still improving when the cap ended
them.  This trains such a level again -- the run's own mask for it, from θ0 (rebuilt from
the run's seed), with every other setting of the run -- under a larger cap, and writes
OUT/<run>_level<L>.json: the level's summary (early-stop and final iteration, test
accuracy there) and its evaluation curve.  It answers "how much did the cap cost?", not
"what would the lottery have done with a larger cap" (the next levels' masks come from
the capped training).  Resumable: the work directory OUT/<run>_level<L>/ is a run
directory holding that one level (its earlier levels' records are the original run's,
copied so the runner starts at level L).  `--table` writes DIR/longer.md from every
OUT/*.json: one row a probe, the capped and the longer training side by side.
"""
import argparse
import shutil
import sys
from pathlib import Path

from hyperprune import io, lottery
from hyperprune.config import LotteryConfig
from hyperprune.rundir import RunDir


def train_longer(run_dir, level, iterations, out, data_dir=None):
    run = RunDir(run_dir)
    if not run.level_path(level).exists():
        raise SystemExit(f"longer.py: level {level} of {run.path} has not finished")
    config = LotteryConfig.from_dict({**run.read_config(), "levels": level,
                                      "iterations": iterations})
    name = f"{Path(run_dir).name}_level{level:02d}"
    work = RunDir(Path(out) / name)
    for k in range(level):                       # the runner starts at the first level
        if not work.level_path(k).exists():      # without a record
            work.level_path(k).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(run.level_path(k), work.level_path(k))
    for k in (level - 1, level):                 # the mask it trains (and the one before)
        if k >= 0 and run.mask_path(k).exists() and not work.mask_path(k).exists():
            work.mask_path(k).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(run.mask_path(k), work.mask_path(k))
    lottery.LotteryRun(config, work.path, data_dir, quiet=True).run()
    record = work.read_level(level)
    result = {"run": str(run_dir), "level": level, "iterations": iterations,
              "capped": run.read_level(level)["summary"], "longer": record["summary"],
              "curve": record["curve"]}
    io.save_json(Path(out) / f"{name}.json", result)         # written atomically
    return result


def table(out):
    """The Markdown table of every probe in `out` (written to out/longer.md and returned)."""
    rows = ["| run | level | weights remaining (% of real) | capped: iterations, test % "
            "| longer: early stop, test % there, at the end |", "|---|---|---|---|---|"]
    probes = sorted(Path(out).glob("*_level[0-9][0-9].json"))
    if not probes:
        raise SystemExit(f"longer.py: no probe (*_levelNN.json) in {out}")
    for path in probes:
        probe = io.load_json(path)
        capped, longer = probe["capped"], probe["longer"]
        rows.append(
            f"| {Path(probe['run']).name} | {probe['level']} | {100 * capped['pm_of_real']:.2f} "
            f"| {capped['final_iteration']:,}, {100 * capped['early_stop_test_acc']:.2f} "
            f"| {longer['early_stop_iteration']:,} of {probe['iterations']:,}, "
            f"{100 * longer['early_stop_test_acc']:.2f}, "
            f"{100 * longer['final_test_acc']:.2f} |")
    text = "\n".join(rows) + "\n"
    io.save_text(Path(out) / "longer.md", text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?")
    parser.add_argument("level", type=int, nargs="?")
    parser.add_argument("--table", nargs="?", const=str(Path(__file__).parent / "longer"),
                        default=None, metavar="DIR",
                        help="write DIR/longer.md from the probes there and stop")
    parser.add_argument("--iterations", type=int, default=30000)
    parser.add_argument("--out", default=None,
                        help="default: longer/ beside the run (not beside this script, "
                             "which may sit in another checkout)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    if args.table is not None:
        print(table(args.table), end="")
        return 0
    if args.run_dir is None or args.level is None:
        parser.error("RUN_DIR and LEVEL are needed (or --table)")
    out = args.out or Path(args.run_dir).resolve().parent / "longer"
    result = train_longer(args.run_dir, args.level, args.iterations, out, args.data_dir)
    capped, longer = result["capped"], result["longer"]
    print(f"{args.run_dir} level {args.level}: capped at {capped['final_iteration']}: test "
          f"{capped['early_stop_test_acc']:.4f}; with {args.iterations}: early stop "
          f"{longer['early_stop_iteration']}, test there {longer['early_stop_test_acc']:.4f}, "
          f"at the end ({longer['final_iteration']}) {longer['final_test_acc']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
