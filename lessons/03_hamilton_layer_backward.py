# %% [markdown]
# # Lesson 3: the quaternion layer and its backward pass, by hand
#
# Lesson 1 showed that a quaternion layer is a real layer whose weight matrix is built
# from 4 smaller matrices with a fixed sign pattern; lesson 2 built an autograd engine.
# Here we derive the backward pass of the quaternion layer ourselves — every formula
# written out, every one checked against numerical differences — then fuse it into the
# two matrix products that `hyperprune` actually runs, and check the library against it.
#
# The method is the one for any new layer: chunk the forward into small named steps,
# write the gradient `d<name>` of each, compare each with a numerical estimate in a table,
# and only then fuse the steps into fast code (and compare again).

# %%
import os
import time

import numpy as np

import hyperprune as hp
from hyperprune import functional as F
from hyperprune import nn
from hyperprune.algebra import QUATERNION, to_components
from hyperprune.functional import hamilton_linear

from lesson_tools import cmp, numerical_gradients  # lessons/lesson_tools.py

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Recap: y = W ⊗ x on the planar layout
#
# A quaternion layer with `in_q` quaternion inputs and `out_q` quaternion outputs has an
# (out_q × in_q) matrix of quaternion weights, stored as its four real component matrices
# R, I, J, K (each out_q × in_q): weight shape (4, out_q, in_q).  Features are **planar**:
# a row of 4·in_q reals holds all real parts first, then all i parts, then j, then k,
#
#     x = [x_r | x_i | x_j | x_k],      each block of width in_q.
#
# Multiplying out W ⊗ x with the quaternion table (lesson 1) and collecting by component,
# y = M x for the real (4·out_q × 4·in_q) block matrix
#
#     M = [[R, −I, −J, −K],
#          [I,  R, −K,  J],
#          [J,  K,  R, −I],
#          [K, −J,  I,  R]]
#
# 16 blocks made of only 4 matrices: a quarter of the weights of a real layer of the same
# size.  With a batch of rows (one sample per row) the layer is Y = X Mᵀ.

# %%
ROWS, IN_Q, OUT_Q = 5, 3, 2                    # small, so numerical checks are cheap
X = rng.standard_normal((ROWS, 4 * IN_Q))      # float64 throughout this lesson
W = rng.standard_normal((4, OUT_Q, IN_Q))      # components r, i, j, k
R, I, J, K = W
M = np.block([[R, -I, -J, -K],
              [I, R, -K, J],
              [J, K, R, -I],
              [K, -J, I, R]])
print("M:", M.shape, f"built from {W.size} numbers ({M.size} entries)")
assert M.shape == (4 * OUT_Q, 4 * IN_Q) and M.size == 4 * W.size
assert np.array_equal(M, QUATERNION.block_matrix(W))      # the library builds the same

# %% [markdown]
# ## 2. The forward pass in named pieces
#
# Row c of M gives output block c.  With rows as samples, "M x" becomes "x Mᵀ", so each
# block product W_a x_b turns into x_b W_aᵀ:
#
#     y_r = x_r Rᵀ − x_i Iᵀ − x_j Jᵀ − x_k Kᵀ
#     y_i = x_r Iᵀ + x_i Rᵀ − x_j Kᵀ + x_k Jᵀ
#     y_j = x_r Jᵀ + x_i Kᵀ + x_j Rᵀ − x_k Iᵀ
#     y_k = x_r Kᵀ − x_i Jᵀ + x_j Iᵀ + x_k Rᵀ
#
# To have something to differentiate, take the loss L = Σ G ⊙ Y for a fixed random G.
# Then dL/dY = G exactly: G plays the role of "whatever gradient arrives from above" (the
# random cotangent of lesson 2).

# %%
G = rng.standard_normal((ROWS, 4 * OUT_Q))


def layer_loss(X, R, I, J, K):
    """L = sum(G * Y), the forward pass written block by block."""
    x_r, x_i, x_j, x_k = np.split(X, 4, axis=1)
    y_r = x_r @ R.T - x_i @ I.T - x_j @ J.T - x_k @ K.T
    y_i = x_r @ I.T + x_i @ R.T - x_j @ K.T + x_k @ J.T
    y_j = x_r @ J.T + x_i @ K.T + x_j @ R.T - x_k @ I.T
    y_k = x_r @ K.T - x_i @ J.T + x_j @ I.T + x_k @ R.T
    Y = np.concatenate([y_r, y_i, y_j, y_k], axis=1)
    return (G * Y).sum(), Y


