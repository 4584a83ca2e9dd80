"""Fully connected layers: real `Linear` and the hypercomplex family (`QLinear`, PHM).

Linear(in, out):           y = x W^T + b          weight (out, in)         in*out weights
QLinear(in, out):          y = W ⊗ x + b          weight (4, out/4, in/4)  in*out/4 weights
HypercomplexLinear(in, out, algebra): the same for any algebra of dimension n (n = 1 is
the real layer, n = 2 complex, n = 4 quaternion, n = 8 octonion); weight (n, out/n, in/n).
PHMLinear(in, out, n, rules="learned"): y = H x + b, H = sum_i A_i ⊗ S_i with the rules
A learned (n^3 more parameters: the network learns its own algebra), or fixed to an
algebra's table (rules="quaternion": exactly QLinear).

Sizes are always given in real units, so QLinear(784, 300) is a drop-in replacement for
Linear(784, 300) with a quarter of the weights.  Features are planar, [r | i | j | k]
along the last axis (see hyperprune.algebra).
"""
import numpy as np

from .. import backend, functional as F
from ..algebra import QUATERNION, get_algebra
from ..checks import is_int
from . import init as initializers
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weight.T + bias;  x (..., in_features) -> (..., out_features).

    init: 'glorot_normal' (default; Frankle & Carbin's LeNet and Conv-n), 'glorot_uniform',
    'he_normal' or 'he_uniform'. The bias starts at zero.
    """

    def __init__(self, in_features, out_features, bias=True, init="glorot_normal"):
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if not is_int(n) or n < 1:
                raise ValueError(f"Linear: {what} must be a positive integer, got {n!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init = init
        shape = (self.out_features, self.in_features)
        w = initializers.real_init(init, shape, in_features, out_features)
        self.weight = Parameter.from_host(w)
        self.bias = Parameter.from_host(np.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.effective("weight"), self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class HypercomplexLinear(Module):
    """y = W ⊗ x + b over an algebra of dimension n, sizes in real units (multiples of n).

    weight: (n, out_features/n, in_features/n), the component matrices (R, I, J, K for
    quaternions).  bias: (out_features,), real, one per output feature.
    init: 'glorot' or 'he' (the polar init for quaternions; for other algebras each
    component gets a real Glorot/He normal draw with fans in real units).
    """

    def __init__(self, in_features, out_features, bias=True, algebra=QUATERNION,
                 init="glorot"):
        super().__init__()
        self.algebra = get_algebra(algebra)
        n = self.components = self.algebra.dim
        for what, size in (("in_features", in_features), ("out_features", out_features)):
            if not is_int(size) or size < 1 or size % n:
                raise ValueError(
                    f"{type(self).__name__}({in_features}, {out_features}): {what} = {size!r} "
                    f"must be a positive multiple of {n} ({self.algebra.name} units of {n} "
                    "real features)")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init = init
        shape = (n, self.out_features // n, self.in_features // n)
        if self.algebra is QUATERNION:
            w = initializers.quaternion_polar(shape, init)
        else:
            initializers.check_criterion(init)
            w = initializers.real_init(f"{init}_normal", shape, in_features, out_features)
        self.weight = Parameter.from_host(w)
        self.bias = Parameter.from_host(np.zeros(out_features)) if bias else None

    def forward(self, x):
        return F.hypercomplex_linear(x, self.effective("weight"), self.bias, self.algebra)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, algebra={self.algebra.name}")


class QLinear(HypercomplexLinear):
    """Quaternion fully connected layer: y = W ⊗ x + b (Hamilton product, weight on the left).

    QLinear(in_features, out_features): sizes in real units, multiples of 4.
    weight (4, out_features/4, in_features/4): components r, i, j, k;  bias (out_features,).
    The product is the real block matrix [[R,-I,-J,-K],[I,R,-K,J],[J,K,R,-I],[K,-J,I,R]]
    applied in one GEMM (for small batches, one GEMM of all component products combined
    by the sign table instead); the backward is hand-derived (hyperprune.functional.linear).
    Convention note: qytorch computes conj(W) ⊗ x, some libraries x ⊗ W.
    """

    def __init__(self, in_features, out_features, bias=True, init="glorot"):
        super().__init__(in_features, out_features, bias, QUATERNION, init)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def register_phm(module, learned, fixed, weight, bias_size):
    """A PHM layer's tensors on `module` (from nn.init.phm_parameters): learned rules as a
    Parameter, fixed ones as a buffer (they move with the model, never train), the
    weight, and a zero bias of `bias_size` (0: none)."""
    if learned is not None:
        module.rules = Parameter.from_host(learned)
    else:
        module.register_buffer("rules", backend.asarray(
            fixed.astype(backend.get_default_dtype())))
    module.learned_rules = learned is not None
    module.weight = Parameter.from_host(weight)
    module.bias = Parameter.from_host(np.zeros(bias_size)) if bias_size else None


class PHMLinear(Module):
    """A parameterized hypercomplex multiplication layer (Zhang et al., ICLR 2021):

        y = H x + b,   H = sum_{i=1..n} A_i ⊗ S_i       (out_features, in_features)

    in_features, out_features: real units, multiples of n.  Parameters: `weight`
    (n, out/n, in/n) -- weight[i] is S_i -- and, with rules="learned", `rules` (n, n, n)
    -- rules[i] is A_i -- learned too (never pruned).  rules="quaternion" (or any algebra
    name, or an Algebra) fixes A to that algebra's table (Algebra.rules, a buffer, not a
    parameter): PHMLinear(in, out, 4, rules="quaternion") with QLinear's weight computes
    QLinear's output.  An (n, n, n) array fixes the rules to it.  Planar layout and the
    weight on the left, as QLinear.  bias (out_features,), zeros.

    init: learned rules -- variance-matched (nn.init.phm: Var(H) is the real layer's
    Glorot or He variance); fixed quaternion rules -- the polar init; other fixed rules
    -- a real normal draw per component (fans in real units).
    """

    def __init__(self, in_features, out_features, n, rules="learned", bias=True,
                 init="glorot"):
        super().__init__()
        name = f"PHMLinear({in_features!r}, {out_features!r}, n={n!r})"
        if not is_int(n) or n < 1:
            raise ValueError(f"{name}: n must be a positive integer")
        for what, size in (("in_features", in_features), ("out_features", out_features)):
            if not is_int(size) or size < 1 or size % n:
                raise ValueError(f"{name}: {what} = {size!r} must be a positive multiple of "
                                 f"n = {n}")
        self.in_features, self.out_features, self.n = int(in_features), int(out_features), n
        self.components = n
        self.init = init
        shape = (n, self.out_features // n, self.in_features // n)
        learned, fixed, w = initializers.phm_parameters(name, rules, n, shape, init,
                                                        in_features, out_features)
        register_phm(self, learned, fixed, w, out_features if bias else 0)

    def forward(self, x):
        return F.phm_linear(x, self.effective("rules"), self.effective("weight"), self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"n={self.n}, rules={'learned' if self.learned_rules else 'fixed'}, "
                f"bias={self.bias is not None}")
