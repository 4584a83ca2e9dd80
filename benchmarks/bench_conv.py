"""Convolution speed: QConv2d vs Conv2d, and a full Conv-2 training step with its memory.

    python benchmarks/bench_conv.py [--repeats 10] [--steps 8] [--skip-layer] [--skip-step]
                                    [--skip-floor] [--floor-models conv2,conv4,conv6]
                                    [--width 1.0]

(a) forward + backward of Conv2d(64, 64, 3, padding=1) and QConv2d(64, 64, 3, padding=1)
    on a (60, 64, 32, 32) float32 input (with dL/dx, as a hidden layer), timed
    alternately in one process; the ratio is the median of the paired ratios.
    Target: QConv2d <= 1.1x Conv2d.
(b) Frankle & Carbin's Conv-2 on CIFAR-sized input, batch 60, Adam, cross-entropy, masks
    applied (one round of layer-wise pruning: conv 10%, fully connected 20%, output 10%),
    the masked step of hyperprune.train.train_step:
        conv3x3(3->64, pad 1) ReLU conv3x3(64->64, pad 1) ReLU maxpool 2 flatten
        Linear(16384, 256) ReLU Linear(256, 256) ReLU Linear(256, 10)
    and its quaternion twin (input [0 | R | G | B], QConv2d(4, 64), QConv2d(64, 64),
    QLinear(16384, 256), QLinear(256, 256), real Linear(256, 10)), alternately.
    Targets: real step <= 300 ms on the 2-core machine (PyTorch on the CPU: 148 ms);
    peak memory < 1.5 GB, measured twice: NumPy allocations traced by tracemalloc over
    model building + steps, and the process's peak RSS (ru_maxrss).
(c) Each Conv-n training step (hyperprune.models, --width, batch 60, Adam, masks applied)
    against its GEMM floor: benchmarks/floor.py records the step's matrix products (the
    im2col products of every convolution, forward and backward, and the fully connected
    ones) and replays them alone with the same shapes and layouts, alternately with the
    step; step / floor is the median of the paired ratios.  Target: <= 1.6 (about
    PyTorch's own ratio here).
float32 throughout; OpenBLAS threads as the environment sets them.
"""
import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np

import hyperprune as hp
from hyperprune import lottery, models, nn, prune

from floor import Floor, record, step_over_floor


def layer_step(layer, x, g):
    y = layer(x)
    layer.zero_grad()
    x.grad = None
    y.backward(g)


def bench_layer(repeats):
    hp.manual_seed(0)
    rng = np.random.default_rng(0)
    layers = {"Conv2d": nn.Conv2d(64, 64, 3, padding=1),
              "QConv2d": nn.QConv2d(64, 64, 3, padding=1)}
    x = hp.tensor(rng.standard_normal((60, 64, 32, 32)).astype(np.float32), requires_grad=True)
    g = hp.tensor(rng.standard_normal((60, 64, 32, 32)).astype(np.float32))
    times = {name: [] for name in layers}
    for layer in layers.values():
        layer_step(layer, x, g)  # warm up
    for _ in range(repeats):
        for name, layer in layers.items():
            start = time.perf_counter()
            layer_step(layer, x, g)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    ratio = statistics.median(q / r for q, r in zip(times["QConv2d"], times["Conv2d"]))
    print(f"(a) forward+backward, (60, 64, 32, 32) float32, 3x3 pad 1, median of {repeats}")
    print(f"    Conv2d(64, 64) {med['Conv2d']:.1f} ms   QConv2d(64, 64) {med['QConv2d']:.1f} ms"
          f"   ratio {ratio:.3f}  (target <= 1.1)")


def conv2(algebra):
    """Frankle & Carbin's Conv-2 (real), or its quaternion twin on 4-channel input."""
    if algebra == "real":
        return nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16 * 16, 256), nn.ReLU(),
            nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.QConv2d(4, 64, 3, padding=1), nn.ReLU(), nn.QConv2d(64, 64, 3, padding=1),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.QLinear(64 * 16 * 16, 256), nn.ReLU(),
        nn.QLinear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def setup(algebra):
    hp.manual_seed(0)
    model = conv2(algebra)
    masks = prune.Masks.ones(model)
    rates = prune.layerwise_rates(model, rate=0.2, conv_rate=0.1)
    masks = prune.prune(model, masks, "layerwise", rates=rates)
    masks.apply(model)
    opt = hp.optim.Adam(model.parameters(), lr=2e-4)
    return model, opt, masks


