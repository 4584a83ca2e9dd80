"""Tests of hyperprune.quaternion: known values, algebraic properties, errors.

Property tests draw seeded random quaternions for several batch shapes (() is a single
quaternion, an array of shape (4,)) and run on two backends: "numpy", and "strict", the
CuPy stand-in whose arrays refuse implicit conversion to NumPy, so a pass there proves
that no function converts its inputs or results to NumPy behind the caller's back.
"""
import math

import numpy as np
import pytest

from hyperprune import quaternion as Q
from hyperprune import strict

SEEDS = [0, 1, 2]
SHAPES = [(), (5,), (2, 3)]
TOL = dict(rtol=1e-10, atol=1e-10)


class Backend:
    """Moves test data onto a backend (`put`) and results back to NumPy (`get`)."""

    def __init__(self, name):
        self.name = name

    def put(self, a):
        a = np.asarray(a, dtype=float)
        return strict.module.asarray(a) if self.name == "strict" else a

    def get(self, a):
        if self.name == "strict":
            assert isinstance(a, strict.ndarray), f"result left the device: {type(a)}"
            return a.get()
        assert isinstance(a, (np.ndarray, np.generic)), type(a)
        return np.asarray(a)


@pytest.fixture(params=["numpy", "strict"])
def bk(request):
    return Backend(request.param)


def random_quaternions(seed, shape, count=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape + (4,)) for _ in range(count)]


def random_unit(seed, shape, count=1):
    return [q / np.linalg.norm(q, axis=-1, keepdims=True)
            for q in random_quaternions(seed, shape, count)]


def same_rotation(a, b):
    """a == ±b per quaternion (q and -q are the same rotation); the sign of a·b decides."""
    sign = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -1.0, 1.0)
    np.testing.assert_allclose(a, sign * b, **TOL)


def angle_between(a, b):
    """Angle between 4-vectors a and b (accurate for small angles)."""
    return 2 * np.arctan2(np.linalg.norm(a - b, axis=-1), np.linalg.norm(a + b, axis=-1))


property_cases = pytest.mark.parametrize("seed,shape", [(s, sh) for s in SEEDS for sh in SHAPES])


# ----------------------------------------------------------------------------- known values
def test_reference_product(bk):
    """(1,2,3,4) ⊗ (5,6,7,8) = (-60, 12, 30, 24), and (5,6,7,8) ⊗ (1,2,3,4) differs."""
    p, q = bk.put([1, 2, 3, 4]), bk.put([5, 6, 7, 8])
    np.testing.assert_array_equal(bk.get(Q.hamilton_product(p, q)), [-60, 12, 30, 24])
    np.testing.assert_array_equal(bk.get(Q.hamilton_product(q, p)), [-60, 20, 14, 32])


def test_integer_inputs_from_lists():
    """Plain lists of ints work and the product stays exact."""
    np.testing.assert_array_equal(Q.hamilton_product([1, 2, 3, 4], [5, 6, 7, 8]),
                                  [-60, 12, 30, 24])


def test_unit_products_follow_hamilton(bk):
    """i² = j² = k² = ijk = -1;  ij = k, ji = -k;  jk = i, kj = -i;  ki = j, ik = -j."""
    one, i, j, k = (bk.put(row) for row in np.eye(4))
    prod = lambda a, b: bk.get(Q.hamilton_product(a, b))  # noqa: E731
    minus_one = [-1, 0, 0, 0]
    for unit in (i, j, k):
        np.testing.assert_array_equal(prod(unit, unit), minus_one)
    np.testing.assert_array_equal(bk.get(Q.hamilton_product(Q.hamilton_product(i, j), k)),
                                  minus_one)
    for a, b, c in ((i, j, k), (j, k, i), (k, i, j)):
        np.testing.assert_array_equal(prod(a, b), bk.get(c))
        np.testing.assert_array_equal(prod(b, a), -bk.get(c))
    np.testing.assert_array_equal(prod(one, j), bk.get(j))


def test_norm_is_the_magnitude_not_its_square(bk):
    """norm((1,2,3,4)) = sqrt(30), not 30 (numpy-quaternion's norm() would give 30)."""
    assert float(bk.get(Q.norm(bk.put([1, 2, 3, 4])))) == pytest.approx(math.sqrt(30))


