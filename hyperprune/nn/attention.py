"""Attention layers: MultiHeadAttention and its quaternion twin QMultiHeadAttention.

MultiHeadAttention(E, H):     self-attention (B, T, E) -> (B, T, E); Linear q/k/v/out
QMultiHeadAttention(E, H):    the same with QLinear (Hamilton) projections and heads made
                              of whole quaternions
HypercomplexMultiHeadAttention(E, H, projection=..., components=n): any hypercomplex or
                              PHM projection, heads of whole numbers of n components

The fused attention op and its hand-derived backward: hyperprune.functional.attention.
"""
from ..checks import is_int
from ..functional import (merge_heads, merge_hypercomplex_heads,
                          scaled_dot_product_attention, split_heads, split_hypercomplex_heads)
from .linear import Linear, QLinear
from .module import Module


class _Attention(Module):
    """Argument and input checks shared by the two attention layers."""

    def _setup(self, embed_dim, num_heads, causal, dropout):
        self._name = f"{type(self).__name__}(embed_dim={embed_dim!r}, num_heads={num_heads!r})"
        if not all(is_int(n) and n >= 1 for n in (embed_dim, num_heads)):
            raise ValueError(f"{self._name}: embed_dim and num_heads must be positive integers")
        if embed_dim % num_heads:
            raise ValueError(f"{self._name}: embed_dim must be divisible by num_heads "
                             f"({embed_dim} = {num_heads} heads x head_dim)")
        if not 0 <= dropout < 1:
            raise ValueError(f"{self._name}: dropout must be in [0, 1), got {dropout}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.causal, self.dropout = bool(causal), dropout

    def _check_input(self, x):
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"{self._name}: expected an input of shape (B, T, "
                             f"{self.embed_dim}), got {tuple(x.shape)}")

    def _attend(self, q, k, v):
        """(B, H, T, d) each -> (B, H, T, d); dropout on the probabilities when training."""
        p = self.dropout if self.training else 0.0
        return scaled_dot_product_attention(q, k, v, causal=self.causal, dropout_p=p)

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"causal={self.causal}, dropout={self.dropout}")


class MultiHeadAttention(_Attention):
    """Multi-head self-attention: x (B, T, E) -> (B, T, E), E = embed_dim.

        q, k, v = q_proj(x), k_proj(x), v_proj(x)          Linear(E, E) each
        head h  = features [h d, (h+1) d) of q, k, v        d = E / num_heads
        o_h     = softmax(q_h k_h^T / sqrt(d) + mask) v_h   (B, H, T, d), fused
        y       = out_proj(concat_h o_h)

    causal=True: position t attends to positions <= t only.  dropout: on the attention
    probabilities, in training mode only.  Linear layers use their default init.
    """

    def __init__(self, embed_dim, num_heads, bias=True, causal=False, dropout=0.0):
        super().__init__()
        self._setup(embed_dim, num_heads, causal, dropout)
        e = self.embed_dim
        self.q_proj, self.k_proj = Linear(e, e, bias=bias), Linear(e, e, bias=bias)
        self.v_proj, self.out_proj = Linear(e, e, bias=bias), Linear(e, e, bias=bias)

    def forward(self, x):
        self._check_input(x)
        h = self.num_heads
        q, k, v = (split_heads(proj(x), h) for proj in (self.q_proj, self.k_proj, self.v_proj))
        return self.out_proj(merge_heads(self._attend(q, k, v)))


