# %% [markdown]
# # Lesson 1: quaternion algebra
#
# The networks in this course replace real numbers by **quaternions**.  Before a quaternion
# layer makes sense we need the algebra itself: what a quaternion is, how two of them
# multiply, and why that multiplication is a 4×4 matrix with only 4 free numbers (the
# reason a quaternion layer has 4× fewer parameters than a real one).
#
# You need: linear algebra (matrices, dot and cross products).  No quaternions assumed.
#
# Every claim below is checked by an `assert`, so running this file top to bottom
# (`python lessons/01_quaternion_algebra.py`) is also a test of the lesson.

# %%
import math

import numpy as np

from hyperprune import quaternion as Q  # installed by the README's commands (pip install -e .)

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. What a quaternion is
#
# A quaternion is a number with one real and three imaginary parts,
#
#     q = w + x i + y j + z k        (w, x, y, z real)
#
# stored here as the array `[w, x, y, z]`, **scalar first**.  `w` is the *scalar* (real)
# part and `(x, y, z)` the *vector* part.  Adding quaternions and multiplying them by real
# numbers works component-wise, exactly like vectors in R⁴.  What is new is the product of
# two quaternions, fixed by Hamilton's rule (carved into a Dublin bridge in 1843):
#
#     i² = j² = k² = ijk = -1
#
# Everything else follows.  For example, multiply ijk = -1 on the right by k:
# ij·k·k = -k, and k² = -1, so **ij = k**.  In the same way jk = i and ki = j.  But
# ji = -k: swapping two imaginary units flips the sign, so the product is **not
# commutative**.  The full table of e_a · e_b for the basis (1, i, j, k):
#
#             1    i    j    k
#         1 | 1    i    j    k
#         i | i   -1    k   -j
#         j | j   -k   -1    i
#         k | k    j   -i   -1
#
# We store it as data: `TABLE[a][b] = (sign, c)` means e_a · e_b = sign · e_c.

# %%
BASIS = ["1", "i", "j", "k"]
TABLE = [[(+1, 0), (+1, 1), (+1, 2), (+1, 3)],   # 1·1, 1·i, 1·j, 1·k
         [(+1, 1), (-1, 0), (+1, 3), (-1, 2)],   # i·1, i·i, i·j, i·k
         [(+1, 2), (-1, 3), (-1, 0), (+1, 1)],   # j·1, j·i, j·j, j·k
         [(+1, 3), (+1, 2), (-1, 1), (-1, 0)]]   # k·1, k·i, k·j, k·k


def unit_product(a, b):
    """(sign, c) with e_a e_b = sign e_c, read from the table."""
    return TABLE[a][b]


def show(sign, c):
    return ("-" if sign < 0 else "") + BASIS[c]


# The table really encodes i² = j² = k² = ijk = -1:
for a in (1, 2, 3):
    print(f"{BASIS[a]}² = {show(*unit_product(a, a))}")
    assert unit_product(a, a) == (-1, 0)
sign_ij, ij = unit_product(1, 2)             # ij = k
sign_ijk, ijk = unit_product(ij, 3)          # (ij)k = k·k
print("ijk =", show(sign_ij * sign_ijk, ijk))
assert (sign_ij * sign_ijk, ijk) == (-1, 0)
assert unit_product(1, 2) == (+1, 3) and unit_product(2, 1) == (-1, 3)  # ij = k, ji = -k

# %% [markdown]
# ## 2. The Hamilton product, by hand
#
# To multiply p = a + b i + c j + d k by q = e + f i + g j + h k, expand the product term
# by term (16 terms, each a product of two basis elements) and collect by basis element.
# First let the table do the bookkeeping:

# %%
def product_from_table(p, q):
    """p ⊗ q by expanding (Σ_a p_a e_a)(Σ_b q_b e_b) = Σ_ab p_a q_b sign_ab e_c(ab)."""
    result = np.zeros(4)
    for a in range(4):
        for b in range(4):
            sign, c = unit_product(a, b)
            result[c] += sign * p[a] * q[b]
    return result


