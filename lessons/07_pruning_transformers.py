# %% [markdown]
# # Lesson 7: pruning a transformer, and reading the weight histograms
#
# Lesson 4 found lottery tickets in an MLP: train, prune the smallest weights, reset the
# survivors to their initial values θ0, train again.  "Transformers at a Fraction" does the
# same to transformers, with two changes worth understanding:
#
# 1. **What is pruned.**  Only the query, key and value projections W_Q, W_K, W_V of every
#    attention layer (Algorithm 1 of the paper) — not the MLP, not the embeddings, norms,
#    biases or position tokens.
# 2. **How a quaternion layer is ranked.**  Each component matrix R, I, J, K of a
#    quaternion projection loses the same fraction p of its weights, ranked on its own
#    (L1 magnitude within the component), instead of ranking the whole layer at once.
#
# This lesson builds both from the library's pieces on a tiny character-level GPT, shows
# *why* the second rule matters (the quaternion initialization is not the same in every
# component), runs a short lottery on tiny Shakespeare for a real and a quaternion model,
# and reads the histograms of surviving weights — the paper's weight-distribution figures,
# which `hyperprune plot RUN_DIR --histograms FILE` draws for any run.
#
# You need: lesson 3 (QLinear, the component layout (4, out/4, in/4)), lesson 4 (masks,
# rewinding) and lesson 6 (attention, q_proj / k_proj / v_proj).  Every claim is an
# `assert`; with `HYPERPRUNE_LESSON_FAST=1` (what the test suite sets) the training loops
# are short and the lesson runs in well under a minute.

# %%
import math
import os
import time

import numpy as np

import hyperprune as hp
from hyperprune import optim, prune
from hyperprune.models import gpt_char
from hyperprune.datasets import CharVocab, char_splits, eval_batches, lm_batch, \
    load_tiny_shakespeare
from hyperprune.train import evaluate, train_step

from lesson_tools import output_dir  # lessons/lesson_tools.py

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True, linewidth=100)
LESSON_START = time.perf_counter()
OUTPUT = output_dir()                   # figures go to lessons/_output/

# A small model so that everything runs in seconds: 2 layers, 2 heads, width 32 (each
# head 16 features = 4 whole quaternions), context 32.  The reproduction in
# results/gpt_char uses nanoGPT's CPU configuration (4 layers, 4 heads, width 128).
SIZE = dict(n_layer=2, n_head=2, n_embd=32, block_size=32)


def make(algebra):
    hp.manual_seed(7)                   # the same seed: the same θ0 for every run below
    return gpt_char(algebra, **SIZE)


# %% [markdown]
# ## 1. What Algorithm 1 prunes: the Q, K, V projections
#
# `prune.prunable_layers(model, scope)` lists the layers whose `weight` a mask covers.
# With `scope="all"` that is every Linear/QLinear; with `scope="qkv"` only the attention
# projections named q_proj, k_proj, v_proj (or qkv_proj, qytorch's fused layout).  A
# real projection E→E has E² weights; a quaternion one has E²/4 — one quaternion per
# (out/4, in/4) pair, stored as its four component matrices, shape (4, E/4, E/4).

# %%
real, quat = make("real"), make("quaternion")
E = SIZE["n_embd"]
for name, model in (("real", real), ("quaternion", quat)):
    layers = prune.prunable_layers(model, "qkv")
    first = list(layers.items())[:3]
    print(f"{name:<11} {len(layers)} Q/K/V layers, e.g. "
          + ", ".join(f"{n} {tuple(layer.weight.shape)}" for n, layer in first))
    assert len(layers) == 3 * SIZE["n_layer"]
real_qkv = sum(prune.Masks.ones(real, "qkv").total().values())
quat_qkv = sum(prune.Masks.ones(quat, "qkv").total().values())
assert real_qkv == 3 * SIZE["n_layer"] * E * E and quat_qkv * 4 == real_qkv
print(f"Q/K/V weights: real {real_qkv:,}, quaternion {quat_qkv:,} "
      f"= {quat_qkv / real_qkv:.0%} of the real model before any pruning")
