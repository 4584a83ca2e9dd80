# %% [markdown]
# # Lesson 4: pruning and lottery tickets, step by step
#
# Lessons 1–3 built quaternion layers and their gradients.  This lesson prunes networks
# made of them.  It is about **masks**: which weights a network keeps, how to keep the
# others at exactly zero while training, and how *iterative magnitude pruning with
# rewinding* finds sparse subnetworks that train as well as the whole network.
#
# Everything runs on MNIST with LeNet-300-100 at a **small budget** (a few thousand
# images, a few hundred iterations per level), so the numbers are lower than in the
# papers; the shapes of the results are the point.  Section 7 shows the command for the
# full-scale runs.
#
# You need: lesson 3 (what `nn.QLinear` is), and the idea of training with Adam.
# Every claim is checked by an `assert`; with `HYPERPRUNE_LESSON_FAST=1` (what the test
# suite sets) the budgets shrink and the lesson runs in seconds.

# %%
import os

# One BLAS thread.  Our matrices are small (batches of 60), so a second thread gains
# little; and on a busy machine BLAS threads that wait for each other can make a training
# step 10-50x slower (we measured that while two other trainings ran).  This only works
# before NumPy is first imported; results/lenet_300_100/reproduce.sh does the same.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import dataclasses  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import hyperprune as hp  # noqa: E402
from hyperprune import datasets, optim, prune  # noqa: E402
from hyperprune import functional as F  # noqa: E402
from hyperprune.lottery import LotteryConfig, LotteryRun  # noqa: E402
from hyperprune.train import evaluate, train_step  # noqa: E402
from hyperprune.models import lenet_300_100  # noqa: E402
from hyperprune.plots import lottery_figure  # noqa: E402

from lesson_tools import output_dir  # noqa: E402  (lessons/lesson_tools.py)

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True)
LESSON_START = time.perf_counter()

OUTPUT = output_dir()

# %% [markdown]
# ## 1. The idea
#
# **The lottery ticket hypothesis** (Frankle & Carbin, ICLR 2019): a dense, randomly
# initialized network contains a sparse subnetwork — a *winning ticket* — that, reset to
# its **original initialization θ0** and trained in isolation, reaches the accuracy of
# the dense network in at most as many iterations.  The ticket is the pair
# (mask m, θ0): the same surviving weights with a *new* random initialization do worse.
#
# They find tickets by **iterative magnitude pruning (IMP) with rewinding**:
#
#     θ0 = a random initialization;  m = all ones
#     repeat:
#         1. set the weights to m ⊙ θ0                (rewind: reset the survivors to θ0)
#         2. train, keeping pruned weights at zero
#         3. prune p% of the surviving weights with the smallest |w|, layer by layer
#
# After k rounds a layer keeps (1 − p)^k of its weights.  Frankle & Carbin prune 20% of
# each fully connected layer per round (the output layer half of that) and find tickets
# of LeNet-300-100 down to a few percent of the weights that match or beat the dense
# network.
#
# **Quaternion tickets** (Iqbal & Mishra, "Neural Networks at a Fraction with Pruned
# Quaternions", 2023) ask the same question of the quaternion LeNet from lesson 3.  That
# network starts with only 67,300 of the real one's 266,200 weights (25.3%), so on their
# x-axis "weights remaining" is measured **relative to the real model**: the dense
# quaternion network already sits at 25.3%, and pruning moves it further right.  Do
# quaternion tickets exist, and do they beat real tickets with the same number of
# weights?

# %% [markdown]
# ## 2. Data
#
# `datasets.mnist_splits()` returns the embedded MNIST as float32 features (784 pixels,
# standardized) and int64 labels: a 55,000-image training split, a fixed 5,000-image
# validation split carved out of the official training set, and the official 10,000-image
# test set.  To keep the lesson fast we train on the first few thousand training images
# and evaluate on (part of) the test set.

