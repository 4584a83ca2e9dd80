"""Matrix products and fully connected layers, real and hypercomplex.

    matmul(a, b)                       NumPy's matmul (batch axes broadcast)
    linear(x, weight, bias)            y = x W^T + b, PyTorch's layout
    hypercomplex_linear(x, W, b, algebra), hamilton_linear(x, W, b)
                                       y = W ⊗ x + b on the planar layout

PHM layers (sums of Kronecker products): hyperprune.functional.phm.

The hypercomplex layer (tables and layout in hyperprune.algebra): with x_b the b-th
component block of x, y = M x for the real block matrix M = algebra.block_matrix(W).
The forward can evaluate M x without forming M: one GEMM of the stacked components,
X.reshape(rows*n, in_q) @ W.reshape(n*out_q, in_q)^T, gives every product W_a x_b, and
the sign table combines them (`Algebra.combine_products`).  HypercomplexLinearFunction
picks whichever order moves less memory (see its docstring).

Backward, with G = dL/dy (rows, n*out_q) and X (rows, n*in_q):
    dL/dx   = G M                       (one GEMM, as for a real layer)
    dL/dW_a = sum over the blocks (c, b) that hold W_a of sign * G_c^T X_b
The n^2 blocks G_c^T X_b are the blocks of G^T X (one GEMM, as a real layer's dW); each
W_a appears in n of them, so its gradient is a signed sum of n blocks (block_matrix_grad).
For small batches there is a cheaper order: instead of forming all n^2 (a temporary n
times the size of the result) and adding them up, the sum over b is folded into the
GEMM's inner dimension: stack the rows of X as (rows * n, in_q) -- a free reshape of the
planar layout -- and put next to them the matching signed blocks of G
(`Algebra.signed_output_blocks`), so one GEMM (the same multiply-adds as G^T X, and as a
real layer's dW) gives all n component gradients at once, with no temporary and no block
additions.
"""
import numpy as np

from ..algebra import QUATERNION, get_algebra
from ..autograd import Function, as_tensor
from ..checks import check_same_dtype


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


class LinearFunction(Function):
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
    check_same_dtype("linear", x, weight, bias)
    if bias is None:
        return LinearFunction()(x, weight)
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not match "
                         f"{weight.shape[0]} output features")
    return LinearFunction()(x, weight, bias)


class HypercomplexLinearFunction(Function):
    """y = W ⊗ x + b on the planar layout (formulas in the module docstring).

    x: (..., n*in_q)   weight: (n, out_q, in_q)   bias: (n*out_q,) real   y: (..., n*out_q)

    The forward is one GEMM of the real layer's size, in one of two orders:
      * assemble M from W, then y = x M^T          (extra memory traffic ∝ weights)
      * Z = all component products x_b · W_a in one GEMM, then combine them with the
        sign table (combine_products)                (extra traffic ∝ activations)
    We take the cheaper: the products when rows < in_q (small batches, e.g. LeNet at batch
    60), M otherwise (large batches; convolutions, whose rows are batch x positions).
    The backward stays on the same side: with M, dL/dx = G M and dL/dW is the signed
    block sum of dL/dM = G^T X (block_matrix_grad, cost ∝ weights); with the products,
    dL/dx and dL/dW come from the signed blocks of G (cost ∝ activations).
    """

    def __init__(self, algebra):
        self.algebra = algebra

    def forward(self, x, weight, bias=None):
        n, out_q, in_q = weight.shape
        self.x_shape, self.w_shape = x.shape, weight.shape
        self.x2 = x.reshape(-1, x.shape[-1])                     # (rows, n*in_q) planar
        self.w = weight
        rows = self.x2.shape[0]
        self.via_matrix = rows >= in_q
        if self.via_matrix:
            self.m = self.algebra.block_matrix(weight)           # (n*out_q, n*in_q)
            y = self.x2 @ self.m.T
        else:
            products = self.x2.reshape(rows * n, in_q) @ weight.reshape(n * out_q, in_q).T
            y = self.algebra.combine_products(products)          # (rows, n*out_q)
        if bias is not None:
            y += bias
        return y.reshape(x.shape[:-1] + (y.shape[-1],))

    def backward(self, g):
        n, out_q, in_q = self.w_shape
        g2 = g.reshape(-1, g.shape[-1])                          # (rows, n*out_q)
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        gx = gw = None
        if self.via_matrix:       # large batches: work on the weight side
            if need_x:
                gx = (g2 @ self.m).reshape(self.x_shape)         # dL/dx = G M
            if need_w:                                           # dL/dM = G^T X, then
                gw = self.algebra.block_matrix_grad(g2.T @ self.x2, self.w_shape)
        else:                     # small batches: work on the activation side
            blocks = self.algebra.signed_output_blocks(g2)       # (rows*n, n*out_q)
            if need_x:
                gx = (blocks @ self.w.reshape(n * out_q, in_q)).reshape(self.x_shape)
            if need_w:                                           # the folded one GEMM
                gw = (blocks.T @ self.x2.reshape(-1, in_q)).reshape(self.w_shape)
        if len(self.needs_input_grad) == 2:
            return gx, gw
        gb = g2.sum(axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb


def hypercomplex_linear(x, weight, bias=None, algebra=QUATERNION):
    """y = weight ⊗ x + bias for planar x (..., n*in_q) and weight (n, out_q, in_q)."""
    algebra = get_algebra(algebra)
    x, weight = as_tensor(x), as_tensor(weight)
    n = algebra.dim
    if weight.ndim != 3 or weight.shape[0] != n:
        raise ValueError(f"{algebra.name} linear: weight must have shape ({n}, out, in) "
                         f"in {algebra.name} units, got {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != n * weight.shape[2]:
        raise ValueError(f"{algebra.name} linear: input of shape {x.shape} does not match "
                         f"weight {weight.shape}: expected (..., {n * weight.shape[2]})")
    check_same_dtype(f"{algebra.name} linear", x, weight, bias)
    if bias is None:
        return HypercomplexLinearFunction(algebra)(x, weight)
    bias = as_tensor(bias)
    if bias.shape != (n * weight.shape[1],):
        raise ValueError(f"{algebra.name} linear: bias of shape {bias.shape} does not match "
                         f"{n * weight.shape[1]} output features")
    return HypercomplexLinearFunction(algebra)(x, weight, bias)


def hamilton_linear(x, weight, bias=None):
    """The quaternion layer product y = W ⊗ x + b (see hypercomplex_linear)."""
    return hypercomplex_linear(x, weight, bias, QUATERNION)
