"""Quaternion algebra on plain arrays (no autograd): the maths behind the quaternion layers.

A quaternion q = w + x i + y j + z k is stored as the last axis of an array, scalar first:
shape (..., 4) holding (w, x, y, z).  Leading axes broadcast as in NumPy, so one call
handles a single quaternion (shape (4,)) or a batch (shape (N, 4), (B, C, 4), ...).

Hamilton's convention:  i^2 = j^2 = k^2 = ijk = -1,  hence  ij = k, jk = i, ki = j  and
ji = -k, kj = -i, ik = -j: the product is associative but not commutative.

Every function takes its array module from its inputs (`backend.get_array_module`), so the
same code runs on NumPy, CuPy and the strict stand-in; nothing is converted to NumPy.
Bad shapes and zero quaternions (which have no inverse) raise ValueError naming the function.

    hamilton_product(p, q)        conjugate(q)      norm(q)       inverse(q)   normalize(q)
    exp(q)   log(q)               rotate(q, v)      to_rotation_matrix(q)   from_rotation_matrix(R)
    slerp(p, q, t)                left_matrix(p)    right_matrix(q)
    from_axis_angle(axis, angle)  identity(shape=(), dtype=None, like=None)
"""
import math

import numpy as np  # shape arithmetic only (np.broadcast_shapes); never on input data

from . import backend

# Below this angle between two unit quaternions (in 4-D, radians) slerp falls back to
# normalized linear interpolation: the two differ by ~angle^3, far below rounding error,
# and slerp's 1/sin(angle) would divide by (nearly) zero.
_NEARLY_PARALLEL = 1e-6


class ZeroQuaternionError(ValueError, ZeroDivisionError):
    """The zero quaternion was given where it has no meaning (inverse, normalize, ...).

    A ValueError (bad argument) that can also be caught as ZeroDivisionError.
    """


# ------------------------------------------------------------------------------ checks
def _as_array(xp, a):
    # Arrays are used as they are: mixing NumPy with device arrays must fail loudly (as in
    # CuPy), not be copied silently. Lists and Python scalars become arrays of `xp`.
    return a if backend.is_array(a) else xp.asarray(a)


def _quaternions(caller, xp, q):
    q = _as_array(xp, q)
    if q.ndim == 0 or q.shape[-1] != 4:
        raise ValueError(f"{caller}: expected arrays of shape (..., 4), got {tuple(q.shape)}")
    return q


def _check_broadcast(caller, *arrays):
    """The leading (batch) shapes must broadcast; say so in the caller's words if not."""
    shapes = [tuple(a.shape[:-1]) for a in arrays]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{caller}: leading shapes {', '.join(map(str, shapes))} "
                         "do not broadcast") from None


def _squared_norm(caller, xp, q, lacks="no inverse"):
    """|q|^2 = w^2 + x^2 + y^2 + z^2, refusing zero quaternions (explicitly, not via NaN)."""
    n2 = xp.sum(q * q, axis=-1)
    if bool(xp.any(n2 == 0)):  # one device -> host sync: the price of failing loudly
        raise ZeroQuaternionError(f"{caller}: the zero quaternion (0, 0, 0, 0) has {lacks}; "
                                  "expected nonzero quaternions")
    return n2


def _unit(caller, xp, q):
    """q / |q|, refusing zero quaternions in the caller's name."""
    return q / xp.sqrt(_squared_norm(caller, xp, q, "no direction"))[..., None]


def _as_float(xp, a, like):
    """A parameter (t, angle) as an array; Python numbers take like's float dtype, so that
    float32 quaternions stay float32 (a float64 0-d array would promote them)."""
    if backend.is_array(a):
        return a
    return xp.asarray(a, dtype=xp.result_type(like, np.float32))


