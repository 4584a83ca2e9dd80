"""Transformer building blocks, each backward derived by hand: layer norm, embedding lookup
and scaled dot-product attention (plus the head split and merge of multi-head attention).

Shapes: B batch, H heads, T query positions, S key positions (S = T in self-attention),
D features per head, E = H D model width, V vocabulary size.  `g` is dL/d(output).

Layer norm over the last axis (n features), per row:

    mu = mean(x),  var = mean((x - mu)^2),  r = 1 / sqrt(var + eps),  x^ = (x - mu) r
    y  = x^ * gamma + beta

    dL/dx     = r (h - mean(h) - x^ mean(h x^))      with h = g * gamma
    dL/dgamma = sum of g x^ over the leading axes,   dL/dbeta = sum of g over them.

(x^ has zero mean and mean(x^^2) = var r^2, so the projection removes the two directions
that the normalization cannot see: a shift of x and a scaling of x - mu.)

Embedding: y = W[idx] for integer idx of any shape; W (V, E) -> y (*idx.shape, E).
dL/dW[v] = the sum of g over every position where idx == v (a scatter-add: a token that
appears twice gets both gradients; rows of tokens never seen get zero).

Scaled dot-product attention, q (..., T, D), k (..., S, D), v (..., S, Dv):

    S_ = q k^T c        (c = 1/sqrt(D); causal: S_[t, s] = -inf for s > t)
    P  = softmax(S_) along the last axis (over keys)
    P' = P * M          (M: inverted-dropout mask of the probabilities, or no mask)
    y  = P' v                                                          (..., T, Dv)

    dL/dv = P'^T g,   dL/dP = (g v^T) * M,   dL/dS_ = P * (dL/dP - rowsum(dL/dP * P))
    dL/dq = dL/dS_ k c,   dL/dk = dL/dS_^T q c

Causal masking keeps s <= t, so every row keeps at least its diagonal: softmax never sees
an all -inf row, and the masked probabilities are exactly 0 (so are their gradients).
Every matrix product is one batched matmul over the leading axes; nothing of size
(T, S) is kept but P (and P' with dropout).
"""
import math

import numpy as np

from . import backend
from .autograd import Function, Tensor, as_tensor

_get_xp = backend.get_array_module


# ============================================================================ layer norm
class LayerNorm(Function):
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
    if weight is None and bias is not None:  # gamma = 1: a constant, no gradient
        params.insert(0, Tensor(_get_xp(x.data).ones(n, dtype=x.dtype)))
    return LayerNorm(eps)(x, *params)


# ============================================================================= embedding
class Embedding(Function):
    """y = weight[indices]: weight (V, E), integer indices of any shape -> (*shape, E).
    dL/dweight: g scatter-added into the rows of the indices (repeats accumulate).
    The indices are given to the constructor, already range-checked (see `embedding`)."""

    def __init__(self, indices):
        self.indices = indices

    def forward(self, weight):
        self.w_shape, self.dtype = weight.shape, weight.dtype
        return _get_xp(weight).take(weight, self.indices, axis=0)

    def backward(self, g):
        out = _get_xp(g).zeros(self.w_shape, dtype=self.dtype)
        return backend.scatter_add(out, self.indices, g)


def embedding(indices, weight, name="embedding"):
    """Rows of weight (V, E) picked by integer `indices` (any shape): (*indices.shape, E).

    Indices must lie in [0, V): they are checked explicitly, because NumPy reads -1 as the
    last row and CuPy wraps any out-of-range index, both silently wrong.  `name` (say
    "Embedding(65, 128)") is used in the error message.
    """
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"{name}: weight must have shape (num_embeddings, embedding_dim), "
                         f"got {weight.shape}")
    xp = _get_xp(weight.data)
    idx = indices.data if isinstance(indices, Tensor) else indices
    if not backend.is_array(idx) or (isinstance(idx, np.ndarray) and xp is not np):
        idx = xp.asarray(np.asarray(idx))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {idx.dtype}")
    vocab = weight.shape[0]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= vocab:
            raise IndexError(f"{name}: index {lo if lo < 0 else hi} is out of range for a "
                             f"vocabulary of size {vocab} (expected 0..{vocab - 1})")
    return Embedding(idx)(weight)


# ============================================================================= attention
def _causal_bias(xp, t, s, dtype):
    """(t, s) array: 0 where key s <= query t, -inf above the diagonal."""
    return xp.where(xp.tri(t, s, dtype=bool), 0.0, -np.inf).astype(dtype)


