"""Scaled dot-product attention, fused, and the head split and merge of multi-head
attention.

Shapes: B batch, H heads, T query positions, S key positions (S = T in self-attention),
D features per head, E = H D model width, V vocabulary size.  `g` is dL/d(output).

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

from .. import backend
from ..autograd import Function, as_tensor
from . import elementwise

_get_xp = backend.get_array_module


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
        mask = elementwise.dropout_mask(q.shape[:-1] + (k.shape[-2],), dropout_p, q.dtype,
                                        q.data)
    return ScaledDotProductAttention(causal, scale, mask)(q, k, v)


# =================================================== head split and merge
def split_heads(x, num_heads):
    """(B, T, E) -> (B, H, T, E/H): head h gets features [h d, (h+1) d) (a strided view)."""
    b, t, e = x.shape
    return x.reshape(b, t, num_heads, e // num_heads).transpose((0, 2, 1, 3))


def merge_heads(x):
    """(B, H, T, d) -> (B, T, H d), the inverse of split_heads (one copy)."""
    b, h, t, d = x.shape
    return x.transpose((0, 2, 1, 3)).reshape(b, t, h * d)


def split_hypercomplex_heads(x, num_heads, n=4):
    """Planar (B, T, E) = [c_0 | ... | c_{n-1}] -> (B, H, T, d) with whole hypercomplex
    numbers (n components each; 4 for quaternions) per head.

    With m = E/n units and u = d/n units per head, head h gets units [h u, (h+1) u) of
    every component block: its d features are the n components of those u numbers, a
    planar vector of its own:  (B, T, n, m) -> (B, T, n, H, u) -> (B, H, T, n, u) -> d.
    """
    b, t, e = x.shape
    u = e // (n * num_heads)
    x = x.reshape(b, t, n, num_heads, u).transpose((0, 3, 1, 2, 4))
    return x.reshape(b, num_heads, t, n * u)


def merge_hypercomplex_heads(x, n=4):
    """(B, H, T, d) -> planar (B, T, H d), the inverse of split_hypercomplex_heads."""
    b, h, t, d = x.shape
    x = x.reshape(b, h, t, n, d // n).transpose((0, 2, 3, 1, 4))
    return x.reshape(b, t, h * d)


def split_quaternion_heads(x, num_heads):
    """Planar (B, T, E) = [r | i | j | k] -> (B, H, T, d), whole quaternions per head
    (split_hypercomplex_heads with n = 4)."""
    return split_hypercomplex_heads(x, num_heads, 4)


def merge_quaternion_heads(x):
    """(B, H, T, d) -> planar (B, T, H d), the inverse of split_quaternion_heads."""
    return merge_hypercomplex_heads(x, 4)
