"""Layer normalization, fused, its backward derived by hand.

Layer norm over the last axis (n features), per row:

    mu = mean(x),  var = mean((x - mu)^2),  r = 1 / sqrt(var + eps),  x^ = (x - mu) r
    y  = x^ * gamma + beta

    dL/dx     = r (h - mean(h) - x^ mean(h x^))      with h = g * gamma
    dL/dgamma = sum of g x^ over the leading axes,   dL/dbeta = sum of g over them.

(x^ has zero mean and mean(x^^2) = var r^2, so the projection removes the two directions
that the normalization cannot see: a shift of x and a scaling of x - mu.)
"""
from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..checks import check_same_dtype

_get_xp = backend.get_array_module


class LayerNormFunction(Function):
    """Fused layer norm over the last axis: x (..., n), weight gamma (n,), bias beta (n,);
    both optional (no weight: gamma = 1; no bias: beta = 0).  Formulas in the module
    docstring."""

    def __init__(self, eps=1e-5):
        self.eps = eps

    def forward(self, x, weight=None, bias=None):
        xp, n = _get_xp(x), x.shape[-1]
        xc = x - x.sum(axis=-1, keepdims=True) * (1.0 / n)      # x - mu
        var = xp.einsum("...i,...i->...", xc, xc)[..., None] * (1.0 / n)  # no x^2 temporary
        rstd = 1.0 / xp.sqrt(var + self.eps)
        xc *= rstd                                              # x^, in place of x - mu
        self.xhat, self.rstd, self.weight = xc, rstd, weight
        y = xc * weight if weight is not None else xc.copy()
        if bias is not None:
            y += bias
        return y

    def backward(self, g):
        xhat, w, n = self.xhat, self.weight, self.xhat.shape[-1]
        need = self.needs_input_grad + (False, False)
        gx = gw = gb = None
        gxh = g * xhat if need[0] or need[1] else None
        if need[0]:  # h = g w:  sum(h) = g @ w,  sum(h x^) = (g x^) @ w  (no temporaries)
            if w is None:
                gx = g - g.sum(axis=-1, keepdims=True) * (1.0 / n)
                sum_hx = gxh.sum(axis=-1, keepdims=True)
            else:
                gx = g * w
                gx -= (g @ w)[..., None] * (1.0 / n)
                sum_hx = (gxh @ w)[..., None]
            gx -= xhat * (sum_hx * (1.0 / n))
            gx *= self.rstd
        if need[1]:
            gw = gxh.reshape(-1, n).sum(axis=0)
        if need[2]:
            gb = g.reshape(-1, n).sum(axis=0)
        return (gx, gw, gb)[:len(self.needs_input_grad)]


def layer_norm(x, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis of x (..., n).

    weight and bias: (n,) or None.  var is the biased variance (divided by n), as PyTorch.
    """
    x = as_tensor(x)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"layer_norm: input must have a non-empty last axis, got {x.shape}")
    if not eps >= 0:
        raise ValueError(f"layer_norm: eps must be >= 0, got {eps}")
    n = x.shape[-1]
    params = [as_tensor(p) for p in (weight, bias) if p is not None]
    for name, p in zip(("weight", "bias") if weight is not None else ("bias",), params):
        if p.shape != (n,):
            raise ValueError(f"layer_norm: {name} of shape {p.shape} does not match the "
                             f"last axis of the input {x.shape}: expected ({n},)")
    check_same_dtype("layer_norm", x, *params)
    if weight is None and bias is not None:  # gamma = 1: a constant, no gradient
        params.insert(0, Tensor(_get_xp(x.data).ones(n, dtype=x.dtype)))
    return LayerNormFunction(eps)(x, *params)
