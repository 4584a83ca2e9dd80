"""Exact quantized strong tickets by subset sum (issue 15, part 2; Kumar & Natale 2025).

    subset_sum(candidates, target)         exact, integers: a bool mask with sum = target
    closest_subset_sum(values, target)     floats, meet in the middle: the best subset
    Grid(bits, random_bits), target_codes  the grids, and real weights -> codes (checked)
    build_ticket(codes, bits, width, rng)  prune a random two-layers-per-layer network so it
                                           computes a quantized target MLP exactly
    target_forward, ticket_forward         both networks in exact int64 arithmetic
    exact_success, continuous_errors, overparameterisation, fit_line    the measurement

The strong lottery ticket hypothesis (Malach et al. 2020; Pensia et al. 2020): a wide
enough *random* network contains a subnetwork -- weights kept or removed, never trained --
that approximates any target network.  Pensia et al. realise one target weight w by m
random products u_k v_k and keep the subset whose sum is closest to w: random subset sum
(Lueker 1998) says that with m = O(log 1/ε) uniform candidates every target in [-1, 1] is
within ε of a subset sum.  Kumar & Natale ask what changes when both networks are
quantized: the products then lie on a grid, and once the grid of the products contains
the target's grid a subset can hit the target *exactly* -- pruning becomes a way to
quantize without any error.  This module makes that concrete, in integers.

The grids (per layer; k = `bits`, r = `random_bits`):

    target   w = s · c,  c ∈ {-m..m}, m = 2^(k-1) - 1     hyperprune.quantize's k-bit grid,
             one scale s > 0 per layer.  The construction realises the normalised weight
             w / (s · 2^(k-1)) = c · δ,  δ = 2^-(k-1),  a number in (-1, 1) on the grid δZ.
             ReLU is positively homogeneous (ReLU(a z) = a ReLU(z), a > 0), so the factor
             s · 2^(k-1) of each layer comes out of the whole network as one positive
             constant; the networks are compared in codes.
    random   u = a · δ_r,  v = b · δ_r,  a, b ∈ {-M..M} \\ {0},  δ_r = 2^-r,  M = 2^r:
             weights in [-1, 1], uniform over the 2M nonzero codes.  Default
             r = ceil((k-1)/2), the coarsest grid with δ_r² dividing δ.
    products u · v = (a b) δ_r²  on δ_r² Z ⊇ δ Z:  R = δ / δ_r² = 2^(2r-(k-1)) is an integer,
             so c δ = (R c) δ_r²: target c is hit exactly when integer products a b sum
             to R c.  (2r < k - 1 is refused: the products' grid would be coarser than the
             target's and most targets could never be hit.)

The construction for one layer y = W x (W: (out, in), no biases anywhere).  Each input x_j
feeds `width` hidden units, unit (j, k) with random weight u_jk; ReLU; hidden unit (j, k)
feeds output i with random weight v_ijk.  The ReLU sign trick: x = x⁺ - x⁻ with
x⁺ = ReLU(x), x⁻ = ReLU(-x), and ReLU(u x) = u x⁺ for u > 0, |u| x⁻ for u < 0.  So

    y_i = Σ_j [ Σ_{k ∈ P_ij} u_jk v_ijk ] x_j⁺ + [ Σ_{k ∈ N_ij} |u_jk| v_ijk ] x_j⁻

and y_i = Σ_j w_ij x_j exactly when P_ij ⊆ {k : u_jk > 0} has Σ u v = w_ij and
N_ij ⊆ {k : u_jk < 0} has Σ |u| v = -w_ij: two exact subset sums per target weight.
Pruning keeps v_ijk for k ∈ P_ij ∪ N_ij and u_jk if some output keeps one of its v's.  A
target MLP of L layers (ReLU between layers, none after the last) becomes a random network
of 2L layers (ReLU after each but the last); in integer units its output is R^L times the
target's, bit for bit.

The measurement (`overparameterisation`).  Exact: m candidates a·b (a, b uniform nonzero
random codes), a target R·c with c uniform over the 2m_k nonzero codes; the smallest m with
P(some subset sums to it) ≥ 0.9.  Continuous contrast: m candidates uniform in [-1, 1], a
target uniform in [-1, 1]; the smallest m with P(best subset within ε = 2^-k) ≥ 0.9.  Both
use nested candidate sets (m + 1 candidates = the m ones plus one), so each trial's success
is monotone in m.  The bounds compared with: counting -- m candidates have at most 2^m
subset sums, so hitting 2^k - 2 targets needs m ≥ log2(2^k - 2) ≈ k, one candidate per bit;
Borgs, Chayes & Pittel (2001) -- m random integers in {1..2^(κm)} have a perfect partition
w.h.p. iff κ < 1: candidates spanning log2(range / grid step) bits need about that many
candidates, again slope 1 in k; Lueker (1998) -- O(log 1/ε) for the continuous case, whose
constant is not given, so it is measured.  Measured (results/subset_sum, 10,000 trials,
seed 0): exact m ≈ 3.64 + 1.21 k, continuous m ≈ 4.39 + 0.89 k.  Exact hits cost a few
more candidates: products of uniform codes are odd only a quarter of the time and are
often multiples of 4, so targets of the wrong residue wait for the right product.  A whole
network needs more per weight still: every weight must be hit, on both sides of the sign
trick, each seeing about width/2 hidden units (tests/test_subset_sum.py: width 72 for a
4-bit 784-16-10 network).
"""
import math
from dataclasses import dataclass

