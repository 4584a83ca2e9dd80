"""Weight initialization: Glorot and He for real layers, the polar init for quaternion ones.

All draws come from the library's seeded generator (`hyperprune.manual_seed`) on the host,
in float64, and are returned as NumPy arrays; layers cast them to the default dtype and
move them to the backend.

Real layers, fans in real units (for a conv, fan = channels * kernel area):
    Glorot (Xavier) normal   std   = sqrt(2 / (fan_in + fan_out))
    Glorot uniform           limit = sqrt(6 / (fan_in + fan_out))
    He (Kaiming) normal      std   = sqrt(2 / fan_in)
    He uniform               limit = sqrt(6 / fan_in)

Quaternion layers (Parcollet et al., "Quaternion recurrent neural networks", ICLR 2019),
fans in *quaternion* units (fan_in = in_features / 4 * kernel area):
    w = |w| (cos θ + u sin θ),   |w| ~ χ4(σ),   θ ~ U(-π, π),   u a random unit 3-vector
with σ = 1 / sqrt(2 (fan_in + fan_out)) (Glorot) or 1 / sqrt(2 fan_in) (He).  χ4(σ) is
the length of a 4-vector of N(0, σ²) entries, so E|w|² = 4σ², and for independent inputs
of variance v the pre-activation variance of every output component is

    Var(y) = fan_in * E|w|² * v = 4 σ² fan_in v,

i.e. 2 fan_in / (fan_in + fan_out) v (Glorot) or 2 v (He): the same as the real rules.
"""
import math

import numpy as np

from .. import backend
from ..algebra import QUATERNION, get_algebra

CRITERIA = ("glorot", "he")


def check_criterion(criterion):
    if criterion not in CRITERIA:
        raise ValueError(f"unknown init criterion {criterion!r}: expected one of "
                         f"{', '.join(CRITERIA)}")


def glorot_normal(shape, fan_in, fan_out):
    return backend.rng().normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def glorot_uniform(shape, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return backend.rng().uniform(-limit, limit, size=shape)


def he_normal(shape, fan_in, fan_out=None):
    return backend.rng().normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


def he_uniform(shape, fan_in, fan_out=None):
    limit = math.sqrt(6.0 / fan_in)
    return backend.rng().uniform(-limit, limit, size=shape)


REAL_INITS = {"glorot_normal": glorot_normal, "glorot_uniform": glorot_uniform,
              "he_normal": he_normal, "he_uniform": he_uniform}


def real_init(name, shape, fan_in, fan_out):
    if name not in REAL_INITS:
        raise ValueError(f"unknown init {name!r}: expected one of {', '.join(REAL_INITS)}")
    return REAL_INITS[name](shape, fan_in, fan_out)


def quaternion_sigma(fan_in, fan_out, criterion="glorot"):
    """σ of the χ4 modulus (fans in quaternion units)."""
    check_criterion(criterion)
    if criterion == "glorot":
        return 1.0 / math.sqrt(2.0 * (fan_in + fan_out))
    return 1.0 / math.sqrt(2.0 * fan_in)


def quaternion_polar(shape, criterion="glorot"):
    """Polar init of a quaternion weight of shape (4, out_q, in_q, *kernel).

    Returns a float64 NumPy array; fans are computed in quaternion units from the shape.
    """
    if len(shape) < 3 or shape[0] != 4:
        raise ValueError(f"quaternion_polar: shape must be (4, out_q, in_q, ...), got {shape}")
    receptive = math.prod(shape[3:])
    fan_in, fan_out = shape[2] * receptive, shape[1] * receptive
    sigma = quaternion_sigma(fan_in, fan_out, criterion)
    rng = backend.rng()
    q_shape = shape[1:]
    modulus = sigma * np.sqrt((rng.standard_normal((4,) + q_shape) ** 2).sum(axis=0))
    theta = rng.uniform(-math.pi, math.pi, size=q_shape)
    axis = rng.standard_normal((3,) + q_shape)
    axis /= np.sqrt((axis ** 2).sum(axis=0))  # a uniformly random unit imaginary axis
    weight = np.empty(shape)
    weight[0] = modulus * np.cos(theta)
    weight[1:] = modulus * np.sin(theta) * axis
    return weight


def phm(n, shape, fan_in, fan_out, criterion="glorot"):
    """Variance-matched init of a PHM layer with learned rules: (rules, weight) as float64
    host arrays, rules (n, n, n) and weight `shape` = (n, out/n, in/n, *k).

    Each entry of H = sum_i A_i ⊗ S_i is a sum of n products of independent zero-mean
    draws, so Var(H) = n Var(A) Var(S).  With Var(A) = 1/n and Var(S) the real layer's
    Glorot (or He) variance (fans in real units), H starts with exactly the variance of
    the real layer of the same shape.
    """
    check_criterion(criterion)
    rules = backend.rng().normal(0.0, 1.0 / math.sqrt(n), size=(n, n, n))
    weight = real_init(f"{criterion}_normal", shape, fan_in, fan_out)
    return rules, weight


def phm_parameters(name, rules, n, shape, init, fan_in, fan_out):
    """(learned rules or None, fixed rules or None, weight) of a PHM layer named `name`, as
    float64 host arrays.  rules: "learned" (init by `phm`), an algebra's name or Algebra
    (its table's rules, fixed), or an (n, n, n) array (fixed)."""
    if isinstance(rules, str) and rules == "learned":
        learned, w = phm(n, shape, fan_in, fan_out, init)
        return learned, None, w
    if isinstance(rules, str) or hasattr(rules, "rules"):
        algebra = get_algebra(rules)
        if algebra.dim != n:
            raise ValueError(f"{name}: rules {algebra.name!r} are {algebra.dim}x"
                             f"{algebra.dim}, not n = {n}")
        fixed = algebra.rules
    else:
        fixed = np.asarray(rules, dtype=np.float64)
        if fixed.shape != (n, n, n):
            raise ValueError(f"{name}: rules must have shape ({n}, {n}, {n}), got "
                             f"{fixed.shape}")
        algebra = None
    if algebra is QUATERNION:
        return None, fixed, quaternion_polar(shape, init)
    check_criterion(init)
    return None, fixed, real_init(f"{init}_normal", shape, fan_in, fan_out)


# ------------------------------------------------------------ random weights of supermasks
def signed_constant(shape, fan_in):
    """Ramanujan et al.'s signed Kaiming constant: ±sqrt(2 / fan_in), each sign a fair
    coin (the variance of He normal, every magnitude equal)."""
    signs = backend.rng().integers(0, 2, size=shape) * 2 - 1
    return signs * math.sqrt(2.0 / fan_in)


def grid_uniform(shape, fan_in, bits):
    """Weights on the k-bit symmetric grid {-m..m} x scale (m = 2^(k-1) - 1), drawn
    uniformly from its 2m nonzero codes (a zero weight is a pruned one), with scale set so
    the variance is He's 2 / fan_in:  E[code^2] = (m + 1)(2m + 1) / 6.  k = 2 gives the
    signed constant.  Returns (weights, scale)."""
    m = 2 ** (bits - 1) - 1
    codes = backend.rng().integers(1, m + 1, size=shape) * \
        (backend.rng().integers(0, 2, size=shape) * 2 - 1)
    scale = math.sqrt(2.0 / fan_in / ((m + 1) * (2 * m + 1) / 6))
    return codes * scale, scale


def score_uniform(shape, fan_in):
    """Scores as hidden-networks initializes them: kaiming_uniform(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default Linear init)."""
    bound = 1.0 / math.sqrt(fan_in)
    return backend.rng().uniform(-bound, bound, size=shape)