# --------------------------------------------------------------------- the basic algebra
def hamilton_product(p, q):
    """The Hamilton product p ⊗ q of quaternions p, q of shape (..., 4) -> (..., 4).

    With p = (a, b, c, d) and q = (e, f, g, h), expanding (a + bi + cj + dk)(e + fi + gj + hk)
    with i^2 = j^2 = k^2 = -1, ij = k = -ji, jk = i = -kj, ki = j = -ik:

        w = a e - b f - c g - d h
        x = a f + b e + c h - d g
        y = a g - b h + c e + d f
        z = a h + b g - c f + d e

    e.g. (1, 2, 3, 4) ⊗ (5, 6, 7, 8) = (-60, 12, 30, 24).  Leading axes broadcast.
    """
    xp = backend.get_array_module(p, q)
    p = _quaternions("hamilton_product", xp, p)
    q = _quaternions("hamilton_product", xp, q)
    _check_broadcast("hamilton_product", p, q)
    a, b, c, d = (p[..., i] for i in range(4))
    e, f, g, h = (q[..., i] for i in range(4))
    return xp.stack([a * e - b * f - c * g - d * h,
                     a * f + b * e + c * h - d * g,
                     a * g - b * h + c * e + d * f,
                     a * h + b * g - c * f + d * e], axis=-1)


def conjugate(q):
    """conj(w, x, y, z) = (w, -x, -y, -z), shape (..., 4) -> (..., 4).

    conj(p ⊗ q) = conj(q) ⊗ conj(p), and q ⊗ conj(q) = |q|^2 (a real number).
    """
    xp = backend.get_array_module(q)
    q = _quaternions("conjugate", xp, q)
    return xp.concatenate([q[..., :1], -q[..., 1:]], axis=-1)


def norm(q):
    """The magnitude |q| = sqrt(w^2 + x^2 + y^2 + z^2), shape (..., 4) -> (...).

    |p ⊗ q| = |p| |q|.  Beware: numpy-quaternion's `quaternion.norm()` returns the *squared*
    magnitude w^2 + x^2 + y^2 + z^2 (the "Cayley norm"; its `abs(q)` is the magnitude), a
    known source of confusion when porting code.  Here `norm` is the magnitude.
    """
    xp = backend.get_array_module(q)
    q = _quaternions("norm", xp, q)
    return xp.sqrt(xp.sum(q * q, axis=-1))


def inverse(q):
    """q^-1 = conj(q) / |q|^2, shape (..., 4) -> (..., 4), so q ⊗ q^-1 = q^-1 ⊗ q = 1.

    Raises ZeroQuaternionError (a ValueError) for the zero quaternion. For unit q, q^-1 = conj(q).
    """
    xp = backend.get_array_module(q)
    q = _quaternions("inverse", xp, q)
    return conjugate(q) / _squared_norm("inverse", xp, q)[..., None]


def normalize(q):
    """q / |q|, the unit quaternion in q's direction; shape (..., 4) -> (..., 4).

    Raises ZeroQuaternionError (a ValueError) for the zero quaternion (it has no direction).
    """
    xp = backend.get_array_module(q)
    q = _quaternions("normalize", xp, q)
    return _unit("normalize", xp, q)


def identity(shape=(), dtype=None, like=None):
    """The identity quaternion 1 = (1, 0, 0, 0), repeated to shape `shape + (4,)`.

    Module and dtype come from `like` (an array) if given, else from the selected backend.
    """
    xp = backend.get_array_module(like) if like is not None else backend.xp()
    if dtype is None:
        dtype = like.dtype if like is not None else backend.get_default_dtype()
    one = xp.zeros(tuple(shape) + (4,), dtype=dtype)
    one[..., 0] = 1
    return one