class HypercomplexMultiHeadAttention(_Attention):
    """Hypercomplex multi-head self-attention: planar x (B, T, E) -> (B, T, E), with
    q_proj, k_proj, v_proj, out_proj made by `projection(E, E, bias=...)` -- hypercomplex
    layers of `components` = n real components per number (QLinear and 4 by default) --
    and heads of whole numbers (split_hypercomplex_heads: head dim a multiple of n).
    QMultiHeadAttention is the quaternion case; its docstring explains the layout.
    """

    def __init__(self, embed_dim, num_heads, bias=True, causal=False, dropout=0.0,
                 fused_qkv=False, projection=QLinear, components=4):
        super().__init__()
        self._setup(embed_dim, num_heads, causal, dropout)
        self.fused_qkv, self.components = bool(fused_qkv), components
        e, n = self.embed_dim, components
        kind = "quaternions" if n == 4 else f"numbers of {n} components"
        if e % n:
            raise ValueError(f"{self._name}: embed_dim must be a multiple of {n} ({kind} "
                             f"of {n} real features)")
        if self.head_dim % n and not self.fused_qkv:
            raise ValueError(f"{self._name}: head dimension embed_dim / num_heads = "
                             f"{self.head_dim} must be a multiple of {n}, so that each head "
                             f"holds whole {kind}")
        if self.fused_qkv:
            self.qkv_proj = projection(e, 3 * e, bias=bias)
        else:
            self.q_proj, self.k_proj = projection(e, e, bias=bias), projection(e, e, bias=bias)
            self.v_proj = projection(e, e, bias=bias)
        self.out_proj = projection(e, e, bias=bias)

    def project_qkv(self, x):
        """q, k, v, each (B, T, E), before the head split (planar unless fused_qkv)."""
        if self.fused_qkv:
            qkv, e = self.qkv_proj(x), self.embed_dim
            return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
        return self.q_proj(x), self.k_proj(x), self.v_proj(x)

    def split(self, x):
        """(B, T, E) -> (B, H, T, d): whole numbers per head (contiguous if fused_qkv)."""
        if self.fused_qkv:
            return split_heads(x, self.num_heads)
        return split_hypercomplex_heads(x, self.num_heads, self.components)

    def merge(self, x):
        """(B, H, T, d) -> (B, T, E), the inverse of split."""
        if self.fused_qkv:
            return merge_heads(x)
        return merge_hypercomplex_heads(x, self.components)

    def forward(self, x):
        self._check_input(x)
        q, k, v = (self.split(t) for t in self.project_qkv(x))
        return self.out_proj(self.merge(self._attend(q, k, v)))

    def extra_repr(self):
        return super().extra_repr() + (", fused_qkv=True" if self.fused_qkv else "")


class QMultiHeadAttention(HypercomplexMultiHeadAttention):
    """Quaternion multi-head self-attention: planar x (B, T, E) -> (B, T, E).

    q_proj, k_proj, v_proj, out_proj: QLinear(E, E), Hamilton products y = W ⊗ x with
    independent weights (4, E/4, E/4) and real biases (E,).

    Heads of whole quaternions.  On the planar layout [r | i | j | k] a quaternion's four
    components are E/4 apart, so a contiguous slice is not a set of quaternions.  Head h
    instead takes quaternion units [h u, (h+1) u), u = d/4, of every component block
    (split_quaternion_heads): its d = E/H features are u whole quaternions, laid out
    planar.  d must be a multiple of 4.  Scores are the real inner products of the head
    vectors (the sum over all 4 components, = Re(conj(q) ⊗ k) summed over units); after
    attention the heads are merged back into the planar layout before out_proj.

    fused_qkv=True reproduces qytorch's QMultiheadAttention layout, for comparison: one
    qkv_proj = QLinear(E, 3E) whose planar output [r | i | j | k] (each block 3E/4 wide,
    3E/4 units) is cut into three contiguous E-wide chunks q, k, v, as PyTorch's packed
    in-projection does, and heads are contiguous d-wide slices of each chunk.  So q gets
    the r components of all 3E/4 units plus the i components of units [0, E/4); k the
    remaining i components and the j components of units [0, E/2); v the last j components
    and all k components.  The four components of a unit lie 3E/4 apart, spread over 9E/4
    + 1 > E positions: no chunk, hence no head, ever holds a whole quaternion, and the
    attention output reaching out_proj is no longer a planar quaternion vector.
    (qytorch's out_proj is a real Linear; here it stays a QLinear in both modes.)
    """

    def __init__(self, embed_dim, num_heads, bias=True, causal=False, dropout=0.0,
                 fused_qkv=False):
        super().__init__(embed_dim, num_heads, bias, causal, dropout, fused_qkv, QLinear, 4)