L, Y = layer_loss(X, R, I, J, K)
print(f"L = {L:.6f}")
assert np.allclose(Y, X @ M.T)                       # the blocks are the block matrix

# the pieces, named once more at top level for the backward pass below
x_r, x_i, x_j, x_k = np.split(X, 4, axis=1)
dY = G                                               # dL/dY for L = sum(G * Y)
dy_r, dy_i, dy_j, dy_k = np.split(dY, 4, axis=1)

# %% [markdown]
# ## 3. The backward pass, by hand
#
# Every one of the 16 terms above has the form  y_c ⊇ s · x_b W_aᵀ  with a sign s = ±1.
# For a single product P = A Bᵀ, with upstream gradient dP, the gradients are
# dA = dP B and dB = dPᵀ A (lesson 2's MatMul rule, transposed).  So each term sends
#
#     s · dy_c W_a    to dx_b,          and        s · dy_cᵀ x_b    to dW_a,
#
# and because x_b and W_a each appear in 4 terms, their gradients are **sums** of 4
# terms (the `+=` of lesson 2).  Reading the table column by column for dx and by weight
# for dW:
#
#     dx_r =  dy_r R + dy_i I + dy_j J + dy_k K
#     dx_i = −dy_r I + dy_i R + dy_j K − dy_k J
#     dx_j = −dy_r J − dy_i K + dy_j R + dy_k I
#     dx_k = −dy_r K + dy_i J − dy_j I + dy_k R
#
#     dR =  dy_rᵀ x_r + dy_iᵀ x_i + dy_jᵀ x_j + dy_kᵀ x_k
#     dI = −dy_rᵀ x_i + dy_iᵀ x_r − dy_jᵀ x_k + dy_kᵀ x_j
#     dJ = −dy_rᵀ x_j + dy_iᵀ x_k + dy_jᵀ x_r − dy_kᵀ x_i
#     dK = −dy_rᵀ x_k − dy_iᵀ x_j + dy_jᵀ x_i + dy_kᵀ x_r
#
# The 16 products dy_cᵀ x_b in the weight gradients are the 16 (out_q × in_q) blocks of
# Gᵀ X; each weight component collects 4 of them, with signs.

# %%
dx_r = dy_r @ R + dy_i @ I + dy_j @ J + dy_k @ K
dx_i = -dy_r @ I + dy_i @ R + dy_j @ K - dy_k @ J
dx_j = -dy_r @ J - dy_i @ K + dy_j @ R + dy_k @ I
dx_k = -dy_r @ K + dy_i @ J - dy_j @ I + dy_k @ R

dR = dy_r.T @ x_r + dy_i.T @ x_i + dy_j.T @ x_j + dy_k.T @ x_k
dI = -dy_r.T @ x_i + dy_i.T @ x_r - dy_j.T @ x_k + dy_k.T @ x_j
dJ = -dy_r.T @ x_j + dy_i.T @ x_k + dy_j.T @ x_r - dy_k.T @ x_i
dK = -dy_r.T @ x_k - dy_i.T @ x_j + dy_j.T @ x_i + dy_k.T @ x_r

# %% [markdown]
# Now the referee: central differences in float64, one element at a time, on the
# block-by-block forward (`layer_loss`), for X and each of R, I, J, K.  For every entry
# a[j] of an array, with L() the loss as a function of the arrays it reads:
#
#     keep = a[j]
#     a[j] = keep + eps;   plus = L()        # nudge up
#     a[j] = keep - eps;   minus = L()       # nudge down
#     a[j] = keep                            # restore
#     grad[j] = (plus - minus) / (2 * eps)   # eps = 1e-6: a good step in float64 (lesson 2)
#
# Lessons 5 and 6 use the same referee, so the code is written once, in
# `lessons/lesson_tools.py`: `numerical_gradient(f, a)` is the loop above over every j,
# and `numerical_gradients(loss, arrays)` calls it for each array.
#
# Then a `cmp` table (also in `lesson_tools.py`): **exact** (bit-for-bit equal), **approx**
# (equal up to rounding: `np.allclose` with rtol = 1e-7, atol = 1e-9 here), and the largest
# difference.  Numerical derivatives are never exact, so we expect False / True / a few
# 1e-9 (round-off of about 1e-16 · |L| magnified by 1/eps = 1e6).

# %%
num_X, num_R, num_I, num_J, num_K = numerical_gradients(
    lambda *arrays: layer_loss(*arrays)[0],               # layer_loss returns (L, Y)
    [X.copy(), R.copy(), I.copy(), J.copy(), K.copy()])
