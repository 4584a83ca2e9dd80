"""Convolution and pooling layers on NCHW images (the ops are in hyperprune.functional.conv).

Conv2d(in, out, k):        y = W ⊛ x + b        weight (out, in, kh, kw)           in*out*kh*kw
QConv2d(in, out, k):       y = W ⊛ x + b        weight (4, out/4, in/4, kh, kw)    a quarter
                           with the Hamilton product, planar channels [r | i | j | k]
HypercomplexConv2d(in, out, k, algebra): the same for any algebra of dimension n.
MaxPool2d(k, stride=None), AvgPool2d(k, stride=None), GlobalAvgPool2d(): no weights.

Channel counts are in real units (QConv2d(64, 64, 3) is a drop-in for Conv2d(64, 64, 3)).
Convolutions set `is_convolution = True`: layer-wise pruning gives them the conv rate.
"""
import numpy as np

from ..algebra import QUATERNION, get_algebra
from ..checks import int_pair, is_int
from ..functional import (avg_pool2d, conv2d, global_avg_pool2d, hypercomplex_conv2d,
                          max_pool2d, phm_conv2d)
from . import init as initializers
from .linear import register_phm
from .module import Module, Parameter


class _ConvBase(Module):
    """Argument checks and the input check shared by the convolution layers."""

    is_convolution = True
    multiple = 1  # channel counts must be multiples of this (the algebra's dimension)

    def _setup(self, in_channels, out_channels, kernel_size, stride, padding, unit):
        name = (f"{type(self).__name__}({in_channels!r}, {out_channels!r}, "
                f"kernel_size={kernel_size!r})")
        for what, size in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not is_int(size) or size < 1 \
                    or size % self.multiple:
                must = "a positive integer" if self.multiple == 1 else \
                    f"a positive multiple of {self.multiple} ({unit})"
                raise ValueError(f"{name}: {what} = {size!r} must be {must}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = int_pair(kernel_size, f"{name}: kernel_size")
        self.stride = int_pair(stride, f"{name}: stride")
        self.padding = int_pair(padding, f"{name}: padding", minimum=0)
        self._name = name

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self._name}: expected an input of shape "
                             f"(N, {self.in_channels}, H, W), got {tuple(x.shape)}")

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class Conv2d(_ConvBase):
    """y = conv2d(x, weight, bias): (N, in_channels, H, W) -> (N, out_channels, Ho, Wo).

    weight (out_channels, in_channels, kh, kw) as PyTorch; bias (out_channels,), zeros.
    kernel_size, stride, padding: an int or a pair (zero padding, symmetric).
    init: 'glorot_normal' (default, as Frankle & Carbin's Conv-n), 'glorot_uniform',
    'he_normal', 'he_uniform', with fans channels * kernel area.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 init="glorot_normal"):
        super().__init__()
        self._setup(in_channels, out_channels, kernel_size, stride, padding, None)
        self.init = init
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels, kh, kw)
        self.weight = Parameter.from_host(initializers.real_init(
            init, shape, self.in_channels * kh * kw, self.out_channels * kh * kw))
        self.bias = Parameter.from_host(np.zeros(self.out_channels)) if bias else None

    def forward(self, x):
        self._check_input(x)
        return conv2d(x, self.effective("weight"), self.bias, self.stride, self.padding)


class HypercomplexConv2d(_ConvBase):
    """y = W ⊛ x + b over an algebra of dimension n; channels in real units (multiples of n).

    weight (n, out_channels/n, in_channels/n, kh, kw): one hypercomplex number per
    (output, input, kernel offset); bias (out_channels,), real, zeros.
    init: 'glorot' or 'he' (the polar init for quaternions, fans = channels/4 * kernel
    area; for other algebras a real normal draw per component, fans in real units).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 algebra=QUATERNION, init="glorot"):
        super().__init__()
        self.algebra = get_algebra(algebra)
        n = self.multiple = self.components = self.algebra.dim
        self._setup(in_channels, out_channels, kernel_size, stride, padding,
                    f"{self.algebra.name} units of {n} real channels")
        self.init = init
        kh, kw = self.kernel_size
        shape = (n, self.out_channels // n, self.in_channels // n, kh, kw)
        if self.algebra is QUATERNION:
            w = initializers.quaternion_polar(shape, init)
        else:
            initializers.check_criterion(init)
            w = initializers.real_init(f"{init}_normal", shape, self.in_channels * kh * kw,
                                       self.out_channels * kh * kw)
        self.weight = Parameter.from_host(w)
        self.bias = Parameter.from_host(np.zeros(self.out_channels)) if bias else None

    def forward(self, x):
        self._check_input(x)
        return hypercomplex_conv2d(x, self.effective("weight"), self.bias, self.stride,
                                   self.padding, self.algebra)

    def extra_repr(self):
        return super().extra_repr() + f", algebra={self.algebra.name}"


class QConv2d(HypercomplexConv2d):
    """Quaternion convolution: y = W ⊛ x + b with the Hamilton product, weight on the left.

    QConv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
    init='glorot'): channels in real units, multiples of 4, planar [r | i | j | k] (channels
    0..C/4-1 are the real parts).  weight (4, out/4, in/4, kh, kw), polar init; bias
    (out_channels,).  Computed as a real convolution with the assembled block weight
    M = QUATERNION.block_matrix(W) (hyperprune.functional.conv), so it costs what Conv2d costs.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 init="glorot"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias,
                         QUATERNION, init)

    def extra_repr(self):
        return _ConvBase.extra_repr(self)


class PHMConv2d(_ConvBase):
    """A PHM convolution (PHC): y = H ⊛ x + b with H = sum_i A_i ⊗ F_i over the channel
    blocks only (the kernel's spatial axes are never part of the Kronecker product).

    weight (n, out_channels/n, in_channels/n, kh, kw) -- weight[i] is F_i; rules (n, n, n)
    learned (rules="learned", never pruned) or fixed to an algebra's table (a buffer);
    channels in real units, multiples of n, planar.  Init and rules as nn.PHMLinear, with
    fans channels * kernel area.
    """

    def __init__(self, in_channels, out_channels, kernel_size, n, rules="learned", stride=1,
                 padding=0, bias=True, init="glorot"):
        super().__init__()
        if not is_int(n) or n < 1:
            raise ValueError(f"PHMConv2d({in_channels!r}, {out_channels!r}): n must be a "
                             f"positive integer, got {n!r}")
        self.multiple = self.components = self.n = n
        self._setup(in_channels, out_channels, kernel_size, stride, padding, f"n = {n}")
        self.init = init
        kh, kw = self.kernel_size
        shape = (n, self.out_channels // n, self.in_channels // n, kh, kw)
        learned, fixed, w = initializers.phm_parameters(
            self._name, rules, n, shape, init, self.in_channels * kh * kw,
            self.out_channels * kh * kw)
        register_phm(self, learned, fixed, w, self.out_channels if bias else 0)

    def forward(self, x):
        self._check_input(x)
        return phm_conv2d(x, self.effective("rules"), self.effective("weight"), self.bias,
                          self.stride, self.padding)

    def extra_repr(self):
        return super().extra_repr() + (f", n={self.n}, rules="
                                       f"{'learned' if self.learned_rules else 'fixed'}")


class _Pool(Module):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = int_pair(kernel_size, f"{type(self).__name__}: kernel_size")
        self.stride = self.kernel_size if stride is None else \
            int_pair(stride, f"{type(self).__name__}: stride")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class MaxPool2d(_Pool):
    """Max over each kernel_size window, moved by stride (default kernel_size); no padding.
    Ties: the gradient goes to the first maximum in row-major window order."""

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride)


class AvgPool2d(_Pool):
    """Mean over each kernel_size window, moved by stride (default kernel_size); no padding."""

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride)


class GlobalAvgPool2d(Module):
    """Mean over height and width: (N, C, H, W) -> (N, C) (ready for a Linear layer)."""

    def forward(self, x):
        return global_avg_pool2d(x)