# ------------------------------------------------------------------ exponential and log
def exp(q):
    """The quaternion exponential, shape (..., 4) -> (..., 4).

    For q = w + v (v the vector part, θ = |v|):  exp(q) = e^w (cos θ + (v/θ) sin θ).
    On the real axis (θ = 0) this is e^w (1, 0, 0, 0): sin θ / θ is computed as sinc, which
    is 1 at θ = 0, so no 0/0 occurs.  exp of a pure quaternion (w = 0) is a unit quaternion.
    """
    xp = backend.get_array_module(q)
    q = _quaternions("exp", xp, q)
    w, v = q[..., 0], q[..., 1:]
    theta = xp.sqrt(xp.sum(v * v, axis=-1))
    scale = xp.exp(w)
    sin_theta_over_theta = xp.sinc(theta / math.pi)  # np.sinc(x) = sin(pi x) / (pi x)
    return xp.concatenate([(scale * xp.cos(theta))[..., None],
                           (scale * sin_theta_over_theta)[..., None] * v], axis=-1)


def log(q):
    """The principal quaternion logarithm, shape (..., 4) -> (..., 4); q must be nonzero.

    log(q) = ln|q| + (v/|v|) arccos(w/|q|), with v the vector part of q; exp(log(q)) = q,
    and log(exp(q)) = q when |v| < π.  The angle is computed as atan2(|v|, w), which equals
    arccos(w/|q|) but stays accurate near the real axis, where arccos is ill-conditioned.
    Real axis: log of a positive real w is (ln w, 0, 0, 0); a negative real has infinitely
    many logarithms (ln|w| + π u for any unit u), and we return ln|w| + π i, as the
    complex logarithm does with i.  Raises ZeroQuaternionError for the zero quaternion.
    """
    xp = backend.get_array_module(q)
    q = _quaternions("log", xp, q)
    magnitude = xp.sqrt(_squared_norm("log", xp, q, "no logarithm"))
    w, v = q[..., 0], q[..., 1:]
    v_norm = xp.sqrt(xp.sum(v * v, axis=-1))
    angle = xp.arctan2(v_norm, w)
    on_real_axis = v_norm == 0
    # angle / |v| -> 1/|q| as |v| -> 0 (angle ≈ |v| / w); the safe divisor avoids 0/0.
    angle_per_length = xp.where(on_real_axis, 1 / magnitude,
                                angle / xp.where(on_real_axis, 1, v_norm))
    vector = angle_per_length[..., None] * v
    # Negative reals: v = 0 gives no direction, so put the angle π on i (principal value).
    vector[..., 0] = xp.where(on_real_axis & (w < 0), angle, vector[..., 0])
    return xp.concatenate([xp.log(magnitude)[..., None], vector], axis=-1)


# ------------------------------------------------------------------------------ rotation
def rotate(q, v):
    """Rotate 3-vectors v (..., 3) by quaternions q (..., 4) -> (..., 3).

    v' = vector part of q ⊗ (0, v) ⊗ q^-1.  Using the inverse (not the conjugate) makes this
    correct for any nonzero q: the scale of q cancels, so rotate(2q, v) = rotate(q, v).
    A unit q = (cos(θ/2), sin(θ/2) n) rotates by θ about the unit axis n (right-hand rule).
    Rotations compose as products: rotate(p, rotate(q, v)) = rotate(p ⊗ q, v).
    """
    xp = backend.get_array_module(q, v)
    q = _quaternions("rotate", xp, q)
    v = _as_array(xp, v)
    if v.ndim == 0 or v.shape[-1] != 3:
        raise ValueError(f"rotate: expected vectors of shape (..., 3), got {tuple(v.shape)}")
    _squared_norm("rotate", xp, q)  # so a zero q is reported by rotate, not by inverse
    pure = xp.concatenate([xp.zeros_like(v[..., :1]), v], axis=-1)  # (0, v)
    return hamilton_product(hamilton_product(q, pure), inverse(q))[..., 1:]


