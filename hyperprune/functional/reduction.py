"""Reductions over axes, each Function with its derivative beside its forward.

    sum(x, axis=None, keepdims=False), mean(...), max(...)

`axis` is an int, a tuple of ints or None (all axes), negative values counting from the
end, as NumPy's; the gradient of a reduction is the output gradient broadcast back over
the reduced axes (times 1/n for the mean, shared among the ties for the max).
"""
import builtins
import math

from .. import backend
from ..autograd import Function, as_tensor

_get_xp = backend.get_array_module


def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor with {ndim} axes")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand_like(g, axes, keepdims, shape):
    """Broadcast the gradient of a reduction back to the input's shape (a new array)."""
    if not keepdims:
        g = g.reshape([1 if i in axes else n for i, n in enumerate(shape)])
    out = _get_xp(g).empty(shape, dtype=g.dtype)
    out[...] = g
    return out


class _Reduction:
    """The parameters of a reduction over `axis` (a mixin of the reduction Functions)."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def _axes_of(self, x):
        self.shape = x.shape
        self.axes = _normalize_axis(self.axis, x.ndim)
        return self.axes


class Sum(_Reduction, Function):
    """y = sum of x over `axis`;  dy/dx_i = 1, so dL/dx is G broadcast back."""

    def forward(self, x):
        return x.sum(axis=self._axes_of(x), keepdims=self.keepdims)

    def backward(self, g):
        return _expand_like(g, self.axes, self.keepdims, self.shape)


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims)(x)


class Mean(_Reduction, Function):
    """y = mean of x over `axis` (n elements);  dy/dx_i = 1/n."""

    def forward(self, x):
        self.n = math.prod(x.shape[a] for a in self._axes_of(x))
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, g):
        return _expand_like(g * (1.0 / self.n), self.axes, self.keepdims, self.shape)


def mean(x, axis=None, keepdims=False):
    return Mean(axis, keepdims)(x)


class Max(_Reduction, Function):
    """y = max of x over `axis`.  dy/dx_i = 1/k for the k elements equal to the maximum
    (ties share the gradient, as torch.amax), 0 elsewhere."""

    def forward(self, x):
        y = x.max(axis=self._axes_of(x), keepdims=True)
        self.mask = x == y
        return y if self.keepdims else y.reshape(
            [n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        mask = self.mask
        count = mask.sum(axis=self.axes, keepdims=True)
        g = _expand_like(g, self.axes, self.keepdims, mask.shape)
        return g * mask / count


def max(x, axis=None, keepdims=False):
    x = as_tensor(x)
    if x.size == 0:
        raise ValueError("max of an empty tensor")
    return Max(axis, keepdims)(x)
