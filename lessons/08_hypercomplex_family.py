# %% [markdown]
# # Lesson 8: one family of hypercomplex layers — tables, rules, Kronecker sums
#
# The quaternion layer of lessons 1 and 3 is one point in a family.  Every algebra of
# dimension n is a multiplication table; every layer built on it computes y = M x with a
# real block matrix M assembled from n component matrices.  Write that assembly as a sum
# of Kronecker products and the table becomes a tensor of n "rules" A_i; let the rules be
# learned and the network picks its own algebra: that is the PHM layer of Zhang et al.
# (ICLR 2021), H = Σ A_i ⊗ S_i.
#
# 1. From the quaternion table to structure constants and rule tensors.
# 2. The Kronecker-sum layer, and its backward derived by hand (and checked).
# 3. Octonions: the next Cayley–Dickson doubling, no longer associative — numerically.
# 4. Learning the rules: a PHM layer that learns the Hamilton product from examples.

# %%
import os

import numpy as np

import hyperprune as hp
from hyperprune import functional as F, nn, optim
from hyperprune.algebra import COMPLEX, OCTONION, QUATERNION, cayley_dickson

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=3, suppress=True, linewidth=100)
rng = np.random.default_rng(8)

# %% [markdown]
# ## 1. Tables, structure constants, rules
#
# A basis e_0 = 1, e_1, …, e_{n-1} and a product e_a e_b = sign[a, b] e_{index[a, b]} are
# the whole algebra.  The same information as *structure constants*: the real numbers
# γ[a, b, c] with e_a e_b = Σ_c γ[a, b, c] e_c (here each row has a single ±1).

# %%
Q = QUATERNION
print("index (e_a e_b = ± e_index):\n", Q.index)
print("sign:\n", Q.sign)
gamma = np.zeros((4, 4, 4))
for a in range(4):
    for b in range(4):
        gamma[a, b, Q.index[a, b]] = Q.sign[a, b]
p, q = rng.standard_normal((2, 4))
assert np.allclose(np.einsum("a,b,abc->c", p, q, gamma), Q.multiply(p, q))

# %% [markdown]
# A layer y = W ⊗ x with weight components W_a (each out_q × in_q) puts W_a, with a sign,
# into block (c, b) of its matrix wherever e_a e_b = ± e_c.  So block (c, b) holds
# sign · W_{a(c, b)}, and the matrix is a **sum of Kronecker products**:
#
#     M = Σ_i A_i ⊗ W_i,   A_i[c, b] = the sign with which component i enters block (c, b)
#
# The n matrices A_i (each n × n, entries 0 and ±1, one nonzero per row and column) are the
# rule tensor of the algebra, `Algebra.rules`.  Check it against the block matrix the
# quaternion layer has always used:

# %%
A = Q.rules
for i, name in enumerate("rijk"):
    print(f"A_{name} =\n{A[i].astype(int)}")
W = rng.standard_normal((4, 2, 3))
M = sum(np.kron(A[i], W[i]) for i in range(4))
assert np.array_equal(M, Q.block_matrix(W))
assert np.array_equal(np.abs(A).sum(axis=0), np.ones((4, 4)))   # each block: one W_i

# %% [markdown]
# ## 2. The Kronecker-sum layer and its backward, by hand
#
# A PHM layer has rules A (n, n, n) and weight S (n, out/n, in/n) and computes y = H x + b
# with H = Σ_i A_i ⊗ S_i.  In index form (row r = p·out_q + a, column c = q·in_q + b):
#
#     H[p, a, q, b] = Σ_i A_i[p, q] S_i[a, b]
#
# Given G = dL/dH (what a linear layer's backward hands to its weight, G = dyᵀ x), the
# chain rule through that bilinear formula gives, read off term by term:
#
#     dL/dA_i[p, q] = Σ_{a,b} G[p, a, q, b] S_i[a, b] = ⟨G_pq, S_i⟩
#     dL/dS_i[a, b] = Σ_{p,q} A_i[p, q] G[p, a, q, b]  = Σ_pq A_i[p, q] G_pq
#
# Let us compute both by hand with loops and compare with central differences and the
# library's `F.kronecker_sum`.

# %%
n, oq, iq = 4, 2, 3
A0 = rng.standard_normal((n, n, n))
S0 = rng.standard_normal((n, oq, iq))
G = rng.standard_normal((n * oq, n * iq))                 # an upstream dL/dH
G4 = G.reshape(n, oq, n, iq)                              # [p, a, q, b]
dA = np.zeros_like(A0)
dS = np.zeros_like(S0)
for i in range(n):
    for p_ in range(n):
        for q_ in range(n):
            block = G4[p_, :, q_, :]                      # G_pq
            dA[i, p_, q_] = (block * S0[i]).sum()
            dS[i] += A0[i, p_, q_] * block


def loss(a, s):
    return (sum(np.kron(a[i], s[i]) for i in range(n)) * G).sum()   # <H, G>


eps = 1e-6
num_A = np.zeros_like(A0)
for idx in np.ndindex(*A0.shape):
    d = np.zeros_like(A0)
    d[idx] = eps
    num_A[idx] = (loss(A0 + d, S0) - loss(A0 - d, S0)) / (2 * eps)
print("max |dA - numerical|:", np.abs(dA - num_A).max())
assert np.abs(dA - num_A).max() < 1e-6

