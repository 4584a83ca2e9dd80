"""Do a speed change and the code before it train the same networks?  Short lottery runs
with both, compared metric by metric.

    python benchmarks/same_metrics.py [--before REV] [--work DIR] [--data-dir CIFAR_DIR]

Runs the same two short lotteries with the code at REV (a git revision of this
repository, checked out into DIR with `git worktree`) and with this checkout's code, one
BLAS thread each, and prints every metric of every level side by side with the largest
absolute difference:

    conv2   Conv-2 (width 0.25) on CIFAR-10, 3 levels (2 rounds of layer-wise pruning),
            300 iterations each, evaluated every 100 (needs CIFAR-10's binary batches in
            --data-dir, as results/cifar_data.sh writes them)
    gpt     gpt_char on tiny Shakespeare (embedded), Q/K/V pruned 50% a round, 3 levels of
            150 iterations, evaluated every 50

First, in float64, the losses of 20 training steps of a fixed Conv-2 and gpt_char on
fixed random batches, before and now: there rounding is about 1e-16, and a change of the
mathematics would show up far above it.  Then the float32 lotteries: speed changes
reorder float32 arithmetic (a GEMM split differently, a sum taken in another order), so
their metrics may differ by rounding, which training amplifies over hundreds of steps.
Default REV: 0bde2fd, the last commit before the speed work of the convolution and
transformer steps (issue 16).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = {
    "conv2": ["--model", "conv2", "--width", "0.25", "--levels", "2", "--iterations", "300",
              "--eval-every", "100", "--batch-size", "60", "--lr", "2e-4",
              "--dataset", "cifar10"],
    "gpt": ["--preset", "gpt_char", "--levels", "2", "--iterations", "150",
            "--eval-every", "50", "--eval-iters", "10"],
}
TRAJECTORY_STEPS = 20


def trajectory(name, algebra, steps=TRAJECTORY_STEPS):
    """Losses of `steps` float64 training steps of a fixed model on fixed random batches
    (run in a subprocess with the code under test first on the path)."""
    import numpy as np
    import hyperprune as hp
    from hyperprune import models, optim, prune
    from hyperprune.train import train_step
    rng = np.random.default_rng(0)
    hp.manual_seed(0)
    if name == "conv2":
        model = models.conv2(algebra, width=0.25).double()
        shape = (steps, 60, model[0].in_channels, 32, 32)
        xs, ys = rng.standard_normal(shape), rng.integers(0, 10, (steps, 60))
        opt = optim.Adam(model.parameters(), lr=2e-4)
    else:
        model = models.gpt_char(algebra).double()
        data = rng.integers(0, 65, (steps, 12, 65))
        xs, ys = data[:, :, :-1], data[:, :, 1:]
        opt = optim.AdamW(model.parameters(), lr=1e-3)
    masks = prune.Masks.ones(model)
    return [float(train_step(model, opt, masks, x, y).item()) for x, y in zip(xs, ys)]


def run_trajectory(code, name, algebra):
    env = dict(os.environ, PYTHONPATH=str(code), OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-P", __file__, "--trajectory", name, algebra],
        env=env, capture_output=True, text=True, cwd=str(code))
    if result.returncode != 0:
        sys.exit(f"same_metrics: the float64 {name} steps with {code} failed:\n"
                 f"{result.stderr[-2000:]}")
    return [float(v) for v in result.stdout.split()]


METRICS = ("weights_remaining", "early_stop_iteration", "early_stop_val_loss",
           "early_stop_val_acc", "early_stop_test_acc", "final_val_loss", "final_val_acc",
           "final_test_acc", "final_test_loss")


def checkout(rev, work):
    """A detached worktree of `rev` under `work` (made once, reused)."""
    path = Path(work) / f"hyperprune-{rev}"
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
                       check=True, capture_output=True)
    return path


def run(code, name, algebra, run_dir, data_dir):
    """One lottery with the package at `code`; returns its metrics rows."""
    env = dict(os.environ, PYTHONPATH=str(code), OPENBLAS_NUM_THREADS="1",
               HYPERPRUNE_DATA=str(ROOT / "data"))
    args = RUNS[name] + ["--algebra", algebra, "--run-dir", str(run_dir), "--quiet"]
    if name == "conv2":
        args += ["--data-dir", data_dir]
    # -P: import the package from PYTHONPATH, not from the current directory
    result = subprocess.run([sys.executable, "-P", "-m", "hyperprune", "lottery"] + args,
                            env=env, capture_output=True, text=True, cwd=str(code))
    if result.returncode != 0:
        sys.exit(f"same_metrics: the {name} run with {code} failed:\n{result.stderr[-2000:]}")
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="0bde2fd", help="the revision compared with")
    parser.add_argument("--work", default=None, help="where the worktree and runs go "
                        "(default: a new temporary directory)")
    parser.add_argument("--data-dir", default=os.path.expanduser("~/.cache/hyperprune"))
    parser.add_argument("--only", choices=sorted(RUNS))
    parser.add_argument("--trajectory", nargs=2, metavar=("NAME", "ALGEBRA"),
                        help=argparse.SUPPRESS)     # the subprocess of run_trajectory
    args = parser.parse_args()
    if args.trajectory:
        print(" ".join(repr(v) for v in trajectory(*args.trajectory)))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="same_metrics_"))
    before = checkout(args.before, work)
    print(f"float64, {TRAJECTORY_STEPS} training steps of fixed models on fixed random "
          "batches: largest relative difference of the losses")
    for name in [args.only] if args.only else RUNS:
        for algebra in ("real", "quaternion"):
            old, new = (run_trajectory(code, name, algebra) for code in (before, ROOT))
            worst = max(abs(a - b) / abs(a) for a, b in zip(old, new))
            print(f"  {name} {algebra:<10} {worst:.2e}  (last loss {old[-1]:.12f} before, "
                  f"{new[-1]:.12f} now)")
    largest = {}
    for name in [args.only] if args.only else RUNS:
        for algebra in ("real", "quaternion"):
            rows = {label: run(code, name, algebra, work / f"{name}_{algebra}_{label}",
                               args.data_dir)
                    for label, code in (("before", before), ("now", ROOT))}
            print(f"{name} {algebra} (float32): level, metric, before ({args.before}), now, "
                  "|difference|")
            for old, new in zip(rows["before"], rows["now"]):
                for metric in METRICS:
                    a, b = float(old[metric]), float(new[metric])
                    largest[metric] = max(largest.get(metric, 0.0), abs(a - b))
                    print(f"  {old['level']:>2} {metric:<22} {a:<12.6g} {b:<12.6g} "
                          f"{abs(a - b):.3g}")
    print("largest absolute difference per metric over every run and level:")
    for metric, value in largest.items():
        print(f"  {metric:<22} {value:.3g}")


if __name__ == "__main__":
    main()
