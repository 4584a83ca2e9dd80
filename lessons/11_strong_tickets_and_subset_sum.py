# %% [markdown]
# # Lesson 11: strong tickets — supermasks, random subset sum, and exact quantized tickets
#
# Lesson 4's lottery tickets are *weak*: a sparse subnetwork that trains well from its
# initial weights.  The strong lottery ticket hypothesis says more: a wide enough random
# network already *contains*, without any training, a subnetwork that computes a given
# target network.  Only the choice of weights is learned (or constructed); the weights
# themselves stay as drawn.  This lesson goes from the practice to the proof:
#
# 1. Supermasks: a score per frozen random weight, top-k, and the straight-through
#    gradient dL/ds = g ⊙ w — a tiny example that finds a hidden subnetwork.
# 2. Why it can work: random subset sum.  With continuous candidates every extra random
#    number buys about one bit of precision.
# 3. On a grid the representation becomes *exact* (Kumar & Natale 2025): quantized random
#    weights whose products lie on a grid containing the target's grid.
# 4. The construction: one neuron, then a small network, verified bit for bit in integers.
#
# You need lesson 2 (autograd, gradcheck) and lesson 9 (the k-bit grid).

# %%
import csv
import os
from pathlib import Path

import numpy as np

import hyperprune as hp
from hyperprune import functional as F, optim
from hyperprune import subset_sum as S

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True, linewidth=100)
rng = np.random.default_rng(11)

# %% [markdown]
# ## 1. Supermasks and the straight-through estimator
#
# A layer keeps its random weight w frozen and learns a score s per weight.  The forward
# uses the `count` weights of largest |s| (edge-popup, Ramanujan et al. 2020):
#
#     m = 1[|s| among the `count` largest],     w_eff = w ⊙ m
#
# m is piecewise constant in s, so its true derivative is zero almost everywhere.  The
# straight-through estimator differentiates the *relaxed* op w ⊙ |s| instead:
#
#     dL/ds = g ⊙ w ⊙ sign(s),    g = dL/dw_eff
#
# — for positive scores the g ⊙ w of the issue.  Read it as: a weight whose inclusion
# would lower the loss (g·w < 0 along its sign) gets its score pushed up.

# %%
w = hp.tensor(np.array([[0.5, -1.0, 2.0], [1.5, -0.5, 1.0]]))
s = hp.tensor(np.array([[0.3, -0.9, 0.1], [0.7, 0.2, -0.4]]), requires_grad=True)
w_eff = F.supermask(w, s, 3)                 # keeps |s| = 0.9, 0.7, 0.4
print("mask\n", (w_eff.data != 0).astype(int))
g = rng.standard_normal((2, 3))              # a random upstream gradient
w_eff.backward(g)
assert np.array_equal(w_eff.data != 0, np.abs(s.data) >= 0.4)
assert np.allclose(s.grad, g * w.data * np.sign(s.data))
# the relaxed op is what the backward differentiates exactly: gradcheck it
assert hp.gradcheck(lambda s: F.supermask(w, s, 3, relaxed=True),
                    hp.tensor(s.data.copy(), requires_grad=True)).passed
print("dL/ds = g ⊙ w ⊙ sign(s):\n", s.grad)

# %% [markdown]
# **A hidden subnetwork, found by training scores only.**  A frozen random layer with
# weights ±1; the data come from a target that uses 32 of its 128 weights.  SGD on the
# scores (the weights never change) finds exactly those 32.

# %%
out_f, in_f, count = 4, 32, 32
w_rand = np.where(rng.random((out_f, in_f)) < 0.5, -1.0, 1.0)
hidden = np.zeros(out_f * in_f, bool)
hidden[rng.choice(out_f * in_f, count, replace=False)] = True
hidden = hidden.reshape(out_f, in_f)
x = hp.tensor(rng.standard_normal((256, in_f)))
y = hp.tensor(x.data @ (w_rand * hidden).T)
scores = hp.tensor(rng.uniform(-0.1, 0.1, (out_f, in_f)), requires_grad=True)
opt = optim.SGD([scores], lr=0.05, momentum=0.9)
w_frozen = hp.tensor(w_rand)
for step in range(60):
    opt.zero_grad()
    loss = F.mse_loss(F.linear(x, F.supermask(w_frozen, scores, count)), y)
    loss.backward()
    opt.step()
    found = int((F.topk_mask(np.abs(scores.data), count) & hidden).sum())
    if step in (0, 5, 10, 20, 59):
        print(f"step {step:2d}: loss {float(loss.data):8.4f}, {found} of {count} hidden "
              "weights in the mask")