# %% [markdown]
# Collecting the 16 terms by hand gives the formula everyone writes down (read each line
# off the table: e.g. the i-component gets a·f from 1·i, b·e from i·1, c·h from j·k = i,
# and -d·g from k·j = -i):
#
#     w = a e - b f - c g - d h
#     x = a f + b e + c h - d g
#     y = a g - b h + c e + d f
#     z = a h + b g - c f + d e
#
# In plain NumPy, component-wise (the `...` lets it work on whole batches at once):

# %%
def hamilton_by_hand(p, q):
    a, b, c, d = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    e, f, g, h = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([a * e - b * f - c * g - d * h,
                     a * f + b * e + c * h - d * g,
                     a * g - b * h + c * e + d * f,
                     a * h + b * g - c * f + d * e], axis=-1)


p = np.array([1.0, 2.0, 3.0, 4.0])
q = np.array([5.0, 6.0, 7.0, 8.0])
print("(1,2,3,4) ⊗ (5,6,7,8) by hand:     ", hamilton_by_hand(p, q))
print("(1,2,3,4) ⊗ (5,6,7,8) from table:  ", product_from_table(p, q))
assert np.array_equal(hamilton_by_hand(p, q), [-60, 12, 30, 24])
assert np.array_equal(product_from_table(p, q), [-60, 12, 30, 24])

# The hand-written formula agrees with the table on random quaternions too:
for _ in range(5):
    p_rand, q_rand = rng.normal(size=4), rng.normal(size=4)
    assert np.allclose(hamilton_by_hand(p_rand, q_rand), product_from_table(p_rand, q_rand))

# %% [markdown]
# The library's `hyperprune.quaternion.hamilton_product` is the same formula, with shape
# checks, broadcasting over leading axes, and support for GPU arrays:

# %%
pq = Q.hamilton_product(p, q)
print("Q.hamilton_product(p, q) =", pq)
assert np.array_equal(pq, [-60, 12, 30, 24])

batch_p, batch_q = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))  # three pairs at once
assert np.allclose(Q.hamilton_product(batch_p, batch_q), hamilton_by_hand(batch_p, batch_q))

# %% [markdown]
# ## 3. Not commutative, but associative
#
# ij = k but ji = -k.  For general quaternions, writing p = (w_p, v_p) and q = (w_q, v_q)
# (scalar and vector parts), the product is
#
#     p ⊗ q = (w_p w_q - v_p·v_q,   w_p v_q + w_q v_p + v_p × v_q)
#
# Only the cross product depends on the order, so p⊗q - q⊗p = (0, 2 v_p × v_q): two
# quaternions commute exactly when their vector parts are parallel.  The product *is*
# associative, (p⊗q)⊗r = p⊗(q⊗r), like matrix multiplication.

# %%
one, i, j, k = np.eye(4)
print("i ⊗ j =", Q.hamilton_product(i, j), "  j ⊗ i =", Q.hamilton_product(j, i))
assert np.array_equal(Q.hamilton_product(i, j), k)
assert np.array_equal(Q.hamilton_product(j, i), -k)

qp = Q.hamilton_product(q, p)
print("p ⊗ q =", pq, "  q ⊗ p =", qp)
assert not np.allclose(pq, qp)
assert np.allclose(pq - qp, np.concatenate([[0.0], 2 * np.cross(p[1:], q[1:])]))

# The scalar/vector formula agrees with the component formula:
scalar_vector = np.concatenate([[p[0] * q[0] - p[1:] @ q[1:]],
                                p[0] * q[1:] + q[0] * p[1:] + np.cross(p[1:], q[1:])])
assert np.allclose(scalar_vector, pq)

r = rng.normal(size=4)
assert np.allclose(Q.hamilton_product(Q.hamilton_product(p, q), r),
                   Q.hamilton_product(p, Q.hamilton_product(q, r)))

# %% [markdown]
# ## 4. Conjugate, norm, inverse
#
# * The **conjugate** flips the vector part: conj(w, x, y, z) = (w, -x, -y, -z).  As with
#   matrix transposes, it reverses products: conj(p⊗q) = conj(q)⊗conj(p).
# * q ⊗ conj(q) = w² + x² + y² + z², a real number: the squared **norm**.  The norm
#   |q| = sqrt(w² + x² + y² + z²) is the length of q as a vector of R⁴, and it is
#   multiplicative: |p⊗q| = |p| |q|.
# * Hence the **inverse** q⁻¹ = conj(q) / |q|², with q⊗q⁻¹ = q⁻¹⊗q = 1.  Every nonzero
#   quaternion has one (quaternions form a *division algebra*).
#
# **Pitfall.** In the popular `numpy-quaternion` package, `q.norm()` returns the *squared*
# magnitude (the "Cayley norm", 30 for (1,2,3,4)); its magnitude is `abs(q)`.  In
# hyperprune, `norm` is the magnitude, sqrt(30) ≈ 5.477.  Code ported between the two
# silently changes by a square if you are not careful.