def test_rotation_by_90_degrees_about_z(bk):
    """q = (cos 45°, 0, 0, sin 45°) maps x to y, y to -x, and keeps z; so does its matrix."""
    q = bk.put([math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)])
    v = bk.put(np.eye(3))
    expected = [[0, 1, 0], [-1, 0, 0], [0, 0, 1]]
    np.testing.assert_allclose(bk.get(Q.rotate(q, v)), expected, atol=1e-15)
    # the columns of R are the images of x, y, z
    np.testing.assert_allclose(bk.get(Q.to_rotation_matrix(q)), np.transpose(expected),
                               atol=1e-15)
    from_axis = Q.from_axis_angle(bk.put([0, 0, 2]), bk.put(math.pi / 2))
    np.testing.assert_allclose(bk.get(from_axis), bk.get(q), **TOL)


def test_identity():
    """identity() is (1, 0, 0, 0), batched by shape, with module and dtype from `like`."""
    np.testing.assert_array_equal(Q.identity(dtype=np.float64), [1, 0, 0, 0])
    like = strict.module.asarray(np.zeros((2, 4), dtype=np.float32))
    one = Q.identity((2, 3), like=like)
    assert isinstance(one, strict.ndarray) and one.dtype == np.float32
    np.testing.assert_array_equal(one.get(), np.broadcast_to([1, 0, 0, 0], (2, 3, 4)))


# ------------------------------------------------------------------------ algebraic laws
@property_cases
def test_product_laws(bk, seed, shape):
    """Associativity (pq)r = p(qr); non-commutativity pq ≠ qp; |pq| = |p||q|;
    conj(pq) = conj(q) conj(p); identity 1q = q1 = q."""
    p, q, r = random_quaternions(seed, shape, 3)
    P, Qq, Rr = bk.put(p), bk.put(q), bk.put(r)
    pq, qp = Q.hamilton_product(P, Qq), Q.hamilton_product(Qq, P)
    np.testing.assert_allclose(bk.get(Q.hamilton_product(pq, Rr)),
                               bk.get(Q.hamilton_product(P, Q.hamilton_product(Qq, Rr))), **TOL)
    # pq - qp = 2 (v_p × v_q): nonzero unless the vector parts are parallel
    assert np.all(np.linalg.norm(bk.get(pq) - bk.get(qp), axis=-1) > 1e-6)
    np.testing.assert_allclose(bk.get(Q.norm(pq)), bk.get(Q.norm(P)) * bk.get(Q.norm(Qq)), **TOL)
    np.testing.assert_allclose(bk.get(Q.conjugate(pq)),
                               bk.get(Q.hamilton_product(Q.conjugate(Qq), Q.conjugate(P))), **TOL)
    one = bk.put(np.broadcast_to([1.0, 0, 0, 0], q.shape))
    np.testing.assert_allclose(bk.get(Q.hamilton_product(one, Qq)), q, **TOL)
    np.testing.assert_allclose(bk.get(Q.hamilton_product(Qq, one)), q, **TOL)


def test_product_broadcasts_leading_axes(bk):
    """A single quaternion times a batch equals the product with each batch element."""
    p, = random_quaternions(3, ())
    q, = random_quaternions(4, (2, 3))
    batched = bk.get(Q.hamilton_product(bk.put(p), bk.put(q)))
    assert batched.shape == (2, 3, 4)
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(batched[idx], Q.hamilton_product(p, q[idx]), **TOL)


@property_cases
def test_conjugate_norm_inverse(bk, seed, shape):
    """conj is an involution; |conj q| = |q|; q conj(q) = |q|² (real);
    q q⁻¹ = q⁻¹ q = 1; normalize gives |q| = 1 in q's direction."""
    q, = random_quaternions(seed, shape)
    Qq = bk.put(q)
    one = np.broadcast_to([1.0, 0, 0, 0], q.shape)
    np.testing.assert_array_equal(bk.get(Q.conjugate(Q.conjugate(Qq))), q)
    np.testing.assert_allclose(bk.get(Q.norm(Q.conjugate(Qq))), np.linalg.norm(q, axis=-1), **TOL)
    q_conj_q = bk.get(Q.hamilton_product(Qq, Q.conjugate(Qq)))
    np.testing.assert_allclose(q_conj_q[..., 0], np.sum(q * q, axis=-1), **TOL)
    np.testing.assert_allclose(q_conj_q[..., 1:], 0, atol=1e-12)
    inv = Q.inverse(Qq)
    np.testing.assert_allclose(bk.get(Q.hamilton_product(Qq, inv)), one, **TOL)
    np.testing.assert_allclose(bk.get(Q.hamilton_product(inv, Qq)), one, **TOL)
    unit = bk.get(Q.normalize(Qq))
    np.testing.assert_allclose(np.linalg.norm(unit, axis=-1), 1, **TOL)
    np.testing.assert_allclose(unit * np.linalg.norm(q, axis=-1, keepdims=True), q, **TOL)


