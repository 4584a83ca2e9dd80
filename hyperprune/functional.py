"""Differentiable operations: each a `Function` with its derivative beside its forward.

Conventions: `g` is the gradient of the loss with respect to the op's output (same shape
as the output); backward returns the gradient with respect to each input.  Broadcasting is
undone by the engine (`autograd.sum_to`), so a binary op returns gradients in the output's
shape.  Arrays come from the inputs' own module (`get_array_module`), so every op runs on
NumPy, CuPy or the strict stand-in unchanged.

The public functions at the bottom of each section check their arguments and call the
Function; Tensor's operators (`+`, `@`, `x[i]`, `x.sum()`, ...) are wired to them at the end.
"""
import builtins
import math

import numpy as np

from . import backend
from .autograd import Function, Tensor, as_tensor

_get_xp = backend.get_array_module


# ===================================================================== elementwise binary
class Add(Function):
    """y = a + b;  dy/da = 1, dy/db = 1."""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b;  dy/da = b, dy/db = a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga = g * self.b if self.needs_input_grad[0] else None
        gb = g * self.a if self.needs_input_grad[1] else None
        return ga, gb


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


def add(a, b):
    return Add()(a, b)


def sub(a, b):
    return Sub()(a, b)


def mul(a, b):
    return Mul()(a, b)


def div(a, b):
    return Div()(a, b)


# ====================================================================== elementwise unary
class Neg(Function):
    """y = -x;  dy/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


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


class Exp(Function):
    """y = e^x;  dy/dx = e^x = y."""

    def forward(self, x):
        self.y = _get_xp(x).exp(x)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    """y = ln x (x > 0);  dy/dx = 1/x."""

    def forward(self, x):
        self.x = x
        return _get_xp(x).log(x)

    def backward(self, g):
        return g / self.x


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 sqrt(x)) = 0.5 / y."""

    def forward(self, x):
        self.y = _get_xp(x).sqrt(x)
        return self.y

    def backward(self, g):
        return g * 0.5 / self.y


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y^2."""

    def forward(self, x):
        self.y = _get_xp(x).tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2, which never overflows;
    dy/dx = y (1 - y)."""

    def forward(self, x):
        y = _get_xp(x).tanh(x * 0.5)
        y += 1
        y *= 0.5
        self.y = y
        return y

    def backward(self, g):
        return g * (self.y * (1 - self.y))


