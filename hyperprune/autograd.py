"""Reverse-mode automatic differentiation: `Tensor`, `Function` and the backward pass.

A `Tensor` holds an array (`data`), its gradient (`grad`, same shape, or None) and, when it
was computed by a differentiable op, the `Function` that made it (`_ctx`).  Every op is a
`Function` subclass whose `forward` works on raw arrays and whose `backward` turns the
gradient of the output into one gradient per input, also on raw arrays (the formulas live
in `hyperprune.functional`, each beside its forward).

`loss.backward()` visits the graph in reverse topological order and, for each node, calls
its Function's backward once with the sum of all gradients that reached it.  Two rules are
kept here, in one place, so that no op can forget them:

* broadcasting: a gradient with more axes or size-1-expanded axes than its input is
  summed back to the input's shape (`sum_to`);
* accumulation: a tensor used twice (`b = a + a`) receives the sum of both gradients, and
  `.grad` of a leaf accumulates across calls until it is zeroed (as in PyTorch).

Only leaves (tensors made by the user, e.g. parameters) and tensors that called
`retain_grad()` keep `.grad`; intermediate gradients are freed as soon as they are used.
"""
import contextlib

import numpy as np

from . import backend

_grad_enabled = [True]


@contextlib.contextmanager
def _grad_mode(enabled):
    previous = _grad_enabled[0]
    _grad_enabled[0] = enabled
    try:
        yield
    finally:
        _grad_enabled[0] = previous


def no_grad():
    """Within this block ops record no graph (evaluation, optimizer updates)."""
    return _grad_mode(False)


def enable_grad():
    """Within this block ops record the graph again (e.g. inside a no_grad block)."""
    return _grad_mode(True)


def is_grad_enabled():
    return _grad_enabled[0]


def sum_to(grad, shape):
    """Sum `grad` over the axes that broadcasting added or expanded, to get `shape`.

    If y = f(x) broadcast x of shape (3, 1) to (2, 3, 4), every element of x was used 2*4
    times, so dL/dx is dL/dy summed over axis 0 and over axis 2 (keeping it as size 1).
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError(f"gradient of shape {grad.shape} cannot be reduced to shape {shape}")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    for i, n in enumerate(shape):
        if n != 1 and grad.shape[extra + i] != n:
            raise ValueError(f"gradient shape {grad.shape} must match tensor shape {shape}")
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape) if extra else grad


class Function:
    """One differentiable op.  Subclasses define

        forward(*arrays) -> array            the value, on raw arrays
        backward(grad)   -> array or tuple   dL/d(input) for each input, given dL/d(output);
                                             None for an input that needs no gradient

    Parameters of the op (an axis, a shape) are given to the constructor:
    `Sum(axis=0)(x)`.  `self.needs_input_grad[i]` tells forward and backward which
    gradients will be wanted (all False when no graph is recorded); `self.inputs` are
    the input Tensors.
    """

    def __call__(self, *inputs):
        if hasattr(self, "inputs"):  # its saved arrays belong to the first call's graph
            raise RuntimeError(f"{type(self).__name__}: a Function instance is used once; "
                               "create a new one for each call")
        inputs = tuple(as_tensor(x, like=_first_tensor(inputs)) for x in inputs)
        record = _grad_enabled[0] and any(t.requires_grad for t in inputs)
        # known to forward already: an op that keeps a big buffer for its backward can
        # give it back at once when no backward will come (evaluation)
        self.needs_input_grad = tuple(record and t.requires_grad for t in inputs)
        out = self.forward(*(t.data for t in inputs))
        if isinstance(out, np.generic):  # NumPy reductions return scalars, not 0-d arrays
            out = np.asarray(out)
        if record:
            self.inputs = inputs
            return Tensor(out, requires_grad=True, _ctx=self)
        return Tensor(out)

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def __repr__(self):
        return type(self).__name__


def _first_tensor(values):
    for v in values:
        if isinstance(v, Tensor):
            return v
    return None


def as_tensor(value, like=None):
    """`value` as a Tensor. Python numbers take the dtype and backend of `like`."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, (int, float, np.generic)):
        module = backend.get_array_module(like.data)
        return Tensor(module.asarray(value, dtype=like.data.dtype))
    return tensor(value)


