# %% [markdown]
# # Lesson 6: attention from scratch, then the quaternion attention layer
#
# A transformer is built around one operation: **attention**, in which every position of
# a sequence computes a weighted average of the others, with weights it chooses itself.
# This lesson writes it in a few lines of NumPy for one head, explains the 1/√d in its
# formula with a measurement, adds the causal mask a language model needs, derives the
# backward pass by hand (same method as lessons 3 and 5: small named pieces, a `cmp`
# table against central differences, then the library), and then goes to several heads
# and to the quaternion version, `nn.QMultiHeadAttention`.
#
# The quaternion part is mostly about *bookkeeping*: on the planar layout [r | i | j | k]
# the four components of one quaternion sit far apart, so "cut the features into heads"
# has to be done with care if a head is to see whole quaternions.  We will label every
# feature with its component and unit and watch where it goes — in the layer of this
# library, and in the fused layout of qytorch's quaternion attention.
#
# You need: lesson 1 (conjugate, Hamilton product), lesson 2 (gradcheck, cotangents) and
# lesson 3 (QLinear, the planar layout).  Every claim is an `assert`; the lesson runs in
# seconds.

# %%
import math
import os
import time

import numpy as np

import hyperprune as hp
from hyperprune import nn
from hyperprune import quaternion as Q
from hyperprune.algebra import to_components
from hyperprune.functional import (merge_heads, merge_quaternion_heads,
                                   scaled_dot_product_attention, split_heads,
                                   split_quaternion_heads)

from lesson_tools import cmp, numerical_gradient, output_dir  # lessons/lesson_tools.py

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True, linewidth=100)
rng = np.random.default_rng(6)
hp.manual_seed(6)                                        # the layers' initialization
LESSON_START = time.perf_counter()

# %% [markdown]
# ## 1. Self-attention for one head
#
# Take a sequence of T positions (tokens), each a vector of E features: a matrix X of
# shape (T, E).  Three learned matrices turn every position into three vectors of size d:
#
# * a **query** q_t = x_t W_q — what position t is looking for,
# * a **key** k_s = x_s W_k — what position s offers to be found by,
# * a **value** v_s = x_s W_v — what position s hands over if it is chosen.
#
# Position t scores every position s by the dot product of its query with that key,
# turns the scores into probabilities with a softmax over s, and outputs the
# probability-weighted average of the values.  For all positions at once:
#
#     S = Q Kᵀ / √d          (T × T)   scores, row t = what t thinks of every s
#     P = softmax(S)         (T × T)   along each row: P[t, s] > 0, Σ_s P[t, s] = 1
#     Y = P V                (T × d)   y_t = Σ_s P[t, s] v_s
#
# It is **self**-attention because queries, keys and values all come from the same X.

# %%
T, E, D = 6, 8, 4                                  # positions, model width, head width
X = rng.standard_normal((T, E))
W_q, W_k, W_v = (rng.standard_normal((E, D)) / math.sqrt(E) for _ in range(3))


def softmax_rows(S):
    """Softmax along the last axis.  Subtracting the row maximum first changes nothing
    mathematically (softmax(s + c) = softmax(s)) but keeps exp from overflowing."""
    Z = np.exp(S - S.max(axis=-1, keepdims=True))
    return Z / Z.sum(axis=-1, keepdims=True)


def attention(Q_, K_, V_, causal=False):
    """One head: Y = softmax(Q Kᵀ / √d + mask) V.  Returns Y and the probabilities P."""
    S = Q_ @ K_.T / math.sqrt(Q_.shape[-1])
    if causal:
        S = S + causal_mask(len(Q_))
    P = softmax_rows(S)
    return P @ V_, P


def causal_mask(n):
    """(n, n): 0 where key s <= query t, -inf above the diagonal (used in a moment)."""
    return np.triu(np.full((n, n), -np.inf), k=1)


Q_mat, K_mat, V_mat = X @ W_q, X @ W_k, X @ W_v
Y, P = attention(Q_mat, K_mat, V_mat)
print("P (row t: how much position t takes from each s):\n", P)
assert Q_mat.shape == K_mat.shape == V_mat.shape == (T, D) and P.shape == (T, T)
assert np.all(P > 0) and np.allclose(P.sum(axis=1), 1.0)
# each output is a weighted average of the values, so it lies within their range
assert np.all(Y >= V_mat.min(axis=0) - 1e-12) and np.all(Y <= V_mat.max(axis=0) + 1e-12)
assert np.allclose(Y[2], sum(P[2, s] * V_mat[s] for s in range(T)))

# %% [markdown]
# Why subtract the row maximum?  Nothing bounds the scores: large weights or a wide head
# can make them large, and exp(1000) is inf in float64, so the naive formula gives
# inf/inf = nan.

# %%
big = np.array([1000.0, 999.0, 990.0])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(big) / np.exp(big).sum()
print("naive softmax:", naive, "  stable:", softmax_rows(big))
assert np.all(np.isnan(naive))
assert np.allclose(softmax_rows(big), softmax_rows(big - 1000.0))   # shift invariance
assert np.isclose(softmax_rows(big).sum(), 1.0)