a_t = hp.tensor(A0, requires_grad=True)
s_t = hp.tensor(S0, requires_grad=True)
F.kronecker_sum(a_t, s_t).backward(hp.tensor(G))
assert np.allclose(a_t.grad, dA, atol=1e-12) and np.allclose(s_t.grad, dS, atol=1e-12)
print("library backward == hand-derived")

# %% [markdown]
# With fixed quaternion rules the PHM layer *is* QLinear: same output, same gradients.
# With learned rules it costs n³ more parameters — 64 for n = 4, nothing next to the
# quarter of the weights it saves.  (At small batches the library does not form H at all:
# `F.phm_linear` multiplies the input by every S_i in one GEMM and lets the rules combine
# the products — the same trick as the hypercomplex layer's small-batch order; both
# orders agree to rounding.)

# %%
hp.manual_seed(0)
with hp.use_backend(dtype="float64"):
    ql = nn.QLinear(8, 12)
    pl = nn.PHMLinear(8, 12, 4, rules="quaternion")
    pl.weight.data[...] = ql.weight.data
    x = hp.tensor(rng.standard_normal((5, 8)))
    assert np.allclose(ql(x).data, pl(x).data, atol=1e-12)
    learned = nn.PHMLinear(784, 300, 4)
print("PHMLinear(784, 300, 4):", learned.num_parameters(), "parameters vs",
      nn.Linear(784, 300).num_parameters(), "for Linear")

# %% [markdown]
# ## 3. Octonions: doubling once more
#
# The Cayley–Dickson construction makes an algebra of dimension 2m from one of dimension m:
# pairs (a, b) with (a, b)(c, d) = (ac − d̄ b, d a + b c̄).  From the reals it gives the
# complex numbers, then the quaternions (the very table above), then the octonions.  Each
# doubling loses a property: complex numbers lose ordering, quaternions commutativity,
# octonions **associativity**.  What survives: the norm is multiplicative and the algebra
# is *alternative*, x(xy) = (xx)y.

# %%
for k, algebra in ((1, COMPLEX), (2, QUATERNION)):
    index, sign = cayley_dickson(k)
    assert np.array_equal(index, algebra.index) and np.array_equal(sign, algebra.sign)
O = OCTONION
x, y, z = rng.standard_normal((3, 8))
left, right = O.multiply(x, O.multiply(y, z)), O.multiply(O.multiply(x, y), z)
print("x(yz) =", left)
print("(xy)z =", right)
print("associator |x(yz) - (xy)z| =", np.linalg.norm(left - right))
assert np.linalg.norm(left - right) > 1e-3
assert np.allclose(O.multiply(x, O.multiply(x, y)), O.multiply(O.multiply(x, x), y))
assert np.isclose(np.linalg.norm(O.multiply(x, y)), np.linalg.norm(x) * np.linalg.norm(y))

# %% [markdown]
# A layer never multiplies three octonions: y = W ⊗ x is one product per weight and
# input, a bilinear map, so the octonion layer is the same code as every other (its
# 8 × 8 table in place of the 4 × 4 one), with an eighth of a real layer's weights.

# %%
Wo = rng.standard_normal((8, 1, 1))
xo = rng.standard_normal((1, 8))
yo = F.hypercomplex_linear(hp.tensor(xo), hp.tensor(Wo), algebra=O)
assert np.allclose(yo.data[0], O.multiply(Wo[:, 0, 0], xo[0]))

# %% [markdown]
# ## 4. Learning the algebra
#
# Can a PHM layer *find* the Hamilton product?  HyperNets' tutorial asks it with a clean
# experiment: the rules A are the only parameters; every training example brings its own
# quaternion weight S (random integers) and input x, and the target is the Hamilton
# product W ⊗ x.  If the loss reaches zero for every S, then Σ A_i ⊗ S_i equals the
# quaternion block matrix for all S, which forces A_i to be the table's rules exactly.
#
# (With one fixed weight the rules could not be identified: replacing A by A·T and S by
# T⁻¹·S, for any invertible 4 × 4 mixing T of the n terms, gives the same H.  It is the
# variety of S across examples that pins A down.)

# %%
hp.manual_seed(0)
steps = 1500 if FAST else 3000
with hp.use_backend(dtype="float64"):
    rules = nn.Parameter(hp.tensor(rng.uniform(-0.07, 0.07, (4, 4, 4))))
    opt = optim.Adam([rules], lr=5e-3)
    for step in range(steps):
        s = rng.integers(-10, 10, (4, 2, 2)).astype(np.float64)
        xs = rng.integers(-10, 10, (2, 8)).astype(np.float64)
        target = F.hamilton_linear(hp.tensor(xs), hp.tensor(s)).data
        loss = F.mse_loss(F.phm_linear(hp.tensor(xs), rules, hp.tensor(s)),
                          hp.tensor(target))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps - 1:
            print(f"step {step:5d}   loss {loss.item():.2e}")
learned_rules = rules.data
print("learned A_i, rounded:")
for i, name in enumerate("rijk"):
    print(f"A_{name} =\n{learned_rules[i].round(3)}")
assert loss.item() < 1e-3
assert np.abs(learned_rules - QUATERNION.rules).max() < 0.05    # the Hamilton table

# %% [markdown]
# Every learned A_i is a signed permutation matrix — the quaternion table of section 1.
# In a network trained on a task, the rules are free to settle anywhere: the lottery
# experiment `results/algebras` compares such learned-rule (PHM) networks with real,
# complex, quaternion and octonion ones under extreme pruning.
