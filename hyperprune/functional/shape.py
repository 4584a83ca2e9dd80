"""Shapes and indexing: reshape, transpose, indexing, concatenation, stacking, embedding.

    reshape(x, *shape)   transpose(x, axes)   permute(x, *axes)   swapaxes(x, a, b)
    getitem(x, key)      NumPy indexing; integer index arrays are range-checked
    concatenate / cat, stack
    embedding(indices, weight)   rows of a table picked by integer ids (a gather)

Each backward puts the output gradient back where its values came from: reshaped,
permuted back, scattered (adding where an index repeats) or sliced.
"""
import builtins
import math

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor

_get_xp = backend.get_array_module


class Reshape(Function):
    """y = x viewed with a new shape;  dL/dx = G reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


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


class Transpose(Function):
    """y = x with its axes permuted;  dL/dx = G with the inverse permutation."""

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        self.axes = tuple(range(x.ndim))[::-1] if self.axes is None else self.axes
        return x.transpose(self.axes)

    def backward(self, g):
        return g.transpose(tuple(np.argsort(self.axes)))


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


def _is_advanced(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(backend.is_array(p) or isinstance(p, list) for p in parts)


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


def getitem(x, key):
    x = as_tensor(x)
    return GetItem(_device_key(key, x.data))(x)


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


def stack(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors or any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: needs tensors of one shape, got "
                         f"{[t.shape for t in tensors]}")
    return Stack(axis % (tensors[0].ndim + 1))(*tensors)


# =============================================================== embedding
class EmbeddingFunction(Function):
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
    backend.check_index_range(idx, weight.shape[0], name, negative=False, message=(
        "index {bad} is out of range for a vocabulary of size {size} (expected 0..{last})"))
    return EmbeddingFunction(idx)(weight)