# %%
N_TRAIN = 3_000 if FAST else 10_000
N_TEST = 2_000 if FAST else 10_000
splits = datasets.mnist_splits()
x_train, y_train = splits.train[0][:N_TRAIN], splits.train[1][:N_TRAIN]
x_test, y_test = splits.test[0][:N_TEST], splits.test[1][:N_TEST]
print("train", x_train.shape, x_train.dtype, "labels", np.bincount(y_train))
print("test ", x_test.shape)
assert x_train.shape == (N_TRAIN, 784) and x_train.dtype == np.float32
assert y_train.dtype == np.int64 and set(np.unique(y_train)) == set(range(10))
assert abs(float(x_train.mean())) < 0.05 and abs(float(x_train.std()) - 1) < 0.05

# %% [markdown]
# ## 3. Masks by hand
#
# A **mask** is a 0/1 array with the shape of a weight: 1 keeps the weight, 0 prunes
# it.  `prune.Masks` holds one boolean mask per prunable layer (the weights of `Linear`
# and `QLinear`; biases are never pruned), keyed by the layer's name in the model —
# for a `Sequential`, its position.  `Masks.ones(model)` is the dense network.

# %%
hp.manual_seed(0)
model = lenet_300_100("real")
masks = prune.Masks.ones(model)
for name in masks:
    print(f"layer {name}: mask {masks[name].shape}, {masks[name].dtype}, "
          f"{masks[name].sum():,} of {masks[name].size:,} kept")
print(f"density Pm = {masks.density():.0%}")
assert list(masks) == ["0", "2", "4"]              # the 3 Linear layers; ReLUs have none
assert all(masks[name].all() for name in masks) and masks.density() == 1.0
assert sum(masks.total().values()) == 266_200      # weights only: no biases

# %% [markdown]
# **Magnitude pruning by hand.**  Prune 20% of the middle layer (`"2"`, 300 → 100,
# 30,000 weights): sort the |w| and drop the smallest ⌈0.2 · 30,000⌉ = 6,000.
# `argsort(..., kind="stable")` breaks ties by position, so the result is deterministic.

# %%
layer = model[2]
w = hp.to_numpy(layer.weight.data)
n_prune = math.ceil(0.2 * w.size)
order = np.argsort(np.abs(w), axis=None, kind="stable")   # flat indices, smallest |w| first
hand_mask = np.ones(w.shape, dtype=bool)
hand_mask.flat[order[:n_prune]] = False
print(f"pruned {n_prune:,} of {w.size:,}; largest pruned |w| = "
      f"{np.abs(w).flat[order[n_prune - 1]]:.5f}, smallest kept |w| = "
      f"{np.abs(w).flat[order[n_prune]]:.5f}")
assert (~hand_mask).sum() == 6_000
assert np.abs(w[~hand_mask]).max() <= np.abs(w[hand_mask]).min()

# %% [markdown]
# The same as a threshold: keep |w| above the 20% quantile.  `np.quantile` interpolates
# between the two sorted values around position 0.2·(n − 1), so "strictly above" keeps
# exactly the top 80% here (with ties or a rate that does not divide n evenly, the sort
# is the one that counts exactly; the library sorts).

# %%
threshold = np.quantile(np.abs(w), 0.2)
quantile_mask = np.abs(w) > threshold
print(f"20% quantile of |w|: {threshold:.5f}; keeps {quantile_mask.sum():,}")
assert np.array_equal(quantile_mask, hand_mask)

# %% [markdown]
# The library: `prune.prune(model, masks, "layerwise", rates=...)` takes one rate per
# layer (a fraction of that layer's *remaining* weights) and returns new masks.  Rate 0
# for the other two layers leaves them alone.