all_layers = prune.prunable_layers(quat, "all")
assert "lm_head" in all_layers and "lm_head" not in prune.prunable_layers(quat, "qkv")

# %% [markdown]
# The x-axis of the paper's figures is "weights remaining relative to the real model",
# so the unpruned quaternion model already starts at 25%: a quaternion projection is
# four times smaller.  Everything else (embeddings, norms, biases, the MLP) is untouched
# by the pruning and counts in neither.
#
# ## 2. Why each component is ranked on its own
#
# The quaternion polar initialization (lesson 3) draws w = |w| (cos θ, sin θ u) with a
# random phase θ ~ U(−π, π) and a random unit imaginary axis u.  So the real part gets
# E[cos²θ] = 1/2 of the energy and each imaginary part 1/2 · 1/3 = 1/6:
#
#     E[w_r²] = E|w|² / 2,    E[w_i²] = E[w_j²] = E[w_k²] = E|w|² / 6.
#
# The real component matrix R starts about √3 times larger than I, J or K.  Rank the whole
# layer by |w| and the imaginary components go first — the pruning would quietly turn
# the quaternion layer into a mostly-real one.  Let us measure both rules on θ0.

# %%
weights = [layer.weight.data for layer in prune.prunable_layers(quat, "qkv").values()]
comps = np.concatenate([w.reshape(4, -1) for w in weights], axis=1)   # (4, all entries)
energy = (comps * comps).mean(axis=1)
ratio = energy[0] / energy[1:].mean()
print(f"mean square of R, I, J, K at θ0: {energy}  (R / imaginary = {ratio:.2f}, theory 3)")
assert 2.5 < ratio < 3.5

masks0 = prune.Masks.ones(quat, "qkv")
half = {name: 0.5 for name in masks0}
by_layer = prune.prune(quat, masks0, strategy="layerwise", rates=half)
by_component = prune.prune(quat, masks0, strategy="componentwise", rates=half)


def kept_per_component(masks):
    """(4,) fraction of each component's weights that survive, over all Q/K/V layers."""
    return np.concatenate([masks[n].reshape(4, -1) for n in masks], axis=1).mean(axis=1)


