"""The engine on its own: traversal, accumulation, broadcasting, no_grad, detach.

These use toy graphs whose gradients are known by hand, separately from the op gradchecks
(which test each local derivative).
"""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn
from hyperprune.autograd import Function, sum_to
from conftest import host, make


def test_reused_node_accumulates(backend):
    """b = a + a  =>  db/da = 2 (the classic micrograd bug when grads are assigned)."""
    a = hp.tensor(np.array(3.0), requires_grad=True)
    (a + a).backward()
    assert host(a.grad) == 2.0


def test_diamond_graph_with_upstream_gradient(backend):
    """y = (x*2) + (x*3) with dL/dy = 5  =>  dL/dx = 25."""
    x = hp.tensor(np.array(1.0), requires_grad=True)
    y = x * 2.0 + x * 3.0
    y.backward(hp.tensor(np.array(5.0)))
    assert host(x.grad) == 25.0


def test_chain_through_shared_subexpression(backend):
    x = hp.tensor(np.array(2.0), requires_grad=True)
    u = x * x          # 4
    v = u * u + u      # x^4 + x^2
    v.backward()       # 4x^3 + 2x = 36
    assert host(x.grad) == 36.0


def test_leaf_grads_accumulate_across_backward_calls(backend):
    x = hp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(host(x.grad), [3 + 2, 3 + 4])