# %%
lib_masks = prune.prune(model, masks, "layerwise", rates={"0": 0.0, "2": 0.2, "4": 0.0})
print("remaining per layer:", dict(lib_masks.remaining()))
print(f"density: {lib_masks.density():.4f}  (1 - 6000 / 266200 = {1 - 6000 / 266200:.4f})")
assert np.array_equal(lib_masks["2"], hand_mask)
assert lib_masks["0"].all() and lib_masks["4"].all()
assert masks["2"].all()                            # prune() returns new masks

# %% [markdown]
# **Applying a mask** multiplies the weights in place: pruned weights become 0, the
# others are untouched.

# %%
before = w.copy()
print("zeros in layer 2 before:", int((w == 0).sum()))
lib_masks.apply(model)
after = hp.to_numpy(layer.weight.data)
print("zeros in layer 2 after: ", int((after == 0).sum()))
assert (after[~hand_mask] == 0).all() and int((after == 0).sum()) == 6_000
assert np.array_equal(after[hand_mask], before[hand_mask])

# %% [markdown]
# **Keeping them at zero while training** is less obvious than it looks.  We take a few
# Adam steps on one batch in three ways and count the pruned weights that moved:
#
# * (a) mask once, then train normally: the pruned weights get gradients and come back
#   to life at the first step;
# * (b) mask the gradients (`apply_to_grads`), but keep an optimizer that already
#   trained the dense network: Adam's moving average m of the gradient *remembers* the
#   weight's past gradients, so a weight with zero gradient still moves (SGD's momentum
#   buffer does the same);
# * (c) `hyperprune.train.train_step`: mask the gradients before `optimizer.step()`
#   **and** re-apply the mask to the weights after it.  Pruned weights stay exactly 0,
#   whatever state the optimizer is in.

# %%
xb, yb = x_train[:60], y_train[:60]
theta = model.state_dict()                   # copies: our reference point for each case
pruned = ~lib_masks["2"]


def moved(model):
    """How many pruned weights of layer 2 are not exactly zero."""
    return int((hp.to_numpy(model[2].weight.data)[pruned] != 0).sum())


def step_without_remask(model, opt, masks):
    """train_step minus its last line: gradients masked, weights not re-masked."""
    loss = F.cross_entropy(model(hp.tensor(xb)), hp.tensor(yb))
    opt.zero_grad()
    loss.backward()
    masks.apply_to_grads(model)
    opt.step()


# (a) mask once, then plain steps
model.load_state_dict(theta)
opt = optim.Adam(model.parameters(), lr=1.2e-3)
for _ in range(3):
    train_step(model, opt, None, xb, yb)              # masks=None: no masking at all
moved_a = moved(model)

# (b) an optimizer with a history, gradients masked only
model.load_state_dict(theta)
model[2].weight.data[...] = before                    # dense again
opt = optim.Adam(model.parameters(), lr=1.2e-3)
for _ in range(3):
    train_step(model, opt, None, xb, yb)              # dense training: Adam's m, v fill up
model.load_state_dict(theta)                          # now prune (θ with the mask applied)
m_pruned = hp.to_numpy(opt.state[id(model[2].weight)]["exp_avg"])[pruned]
for _ in range(3):
    step_without_remask(model, opt, lib_masks)
moved_b = moved(model)

# (c) the same optimizer with its history, through train_step
model.load_state_dict(theta)
for _ in range(3):
    train_step(model, opt, lib_masks, xb, yb)
moved_c = moved(model)

print(f"(a) mask once:                 {moved_a:5,} of {pruned.sum():,} pruned moved")
print(f"(b) masked grads, old Adam:    {moved_b:5,} moved (|m| of pruned weights up to "
      f"{np.abs(m_pruned).max():.1e})")
print(f"(c) train_step (re-masking):   {moved_c:5,} moved")
assert moved_a > 0.9 * pruned.sum()
assert np.abs(m_pruned).max() > 0 and moved_b > 0.5 * pruned.sum()
assert moved_c == 0

