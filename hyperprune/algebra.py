"""Hypercomplex algebras as multiplication tables, on plain arrays (no autograd).

An algebra of dimension n has a basis e_0 = 1, e_1, ..., e_{n-1} and a multiplication
table  e_a e_b = sign[a, b] * e_{index[a, b]}: real (n = 1), complex (2), quaternion (4)
and octonion (8).  Each layer of an algebra is the same code; only the table differs.
Quaternions (n = 4, basis 1, i, j, k):

            1    i    j    k
        1 | 1    i    j    k
        i | i   -1    k   -j
        j | j   -k   -1    i
        k | k    j   -i   -1

Layer convention (the same for every algebra):  y = W ⊗ x,  weight on the LEFT.
(qytorch computes conj(W) ⊗ x and some libraries x ⊗ W; all give layers of the same
capacity, but their weights are not interchangeable.)

Layout: features are *planar*, [r | i | j | k] along the last axis: a vector of
`in_features` reals holds in_q = in_features / 4 quaternions, whose real parts are
x[..., 0:in_q], i parts x[..., in_q:2 in_q], and so on.  The weight has shape
(n, out_q, in_q): component matrices W_a (R, I, J, K for quaternions).

Writing x_b for the b-th component block, the product is a block matrix:

    y_c = sum_{a,b: index[a,b]=c} sign[a,b] W_a x_b,     i.e. y = M x with, for quaternions,

        M = [[R, -I, -J, -K],
             [I,  R, -K,  J],
             [J,  K,  R, -I],
             [K, -J,  I,  R]]            (n*out_q, n*in_q), 16 blocks from 4 matrices.

The layers' forward and backward (M formed, or the products combined by the sign
table; dL/dW the signed block sum of dL/dM): hyperprune.functional.linear, which uses
block_matrix, block_matrix_grad, combine_products and signed_output_blocks below.
"""
import numpy as np

from . import backend
from .checks import check_choice