import numpy as np

from .checks import is_int

LEVEL = 0.9                 # the success probability the measurement asks for
MAX_SPAN = 2 ** 24          # subset_sum's bitsets: at most 2 MB each


# ------------------------------------------------------------------ exact subset sum
def _as_int_list(candidates, what="candidates"):
    a = np.asarray(candidates)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{what} must be a 1-D array of integers, got dtype {a.dtype}, "
                         f"shape {a.shape}")
    return [int(v) for v in a]


def reachable(values, offset):
    """[reach_0, ..., reach_n]: Python-int bitsets, bit (s + offset) of reach_i set iff
    some subset of values[:i] sums to s.  offset ≥ -Σ(negative values) keeps every bit at a
    non-negative position (a right shift then never drops a reachable sum)."""
    reach = [1 << offset]                           # only the empty sum, 0
    for v in values:
        r = reach[-1]
        reach.append(r | (r << v if v >= 0 else r >> -v))
    return reach


def subset_sum(candidates, target):
    """A bool mask over `candidates` (1-D integers) whose selected entries sum exactly to
    the integer `target`.  ValueError naming the target and the candidate count if none.

    Dynamic programming over reachable sums, as a bitset: with lo = Σ negative candidates,
    bit (s - lo) of the Python int reach_i is set iff some subset of the first i candidates
    sums to s (every partial sum lies in [lo, hi], hi = Σ positive ones).  reach_0 = {0},
    reach_i = reach_(i-1) | reach_(i-1) shifted by a_i.  Backtracking from the last
    candidate: a_i is taken iff the remaining target is unreachable without it.  Time
    O(n · S / 64) word operations and memory O(n · S) bits, S = hi - lo = Σ|a_i|:
    pseudo-polynomial, which is what small grids make cheap.  Every step is integer."""
    values = _as_int_list(candidates)
    if not is_int(target):
        raise ValueError(f"subset_sum: the target must be an integer, got {target!r}")
    target = int(target)
    lo = sum(v for v in values if v < 0)
    hi = sum(v for v in values if v > 0)
    if hi - lo > MAX_SPAN:
        raise ValueError(f"subset_sum: the {len(values)} candidates' sums span "
                         f"{hi - lo} integers, more than this dynamic programme's "
                         f"{MAX_SPAN} (2^24, a bit each per candidate): use smaller integers")
    reach = reachable(values, -lo)
    if not lo <= target <= hi or not reach[-1] >> (target - lo) & 1:
        raise ValueError(f"subset_sum: no subset of the {len(values)} candidates sums to "
                         f"{target} (their sums span [{lo}, {hi}]): the candidate set is "
                         "too small")
    mask = np.zeros(len(values), dtype=bool)
    remaining = target
    for i in range(len(values) - 1, -1, -1):
        if not reach[i] >> (remaining - lo) & 1:    # unreachable without candidate i
            mask[i] = True
            remaining -= values[i]
    assert remaining == 0
    return mask