# %% [markdown]
# ### Why divide by √d?
#
# Suppose the entries of a query q and a key k are independent, with mean 0 and variance
# 1 (roughly what initializations aim for).  Then q·k = Σ_i q_i k_i is a sum of d
# independent terms, each with mean 0 and variance Var(q_i)·Var(k_i) = 1 (a product of
# independent zero-mean factors), so
#
#     mean(q·k) = 0,        Var(q·k) = d.
#
# The scores of a wide head are spread over ±√d.  Dividing by √d brings them back to
# variance 1 whatever the head width.  Measured:

# %%
N_PAIRS = 5_000 if FAST else 20_000
rng_var = np.random.default_rng(60)            # its own stream: FAST changes N_PAIRS only
print(f"{'d':>5} {'Var(q·k)':>10} {'Var(q·k/√d)':>12}")
for d in (4, 16, 64, 256):
    q = rng_var.standard_normal((N_PAIRS, d))
    k = rng_var.standard_normal((N_PAIRS, d))
    dots = np.einsum("nd,nd->n", q, k)
    scaled_var = float(np.var(dots / math.sqrt(d)))
    print(f"{d:>5} {np.var(dots):>10.2f} {scaled_var:>12.3f}")
    assert abs(np.var(dots) / d - 1) < 0.1            # grows like d ...
    assert abs(scaled_var - 1) < 0.1                  # ... and the scaling undoes it

# %% [markdown]
# What goes wrong without it: a softmax of scores with standard deviation 16 (d = 256)
# puts almost all the weight on the single largest score.  The head then copies one
# value instead of averaging, and — worse for training — the softmax is *saturated*: its
# Jacobian diag(p) − p pᵀ is nearly zero when p is nearly one-hot, so almost no gradient
# flows back into the queries and keys.  16 keys per query, 2,000 queries:

# %%
d, n_keys = 256, 16
q = rng.standard_normal((2_000, d))
k = rng.standard_normal((n_keys, d))
for label, S_demo in (("q·k", q @ k.T), ("q·k/√d", q @ k.T / math.sqrt(d))):
    P_demo = softmax_rows(S_demo)
    jac = P_demo[:, :, None] * np.eye(n_keys) - P_demo[:, :, None] * P_demo[:, None, :]
    largest = P_demo.max(axis=1).mean()
    jac_norm = np.linalg.norm(jac, axis=(1, 2)).mean()
    print(f"scores {label:<7}: mean largest probability {largest:.3f}, "
          f"mean |softmax Jacobian| {jac_norm:.3f}")
    if label == "q·k":
        unscaled_largest, unscaled_jac = largest, jac_norm
    else:
        scaled_largest, scaled_jac = largest, jac_norm
assert unscaled_largest > 0.9 and scaled_largest < 0.5
assert unscaled_jac < scaled_jac / 2

# %% [markdown]
# ### Causal masking
#
# A language model predicts token t + 1 from tokens 0..t.  If position t could attend to
# later positions it would simply read the answer, and the model would learn nothing
# that works at generation time, when the future does not exist yet.  So scores of later
# keys are set to −∞ before the softmax:
#
#     S[t, s] = −∞ for s > t     ⇒     P[t, s] = exp(−∞)/… = 0 exactly.
#
# Row t of P is then a softmax over keys 0..t only: P is lower triangular, row 0 is
# (1, 0, …, 0), so y_0 = v_0.  No row is all −∞ (the diagonal always stays), so the
# softmax is always defined.

# %%
print("mask (0 = allowed):\n", causal_mask(4))
Y_causal, P_causal = attention(Q_mat, K_mat, V_mat, causal=True)
print("causal P:\n", P_causal)
assert np.all(P_causal[np.triu_indices(T, k=1)] == 0.0)          # exactly zero
assert np.all(P_causal[np.tril_indices(T)] > 0)
assert np.allclose(P_causal.sum(axis=1), 1.0)
assert np.array_equal(P_causal[0], np.eye(T)[0]) and np.allclose(Y_causal[0], V_mat[0])
# row t is the plain softmax of the first t + 1 scores
S_plain = Q_mat @ K_mat.T / math.sqrt(D)
assert np.allclose(P_causal[3, :4], softmax_rows(S_plain[3, :4]))

# %% [markdown]
# The property that matters, checked directly: change the input at every position after
# t, and the outputs at positions 0..t do not move — not even in the last bit, because
# the masked probabilities are exactly 0.  (Without the mask they all move.)

# %%
def self_attention(X_, causal):
    return attention(X_ @ W_q, X_ @ W_k, X_ @ W_v, causal)[0]


for t in range(T - 1):
    X_changed = X.copy()
    X_changed[t + 1:] = rng.standard_normal((T - t - 1, E))
    before, after = self_attention(X, True), self_attention(X_changed, True)
    assert np.array_equal(before[:t + 1], after[:t + 1])           # the past is untouched
    assert not np.allclose(before[t + 1:], after[t + 1:])           # (the change is real)
    unmasked = self_attention(X_changed, False)
    assert not np.allclose(self_attention(X, False)[:t + 1], unmasked[:t + 1])
print("causal: outputs 0..t never depend on inputs after t")

# %% [markdown]
# A picture (saved under `lessons/_output/`): the probabilities of 16 keys for 16
# queries with d = 256 — unscaled, scaled, and scaled with the causal mask.

# %%
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUTPUT = output_dir()