# %% [markdown]
# In IMP proper, masking the gradients alone would in fact suffice, because each level
# starts with a **fresh** optimizer: Adam's m and v of a pruned weight start at 0 and
# stay 0 (its gradient is always masked), so its update m̂ / (√v̂ + ε) is 0 / ε = 0
# exactly.  Weight decay cannot revive an exact zero either: L2 decay adds wd·w = 0 to
# the gradient, AdamW multiplies the weight by (1 − lr·wd).  The cell below checks that.
# But the argument depends on the optimizer's state and update rule — carry the state
# over, as in (b), or prune a weight that is not exactly zero yet, and it fails.
# Re-masking after every step makes "exactly zero" hold for any optimizer, which is why
# `train_step` does both.  (A zero may come out as −0.0; it == 0 and counts as zero.)

# %%
model.load_state_dict(theta)
opt = optim.Adam(model.parameters(), lr=1.2e-3, weight_decay=1e-2)   # fresh, with decay
for _ in range(3):
    step_without_remask(model, opt, lib_masks)
print("fresh Adam + weight decay, masked gradients only:", moved(model), "moved")
assert moved(model) == 0

# %% [markdown]
# ## 4. Iterative magnitude pruning, written out
#
# Now the whole algorithm of section 1 on the real LeNet-300-100.  To reach small
# networks in a few rounds we prune **50%** of each hidden layer per round and **25%** of
# the output layer (Frankle & Carbin's 20% / 10% needs 10 rounds to reach 11%; gentler
# steps find somewhat better tickets, at more rounds of training).  `layerwise_rates`
# makes that dictionary of rates.
#
# Each level: reset to θ0, apply the mask, a **fresh Adam**, train `ITERATIONS` steps
# with `train_step`, evaluate with `evaluate` (loss and accuracy without building a
# graph), then prune.  `model.state_dict()` returns *copies*, so θ0 saved before training
# does not change when Adam updates the weights in place.  We evaluate once, at the end
# of training (the runner of section 7 also records the early-stop point).

# %%
SEED = 0
ITERATIONS = 300 if FAST else 1_000
ROUNDS = 4 if FAST else 6                   # pruning rounds: levels 0..ROUNDS are trained
REAL_TOTAL = 266_200                        # the real LeNet's prunable weights: the x-axis
BATCH = 60


def train_and_evaluate(model, masks, seed=SEED):
    """Fresh Adam, ITERATIONS masked steps on the training subset; test accuracy."""
    opt = optim.Adam(model.parameters(), lr=1.2e-3)
    stream = datasets.iterate_batches(x_train, y_train, BATCH, seed=seed)
    for _ in range(ITERATIONS):
        train_step(model, opt, masks, *next(stream))
    return evaluate(model, x_test, y_test)[1]


hp.manual_seed(SEED)
model = lenet_300_100("real")
theta0 = model.state_dict()                 # θ0: copies of the initial weights
masks = prune.Masks.ones(model)
rates = prune.layerwise_rates(model, rate=0.5, output_rate=0.25)
print("rates per round:", dict(rates))

ticket = []                                 # one row per level
start = time.perf_counter()
for level in range(ROUNDS + 1):
    model.load_state_dict(theta0)           # 1. rewind ...
    masks.apply(model)                      #    ... the survivors to θ0
    w0 = hp.to_numpy(model[0].weight.data)
    assert np.array_equal(w0, theta0["0.weight"] * masks["0"])   # exactly m ⊙ θ0
    accuracy = train_and_evaluate(model, masks)           # 2. train (fresh Adam inside)
    report = prune.sparsity_report(masks, REAL_TOTAL)
    ticket.append(dict(level=level, masks=masks, remaining=report["weights_remaining"],
                       pm=report["pm_of_real"], accuracy=accuracy))
    print(f"level {level}: {report['weights_remaining']:7,} weights "
          f"({report['pm_of_real']:7.2%})  test accuracy {accuracy:.4f}")
    new_masks = prune.prune(model, masks, "layerwise", rates)   # 3. prune, by trained |w|
    assert all((new_masks[n] <= masks[n]).all() for n in masks)  # pruned stays pruned
    masks = new_masks
