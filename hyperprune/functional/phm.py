"""PHM layers (Zhang et al., ICLR 2021): sums of Kronecker products, backward by hand.

    kronecker_sum(rules, weight)       H = sum_i A_i ⊗ S_i, a PHM layer's matrix
    phm_linear(x, rules, weight, b)    y = H x + b, in the cheaper of two orders
    (phm_conv2d, the convolution with H: hyperprune.functional.conv)

rules A (n, n, n) -- A_i = rules[i] --, weight S (n, out_q, in_q[, kh, kw]) -- S_i =
weight[i]; the planar layout and the weight on the left, as the hypercomplex layers.
With rules = algebra.rules, H is exactly algebra.block_matrix(S): a PHM layer with fixed
quaternion rules is QLinear.
"""
from .. import backend
from ..autograd import Function, as_tensor
from ..checks import check_same_dtype
from .linear import linear

_get_xp = backend.get_array_module


class KroneckerSum(Function):
    """H = sum_{i=1..n} A_i ⊗ S_i: the matrix of a PHM layer (Zhang et al., ICLR 2021).

    rules A (n, n, n) -- A_i = rules[i] --, weight S (n, out_q, in_q, *k) -- S_i =
    weight[i]; extra trailing axes (a convolution's kernel positions) ride along: the
    Kronecker product is over the channel blocks only, never over the kernel's axes.
    In index form (row-major Kronecker, output r = p out_q + a, input c = q in_q + b):

        H[p, a, q, b, k] = sum_i A[i, p, q] S[i, a, b, k]          H: (n out_q, n in_q, *k)

    so block (p, q) of H is sum_i A_i[p, q] S_i: with rules = algebra.rules this is
    exactly algebra.block_matrix(S), the matrix of a hypercomplex layer.  With
    G = dL/dH read as G[p, a, q, b, k]:

        dL/dA_i[p, q] = <G_pq, S_i> = sum_{a,b,k} G[p, a, q, b, k] S[i, a, b, k]
        dL/dS_i       = sum_{p,q} A_i[p, q] G_pq

    Each is one GEMM (and the forward one more) on the (n^2, out_q in_q K) arrangement
    of H and G; they cost n^3 out_q in_q K multiply-adds, a fraction n^2 / (batch n^2
    ...) -- in practice a few percent -- of the layer's own product.
    """

    def forward(self, rules, weight):
        n = rules.shape[0]
        self.rules, self.weight = rules, weight
        rest = weight.shape[1:]                                  # (out_q, in_q, *k)
        h = rules.reshape(n, n * n).T @ weight.reshape(n, -1)    # (p q, a b k)
        h = h.reshape((n, n) + rest)                             # [p, q, a, b, k]
        h = h.swapaxes(1, 2)                                     # [p, a, q, b, k]
        return h.reshape((n * rest[0], n * rest[1]) + rest[2:])

    def backward(self, g):
        rules, weight = self.rules, self.weight
        n, rest = rules.shape[0], weight.shape[1:]
        g = g.reshape((n, rest[0], n, rest[1]) + rest[2:]).swapaxes(1, 2)  # [p, q, a, b, k]
        g = g.reshape(n * n, -1)                                  # (p q, a b k)
        grules = gweight = None
        if self.needs_input_grad[0]:
            grules = (weight.reshape(n, -1) @ g.T).reshape(rules.shape)
        if self.needs_input_grad[1]:
            gweight = (rules.reshape(n, n * n) @ g).reshape(weight.shape)
        return grules, gweight


def kronecker_sum(rules, weight):
    """H = sum_i kron(rules[i], weight[i]) over the first two axes of weight's blocks:
    rules (n, n, n), weight (n, out_q, in_q, *k) -> H (n out_q, n in_q, *k)."""
    rules, weight = as_tensor(rules), as_tensor(weight)
    n = rules.shape[0] if rules.ndim else 0
    if rules.ndim != 3 or rules.shape != (n, n, n) or n < 1:
        raise ValueError(f"kronecker_sum: rules must have shape (n, n, n), got {rules.shape}")
    if weight.ndim < 3 or weight.shape[0] != n:
        raise ValueError(f"kronecker_sum: weight must have shape ({n}, out/{n}, in/{n}, ...) "
                         f"for rules of shape {rules.shape}, got {weight.shape}")
    check_same_dtype("kronecker_sum", weight, rules)
    return KroneckerSum()(rules, weight)