class ScaledDotProductAttention(Function):
    """y = (softmax(q k^T scale + causal mask) * dropout_mask) v, fused, batched over the
    leading axes: q (..., T, D), k (..., S, D), v (..., S, Dv) -> (..., T, Dv).

    scale defaults to 1/sqrt(D); dropout_mask (..., T, S) (broadcastable) holds 0 or
    1/(1-p) per probability, or is None.  Formulas in the module docstring.
    """

    def __init__(self, causal=False, scale=None, dropout_mask=None):
        self.causal, self.scale, self.mask = causal, scale, dropout_mask

    def forward(self, q, k, v):
        xp = _get_xp(q)
        if self.scale is None:
            self.scale = 1.0 / math.sqrt(q.shape[-1])
        s = q @ k.swapaxes(-1, -2)                                 # (..., T, S)
        s *= self.scale
        if self.causal:
            s += _causal_bias(xp, s.shape[-2], s.shape[-1], s.dtype)
        s -= s.max(axis=-1, keepdims=True)
        xp.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)                        # P
        self.p = s
        self.pd = s if self.mask is None else s * self.mask      # P'
        self.q, self.k, self.v = q, k, v
        self.y = self.pd @ v
        return self.y

    def backward(self, g):
        need_q, need_k, need_v = self.needs_input_grad
        gq = gk = gv = None
        if need_v:
            gv = self.pd.swapaxes(-1, -2) @ g                      # P'^T g
        if need_q or need_k:
            p = self.p
            ds = g @ self.v.swapaxes(-1, -2)                       # dL/dP'
            if self.mask is not None:
                ds *= self.mask                                    # dL/dP
            # rowsum(dL/dP * P) = sum_s (g . v_s) P'_s = g . y: a (..., T) sum over D
            # instead of a (..., T, S) temporary
            ds -= (g * self.y).sum(axis=-1, keepdims=True)
            ds *= p
            ds *= self.scale                                       # dL/dS_ * scale
            if need_q:
                gq = ds @ self.k
            if need_k:
                gk = ds.swapaxes(-1, -2) @ self.q
        return gq, gk, gv


def scaled_dot_product_attention(q, k, v, causal=False, dropout_p=0.0, scale=None):
    """softmax(q k^T / sqrt(D) + mask) v for q (..., T, D), k (..., S, D), v (..., S, Dv),
    typically (B, H, T, D).  causal=True: query t attends to keys s <= t only (needs T = S).
    dropout_p > 0 drops attention probabilities (inverted dropout, mask drawn from the
    library's generator); pass 0 when evaluating, as with PyTorch's function.
    """
    q, k, v = as_tensor(q), as_tensor(k), as_tensor(v)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"scaled_dot_product_attention: q, k, v must have the same number "
                         f"(>= 2) of axes, got shapes {q.shape}, {k.shape}, {v.shape}")
    if k.shape[:-2] != q.shape[:-2] or v.shape[:-2] != q.shape[:-2] or \
            k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: expected q (..., T, D), k (..., S, D),"
                         f" v (..., S, Dv) with one batch shape, got {q.shape}, {k.shape}, "
                         f"{v.shape}")
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: causal attention needs as many "
                         f"queries as keys, got T = {q.shape[-2]}, S = {k.shape[-2]}")
    if not 0 <= dropout_p < 1:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), "
                         f"got {dropout_p}")
    mask = None
    if dropout_p > 0:  # drawn on the host, as F.dropout: the same mask on every backend
        shape = q.shape[:-1] + (k.shape[-2],)
        keep = backend.rng().random(shape, dtype=np.float32) >= dropout_p
        mask = _get_xp(q.data).asarray((keep / (1 - dropout_p)).astype(q.dtype))
    return ScaledDotProductAttention(causal, scale, mask)(q, k, v)


# ============================================================== head split and merge
def split_heads(x, num_heads):
    """(B, T, E) -> (B, H, T, E/H): head h gets features [h d, (h+1) d) (a strided view)."""
    b, t, e = x.shape
    return x.reshape(b, t, num_heads, e // num_heads).transpose((0, 2, 1, 3))


def merge_heads(x):
    """(B, H, T, d) -> (B, T, H d), the inverse of split_heads (one copy)."""
    b, h, t, d = x.shape
    return x.transpose((0, 2, 1, 3)).reshape(b, t, h * d)


def split_quaternion_heads(x, num_heads):
    """Planar (B, T, E) = [r | i | j | k] -> (B, H, T, d) with whole quaternions per head.

    With m = E/4 units and u = d/4 units per head, head h gets units [h u, (h+1) u) of
    every component block: its d features are [r | i | j | k] of those u quaternions, a
    planar vector of its own:  (B, T, 4, m) -> (B, T, 4, H, u) -> (B, H, T, 4, u) -> d.
    """
    b, t, e = x.shape
    u = e // (4 * num_heads)
    x = x.reshape(b, t, 4, num_heads, u).transpose((0, 3, 1, 2, 4))
    return x.reshape(b, num_heads, t, 4 * u)


def merge_quaternion_heads(x):
    """(B, H, T, d) -> planar (B, T, H d), the inverse of split_quaternion_heads."""
    b, h, t, d = x.shape
    x = x.reshape(b, h, t, 4, d // 4).transpose((0, 2, 3, 1, 4))
    return x.reshape(b, t, h * d)