# ------------------------------------------------------------------------------ exp / log
@property_cases
def test_exp_log_round_trips(bk, seed, shape):
    """exp(log q) = q for any nonzero q; log(exp q) = q when |v| < π;
    exp of a pure quaternion is a unit quaternion."""
    q, = random_quaternions(seed, shape)
    np.testing.assert_allclose(bk.get(Q.exp(Q.log(bk.put(q)))), q, **TOL)
    rng = np.random.default_rng(seed + 100)
    v = rng.normal(size=shape + (3,))
    v *= rng.uniform(0, 3.0, size=shape + (1,)) / np.linalg.norm(v, axis=-1, keepdims=True)
    small = np.concatenate([rng.normal(size=shape + (1,)), v], axis=-1)  # |v| < 3 < π
    np.testing.assert_allclose(bk.get(Q.log(Q.exp(bk.put(small)))), small, **TOL)
    pure = np.concatenate([np.zeros(shape + (1,)), v], axis=-1)
    np.testing.assert_allclose(bk.get(Q.norm(Q.exp(bk.put(pure)))), 1, **TOL)


def test_exp_log_on_the_real_axis(bk):
    """|v| = 0 gives no NaN: exp(w) = (e^w, 0,0,0); log(w > 0) = (ln w, 0,0,0);
    log(w < 0) = (ln|w|, π, 0, 0) so that exp(log q) = q still holds."""
    reals = bk.put([[2.0, 0, 0, 0], [3.0, 0, 0, 0], [0.0, 0, 0, 0]])
    np.testing.assert_allclose(bk.get(Q.exp(reals)),
                               [[math.exp(2), 0, 0, 0], [math.exp(3), 0, 0, 0], [1, 0, 0, 0]])
    logs = bk.get(Q.log(bk.put([[3.0, 0, 0, 0], [1.0, 0, 0, 0], [-2.0, 0, 0, 0]])))
    np.testing.assert_allclose(logs, [[math.log(3), 0, 0, 0], [0, 0, 0, 0],
                                      [math.log(2), math.pi, 0, 0]], atol=1e-15)
    np.testing.assert_allclose(bk.get(Q.exp(bk.put(logs[2]))), [-2, 0, 0, 0], atol=1e-15)
    tiny = bk.put([1.0, 1e-200, 0, 0])  # |v| underflows when squared: still no NaN
    np.testing.assert_allclose(bk.get(Q.log(tiny)), [0, 0, 0, 0], atol=1e-15)


# ------------------------------------------------------------------------------ rotations
@property_cases
def test_rotation_laws(bk, seed, shape):
    """rotate preserves lengths; composes as rotate(p, rotate(q, v)) = rotate(p⊗q, v);
    ignores the scale of q (rotate(3q, v) = rotate(q, v)); the inverse undoes it."""
    p, q = random_unit(seed, shape, 2)
    v = np.random.default_rng(seed + 10).normal(size=shape + (3,))
    P, Qq, V = bk.put(p), bk.put(q), bk.put(v)
    rotated = bk.get(Q.rotate(Qq, V))
    np.testing.assert_allclose(np.linalg.norm(rotated, axis=-1), np.linalg.norm(v, axis=-1), **TOL)
    np.testing.assert_allclose(bk.get(Q.rotate(P, Q.rotate(Qq, V))),
                               bk.get(Q.rotate(Q.hamilton_product(P, Qq), V)), **TOL)
    np.testing.assert_allclose(bk.get(Q.rotate(3 * Qq, V)), rotated, **TOL)
    np.testing.assert_allclose(bk.get(Q.rotate(Q.inverse(Qq), Q.rotate(Qq, V))), v, **TOL)


@property_cases
def test_rotation_matrix(bk, seed, shape):
    """R = to_rotation_matrix(q) is orthogonal with det 1, R v = rotate(q, v), q and -q give
    the same R, and from_rotation_matrix(R) = ±q/|q| with w >= 0."""
    q, = random_quaternions(seed, shape)
    v = np.random.default_rng(seed + 20).normal(size=shape + (3,))
    R = bk.get(Q.to_rotation_matrix(bk.put(q)))
    assert R.shape == shape + (3, 3)
    np.testing.assert_allclose(np.swapaxes(R, -1, -2) @ R, np.broadcast_to(np.eye(3), R.shape),
                               **TOL)
    np.testing.assert_allclose(np.linalg.det(R), 1, **TOL)
    np.testing.assert_allclose((R @ v[..., None])[..., 0], bk.get(Q.rotate(bk.put(q), bk.put(v))),
                               **TOL)
    np.testing.assert_allclose(bk.get(Q.to_rotation_matrix(bk.put(-q))), R, **TOL)
    back = bk.get(Q.from_rotation_matrix(bk.put(R)))
    assert np.all(back[..., 0] >= 0)
    same_rotation(back, q / np.linalg.norm(q, axis=-1, keepdims=True))