assert found == count and np.array_equal(w_frozen.data, w_rand)

# %% [markdown]
# ## 2. Random subset sum, continuous
#
# Why should a random network contain a given one?  Pensia et al. (2020) reduce it to one
# question per target weight w: given m random numbers, is some subset's sum close to w?
# Lueker (1998): with m i.i.d. uniform candidates, every target in [−1, 1] is within ε of
# a subset sum once m = O(log 1/ε).  The intuition: 2^m subsets spread their sums over a
# range that grows only like √m, so each new candidate doubles the number of sums in it,
# halving the gaps — one more bit of precision per candidate.
#
# `S.closest_subset_sum` finds the best subset by meet in the middle (2^(m/2) sums per
# half, one half sorted, binary search), far fewer than the 2^m subsets.

# %%
trials = 100 if FAST else 1000
m_max = 14
errors = np.zeros((trials, m_max))
for t in range(trials):
    cands, target = rng.uniform(-1, 1, m_max), rng.uniform(-1, 1)
    for m in range(1, m_max + 1):
        mask, total = S.closest_subset_sum(cands[:m], target)
        errors[t, m - 1] = abs(total - target)
median = np.median(errors, axis=0)
for m in range(1, m_max + 1, 2):
    print(f"m = {m:2d}: median best error {median[m - 1]:.2e}")
slope = np.polyfit(np.arange(4, m_max + 1), np.log2(median[3:]), 1)[0]
print(f"log2(error) falls by {-slope:.2f} per extra candidate (a factor {2 ** -slope:.2f})")
assert -1.3 < slope < -0.7            # about one bit per candidate
assert np.all(np.diff(errors, axis=1) <= 1e-12)   # nested sets: never worse with more

# %% [markdown]
# ## 3. On a grid, the representation becomes exact
#
# Now quantize everything (the conventions of `hyperprune.subset_sum`).  A k-bit target
# has codes c ∈ {−m..m}, m = 2^(k−1) − 1: normalised weight c·δ, δ = 2^−(k−1).  Random
# weights u = a·δ_r, v = b·δ_r with codes a, b ∈ {−2^r..2^r} \ {0}, δ_r = 2^−r.  Their
# products lie on δ_r²Z; when δ_r² divides δ (R = δ/δ_r² an integer) the target c·δ is
# R·c in product units, and a subset can hit it **exactly** — a question about integers,
# decided in integers: `S.subset_sum` keeps a bitset of reachable sums (bit s set iff some
# subset of the candidates so far sums to s), one shift-and-or per candidate, then walks
# back to read off a subset.  Time O(m · range / 64), no tolerance anywhere.

# %%
grid = S.Grid.of(4)                     # k = 4, r = 2: codes ±1..4, R = 2
print(f"k = {grid.bits}: target codes ±1..{grid.code_max}, random codes "
      f"±1..{grid.random_max}, R = {grid.ratio}")
a, b = grid.random_codes(rng, 10), grid.random_codes(rng, 10)
products = a * b
for code in (7, -5, 1):
    chosen = S.subset_sum(products, grid.ratio * code)
    print(f"code {code:+d} -> R·c = {grid.ratio * code:+3d} = "
          f"{' + '.join(f'({int(p)})' if p < 0 else str(int(p)) for p in products[chosen])}")
    assert int(products[chosen].sum()) == grid.ratio * code
try:
    S.subset_sum(np.array([4, 8, -12]), 6)
except ValueError as e:
    print("no subset:", e)

# %% [markdown]
# How many random candidates does an exact hit need?  `S.exact_success` measures the
# probability over random candidates and targets; with nested candidate sets it can only
# grow with m.  The counting argument bounds it: m candidates have at most 2^m subset sums,
# so hitting 2^k − 2 targets needs m ≥ log2(2^k − 2) ≈ k.  Borgs, Chayes & Pittel (2001)
# make this sharp for random integers: perfect partitions exist w.h.p. when the
# candidates have fewer bits than there are candidates (κ < 1), and vanish above — about
# one candidate per bit again.

# %%
exact_trials = 300 if FAST else 3000
for k in (4, 6, 8):
    p = S.exact_success(k, 20, exact_trials, rng)
    need = S.smallest_m(p)
    print(f"k = {k}: P(exact) at m = 4, 8, 12, 16: {p[[3, 7, 11, 15]].round(3)}; "
          f"m for 0.9: {need} (counting bound {np.log2(0.9 * (2 ** k - 2)):.1f})")
    assert np.all(np.diff(p) >= 0) and need >= np.log2(0.9 * (2 ** k - 2))

