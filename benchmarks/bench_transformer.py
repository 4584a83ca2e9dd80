"""Transformer training steps, real vs quaternion: gpt_char and the CIFAR ViT.

    python benchmarks/bench_transformer.py [--repeats 15] [--only gpt|vit] [--profile]
                                           [--plain-malloc] [--skip-floor]

gpt_char: nanoGPT's README CPU configuration (4 layers, 4 heads, width 128, context 64,
batch 12); one iteration is forward, cross-entropy over the (B T, V) logits, backward,
clip_grad_norm_(1.0), AdamW on nanoGPT's decay groups.  ViT: the paper's CIFAR-10 model
(6 layers, width 64, 8 heads, MLP 512, patch 4), batch 128 of CIFAR-shaped random
images, cross-entropy, backward, Adam.  Real and quaternion are timed alternately in one
process (medians; the ratio is the median of the per-round ratios).
Targets (PyTorch on this CPU: gpt 41.5 ms, ViT 457 ms): gpt <= 62 ms, ViT <= 686 ms,
quaternion <= 1.15x real.  --profile prints cProfile's top functions of each step.
Then each step against its GEMM floor (benchmarks/floor.py: the step's matrix products --
projections, attention's batched products, MLP, head -- alone, same shapes and layouts,
timed alternately with the step; the median of the paired ratios).

Like the `hyperprune` command, the benchmark first calls backend.tune_allocator() (glibc:
recycle freed memory instead of page-faulting NumPy's MB-sized temporaries in again at
every step); --plain-malloc skips it, to see the difference.
"""
import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np

import hyperprune as hp
from hyperprune import optim, tensor
from hyperprune.models import gpt_char, vit
from hyperprune.train import loss_of

from floor import Floor, record, step_over_floor


def gpt_setup(algebra, rng):
    hp.manual_seed(0)
    model = gpt_char(algebra)
    print(f"  gpt_char {algebra:10s} parameters {model.num_parameters(by_kind=True)}")
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.99))
    data = rng.integers(0, 65, (8, 12, 65))            # 8 batches of (B, T + 1) ids
    batches = [(d[:, :-1], d[:, 1:]) for d in data]

    def step(i):
        x, y = batches[i % len(batches)]
        loss = loss_of(model(tensor(x)), y)              # logits (12, 64, V)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


def vit_setup(algebra, rng):
    hp.manual_seed(0)
    model = vit(algebra)
    print(f"  vit {algebra:10s} parameters {model.num_parameters(by_kind=True)}")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = hp.tensor(rng.standard_normal((128, 3, 32, 32)).astype(np.float32))
    y = rng.integers(0, 10, 128)

    def step(i):
        loss = loss_of(model(x), y)                      # y: host labels, moved
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


BENCHES = {  # name: (setup, steps per timing, target ms, description)
    "gpt": (gpt_setup, 10, 62.0, "gpt_char iteration (4x128, T 64, batch 12, AdamW, clip)"),
    "vit": (vit_setup, 1, 686.0, "ViT training step (6x64, 8 heads, batch 128, Adam)"),
}


def floor_ratio(name, repeats):
    setup, inner, _, what = BENCHES[name]
    for algebra in ("real", "quaternion"):
        def make_step():
            step = setup(algebra, np.random.default_rng(0))
            return lambda: step(0)
        floor = Floor(record(make_step))
        step, gemm, ratio = step_over_floor(make_step(), floor, repeats * inner)
        print(f"  {algebra:<10}  step {step * 1e3:8.2f} ms   GEMM floor {gemm * 1e3:8.2f} ms "
              f"({len(floor)} products, {floor.gflop:.2f} GFLOP)   step / floor {ratio:.2f}")


def run(name, repeats, profile):
    setup, inner, target, what = BENCHES[name]
    rng = np.random.default_rng(0)
    steps = {a: setup(a, rng) for a in ("real", "quaternion")}
    for step in steps.values():                         # warm up (optimizer state etc.)
        step(0)
        step(1)
    times = {a: [] for a in steps}
    cpu = {a: [] for a in steps}                        # CPU time: wall >> cpu = preempted
    for r in range(repeats):
        for algebra, step in steps.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for i in range(inner):
                step(r * inner + i)
            times[algebra].append((time.perf_counter() - start) / inner)
            cpu[algebra].append((time.process_time() - start_cpu) / inner)
    ms = {a: (statistics.median(times[a]) * 1e3, statistics.median(cpu[a]) * 1e3)
          for a in steps}
    ratio = statistics.median(q / r for q, r in zip(times["quaternion"], times["real"]))
    print(f"{what}, float32")
    print(f"  real        {ms['real'][0]:8.2f} ms (cpu {ms['real'][1]:.2f})   "
          f"target <= {target:g} ms")
    print(f"  quaternion  {ms['quaternion'][0]:8.2f} ms (cpu {ms['quaternion'][1]:.2f})   "
          f"ratio {ratio:.3f} (target <= 1.15)")
    if profile:
        for algebra, step in steps.items():
            print(f"  --- cProfile, {algebra}, {inner * 3} steps")
            prof = cProfile.Profile()
            prof.runcall(lambda: [step(i) for i in range(inner * 3)])
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", choices=sorted(BENCHES))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--plain-malloc", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    args = parser.parse_args(argv)
    if not args.plain_malloc:
        print(f"allocator tuned: {hp.backend.tune_allocator()}")
    for name in ([args.only] if args.only else BENCHES):
        run(name, args.repeats, args.profile)
        if not args.skip_floor:
            floor_ratio(name, args.repeats)


if __name__ == "__main__":
    main()
