"""Elementwise arithmetic and dropout, each Function with its derivative beside its forward.

    add(a, b), sub, mul, div       binary, with NumPy broadcasting (undone by the engine)
    neg(x), pow(x, p), exp, log, sqrt
    dropout(x, p, training)        inverted dropout; dropout_mask draws its mask

`g` is dL/d(output); backward returns dL/d(input) for each input, in the output's shape
(the engine sums broadcast axes back, autograd.sum_to).
"""
import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor

_get_xp = backend.get_array_module


# ================================================================== binary
class Add(Function):
    """y = a + b;  dy/da = 1, dy/db = 1."""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


def add(a, b):
    return Add()(a, b)


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


def sub(a, b):
    return Sub()(a, b)


class Mul(Function):
    """y = a * b;  dy/da = b, dy/db = a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga = g * self.b if self.needs_input_grad[0] else None
        gb = g * self.a if self.needs_input_grad[1] else None
        return ga, gb


def mul(a, b):
    return Mul()(a, b)


class Div(Function):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b^2 = -y/b."""

    def forward(self, a, b):
        self.b = b
        self.y = a / b
        return self.y

    def backward(self, g):
        ga = g / self.b if self.needs_input_grad[0] else None
        gb = -g * self.y / self.b if self.needs_input_grad[1] else None
        return ga, gb


def div(a, b):
    return Div()(a, b)


# =================================================================== unary
class Neg(Function):
    """y = -x;  dy/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


def neg(x):
    return Neg()(x)


class Pow(Function):
    """y = x^p for a constant real p;  dy/dx = p x^(p-1)."""

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        self.x = x
        if self.p == 2:
            return x * x
        return _get_xp(x).power(x, self.p)

    def backward(self, g):
        x, p = self.x, self.p
        if p == 2:
            return g * (x + x)
        return g * (p * _get_xp(x).power(x, p - 1))


def pow(x, p):
    if isinstance(p, Tensor) or not isinstance(p, (int, float)):
        raise TypeError(f"pow: the exponent must be a Python number, got {type(p).__name__}")
    return Pow(p)(x)


class Exp(Function):
    """y = e^x;  dy/dx = e^x = y."""

    def forward(self, x):
        self.y = _get_xp(x).exp(x)
        return self.y

    def backward(self, g):
        return g * self.y


def exp(x):
    return Exp()(x)


class Log(Function):
    """y = ln x (x > 0);  dy/dx = 1/x."""

    def forward(self, x):
        self.x = x
        return _get_xp(x).log(x)

    def backward(self, g):
        return g / self.x


def log(x):
    return Log()(x)


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 sqrt(x)) = 0.5 / y."""

    def forward(self, x):
        self.y = _get_xp(x).sqrt(x)
        return self.y

    def backward(self, g):
        return g * 0.5 / self.y


def sqrt(x):
    return Sqrt()(x)


# ================================================================= dropout
def dropout_mask(shape, p, dtype, like):
    """The inverted-dropout mask of `shape`: 0 with probability p, else 1/(1-p), of
    `dtype` on the array module of `like`.  Drawn on the host from the library's
    generator (hyperprune.manual_seed), so every backend sees the same mask for a seed."""
    keep = backend.rng().random(shape, dtype=np.float32) >= p
    return _get_xp(like).asarray((keep / (1 - p)).astype(dtype))


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout, so evaluation needs no rescaling). Identity when not training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    return x * Tensor(dropout_mask(x.shape, p, x.dtype, x.data))