print(f"[{time.perf_counter() - start:.1f} s]")
# the weights were trained in place, but θ0 is untouched: the same seed draws it again
assert not np.array_equal(model.state_dict()["0.weight"], theta0["0.weight"])
hp.manual_seed(SEED)
redrawn = lenet_300_100("real").state_dict()
assert all(np.array_equal(redrawn[k], theta0[k]) for k in theta0)

# %% [markdown]
# The density after k rounds is about 0.5^k (the output layer loses only 25% per round
# and is 0.4% of the weights).  Check it, and check the claim of this section: the
# ticket at about 12% of the weights is still a good classifier — far above the 10% of
# chance, and within a few points of the dense network.

# %%
for row in ticket:
    print(f"level {row['level']}: Pm {row['pm']:.4f}  vs 0.5^k = {0.5 ** row['level']:.4f}")
    assert abs(row["pm"] - 0.5 ** row["level"]) < 0.01 * 0.5 ** row["level"] + 1e-3
dense = ticket[0]["accuracy"]
t12 = min(ticket, key=lambda row: abs(row["pm"] - 0.125))
MIN_ACCURACY = 0.85 if FAST else 0.92
print(f"dense: {dense:.4f};  ticket at {t12['pm']:.1%}: {t12['accuracy']:.4f}")
assert t12["accuracy"] > MIN_ACCURACY
assert t12["accuracy"] > dense - 0.03

# %% [markdown]
# ## 5. The control: the same mask, a new initialization
#
# Is the ticket special because of *which* weights survive (the mask), or because of
# *where they start* (θ0)?  Frankle & Carbin's control keeps the mask and draws a new
# random initialization.  We retrain every pruned level's mask from a model initialized
# with another seed, on exactly the same batches.

# %%
REINIT_SEED = 1_000
start = time.perf_counter()
print(f"{'weights':>9} {'ticket':>8} {'reinit':>8} {'gap':>7}")
for row in ticket[1:]:
    hp.manual_seed(REINIT_SEED + row["level"])
    fresh = lenet_300_100("real")            # new θ0', same architecture
    row["masks"].apply(fresh)
    row["reinit"] = train_and_evaluate(fresh, row["masks"])
    print(f"{row['pm']:9.2%} {row['accuracy']:8.4f} {row['reinit']:8.4f} "
          f"{row['accuracy'] - row['reinit']:+7.4f}")
print(f"[{time.perf_counter() - start:.1f} s]")
gaps = [row["accuracy"] - row["reinit"] for row in ticket[1:]]
assert all(row["reinit"] > 0.5 for row in ticket[1:])       # both train
assert ticket[-1]["accuracy"] > ticket[-1]["reinit"] - 0.01  # the sparsest: no worse
assert np.mean(gaps) > 0                                      # and on average it is better

# %% [markdown]
# In our runs (a dozen seeds at the FAST budget, three at the full one) the ticket beat
# its reinitialization at every level: by up to 2 points at 50%, by about 2–3 points
# around 12% and by 2–4 points below 7%.  The gap grows as the network gets sparser, as in the paper.
# But this is a small budget — a few hundred iterations on a few thousand images — and
# single runs are noisy, so the lesson only asserts what held with a wide margin: the
# sparsest ticket is not worse than its reinitialization by more than a point, and it is
# better on average over the levels.  Frankle & Carbin
# report the gap after 50,000 iterations on all 55,000 images, with 5 replicates; the
# runner of section 7 does that too (`--control reinit`).
#
# The other control, `prune.prune(..., method="random")`, removes the same number of
# weights per layer at random positions (`--control random_pruning` in the runner).

