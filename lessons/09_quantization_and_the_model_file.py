# %% [markdown]
# # Lesson 9: from float weights to a file of bits — quantization, masks, the frontier
#
# A pruned ticket is still a list of float32 numbers, 4 bytes each, and a model file that
# stores the zeros is as large as the dense one.  What a small device receives is a file,
# so the question "how small is the network?" has an answer in bytes.  This lesson builds
# that file piece by piece:
#
# 1. Codes and scales: uniform symmetric k-bit quantization, and why its zero is exact.
# 2. Training through the grid: fake quantization and the straight-through backward.
# 3. The mask: its information content N·H(d), and why coding the gaps between survivors
#    beats a bitmap at extreme sparsity.
# 4. A ticket as a .hpz file: bytes against the bound, and the file read back bit for bit.
# 5. Reading the accuracy-per-byte frontier.

# %%
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

import hyperprune as hp
from hyperprune import deploy, modelfile, quantize
from hyperprune import functional as F
from hyperprune.config import LotteryConfig
from hyperprune.lottery import LotteryRun

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True, linewidth=100)
rng = np.random.default_rng(9)

# %% [markdown]
# ## 1. Codes and scales
#
# k bits name 2^k codes.  The symmetric grid uses 2^k − 1 of them, {−m, …, m} with
# m = 2^(k−1) − 1, and one real number per tensor (or per output unit), the *scale*:
#
#     value = scale · code,    code = clip(round(w / scale), −m, m),    scale = max|w| / m
#
# The largest surviving weight lands on the last code; every other weight is rounded to
# the nearest of the 2m + 1 grid points, so its error is at most scale / 2.

# %%
w = rng.standard_normal(12).astype(np.float32) * 0.1
for bits in (8, 4, 2):
    m = 2 ** (bits - 1) - 1
    scale = np.abs(w).max() / m
    q = quantize.quantize_tensor(w, None, bits, "tensor")
    assert np.isclose(q.scale.item(), scale, rtol=1e-3)          # float16-rounded
    assert np.array_equal(q.codes, np.clip(np.rint(w / q.scale), -m, m))
    error = np.abs(q.values - w).max()
    print(f"{bits} bits: m = {m:3d}, scale = {scale:.5f}, max error {error:.5f} "
          f"<= scale/2 = {q.scale.item() / 2:.5f}")
    assert error <= q.scale.item() / 2 + 1e-7
print("2-bit codes:", q.codes)

# %% [markdown]
# (The scale is rounded to float16 so the file can store it in two bytes — that is why
# `q.scale` and `scale` agree only to 1e-3; the codes are computed with the rounded one.)
#
# **Why the zero must be exact.**  Many quantizers are *affine*: value = scale · (code −
# zero_point), the grid stretched from min w to max w so no code is wasted.  Its grid
# contains 0 only if the zero point happens to be an integer.  For a pruned network that
# is not a detail: a pruned weight is 0, and if 0 is not on the grid every pruned weight
# comes back as a small nonzero number.  The ticket is no longer sparse, its mask is no
# longer the truth, and the file would have to store all N weights.  The symmetric grid
# has 0 as a code by construction.  (A survivor smaller than scale/2 gets code 0 too; it
# stays a survivor in the mask, the file stores its code, and QAT may move it off zero.)

# %%
pruned = np.where(rng.random(1000) < 0.05, rng.standard_normal(1000), 0.0)   # 5% survive
mask = pruned != 0
lo, hi = pruned.min(), pruned.max()
levels = 2 ** 4 - 1                                       # a 4-bit affine grid
step = (hi - lo) / levels
affine = np.rint((pruned - lo) / step) * step + lo
symmetric = quantize.quantize_tensor(pruned, mask, 4, "tensor").values
print(f"affine 4-bit grid: {np.count_nonzero(affine)} nonzeros of 1000 "
      f"(0 became {affine[~mask][0]:+.4f})")
print(f"symmetric 4-bit grid: {np.count_nonzero(symmetric)} nonzeros, all among the "
      f"{mask.sum()} survivors")