def tensor(data, dtype=None, requires_grad=False):
    """A new leaf Tensor on the selected backend.

    Python numbers and lists of floats get the default dtype (float32 unless changed);
    arrays keep their dtype unless `dtype` is given; integers stay integers (class labels).
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None and isinstance(data, np.generic):  # a NumPy scalar keeps its dtype
        data = np.asarray(data)
    if dtype is None and not backend.is_array(data):
        probe = np.asarray(data)
        if probe.dtype.kind == "f" or probe.dtype == object:
            dtype = backend.get_default_dtype()
        data = probe
    return Tensor(backend.asarray(data, dtype=dtype), requires_grad=requires_grad)


class Tensor:
    """An array with a gradient and a link to the Function that computed it."""

    __array_priority__ = 1000  # `numpy_scalar * tensor` calls Tensor.__rmul__

    def __init__(self, data, requires_grad=False, _ctx=None):
        if not backend.is_array(data):
            raise TypeError(f"Tensor data must be an array, got {type(data).__name__}; "
                            "use hyperprune.tensor(...) to convert")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = _ctx
        self._retains_grad = False

    # ---- array-like attributes -------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        """The truth of a one-element tensor; NumPy's ambiguity error for more."""
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.size} elements is "
                             "ambiguous: use t.any() or t.all()")
        return bool(self.item())

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = repr(backend.to_numpy(self.data)).replace("array(", "tensor(", 1)
        return body[:-1] + grad + ")" if body.endswith(")") else body

    def numpy(self):
        """The data on the host, as a NumPy array: a copy of device data; for host data the
        array itself (as torch.Tensor.numpy shares memory), so copy it to keep it."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    @property
    def is_leaf(self):
        return self._ctx is None

    def detach(self):
        """The same data, cut from the graph (no gradient flows through it)."""
        return Tensor(self.data)

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self):
        """Keep .grad on this intermediate tensor after backward."""
        self._retains_grad = True
        return self

    def astype(self, dtype):
        """A copy with another dtype, cut from the graph (used for float64 gradchecks)."""
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad)

    # ---- backward --------------------------------------------------------------------
    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) * grad into the .grad of every leaf that needs it.

        `grad` is the upstream gradient dL/d(self); it may be omitted for a one-element
        tensor (then it is 1).
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input of the computation had requires_grad=True)")
        module = backend.get_array_module(self.data)
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward() needs a gradient for a non-scalar tensor "
                                   f"of shape {self.shape}")
            grad = module.ones(self.shape, dtype=self.dtype)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            if backend.get_array_module(grad) is not module:
                grad = module.asarray(grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"gradient shape {grad.shape} must match tensor shape "
                                 f"{self.shape}")
            grad = grad.copy()  # the caller's array never becomes someone's .grad
        grads = {id(self): grad}
        for node in reversed(_topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._ctx is None:  # a leaf: its gradient ends here
                node.grad = g if node.grad is None else node.grad + g
                continue
            if node._retains_grad:  # g flows on to the inputs too: keep a copy
                node.grad = g.copy() if node.grad is None else node.grad + g
            fn = node._ctx
            in_grads = fn.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(fn.inputs):
                raise RuntimeError(f"{fn}.backward returned {len(in_grads)} gradients for "
                                   f"{len(fn.inputs)} inputs")
            # Every gradient array gets one owner, so masking a .grad in place (as pruning
            # does) cannot change another's: Add, for one, returns (g, g).
            owned = set()
            for i, (inp, ig, needed) in enumerate(zip(fn.inputs, in_grads,
                                                      fn.needs_input_grad)):
                if not needed or ig is None:
                    continue
                ig = sum_to(_checked_gradient(fn, i, inp, ig), inp.shape)
                if ig.dtype != inp.dtype:  # type promotion: float32 x + float64 y
                    ig = ig.astype(inp.dtype)
                if id(ig) in owned:
                    ig = ig.copy()
                owned.add(id(ig))
                key = id(inp)
                grads[key] = ig if key not in grads else grads[key] + ig

    # ---- operators: wired to the ops by hyperprune.functional.operators ---------------
    def __hash__(self):
        return id(self)


def _checked_gradient(fn, i, inp, grad):
    """A backward must return, for input i, an array of that input's module (a host
    NumPy array for a device input breaks at the first optimizer step on CuPy) and of its
    shape up to broadcasting (summed back by sum_to).  NumPy scalars (what NumPy's 0-d
    arithmetic gives) become 0-d arrays."""
    if isinstance(grad, np.generic):
        grad = np.asarray(grad)
    if not backend.is_array(grad):
        raise RuntimeError(f"{fn}.backward returned a {type(grad).__name__} as the gradient "
                           f"of input {i}; expected an array")
    if backend.get_array_module(grad) is not backend.get_array_module(inp.data):
        raise RuntimeError(f"{fn}.backward returned a gradient of input {i} on "
                           f"{backend.get_array_module(grad).__name__}, but the input lives "
                           f"on {backend.get_array_module(inp.data).__name__}")
    return grad


def _topological_order(root):
    """Nodes reachable from `root` through requires_grad inputs, inputs before outputs."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for inp in node._ctx.inputs:
                if inp.requires_grad and id(inp) not in visited:
                    stack.append((inp, False))
    return order