# %% [markdown]
# ## 6. Quaternion tickets
#
# The same loop on the quaternion LeNet of lesson 3.  Its hidden layers are `QLinear`,
# with weights of shape (4, out/4, in/4); a mask has the same shape, and by default each
# of the 4 real components is pruned on its own (`granularity="component"`, what both
# quaternion papers do).  `prune.sparsity_report(masks, reference_total=266200)` gives the
# fraction of the **real** model's weights, the x-axis of Iqbal & Mishra.

# %%
Q_ROUNDS = 2                        # two pruning rounds: levels 0, 1, 2 are trained
hp.manual_seed(SEED)
qmodel = lenet_300_100("quaternion")
qtheta0 = qmodel.state_dict()
qmasks = prune.Masks.ones(qmodel)
for name in qmasks:
    print(f"layer {name}: mask {qmasks[name].shape}")
report = prune.sparsity_report(qmasks, reference_total=REAL_TOTAL)
print(report)
assert report["weights_total"] == 67_300 and abs(report["pm_of_real"] - 0.2528) < 1e-4

qrates = prune.layerwise_rates(qmodel, rate=0.5, output_rate=0.25)
quaternion = []
start = time.perf_counter()
for level in range(Q_ROUNDS + 1):
    qmodel.load_state_dict(qtheta0)
    qmasks.apply(qmodel)
    accuracy = train_and_evaluate(qmodel, qmasks)
    report = prune.sparsity_report(qmasks, REAL_TOTAL)
    quaternion.append(dict(level=level, remaining=report["weights_remaining"],
                           pm_own=report["pm"], pm=report["pm_of_real"], accuracy=accuracy))
    print(f"level {level}: {report['weights_remaining']:6,} weights ({report['pm']:6.1%} "
          f"of its own, {report['pm_of_real']:6.2%} of the real model)  "
          f"accuracy {accuracy:.4f}")
    qmasks = prune.prune(qmodel, qmasks, "layerwise", qrates)
print(f"[{time.perf_counter() - start:.1f} s]")

# %% [markdown]
# Compare with the real tickets at about the same number of weights (the real level
# whose x is closest).  Four times fewer parameters per layer, the same widths:

# %%
for q in quaternion:
    r = min(ticket, key=lambda row: abs(math.log(row["pm"] / q["pm"])))
    print(f"quaternion {q['pm']:6.2%}: {q['accuracy']:.4f}    real {r['pm']:6.2%}: "
          f"{r['accuracy']:.4f}")
    assert q["accuracy"] > MIN_ACCURACY
assert quaternion[-1]["pm"] < 0.07             # 25% -> 12.7% -> 6.4% of the real model

# %% [markdown]
# At this budget the quaternion tickets are within about two points of the real tickets
# with the same number of weights (in our runs: within a point, in either order, at the
# FAST budget; 0.5–2 points below at the full one, closest at the sparsest level), so
# nothing is asserted about who wins.  Iqbal & Mishra find that *for
# some architectures, at very high sparsity*, the quaternion models are the more
# accurate ones — a claim about full-length training much further to the right than
# this lesson goes; check it with the runner of section 7.
#
# **Whole quaternions.**  Per-component pruning leaves quaternion weights with some of
# their 4 components zeroed.  `granularity="quaternion"` scores each quaternion by |q|
# and keeps or prunes all 4 components together, so every surviving weight is a full
# quaternion:

# %%
whole = prune.prune(qmodel, prune.Masks.ones(qmodel), "layerwise", qrates,
                    granularity="quaternion")
component = prune.prune(qmodel, prune.Masks.ones(qmodel), "layerwise", qrates)
for name in ("0", "2"):                                          # the QLinear layers
    m_whole, m_comp = whole[name], component[name]
    partial = lambda m: int((m.any(axis=0) & ~m.all(axis=0)).sum())  # noqa: E731
    print(f"layer {name}: partly pruned quaternions: whole {partial(m_whole)}, "
          f"component {partial(m_comp):,};  kept {m_whole.mean():.0%} / "
          f"{m_comp.mean():.0%}")
    assert partial(m_whole) == 0 and partial(m_comp) > 0
    assert abs(m_whole.mean() - 0.5) < 0.01 and abs(m_comp.mean() - 0.5) < 0.01