num_x_r, num_x_i, num_x_j, num_x_k = np.split(num_X, 4, axis=1)

print("hand-derived vs numerical")
checks = [cmp("dx_r", dx_r, num_x_r, rtol=1e-7, atol=1e-9),
          cmp("dx_i", dx_i, num_x_i, rtol=1e-7, atol=1e-9),
          cmp("dx_j", dx_j, num_x_j, rtol=1e-7, atol=1e-9),
          cmp("dx_k", dx_k, num_x_k, rtol=1e-7, atol=1e-9),
          cmp("dR", dR, num_R, rtol=1e-7, atol=1e-9),
          cmp("dI", dI, num_I, rtol=1e-7, atol=1e-9),
          cmp("dJ", dJ, num_J, rtol=1e-7, atol=1e-9),
          cmp("dK", dK, num_K, rtol=1e-7, atol=1e-9)]
assert all(checks)

# %% [markdown]
# A wrong sign anywhere would show up as a maxdiff of order 1 in its row.  (Try it: flip
# one sign in `dI` and rerun the cell.)
#
# Note that L is *linear* in each of X, R, I, J, K separately, so the central difference
# has no truncation error at all here — the ~1e-9 left over is pure round-off.
#
# ## 4. Fusing: two matrix products
#
# Eight formulas with 32 small matrix products are fine for checking, slow for training
# (each small product has Python and BLAS call overhead).
#
# **dL/dX**: the four dx formulas are the four blocks of one product.  Since Y = X Mᵀ,
#
#     dX = dY M = G M,
#
# the same rule as a real layer, with the block matrix M that the forward already built.

# %%
dX_hand = np.concatenate([dx_r, dx_i, dx_j, dx_k], axis=1)
dX_fused = G @ M
print("fused vs hand-derived")
assert cmp("dX", dX_fused, dX_hand, rtol=1e-12, atol=1e-12)

# %% [markdown]
# **dL/dW**: one option is the full Gᵀ X (4·out_q × 4·in_q, all 16 blocks), then adding up
# the signed blocks 4 at a time.  That works, but it materializes an array 4× bigger than
# the result and then needs 12 more block additions.  `HypercomplexLinear` instead
# **folds the sum over b into the GEMM's inner dimension**.  Look again at
#
#     dW_a = Σ_b  s(a, b) · G_c(a,b)ᵀ x_b,     where e_a e_b = s(a, b) e_c(a,b)
#
# (that is the quaternion table: W_a multiplies x_b into output c with sign s).  A matrix
# product already sums over its inner index — here the sample rows.  If we also list the
# 4 components b as extra "rows", one product does both sums:
#
# * stack the input as X_stacked with rows (r, b): row (r, b) is x_b of sample r.  For the
#   planar layout this is a free reshape, X.reshape(rows·4, in_q);
# * build S with the same rows (r, b) and 4 column blocks: block a holds s(a, b)·G_c(a,b)
#   of sample r — a signed shuffle of G's blocks;
# * then dW (as a (4·out_q × in_q) matrix, component blocks stacked) = Sᵀ X_stacked.
#
# One GEMM, inner dimension 4·rows, and nothing computed that is not needed.

# %%
X_stacked = X.reshape(ROWS * 4, IN_Q)
assert np.array_equal(X_stacked.reshape(ROWS, 4, IN_Q)[:, 1], x_i)   # rows (r, b = i)

index, sign = QUATERNION.index, QUATERNION.sign          # e_a e_b = sign[a,b] e_index[a,b]
g_blocks = G.reshape(ROWS, 4, OUT_Q)                      # g_blocks[:, c] = G_c = dy_c
S = np.empty((ROWS, 4, 4, OUT_Q))                         # S[r, b, a] = s(a,b) G_c(a,b)[r]
for a in range(4):
    for b in range(4):
        S[:, b, a] = sign[a, b] * g_blocks[:, index[a, b]]
S = S.reshape(ROWS * 4, 4 * OUT_Q)
dW_fused = (S.T @ X_stacked).reshape(4, OUT_Q, IN_Q)

dW_hand = np.stack([dR, dI, dJ, dK])
assert np.array_equal(S, QUATERNION.signed_output_blocks(G))   # the library's S
assert cmp("dW", dW_fused, dW_hand, rtol=1e-12, atol=1e-12)

