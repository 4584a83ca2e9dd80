"""Activation layers.

Split activations.  A split activation applies a real function to each component of a
quaternion separately: f(w + xi + yj + zk) = f(w) + f(x)i + f(y)j + f(z)k.  On the planar
layout that is exactly the elementwise function, so `ReLU()`, `Tanh()`, `Sigmoid()` and
`GELU()` *are* the split activations of quaternion layers (no reshuffling needed).

A fully quaternion activation acts on each quaternion as a whole: `ModReLU` keeps the
direction q/|q| and applies a ReLU with a learned threshold to the magnitude.
"""
import numpy as np

from .. import functional as F
from ..algebra import QUATERNION, get_algebra
from ..checks import is_int
from .module import Module, Parameter


class _Elementwise(Module):
    """A layer that applies one elementwise op of hyperprune.functional (`function`)."""

    function = None

    def forward(self, x):
        return type(self).function(x)


class ReLU(_Elementwise):
    """relu(x) = max(x, 0) elementwise (the split ReLU on quaternion features)."""

    function = staticmethod(F.relu)


class Tanh(_Elementwise):
    """tanh(x) elementwise."""

    function = staticmethod(F.tanh)


class Sigmoid(_Elementwise):
    """1 / (1 + e^-x) elementwise."""

    function = staticmethod(F.sigmoid)


class GELU(_Elementwise):
    """GELU, tanh approximation, elementwise."""

    function = staticmethod(F.gelu)


class ModReLU(Module):
    """modReLU(q) = relu(|q| + b) q/|q| per hypercomplex number, b learned (one per number).

    features: the size of the planar input in real units (a multiple of the algebra's
    dimension n; quaternions by default).  The bias starts at `init_bias` (default 0:
    modReLU is then the identity).
    """

    def __init__(self, features, init_bias=0.0, algebra=QUATERNION):
        super().__init__()
        self.algebra = get_algebra(algebra)
        n = self.algebra.dim
        if not is_int(features) or features < n or features % n:
            raise ValueError(f"ModReLU({features!r}): features must be a positive multiple "
                             f"of {n} ({self.algebra.name} numbers of {n} real components)")
        self.features = int(features)
        self.bias = Parameter.from_host(np.full(features // n, init_bias))

    def forward(self, x):
        return F.mod_relu(x, self.bias, self.algebra.dim)

    def extra_repr(self):
        return f"features={self.features}"