@pytest.mark.parametrize("q", [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
                               [0, 1, 1, 0], [0, 1, -2, 3], [1e-9, 0, 1, 0], [1, 1e-9, 0, 0]],
                         ids=str)
def test_rotation_matrix_round_trip_in_every_branch(bk, q):
    """Identity, half-turns (w = 0, trace -1: the naive w-branch divides by 0) and
    near-half-turns round trip through the matrix, exercising each of Shepperd's branches."""
    q = np.asarray(q, dtype=float) / np.linalg.norm(q)
    back = bk.get(Q.from_rotation_matrix(Q.to_rotation_matrix(bk.put(q))))
    assert np.all(np.isfinite(back))
    same_rotation(back, q)


# ------------------------------------------------------------------- left / right matrices
@property_cases
def test_left_and_right_matrices(bk, seed, shape):
    """L(p) q = p⊗q;  R(q) p = p⊗q;  L(p)ᵀ = L(conj p);  R(q)ᵀ = R(conj q);
    L(p) and R(q) commute (associativity: (p x) q = p (x q))."""
    p, q = random_quaternions(seed, shape, 2)
    P, Qq = bk.put(p), bk.put(q)
    pq = bk.get(Q.hamilton_product(P, Qq))
    L, R = Q.left_matrix(P), Q.right_matrix(Qq)
    np.testing.assert_allclose(bk.get(L @ Qq[..., None])[..., 0], pq, **TOL)
    np.testing.assert_allclose(bk.get(R @ P[..., None])[..., 0], pq, **TOL)
    np.testing.assert_array_equal(np.swapaxes(bk.get(L), -1, -2),
                                  bk.get(Q.left_matrix(Q.conjugate(P))))
    np.testing.assert_array_equal(np.swapaxes(bk.get(R), -1, -2),
                                  bk.get(Q.right_matrix(Q.conjugate(Qq))))
    np.testing.assert_allclose(bk.get(L @ R), bk.get(R @ L), **TOL)


def test_left_matrix_layout():
    """L(w,x,y,z) = [[w,-x,-y,-z],[x,w,-z,y],[y,z,w,-x],[z,-y,x,w]]: 4 free numbers in 16."""
    np.testing.assert_array_equal(Q.left_matrix(np.array([1, 2, 3, 4])),
                                  [[1, -2, -3, -4], [2, 1, -4, 3], [3, 4, 1, -2], [4, -3, 2, 1]])
    np.testing.assert_array_equal(Q.right_matrix(np.array([1, 2, 3, 4])),
                                  [[1, -2, -3, -4], [2, 1, 4, -3], [3, -4, 1, 2], [4, 3, -2, 1]])


# ------------------------------------------------------------------------------ slerp
@property_cases
def test_slerp(bk, seed, shape):
    """Endpoints: t=0 gives p, t=1 gives q up to the sign chosen for the shorter arc;
    the path stays on the unit sphere; the angle from p grows linearly in t (constant
    angular speed); the arc is the shorter one (angle(p, q') <= π/2)."""
    p, q = random_unit(seed, shape, 2)
    P, Qq = bk.put(p), bk.put(q)
    np.testing.assert_allclose(bk.get(Q.slerp(P, Qq, 0.0)), p, **TOL)
    shorter_q = np.where(np.sum(p * q, axis=-1, keepdims=True) < 0, -q, q)
    np.testing.assert_allclose(bk.get(Q.slerp(P, Qq, 1.0)), shorter_q, **TOL)
    t = np.linspace(0, 1, 7).reshape((7,) + (1,) * len(shape))
    path = bk.get(Q.slerp(P, Qq, bk.put(t)))
    assert path.shape == (7,) + shape + (4,)
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1, **TOL)
    total = angle_between(p, shorter_q)
    assert np.all(total <= math.pi / 2 + 1e-12)
    np.testing.assert_allclose(angle_between(path, p), t * total, **TOL)
    np.testing.assert_allclose(angle_between(path, shorter_q), (1 - t) * total, atol=1e-9)
    # -q is the same rotation as q: the path is the same
    np.testing.assert_allclose(bk.get(Q.slerp(P, -Qq, bk.put(t))), path, **TOL)


