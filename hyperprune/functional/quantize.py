"""Fake quantization for quantization-aware training, with a straight-through backward.

    fake_quantize(w, scale, bits)      the k-bit grid value of every entry, as floats

Forward (hyperprune.quantize's grid, symmetric, zero exact): with m = 2^(k-1) - 1,

    q(w) = scale * clip(round(w / scale), -m, m)          k >= 2
    q(w) = scale * sign(w)                                 k = 1 (0 stays 0)

Backward.  round() has derivative 0 almost everywhere, so training through q itself
learns nothing.  The straight-through estimator (Bengio et al. 2013) uses instead the
derivative of the *relaxed* op, the clip without the rounding:

    dL/dw = g * 1[|w| <= m * scale]       (k = 1: 1[|w| <= scale])

i.e. the gradient passes unchanged inside the clipping range and is zero outside it, where
moving w would not move q(w).  `scale` is a constant of the step (taken from the weights,
without a gradient).  relaxed=True makes the forward the relaxed op itself,
clip(w, -m scale, m scale) -- the function the backward differentiates exactly, which is
what a gradcheck can verify.
"""
from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..checks import is_int

_get_xp = backend.get_array_module


def grid_max(bits):
    """m: the largest code of the k-bit symmetric grid {-m, ..., m} (m = 1 for k = 1,
    whose grid is {-1, +1})."""
    if not is_int(bits) or not 1 <= bits <= 8:
        raise ValueError(f"bits must be an integer from 1 to 8, got {bits!r}")
    return 1 if bits == 1 else 2 ** (bits - 1) - 1


class FakeQuantizeFunction(Function):
    """w -> its k-bit grid value (or, relaxed, its clip); straight-through backward.
    scale: an array broadcastable to w (per tensor or per output unit).  Formulas in the
    module docstring."""

    def __init__(self, scale, bits, relaxed=False):
        self.scale, self.bits, self.relaxed = scale, bits, relaxed
        self.m = grid_max(bits)

    def forward(self, w):
        xp, limit = _get_xp(w), self.m * self.scale
        self.inside = xp.abs(w) <= limit
        if self.relaxed:
            return xp.clip(w, -limit, limit)
        if self.bits == 1:
            return xp.sign(w) * self.scale
        return xp.clip(xp.rint(w / self.scale), -self.m, self.m) * self.scale

    def backward(self, g):
        return g * self.inside


def fake_quantize(w, scale, bits, relaxed=False):
    """The k-bit grid value of w (see the module docstring); scale broadcastable to w."""
    w = as_tensor(w)
    if isinstance(scale, Tensor):                 # a constant of the step: no gradient
        scale = scale.data
    xp = backend.get_array_module(w.data)
    scale = xp.asarray(scale, dtype=w.data.dtype)
    return FakeQuantizeFunction(scale, bits, relaxed)(w)