# %% [markdown]
# ## 7. The real runner: `LotteryRun`
#
# `hyperprune.lottery.LotteryRun` is the loop of section 4 made into a tool: it holds
# out a validation split and evaluates every `eval_every` iterations (to record the
# **early-stop iteration**, the minimum validation loss, which Frankle & Carbin use to
# measure how fast a ticket learns), checkpoints mid-level, writes every result to a
# directory, and can run the controls.  Every setting is a field of `LotteryConfig`; here
# a tiny one, in a temporary directory.  `levels` counts pruning rounds, as ROUNDS above
# (and `--levels` on the command line): levels=2 trains levels 0, 1 and 2.

# %%
config = LotteryConfig(algebra="real", levels=2, iterations=150 if FAST else 600,
                       eval_every=50, train_subset=2_000 if FAST else 5_000,
                       validation=1_000, rate=0.5, output_rate=0.25, seed=SEED)
run_dir = Path(tempfile.mkdtemp(prefix="hyperprune_lesson04_"))
start = time.perf_counter()
summaries = LotteryRun(config, run_dir, quiet=True).run()
print(f"[{time.perf_counter() - start:.1f} s]")

files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
print("\n".join(files))
for expected in ("config.json", "init.npz", "metrics.csv", "metrics.json", "curves.csv",
                 "masks/level_00.npz", "masks/level_02.npz", "levels/level_02.json"):
    assert expected in files, expected
assert "checkpoint.npz" not in files                 # removed when a level finishes
assert len(summaries) == config.levels + 1

# %% [markdown]
# * `config.json`: every setting, and the command that regenerates the run;
# * `init.npz`: θ0, so every level starts from the same weights;
# * `masks/level_KK.npz`: the mask trained at level KK (there is one more than the
#   levels trained: the mask of the next level, so the run can be extended);
# * `levels/level_KK.json`: that level's evaluation curve and summary — it marks the
#   level as done;
# * `metrics.csv` / `metrics.json` / `curves.csv`: all finished levels, for tables and
#   plots.

# %%
print((run_dir / "metrics.csv").read_text().splitlines()[0])
for s in summaries:
    print(f"level {s['level']}: Pm {s['pm']:.3f}, early stop at "
          f"{s['early_stop_iteration']}, "
          f"test accuracy there {s['early_stop_test_acc']:.4f}, at the end "
          f"{s['final_test_acc']:.4f}")
    assert s["early_stop_iteration"] % config.eval_every == 0 or \
        s["early_stop_iteration"] == config.iterations
    assert s["final_test_acc"] > 0.8
saved = prune.Masks.load(run_dir / "masks" / "level_02.npz")
assert abs(saved.density() - summaries[2]["pm"]) < 1e-12

# %% [markdown]
# At this budget the validation loss is usually still falling when training stops, so
# the early-stop iteration is often simply the last one; with 50,000 iterations per
# level it is where tickets differ most (sparser tickets reach it sooner, down to a
# point).
#
# **Rerunning resumes.**  Running the same configuration on the same directory skips
# the finished levels (here: all of them, so nothing is trained); a run killed mid-level
# continues from its last checkpoint with bitwise the same numbers.  `levels` may grow
# between invocations — the run then trains only the new levels:

# %%
start = time.perf_counter()
again = LotteryRun(config, run_dir, quiet=True).run()
seconds_again = time.perf_counter() - start
print(f"rerun: {seconds_again:.1f} s, nothing trained")
assert again == summaries

longer = dataclasses.replace(config, levels=3)
extended = LotteryRun(longer, run_dir, quiet=True).run()
assert extended[:3] == summaries and len(extended) == 4