# %%
print("conj(p) =", Q.conjugate(p))
assert np.array_equal(Q.conjugate(p), [1, -2, -3, -4])
assert np.allclose(Q.conjugate(pq), Q.hamilton_product(Q.conjugate(q), Q.conjugate(p)))

p_conj_p = Q.hamilton_product(p, Q.conjugate(p))
print("p ⊗ conj(p) =", p_conj_p, "   |p| =", Q.norm(p), "   |p|² =", Q.norm(p) ** 2)
assert np.allclose(p_conj_p, [30, 0, 0, 0])
assert math.isclose(Q.norm(p), math.sqrt(30))  # the magnitude, not 30
assert math.isclose(Q.norm(pq), Q.norm(p) * Q.norm(q))

p_inv = Q.inverse(p)
print("p⁻¹ =", p_inv, "   p ⊗ p⁻¹ =", Q.hamilton_product(p, p_inv))
assert np.allclose(Q.hamilton_product(p, p_inv), one)
assert np.allclose(Q.hamilton_product(p_inv, p), one)

# The zero quaternion has no inverse; the library says so instead of returning NaN:
try:
    Q.inverse(np.zeros(4))
except ValueError as err:
    print("Q.inverse(0) raised:", err)
else:
    raise AssertionError("inverse of zero should fail")

# %% [markdown]
# ## 5. Rotations: v ↦ q v q⁻¹
#
# Treat a 3-vector v as the *pure* quaternion (0, v).  For any nonzero q, the map
#
#     v  ↦  q ⊗ (0, v) ⊗ q⁻¹
#
# gives again a pure quaternion, of the same length (the norm is multiplicative and
# |q| |q⁻¹| = 1): it is a rotation of R³.  The unit quaternion
#
#     q = (cos(θ/2),  sin(θ/2) n)          (n a unit axis)
#
# rotates by the angle θ about n (right-hand rule).  Note the **half** angle: q appears
# twice in q v q⁻¹, so each copy turns "half way".  A consequence: q and -q give the same
# rotation (quaternions cover the rotations twice).
#
# Example: 90° about z should map x to y.

# %%
theta = math.pi / 2
quarter_turn_z = np.array([math.cos(theta / 2), 0, 0, math.sin(theta / 2)])
x_axis, y_axis, z_axis = np.eye(3)

# by the definition, with nothing but products:
rotated = Q.hamilton_product(Q.hamilton_product(quarter_turn_z, np.concatenate([[0.0], x_axis])),
                             Q.inverse(quarter_turn_z))
print("q ⊗ (0, x) ⊗ q⁻¹ =", rotated)
assert np.allclose(rotated, [0, 0, 1, 0])               # (0, y): x went to y
assert np.allclose(Q.rotate(quarter_turn_z, x_axis), y_axis)
assert np.allclose(Q.rotate(quarter_turn_z, z_axis), z_axis)  # the axis stays put
assert np.allclose(Q.rotate(-quarter_turn_z, x_axis), y_axis)  # -q: the same rotation
assert np.allclose(Q.from_axis_angle(z_axis, theta), quarter_turn_z)

v = rng.normal(size=3)
assert math.isclose(np.linalg.norm(Q.rotate(quarter_turn_z, v)), np.linalg.norm(v))

# %% [markdown]
# **Composition is multiplication.**  Rotating by q and then by p is rotating by p⊗q
# (the rightmost acts first, as with matrices):
#
#     p (q v q⁻¹) p⁻¹ = (p q) v (p q)⁻¹
#
# Example: 90° about z, then 90° about x.  x goes to y, which then goes to z.