# %% [markdown]
# `results/subset_sum/` measures this for k = 2..8 with 10,000 trials, next to the
# continuous case at ε = 2^−k, and fits m ≈ a + b·k to both:

# %%
table = Path(__file__).resolve().parent.parent / "results" / "subset_sum" / \
    "overparameterisation.csv"
if table.exists():
    with open(table) as f:
        rows = list(csv.DictReader(f))
    print(" k  m exact  m continuous")
    for r in rows:
        print(f"{r['bits']:>2}  {r['m_exact']:>7}  {r['m_continuous']:>12}")
    ks = [int(r["bits"]) for r in rows]
    print("slopes: exact %.2f, continuous %.2f candidates per bit" % (
        S.fit_line(ks, [int(r["m_exact"]) for r in rows])[1],
        S.fit_line(ks, [int(r["m_continuous"]) for r in rows])[1]))

# %% [markdown]
# ## 4. The construction: one neuron
#
# A target layer y = W x becomes two random layers: x_j feeds `width` hidden units with
# weights u_jk, ReLU, then weights v_ijk to output i.  The sign trick: x = x⁺ − x⁻ with
# x⁺ = ReLU(x), x⁻ = ReLU(−x), and ReLU(u·x) = u·x⁺ if u > 0, |u|·x⁻ if u < 0.  So w_ij is
# realised exactly when a subset of {u v : u > 0} sums to w_ij (it carries x⁺) and a
# subset of {|u| v : u < 0} sums to −w_ij (it carries x⁻).  Pruning keeps those v's and
# their u's.  One neuron with three inputs:

# %%
codes = [np.array([[5, -3, 7]])]                 # y = 5 x0 - 3 x1 + 7 x2, 4-bit codes
layers, grid = S.build_ticket(codes, 4, 24, np.random.default_rng(0))
layer = layers[0]
for j in range(3):
    kept = np.flatnonzero(layer.keep_v[0, j])
    pos = [int(layer.u[j, k] * layer.v[0, j, k]) for k in kept if layer.u[j, k] > 0]
    neg = [int(-layer.u[j, k] * layer.v[0, j, k]) for k in kept if layer.u[j, k] < 0]
    print(f"w_0{j} = {codes[0][0, j]:+d}, R·c = {grid.ratio * codes[0][0, j]:+d}: x⁺ side "
          f"u·v {pos} (sum {sum(pos)}), x⁻ side |u|·v {neg} (sum {sum(neg)})")
    assert sum(pos) == -sum(neg) == grid.ratio * codes[0][0, j]
x = rng.integers(-50, 51, (1000, 3))
assert np.array_equal(S.ticket_forward(layers, x), grid.ratio * S.target_forward(codes, 4, x))
print(f"kept {layer.keep_v.sum()} of {layer.v.size} second-layer weights; outputs equal "
      f"on 1000 integer inputs of both signs")

# %% [markdown]
# ## ... then a network
#
# A 4-bit 32-12-5 MLP (ReLU between layers): each layer becomes a pair, 4 random layers in
# all.  In integer units the random network's output is R^L times the target's — checked
# with `np.array_equal`, not `allclose`: every number here is an int64, and the pruned
# random network *is* the quantized target, not an approximation of it.

# %%
codes = [rng.integers(-7, 8, (12, 32)), rng.integers(-7, 8, (5, 12))]
layers, grid = S.build_ticket(codes, 4, 64, np.random.default_rng(1))
x = rng.integers(-255, 256, (2000, 32))
target_out = S.target_forward(codes, 4, x)
ticket_out = S.ticket_forward(layers, x)
assert np.array_equal(ticket_out, grid.ratio ** 2 * target_out)
random_weights = sum(layer.u.size + layer.v.size for layer in layers)
kept = sum(int(layer.keep_u.sum() + layer.keep_v.sum()) for layer in layers)
print(f"target {sum(c.size for c in codes)} weights; random network {random_weights}, "
      f"of which the ticket keeps {kept} ({kept / random_weights:.1%}); outputs identical "
      f"on {len(x)} inputs")

# %% [markdown]
# The width here (64 hidden units per input) is well above section 3's 0.9-level m:
# *every* weight must be hit, on both sides of the sign trick, each side seeing about
# half the hidden units.  `tests/test_subset_sum.py` does the same for a 784-16-10 network
# at width 72 on all 10,000 MNIST test images.  The take-away of Kumar & Natale: once the
# random network is quantized finely enough (δ_r² dividing δ), pruning is not an
# approximation of quantization but can reproduce the quantized network exactly, at a
# width that grows only linearly in the number of bits.
