"""LeNet-300-100 training step (batch 60, Adam, masks applied): real vs quaternion.

    python benchmarks/bench_lenet.py [--repeats 20]

A step is forward, cross-entropy, backward, gradient masking, Adam, weight masking, on a
network already pruned to about 50% (so the masks do real work).  Real and quaternion are
timed alternately in one process; medians of repeated runs.  Also the time to evaluate
the 15,000 validation + test images, which IMP does every 100 iterations.
Targets (PyTorch on the CPU: 2.0 ms here): real <= 2.4 ms; quaternion <= 1.1x real.
Then each step against its GEMM floor (benchmarks/floor.py: the step's matrix products
alone, same shapes and layouts, timed alternately with the step; the median of the paired
ratios).
"""
import argparse
import statistics
import time

import numpy as np

import hyperprune as hp
from hyperprune import lottery, prune
from hyperprune.models import lenet_300_100

from floor import Floor, record, step_over_floor


def setup(algebra, rng):
    hp.manual_seed(0)
    model = lenet_300_100(algebra)
    masks = prune.Masks.ones(model)
    for _ in range(3):
        masks = prune.prune(model, masks, "layerwise")
    masks.apply(model)
    opt = hp.optim.Adam(model.parameters(), lr=1.2e-3)
    return model, opt, masks


def main(argv=None):
    hp.backend.tune_allocator()  # as the hyperprune command does
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--inner", type=int, default=50)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.inner, 60, 784)).astype(np.float32)
    y = rng.integers(0, 10, (args.inner, 60))
    runs = {a: setup(a, rng) for a in ("real", "quaternion")}
    times = {a: [] for a in runs}
    for model, opt, masks in runs.values():
        lottery.train_step(model, opt, masks, x[0], y[0])
    for _ in range(args.repeats):
        for algebra, (model, opt, masks) in runs.items():
            start = time.perf_counter()
            for i in range(args.inner):
                lottery.train_step(model, opt, masks, x[i], y[i])
            times[algebra].append((time.perf_counter() - start) / args.inner)
    real = statistics.median(times["real"]) * 1e3
    quat = statistics.median(times["quaternion"]) * 1e3
    ratio = statistics.median(q / r for q, r in zip(times["quaternion"], times["real"]))
    print("LeNet-300-100 training step, batch 60, Adam, masks applied, float32")
    print(f"  real        {real:.3f} ms   (target <= 2.4 ms)")
    print(f"  quaternion  {quat:.3f} ms   ratio {ratio:.3f} (target <= 1.1)")
    xe = rng.standard_normal((15000, 784)).astype(np.float32)
    ye = rng.integers(0, 10, 15000)
    for algebra, (model, _, _) in runs.items():
        start = time.perf_counter()
        lottery.evaluate(model, xe, ye)
        print(f"  evaluate 15,000 images ({algebra}): {time.perf_counter() - start:.3f} s")
    for algebra, (model, opt, masks) in runs.items():
        def make_step(algebra=algebra):
            model, opt, masks = setup(algebra, rng)
            return lambda: lottery.train_step(model, opt, masks, x[0], y[0])
        floor = Floor(record(make_step))
        step, gemm, ratio = step_over_floor(
            lambda: lottery.train_step(model, opt, masks, x[1], y[1]), floor, args.repeats * 5)
        print(f"  {algebra:<10}  step {step * 1e3:.3f} ms, GEMM floor {gemm * 1e3:.3f} ms "
              f"({len(floor)} products, {floor.gflop:.3f} GFLOP): step / floor {ratio:.2f}")


if __name__ == "__main__":
    main()