# %%
quarter_turn_x = Q.from_axis_angle(x_axis, math.pi / 2)
both = Q.hamilton_product(quarter_turn_x, quarter_turn_z)   # z-turn first, then x-turn
print("x rotated by (x-turn ⊗ z-turn):", Q.rotate(both, x_axis))
assert np.allclose(Q.rotate(both, x_axis), z_axis)
assert np.allclose(Q.rotate(quarter_turn_x, Q.rotate(quarter_turn_z, v)), Q.rotate(both, v))
# The other order is a different rotation (non-commutativity, seen geometrically):
assert not np.allclose(Q.rotate(Q.hamilton_product(quarter_turn_z, quarter_turn_x), x_axis),
                       z_axis)

# The same rotations as 3×3 matrices: the product of matrices matches the product of
# quaternions, and the matrix is orthogonal with determinant 1.
R_x, R_z, R_both = (Q.to_rotation_matrix(t) for t in (quarter_turn_x, quarter_turn_z, both))
print("rotation matrix of x-turn ⊗ z-turn:\n", R_both)
assert np.allclose(R_x @ R_z, R_both)
assert np.allclose(R_both @ v, Q.rotate(both, v))
assert np.allclose(R_both.T @ R_both, np.eye(3)) and math.isclose(np.linalg.det(R_both), 1)
assert np.allclose(Q.from_rotation_matrix(R_both), both)  # back again (this one has w > 0)

# %% [markdown]
# ## 6. Multiplication is a matrix — with only 4 free numbers
#
# For a fixed p, the map q ↦ p⊗q is linear in q (every term of the formula in section 2 is
# one component of p times one component of q).  So it is a 4×4 real matrix, L(p), with
# p⊗q = L(p) q.  Its rows are the coefficients of (e, f, g, h) in the four lines of the
# formula:
#
#     L(w, x, y, z) = [[w, -x, -y, -z],
#                      [x,  w, -z,  y],
#                      [y,  z,  w, -x],
#                      [z, -y,  x,  w]]
#
# Likewise p ↦ p⊗q is linear in p: p⊗q = R(q) p, with
#
#     R(w, x, y, z) = [[w, -x, -y, -z],
#                      [x,  w,  z, -y],
#                      [y, -z,  w,  x],
#                      [z,  y, -x,  w]]
#
# They differ only in the signs of the lower-right 3×3 block (the cross product): that
# is the non-commutativity again.

# %%
def left_by_hand(p):
    w, x, y, z = p
    return np.array([[w, -x, -y, -z],
                     [x, w, -z, y],
                     [y, z, w, -x],
                     [z, -y, x, w]])


L_p = left_by_hand(p)
print("L(1,2,3,4) =\n", L_p)
print("L(p) @ q =", L_p @ q, " (= p ⊗ q)")
assert np.array_equal(L_p, Q.left_matrix(p))
assert np.array_equal(L_p @ q, pq)
assert np.array_equal(Q.right_matrix(q) @ p, pq)

# Column b of L(p) is p ⊗ e_b (multiply by the basis quaternion 1, i, j or k):
for b, e_b in enumerate(np.eye(4)):
    assert np.array_equal(L_p[:, b], Q.hamilton_product(p, e_b))

# Transposing is conjugating, and L(p)ᵀ L(p) = |p|² I: multiplying by a unit quaternion
# is a rotation of R⁴ (it preserves lengths, which is why |p⊗q| = |p||q|).
assert np.array_equal(L_p.T, Q.left_matrix(Q.conjugate(p)))
assert np.array_equal(Q.right_matrix(q).T, Q.right_matrix(Q.conjugate(q)))
assert np.allclose(L_p.T @ L_p, Q.norm(p) ** 2 * np.eye(4))

# %% [markdown]
# ### The punchline: 4× fewer parameters
#
# A real 4×4 matrix has **16** free numbers; L(p) has **4**, repeated with signs.  Now take
# a layer: a real dense layer from 4m inputs to 4n outputs has a (4n × 4m) weight,
# 16·n·m numbers.  A *quaternion* layer treats the same inputs as m quaternions and the
# outputs as n quaternions, with an (n × m) matrix of quaternion weights W:
#
#     y_o = Σ_i  W_oi ⊗ x_i
#
# As a real matrix this is the (4n × 4m) block matrix whose (o, i) block is L(W_oi): the
# same shape as the real layer's weight, but built from only 4·n·m numbers, a quarter.
# The weight sharing forces all 4 components of each input to be mixed by the same
# (scaled) 4-D rotation, which is the prior quaternion networks bet on.