# %% [markdown]
# How much work is that?  Count multiply-adds: the real layer's weight gradient Gᵀ X is
# (4·out_q) × rows × (4·in_q) = 16·out_q·rows·in_q, and Sᵀ X_stacked is
# (4·out_q) × (4·rows) × in_q — the same number.  The forward and dX GEMMs are the same
# size as a real layer's too.  **A quaternion layer saves parameters (4×), not
# arithmetic**: it does as much work as the real layer of the same width, plus the small
# cost of building M and S.
#
# An aside that makes the backward less mysterious: dX = G M, and Mᵀ is the block matrix
# of the *conjugate* weight with each block transposed (R ↦ Rᵀ, I ↦ −Iᵀ, J ↦ −Jᵀ,
# K ↦ −Kᵀ).  So the input gradient of a quaternion layer is another quaternion layer,
# applied to G with the weight conj(W)ᵀ — the backward keeps the quaternion structure.

# %%
W_conj_T = np.stack([R.T, -I.T, -J.T, -K.T])              # (4, in_q, out_q)
assert np.array_equal(QUATERNION.block_matrix(W_conj_T), M.T)
assert cmp("dX", hamilton_linear(hp.tensor(G), hp.tensor(W_conj_T)).data, dX_hand,
           rtol=1e-12, atol=1e-12)

# %% [markdown]
# ## 5. Checking the library
#
# `hyperprune.functional.hamilton_linear(x, weight, bias)` is the differentiable op
# behind `nn.QLinear`.  Its backward should be exactly what we derived: give it G as the
# upstream gradient (`y.backward(G)` is the cotangent of lesson 2) and compare.

# %%
x_t = hp.tensor(X.copy(), requires_grad=True)
w_t = hp.tensor(W.copy(), requires_grad=True)
y_t = hamilton_linear(x_t, w_t)
y_t.backward(G)
print("library vs hand-derived")
assert cmp("Y", y_t.data, Y, rtol=1e-12, atol=1e-12)
assert cmp("dX", x_t.grad, dX_hand, rtol=1e-12, atol=1e-12)
assert cmp("dW", w_t.grad, dW_hand, rtol=1e-12, atol=1e-12)
print("library vs fused")
assert cmp("dX", x_t.grad, dX_fused, rtol=1e-12, atol=1e-12)
assert cmp("dW", w_t.grad, dW_fused, rtol=1e-12, atol=1e-12)
assert np.array_equal(x_t.grad, dX_fused)       # the very same product: bit for bit

# %% [markdown]
# Against the hand-derived blocks the library agrees to rounding (the additions happen in
# a different order).  Against our fused version dX is *exact*, bit for bit: it is the
# very same matrix product G M.  dW agrees to rounding only: at a batch this small the
# library does not form G^T X and add up its blocks as we did; it folds the sum over the
# blocks into the inner dimension of one matrix product (the small-batch order described
# in `hyperprune.functional.linear`), so the same terms are added in another order.

# %% [markdown]
# Independently of any block matrix, the layer must agree with the definition: output
# quaternion o of sample r is Σ_i W_oi ⊗ x_ri, with the weight on the **left**.  We use
# `hyperprune.quaternion.hamilton_product` on (…, 4) arrays (components last) and
# `to_components` to turn the planar layout into that shape.

# %%
try:
    from hyperprune.quaternion import hamilton_product
except ImportError:  # older checkouts: the table-driven product of the algebra
    hamilton_product = QUATERNION.multiply

W_quat = np.moveaxis(W, 0, -1)                   # (out_q, in_q, 4)
x_quat = to_components(X)                        # (rows, in_q, 4)
y_quat = hamilton_product(W_quat[None, :, :, :], x_quat[:, None, :, :]).sum(axis=2)
print("y_quat shape (rows, out_q, 4):", y_quat.shape)
assert cmp("W ⊗ x", to_components(y_t.data), y_quat, rtol=1e-12, atol=1e-12)
assert np.allclose(QUATERNION.multiply(W_quat[None], x_quat[:, None]).sum(axis=2), y_quat)

# The order matters: x ⊗ W is a different layer (quaternions do not commute).
x_times_w = hamilton_product(x_quat[:, None, :, :], W_quat[None, :, :, :]).sum(axis=2)
assert not np.allclose(x_times_w, y_quat)

# %% [markdown]
# And the automated referee from lesson 2, `hp.gradcheck`, on the whole op including the
# real bias (float64, random cotangent, every element of x, weight and bias):

