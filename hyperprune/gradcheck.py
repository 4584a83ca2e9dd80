"""Check analytic gradients against central differences, element by element, in float64.

For a function f of tensors x_1..x_m with output y, draw a random cotangent c (same shape
as y) and look at the scalar s = sum(c * f(x)).  Then

    analytic:  ds/dx_k  = what backward() accumulates into x_k.grad with y.backward(c)
    numeric:   ds/dx_k[j] ~ (s(x_k[j] + eps) - s(x_k[j] - eps)) / (2 eps)

A random c, not ones: with ones upstream, a backward that forgets to multiply by the
incoming gradient still passes every single-op check.

Error measure, for each element:  |analytic - numeric| / max(|analytic|, |numeric|, 1).
The floor of 1 keeps tiny gradients from producing huge "relative" errors out of
round-off; for gradients larger than 1 this is the plain relative error.  With float64 and
eps = 1e-6 the central difference is accurate to ~1e-9 for smooth functions, far inside
the default tolerance of 1e-6.  Keep inputs away from kinks (relu at 0, |q| = 0).
"""
import numpy as np

from . import backend
from .autograd import Tensor, no_grad


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numerical one."""


class GradcheckResult:
    """The worst element: which input, where, both values and the error."""

    def __init__(self, max_error, input_index, element, analytic, numeric, tolerance):
        self.max_error = max_error
        self.input_index = input_index
        self.element = element
        self.analytic = analytic
        self.numeric = numeric
        self.tolerance = tolerance
        self.passed = max_error <= tolerance

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return (f"gradcheck {'passed' if self.passed else 'FAILED'}: worst relative error "
                f"{self.max_error:.3e} (tolerance {self.tolerance:.0e}) at input "
                f"{self.input_index}, element {self.element}: analytic {self.analytic!r}, "
                f"numeric {self.numeric!r}")


def _scalar(fn, inputs, cotangent):
    with no_grad():
        out = fn(*inputs)
    return float((out.data * cotangent).sum())


def gradcheck(fn, *inputs, eps=1e-6, tolerance=1e-6, seed=0, raise_exception=True):
    """Compare the gradients of `fn(*inputs)` with central differences, every element.

    fn: maps the inputs to one Tensor.  inputs: Tensors (float64; those with
    requires_grad=True are checked) or other arguments passed through unchanged.
    Returns a GradcheckResult for the worst element; raises GradcheckError when the error
    exceeds `tolerance` (unless raise_exception=False).
    """
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; central "
                             "differences need float64 (use .astype(np.float64))")
    inputs = list(inputs)
    for i in checked:  # fresh leaves on the same data (and memory layout)
        inputs[i] = Tensor(inputs[i].data, requires_grad=True)
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    module = backend.get_array_module(out.data)
    cotangent = module.asarray(np.random.default_rng(seed).standard_normal(out.shape))
    out.backward(cotangent)

    worst = GradcheckResult(0.0, checked[0], (), 0.0, 0.0, tolerance)
    for i in checked:
        x = inputs[i]
        original = x.data
        analytic = backend.to_numpy(x.grad) if x.grad is not None else np.zeros(x.shape)
        if analytic.shape != x.shape:
            raise GradcheckError(f"gradcheck: gradient of input {i} has shape "
                                 f"{analytic.shape}, the input has shape {x.shape}")
        host = backend.to_numpy(original).copy(order="K")  # keep the memory layout
        numeric = np.empty(x.shape)
        try:
            for j in np.ndindex(*x.shape):
                value = host[j]
                host[j] = value + eps
                x.data = module.asarray(host)
                plus = _scalar(fn, inputs, cotangent)
                host[j] = value - eps
                x.data = module.asarray(host)
                minus = _scalar(fn, inputs, cotangent)
                host[j] = value
                numeric[j] = (plus - minus) / (2 * eps)
        finally:
            x.data = original
        error = np.abs(analytic - numeric) / np.maximum(
            np.maximum(np.abs(analytic), np.abs(numeric)), 1.0)
        if error.size and error.max() >= worst.max_error:
            j = np.unravel_index(int(error.argmax()), error.shape)
            worst = GradcheckResult(float(error[j]), i, tuple(int(k) for k in j),
                                    float(analytic[j]), float(numeric[j]), tolerance)
    if raise_exception and not worst.passed:
        raise GradcheckError(repr(worst))
    return worst
