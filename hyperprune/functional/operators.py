"""Tensor's operators and methods, wired to the ops of this package.

`a + b`, `a @ b`, `x[i]`, `x.sum()`, `x.reshape(...)`, ... call the same functions as
`hyperprune.functional` (so they check their arguments and record the graph the same
way).  Comparisons (==, !=, <, <=, >, >=) are elementwise, as NumPy's and PyTorch's, and
give tensors of bools that carry no gradient; `x.any()` and `x.all()` reduce them.  A
Tensor still hashes by identity (as torch.Tensor), so it can key a dict; `bool(t)` is
defined for one element only (NumPy's ambiguity error otherwise).

`x.transpose(*axes)` follows NumPy (a permutation of all the axes: x.transpose(1, 0),
x.transpose((1, 0)), or x.transpose() to reverse them), not torch.transpose(dim0, dim1),
which swaps two axes -- that is `x.swapaxes(a, b)` here.
"""
from .. import backend
from ..autograd import Tensor, as_tensor
from .activation import log_softmax, relu, sigmoid, softmax, tanh
from .elementwise import add, div, exp, log, mul, neg, pow, sqrt, sub
from .linear import matmul
from .reduction import max, mean, sum
from .shape import getitem, permute, reshape, swapaxes, transpose


def _swap(fn):
    return lambda a, b: fn(as_tensor(b, like=a), a)


Tensor.__add__ = add
Tensor.__radd__ = _swap(add)
Tensor.__sub__ = sub
Tensor.__rsub__ = _swap(sub)
Tensor.__mul__ = mul
Tensor.__rmul__ = _swap(mul)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = _swap(div)
Tensor.__neg__ = neg
Tensor.__pow__ = pow
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = _swap(matmul)
Tensor.__getitem__ = getitem
Tensor.sum = sum
Tensor.mean = mean
Tensor.max = max
Tensor.exp = exp
Tensor.log = log
Tensor.sqrt = sqrt
Tensor.tanh = tanh
Tensor.sigmoid = sigmoid
Tensor.relu = relu
Tensor.softmax = softmax
Tensor.log_softmax = log_softmax
Tensor.reshape = reshape


def _transpose_method(self, *axes):
    """x.transpose(*axes): NumPy's signature (see the module docstring)."""
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return transpose(self, tuple(axes) if axes else None)


Tensor.transpose = _transpose_method
Tensor.permute = permute
Tensor.swapaxes = swapaxes
Tensor.T = property(lambda self: transpose(self))


def _compare(name):
    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        result = getattr(self.data, name)(other)
        if result is NotImplemented:
            return NotImplemented
        # NumPy gives a scalar for 0-d operands: keep it a (0-d) array of self's module
        return Tensor(backend.get_array_module(self.data).asarray(result))
    method.__name__ = name
    return method


for _name in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
    setattr(Tensor, _name, _compare(_name))


def _any(self, axis=None, keepdims=False):
    """Whether any element is true (along `axis`): a bool Tensor without a graph."""
    return Tensor(backend.get_array_module(self.data).asarray(
        self.data.any(axis=axis, keepdims=keepdims)))


def _all(self, axis=None, keepdims=False):
    """Whether every element is true (along `axis`): a bool Tensor without a graph."""
    return Tensor(backend.get_array_module(self.data).asarray(
        self.data.all(axis=axis, keepdims=keepdims)))


Tensor.any = _any
Tensor.all = _all