class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1 if x > 0 else 0 (0 at the kink, as PyTorch)."""

    def forward(self, x):
        self.positive = x > 0
        return _get_xp(x).maximum(x, 0)

    def backward(self, g):
        return g * self.positive


_GELU_C = math.sqrt(2.0 / math.pi)


class GELU(Function):
    """GELU, tanh form (Hendrycks & Gimpel):  y = x/2 (1 + t),  t = tanh(u),
    u = c (x + 0.044715 x^3),  c = sqrt(2/pi).

    dy/dx = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 * 0.044715 x^2).
    (x*x*x, not x**3: the power ufunc is ~15x slower on float32.)
    """

    def forward(self, x):
        u = x * x                      # in-place steps: two temporaries instead of six
        u *= 0.044715
        u += 1
        u *= x                         # x + 0.044715 x^3
        u *= _GELU_C
        t = _get_xp(x).tanh(u)
        self.x, self.t = x, t
        y = t + 1
        y *= x
        y *= 0.5
        return y

    def backward(self, g):
        x, t = self.x, self.t
        d = x * x
        d *= 3 * 0.044715 * _GELU_C
        d += _GELU_C                   # c (1 + 3 * 0.044715 x^2)
        d *= x
        d *= 1 - t * t                 # x (1 - t^2) du/dx
        d += t
        d += 1
        d *= 0.5
        d *= g
        return d


def neg(x):
    return Neg()(x)


def pow(x, p):
    if isinstance(p, Tensor) or not isinstance(p, (int, float)):
        raise TypeError(f"pow: the exponent must be a Python number, got {type(p).__name__}")
    return Pow(p)(x)


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def tanh(x):
    return Tanh()(x)


def sigmoid(x):
    return Sigmoid()(x)


def relu(x):
    return ReLU()(x)


def gelu(x):
    return GELU()(x)


# ================================================================================ matmul
class MatMul(Function):
    """Y = A @ B over the last two axes, batch axes broadcast (NumPy's matmul).

    dL/dA = G @ B^T,  dL/dB = A^T @ G  (^T swaps the last two axes); summing over
    broadcast batch axes is done by the engine.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        ga = g @ self.b.swapaxes(-1, -2) if self.needs_input_grad[0] else None
        gb = self.a.swapaxes(-1, -2) @ g if self.needs_input_grad[1] else None
        return ga, gb


def matmul(a, b):
    """Matrix product with NumPy semantics (1-D operands are promoted and squeezed back)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one axis, got shapes "
                         f"{a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else -1]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                         f"{a.shape[-1]} (last axis of a) != "
                         f"{b.shape[-2 if b.ndim > 1 else -1]} "
                         f"({'second-to-last' if b.ndim > 1 else 'only'} axis of b)")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast")
    if a.ndim == 1 and b.ndim == 1:
        return MatMul()(a.reshape(1, -1), b.reshape(-1, 1)).reshape(())
    if a.ndim == 1:
        out = MatMul()(a.reshape(1, -1), b)
        return out.reshape(out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        return MatMul()(a, b.reshape(-1, 1)).reshape(a.shape[:-1])
    return MatMul()(a, b)


class Linear(Function):
    """y = x W^T + b for x (..., in), W (out, in), b (out,) — PyTorch's layout.

    dL/dx = G W,  dL/dW = G^T x,  dL/db = sum of G over all leading axes
    (with x and G flattened to 2-D: (rows, in) and (rows, out)).
    """

    def forward(self, x, w, b=None):
        self.x_shape = x.shape
        self.x2 = x.reshape(-1, x.shape[-1])
        self.w = w
        y = self.x2 @ w.T
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g2 @ self.w).reshape(self.x_shape) if self.needs_input_grad[0] else None
        gw = g2.T @ self.x2 if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 2:
            return gx, gw
        gb = g2.sum(axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, for x (..., in_features) and weight (out_features, in_features)."""
    x, weight = as_tensor(x), as_tensor(weight)
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                         f"{weight.shape}: expected input (..., {weight.shape[-1]})")
    if bias is None:
        return Linear()(x, weight)
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not match "
                         f"{weight.shape[0]} output features")
    return Linear()(x, weight, bias)


# ============================================================================ reductions
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


class Sum(Function):
    """y = sum of x over `axis`;  dy/dx_i = 1, so dL/dx is G broadcast back."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.axes = _normalize_axis(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, g):
        return _expand_like(g, self.axes, self.keepdims, self.shape)


class Mean(Function):
    """y = mean of x over `axis` (n elements);  dy/dx_i = 1/n."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.axes = _normalize_axis(self.axis, x.ndim)
        self.n = math.prod(x.shape[a] for a in self.axes)
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, g):
        return _expand_like(g * (1.0 / self.n), self.axes, self.keepdims, self.shape)


class Max(Function):
    """y = max of x over `axis`.  dy/dx_i = 1/k for the k elements equal to the maximum
    (ties share the gradient, as torch.amax), 0 elsewhere."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = _normalize_axis(self.axis, x.ndim)
        y = x.max(axis=self.axes, keepdims=True)
        self.mask = x == y
        return y if self.keepdims else y.reshape(
            [n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        mask = self.mask
        count = mask.sum(axis=self.axes, keepdims=True)
        g = _expand_like(g, self.axes, self.keepdims, mask.shape)
        return g * mask / count


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=False):
    return Mean(axis, keepdims)(x)


def max(x, axis=None, keepdims=False):
    x = as_tensor(x)
    if x.size == 0:
        raise ValueError("max of an empty tensor")
    return Max(axis, keepdims)(x)


# ======================================================================== shape and index
class Reshape(Function):
    """y = x viewed with a new shape;  dL/dx = G reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