def closest_subset_sum(values, target):
    """(mask, best sum): the subset of the float `values` (1-D, n ≤ 40) whose sum is
    closest to `target`, by meet in the middle -- the 2^(n/2) sums of each half, one half
    sorted, each sum of the other looked up by binary search: O(2^(n/2) n) time instead
    of the 2^n of trying every subset.  Ties go to the first found."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size > 40:
        raise ValueError(f"closest_subset_sum: values must be 1-D with at most 40 entries "
                         f"(2^20 sums per half), got shape {x.shape}")
    n = x.size
    half = n // 2

    def sums(part):             # all 2^len(part) subset sums; subset index as bits
        s = np.zeros(1)
        for v in part:
            s = np.concatenate([s, s + v])
        return s

    left, right = sums(x[:half]), sums(x[half:])
    order = np.argsort(right)
    sorted_right = right[order]
    pos = np.searchsorted(sorted_right, target - left)
    best, best_err = (0, 0), math.inf
    for cand in (np.clip(pos - 1, 0, None), np.clip(pos, None, right.size - 1)):
        err = np.abs(left + sorted_right[cand] - target)
        i = int(np.argmin(err))
        if err[i] < best_err:
            best, best_err = (i, int(order[cand[i]])), float(err[i])
    bits = [(best[0] >> t) & 1 for t in range(half)] + \
        [(best[1] >> t) & 1 for t in range(n - half)]
    mask = np.array(bits, dtype=bool)
    return mask, float(x[mask].sum())


# ------------------------------------------------------------------ the grids
@dataclass(frozen=True)
class Grid:
    """The grids of one construction (module docstring): target codes c ∈ {-m..m}
    (normalised weight c·δ, δ = 2^-(k-1)); random codes a ∈ {-M..M} \\ {0} (weight a·δ_r,
    δ_r = 2^-r, M = 2^r); R = δ / δ_r², the integer by which products meet targets."""

    bits: int
    random_bits: int

    def __post_init__(self):
        if not is_int(self.bits) or not 2 <= self.bits <= 16:
            raise ValueError(f"Grid: bits must be an integer from 2 to 16, got {self.bits!r}")
        if not is_int(self.random_bits) or not 1 <= self.random_bits <= 16:
            raise ValueError(f"Grid: random_bits must be an integer from 1 to 16, got "
                             f"{self.random_bits!r}")
        if 2 * self.random_bits < self.bits - 1:
            raise ValueError(f"Grid: random weights on the grid 2^-{self.random_bits} have "
                             f"products on 2^-{2 * self.random_bits}, coarser than the "
                             f"{self.bits}-bit target grid 2^-{self.bits - 1}: use "
                             f"random_bits >= {math.ceil((self.bits - 1) / 2)}")

    @classmethod
    def of(cls, bits, random_bits=None):
        """The grid for k = bits, random_bits defaulting to ceil((k-1)/2)."""
        if random_bits is None and is_int(bits):
            random_bits = max(1, math.ceil((bits - 1) / 2))
        return cls(bits, random_bits)

    @property
    def code_max(self):             # m = 2^(k-1) - 1
        return 2 ** (self.bits - 1) - 1

    @property
    def random_max(self):           # M = 2^r
        return 2 ** self.random_bits

    @property
    def ratio(self):                # R = δ / δ_r² = 2^(2r - (k-1))
        return 2 ** (2 * self.random_bits - (self.bits - 1))

    def random_codes(self, rng, shape):
        """int64 codes uniform over {-M..M} \\ {0}."""
        magnitude = rng.integers(1, self.random_max + 1, size=shape)
        return magnitude * (2 * rng.integers(0, 2, size=shape) - 1)


def check_codes(codes, grid, what="codes"):
    """`codes` as int64, after checking they are integers in {-m..m} (ValueError naming
    `what`, the first offending entry and the grid otherwise: nothing is rounded)."""
    a = np.asarray(codes)
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{what}: codes must be integers, got dtype {a.dtype} (use "
                         "target_codes to turn real weights into codes)")
    a = a.astype(np.int64)
    bad = np.abs(a) > grid.code_max
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{what}: code {a[where]} at {where} is off the {grid.bits}-bit grid "
                         f"{{-{grid.code_max}..{grid.code_max}}}")
    return a


def target_codes(weights, bits, scale):
    """Integer codes c of real weights w = scale · c on the k-bit grid (c ∈ {-m..m}),
    checked exactly: the code's grid value code * scale (one float64 product, as a
    dequantized model computes it) must equal w bit for bit.  A weight off the grid is a
    ValueError naming its index, its value and the nearest grid value -- never rounded."""
    grid = Grid.of(bits)
    w = np.asarray(weights, dtype=np.float64)
    if not (isinstance(scale, (int, float, np.floating)) and scale > 0 and
            math.isfinite(scale)):
        raise ValueError(f"target_codes: scale must be a positive finite number, got "
                         f"{scale!r}")
    codes = np.rint(w / scale)
    off = (codes * scale != w) | (np.abs(codes) > grid.code_max)
    if off.any():
        where = tuple(int(i) for i in np.argwhere(off)[0])
        c = int(np.clip(codes[where], -grid.code_max, grid.code_max))
        raise ValueError(f"target_codes: weight {w[where]!r} at {where} is off the "
                         f"{bits}-bit grid {scale!r} x {{-{grid.code_max}..{grid.code_max}}} "
                         f"(nearest grid value {c * scale!r}); quantize it first")
    return codes.astype(np.int64)


# ------------------------------------------------------------------ the construction
@dataclass
class TicketLayer:
    """One target layer (out, in) realised by two random layers, and what pruning keeps.

    u: (in, width) random codes a_jk (hidden unit (j, k) sees only input j);
    v: (out, in, width) random codes b_ijk; keep_u: (in, width), keep_v: (out, in, width)
    bool -- the mask.  Weights u_jk = a_jk δ_r, v_ijk = b_ijk δ_r."""

    u: np.ndarray
    v: np.ndarray
    keep_u: np.ndarray
    keep_v: np.ndarray


def build_layer(codes, grid, width, rng, name="layer"):
    """Draw one layer pair (TicketLayer) and prune it so that, in units of δ_r², it computes
    R · codes @ x exactly (module docstring).  codes: (out, in) int64 on the grid.  A target
    weight no subset reaches is a ValueError naming the layer, the weight and the width."""
    out_features, in_features = codes.shape
    u = grid.random_codes(rng, (in_features, width))
    v = grid.random_codes(rng, (out_features, in_features, width))
    keep_v = np.zeros(v.shape, dtype=bool)
    for j in range(in_features):
        positive, negative = u[j] > 0, u[j] < 0
        for i in range(out_features):
            target = grid.ratio * int(codes[i, j])
            products = np.abs(u[j]) * v[i, j]              # |u| v: the x⁻ side's candidates
            for side, goal, sign in ((positive, target, "positive"),
                                     (negative, -target, "negative")):
                try:
                    chosen = subset_sum(products[side], goal)
                except ValueError:
                    raise ValueError(
                        f"build_ticket: {name} weight ({i}, {j}) (code {codes[i, j]}) has no "
                        f"exact subset among its {int(side.sum())} hidden units with "
                        f"{sign} u; width {width} "
                        "is too small for this draw: use a larger width") from None
                keep_v[i, j, np.flatnonzero(side)[chosen]] = True
    return TicketLayer(u, v, keep_v.any(axis=0), keep_v)


def build_ticket(codes, bits, width, rng, random_bits=None):
    """The pruned random network for a target MLP: `codes` is a list of (out, in) integer
    code matrices on the k-bit grid (layer l maps the output of layer l-1; ReLU between
    layers, no biases), each realised by `width` random hidden units per input.  Random
    codes are drawn from `rng` (a np.random.Generator), layer by layer.  Returns
    (list of TicketLayer, Grid)."""
    grid = Grid.of(bits, random_bits)
    if not is_int(width) or width < 1:
        raise ValueError(f"build_ticket: width must be a positive integer, got {width!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("build_ticket: rng must be a numpy Generator "
                         "(np.random.default_rng(seed))")
    mats = _check_mlp(codes, grid)
    return [build_layer(c, grid, width, rng, f"layer {n}") for n, c in enumerate(mats)], grid


def _check_mlp(codes, grid):
    mats = [check_codes(c, grid, f"layer {n}") for n, c in enumerate(codes)]
    for n, c in enumerate(mats):
        if c.ndim != 2:
            raise ValueError(f"layer {n}: a code matrix must be (out, in), got {c.shape}")
        if n and c.shape[1] != mats[n - 1].shape[0]:
            raise ValueError(f"layer {n} takes {c.shape[1]} inputs but layer {n - 1} gives "
                             f"{mats[n - 1].shape[0]}")
    return mats


def _check_inputs(x, in_features, bound):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer) or x.ndim != 2 or x.shape[1] != in_features:
        raise ValueError(f"inputs must be an integer array (N, {in_features}), got dtype "
                         f"{x.dtype}, shape {x.shape}")
    x = x.astype(np.int64)
    largest = int(np.abs(x).max(initial=0)) * bound     # |every partial sum| <= this
    if largest >= 2 ** 62:
        raise ValueError(f"inputs up to {int(np.abs(x).max())} could overflow int64 in this "
                         f"network (bound {largest}); use smaller integers")
    return x


def target_forward(codes, bits, x):
    """The target MLP in codes, exactly in int64: h_0 = x (N, in) integers,
    h_l = ReLU(h_(l-1) @ C_lᵀ) with no ReLU after the last layer.  The real network, with
    weights s_l · C_l, computes the same times the positive factor Π_l s_l (ReLU is
    positively homogeneous).  Raises if |every partial sum| could reach 2^62."""
    mats = _check_mlp(codes, Grid.of(bits))
    bound = math.prod(int(np.abs(c).sum(axis=1).max()) or 1 for c in mats)
    h = _check_inputs(x, mats[0].shape[1], bound)
    for n, c in enumerate(mats):
        h = h @ c.T
        if n < len(mats) - 1:
            h = np.maximum(h, 0)
    return h


def ticket_forward(layers, x, chunk=1000):
    """The pruned random network, exactly in int64 (weights in units of δ_r, so each layer
    pair's output is in units of δ_r²): per layer pair, the kept hidden units
    h = ReLU(x_j a_jk) (N, kept), then the kept second-layer weights, output by output, as
    a sparse sum y_i = Σ_(kept j,k) b_ijk h_jk; ReLU between pairs.  x: (N, in) integers,
    evaluated `chunk` rows at a time.  For a ticket of build_ticket this equals
    R^L · target_forward(codes, bits, x)."""
    bound = 1
    for layer in layers:
        row = (np.abs(layer.v) * np.abs(layer.u)[None] * layer.keep_v).sum(axis=(1, 2))
        bound *= max(int(row.max()), 1)
    x = _check_inputs(x, layers[0].u.shape[0], bound)
    outs = [_ticket_chunk(layers, x[s:s + chunk]) for s in range(0, len(x), chunk)]
    return np.concatenate(outs) if outs else np.zeros((0, layers[-1].v.shape[0]), np.int64)


def _ticket_chunk(layers, h):
    for n, layer in enumerate(layers):
        source, unit = np.nonzero(layer.keep_u)             # kept hidden units (j, k)
        hidden = np.maximum(h[:, source] * layer.u[source, unit], 0)   # (N, kept units)
        column = np.full(layer.keep_u.shape, -1)
        column[source, unit] = np.arange(source.size)        # (j, k) -> hidden column
        out = np.zeros((h.shape[0], layer.v.shape[0]), np.int64)
        for i in range(layer.v.shape[0]):
            j, k = np.nonzero(layer.keep_v[i])
            out[:, i] = hidden[:, column[j, k]] @ layer.v[i, j, k]
        h = np.maximum(out, 0) if n < len(layers) - 1 else out
    return h


# ------------------------------------------------------------------ the measurement
def exact_success(bits, m_max, trials, rng, random_bits=None):
    """(m_max,) float: entry m-1 is the fraction of `trials` in which m random products
    a·b (a, b uniform over the nonzero random codes) have a subset summing exactly to
    R·c, c uniform over the 2m_k nonzero k-bit codes.  Candidates are nested (trial t's
    first m of its m_max), so each trial's success is monotone in m.  Exact: bitsets."""
    grid = Grid.of(bits, random_bits)
    for name, value in (("m_max", m_max), ("trials", trials)):
        if not is_int(value) or value < 1:
            raise ValueError(f"exact_success: {name} must be a positive integer, got "
                             f"{value!r}")
    products = grid.random_codes(rng, (trials, m_max)) * grid.random_codes(rng, (trials, m_max))
    codes = rng.integers(1, grid.code_max + 1, trials) * (2 * rng.integers(0, 2, trials) - 1)
    hits = np.zeros(m_max)
    for row, code in zip(products, codes):
        values = [int(v) for v in row]
        offset = -sum(v for v in values if v < 0)
        target = grid.ratio * int(code) + offset
        for m, reach in enumerate(reachable(values, offset)[1:]):
            hits[m] += target >= 0 and (reach >> target) & 1
    return hits / trials


def continuous_errors(m_max, trials, rng):
    """(trials, m_max) float64: |best subset sum - t| for the first m of m_max candidates
    uniform in [-1, 1] and a target t uniform in [-1, 1] -- the best over all 2^m subsets,
    found by growing the list of subset sums one candidate at a time (it doubles)."""
    if not is_int(m_max) or not 1 <= m_max <= 22:
        raise ValueError(f"continuous_errors: m_max must be from 1 to 22 (2^m_max sums), "
                         f"got {m_max!r}")
    if not is_int(trials) or trials < 1:
        raise ValueError(f"continuous_errors: trials must be a positive integer, got "
                         f"{trials!r}")
    errors = np.empty((trials, m_max))
    for t in range(trials):
        x, target = rng.uniform(-1, 1, m_max), rng.uniform(-1, 1)
        sums = np.zeros(1)
        for m in range(m_max):
            sums = np.concatenate([sums, sums + x[m]])
            errors[t, m] = np.abs(sums - target).min()
    return errors


def smallest_m(success, level=LEVEL):
    """The smallest m (1-based) with success[m-1] >= level, or None."""
    ok = np.flatnonzero(np.asarray(success) >= level)
    return int(ok[0]) + 1 if ok.size else None


def fit_line(k, m):
    """Least squares m ≈ a + b·k: (a, b)."""
    b, a = np.polyfit(np.asarray(k, float), np.asarray(m, float), 1)
    return float(a), float(b)


def overparameterisation(bits=range(2, 9), trials=2000, seed=0, m_max_exact=40,
                         m_max_continuous=18, level=LEVEL):
    """For each k in `bits`: the exact m (smallest m with P(exact) >= level) and the
    continuous m (smallest m with P(error <= 2^-k) >= level), from one np.random
    generator seeded `seed` (the exact trials of each k, then the continuous trials,
    shared by every k -- so ε = 2^-k is read off the same best errors).  Returns a list
    of dicts (bits, m_exact, m_continuous, p_exact, p_continuous: the success curves)."""
    rng = np.random.default_rng(seed)
    exact = {k: exact_success(k, m_max_exact, trials, rng) for k in bits}
    errors = continuous_errors(m_max_continuous, trials, rng)
    rows = []
    for k in bits:
        p_cont = (errors <= 2.0 ** -k).mean(axis=0)
        row = dict(bits=k, m_exact=smallest_m(exact[k], level),
                   m_continuous=smallest_m(p_cont, level), p_exact=exact[k],
                   p_continuous=p_cont)
        for key, limit in (("m_exact", m_max_exact), ("m_continuous", m_max_continuous)):
            if row[key] is None:
                raise ValueError(f"overparameterisation: k = {k} needs more than {limit} "
                                 f"candidates for {key}; raise its m_max")
        rows.append(row)
    return rows
