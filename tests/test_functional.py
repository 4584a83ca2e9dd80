"""Every differentiable op: float64 gradcheck, every element, random cotangent, <= 1e-6.

Each test runs under NumPy and the strict CuPy stand-in (the `backend` fixture), with
broadcasting, size-1 axes, 0-d tensors and non-contiguous inputs where they apply.  Inputs
are kept off kinks and singularities (relu near 0, log/sqrt near 0, division by ~0).
"""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F
from conftest import host, make

gradcheck = hp.gradcheck


def away_from_zero(*shape, seed=0, margin=0.3):
    """Values with |x| >= margin (for relu's kink, division)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(margin, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return hp.tensor(x, requires_grad=True)


def fortran(*shape, seed=0):
    """A non-contiguous (Fortran-ordered) leaf tensor."""
    x = np.asfortranarray(np.random.default_rng(seed).standard_normal(shape))
    assert not x.flags.c_contiguous or x.ndim < 2
    return hp.tensor(x, requires_grad=True)


# ------------------------------------------------------------------ binary, broadcasting
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 3)), ((), (3,)),
                    ((3, 1), (1, 4)), ((1,), ())]


@pytest.mark.parametrize("shape_a,shape_b", BROADCAST_SHAPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_ops(backend, op, shape_a, shape_b):
    a = make(*shape_a, seed=1)
    b = away_from_zero(*shape_b, seed=2) if op == "div" else make(*shape_b, seed=2)
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    gradcheck(fn, a, b)


def test_binary_ops_with_python_numbers(backend):
    x = away_from_zero(3, 2)
    gradcheck(lambda x: 2.0 * x + 1 - x / 3.0 + 4.0 / x - (1.5 - x), x)


def test_binary_ops_on_non_contiguous_inputs(backend):
    gradcheck(lambda a, b: a * b + a / (b * b + 1), fortran(3, 4, seed=1),
              make(4, 3, seed=2).detach().requires_grad_().T)


# ------------------------------------------------------------------------- unary ops
UNARY = {
    "neg": (lambda x: -x, None),
    "exp": (F.exp, None),
    "log": (F.log, (0.2, 3.0)),
    "sqrt": (F.sqrt, (0.2, 3.0)),
    "tanh": (F.tanh, None),
    "sigmoid": (F.sigmoid, None),
    "gelu": (F.gelu, None),
    "pow2": (lambda x: x ** 2, None),
    "pow3": (lambda x: x ** 3, None),
    "pow_half": (lambda x: x ** 0.5, (0.2, 3.0)),
    "pow_neg": (lambda x: x ** -1.5, (0.2, 3.0)),
}


@pytest.mark.parametrize("shape", [(), (5,), (2, 1, 3)])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops(backend, name, shape):
    fn, domain = UNARY[name]
    x = make(*shape, seed=3) if domain is None else make(*shape, seed=3, low=domain[0],
                                                         high=domain[1])
    gradcheck(fn, x)


def test_relu_off_the_kink(backend):
    gradcheck(F.relu, away_from_zero(4, 5))


def test_relu_value_and_gradient_at_the_kink(backend):
    """At exactly 0 the derivative is taken as 0 (PyTorch's convention)."""
    x = hp.tensor(np.array([-1.0, 0.0, 1.0]), requires_grad=True)
    y = F.relu(x)
    y.backward(hp.tensor(np.ones(3)))
    assert host(y.data).tolist() == [0.0, 0.0, 1.0]
    assert host(x.grad).tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_and_tanh_saturate_without_overflow(backend):
    x = hp.tensor(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0]), requires_grad=True)
    y = F.sigmoid(x)
    np.testing.assert_allclose(host(y.data), [0, 0, 0.5, 1, 1], atol=1e-30)
    y.sum().backward()
    assert np.all(np.isfinite(host(x.grad)))


def test_unary_ops_on_non_contiguous_input(backend):
    gradcheck(lambda x: F.gelu(x) * F.tanh(x) + F.sigmoid(x), fortran(3, 4))


def test_composed_twins_match_fused_ops(backend):
    """sigmoid, gelu and softmax agree with their formulas composed from primitives."""
    x = make(4, 5, seed=4)
    sig = 1.0 / (1.0 + F.exp(-x))
    np.testing.assert_allclose(host(F.sigmoid(x).data), host(sig.data), rtol=1e-12)
    c = np.sqrt(2 / np.pi)
    gelu = 0.5 * x * (1.0 + F.tanh(c * (x + 0.044715 * x * x * x)))
    np.testing.assert_allclose(host(F.gelu(x).data), host(gelu.data), rtol=1e-12)
    e = F.exp(x)
    np.testing.assert_allclose(host(F.softmax(x, axis=1).data),
                               host((e / e.sum(axis=1, keepdims=True)).data), rtol=1e-12)


