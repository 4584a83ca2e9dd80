# %% [markdown]
# # Lesson 10: replacing a trained dense layer by a PHM layer, progressively
#
# Lesson 8 built PHM layers, H = Σ_i A_i ⊗ S_i, and trained them from scratch.  "Beyond
# Real Weights" starts instead from a *trained* dense network and swaps its layers for PHM
# layers without losing what was learned.  Four ideas make that work, and each is small
# enough to check by hand:
#
# 1. The best sum of n Kronecker products near a trained W: a rearrangement and an SVD.
# 2. Interpolation y = (1 − α) W x + α H x, and what its gradients say about α near 0.
# 3. Why the reconstruction loss is needed while α is small.
# 4. Distillation at temperature T, and why the loss is multiplied by T².
# 5. Reading the gpt_char experiment (results/distill).

# %%
import os
from pathlib import Path

import numpy as np

import hyperprune as hp
from hyperprune import functional as F
from hyperprune import nn, optim
from hyperprune.schedule import fade

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True, linewidth=100)
rng = np.random.default_rng(10)

# %% [markdown]
# ## 1. The nearest Kronecker sum: rearrange, then truncate an SVD
#
# Split W (out × in) into an n × n grid of blocks W[p, q], each (out/n × in/n).  A single
# Kronecker product A ⊗ S has blocks A[p, q]·S: every block is a multiple of the same
# matrix.  Van Loan and Pitsianis (1993) noticed that if each block is flattened into one
# row of a matrix R(W) (n² rows, one per block (p, q)), then
#
#     R(A ⊗ S) = vec(A) vec(S)^T          a rank-1 matrix, and
#     R(Σ_i A_i ⊗ S_i) = Σ_i vec(A_i) vec(S_i)^T   a rank-n matrix.
#
# R is linear and only moves entries, so ‖W − H‖ = ‖R(W) − R(H)‖: the nearest sum of n
# Kronecker products is the nearest rank-n matrix to R(W), which the truncated SVD gives
# (Eckart–Young).  The squared error is the sum of the discarded σ_j².

# %%
n, out_f, in_f = 2, 6, 4


def rearrange(w, n):
    """R(W) by loops: row p*n + q is block (p, q) of W, flattened."""
    bo, bi = w.shape[0] // n, w.shape[1] // n
    return np.stack([w[p * bo:(p + 1) * bo, q * bi:(q + 1) * bi].ravel()
                     for p in range(n) for q in range(n)])