assert np.count_nonzero(symmetric[~mask]) == 0

# %% [markdown]
# **One scale per output unit.**  With one scale per tensor, a unit whose weights are all
# small uses only the middle codes; a scale per row (per output channel) gives every unit
# the whole grid.  For a hypercomplex layer, whose weight is (n, out/n, in/n), the unit is
# an output *number*: its n components share one scale, so the layer still computes the
# algebra's product of a quantized weight.

# %%
rows = rng.standard_normal((8, 50)) * np.geomspace(0.01, 1, 8)[:, None]
for granularity in ("tensor", "unit"):
    q = quantize.quantize_tensor(rows, None, 4, granularity, axis=0)
    rel = np.abs(q.values - rows).max(axis=1) / np.abs(rows).max(axis=1)
    print(f"4 bits, one scale per {granularity:6s}: worst error relative to a row's "
          f"largest weight, by row: {rel.round(3)}")

# %% [markdown]
# ## 2. Training through the grid
#
# Post-training quantization (PTQ) rounds a trained model once.  At 2–3 bits the rounding
# moves the weights far, and training *with* the rounding in the forward pass
# (quantization-aware training, QAT) lets the other weights compensate.  But
# round() has derivative 0 almost everywhere: backpropagating through q(w) would train
# nothing.  The straight-through estimator differentiates instead the op without its
# rounding, clip(w, −m·scale, m·scale):
#
#     dL/dw = g · 1[|w| ≤ m · scale]
#
# — the gradient passes where moving w can move q(w), and is zero where the clip holds w.

# %%
scale = np.float32(0.1)
x = hp.tensor(np.array([-0.5, -0.14, -0.02, 0.0, 0.07, 0.29, 0.31, 0.6], np.float32),
              requires_grad=True)
y = F.fake_quantize(x, scale, 3)                   # m = 3: the grid is 0.1 * {-3..3}
y.backward(np.ones(8, np.float32))
print("w         ", x.data)
print("q(w)      ", y.data)
print("dL/dw (g=1)", x.grad)
assert np.array_equal(x.grad, (np.abs(x.data) <= 3 * scale).astype(np.float32))

# %% [markdown]
# ## 3. The mask: how many bits does "which weights survive" take?
#
# A mask of N entries with a fraction d surviving is one of C(N, dN) possible masks, so
# it needs at least log2 C(N, dN) ≈ N·H(d) bits, H(d) = −d log2 d − (1−d) log2(1−d).
# A bitmap spends one bit per entry whatever d is.  At d = 2% H(d) is 0.14 bits: a
# bitmap is 7× too large, and for a 2-bit model it would be larger than the weights.
#
# Coding the *positions* of the survivors does better: the gaps between consecutive
# survivors are about geometric with mean 1/d, so each costs about log2(1/d) + 2 bits.
# hyperprune uses Elias–Fano (the low log2(N/nnz) bits of each position stored plainly,
# the high bits in unary), at most 2 + log2(N/nnz) bits per survivor, or the bitmap when
# that is smaller (around d ≥ 20%), or Elias–Fano of the *pruned* entries when most
# survive (an unpruned layer costs no bytes).

# %%
n = 100_000
print(f"{'density':>8} {'N·H(d) bits':>12} {'bitmap':>8} {'coded':>8}  coding")
for d in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.003):
    m = rng.random(n) < d
    method, low, data = modelfile.encode_mask(m)
    bound = modelfile.entropy_bits(n, int(m.sum()))
    print(f"{d:8.3f} {bound:12.0f} {n:8d} {8 * len(data):8d}  {method}")
    assert np.array_equal(modelfile.decode_mask(method, low, data, n, int(m.sum())), m)
    assert 8 * len(data) <= max(bound * 1.3, 1.01 * bound + 64) or d >= 0.2