print("kept per component (R, I, J, K), layer-wise ranking:    ", kept_per_component(by_layer))
print("kept per component (R, I, J, K), componentwise (Alg. 1):", kept_per_component(by_component))
assert kept_per_component(by_layer)[0] > kept_per_component(by_layer)[1:].max() + 0.1
for name in by_component:               # exactly half of every component matrix survives
    kept = by_component[name].reshape(4, -1).sum(axis=1)
    assert (kept == by_component[name][0].size // 2).all(), (name, kept)

# %% [markdown]
# Componentwise pruning is still magnitude pruning, just within each component: every
# survivor is larger in magnitude than every pruned weight *of its component matrix*.
#
# A third choice, which no paper has tried and this library offers as
# `granularity="quaternion"`, ranks whole quaternions by |q| and keeps or drops all four
# components together, so every surviving weight is a full quaternion and the layer is
# still a Hamilton product of (sparse) quaternions.

# %%
for name, layer in prune.prunable_layers(quat, "qkv").items():
    w = layer.weight.data.reshape(4, -1)
    m = by_component[name].reshape(4, -1)
    for c in range(4):
        assert np.abs(w[c][m[c]]).min() >= np.abs(w[c][~m[c]]).max()
whole = prune.prune(quat, masks0, strategy="layerwise", rates=half, granularity="quaternion")
for name in whole:
    m = whole[name]
    assert (m == m[:1]).all()           # the same decision for R, I, J and K of each q
print("whole-quaternion masks: each (out, in) quaternion is kept or dropped as one")

# %% [markdown]
# ## 3. A short lottery on tiny Shakespeare
#
# The loop of lesson 4, with the transformer's pieces: character batches (`lm_batch`),
# AdamW, Q/K/V masks, and the *validation perplexity* exp(loss) as the metric — the
# number of characters the model is "choosing between" on average (65 for a uniform
# guess).  Each level resets the survivors to θ0, trains, records, and prunes half of
# the remaining Q/K/V weights, componentwise.

# %%
text = load_tiny_shakespeare()
vocab = CharVocab(text)
train_ids, val_ids = char_splits(text, vocab)
x_val, y_val = map(np.concatenate, zip(*eval_batches(val_ids, SIZE["block_size"], 16,
                                                     n_batches=8, seed=1)))
ITERATIONS = 80 if FAST else 600
LEVELS = 3 if FAST else 5


def lottery(algebra):
    """[(level, Pm of real, val loss, trained model state, masks)] for one model."""
    model = make(algebra)
    theta0 = model.state_dict()
    masks = prune.Masks.ones(model, "qkv")
    levels = []
    for level in range(LEVELS + 1):
        model.load_state_dict(theta0)                  # reset to θ0 ...
        masks.apply(model)                             # ... keeping only the survivors
        opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=3e-3, betas=(0.9, 0.99))
        for it in range(ITERATIONS):
            xb, yb = lm_batch(train_ids, SIZE["block_size"], 16, seed=0, iteration=it)
            train_step(model, opt, masks, xb, yb, grad_clip=1.0)
        for name, layer in prune.prunable_layers(model, "qkv").items():
            assert np.all(layer.weight.data[~masks[name]] == 0)   # pruned stay pruned
        val_loss, _ = evaluate(model, x_val, y_val, batch_size=64)
        pm_of_real = sum(masks.remaining().values()) / real_qkv
        levels.append((level, pm_of_real, val_loss, model.state_dict(), masks))
        print(f"{algebra:<10} level {level}: Q/K/V {pm_of_real:7.2%} of real   "
              f"val loss {val_loss:.3f}   perplexity {math.exp(val_loss):6.2f}")
        rates = {name: 0.5 for name in masks}
        masks = prune.prune(model, masks, strategy="componentwise", rates=rates)
    return model, levels


runs = {algebra: lottery(algebra) for algebra in ("real", "quaternion")}
for algebra, (_, levels) in runs.items():
    assert levels[0][2] < math.log(65) - 0.5, "training should beat a uniform guess"
    assert [round(lv[1] * real_qkv) for lv in levels] == \
        [round((real_qkv if algebra == "real" else quat_qkv) * 0.5 ** k)
         for k in range(LEVELS + 1)]               # half of the rest, every round

# %% [markdown]
# Pruning Q/K/V alone changes the loss little at first: they are a small part of the
# model (the MLP and the output layer hold most weights), and attention can still route
# information with a few surviving weights per head.  The reproduction in
# `results/gpt_char` goes to under 1% and compares real, quaternion and qytorch's fused
# layout at nanoGPT's CPU scale.
#
# ## 4. Reading the histograms of surviving weights
#
# After each level we have the trained weights and the mask they were trained under.
# The histogram of the surviving Q/K/V weights is what the paper plots per level.  Three
# things to look for:
#
# * **A hole around zero that widens.**  Magnitude pruning removes the smallest weights,
#   so right after a prune no survivor is smaller than the threshold.  Training from θ0
#   moves weights, but the survivors were chosen *because* they end up large, so the
#   hole mostly stays, and the distribution turns bimodal as levels go on.
# * **The scale of the survivors grows** with the level, for the same reason.
# * **Real and quaternion differ in shape**: real weights start Gaussian N(0, 0.02²);
#   quaternion components start from the polar init, a different (and, per component,
#   unequal) distribution — and componentwise pruning keeps all four components alive.

# %%
from hyperprune.plots import _pyplot  # noqa: E402  (the library's non-interactive pyplot)