A = rng.standard_normal((n, n, n))
S = rng.standard_normal((n, out_f // n, in_f // n))
H = sum(np.kron(A[i], S[i]) for i in range(n))
print("rank of R(H) for H a sum of", n, "Kronecker products:",
      np.linalg.matrix_rank(rearrange(H, n)))
assert np.linalg.matrix_rank(rearrange(np.kron(A[0], S[0]), n)) == 1
assert np.linalg.matrix_rank(rearrange(H, n)) == n

# a "trained" W: a Kronecker sum plus a little unstructured noise
W = H + 0.1 * rng.standard_normal(H.shape)
R = rearrange(W, n)
u, sigma, vt = np.linalg.svd(R, full_matrices=False)
A_hat = (u[:, :n].T).reshape(n, n, n)                    # vec(A_i) = u_i
S_hat = (sigma[:n, None] * vt[:n]).reshape(n, out_f // n, in_f // n)
H_hat = sum(np.kron(A_hat[i], S_hat[i]) for i in range(n))
error = np.linalg.norm(W - H_hat) / np.linalg.norm(W)
print("singular values of R(W):", sigma)
print(f"relative error of the rank-{n} truncation: {error:.4f} = "
      f"sqrt(sum of the discarded sigma^2) / ||W|| = "
      f"{np.sqrt((sigma[n:] ** 2).sum()) / np.linalg.norm(W):.4f}")
assert np.isclose(error, np.sqrt((sigma[n:] ** 2).sum() / (sigma ** 2).sum()))

# the library's projection (nn.init.phm_projection) finds the same operator
A_lib, S_lib, error_lib = nn.init.phm_projection(W, n)
H_lib = sum(np.kron(A_lib[i], S_lib[i]) for i in range(n))
assert np.allclose(H_lib, H_hat) and np.isclose(error_lib, error)
print("nn.init.phm_projection: same H, same error", round(error_lib, 4))

# %% [markdown]
# How good is "good"?  For a matrix with no Kronecker structure at all (i.i.d. Gaussian)
# the n² rows of R(W) are independent random vectors of the same length, so its energy is
# spread about evenly over n² singular values.  Keeping n of them keeps a fraction 1/n of
# the energy: the relative error is near √(1 − 1/n).  "About evenly" holds when each
# row is much longer than there are rows (out·in/n² ≫ n²); otherwise the singular values
# of a finite random matrix spread out (Marchenko–Pastur), the top n hold a little more
# than their share, and the error is a little below √(1 − 1/n) -- visible at n = 8 below.
# A trained weight is worth projecting only if it beats that baseline; results/distill
# reports both for gpt_char's MLP matrices (128 × 512, the size used here).

# %%
for n_ in (2, 4, 8):
    errors = [nn.init.phm_projection(rng.standard_normal((128, 512)), n_)[2] for _ in range(3)]
    rows, length = n_ * n_, 128 * 512 // n_ ** 2
    print(f"n = {n_}: R(W) is {rows} x {length}: Gaussian error {np.mean(errors):.3f}, "
          f"sqrt(1 - 1/n) = {np.sqrt(1 - 1 / n_):.3f}")
    assert np.mean(errors) < np.sqrt(1 - 1 / n_)                 # the spread only helps
    assert np.sqrt(1 - 1 / n_) - np.mean(errors) < 0.05

# %% [markdown]
# ## 2. Interpolation and its gradients
#
# `nn.ProgressivePHM(dense, n)` keeps the trained layer (frozen) and a PHM branch that
# starts at the projection above:
#
#     y = (1 − α) W x + α H x             (biases interpolated the same way)
#
# α = 0 is exactly the dense layer and α = 1 exactly the PHM layer: the branch with weight
# 0 is not even computed.  By the chain rule, with ḡ = dL/dy,
#
#     dL/dx = ((1 − α) W + α H)^T ḡ       dL/dS_i, dL/dA_i = α × (their PHM-only gradient)
#
# so the PHM parameters receive α times the gradient they would get if the PHM layer were
# alone.  Checked below with a fixed cotangent c (the loss sum(y ⊙ c)).

# %%
hp.manual_seed(0)
dense = nn.Linear(8, 6)
layer = nn.ProgressivePHM(dense, n=2)
x = hp.tensor(rng.standard_normal((5, 8)).astype(np.float32))
c = rng.standard_normal((5, 6)).astype(np.float32)

layer.alpha = 0.0
assert np.array_equal(layer(x).data, dense(x).data)
layer.alpha = 1.0
assert np.array_equal(layer(x).data, layer.phm(x).data)


def phm_gradient(alpha):
    layer.alpha = alpha
    layer.phm.zero_grad()
    (layer(x) * hp.tensor(c)).sum().backward()
    return layer.phm.weight.grad.copy()


alone = phm_gradient(1.0)
for alpha in (0.5, 0.1, 0.01):
    g = phm_gradient(alpha)
    print(f"alpha = {alpha:<4}: |dL/dS| = {np.abs(g).max():.5f} = alpha x "
          f"{np.abs(alone).max():.5f}")
    assert np.allclose(g, alpha * alone, rtol=1e-5, atol=1e-7)

# %% [markdown]
# ## 3. Why the reconstruction loss
#
# Early in the fade α is near 0: the network's output is almost the dense one, the task
# loss barely depends on the PHM branch, and (section 2) its parameters get α times an
# already small gradient.  Yet this is exactly the time the branch must learn, because
# once α is large its error is the network's error.  The reconstruction loss
#
#     L_recon = E_x ‖H x − W x‖²   (on the inputs the layer actually sees)
#
# gives the branch a full-strength signal at any α: "compute what the dense layer
# computes".  Here a PHM branch starts from random (not from the projection) inside a
# layer held at α = 0.05, and is trained for the same steps with the task loss (match a
# target that the dense layer already fits) with and without L_recon.

# %%
steps = 60 if FAST else 300
xs = rng.standard_normal((256, 8)).astype(np.float32)


def train_branch(recon_weight):
    hp.manual_seed(1)
    teacher = nn.Linear(8, 6)
    target = teacher(hp.tensor(xs)).data                       # the task: the dense map
    layer = nn.ProgressivePHM(teacher, n=2, init="random")
    layer.alpha = 0.05
    batches = np.random.default_rng(2)                         # the same batches for both
    opt = optim.SGD(layer.parameters(), lr=0.05)
    for step in range(steps):
        batch = hp.tensor(xs[batches.integers(0, len(xs), 32)])
        loss = F.mse_loss(layer(batch), hp.tensor(teacher(batch).data))
        if recon_weight:
            loss = loss + layer.reconstruction_loss() * recon_weight
        opt.zero_grad()
        loss.backward()
        opt.step()
    layer.alpha = 1.0                                          # the PHM branch alone
    return float(((layer(hp.tensor(xs)).data - target) ** 2).mean())


without, with_recon = train_branch(0.0), train_branch(1.0)
print(f"PHM branch alone after {steps} steps at alpha = 0.05: mean squared error "
      f"{without:.4f} with the task loss only, {with_recon:.4f} with L_recon")
assert with_recon < without

# %% [markdown]
# Here the task loss is α² ‖H x − W x‖² (up to the mean's constant): the same function as
# L_recon, scaled by α² = 0.0025, so plain SGD on it barely moves the branch.  (Adam would
# hide this: it divides each step by the gradient's own size, and on this toy task the two
# losses would then give the same steps.  In a real network the task loss's gradient at
# small α is not only small but also noisy, and L_recon is what points the branch at W.)
# The α schedule itself is `hyperprune.schedule.fade`: linear, or cosine, which starts
# and ends slowly.

# %%
for kind in ("linear", "cosine"):
    print(kind, [round(fade(i, 100, kind), 3) for i in (0, 10, 25, 50, 75, 90, 100, 150)])

# %% [markdown]
# ## 4. Distillation at temperature T, and the T² factor
#
# The teacher's logits t carry more than its top class: how much more likely "e" is than
# "q" after "th".  Softening both distributions with a temperature T, p = softmax(t / T),
# exposes those small probabilities, and the student matches them:
#
#     L_KD = T² · KL(softmax(t/T) ‖ softmax(s/T))
#
# Its gradient with respect to the student's logits is T² · (1/T)(q − p) = T (q − p),
# q = softmax(s/T).  For large T, q − p ≈ (s − t − mean(s − t)) / (V T), so the gradient
# tends to (s − t − mean)/V, *independent of T*: the T² keeps the distillation term's
# weight relative to the task loss fixed as T changes (Hinton et al. 2015).  Without it
# the gradient would shrink as 1/T².

# %%
V = 10
s = rng.standard_normal((4, V)) * 2
t = rng.standard_normal((4, V)) * 2


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


for T in (1.0, 4.0, 16.0, 64.0):
    p, q = softmax(t / T), softmax(s / T)
    by_hand = T * T * (p * (np.log(p) - np.log(q))).sum(axis=-1).mean()
    student = hp.tensor(s, requires_grad=True)
    loss = F.kd_loss(student, hp.tensor(t), T)
    loss.backward()
    assert np.isclose(loss.item(), by_hand)
    assert np.allclose(student.grad, T * (q - p) / len(s))     # rows are averaged
    print(f"T = {T:4.0f}: L_KD = {loss.item():8.4f}, |grad| = "
          f"{np.linalg.norm(student.grad):.4f}   (without T^2: "
          f"{np.linalg.norm(student.grad) / T ** 2:.6f})")
limit = (s - t - (s - t).mean(axis=-1, keepdims=True)) / V / len(s)
gaps = []
for T in (16.0, 64.0, 256.0):
    student = hp.tensor(s, requires_grad=True)
    F.kd_loss(student, hp.tensor(t), T).backward()
    gaps.append(np.abs(student.grad - limit).max())
    print(f"T = {T:4.0f}: largest gap to the T-free limit (s - t - mean) / V: {gaps[-1]:.1e}")
assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01 * np.abs(limit).max()   # ~ 1/T
print("softened teacher, T = 1:", softmax(t[:1])[0].round(3))
print("softened teacher, T = 4:", softmax(t[:1] / 4)[0].round(3))

# %% [markdown]
# ## 5. The recipe, and the experiment
#
# `hyperprune distill --teacher RUN_DIR` puts the pieces together for a trained model:
# every MLP matrix becomes a ProgressivePHM at its projection; stage A fades α from 0 to 1
# with task loss + KD + L_recon; stage B drops the dense branches (the student is now
# PHM-only, and smaller) and fine-tunes.  `--method abrupt` starts at α = 1 (projection +
# KD), `--method scratch` trains the same PHM student from random; `--capacity fisher`
# gives the layers with the largest Fisher trace a smaller n (more parameters) under the
# same budget.  results/distill runs it on the real gpt_char; its table is printed here
# when this checkout has it.

# %%
table = Path(__file__).resolve().parent.parent / "results" / "distill" / "distill.md"
if table.exists():
    text = table.read_text()
    print(text[:text.find("## Along the fade")].strip())
else:
    print("results/distill/distill.md is not in this checkout: "
          "bash results/distill/reproduce.sh makes it")