class Transpose(Function):
    """y = x with its axes permuted;  dL/dx = G with the inverse permutation."""

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        self.axes = tuple(range(x.ndim))[::-1] if self.axes is None else self.axes
        return x.transpose(self.axes)

    def backward(self, g):
        return g.transpose(tuple(np.argsort(self.axes)))


def _is_advanced(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(backend.is_array(p) or isinstance(p, list) for p in parts)


class GetItem(Function):
    """y = x[key] (NumPy indexing).  dL/dx is zero except at the selected positions, which
    receive G; an element selected twice by an integer array receives both gradients."""

    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.key]

    def backward(self, g):
        out = _get_xp(g).zeros(self.shape, dtype=self.dtype)
        if _is_advanced(self.key):
            backend.scatter_add(out, self.key, g)
        else:
            out[self.key] = g
        return out


class Concatenate(Function):
    """y = the inputs joined along `axis`;  each input's gradient is its slice of G."""

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return _get_xp(*xs).concatenate(xs, axis=self.axis)

    def backward(self, g):
        grads, start = [], 0
        index = [slice(None)] * g.ndim
        for size in self.sizes:
            index[self.axis] = slice(start, start + size)
            grads.append(g[tuple(index)])
            start += size
        return tuple(grads)


class Stack(Function):
    """y = the inputs stacked along a new `axis`;  input k's gradient is G[..., k, ...]."""

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        return _get_xp(*xs).stack(xs, axis=self.axis)

    def backward(self, g):
        index = [slice(None)] * g.ndim
        grads = []
        for k in range(g.shape[self.axis]):
            index[self.axis] = k
            grads.append(g[tuple(index)])
        return tuple(grads)


def reshape(x, *shape):
    x = as_tensor(x)
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
        else tuple(shape)
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) > 1 or (-1 not in shape and known != x.size) or \
            (-1 in shape and (known == 0 or x.size % known)):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into shape {shape}")
    return Reshape(shape)(x)


def transpose(x, axes=None):
    """Permute the axes (NumPy's transpose; all axes reversed when `axes` is None)."""
    x = as_tensor(x)
    if axes is not None:
        axes = tuple(a % x.ndim for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the "
                             f"{x.ndim} axes of a tensor of shape {x.shape}")
    return Transpose(axes)(x)


def permute(x, *axes):
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    return transpose(x, axes)


def swapaxes(x, axis1, axis2):
    x = as_tensor(x)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def _device_key(key, x):
    """Tensors and lists in an index become arrays of x's backend, and integer arrays are
    range-checked: NumPy would raise, but CuPy silently wraps out-of-range indices."""
    module = _get_xp(x)
    parts = []
    for p in (key if isinstance(key, tuple) else (key,)):
        if isinstance(p, Tensor):
            p = p.data
        if isinstance(p, list) or (isinstance(p, np.ndarray) and module is not np):
            p = module.asarray(np.asarray(p))
        parts.append(p)
    consumed = builtins.sum(
        (p.ndim if backend.is_array(p) and p.dtype == bool else 1)
        for p in parts if p is not None and p is not Ellipsis)
    axis = 0
    for p in parts:
        if p is Ellipsis:
            axis += x.ndim - consumed
        elif backend.is_array(p) and p.dtype == bool:
            axis += p.ndim
        elif p is not None:
            if axis >= x.ndim:
                raise IndexError(f"too many indices for a tensor of shape {x.shape}")
            if backend.is_array(p) and p.dtype.kind in "iu":
                backend.check_index_range(p, x.shape[axis], f"index along axis {axis}")
            axis += 1
    return tuple(parts) if isinstance(key, tuple) else parts[0]


def getitem(x, key):
    x = as_tensor(x)
    return GetItem(_device_key(key, x.data))(x)


def concatenate(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    ref = tensors[0].shape
    for t in tensors[1:]:
        if t.ndim != len(ref) or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref))
                                     if i != axis % len(ref)):
            raise ValueError(f"concatenate: shapes {ref} and {t.shape} differ outside "
                             f"axis {axis}")
    return Concatenate(axis % len(ref))(*tensors)


cat = concatenate


