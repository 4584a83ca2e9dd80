"""Supermasks (edge-popup): a frozen random weight, a learned score per weight, top-k.

    supermask(w, scores, count)          w ⊙ m,  m = the top-`count` entries of |scores|
    supermask(w, scores, count, binary=True)   α sign(w) ⊙ m  (Multi-Prize / biprop)
    topk_mask(a, count), kept_count(keep, n)

Forward (Ramanujan et al., "What's hidden in a randomly weighted neural network?", CVPR
2020).  A layer's weight w is frozen at its random init; its scores s (the shape of w, or
of one component matrix w[0] for whole-element masks of a hypercomplex weight (n, ...),
broadcast over the n components) choose which weights the forward uses:

    m = 1[|s| is among the `count` largest of the layer]        exactly `count` ones
    w_eff = w ⊙ m                                                (edge-popup)
    w_eff = α sign(w) ⊙ m,   α = Σ m|w| / Σ m                     (binary: biprop)

`count` = kept_count(keep, n) = round(keep · n), halves rounded up: `keep` is the fraction
KEPT (hidden-networks' --prune-rate means "kept" in its mask code and "removed" in its
parameter count, its issue #9; here there is one meaning).

Backward.  m is piecewise constant in s: its derivative is 0 almost everywhere, so
training through it would learn nothing.  The straight-through estimator differentiates
the *relaxed* op instead, the mask replaced by the scores' magnitudes, w_eff = w ⊙ |s|:

    dL/dw = g ⊙ m                 (exact for the hard op; unused: the weights are frozen)
    dL/ds = g ⊙ w ⊙ sign(s)       (straight-through: d(w ⊙ |s|)/ds)

For positive scores that is the issue's dL/ds = dL/dw_eff ⊙ w, and it is what
hidden-networks computes (its GetSubnet passes g straight through to |s|, and autograd
multiplies by sign(s)).  With whole-element masks the n components' terms are summed (the
engine sums the broadcast axis).  binary: biprop's code uses the same score gradient (the
straight-through derivative of α·m with respect to |s| taken as |w|, times sign(w), gives
w), α a constant of the step; the weights get no gradient.  relaxed=True makes the
forward the relaxed op w ⊙ |s|, the function the backward differentiates exactly, so a
gradcheck can verify it (keep the scores off 0, where |s| has its kink).
"""
import math

from .. import backend
from ..autograd import Function, as_tensor
from ..checks import is_int

_get_xp = backend.get_array_module


def kept_count(keep, n, what="a layer"):
    """round(keep · n), halves rounded up: how many of n weights the forward uses.
    ValueError for keep outside (0, 1] or a count of 0 (naming `what`)."""
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1] (the fraction of weights kept), got "
                         f"{keep!r}")
    count = int(math.floor(keep * n + 0.5))
    if count < 1:
        raise ValueError(f"keep {keep} keeps no weight of {what} (round({keep} x {n}) = 0): "
                         f"use keep >= {0.5 / n:.2g}")
    return count


def topk_mask(a, count):
    """A bool array of a's shape with exactly `count` True entries, at the largest values
    of `a` (ties broken by position in argpartition's deterministic order)."""
    xp = _get_xp(a)
    flat = a.reshape(-1)
    n = flat.size
    if not is_int(count) or not 1 <= count <= n:
        raise ValueError(f"topk_mask: count must be an integer from 1 to {n}, got {count!r}")
    mask = xp.zeros(n, dtype=bool)
    if count == n:
        mask[...] = True
    else:
        mask[xp.argpartition(flat, n - count)[n - count:]] = True
    return mask.reshape(a.shape)


class SupermaskFunction(Function):
    """(w, scores) -> w ⊙ top-k(|scores|) (or α sign(w) ⊙ mask); straight-through
    backward.  scores: w's shape, or w.shape[1:] (one score per hypercomplex element).
    Formulas in the module docstring."""

    def __init__(self, count, binary=False, relaxed=False):
        if binary and relaxed:
            raise ValueError("supermask: relaxed is the real-weight op w * |s|; binary "
                             "has no relaxed form here")
        self.count, self.binary, self.relaxed = count, binary, relaxed

    def forward(self, w, s):
        xp = _get_xp(w)
        if s.shape not in (w.shape, w.shape[1:]):
            raise ValueError(f"supermask: scores of shape {s.shape} fit neither the weight "
                             f"{w.shape} nor one of its components {w.shape[1:]}")
        a = xp.abs(s)
        self.w, self.sign = w, xp.sign(s)
        self.m = a if self.relaxed else topk_mask(a, self.count).astype(w.dtype)
        if not self.binary:
            return w * self.m
        if self.needs_input_grad[0]:
            raise ValueError("supermask binary (biprop): the weights are frozen and get no "
                             "gradient; make them requires_grad=False")
        full = xp.broadcast_to(self.m, w.shape)
        alpha = (xp.abs(w) * full).sum() / full.sum()   # mean |w| of the kept weights
        return alpha * xp.sign(w) * self.m

    def backward(self, g):
        gw = g * self.m if self.needs_input_grad[0] else None
        gs = g * self.w * self.sign if self.needs_input_grad[1] else None
        return gw, gs       # gs has w's shape: the engine sums it to an element's score


def supermask(w, scores, count, binary=False, relaxed=False):
    """The weight a supermasked layer computes with (see the module docstring)."""
    return SupermaskFunction(count, binary, relaxed)(as_tensor(w), as_tensor(scores))