@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 6), (0, 3)])
def test_gelu_in_pieces_is_bitwise_the_whole_array_result_and_gradchecks(backend, shape,
                                                                         monkeypatch):
    """backend.chunks splits GELU's chains into pieces (on NumPy: 64K elements; here 8,
    on every backend, so that ragged pieces are exercised): the same values bit for bit
    as one piece, and the backward gradchecks."""
    x = make(*shape, seed=7)
    g = make(*shape, seed=8)
    whole = F.GELUFunction()
    y_whole = host(whole.forward(x.data))
    d_whole = host(whole.backward(g.data))
    monkeypatch.setattr(hp.backend, "CACHE_CHUNK", 8)
    monkeypatch.setattr(hp.backend, "chunks", lambda size, module: [
        slice(s, s + 8) for s in range(0, size, 8)])
    pieces = F.GELUFunction()
    assert np.array_equal(host(pieces.forward(x.data)), y_whole)
    assert np.array_equal(host(pieces.backward(g.data)), d_whole)
    if x.size:
        gradcheck(lambda x: F.gelu(x), x)


def test_chunks_cover_the_range_in_cache_sized_pieces():
    parts = hp.backend.chunks(3 * hp.backend.CACHE_CHUNK + 5, np)
    assert [p.start for p in parts] == [i * hp.backend.CACHE_CHUNK for i in range(4)]
    assert parts[-1].stop >= 3 * hp.backend.CACHE_CHUNK + 5
    assert hp.backend.chunks(0, np) == []
    assert len(hp.backend.chunks(10 ** 6, object())) == 1      # a GPU: one piece


# ------------------------------------------------------------------------------ matmul
@pytest.mark.parametrize("shape_a,shape_b", [
    ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4, 3)),
    ((3, 4), (4,)), ((4,), (4,)), ((4,), (2, 4, 3)), ((1, 4), (4, 1))])
def test_matmul(backend, shape_a, shape_b):
    gradcheck(lambda a, b: a @ b, make(*shape_a, seed=5), make(*shape_b, seed=6))


def test_matmul_non_contiguous(backend):
    gradcheck(lambda a, b: a @ b, fortran(3, 4), make(5, 4, seed=2).detach().T.requires_grad_())


def test_matmul_shape_errors(backend):
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned"):
        make(3, 4) @ make(5, 2)
    with pytest.raises(ValueError, match="do not broadcast"):
        make(2, 3, 4) @ make(3, 4, 5)
    with pytest.raises(ValueError, match="at least one axis"):
        F.matmul(make(), make(3))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear(backend, bias, x_shape):
    w, b = make(4, 3, seed=7), make(4, seed=8)
    args = (make(*x_shape, seed=9), w) + ((b,) if bias else ())
    gradcheck(F.linear, *args)


def test_linear_matches_composed_twin(backend):
    x, w, b = make(5, 3, seed=1), make(4, 3, seed=2), make(4, seed=3)
    fused = F.linear(x, w, b)
    composed = x @ w.T + b
    np.testing.assert_allclose(host(fused.data), host(composed.data), rtol=1e-12)
    g = np.random.default_rng(0).standard_normal((5, 4))
    fused.backward(hp.tensor(g))
    grads = [host(t.grad) for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    composed.backward(hp.tensor(g))
    for expected, t in zip(grads, (x, w, b)):
        np.testing.assert_allclose(host(t.grad), expected, rtol=1e-12)


def test_linear_shape_errors(backend):
    with pytest.raises(ValueError, match=r"expected input \(\.\.\., 3\)"):
        F.linear(make(5, 4), make(2, 3))
    with pytest.raises(ValueError, match="bias of shape"):
        F.linear(make(5, 3), make(2, 3), make(3))


# -------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reductions(backend, op, axis, keepdims):
    x = make(3, 4, 2, seed=10)
    gradcheck(lambda x: getattr(x, op)(axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reductions_of_0d_and_size_1(backend, op):
    gradcheck(lambda x: getattr(x, op)(), make(seed=1))
    gradcheck(lambda x: getattr(x, op)(axis=1), make(3, 1, seed=2))


def test_max_ties_share_the_gradient(backend):
    x = hp.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]]), requires_grad=True)
    x.max(axis=1).backward(hp.tensor(np.array([1.0, 2.0])))
    np.testing.assert_array_equal(host(x.grad), [[0, 0.5, 0.5], [2, 0, 0]])


def test_reduction_axis_errors(backend):
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        make(3, 4).sum(axis=2)


# ---------------------------------------------------------------------- shape and index
def test_reshape_transpose_permute(backend):
    x = make(2, 3, 4, seed=11)
    gradcheck(lambda x: x.reshape(4, -1), x)
    gradcheck(lambda x: x.reshape((6, 4)).T, x)
    gradcheck(lambda x: x.transpose((1, 2, 0)), x)
    gradcheck(lambda x: x.permute(2, 0, 1) * 2.0, x)
    gradcheck(lambda x: x.swapaxes(0, 2), x)


def test_reshape_and_transpose_errors(backend):
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\)"):
        make(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="not a permutation"):
        make(2, 3).transpose((0, 0))


@pytest.mark.parametrize("key", [
    1, -1, slice(1, 3), (slice(None), 2), (Ellipsis, slice(None, None, -1)),
    (None, 0), ([0, 0, 2],), (slice(None), [1, 1, 0]), ([0, 2], [1, 3])],
    ids=str)