def test_constants_get_no_gradient(backend):
    x = hp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = hp.tensor(np.array([5.0, 6.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(host(x.grad), [5, 6])


def test_intermediate_gradients_are_freed_unless_retained(backend):
    x = hp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 2.0
    k = (x * 3.0).retain_grad()
    (h * k).sum().backward()
    assert h.grad is None and not h.is_leaf
    np.testing.assert_array_equal(host(k.grad), [2, 4])  # d(h k)/dk = h


def test_no_grad_records_nothing(backend):
    x = hp.tensor(np.array([1.0]), requires_grad=True)
    with hp.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.is_leaf
    assert hp.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_detach_cuts_the_graph(backend):
    x = hp.tensor(np.array([2.0]), requires_grad=True)
    y = x * x.detach()   # d/dx = x (the detached factor is a constant)
    y.backward(hp.tensor(np.array([1.0])))
    assert host(x.grad)[0] == 2.0


def test_broadcast_gradients_are_summed_back(backend):
    w = hp.tensor(np.ones((3, 1)), requires_grad=True)
    b = hp.tensor(np.ones(4), requires_grad=True)
    (w * make(2, 3, 4, requires_grad=False) + b).sum().backward()
    assert host(w.grad).shape == (3, 1) and host(b.grad).shape == (4,)
    np.testing.assert_array_equal(host(b.grad), [6, 6, 6, 6])


def test_sum_to():
    g = np.ones((2, 3, 4))
    assert sum_to(g, (3, 1)).tolist() == [[8.0]] * 3
    assert sum_to(g, (4,)).tolist() == [6.0] * 4
    with pytest.raises(ValueError, match="must match tensor shape"):
        sum_to(g, (5, 4))


def test_backward_argument_checks(backend):
    x = hp.tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="needs a gradient for a non-scalar"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient shape \(2,\) must match tensor shape \(3,\)"):
        y.backward(hp.tensor(np.ones(2)))


def test_gradients_keep_the_tensor_dtype(backend):
    x = hp.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * hp.tensor(np.full(3, 2.0))).sum().backward()  # a float64 constant
    assert x.grad.dtype == np.float32


def test_grads_of_two_leaves_never_share_memory(backend):
    """Add hands the same upstream array to both inputs; masking one grad in place (as
    pruning does) must not change the other."""
    a = hp.tensor(np.ones(3), requires_grad=True)
    b = hp.tensor(np.ones(3), requires_grad=True)
    (a + b).backward(hp.tensor(np.array([1.0, 2.0, 3.0])))
    a.grad *= 0
    np.testing.assert_array_equal(host(b.grad), [1, 2, 3])


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = hp.tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_function_returning_wrong_number_of_gradients():
    class Broken(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, g):
            return g

    x = hp.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradients for 2 inputs"):
        Broken()(x, x).sum().backward()


def test_gradcheck_catches_a_backward_that_ignores_the_upstream_gradient():
    """A random cotangent sees a missing `* g`; an all-ones one would not."""
    class ForgetfulSquare(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return 2 * self.x  # should be g * 2x

    x = make(4)
    result = hp.gradcheck(lambda x: ForgetfulSquare()(x), x, raise_exception=False)
    assert not result.passed
    with pytest.raises(hp.GradcheckError, match="worst relative error"):
        hp.gradcheck(lambda x: ForgetfulSquare()(x), x)


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="need float64"):
        hp.gradcheck(F.tanh, make(3, dtype=np.float32))


def test_tensor_creation_dtypes():
    assert hp.tensor([1.0, 2.0]).dtype == np.float32          # default dtype
    assert hp.tensor(np.ones(2)).dtype == np.float64          # arrays keep theirs
    assert hp.tensor([1, 2]).dtype.kind == "i"                # labels stay integers
    with hp.use_backend(dtype="float64"):
        assert hp.tensor([1.0]).dtype == np.float64
    assert hp.tensor([1.0]).dtype == np.float32
    with pytest.raises(TypeError, match="must be an array"):
        hp.Tensor([1.0, 2.0])


def test_item_and_repr():
    x = hp.tensor([[2.5]], requires_grad=True)
    assert x.item() == 2.5
    assert "requires_grad=True" in repr(x)
    with pytest.raises(ValueError, match="one element"):
        hp.tensor([1.0, 2.0]).item()


# ------------------------------------------------- NumPy semantics of Tensor (issue 11)
def test_comparisons_are_elementwise_bool_tensors_without_a_graph(backend):
    x = hp.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = hp.tensor(np.array([1.0, 0.0, 3.0]))
    for result, expected in [(x == y, [True, False, True]), (x != y, [False, True, False]),
                             (x < 2, [True, False, False]), (x >= y, [True, True, True])]:
        assert isinstance(result, hp.Tensor) and not result.requires_grad
        assert result.dtype == bool and host(result).tolist() == expected
    assert (x.sum() > 0).shape == () and bool(x.sum() > 0)      # 0-d: still a Tensor
    assert {x: "a"}[x] == "a" and hash(x) == id(x)              # hashed by identity


def test_bool_is_defined_for_one_element_only(backend):
    assert bool(hp.tensor(np.array([2.0]))) and not bool(hp.tensor(np.array(0.0)))
    with pytest.raises(ValueError, match="ambiguous: use t.any.. or t.all"):
        bool(hp.tensor(np.array([1.0, 2.0])))
    t = hp.tensor(np.array([0.0, 2.0]))
    assert bool((t > 1).any()) and not bool((t > 1).all())


def test_transpose_takes_numpy_axes(backend):
    x = hp.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    for args in [(1, 0, 2), ((1, 0, 2),), ([1, 0, 2],)]:
        np.testing.assert_array_equal(host(x.transpose(*args)),
                                      np.arange(24.0).reshape(2, 3, 4).transpose(1, 0, 2))
    assert x.transpose().shape == (4, 3, 2) == x.T.shape
    x.transpose(2, 0, 1).sum().backward()
    assert x.grad.shape == (2, 3, 4)


def test_a_layer_refuses_input_of_another_dtype():
    """float64 input into float32 weights: NumPy would upcast the whole layer silently."""
    x64 = hp.tensor(np.ones((2, 8)))
    for layer in (nn.Linear(8, 4), nn.QLinear(8, 4), nn.LayerNorm(8)):
        with pytest.raises(TypeError, match="input is float64 but the layer's weights are "
                                            "float32"):
            layer(x64)
    with pytest.raises(TypeError, match="float64"):
        nn.Conv2d(3, 4, 3)(hp.tensor(np.ones((1, 3, 5, 5))))
    assert nn.Linear(8, 4).double()(x64).dtype == np.float64


def test_engine_refuses_a_gradient_on_another_array_module():
    """A backward returning a host array for a device input (here: strict) fails at
    once, naming the Function, instead of at the first optimizer step on CuPy."""
    class HostGradient(Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return hp.backend.to_numpy(g) * 2

    with hp.use_backend("strict"):
        x = hp.tensor(np.ones(3), requires_grad=True)
        with pytest.raises(RuntimeError, match="HostGradient.backward returned a gradient "
                                               "of input 0 on numpy"):
            HostGradient()(x).sum().backward()
