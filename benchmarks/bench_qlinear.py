"""Forward + backward time of the hypercomplex layers against Linear(784, 300), batch 60.

    python benchmarks/bench_qlinear.py [--repeats 30] [--batch 60]

QLinear (quaternion), an octonion HypercomplexLinear (784 -> 304: whole octonions) and
PHMLinear(784, 300, n=4) with learned rules are timed alternately with Linear in one
process (this machine class is noisy), each measurement the median of many short runs;
the figure that matters is the ratio to Linear.  float32, the library default.  Targets:
QLinear at most 1.1x Linear, PHMLinear at most 1.15x.
"""
import argparse
import statistics
import time

import numpy as np

import hyperprune as hp
from hyperprune import nn


def step(layer, x, g):
    y = layer(x)
    layer.zero_grad()
    x.grad = None
    y.backward(g)


def time_once(layer, x, g, inner):
    start = time.perf_counter()
    for _ in range(inner):
        step(layer, x, g)
    return (time.perf_counter() - start) / inner


def main(argv=None):
    hp.backend.tune_allocator()  # as the hyperprune command does
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--inner", type=int, default=20)
    args = parser.parse_args(argv)

    hp.manual_seed(0)
    rng = np.random.default_rng(0)
    layers = {"Linear": nn.Linear(784, 300), "QLinear": nn.QLinear(784, 300),
              "octonion": nn.HypercomplexLinear(784, 304, algebra="octonion"),
              "PHMLinear": nn.PHMLinear(784, 300, 4)}
    targets = {"QLinear": 1.1, "octonion": None, "PHMLinear": 1.15}
    grads = {name: hp.tensor(rng.standard_normal((args.batch, layer.out_features))
                             .astype(np.float32)) for name, layer in layers.items()}
    print(f"forward+backward, batch {args.batch}, float32, median of {args.repeats} x "
          f"{args.inner} steps")
    for input_grad in (True, False):
        x = hp.tensor(rng.standard_normal((args.batch, 784)).astype(np.float32),
                      requires_grad=input_grad)
        times = {name: [] for name in layers}
        for name, layer in layers.items():
            step(layer, x, grads[name])  # warm up
        for _ in range(args.repeats):
            for name, layer in layers.items():
                times[name].append(time_once(layer, x, grads[name], args.inner))
        med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        what = "with dL/dx" if input_grad else "input layer (no dL/dx)"
        print(f"  {what}: Linear {med['Linear']:.3f} ms")
        for name, target in targets.items():
            ratio = statistics.median(q / r for q, r in zip(times[name], times["Linear"]))
            goal = f"  (target <= {target})" if target else ""
            print(f"    {name:<10} {med[name]:.3f} ms   ratio to Linear {ratio:.3f}{goal}")


if __name__ == "__main__":
    main()
