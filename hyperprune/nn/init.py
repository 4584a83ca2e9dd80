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


def fixed_rules(name, rules, n):
    """(the Algebra or None, the (n, n, n) rules) of fixed PHM rules: an algebra's name or
    Algebra (its table's rules), or an (n, n, n) array."""
    if isinstance(rules, str) or hasattr(rules, "rules"):
        algebra = get_algebra(rules)
        if algebra.dim != n:
            raise ValueError(f"{name}: rules {algebra.name!r} are {algebra.dim}x"
                             f"{algebra.dim}, not n = {n}")
        return algebra, algebra.rules
    fixed = np.asarray(rules, dtype=np.float64)
    if fixed.shape != (n, n, n):
        raise ValueError(f"{name}: rules must have shape ({n}, {n}, {n}), got {fixed.shape}")
    return None, fixed


def phm_parameters(name, rules, n, shape, init, fan_in, fan_out):
    """(learned rules or None, fixed rules or None, weight) of a PHM layer named `name`, as
    float64 host arrays.  rules: "learned" (init by `phm`), an algebra's name or Algebra
    (its table's rules, fixed), or an (n, n, n) array (fixed)."""
    if isinstance(rules, str) and rules == "learned":
        learned, w = phm(n, shape, fan_in, fan_out, init)
        return learned, None, w
    algebra, fixed = fixed_rules(name, rules, n)
    if algebra is QUATERNION:
        return None, fixed, quaternion_polar(shape, init)
    check_criterion(init)
    return None, fixed, real_init(f"{init}_normal", shape, fan_in, fan_out)


# ------------------------------------------------------------- projection onto PHM layers
def kronecker_rearrangement(w, n):
    """R(W) of Van Loan & Pitsianis (1993): W (out, in, *k) as (n^2, out/n in/n K), row
    (p, q) holding block (p, q) of W flattened.  A sum of Kronecker products is a low-rank
    matrix in this arrangement: R(sum_i A_i ⊗ S_i) = sum_i vec(A_i) vec(S_i)^T, so
    "nearest sum of n Kronecker products" becomes "nearest rank-n matrix"."""
    w = np.asarray(w, dtype=np.float64)
    out, inp = w.shape[:2]
    if out % n or inp % n:
        raise ValueError(f"a weight of shape {w.shape} has no ({n} x {n}) block structure: "
                         f"n = {n} must divide {out} and {inp}")
    blocks = w.reshape(n, out // n, n, inp // n, *w.shape[2:])       # [p, a, q, b, k]
    return np.moveaxis(blocks, 2, 1).reshape(n * n, -1)              # [(p, q), (a, b, k)]


def phm_projection(w, n, rules="learned"):
    """The PHM layer nearest to a trained dense weight in the Frobenius norm.

    Returns (rules (n, n, n) -- A_i = rules[i] --, weight (n, out/n, in/n, *k) -- S_i,
    relative error ||H - W|| / ||W||), with H = sum_i A_i ⊗ S_i as in PHMLinear.

    rules="learned": the Van Loan-Pitsianis solution.  With R = R(W) (see
    kronecker_rearrangement) and its SVD R = sum_j sigma_j u_j v_j^T, the best rank-n
    approximation (Eckart-Young) is the first n terms, so

        A_i = sqrt(n) u_i (n x n),   S_i = sigma_i / sqrt(n) v_i,   error^2 = sum_{j>n} sigma_j^2

    (the sqrt(n) split gives A the scale of nn.init.phm's rules, Var = 1/n; H does not
    depend on it).  A matrix of i.i.d. entries spreads its energy about evenly over the
    n^2 singular values, so its error is near sqrt(1 - 1/n); a trained weight with Kronecker
    structure does better.

    rules fixed (an algebra's name, an Algebra or an (n, n, n) array): the least-squares S
    for those A, S = argmin ||R - vec(A) S||, i.e. the normal equations (A^T A) S = A^T R
    with A the (n^2, n) matrix of the vectorized rules (for an algebra's table A^T A = n I:
    S_i averages the n blocks of W where A_i appears, with their signs).
    """
    w = np.asarray(w, dtype=np.float64)
    R = kronecker_rearrangement(w, n)
    shape = (n, w.shape[0] // n, w.shape[1] // n) + w.shape[2:]
    if isinstance(rules, str) and rules == "learned":
        u, sigma, vt = np.linalg.svd(R, full_matrices=False)
        k = min(n, sigma.size)
        A = np.zeros((n, n, n))
        S = np.zeros((n, R.shape[1]))
        A[:k] = (math.sqrt(n) * u[:, :k].T).reshape(k, n, n)
        S[:k] = sigma[:k, None] / math.sqrt(n) * vt[:k]
    else:
        _, A = fixed_rules("phm_projection", rules, n)
        S = np.linalg.lstsq(A.reshape(n, n * n).T, R, rcond=None)[0]
    residual = R - A.reshape(n, n * n).T @ S
    error = np.linalg.norm(residual) / max(np.linalg.norm(R), np.finfo(float).tiny)
    return A, S.reshape(shape), float(error)


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