q16, k16 = q[:16], k
panels = (("softmax(q·k): saturated", softmax_rows(q16 @ k16.T)),
          ("softmax(q·k / √d)", softmax_rows(q16 @ k16.T / math.sqrt(d))),
          ("causal", softmax_rows(q16 @ k16.T / math.sqrt(d) + causal_mask(16))))
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
for ax, (title, probabilities) in zip(axes, panels):
    image = ax.imshow(probabilities, cmap="magma", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlabel("key s")
axes[0].set_ylabel("query t")
fig.colorbar(image, ax=axes, shrink=0.8, label="P[t, s]")
figure_path = OUTPUT / "06_attention.png"
fig.savefig(figure_path, dpi=80, bbox_inches="tight")
plt.close(fig)
print("figure:", figure_path)
assert figure_path.stat().st_size > 0

# %% [markdown]
# ## 2. The backward pass, by hand
#
# As in lessons 3 and 5, let L = Σ G ⊙ Y for a fixed random G, so that dL/dY = G, and
# write c = 1/√d.  The forward in named pieces:
#
#     S = c Q Kᵀ (+ mask),     P = softmax(S) by rows,     Y = P V.
#
# Going backwards through them:
#
# * **Y = P V** is a matrix product (lesson 2's rule):  dV = Pᵀ G,   dP = G Vᵀ.
# * **P = softmax(S)**, one row at a time.  Within a row, write σ_i for the scores and
#   p_j for the probabilities; then ∂p_j/∂σ_i = p_j (δ_ij − p_i), so
#
#       dσ_i = Σ_j dp_j p_j (δ_ij − p_i) = p_i (dp_i − Σ_j dp_j p_j),
#
#   i.e. for the whole matrix  dS = P ⊙ (dP − rowsum(dP ⊙ P)).  No T × T × T Jacobian
#   is ever formed: one elementwise product and one sum per row.
# * **S = c Q Kᵀ** is a matrix product again:  dQ = c dS K,   dK = c dSᵀ Q.
#   The mask is a constant: it has no gradient, and where P = 0 so is dS.
#
# Two facts fall out and are worth checking: every row of dS sums to zero (adding the
# same number to a whole row of scores does not change P, so L cannot feel that
# direction), and masked entries of dS are exactly zero.

# %%
G = rng.standard_normal((T, D))
c = 1.0 / math.sqrt(D)


def forward_pieces(Q_, K_, V_, causal):
    S = c * Q_ @ K_.T + (causal_mask(len(Q_)) if causal else 0.0)
    P_ = softmax_rows(S)
    return S, P_, P_ @ V_


def backward_by_hand(Q_, K_, V_, P_, G_):
    dV = P_.T @ G_
    dP = G_ @ V_.T
    dS = P_ * (dP - (dP * P_).sum(axis=1, keepdims=True))
    dQ = c * dS @ K_
    dK = c * dS.T @ Q_
    return dQ, dK, dV, dP, dS


# %% [markdown]
# The referee: central differences in float64 on the forward pieces.  For dP and dS we
# differentiate L as a function of P (resp. of the unmasked scores), so each step is
# checked on its own; then Q, K and V.  Referee and table are lesson 3's, from
# `lesson_tools.py`: `numerical_gradient(f, array)` nudges each entry of `array` in place
# and differences f(); `cmp` prints exact (bit for bit), approx (within rounding: here
# rtol 1e-6, atol 1e-8), and the largest difference.

# %%
for causal in (False, True):
    Qn, Kn, Vn = Q_mat.copy(), K_mat.copy(), V_mat.copy()
    S, P_, Y_ = forward_pieces(Qn, Kn, Vn, causal)
    dQ, dK, dV, dP, dS = backward_by_hand(Qn, Kn, Vn, P_, G)

    P_var = P_.copy()                                       # L as a function of P
    S_raw = c * Qn @ Kn.T                                   # L as a function of the scores
    mask = causal_mask(T) if causal else 0.0
    num_dP = numerical_gradient(lambda: np.sum(G * (P_var @ Vn)), P_var)
    num_dS = numerical_gradient(lambda: np.sum(G * (softmax_rows(S_raw + mask) @ Vn)), S_raw)

    def loss():
        return np.sum(G * forward_pieces(Qn, Kn, Vn, causal)[2])

    num_dQ, num_dK, num_dV = (numerical_gradient(loss, a) for a in (Qn, Kn, Vn))

    print(f"hand-derived vs numerical, causal={causal}")
    assert all([cmp("dP", dP, num_dP, rtol=1e-6, atol=1e-8),
                cmp("dS", dS, num_dS, rtol=1e-6, atol=1e-8),
                cmp("dQ", dQ, num_dQ, rtol=1e-6, atol=1e-8),
                cmp("dK", dK, num_dK, rtol=1e-6, atol=1e-8),
                cmp("dV", dV, num_dV, rtol=1e-6, atol=1e-8)])
    assert np.allclose(dS.sum(axis=1), 0.0, atol=1e-12)     # rows of dS sum to zero
    if causal:
        assert np.all(dS[np.triu_indices(T, k=1)] == 0.0)    # no gradient through the mask
        hand_causal = dict(Y=Y_, dQ=dQ, dK=dK, dV=dV)

# %% [markdown]
# (dP is checked without truncation error — L is linear in P — so its row shows pure
# round-off; the others are smooth, so central differences are good to ~1e-9.)
#
# In self-attention Q, K and V are all computed from the same X.  X is *used three
# times*, so its gradient is the sum of three contributions (the `+=` of lesson 2), one
# per projection:
#
#     dX = dQ W_qᵀ + dK W_kᵀ + dV W_vᵀ,     dW_q = Xᵀ dQ,  dW_k = Xᵀ dK,  dW_v = Xᵀ dV.

# %%
dQ, dK, dV = hand_causal["dQ"], hand_causal["dK"], hand_causal["dV"]
dX = dQ @ W_q.T + dK @ W_k.T + dV @ W_v.T
Xn, Wqn, Wkn, Wvn = X.copy(), W_q.copy(), W_k.copy(), W_v.copy()


def loss_of_x():
    return np.sum(G * forward_pieces(Xn @ Wqn, Xn @ Wkn, Xn @ Wvn, True)[2])


print("through the projections (causal)")
assert cmp("dX", dX, numerical_gradient(loss_of_x, Xn), rtol=1e-6, atol=1e-8)
assert cmp("dW_q", X.T @ dQ, numerical_gradient(loss_of_x, Wqn), rtol=1e-6, atol=1e-8)
assert cmp("dW_k", X.T @ dK, numerical_gradient(loss_of_x, Wkn), rtol=1e-6, atol=1e-8)
assert cmp("dW_v", X.T @ dV, numerical_gradient(loss_of_x, Wvn), rtol=1e-6, atol=1e-8)

# %% [markdown]
# ### The library
#
# `hyperprune.functional.scaled_dot_product_attention(q, k, v, causal=...)` is this
# computation as one fused op, batched over leading axes (typically (B, H, T, d)), with
# the backward above written in place.  Give it G as the upstream gradient and compare
# with our hand-derived causal numbers:

# %%
q_t, k_t, v_t = (hp.tensor(a.copy(), requires_grad=True) for a in (Q_mat, K_mat, V_mat))
y_t = scaled_dot_product_attention(q_t, k_t, v_t, causal=True)
y_t.backward(G)
print("library vs hand-derived (causal)")
assert cmp("Y", y_t.data, hand_causal["Y"], rtol=1e-12, atol=1e-12)
assert cmp("dQ", q_t.grad, dQ, rtol=1e-12, atol=1e-12)
assert cmp("dK", k_t.grad, dK, rtol=1e-12, atol=1e-12)
assert cmp("dV", v_t.grad, dV, rtol=1e-12, atol=1e-12)

# %% [markdown]
# (Here even the bits agree: the library runs the same products in the same order, and
# with d = 4 the scale 1/2 is a power of two, so where it is applied does not round
# differently.  Do not count on that in general — "approx" is the claim.)
#
# And lesson 2's automated referee on batched inputs (B = 2, H = 2 heads, T = 4, d = 3,
# values of width 2), with and without the mask:

# %%
for causal in (False, True):
    q_b, k_b = (hp.tensor(rng.standard_normal((2, 2, 4, 3)), requires_grad=True)
                for _ in range(2))
    v_b = hp.tensor(rng.standard_normal((2, 2, 4, 2)), requires_grad=True)
    result = hp.gradcheck(
        lambda q_, k_, v_: scaled_dot_product_attention(q_, k_, v_, causal=causal),
        q_b, k_b, v_b)
    print(f"causal={causal!s:<5}", result)
    assert result.passed

# %% [markdown]
# Besides references to q, k and v, the op keeps only P for the backward: a T × T
# matrix per head and per sequence, so the memory of attention grows with the *square*
# of the context length.
#
# ## 3. Several heads
#
# One head computes one pattern P per sequence.  **Multi-head attention** runs H heads
# side by side, each on its own slice of the features, so that different heads can look
# at different positions.  With model width E and H heads, each head has d = E/H
# features: project X to Q, K, V of width E (one E × E matrix each), cut each into H
# slices of d features, attend per head, glue the H outputs back together and mix them
# with a last E × E projection:
#
#     head h: features [h·d, (h+1)·d) of Q, K and V
#     Y = concat_h attention(Q_h, K_h, V_h) W_out
#
# The scores of all heads together cost T²·d·H = T²·E multiply-adds: the same as one head
# of width E.  The library's head split is a reshape: (B, T, E) → (B, T, H, d) →
# (B, H, T, d).  To *see* it, give it features that are their own names:

# %%
E_MH, H_MH = 8, 2
names = np.array([f"f{n}" for n in range(E_MH)]).reshape(1, 1, E_MH)   # B = T = 1
heads = split_heads(names, H_MH)                                        # (1, H, 1, d)
for h in range(H_MH):
    print(f"head {h}:", " ".join(heads[0, h, 0]))
assert heads.shape == (1, H_MH, 1, E_MH // H_MH)
assert list(heads[0, 1, 0]) == ["f4", "f5", "f6", "f7"]
assert np.array_equal(merge_heads(heads), names)                       # merge undoes split

# %% [markdown]
# `nn.MultiHeadAttention(E, H)` holds four `nn.Linear(E, E)` layers (q_proj, k_proj,
# v_proj, out_proj; a Linear computes x Wᵀ + b).  We switch it to float64 and compare it
# with a loop over sequences and heads that uses our one-head `attention` from section 1.

# %%
def per_head_reference(layer, x, causal, head_features, project):
    """Project, attend head by head with our NumPy `attention`, reassemble, out_proj.
    head_features[h]: the positions (in Q, K, V) of head h's features."""
    q_all, k_all, v_all = project(x)
    merged = np.zeros_like(q_all)
    for b in range(x.shape[0]):
        for idx in head_features:
            merged[b][:, idx] = attention(q_all[b][:, idx], k_all[b][:, idx],
                                          v_all[b][:, idx], causal)[0]
    return layer.out_proj(hp.tensor(merged)).data


def linear_np(lin, x):
    return x @ lin.weight.data.T + lin.bias.data


B, T_MH = 2, 5
x_mh = rng.standard_normal((B, T_MH, E_MH))
d_mh = E_MH // H_MH
contiguous = [list(range(h * d_mh, (h + 1) * d_mh)) for h in range(H_MH)]
for causal in (False, True):
    mha = nn.MultiHeadAttention(E_MH, H_MH, causal=causal).double()
    reference = per_head_reference(
        mha, x_mh, causal, contiguous,
        lambda x_: [linear_np(p, x_) for p in (mha.q_proj, mha.k_proj, mha.v_proj)])
    print(f"MultiHeadAttention vs per-head loop, causal={causal}")
    assert cmp("Y", mha(hp.tensor(x_mh)).data, reference, rtol=1e-12, atol=1e-12)

result = hp.gradcheck(mha, hp.tensor(x_mh[:, :3], requires_grad=True))
print("gradcheck of the layer's input gradient:", result)
assert result.passed
assert mha.num_parameters() == 4 * E_MH * E_MH + 4 * E_MH

# %% [markdown]
# ## 4. The quaternion attention layer
#
# `nn.QMultiHeadAttention(E, H)` replaces the four projections by `nn.QLinear(E, E)`:
# Hamilton products y = W ⊗ x on the planar layout (lesson 3).  Everything else is
# attention as above — with one question: **which features make a head?**
#
# Planar means a vector of E reals holds m = E/4 quaternions as [r | i | j | k]: the real
# parts of units 0..m−1, then all their i parts, and so on.  Label every feature with its
# component and unit — "i2" is the i part of quaternion 2 — for E = 16, two heads:

# %%
def planar_names(m):
    """Names of the features of a planar vector of m quaternion units."""
    return np.array([f"{comp}{n}" for comp in "rijk" for n in range(m)])


def whole_units(names_):
    """The units all 4 of whose components are among names_."""
    units = {}
    for name in names_:
        units.setdefault(name[1:], set()).add(name[0])
    return sorted(int(n) for n, comps in units.items() if comps == set("rijk"))


E_Q, H_Q = 16, 2
M_Q, D_Q = E_Q // 4, E_Q // H_Q            # 4 quaternion units, 8 features per head
U_Q = D_Q // 4                            # 2 whole quaternions per head
labels = planar_names(M_Q)
print("planar features:", " ".join(labels))

naive = split_heads(labels.reshape(1, 1, E_Q), H_Q)[0, :, 0]
print("contiguous slices (split_heads):")
for h in range(H_Q):
    print(f"  head {h}:", " ".join(naive[h]), "   whole quaternions:", whole_units(naive[h]))
    assert whole_units(naive[h]) == []
assert set(n[0] for n in naive[0]) == {"r", "i"}      # head 0: real and i parts only

# %% [markdown]
# A contiguous slice of a planar vector is a run of one or two *components* of many
# quaternions: here head 0 would get the real and i parts of all four quaternions and
# head 1 their j and k parts, so no head holds a single whole quaternion.
# `split_quaternion_heads` instead gives head h the quaternion units
# [h·u, (h+1)·u), u = d/4, taking all four component blocks of them, and lays them out
# planar again — each head's d features are a planar vector of u whole quaternions:

# %%
q_heads = split_quaternion_heads(labels.reshape(1, 1, E_Q), H_Q)[0, :, 0]
print("quaternion heads (split_quaternion_heads):")
for h in range(H_Q):
    units = list(range(h * U_Q, (h + 1) * U_Q))
    print(f"  head {h}:", " ".join(q_heads[h]), "   whole quaternions:", whole_units(q_heads[h]))
    assert whole_units(q_heads[h]) == units
    assert list(q_heads[h]) == [f"{comp}{n}" for comp in "rijk" for n in units]  # planar
assert np.array_equal(merge_quaternion_heads(q_heads[None, :, None]), labels.reshape(1, 1, E_Q))

# %% [markdown]
# That was the function; the layer calls it through its `split` method.  Feed the layer
# the *positions* 0..E−1 as features and read back which positions each head receives:

# %%
qmha = nn.QMultiHeadAttention(E_Q, H_Q).double()
positions = hp.tensor(np.arange(E_Q, dtype=np.float64).reshape(1, 1, E_Q))
head_positions = qmha.split(positions).data[0, :, 0].astype(int)      # (H, d)
for h in range(H_Q):
    assert list(labels[head_positions[h]]) == list(q_heads[h])
quaternion_features = head_positions.tolist()                          # for later
print("positions per head:", quaternion_features)

# %% [markdown]
# ### Scores of whole quaternions
#
# A head's score is the real dot product of two head vectors, q_h · k_h = Σ over its d
# features.  Grouping the features by unit, that is a sum over the u quaternions of the
# 4-dimensional dot products of matching quaternions.  And that dot product has a
# quaternion meaning.  From lesson 1, the real part of a product is
# Re(a ⊗ b) = a_w b_w − a_x b_x − a_y b_y − a_z b_z.  Take a = conj(p), which flips the
# signs of p's vector part:
#
#     Re(conj(p) ⊗ q) = p_w q_w + p_x q_x + p_y q_y + p_z q_z = p · q.
#
# So the score is Σ_n Re(conj(q_n) ⊗ k_n): the real part of the "relative" quaternion
# from each query unit to the matching key unit.  With p = q this is lesson 1's
# p ⊗ conj(p) = |p|² (real parts are the same for p ⊗ conj(p) and conj(p) ⊗ p).  The
# conjugate matters: Re(p ⊗ q) puts a minus on the vector part and is a different number.

# %%
p_quat, q_quat = rng.standard_normal((2, 1000, 4))
re_conj = Q.hamilton_product(Q.conjugate(p_quat), q_quat)[..., 0]
dot = np.einsum("nc,nc->n", p_quat, q_quat)
assert np.allclose(re_conj, dot, rtol=1e-12, atol=1e-12)                  # Re(conj(p) ⊗ q) = p·q
assert np.allclose(Q.hamilton_product(p_quat, Q.conjugate(q_quat))[..., 0], dot)  # also
assert not np.allclose(Q.hamilton_product(p_quat, q_quat)[..., 0], dot)   # Re(p ⊗ q) is not
assert np.allclose(Q.hamilton_product(Q.conjugate(p_quat), p_quat)[..., 0],
                   Q.norm(p_quat) ** 2)                                   # p = q: |p|²
print("Re(conj(p) ⊗ q) = p·q on 1,000 random pairs; e.g.", re_conj[0], "=", dot[0])

# %% [markdown]
# Now with the layer's own projections: q and k from its QLinear layers, split into
# heads, scores once as the real matrix product and once as the sum over units of
# Re(conj(q_n) ⊗ k_n) (`to_components` turns a planar head vector into (u, 4)).

# %%
x_q = rng.standard_normal((B, T_MH, E_Q))
with hp.no_grad():
    q_proj_out, k_proj_out, v_proj_out = (t.data for t in qmha.project_qkv(hp.tensor(x_q)))
    q_split = qmha.split(hp.tensor(q_proj_out)).data          # (B, H, T, d)
    k_split = qmha.split(hp.tensor(k_proj_out)).data
scores_real = q_split @ k_split.swapaxes(-1, -2)             # (B, H, T, T)
q_units, k_units = to_components(q_split), to_components(k_split)       # (B, H, T, u, 4)
relative = Q.hamilton_product(Q.conjugate(q_units)[:, :, :, None], k_units[:, :, None, :])
scores_quat = relative[..., 0].sum(axis=-1)                   # Σ over units of the real part
assert cmp("scores", scores_quat, scores_real, rtol=1e-12, atol=1e-12)

# %% [markdown]
# The whole layer against a per-head loop: our NumPy `attention` on the positions of
# each head (found above), the results put back at the same positions, then out_proj.

# %%
for causal in (False, True):
    qmha.causal = causal
    reference = per_head_reference(
        qmha, x_q, causal, quaternion_features,
        lambda x_: [t.data for t in qmha.project_qkv(hp.tensor(x_))])
    print(f"QMultiHeadAttention vs per-head loop, causal={causal}")
    assert cmp("Y", qmha(hp.tensor(x_q)).data, reference, rtol=1e-12, atol=1e-12)
qmha.causal = True

# %% [markdown]
# ### Parameters
#
# Each projection is a QLinear(E, E) with weight (4, E/4, E/4): E²/4 numbers instead of
# E².  Four projections: **E² weights instead of 4E²**.  The biases stay real, E per
# projection, in both layers.

# %%
def count(layer):
    weights = sum(p.size for name, p in layer.named_parameters() if name.endswith("weight"))
    return weights, layer.num_parameters() - weights


print(f"{'E':>5} {'H':>3} {'MHA weights':>12} {'QMHA weights':>13} {'biases (each)':>14}")
for e, h in ((16, 2), (64, 4), (256, 8)):
    (w_real, b_real), (w_quat, b_quat) = (count(cls(e, h)) for cls in
                                          (nn.MultiHeadAttention, nn.QMultiHeadAttention))
    print(f"{e:>5} {h:>3} {w_real:>12,} {w_quat:>13,} {b_real:>14,}")
    assert w_real == 4 * e * e and w_quat == e * e and b_real == b_quat == 4 * e

# %% [markdown]
# ## 5. qytorch's fused layout: one projection for q, k and v
#
# PyTorch's `nn.MultiheadAttention` packs the three input projections into one
# Linear(E, 3E) and cuts its output into three contiguous E-wide chunks, q = [0, E),
# k = [E, 2E), v = [2E, 3E); heads are then contiguous slices of each chunk.
# qytorch's `QMultiheadAttention` keeps all of that and only makes the packed weight a
# quaternion one, i.e. a QLinear(E, 3E); `QMultiHeadAttention(..., fused_qkv=True)`
# reproduces that layout.  (qytorch multiplies conj(W) ⊗ x where this library does
# W ⊗ x, see the README; the planar layout of the output is the same.)  For a real
# layer, a chunk of outputs is just a set of outputs.  For a quaternion layer, the
# output is planar with 3E/4 units:
#
#     [ r0 … r(3E/4−1) | i0 … | j0 … | k0 … ],   each block 3E/4 wide,
#
# and cutting it into thirds of width E does not follow the block boundaries.
#
# First, that the labels are right: QLinear(16, 48)'s output really is 12 quaternions
# with component c of unit n at position c·12 + n — unit n of the output is
# Σ_i W_ni ⊗ x_i + bias, computed here with `hamilton_product`:

# %%
fused = nn.QMultiHeadAttention(E_Q, H_Q, fused_qkv=True).double()
M_FUSED = 3 * E_Q // 4                                     # 12 output units
weight = fused.qkv_proj.weight.data                        # (4, 12, 4): components first
x_one = rng.standard_normal(E_Q)
with hp.no_grad():
    out_planar = fused.qkv_proj(hp.tensor(x_one)).data
per_unit = Q.hamilton_product(np.moveaxis(weight, 0, -1), to_components(x_one)[None]).sum(axis=1)
per_unit += to_components(fused.qkv_proj.bias.data)
assert weight.shape == (4, M_FUSED, E_Q // 4)
assert cmp("units", to_components(out_planar), per_unit, rtol=1e-12, atol=1e-12)

# %% [markdown]
# Now route labels through the layer: zero the projection's weight and put the position
# numbers 0..3E−1 in its bias, so that `project_qkv` returns, for each of q, k and v, the
# positions it took — then name them.

# %%
fused_labels = planar_names(M_FUSED)                        # r0 … r11 i0 … k11
probe = nn.QMultiHeadAttention(E_Q, H_Q, fused_qkv=True).double()
probe.qkv_proj.weight.data[...] = 0.0
probe.qkv_proj.bias.data[...] = np.arange(3 * E_Q)
with hp.no_grad():
    chunk_tensors = probe.project_qkv(hp.tensor(np.zeros((1, 1, E_Q))))
chunks = dict(zip("qkv", (t.data[0, 0].astype(int) for t in chunk_tensors)))   # positions
chunk_names = {name: fused_labels[pos] for name, pos in chunks.items()}
for name, got in chunk_names.items():
    print(f"{name}: {' '.join(got)}")
assert list(chunk_names["q"]) == [f"r{n}" for n in range(12)] + [f"i{n}" for n in range(4)]
assert list(chunk_names["k"]) == [f"i{n}" for n in range(4, 12)] + [f"j{n}" for n in range(8)]
assert list(chunk_names["v"]) == [f"j{n}" for n in range(8, 12)] + [f"k{n}" for n in range(12)]

# %% [markdown]
# q holds *every* real part plus four i parts; k some i and j parts; v some j parts and
# every k part.  The four components of unit n sit at n, n + 12, n + 24, n + 36 — spread
# over more than E = 16 positions, so no chunk can hold one whole quaternion; here no
# chunk holds more than two components of any unit.  Heads are contiguous slices of the
# chunks (there are no whole quaternions left to keep together):

# %%
fused_heads = {}
for name in "qkv":
    pos_heads = probe.split(hp.tensor(chunks[name][None, None].astype(float)))
    fused_heads[name] = fused_labels[pos_heads.data[0, :, 0].astype(int)]      # (H, d)
    for h in range(H_Q):
        print(f"{name} head {h}: {' '.join(fused_heads[name][h])}")
for name, got in chunk_names.items():
    _, per_unit_count = np.unique([n[1:] for n in got], return_counts=True)
    assert whole_units(got) == [] and per_unit_count.max() <= 2
assert set(n[0] for n in fused_heads["q"][0]) == {"r"}        # q head 0: 8 real parts

# %% [markdown]
# Compare the separate projections (the default): q, k and v each come from their own
# QLinear(E, E), so each is a planar vector of E/4 whole units, and each head gets whole
# ones (section 4).  The difference shows in what a score multiplies together.  Element
# j of a query head is multiplied with element j of the key head:
#
# * separate: "r0" of q with "r0" of k, "i0" with "i0", … — the same component of the
#   same unit, so a score is Σ_n Re(conj(q_n) ⊗ k_n);
# * fused: q head 0 is r0 … r7 and k head 0 is i4 … i11, so a score multiplies real
#   parts of some units with i parts of other units — never the same component, and
#   not a sum of quaternion inner products.

# %%
def pairs(query_names, key_names):
    return " ".join(f"{a}·{b}" for a, b in zip(query_names, key_names))


separate_heads = q_heads                                    # the same names for q, k and v
print("pairs multiplied in a head-0 score:")
print("  separate:", pairs(separate_heads[0], separate_heads[0]))
print("  fused:   ", pairs(fused_heads["q"][0], fused_heads["k"][0]))
for h in range(H_Q):
    for a, b in zip(fused_heads["q"][h], fused_heads["k"][h]):
        assert a[0] != b[0]                                 # fused: never the same component

# %% [markdown]
# The same happens on the way out.  A head's output is a weighted sum of its value rows,
# so it carries v's labels, and merging puts them back in v's order.  qytorch's out_proj
# is a real Linear, to which the order of its inputs means nothing; in this library's
# fused mode out_proj stays a QLinear(E, E), which reads its input as planar
# [r | i | j | k] of 4 units.  Its first input quaternion, for instance, is put together
# from the j part of unit 8 (in its real slot) and the k parts of units 0, 4 and 8:

# %%
with hp.no_grad():
    v_pos = hp.tensor(chunks["v"][None, None].astype(float))
    into_out_proj = fused_labels[probe.merge(probe.split(v_pos)).data[0, 0].astype(int)]
for comp, block in zip("rijk", into_out_proj.reshape(4, 4)):
    print(f"out_proj reads as its {comp} parts:", " ".join(block))
assert set(n[0] for n in into_out_proj[:4]) == {"j"}       # its "real parts" are j parts
assert whole_units(into_out_proj) == []
unit0 = [str(n) for n in into_out_proj.reshape(4, 4)[:, 0]]   # out_proj's input unit 0
print("out_proj's input quaternion 0, as (r, i, j, k):", unit0)
assert unit0 == ["j8", "k0", "k4", "k8"]                   # pieces of 3 different units

# %% [markdown]
# Both layouts have the same number of parameters — QLinear(E, 3E) has 3E²/4 weights,
# like three QLinear(E, E) — and the same arithmetic; only the wiring differs.  Whether
# the wiring matters for training is a question for an experiment, not for this lesson.

# %%
assert fused.num_parameters() == qmha.num_parameters() == E_Q * E_Q + 4 * E_Q
assert fused.qkv_proj.weight.size == 3 * (E_Q * E_Q // 4)

# %% [markdown]
# ## 6. Causality, end to end
#
# Section 1 checked the mask on one head.  Now the complete layers with `causal=True`:
# projections, heads, attention, merge, output projection.  The projections act on each
# position separately, so the mask is the only place where positions meet; changing the
# inputs after t must leave the outputs at 0..t exactly as they were.  A non-causal
# layer is the control: there, the earlier outputs move too.  We also check it with
# gradients: the output at t has zero gradient with respect to every later input.

# %%
x_c = rng.standard_normal((B, 6, E_Q))
layers = {"MultiHeadAttention": nn.MultiHeadAttention(E_Q, H_Q, causal=True),
          "QMultiHeadAttention": nn.QMultiHeadAttention(E_Q, H_Q, causal=True),
          "QMultiHeadAttention fused": nn.QMultiHeadAttention(E_Q, H_Q, causal=True,
                                                              fused_qkv=True)}
for name, layer in layers.items():
    layer.double()
    with hp.no_grad():
        y_before = layer(hp.tensor(x_c)).data
    for t in range(x_c.shape[1] - 1):
        x_changed = x_c.copy()
        x_changed[:, t + 1:] = rng.standard_normal(x_changed[:, t + 1:].shape)
        with hp.no_grad():
            y_after = layer(hp.tensor(x_changed)).data
        assert np.array_equal(y_before[:, :t + 1], y_after[:, :t + 1]), (name, t)
        assert not np.allclose(y_before[:, t + 1:], y_after[:, t + 1:])
        x_t = hp.tensor(x_c.copy(), requires_grad=True)
        layer(x_t)[:, t].sum().backward()
        assert np.all(x_t.grad[:, t + 1:] == 0) and np.any(x_t.grad[:, :t + 1] != 0)
    layer.causal = False                                       # the control
    with hp.no_grad():
        y_open = layer(hp.tensor(x_c)).data
        y_open_changed = layer(hp.tensor(x_changed)).data
    assert not np.allclose(y_open[:, :-1], y_open_changed[:, :-1])
    print(f"{name:<26} causal: outputs at 0..t ignore inputs after t (exactly)")

# %% [markdown]
# ## Summary
#
# * Attention: S = Q Kᵀ/√d, P = softmax(S) by rows, Y = P V.  Dot products of d random
#   unit-variance entries have variance d; the 1/√d keeps scores at variance 1 and the
#   softmax out of saturation.
# * Causal masking sets S[t, s] = −∞ for s > t, so P[t, s] = 0 exactly and outputs at t
#   never depend on later positions.
# * Backward: dV = Pᵀ G, dP = G Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS K/√d,
#   dK = dSᵀ Q/√d; rows of dS sum to zero; in self-attention dX sums three paths.
# * Multi-head: slices of d = E/H features per head, attend, concatenate, out_proj.
# * Quaternion attention: Hamilton projections (E² weights instead of 4E²); each head
#   takes whole quaternion units, planar, and its score is Σ_n Re(conj(q_n) ⊗ k_n),
#   because Re(conj(p) ⊗ q) = p·q.
# * qytorch's fused QLinear(E, 3E) cut into thirds gives q, k and v pieces of different
#   components of different units: no head sees a whole quaternion, scores multiply
#   different components, and (with a QLinear out_proj, as here) j and k parts arrive
#   in its real and i slots.  Same parameter count, different wiring.

# %%
print(f"Lesson 6: all checks passed in {time.perf_counter() - LESSON_START:.1f} s.")