plt = _pyplot()
fig, axes = plt.subplots(2, LEVELS + 1, figsize=(2.6 * (LEVELS + 1), 4.6), squeeze=False)
medians = {}
for row, (algebra, (model, levels)) in zip(axes, runs.items()):
    medians[algebra] = []
    for ax, (level, pm_of_real, val_loss, state, masks) in zip(row, levels):
        model.load_state_dict(state)
        hist = prune.surviving_weight_histogram(model, masks, bins=60)
        edges = np.array(hist["edges"])
        ax.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge")
        ax.set_title(f"{algebra} L{level}: {pm_of_real:.1%}", fontsize=8)
        ax.tick_params(labelsize=6)
        survivors = np.concatenate([
            np.abs(layer.weight.data[masks[name]])
            for name, layer in prune.prunable_layers(model, "qkv").items()])
        assert sum(hist["counts"]) == survivors.size == sum(masks.remaining().values())
        medians[algebra].append(float(np.median(survivors)))
    print(f"{algebra:<10} median |w| of the survivors by level: "
          + ", ".join(f"{m:.4f}" for m in medians[algebra]))
    assert medians[algebra][-1] > 1.5 * medians[algebra][0]
fig.tight_layout()
figure_path = OUTPUT / "07_histograms.png"
fig.savefig(figure_path, dpi=100)
plt.close(fig)
print(f"figure: {figure_path}")

# %% [markdown]
# The hole at zero, measured: the fraction of the last level's survivors whose trained
# magnitude is below the median |w| of the *unpruned* trained model.  Without selection
# it would be about half; the tickets keep far fewer small weights.
#
# In the figure the hole is sharper for the quaternion model.  The scales tell why: real
# projections start at N(0, 0.02²) and training moves them by several times their
# initial size, so a survivor (chosen for its *trained* size) can start small, and some
# end small after retraining: the middle partly fills back in.  The polar init of a 32→32
# quaternion layer is much larger (σ = 1/√(2·(8 + 8)) ≈ 0.18 per quaternion) and the
# same training moves it proportionally less, so the survivors stay where θ0 put them.

# %%
for algebra, (model, levels) in runs.items():
    model.load_state_dict(levels[-1][3])
    masks = levels[-1][4]
    survivors = np.concatenate([np.abs(layer.weight.data[masks[name]]) for name, layer
                                in prune.prunable_layers(model, "qkv").items()])
    small = float((survivors < medians[algebra][0]).mean())
    print(f"{algebra:<10} survivors at level {LEVELS} below the level-0 median: {small:.1%}")
    assert small < 0.25

# %% [markdown]
# ## 5. The same from the command line
#
# `hyperprune lottery --preset gpt_char --algebra quaternion --run-dir runs/q` runs
# Algorithm 1 at nanoGPT's CPU scale (each level stores its histogram in
# `levels/level_KK.json`), and
#
#     hyperprune plot runs/real runs/q -o ppl.png --histograms hist.png
#
# draws perplexity against weights remaining (relative to the real model) and one row of
# histograms per run.  `results/gpt_char/reproduce.sh` is the committed version.
#
# ## Summary
#
# * Algorithm 1 prunes only W_Q, W_K, W_V (`scope="qkv"`), half of the remaining weights
#   per round, reset to θ0 between rounds; embeddings, norms, biases never.
# * A quaternion projection has a quarter of the real weights, so it starts at 25% of the
#   real model on the paper's x-axis.
# * The polar init puts 1/2 of a weight's energy in the real part and 1/6 in each
#   imaginary one: layer-wide ranking would prune imaginary components first.
#   Componentwise ranking keeps the same fraction of R, I, J and K; `granularity=
#   "quaternion"` keeps whole quaternions.
# * Histograms of survivors: a widening hole at zero, a growing scale, and different
#   shapes for real and quaternion weights.

# %%
print(f"Lesson 7: all checks passed in {time.perf_counter() - LESSON_START:.1f} s.")