def from_axis_angle(axis, angle):
    """The unit quaternion (cos(θ/2), sin(θ/2) n) rotating by angle θ about axis n.

    axis: (..., 3), any nonzero length (it is normalized); angle: (...) in radians,
    broadcast against the axis' leading shape.  Returns (..., 4).
    """
    xp = backend.get_array_module(axis, angle)
    axis = _as_array(xp, axis)
    if axis.ndim == 0 or axis.shape[-1] != 3:
        raise ValueError("from_axis_angle: expected axes of shape (..., 3), "
                         f"got {tuple(axis.shape)}")
    length = xp.sqrt(xp.sum(axis * axis, axis=-1))
    if bool(xp.any(length == 0)):
        raise ZeroQuaternionError("from_axis_angle: the zero vector is not a rotation axis")
    half = _as_float(xp, angle, axis) / 2
    unit_axis = axis / length[..., None]
    return xp.concatenate([xp.cos(half)[..., None] * xp.ones_like(unit_axis[..., :1]),
                           xp.sin(half)[..., None] * unit_axis], axis=-1)


def to_rotation_matrix(q):
    """The 3x3 rotation matrix R of q, shape (..., 4) -> (..., 3, 3), with R v = rotate(q, v).

    q is normalized first (any nonzero q works).  For unit q = (w, x, y, z):

        R = [[1 - 2(y²+z²),   2(xy - wz),     2(xz + wy)  ],
             [2(xy + wz),     1 - 2(x²+z²),   2(yz - wx)  ],
             [2(xz - wy),     2(yz + wx),     1 - 2(x²+y²)]]

    q and -q give the same R (quaternions double-cover the rotations).
    """
    xp = backend.get_array_module(q)
    q = _quaternions("to_rotation_matrix", xp, q)
    q = _unit("to_rotation_matrix", xp, q)
    w, x, y, z = (q[..., i] for i in range(4))
    rows = [[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]]
    return xp.stack([xp.stack(row, axis=-1) for row in rows], axis=-2)


def from_rotation_matrix(R):
    """The unit quaternion (with w >= 0) of rotation matrices R, shape (..., 3, 3) -> (..., 4).

    Shepperd's method.  From the matrix above, four scaled copies of q can be read off:

        4w·q = (1 + R00 + R11 + R22,  R21 - R12,  R02 - R20,  R10 - R01)
        4x·q = (R21 - R12,  1 + R00 - R11 - R22,  R01 + R10,  R02 + R20)
        4y·q = (R02 - R20,  R01 + R10,  1 - R00 + R11 - R22,  R12 + R21)
        4z·q = (R10 - R01,  R02 + R20,  R12 + R21,  1 - R00 - R11 + R22)

    Each is exact, but one whose scale (4w², 4x², ...: its own component) is tiny is mostly
    rounding noise, so we take the copy with the largest scale (at least 1, since
    w² + x² + y² + z² = 1) and normalize it.  R is assumed to be a rotation matrix.
    """
    xp = backend.get_array_module(R)
    R = _as_array(xp, R)
    if R.ndim < 2 or tuple(R.shape[-2:]) != (3, 3):
        raise ValueError("from_rotation_matrix: expected arrays of shape (..., 3, 3), "
                         f"got {tuple(R.shape)}")
    r = [[R[..., i, j] for j in range(3)] for i in range(3)]
    candidates = xp.stack([
        xp.stack([1 + r[0][0] + r[1][1] + r[2][2], r[2][1] - r[1][2],
                  r[0][2] - r[2][0], r[1][0] - r[0][1]], axis=-1),
        xp.stack([r[2][1] - r[1][2], 1 + r[0][0] - r[1][1] - r[2][2],
                  r[0][1] + r[1][0], r[0][2] + r[2][0]], axis=-1),
        xp.stack([r[0][2] - r[2][0], r[0][1] + r[1][0],
                  1 - r[0][0] + r[1][1] - r[2][2], r[1][2] + r[2][1]], axis=-1),
        xp.stack([r[1][0] - r[0][1], r[0][2] + r[2][0],
                  r[1][2] + r[2][1], 1 - r[0][0] - r[1][1] + r[2][2]], axis=-1),
    ], axis=-2)  # (..., 4 candidates, 4 components)
    scales = xp.diagonal(candidates, axis1=-2, axis2=-1)  # candidate k's own component k
    best = xp.argmax(scales, axis=-1)[..., None, None]
    q = xp.take_along_axis(candidates, best, axis=-2)[..., 0, :]
    q = q / xp.sqrt(xp.sum(q * q, axis=-1))[..., None]
    return xp.where(q[..., :1] < 0, -q, q)  # q and -q are the same rotation: pick w >= 0