# %%
x_small = hp.tensor(rng.standard_normal((3, 8)), requires_grad=True)
w_small = hp.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
b_small = hp.tensor(rng.standard_normal(8), requires_grad=True)
result = hp.gradcheck(hamilton_linear, x_small, w_small, b_small)
print(result)
assert result.passed

# %% [markdown]
# ## 6. Counting parameters
#
# Sizes are given in real units, so `nn.QLinear(784, 300)` replaces `nn.Linear(784, 300)`:
# 784 reals = 196 quaternions in, 300 reals = 75 quaternions out, weight (4, 75, 196).
# The bias stays real, one per output feature.

# %%
real_fc, quat_fc = nn.Linear(784, 300), nn.QLinear(784, 300)
print(f"Linear(784, 300).weight  {real_fc.weight.shape}: {real_fc.weight.size:,}")
print(f"QLinear(784, 300).weight {quat_fc.weight.shape}: {quat_fc.weight.size:,}")
assert real_fc.weight.size == 784 * 300 == 235_200
assert quat_fc.weight.shape == (4, 75, 196) and quat_fc.weight.size == 58_800
assert 1 - quat_fc.weight.size / real_fc.weight.size == 0.75          # 75% fewer
assert real_fc.bias.size == quat_fc.bias.size == 300

# %% [markdown]
# LeNet-300-100, the MLP of the lottery-ticket experiments: 784 → 300 → 100 → 10.  Its
# quaternion version makes the two hidden layers quaternion and keeps a real output layer
# (10 classes are not a multiple of 4, and the logits are real numbers anyway).

# %%
lenet_real = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                           nn.Linear(100, 10))
lenet_quat = nn.Sequential(nn.QLinear(784, 300), nn.ReLU(), nn.QLinear(300, 100), nn.ReLU(),
                           nn.Linear(100, 10))


def count(model):
    weights = sum(m.weight.size for m in model if hasattr(m, "weight"))
    return weights, model.num_parameters()


(w_real, n_real), (w_quat, n_quat) = count(lenet_real), count(lenet_quat)
print(f"{'':>14} {'weights':>9} {'+ biases':>9}")
print(f"{'real':>14} {w_real:>9,} {n_real:>9,}")
print(f"{'quaternion':>14} {w_quat:>9,} {n_quat:>9,}   ({n_quat / n_real:.1%} of real)")
assert w_real == 784 * 300 + 300 * 100 + 100 * 10 == 266_200
assert n_real == w_real + 300 + 100 + 10 == 266_610
assert w_quat == 784 * 300 // 4 + 300 * 100 // 4 + 100 * 10 == 67_300
assert n_quat == w_quat + 410 == 67_710

# %% [markdown]
# ## 7. Timing (informative only)
#
# Forward + backward at batch 60, float32 (the library's default).  By the count in
# section 4 the two layers do the same arithmetic, so expect similar times, the quaternion
# layer paying a little extra for building M and S on every call.  Timings depend on the
# machine and its BLAS; nothing is asserted.

# %%
def time_layer(layer, x, iterations):
    for _ in range(2):                                 # warm-up
        F.relu(layer(x)).mean().backward()
    start = time.perf_counter()
    for _ in range(iterations):
        layer.zero_grad()
        F.relu(layer(x)).mean().backward()
    return (time.perf_counter() - start) / iterations


hp.manual_seed(0)
x_batch = hp.tensor(rng.standard_normal((60, 784)).astype(np.float32))
iterations = 5 if FAST else 50
for name, layer in (("Linear(784, 300)", nn.Linear(784, 300)),
                    ("QLinear(784, 300)", nn.QLinear(784, 300))):
    print(f"{name:<18} {time_layer(layer, x_batch, iterations) * 1e3:6.2f} ms "
          "per forward+backward")

# %% [markdown]
# ## Summary
#
# * The quaternion layer is Y = X Mᵀ with M = [[R,−I,−J,−K],[I,R,−K,J],[J,K,R,−I],[K,−J,I,R]].
# * By hand: each of the 16 terms s·x_b W_aᵀ sends s·dy_c W_a to dx_b and s·dy_cᵀ x_b
#   to dW_a; gradients of reused pieces add up.
# * Fused: dX = G M (one GEMM); dW = Sᵀ X_stacked, one GEMM whose inner dimension runs over
#   samples *and* quaternion components (`Algebra.signed_output_blocks`).
# * The input gradient is itself a quaternion layer, with weight conj(W)ᵀ.
# * A quaternion layer has 4× fewer weights than the real one, but the same arithmetic.

# %%
print("Lesson 3: all checks passed.")
