"""Activations, each Function with its derivative beside its forward.

    tanh, sigmoid, relu, gelu      elementwise: on the planar layout of hypercomplex
                                   features these are the split activations (one per
                                   component)
    softmax, log_softmax           along an axis
    mod_relu(x, bias, n)           modReLU, a fully hypercomplex activation (per number)
"""
import math

from .. import backend
from ..autograd import Function, as_tensor
from ..checks import check_same_dtype

_get_xp = backend.get_array_module


class TanhFunction(Function):
    """y = tanh x;  dy/dx = 1 - y^2."""

    def forward(self, x):
        self.y = _get_xp(x).tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)


def tanh(x):
    return TanhFunction()(x)


class SigmoidFunction(Function):
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


def sigmoid(x):
    return SigmoidFunction()(x)


class ReLUFunction(Function):
    """y = max(x, 0);  dy/dx = 1 if x > 0 else 0 (0 at the kink, as PyTorch)."""

    def forward(self, x):
        self.positive = x > 0
        return _get_xp(x).maximum(x, 0)

    def backward(self, g):
        return g * self.positive


def relu(x):
    return ReLUFunction()(x)


_GELU_C = math.sqrt(2.0 / math.pi)


class GELUFunction(Function):
    """GELU, tanh form (Hendrycks & Gimpel):  y = x/2 (1 + t),  t = tanh(u),
    u = c (x + 0.044715 x^3),  c = sqrt(2/pi).

    dy/dx = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 * 0.044715 x^2).
    (x*x*x, not x**3: the power ufunc is ~15x slower on float32.)  Both directions run in
    place, piece by piece (backend.chunks), so the chain of steps stays in cache.
    """

    def forward(self, x):
        xp = _get_xp(x)
        xf = x.reshape(-1)
        t, y = xp.empty_like(xf), xp.empty_like(xf)
        for part in backend.chunks(xf.size, xp):   # piecewise: the chain stays in cache
            xs, u, ys = xf[part], t[part], y[part]
            xp.multiply(xs, xs, out=u)     # in place: no temporaries
            u *= 0.044715
            u += 1
            u *= xs                        # x + 0.044715 x^3
            u *= _GELU_C
            xp.tanh(u, out=u)              # t
            xp.add(u, 1, out=ys)
            ys *= xs
            ys *= 0.5
        self.x, self.t = x, t.reshape(x.shape)
        return y.reshape(x.shape)

    def backward(self, g):
        xp = _get_xp(g)
        xf, tf, gf = self.x.reshape(-1), self.t.reshape(-1), g.reshape(-1)
        d = xp.empty_like(xf)
        parts = backend.chunks(xf.size, xp)
        scratch = xp.empty(parts[0].stop - parts[0].start if parts else 0, dtype=xf.dtype)
        for part in parts:
            xs, ts, ds = xf[part], tf[part], d[part]
            ws = scratch[:ds.size]
            xp.multiply(xs, xs, out=ds)
            ds *= 3 * 0.044715 * _GELU_C
            ds += _GELU_C                  # c (1 + 3 * 0.044715 x^2)
            ds *= xs
            xp.multiply(ts, ts, out=ws)
            xp.subtract(1, ws, out=ws)
            ds *= ws                       # x (1 - t^2) du/dx
            ds += ts
            ds += 1
            ds *= 0.5
            ds *= gf[part]
        return d.reshape(self.x.shape)


def gelu(x):
    return GELUFunction()(x)


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


def softmax(x, axis=-1):
    return Softmax(axis)(x)


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


def log_softmax(x, axis=-1):
    return LogSoftmax(axis)(x)


class ModReLUFunction(Function):
    """modReLU, a fully hypercomplex activation (Arjovsky et al.'s, applied per number q
    of n components; n = 4 for quaternions):

        f(q) = relu(|q| + b) q / |q|        b: a learned real bias per hypercomplex unit

    It scales each number without rotating it: those with |q| <= -b are zeroed, the
    others shrink (b < 0) or grow (b > 0) along their own direction.  We write
    r = sqrt(|q|^2 + eps^2) for |q| (eps = 1e-8 keeps q = 0 finite and the formulas below
    exact), so for r + b > 0:  y = q (1 + b/r), and with g = dL/dy,

        dL/dq = g (1 + b/r) - b q (q·g) / r^3          (dr/dq = q / r)
        dL/db = (q·g) / r                               summed over the batch,
    and both are zero where r + b <= 0.
    x: (..., n*m) planar, bias: (m,).
    """

    eps = 1e-8

    def __init__(self, n=4):
        self.n = n

    def forward(self, x, bias):
        xp = _get_xp(x)
        m = bias.shape[0]
        q = x.reshape(x.shape[:-1] + (self.n, m))              # (..., n, m) planar blocks
        r = xp.sqrt((q * q).sum(axis=-2) + self.eps * self.eps)  # (..., m)
        self.active = (r + bias) > 0
        self.q, self.r, self.bias = q, r, bias
        scale = xp.where(self.active, 1 + bias / r, 0).astype(x.dtype)
        return (q * scale[..., None, :]).reshape(x.shape)

    def backward(self, g):
        q, r, b, active = self.q, self.r, self.bias, self.active
        g = g.reshape(q.shape)
        qg = (q * g).sum(axis=-2)                               # (..., m)
        gx = gb = None
        if self.needs_input_grad[0]:
            scale = (1 + b / r) * active
            coupling = (b * qg / (r * r * r)) * active
            gx = (g * scale[..., None, :] - q * coupling[..., None, :])
            gx = gx.reshape(g.shape[:-2] + (-1,))
        if self.needs_input_grad[1]:
            gb = (qg / r * active).reshape(-1, b.shape[0]).sum(axis=0)
        return gx, gb


def mod_relu(x, bias, n=4):
    """modReLU on planar hypercomplex features x (..., n*m) with bias (m,); n = 4 (the
    default) for quaternions."""
    x, bias = as_tensor(x), as_tensor(bias)
    if bias.ndim != 1 or x.ndim < 1 or x.shape[-1] != n * bias.shape[0]:
        want = n * bias.shape[0] if bias.ndim else f"{n}m"
        raise ValueError(f"mod_relu: input of shape {x.shape} does not match bias of shape "
                         f"{bias.shape}: expected (..., {want})")
    check_same_dtype("mod_relu", x, bias)
    return ModReLUFunction(n)(x, bias)