class Algebra:
    """A real algebra given by its multiplication table e_a e_b = sign[a,b] e_index[a,b].

    Nothing here assumes associativity: a layer is the bilinear map y = W ⊗ x, whatever
    (xy)z and x(yz) are (octonions are not associative).
    """

    def __init__(self, name, index, sign, component_names):
        self.name = name
        self.index = np.asarray(index)
        self.sign = np.asarray(sign)
        self.dim = len(self.index)
        self.component_names = tuple(component_names)
        n = self.dim
        if self.index.shape != (n, n) or self.sign.shape != (n, n):
            raise ValueError(f"algebra {name}: index and sign must be {n}x{n} tables")
        for k in range(n):
            if sorted(self.index[k]) != list(range(n)) or \
                    sorted(self.index[:, k]) != list(range(n)):
                raise ValueError(f"algebra {name}: every row and column of the index table "
                                 "must be a permutation of the basis")
        # block (c, b) of M holds weight_sign[c, b] * W_{weight_index[c, b]}
        self.weight_index = np.empty((n, n), dtype=int)
        self.weight_sign = np.empty((n, n))
        for a in range(n):
            for b in range(n):
                c = self.index[a, b]
                self.weight_index[c, b] = a
                self.weight_sign[c, b] = self.sign[a, b]
        self._cache = {}

    def __repr__(self):
        return f"Algebra({self.name}, dim={self.dim})"

    @property
    def rules(self):
        """The rule tensor (n, n, n) of a PHM layer with this algebra's table:
        rules[i][c, b] is the sign with which component i of the weight enters block
        (c, b) of the layer's matrix (0 where it does not), so that
        sum_i kron(rules[i], W_i) = block_matrix(W)."""
        n = self.dim
        rules = np.zeros((n, n, n))
        for c in range(n):
            for b in range(n):
                rules[self.weight_index[c, b], c, b] = self.weight_sign[c, b]
        return rules

    def conjugate(self, q):
        """conj(q): the imaginary components negated, on (..., n) arrays."""
        out = -q
        out[..., 0] = q[..., 0]
        return out

    # ------------------------------------------------------------ plain-array products
    def multiply(self, p, q):
        """p ⊗ q for arrays of shape (..., n), components last (an oracle for the layers)."""
        xp = backend.get_array_module(p, q)
        shape = np.broadcast_shapes(p.shape[:-1], q.shape[:-1]) + (self.dim,)
        out = xp.zeros(shape, dtype=np.result_type(p.dtype, q.dtype))
        for a in range(self.dim):
            for b in range(self.dim):
                out[..., self.index[a, b]] += self.sign[a, b] * p[..., a] * q[..., b]
        return out

    def block_matrix(self, weight):
        """The real matrix M of y = W ⊗ x on the planar layout.

        weight: (n, out_q, in_q, *k)  ->  (n*out_q, n*in_q, *k); extra trailing axes
        (kernel positions of a convolution) ride along.
        """
        n, out_q, in_q = weight.shape[:3]
        rest = weight.shape[3:]
        xp = backend.get_array_module(weight)
        m = xp.empty((n, out_q, n, in_q) + rest, dtype=weight.dtype)
        for c in range(n):
            for b in range(n):
                a, s = self.weight_index[c, b], self.weight_sign[c, b]
                if s > 0:
                    m[c, :, b] = weight[a]
                else:
                    xp.negative(weight[a], out=m[c, :, b])
        return m.reshape((n * out_q, n * in_q) + rest)

    def block_matrix_grad(self, grad_m, weight_shape):
        """dL/dW from dL/dM: each W_a's gradient is the signed sum of the n blocks of dL/dM
        that hold it (the adjoint of block_matrix).  (n*out_q, n*in_q, *k) -> weight_shape."""
        n, out_q, in_q = weight_shape[:3]
        g = grad_m.reshape((n, out_q, n, in_q) + tuple(weight_shape[3:]))
        xp = backend.get_array_module(grad_m)
        out = xp.zeros(weight_shape, dtype=grad_m.dtype)
        for c in range(n):
            for b in range(n):
                a, s = self.weight_index[c, b], self.weight_sign[c, b]
                if s > 0:
                    out[a] += g[c, :, b]
                else:
                    out[a] -= g[c, :, b]
        return out

    def _tables(self, xp, dtype):
        """Index and sign tables as arrays of module xp (cached: built once per backend)."""
        key = (xp.__name__, np.dtype(dtype).str)
        if key not in self._cache:
            self._cache[key] = (
                xp.asarray(self.weight_index),                        # [c, b] -> a
                xp.asarray(np.arange(self.dim)[None, :].repeat(self.dim, 0)),  # [c, b] -> b
                xp.asarray(self.weight_sign[None, :, :, None].astype(dtype)),
                xp.asarray(self.index.T),                             # [b, a] -> c
                xp.asarray(self.sign.T[None, :, :, None].astype(dtype)))
        return self._cache[key]

    def combine_products(self, products):
        """y from all component products:  y_c = sum_b sign[c, b] * (W_{a(c,b)} x_b).

        products: (rows*n, n*out_q) with row (r, b), column block a holding x_b[r] · W_a,
        i.e. X.reshape(rows*n, in_q) @ W.reshape(n*out_q, in_q)^T  ->  y (rows, n*out_q).
        """
        n = self.dim
        rows, out_q = products.shape[0] // n, products.shape[1] // n
        xp = backend.get_array_module(products)
        a_of, b_of, sign, _, _ = self._tables(xp, products.dtype)
        z = products.reshape(rows, n, n, out_q)[:, b_of, a_of]    # (rows, c, b, out_q)
        z *= sign
        return z.sum(axis=2).reshape(rows, n * out_q)

    def signed_output_blocks(self, grad):
        """The signed copies of G that multiply X_b in dL/dW_a (see the module docstring).

        grad: (rows, n*out_q)  ->  (rows*n, n*out_q) where row (r, b), column block a holds
        sign[a, b] * G_{index[a, b]}[r], so that  dL/dW = result^T @ X.reshape(rows*n, in_q).
        It is also the gradient of combine_products' input.
        """
        n = self.dim
        rows, out_q = grad.shape[0], grad.shape[1] // n
        xp = backend.get_array_module(grad)
        _, _, _, c_of, sign = self._tables(xp, grad.dtype)
        blocks = grad.reshape(rows, n, out_q)[:, c_of]            # (rows, b, a, out_q)
        blocks *= sign
        return blocks.reshape(rows * n, n * out_q)