# %% [markdown]
# ## 4. A ticket as a file
#
# Train a small LeNet ticket (two pruning levels), then export its last level at 4 bits.
# The .hpz file holds a compact header (the settings that rebuild the model, the shapes,
# scales and codings), each mask, the bit-packed codes of the survivors only, the biases
# as float16 — and a SHA-256 over everything, checked before a byte is decoded.
# `size_report` sets the file against its bound, Σ N·H(d)/8 + nnz·k/8 over the layers
# plus the other parameters.

# %%
work = Path(tempfile.mkdtemp(prefix="lesson09_"))
config = LotteryConfig(levels=2, iterations=60 if FAST else 600, eval_every=30 if FAST
                       else 200, train_subset=2000 if FAST else 0, validation=1000,
                       rate=0.6, output_rate=0.3)
LotteryRun(config, work / "run", quiet=True).run()
out = work / "lenet.hpz"
size, in_memory = deploy.export(work / "run", 2, 4, out)
cfg, model, masks = deploy.run_model(work / "run", 2)
report = deploy.size_report(in_memory, masks, 4, out)
print(f"density {masks.density():.1%}: {report['bytes']:,} bytes on disk, bound "
      f"{report['bound']:,.0f} (ratio {report['ratio']:.2f}); dense float32 "
      f"{report['dense_float32']:,}")
loaded, header = deploy.load(out)
x = hp.tensor(rng.standard_normal((20, 784)).astype(np.float32))
assert np.array_equal(loaded(x).data, in_memory(x).data)        # the file, bit for bit
print(json.dumps(deploy.evaluate_file(out), sort_keys=True))

# %% [markdown]
# One flipped bit anywhere and the file is refused, naming the problem:

# %%
data = bytearray(out.read_bytes())
data[len(data) // 2] ^= 1
bad = work / "flipped.hpz"
bad.write_bytes(bytes(data))
try:
    deploy.load(bad)
    raise AssertionError("a corrupted file was accepted")
except modelfile.ModelFileError as err:
    print("refused:", err)

# %% [markdown]
# ## 5. Reading the frontier
#
# Every (level, bit width) of a run is a point: bytes on disk, test accuracy.  A point is
# on the *Pareto frontier* if no other point is both smaller and more accurate.  To pick
# the smallest model that meets an accuracy target, walk the frontier from the left and
# take the first point at or above the target: nothing off the frontier can beat it.
# `results/frontier/frontier.py` computes the points for committed runs; here is the walk
# over the LeNet frontier measured there (if this checkout has it), else over the tiny run.

# %%
csv_path = Path(__file__).resolve().parent.parent / "results" / "frontier" / "lenet.csv"
if csv_path.exists():
    import csv
    with open(csv_path) as f:
        points = [dict(r, bytes=int(r["bytes"]), accuracy=float(r["accuracy"]))
                  for r in csv.DictReader(f)]
else:
    points = []
    for level in (1, 2):
        for bits in (32, 4, 2):
            path = work / f"l{level}_{bits}.hpz"
            deploy.export(work / "run", level, bits, path)
            r = deploy.evaluate_file(path)
            points.append(dict(algebra="real", level=level, bits=bits, method="ptq",
                               bytes=r["bytes"], accuracy=r["accuracy"]))
front, best = [], -math.inf
for p in sorted(points, key=lambda p: (p["bytes"], -p["accuracy"])):
    if p["accuracy"] > best:
        front.append(p)
        best = p["accuracy"]
print(f"{len(front)} of {len(points)} points are on the frontier:")
for p in front:
    print(f"  {p['bytes'] / 1024:8.1f} KB  {p['accuracy']:.2%}  {p['algebra']}, level "
          f"{p['level']}, {p['bits']} bits {p['method']}")
target = sorted(p["accuracy"] for p in front)[len(front) // 2]
pick = next(p for p in front if p["accuracy"] >= target)
print(f"smallest model with accuracy >= {target:.2%}: {pick['bytes'] / 1024:.1f} KB "
      f"({pick['algebra']}, level {pick['level']}, {pick['bits']} bits)")
assert all(q["bytes"] >= pick["bytes"] for q in points if q["accuracy"] >= target)