# -------------------------------------------------------------------------- interpolation
def slerp(p, q, t):
    """Spherical linear interpolation from p (t = 0) to q (t = 1) along the shorter arc.

    p, q: (..., 4), normalized first; t: a scalar or an array broadcastable against the
    leading axes.  Returns shape broadcast(p[..., 0], q[..., 0], t) + (4,).  With Ω the
    angle between p and q as 4-vectors,

        slerp(p, q, t) = (sin((1-t)Ω) p + sin(tΩ) q) / sin Ω,

    which moves at constant angular speed on the unit sphere.  q and -q are the same
    rotation, so if p·q < 0 we use -q (then t = 1 gives -q): the rotation takes the
    shorter way.  Ω = 2 atan2(|p - q|, |p + q|) is accurate even for tiny angles (arccos(p·q)
    is not); below _NEARLY_PARALLEL we use normalized linear interpolation instead.
    """
    xp = backend.get_array_module(p, q, t)
    p = _unit("slerp", xp, _quaternions("slerp", xp, p))
    q = _unit("slerp", xp, _quaternions("slerp", xp, q))
    t = _as_float(xp, t, p)
    _check_broadcast("slerp", p, q, t[..., None])
    q = xp.where(xp.sum(p * q, axis=-1, keepdims=True) < 0, -q, q)  # the shorter arc
    t = t[..., None]
    omega = 2 * xp.arctan2(norm(p - q), norm(p + q))[..., None]
    parallel = omega < _NEARLY_PARALLEL
    sin_omega = xp.where(parallel, 1, xp.sin(omega))
    weight_p = xp.where(parallel, 1 - t, xp.sin((1 - t) * omega) / sin_omega)
    weight_q = xp.where(parallel, t, xp.sin(t * omega) / sin_omega)
    path = weight_p * p + weight_q * q
    # Renormalizing is a no-op up to rounding for slerp, and makes the fallback nlerp.
    return path / xp.sqrt(xp.sum(path * path, axis=-1, keepdims=True))


# ------------------------------------------------------------------ products as matrices
def left_matrix(p):
    """L(p), shape (..., 4) -> (..., 4, 4), with p ⊗ q = L(p) q (q as a column vector).

        L(w, x, y, z) = [[w, -x, -y, -z],
                         [x,  w, -z,  y],
                         [y,  z,  w, -x],
                         [z, -y,  x,  w]]

    A 4x4 real matrix with only 4 free numbers: why a quaternion layer needs 4x fewer
    parameters than a real one.  L(p)^T = L(conj p), and L(p)^T L(p) = |p|^2 I.
    """
    xp = backend.get_array_module(p)
    p = _quaternions("left_matrix", xp, p)
    w, x, y, z = (p[..., i] for i in range(4))
    rows = [[w, -x, -y, -z], [x, w, -z, y], [y, z, w, -x], [z, -y, x, w]]
    return xp.stack([xp.stack(row, axis=-1) for row in rows], axis=-2)


def right_matrix(q):
    """R(q), shape (..., 4) -> (..., 4, 4), with p ⊗ q = R(q) p (p as a column vector).

        R(w, x, y, z) = [[w, -x, -y, -z],
                         [x,  w,  z, -y],
                         [y, -z,  w,  x],
                         [z,  y, -x,  w]]

    It differs from L only in the signs of the lower-right 3x3 block (the cross-product part),
    which is exactly the non-commutativity.  R(q)^T = R(conj q).
    """
    xp = backend.get_array_module(q)
    q = _quaternions("right_matrix", xp, q)
    w, x, y, z = (q[..., i] for i in range(4))
    rows = [[w, -x, -y, -z], [x, w, z, -y], [y, -z, w, x], [z, y, -x, w]]
    return xp.stack([xp.stack(row, axis=-1) for row in rows], axis=-2)