REAL = Algebra("real", [[0]], [[1]], "r")
COMPLEX = Algebra("complex", [[0, 1], [1, 0]], [[1, 1], [1, -1]], "ri")
QUATERNION = Algebra(
    "quaternion",
    index=[[0, 1, 2, 3],
           [1, 0, 3, 2],
           [2, 3, 0, 1],
           [3, 2, 1, 0]],
    sign=[[1, 1, 1, 1],
          [1, -1, 1, -1],
          [1, -1, -1, 1],
          [1, 1, -1, -1]],
    component_names="rijk")


def cayley_dickson(doublings):
    """Index and sign tables of the algebra made from the reals by `doublings` Cayley-
    Dickson steps (1: complex, 2: quaternions, 3: octonions).

    A number of the doubled algebra is a pair (a, b) of the previous one, multiplied as

        (a, b) (c, d) = (a c - conj(d) b,  d a + b conj(c)),   conj((a, b)) = (conj(a), -b)

    (one of several equivalent conventions), with basis e_k = (e_k, 0) and
    e_{m+k} = (0, e_k) for m the previous dimension.  Two doublings give exactly the
    Hamilton quaternions of QUATERNION above (1, i, j, k = (1,0), (i,0), (0,1), (0,i)).
    """
    index, sign = np.zeros((1, 1), dtype=int), np.ones((1, 1), dtype=int)
    for _ in range(doublings):
        m = len(index)
        new_index = np.zeros((2 * m, 2 * m), dtype=int)
        new_sign = np.zeros((2 * m, 2 * m), dtype=int)

        def conj_sign(k):       # conj(e_k) = s e_k: +1 for k = 0, -1 otherwise
            return 1 if k == 0 else -1

        for x in range(2 * m):
            for y in range(2 * m):
                (a, b), (c, d) = divmod(x, m), divmod(y, m)   # half (0: first), basis
                if a == 0 and c == 0:       # (e_b, 0)(e_d, 0) = (e_b e_d, 0)
                    k, s = index[b, d], sign[b, d]
                elif a == 0:                # (e_b, 0)(0, e_d) = (0, e_d e_b)
                    k, s = m + index[d, b], sign[d, b]
                elif c == 0:                # (0, e_b)(e_d, 0) = (0, e_b conj(e_d))
                    k, s = m + index[b, d], sign[b, d] * conj_sign(d)
                else:                       # (0, e_b)(0, e_d) = (-conj(e_d) e_b, 0)
                    k, s = index[d, b], -sign[d, b] * conj_sign(d)
                new_index[x, y], new_sign[x, y] = k, s
        index, sign = new_index, new_sign
    return index, sign


OCTONION = Algebra("octonion", *cayley_dickson(3), component_names=(
    "1", "i", "j", "k", "l", "il", "jl", "kl"))

ALGEBRAS = {a.name: a for a in (REAL, COMPLEX, QUATERNION, OCTONION)}


def get_algebra(algebra):
    """An Algebra, or the one named `algebra` ("real", "complex", "quaternion",
    "octonion")."""
    if isinstance(algebra, Algebra):
        return algebra
    return ALGEBRAS[check_choice(algebra, tuple(ALGEBRAS), "algebra")]


def to_components(x, n=4):
    """Planar (..., n*m) -> (..., m, n) with the components last (a copy)."""
    m = x.shape[-1] // n
    return x.reshape(x.shape[:-1] + (n, m)).swapaxes(-1, -2).copy()


def from_components(q):
    """(..., m, n) components last -> planar (..., n*m)."""
    return q.swapaxes(-1, -2).reshape(q.shape[:-2] + (q.shape[-1] * q.shape[-2],))