def batches(algebra, steps, rng):
    x = rng.standard_normal((steps, 60, 3, 32, 32)).astype(np.float32)
    if algebra == "quaternion":  # the pixel as a pure quaternion: [0 | R | G | B]
        x = np.concatenate([np.zeros_like(x[:, :, :1]), x], axis=2)
    return x, rng.integers(0, 10, (steps, 60))


def peak_memory(algebra, data):
    """Peak traced NumPy allocations over building the model, pruning and two steps, and
    the growth of the process's peak RSS over the same span."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    model, opt, masks = setup(algebra)
    x, y = data
    for i in range(2):
        lottery.train_step(model, opt, masks, x[i], y[i])
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return traced / 2**20, rss / 2**10, (rss - rss0) / 2**10


def bench_step(steps):
    rng = np.random.default_rng(0)
    data = {a: batches(a, steps, rng) for a in ("real", "quaternion")}
    memory = {a: peak_memory(a, data[a]) for a in ("real", "quaternion")}
    runs = {a: setup(a) for a in ("real", "quaternion")}
    for algebra, (model, opt, masks) in runs.items():  # warm up (and Adam's state)
        x, y = data[algebra]
        lottery.train_step(model, opt, masks, x[0], y[0])
    times = {a: [] for a in runs}
    for i in range(steps):
        for algebra, (model, opt, masks) in runs.items():
            x, y = data[algebra]
            start = time.perf_counter()
            lottery.train_step(model, opt, masks, x[i], y[i])
            times[algebra].append(time.perf_counter() - start)
    real = statistics.median(times["real"]) * 1e3
    quat = statistics.median(times["quaternion"]) * 1e3
    ratio = statistics.median(q / r for q, r in zip(times["quaternion"], times["real"]))
    weights = {a: sum(m.weight.size for m in prune.prunable_layers(runs[a][0]).values())
               for a in runs}
    print(f"(b) Conv-2 training step, batch 60, Adam, masks applied, float32, median of {steps}")
    print(f"    real        {real:.1f} ms  (min {min(times['real']) * 1e3:.1f}; target <= 300)"
          f"   {weights['real']:,} prunable weights")
    print(f"    quaternion  {quat:.1f} ms  (min {min(times['quaternion']) * 1e3:.1f}; ratio "
          f"{ratio:.3f})   {weights['quaternion']:,} prunable weights")
    for algebra, (traced, rss, grown) in memory.items():
        print(f"    peak memory, {algebra:<10} NumPy allocations {traced:.0f} MiB (tracemalloc: "
              f"model, pruning, two steps); process peak RSS {rss:.0f} MiB (+{grown:.0f} MiB)"
              "  (target < 1.5 GB)")


def bench_floor(names, width, steps):
    rng = np.random.default_rng(0)
    print(f"(c) Conv-n step against its GEMM floor, width {width:g}, batch 60, Adam, masks, "
          f"median of {steps} paired ratios")
    for name in names:
        for algebra in ("real", "quaternion"):
            def make_step():
                hp.manual_seed(0)
                model = getattr(models, name)(algebra, width=width)
                channels = model[0].in_channels
                x = rng.standard_normal((60, channels, 32, 32)).astype(np.float32)
                y = rng.integers(0, 10, 60)
                masks = prune.Masks.ones(model)
                opt = hp.optim.Adam(model.parameters(), lr=3e-4)
                return lambda: lottery.train_step(model, opt, masks, x, y)
            floor = Floor(record(make_step))
            step, gemm, ratio = step_over_floor(make_step(), floor, steps)
            print(f"    {name} {algebra:<10} step {step * 1e3:7.1f} ms   GEMM floor "
                  f"{gemm * 1e3:7.1f} ms ({len(floor)} products, {floor.gflop:.2f} GFLOP)   "
                  f"step / floor {ratio:.2f}  (target <= 1.6)")


def main(argv=None):
    hp.backend.tune_allocator()  # as the hyperprune command does
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--skip-layer", action="store_true")
    parser.add_argument("--skip-step", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--floor-models", default="conv2,conv4,conv6")
    parser.add_argument("--width", type=float, default=1.0)
    args = parser.parse_args(argv)
    if not args.skip_layer:
        bench_layer(args.repeats)
    if not args.skip_step:
        bench_step(args.steps)
    if not args.skip_floor:
        bench_floor(args.floor_models.split(","), args.width, args.steps)


if __name__ == "__main__":
    main()