def test_slerp_nearly_parallel_inputs(bk):
    """Equal, antipodal (same rotation) and almost equal inputs give finite unit results ≈ p."""
    p, = random_unit(7, ())
    t = bk.put(np.linspace(0, 1, 5))
    for q in (p, -p, p + 1e-12, p + 1e-7):
        path = bk.get(Q.slerp(bk.put(p), bk.put(q), t))
        assert np.all(np.isfinite(path))
        np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1, **TOL)
        np.testing.assert_allclose(path, np.broadcast_to(p, path.shape), atol=1e-6)


def test_float32_stays_float32(bk):
    """Python-number parameters (t, angle) do not promote float32 quaternions to float64."""
    q = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    Qq = strict.module.asarray(q) if bk.name == "strict" else q
    for result in (Q.slerp(Qq, Q.conjugate(Qq), 0.3), Q.exp(Qq), Q.log(Qq), Q.inverse(Qq),
                   Q.from_rotation_matrix(Q.to_rotation_matrix(Qq))):
        assert bk.get(result).dtype == np.float32
    axis = strict.module.asarray(q[1:]) if bk.name == "strict" else q[1:]
    assert bk.get(Q.from_axis_angle(axis, 0.5)).dtype == np.float32


# ------------------------------------------------------------------------------ errors
ONE_ARGUMENT = ["conjugate", "norm", "inverse", "normalize", "exp", "log", "to_rotation_matrix",
                "left_matrix", "right_matrix"]


@pytest.mark.parametrize("name", ONE_ARGUMENT)
@pytest.mark.parametrize("shape", [(3,), (2, 5), ()])
def test_bad_shape_names_the_function(name, shape):
    with pytest.raises(ValueError, match=rf"^{name}: expected arrays of shape \(\.\.\., 4\), "
                                         rf"got {re_shape(shape)}$"):
        getattr(Q, name)(np.ones(shape))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_bad_shapes_in_binary_functions(bk):
    q = bk.put([1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"^hamilton_product: expected arrays of shape "
                                         r"\(\.\.\., 4\), got \(3,\)$"):
        Q.hamilton_product(q, bk.put([1, 2, 3]))
    with pytest.raises(ValueError, match=r"^hamilton_product: leading shapes .* do not broadcast"):
        Q.hamilton_product(bk.put(np.ones((2, 4))), bk.put(np.ones((3, 4))))
    with pytest.raises(ValueError, match=r"^rotate: expected vectors of shape \(\.\.\., 3\), "
                                         r"got \(4,\)$"):
        Q.rotate(q, q)
    with pytest.raises(ValueError, match=r"^from_rotation_matrix: expected arrays of shape "
                                         r"\(\.\.\., 3, 3\), got \(4, 4\)$"):
        Q.from_rotation_matrix(bk.put(np.eye(4)))
    with pytest.raises(ValueError, match=r"^slerp: expected arrays of shape \(\.\.\., 4\)"):
        Q.slerp(q, bk.put([1, 0, 0]), 0.5)
    with pytest.raises(ValueError, match=r"^from_axis_angle: expected axes of shape \(\.\.\., 3\)"):
        Q.from_axis_angle(q, 0.5)


@pytest.mark.parametrize("name", ["inverse", "normalize", "log", "to_rotation_matrix"])
def test_zero_quaternion_is_refused(bk, name):
    """Zero quaternions (even one in a batch) raise a ValueError naming the function,
    which is also a ZeroDivisionError, instead of returning NaN or inf."""
    batch = bk.put([[1, 2, 3, 4], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match=rf"^{name}: the zero quaternion"):
        getattr(Q, name)(batch)
    with pytest.raises(ZeroDivisionError):
        getattr(Q, name)(batch)


def test_zero_quaternion_in_rotate_slerp_and_axis(bk):
    zero, v = bk.put([0, 0, 0, 0]), bk.put([1, 0, 0])
    with pytest.raises(ValueError, match=r"^rotate: the zero quaternion"):
        Q.rotate(zero, v)
    with pytest.raises(ValueError, match=r"^slerp: the zero quaternion"):
        Q.slerp(zero, bk.put([1, 0, 0, 0]), 0.5)
    with pytest.raises(ValueError, match=r"^from_axis_angle: the zero vector"):
        Q.from_axis_angle(bk.put([0, 0, 0]), 1.0)


def test_mixing_numpy_and_strict_arrays_fails_loudly():
    """A host (NumPy) array is never copied to the device silently."""
    with pytest.raises(TypeError):
        Q.hamilton_product(strict.module.asarray(np.ones(4)), np.ones(4))