def test_getitem(backend, key):
    gradcheck(lambda x: x[key], make(3, 4, seed=12))


def test_getitem_with_integer_tensor_and_bool_mask(backend):
    x = make(4, 3, seed=13)
    idx = hp.tensor(np.array([3, 0, 3]))
    gradcheck(lambda x: x[idx], x)
    mask = hp.tensor(np.array([True, False, True, True]))
    gradcheck(lambda x: x[mask], x)


def test_getitem_repeated_indices_accumulate(backend):
    x = hp.tensor(np.zeros(3), requires_grad=True)
    x[[0, 0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(host(x.grad), [3, 0, 1])


def test_getitem_out_of_range_raises_on_every_backend(backend):
    """CuPy wraps out-of-range integer-array indices; hyperprune checks explicitly."""
    x = make(3, 4)
    with pytest.raises(IndexError, match="index 3 is out of range for size 3"):
        x[[0, 3]]
    with pytest.raises(IndexError, match="index -5 is out of range for size 4"):
        x[:, [-5]]


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack(backend, axis):
    a, b, c = make(2, 3, seed=1), make(2, 3, seed=2), make(2, 3, seed=3)
    gradcheck(lambda a, b, c: F.concatenate([a, b, c], axis=axis), a, b, c)
    gradcheck(lambda a, b, c: F.stack([a, b, c], axis=axis), a, b, c)


def test_concatenate_different_sizes_and_errors(backend):
    gradcheck(lambda a, b: F.concatenate([a, b], axis=1), make(2, 3, seed=1),
              make(2, 5, seed=2))
    with pytest.raises(ValueError, match="differ outside axis 0"):
        F.concatenate([make(2, 3), make(2, 4)], axis=0)
    with pytest.raises(ValueError, match="one shape"):
        F.stack([make(2, 3), make(3, 2)])


# ------------------------------------------------------------------ softmax and losses
@pytest.mark.parametrize("axis", [0, -1, 1])
def test_softmax_and_log_softmax(backend, axis):
    x = make(3, 4, 2, seed=14)
    gradcheck(lambda x: F.softmax(x, axis=axis), x)
    gradcheck(lambda x: F.log_softmax(x, axis=axis), x)


def test_softmax_is_shift_invariant_and_stable(backend):
    x = hp.tensor(np.array([[1000.0, 1001.0, 999.0]]))
    p = host(F.softmax(x).data)
    np.testing.assert_allclose(p, host(F.softmax(x - 1000.0).data))
    assert np.all(np.isfinite(host(F.log_softmax(x).data)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(backend, reduction):
    x = make(5, 4, seed=15)
    t = hp.tensor(np.array([0, 3, 1, 3, 2]))
    gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction), x)


def test_cross_entropy_matches_composed_twin(backend):
    """Fused softmax-cross-entropy == -mean(log_softmax(x)[range, t]), values and grads."""
    x = make(6, 5, seed=16)
    t = np.array([4, 0, 1, 1, 3, 2])
    fused = F.cross_entropy(x, hp.tensor(t))
    fused.backward()
    grad_fused = host(x.grad)
    x.grad = None
    composed = -F.log_softmax(x, axis=1)[hp.tensor(np.arange(6)), hp.tensor(t)].mean()
    composed.backward()
    np.testing.assert_allclose(host(fused.data), host(composed.data), rtol=1e-12)
    np.testing.assert_allclose(grad_fused, host(x.grad), rtol=1e-10, atol=1e-15)


def test_cross_entropy_rejects_bad_targets(backend):
    x = make(3, 4)
    for bad in ([0, 4, 1], [0, -1, 1]):  # NumPy would read -1 as class 3; CuPy wraps 4
        with pytest.raises(IndexError, match="out of range for 4 classes"):
            F.cross_entropy(x, hp.tensor(np.array(bad)))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(x, hp.tensor(np.array([0.0, 1.0, 2.0])))
    with pytest.raises(ValueError, match=r"targets of shape \(2,\) do not match"):
        F.cross_entropy(x, hp.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\)"):
        F.cross_entropy(make(2, 3, 4), hp.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match="unknown reduction"):
        F.cross_entropy(x, hp.tensor(np.array([0, 1, 2])), reduction="avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse(backend, reduction):
    gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), make(3, 4, seed=1),
              make(3, 4, seed=2))


def test_mse_rejects_mismatched_shapes(backend):
    with pytest.raises(ValueError, match=r"input of shape \(4, 1\) and target of shape \(4,\)"):
        F.mse_loss(make(4, 1), make(4))


# ----------------------------------------------------------------------------- dropout
def test_dropout_gradcheck_with_a_fixed_mask(backend):
    def fn(x):
        hp.manual_seed(3)  # the same mask at every call
        return F.dropout(x, 0.4, training=True)
    gradcheck(fn, make(6, 5, seed=17))


def test_dropout_statistics_and_eval_mode(backend):
    x = hp.tensor(np.ones((200, 500), dtype=np.float32))
    y = host(F.dropout(x, 0.3).data)
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1) < 0.01  # inverted dropout keeps the expectation
    assert F.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        F.dropout(x, 1.5)