def stack(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors or any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: needs tensors of one shape, got "
                         f"{[t.shape for t in tensors]}")
    return Stack(axis % (tensors[0].ndim + 1))(*tensors)


# ============================================================ softmax and the losses
class Softmax(Function):
    """y_i = e^{x_i} / sum_j e^{x_j} along `axis` (shifted by the max, for stability).

    dL/dx = y * (G - sum(G * y)) along the axis (the softmax Jacobian diag(y) - y y^T).
    """

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        xp = _get_xp(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        self.y = e
        return e

    def backward(self, g):
        y = self.y
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along `axis`;  dL/dx = G - softmax(x) * sum(G)."""

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        xp = _get_xp(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.y = y
        return y

    def backward(self, g):
        return g - _get_xp(g).exp(self.y) * g.sum(axis=self.axis, keepdims=True)


class CrossEntropy(Function):
    """Fused softmax + negative log-likelihood for logits x (N, C) and class indices t (N,).

    loss_n = -log softmax(x_n)[t_n] = logsumexp(x_n) - x_n[t_n]
    dloss_n/dx_n = softmax(x_n) - onehot(t_n)        (then scaled by the reduction)
    """

    def __init__(self, targets, reduction="mean"):
        self.targets, self.reduction = targets, reduction

    def forward(self, x):
        xp = _get_xp(x)
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        sum_e = e.sum(axis=1, keepdims=True)
        e /= sum_e
        self.p = e
        picked = xp.take_along_axis(shifted, self.targets[:, None], 1)
        losses = (xp.log(sum_e) - picked)[:, 0]
        if self.reduction == "none":
            return losses
        return losses.sum() if self.reduction == "sum" else losses.mean()

    def backward(self, g):
        xp = _get_xp(g)
        n = self.p.shape[0]
        grad = self.p.copy()
        grad[xp.arange(n), self.targets] -= 1
        if self.reduction == "none":
            return grad * g[:, None]
        return grad * (g / n if self.reduction == "mean" else g)


def softmax(x, axis=-1):
    return Softmax(axis)(x)


def log_softmax(x, axis=-1):
    return LogSoftmax(axis)(x)


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, what):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{what}: unknown reduction {reduction!r}: expected one of "
                         f"{', '.join(_REDUCTIONS)}")


def cross_entropy(logits, targets, reduction="mean"):
    """Mean (or sum, or per-row) negative log-likelihood of integer class `targets`.

    logits: (N, C) unnormalized scores.  targets: (N,) integers in [0, C).
    Targets are checked explicitly: NumPy would read -1 as the last class and CuPy wraps
    any out-of-range index, both silently wrong.
    """
    logits = as_tensor(logits)
    _check_reduction(reduction, "cross_entropy")
    t = targets.data if isinstance(targets, Tensor) else targets
    if not backend.is_array(t):
        t = backend.asarray(np.asarray(t))
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype "
                        f"{t.dtype}")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {logits.shape}"
                         "; reshape to (-1, C) first")
    if t.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: targets of shape {t.shape} do not match logits of "
                         f"shape {logits.shape}: expected ({logits.shape[0]},)")
    if t.size:
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= logits.shape[1]:
            raise IndexError(f"cross_entropy: target {lo if lo < 0 else hi} is out of range "
                             f"for {logits.shape[1]} classes (expected 0..{logits.shape[1] - 1})")
    return CrossEntropy(t, reduction)(logits)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: mean((input - target)^2) (or its sum, or elementwise).

    The shapes must match exactly: a silently broadcast (N, 1) - (N,) is a classic bug.
    """
    input, target = as_tensor(input), as_tensor(target, like=as_tensor(input))
    _check_reduction(reduction, "mse_loss")
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input of shape {input.shape} and target of shape "
                         f"{target.shape} must have the same shape")
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()


mse = mse_loss


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
    keep = backend.rng().random(x.shape, dtype=np.float32) >= p
    mask = (keep / (1 - p)).astype(x.dtype)  # drawn on the host: same mask on every backend
    return x * Tensor(_get_xp(x.data).asarray(mask))


# ====================================================== Tensor operators and methods
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
