"""Tensor's operators and methods, wired to the ops of this package.

`a + b`, `a @ b`, `x[i]`, `x.sum()`, `x.reshape(...)`, ... call the same functions as
`hyperprune.functional` (so they check their arguments and record the graph the same
way); comparisons give tensors of bools without a graph.
"""
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
Tensor.transpose = transpose
Tensor.permute = permute
Tensor.swapaxes = swapaxes
Tensor.T = property(lambda self: transpose(self))


def _compare(name):
    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(getattr(self.data, name)(other))
    return method


for _name in ("__lt__", "__le__", "__gt__", "__ge__"):
    setattr(Tensor, _name, _compare(_name))