# %%
n_out, n_in = 2, 3                                   # quaternions out, quaternions in
W = rng.normal(size=(n_out, n_in, 4))                # the quaternion weights: 4·n·m numbers
x = rng.normal(size=(n_in, 4))                       # one input: n_in quaternions

y_quaternion = Q.hamilton_product(W, x).sum(axis=1)  # y_o = Σ_i W_oi ⊗ x_i  (broadcasting)

# The same layer as one big real matrix of L-blocks, applied to the 4·n_in real inputs:
big = np.block([[Q.left_matrix(W[o, i]) for i in range(n_in)] for o in range(n_out)])
y_real = big @ x.reshape(-1)
print(f"real matrix shape {big.shape}: {big.size} entries, {W.size} free numbers")
assert big.shape == (4 * n_out, 4 * n_in)
assert np.allclose(y_real, y_quaternion.reshape(-1))
assert big.size == 4 * W.size                        # 4× fewer parameters
assert len(np.unique(np.abs(big))) == W.size         # only the 4·n·m numbers of W appear

# %% [markdown]
# The layers in `hyperprune.nn` (ops in `hyperprune.functional`, tables in
# `hyperprune.algebra`) compute exactly this product with the weight
# on the left, y = W ⊗ x, but store features *planar*: all real parts first, then all i
# parts, and so on ([r | i | j | k]).  That only permutes the rows and columns of the big
# matrix into 4×4 blocks of n×m matrices, [[R, -I, -J, -K], [I, R, -K, J], [J, K, R, -I],
# [K, -J, I, R]] — the same sign pattern as L(p), one level up:

# %%
R_, I_, J_, K_ = (W[..., c] for c in range(4))       # component matrices, each (n_out, n_in)
planar = np.block([[R_, -I_, -J_, -K_],
                   [I_, R_, -K_, J_],
                   [J_, K_, R_, -I_],
                   [K_, -J_, I_, R_]])
rows = np.arange(4 * n_out).reshape(n_out, 4).T.reshape(-1)   # interleaved -> planar order
cols = np.arange(4 * n_in).reshape(n_in, 4).T.reshape(-1)
assert np.array_equal(planar, big[np.ix_(rows, cols)])
assert np.allclose(planar @ x.T.reshape(-1), y_quaternion.T.reshape(-1))

# %% [markdown]
# ## 7. Also in the module
#
# `hyperprune.quaternion` has a few more tools, used later in the course: `exp` and `log`
# (exp(w + v) = e^w (cos|v| + v/|v| sin|v|), so a unit quaternion is exp of half its
# rotation vector), `slerp` (interpolation of rotations at constant angular speed), and
# conversions to and from rotation matrices.  A quick taste:

# %%
rotation_vector = np.array([0.0, 0.0, 0.0, theta / 2])       # (0, θ/2 · n) with n = z
assert np.allclose(Q.exp(rotation_vector), quarter_turn_z)
assert np.allclose(Q.log(quarter_turn_z), rotation_vector)
half_way = Q.slerp(Q.identity(dtype=np.float64), quarter_turn_z, 0.5)  # 45° about z
print("slerp(1, quarter turn, 0.5) =", half_way)
assert np.allclose(half_way, Q.from_axis_angle(z_axis, math.pi / 4))

# %% [markdown]
# ## Summary
#
# * q = w + xi + yj + zk, with i² = j² = k² = ijk = -1; stored scalar first.
# * The Hamilton product is bilinear, associative, and not commutative
#   (p⊗q - q⊗p = 2 v_p × v_q).
# * conj flips the vector part; |q| is the Euclidean length (not its square, unlike
#   numpy-quaternion's `norm()`); q⁻¹ = conj(q)/|q|².
# * v ↦ q v q⁻¹ rotates 3-vectors; composing rotations is multiplying quaternions.
# * p⊗q = L(p) q: a 4×4 real matrix with 4 free numbers — a quaternion layer is a real
#   layer with a weight-sharing pattern that uses 4× fewer parameters.

# %%
print("Lesson 1: all checks passed.")
