"""Every differentiable op has a float64 gradcheck: a registry the suite enforces.

Each Function subclass in the library must appear in GRADCHECKS with a call that uses it
directly (not through a wrapper), and that gradcheck must pass on every backend.  Adding
a Function without a gradcheck fails `test_registry_is_complete`.  (The per-op test files
go further: broadcasting, axes, layouts, error messages.)
"""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F
from hyperprune.algebra import QUATERNION
from hyperprune.autograd import Function
from conftest import make


def pos(*shape):
    return make(*shape, low=0.3, high=2.0)


def off_kink(*shape):
    rng = np.random.default_rng(0)
    return hp.tensor(rng.uniform(0.3, 2, shape) * rng.choice([-1, 1], shape),
                     requires_grad=True)


TARGETS = np.array([2, 0, 3])

GRADCHECKS = {
    F.Add: (lambda a, b: F.Add()(a, b), lambda: (make(3, 4), make(4))),
    F.Sub: (lambda a, b: F.Sub()(a, b), lambda: (make(3, 1), make(4))),
    F.Mul: (lambda a, b: F.Mul()(a, b), lambda: (make(2, 3), make(3))),
    F.Div: (lambda a, b: F.Div()(a, b), lambda: (make(2, 3), off_kink(2, 3))),
    F.Neg: (lambda x: F.Neg()(x), lambda: (make(3),)),
    F.Pow: (lambda x: F.Pow(2.5)(x), lambda: (pos(4),)),
    F.Exp: (lambda x: F.Exp()(x), lambda: (make(4),)),
    F.Log: (lambda x: F.Log()(x), lambda: (pos(4),)),
    F.Sqrt: (lambda x: F.Sqrt()(x), lambda: (pos(4),)),
    F.TanhFunction: (lambda x: F.TanhFunction()(x), lambda: (make(4),)),
    F.SigmoidFunction: (lambda x: F.SigmoidFunction()(x), lambda: (make(4),)),
    F.ReLUFunction: (lambda x: F.ReLUFunction()(x), lambda: (off_kink(5),)),
    F.GELUFunction: (lambda x: F.GELUFunction()(x), lambda: (make(5),)),
    F.MatMul: (lambda a, b: F.MatMul()(a, b), lambda: (make(2, 3, 4), make(4, 2))),
    F.LinearFunction: (lambda x, w, b: F.LinearFunction()(x, w, b), lambda: (make(3, 4), make(2, 4), make(2))),
    F.Sum: (lambda x: F.Sum(axis=1, keepdims=True)(x), lambda: (make(2, 3, 4),)),
    F.Mean: (lambda x: F.Mean(axis=(0, 2))(x), lambda: (make(2, 3, 4),)),
    F.Max: (lambda x: F.Max(axis=0)(x), lambda: (make(3, 4),)),
    F.Reshape: (lambda x: F.Reshape((4, 3))(x), lambda: (make(2, 6),)),
    F.Transpose: (lambda x: F.Transpose((2, 0, 1))(x), lambda: (make(2, 3, 4),)),
    F.GetItem: (lambda x: F.GetItem((hp.tensor(np.array([0, 0, 2])).data, slice(1, 3)))(x),
                lambda: (make(3, 4),)),
    F.Concatenate: (lambda a, b: F.Concatenate(axis=1)(a, b), lambda: (make(2, 3), make(2, 1))),
    F.Stack: (lambda a, b: F.Stack(axis=1)(a, b), lambda: (make(2, 3), make(2, 3))),
    F.Softmax: (lambda x: F.Softmax(axis=0)(x), lambda: (make(3, 4),)),
    F.LogSoftmax: (lambda x: F.LogSoftmax(axis=-1)(x), lambda: (make(3, 4),)),
    F.KroneckerSum: (lambda a, s: F.KroneckerSum()(a, s),
                     lambda: (make(2, 2, 2), make(2, 3, 2, 3, 2, seed=1))),
    F.PHMLinearFunction: (lambda x, a, s, b: F.PHMLinearFunction()(x, a, s, b),
                          lambda: (make(2, 3, 8), make(4, 4, 4, seed=1), make(4, 3, 2, seed=2),
                                   make(12, seed=3))),
    # the straight-through backward is the exact derivative of the relaxed op (inputs off
    # the clip's kinks at +-0.75)
    F.FakeQuantizeFunction: (lambda w: F.FakeQuantizeFunction(
                                 hp.tensor(np.array(0.25)).data, 3, relaxed=True)(w),
                             lambda: (hp.tensor(np.array([[-1.2, -0.4, 0.1], [0.5, 0.9, 2.0]]),
                                                requires_grad=True),)),
    F.KDLossFunction: (lambda s, t: F.KDLossFunction(2.5)(s, t),
                       lambda: (make(2, 3, 5, seed=1), make(2, 3, 5, seed=2))),
    # the straight-through backward is the exact derivative of the relaxed op w * |s|
    # (scores off 0, the kink of |s|); an element-shaped score is summed over components
    F.SupermaskFunction: (lambda w, s: F.SupermaskFunction(3, relaxed=True)(w, s),
                          lambda: (make(4, 2, 3), off_kink(2, 3))),
    F.CrossEntropy: (lambda x: F.CrossEntropy(hp.tensor(TARGETS).data)(x),
                     lambda: (make(3, 4),)),
    F.HypercomplexLinearFunction: (lambda x, w, b: F.HypercomplexLinearFunction(QUATERNION)(x, w, b),
                           lambda: (make(3, 8), make(4, 3, 2), make(12))),
    F.ModReLUFunction: (lambda x, b: F.ModReLUFunction()(x, b),
                lambda: (make(3, 8), hp.tensor(np.array([-0.3, 0.2]), requires_grad=True))),
    F.Conv2dFunction: (lambda x, w, b: F.Conv2dFunction((2, 1), 1, QUATERNION)(x, w, b),
               lambda: (make(2, 8, 4, 3), make(4, 2, 2, 3, 2), make(8))),
    F.MaxPool2dFunction: (lambda x: F.MaxPool2dFunction((2, 3), (1, 2))(x), lambda: (make(2, 2, 4, 7),)),
    F.AvgPool2dFunction: (lambda x: F.AvgPool2dFunction(2, (1, 2))(x), lambda: (make(2, 2, 4, 5),)),
    F.LayerNormFunction: (lambda x, w, b: F.LayerNormFunction(1e-5)(x, w, b),
                   lambda: (make(3, 5, seed=1), make(5, seed=2), make(5, seed=3))),
    F.EmbeddingFunction: (lambda w: F.EmbeddingFunction(hp.tensor(np.array([[0, 2], [2, 3]])).data)(w),
                   lambda: (make(4, 3),)),
    F.ScaledDotProductAttention: (
        lambda q, k, v: F.ScaledDotProductAttention(causal=True)(q, k, v),
        lambda: (make(2, 2, 3, 4, seed=1), make(2, 2, 3, 4, seed=2), make(2, 2, 3, 2, seed=3))),
}


def all_functions():
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("hyperprune."):
                found.add(sub)
            stack.append(sub)
    return found


def test_registry_is_complete():
    missing = {f.__name__ for f in all_functions()} - {f.__name__ for f in GRADCHECKS}
    assert not missing, f"Functions without a gradcheck: {sorted(missing)}"


@pytest.mark.parametrize("function", list(GRADCHECKS), ids=lambda f: f.__name__)
def test_gradcheck(backend, function):
    fn, inputs = GRADCHECKS[function]  # index arrays are made on the backend at call time
    result = hp.gradcheck(fn, *inputs())
    assert result.max_error <= 1e-6