class PHMLinearFunction(Function):
    """y = H x + b with H = sum_i A_i ⊗ S_i, fused, without forming H: the small-batch
    order (x (..., n in_q), rules A (n, n, n), weight S (n, out_q, in_q), bias (n out_q,)).

    As the hypercomplex layer's small-batch order, first every product of an input block
    with a weight component, in one GEMM of the real layer's size:

        Z[r, q, i, a] = sum_b x[r, q, b] S[i, a, b]      X_b (rows n, in_q) @ S (n out_q, in_q)^T

    then the rules combine them, a contraction over (q, i) of size n^2 per output:

        y[r, p, a] = sum_{q, i} A[i, p, q] Z[r, q, i, a]        (+ b)

    Backward, with g = dL/dy read as g[r, p, a]:

        dL/dZ[r, q, i, a] = sum_p A[i, p, q] g[r, p, a]
        dL/dA[i, p, q]    = sum_{r, a} Z[r, q, i, a] g[r, p, a]
        dL/dS             = dL/dZ^T X_b          (n out_q, in_q): a real layer's dW GEMM
        dL/dx             = dL/dZ S              (rows n, in_q):  a real layer's dx GEMM
        dL/db             = sum_r g

    The extra work is proportional to the activations (rows n^2 out_q), which at a small
    batch is cheaper than forming H (n^2 out_q in_q) and taking it apart again.
    """

    def forward(self, x, rules, weight, bias=None):
        n, out_q, in_q = weight.shape
        self.x_shape = x.shape
        self.xb = x.reshape(-1, in_q)                            # X_b: rows (r, q), planar
        rows = self.xb.shape[0] // n
        self.rules, self.weight = rules, weight
        self.m = rules.transpose(2, 0, 1).reshape(n * n, n)      # M[(q, i), p] = A[i, p, q]
        z = self.xb @ weight.reshape(n * out_q, in_q).T          # [(r, q), (i, a)]
        self.z = z.reshape(rows, n * n, out_q)                   # [r, (q, i), a]
        y = (self.m.T @ self.z).reshape(rows, n * out_q)         # batched: [r, p, a]
        if bias is not None:
            y += bias
        return y.reshape(x.shape[:-1] + (n * out_q,))

    def backward(self, g):
        n, out_q, in_q = self.weight.shape
        g3 = g.reshape(-1, n, out_q)                             # [r, p, a]
        need = self.needs_input_grad + (False,)
        gx = grules = gweight = gbias = None
        if need[1]:
            dm = _get_xp(g).tensordot(self.z, g3, axes=([0, 2], [0, 2]))   # [(q, i), p]
            grules = dm.reshape(n, n, n).transpose(1, 2, 0)                 # [i, p, q]
        if need[0] or need[2]:
            dz = (self.m @ g3).reshape(-1, n * out_q)            # [(r, q), (i, a)]
            if need[2]:
                gweight = (dz.T @ self.xb).reshape(self.weight.shape)
            if need[0]:
                gx = (dz @ self.weight.reshape(n * out_q, in_q)).reshape(self.x_shape)
        if need[3]:
            gbias = g3.reshape(g3.shape[0], -1).sum(axis=0)
        return (gx, grules, gweight, gbias)[:len(self.needs_input_grad)]


def phm_linear(x, rules, weight, bias=None, order=None):
    """y = H x + b with H = kronecker_sum(rules, weight): a PHM layer (planar layout, the
    weight on the left as hypercomplex_linear).  x (..., n in_q), rules (n, n, n),
    weight (n, out_q, in_q), bias (n out_q,).

    Two orders, the same numbers: with fewer rows than in_q (small batches) the fused
    PHMLinearFunction, which never forms H; otherwise H is formed once (kronecker_sum) and
    the layer is one GEMM each way (linear).  order="fused" or "matrix" forces one."""
    x, rules, weight = as_tensor(x), as_tensor(rules), as_tensor(weight)
    n = weight.shape[0] if weight.ndim == 3 else 0
    if weight.ndim != 3 or rules.shape != (n, n, n):
        raise ValueError(f"phm_linear: expected rules (n, n, n) and weight (n, out/n, in/n), "
                         f"got {rules.shape} and {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != n * weight.shape[2]:
        raise ValueError(f"phm_linear: input of shape {x.shape} does not match weight "
                         f"{weight.shape}: expected (..., {n * weight.shape[2]})")
    rows = x.size // x.shape[-1]
    if order is None:
        order = "fused" if rows < weight.shape[2] else "matrix"
    if order == "matrix":
        return linear(x, kronecker_sum(rules, weight), bias)
    check_same_dtype("phm_linear", x, rules, weight, bias)
    if bias is None:
        return PHMLinearFunction()(x, rules, weight)
    bias = as_tensor(bias)
    if bias.shape != (n * weight.shape[1],):
        raise ValueError(f"phm_linear: bias of shape {bias.shape} does not match "
                         f"{n * weight.shape[1]} output features")
    return PHMLinearFunction()(x, rules, weight, bias)