# %% [markdown]
# `hyperprune.plots.lottery_figure` draws Frankle & Carbin's figure from run
# directories: test accuracy at early stop and at the end, and the early-stop iteration,
# against the weights remaining (% of the real model, log scale).  Replicates with the
# same settings are averaged, with their range as a band.

# %%
figure = lottery_figure([run_dir], OUTPUT / "04_lottery.png",
                        title="a tiny LotteryRun (lesson 4)")
print("figure:", figure)
assert figure.exists() and figure.stat().st_size > 0
shutil.rmtree(run_dir)

# %% [markdown]
# The full-scale runs are the same runner from the command line, for example
#
#     hyperprune lottery --preset frankle --algebra real --levels 18 --run-dir runs/real
#     hyperprune lottery --preset frankle --algebra quaternion --levels 14 \
#         --run-dir runs/quaternion
#     hyperprune lottery --preset frankle --algebra real --levels 18 --control reinit \
#         --masks-from runs/real --run-dir runs/real_reinit
#     hyperprune plot runs -o lottery.png
#
# (`--preset frankle`: layer-wise 20% / 10%, Adam 1.2e-3, batch 60, 50,000 iterations
# per level; `--preset iqbal_mishra`: global 20%).  `results/lenet_300_100/reproduce.sh`
# runs the whole set, real and quaternion, with the controls — a few hours on two cores —
# and interrupted, it picks up where it stopped.

# %% [markdown]
# ## 8. Our own curve
#
# The results of sections 4–6 on one plot, in the papers' format: accuracy against the
# weights remaining as a percentage of the real model, on a log scale decreasing to the
# right.

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
x_ticket = [100 * row["pm"] for row in ticket]
ax.plot(x_ticket, [100 * row["accuracy"] for row in ticket], marker="o",
        label="real: ticket (reset to θ0)")
ax.plot(x_ticket[1:], [100 * row["reinit"] for row in ticket[1:]], marker="s",
        linestyle="--", label="real: same mask, new init")
ax.plot([100 * q["pm"] for q in quaternion], [100 * q["accuracy"] for q in quaternion],
        marker="^", label="quaternion: ticket")
ax.set_xscale("log")
ax.invert_xaxis()
lowest = min(x_ticket + [100 * q["pm"] for q in quaternion])
ticks = [t for t in (100, 50, 25, 12.5, 6.25, 3.1, 1.6, 0.8) if t >= 0.9 * lowest]
ax.set_xticks(ticks)
ax.set_xticklabels([f"{t:g}" for t in ticks])
ax.set_xlabel("weights remaining (% of the real model)")
ax.set_ylabel("test accuracy (%)")
ax.set_title(f"IMP on LeNet-300-100: {N_TRAIN:,} images, {ITERATIONS} iterations per level",
             fontsize=10)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
curve_path = OUTPUT / "04_imp_curve.png"
fig.savefig(curve_path, dpi=100)
plt.close(fig)
print("figure:", curve_path)
assert curve_path.exists() and curve_path.stat().st_size > 0

# %% [markdown]
# ## Summary
#
# * A mask is a 0/1 array per prunable weight; magnitude pruning drops the smallest |w|
#   of the *surviving* weights (an argsort, or a quantile), layer by layer or globally.
# * Pruned weights stay exactly zero only if the gradients are masked before the
#   optimizer step and the weights after it: optimizers remember past gradients.
# * IMP: reset the survivors to θ0, train with a fresh optimizer, prune, repeat.  Even at
#   a tiny budget the tickets at ~12% of the weights are nearly as good as the dense
#   network, and better than the same masks from a new initialization.
# * Quaternion networks start at 25% of the real weights; measured against the real
#   model, their tickets come close to real tickets of the same size at this budget.
# * `LotteryRun` / `hyperprune lottery` is the same loop, resumable, with validation,
#   early stopping, controls and figures.

# %%
print(f"Lesson 4: all checks passed ({time.perf_counter() - LESSON_START:.1f} s).")
