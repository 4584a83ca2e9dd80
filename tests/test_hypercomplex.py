"""The Hamilton-product layer, its algebra tables, initialization and activations."""
import math

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn, quaternion
from hyperprune.algebra import (COMPLEX, QUATERNION, REAL, Algebra, from_components,
                                to_components)
from hyperprune.functional import hamilton_linear, hypercomplex_linear, mod_relu
from hyperprune.nn import init
from conftest import host, make


# --------------------------------------------------------------------- algebra tables
def test_quaternion_table_matches_the_algebra_module():
    rng = np.random.default_rng(0)
    p, q = rng.standard_normal((2, 10, 4))
    np.testing.assert_allclose(QUATERNION.multiply(p, q), quaternion.hamilton_product(p, q),
                               rtol=1e-12)
    assert QUATERNION.multiply(np.array([1, 2, 3, 4.0]),
                               np.array([5, 6, 7, 8.0])).tolist() == [-60, 12, 30, 24]


def test_complex_table_matches_python_complex():
    p, q = 1.5 - 2j, -0.5 + 3j
    r = COMPLEX.multiply(np.array([p.real, p.imag]), np.array([q.real, q.imag]))
    assert complex(*r) == p * q


def test_block_matrix_is_the_documented_one():
    w = np.random.default_rng(1).standard_normal((4, 2, 3))
    R, I, J, K = w
    expected = np.block([[R, -I, -J, -K], [I, R, -K, J], [J, K, R, -I], [K, -J, I, R]])
    np.testing.assert_array_equal(QUATERNION.block_matrix(w), expected)


@pytest.mark.parametrize("shape", [(4, 2, 3), (4, 2, 3, 3, 3)])
def test_block_matrix_grad_is_the_adjoint_of_block_matrix(shape):
    """<M(W), D> = <W, M^T(D)> for every W, D: the backward of the assembly."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal(shape)
    d = rng.standard_normal(QUATERNION.block_matrix(w).shape)
    lhs = (QUATERNION.block_matrix(w) * d).sum()
    rhs = (w * QUATERNION.block_matrix_grad(d, shape)).sum()
    assert abs(lhs - rhs) < 1e-10


def test_invalid_table_is_rejected():
    with pytest.raises(ValueError, match="permutation"):
        Algebra("broken", [[0, 1], [0, 1]], [[1, 1], [1, 1]], "ab")


# --------------------------------------------------------------------- the layer product
@pytest.mark.parametrize("batch_shape", [(5,), (2, 3), ()])
def test_layer_output_is_per_quaternion_hamilton_products(backend, batch_shape):
    """y_o = sum_i W_oi ⊗ x_i, computed quaternion by quaternion with the algebra module."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 3, 5))
    x = rng.standard_normal(batch_shape + (20,))
    y = host(hamilton_linear(hp.tensor(x), hp.tensor(w)).data)
    xq = to_components(x)                      # (..., 5, 4)
    wq = np.moveaxis(w, 0, -1)                 # (3, 5, 4)
    expected = quaternion.hamilton_product(wq, xq[..., None, :, :]).sum(axis=-2)  # (..., 3, 4)
    np.testing.assert_allclose(y, from_components(expected), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(3, 8), (2, 2, 8), (8,)])
def test_hamilton_linear_gradcheck(backend, bias, x_shape):
    args = [make(*x_shape, seed=1), make(4, 3, 2, seed=2)] + ([make(12, seed=3)] if bias else [])
    hp.gradcheck(hamilton_linear, *args)


@pytest.mark.parametrize("rows", [3, 12])
def test_both_evaluation_orders_gradcheck(backend, rows):
    """rows < in_q combines component products; rows >= in_q assembles M. Same numbers."""
    x, w, b = make(rows, 40, seed=1), make(4, 2, 10, seed=2), make(8, seed=3)
    with hp.no_grad():
        from hyperprune.functional import HypercomplexLinearFunction as HypercomplexLinear
        fn = HypercomplexLinear(QUATERNION)
        y = fn.forward(x.data, w.data, b.data)
        assert fn.via_matrix == (rows >= 10)
        m = QUATERNION.block_matrix(host(w.data))
        np.testing.assert_allclose(host(y), host(x.data) @ m.T + host(b.data), rtol=1e-12)
    hp.gradcheck(hamilton_linear, x, w, b)


def test_hamilton_linear_gradcheck_non_contiguous(backend):
    x = hp.tensor(np.asfortranarray(np.random.default_rng(4).standard_normal((5, 8))),
                  requires_grad=True)
    w = hp.tensor(np.random.default_rng(5).standard_normal((4, 2, 3)).transpose(0, 2, 1),
                  requires_grad=True)  # (4, 3, 2), non-contiguous
    hp.gradcheck(hamilton_linear, x, w, make(12, seed=6))


@pytest.mark.parametrize("algebra", [REAL, COMPLEX], ids=lambda a: a.name)
def test_other_algebras_gradcheck(backend, algebra):
    n = algebra.dim
    hp.gradcheck(lambda x, w, b: hypercomplex_linear(x, w, b, algebra),
                 make(3, 2 * n, seed=1), make(n, 3, 2, seed=2), make(3 * n, seed=3))


def composed_hamilton_linear(x, w, b):
    """The composed twin: y_c = sum_b sign * x_b @ W_a^T, built from primitive ops."""
    n_in = w.shape[2]
    xs = [x[:, k * n_in:(k + 1) * n_in] for k in range(4)]
    ws = [w[a] for a in range(4)]
    rows = []
    for c in range(4):
        acc = None
        for b_ in range(4):
            a, s = QUATERNION.weight_index[c, b_], QUATERNION.weight_sign[c, b_]
            term = xs[b_] @ ws[a].T * float(s)
            acc = term if acc is None else acc + term
        rows.append(acc)
    return F.concatenate(rows, axis=1) + b


@pytest.mark.parametrize("rows", [2, 6])  # 2 < in_q = 3: the products path; 6: via M
def test_fused_layer_matches_composed_twin(backend, rows):
    x, w, b = make(rows, 12, seed=7), make(4, 2, 3, seed=8), make(8, seed=9)
    g = hp.tensor(np.random.default_rng(10).standard_normal((rows, 8)))
    fused = hamilton_linear(x, w, b)
    fused.backward(g)
    fused_grads = [host(t.grad) for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    composed = composed_hamilton_linear(x, w, b)
    composed.backward(g)
    np.testing.assert_allclose(host(fused.data), host(composed.data), rtol=1e-12, atol=1e-12)
    for expected, t in zip(fused_grads, (x, w, b)):
        np.testing.assert_allclose(host(t.grad), expected, rtol=1e-12, atol=1e-12)


def test_real_algebra_layer_is_the_real_linear_layer():
    x, w, b = make(4, 6), make(1, 5, 6), make(5)
    np.testing.assert_allclose(host(hypercomplex_linear(x, w, b, "real").data),
                               host(F.linear(x, w[0], b).data), rtol=1e-12)


def test_layer_product_shape_errors():
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 8\)"):
        hamilton_linear(make(3, 12), make(4, 2, 2))
    with pytest.raises(ValueError, match=r"weight must have shape \(4, out, in\)"):
        hamilton_linear(make(3, 8), make(3, 2, 2))
    with pytest.raises(ValueError, match="unknown algebra 'sedenion'"):
        hypercomplex_linear(make(3, 8), make(4, 2, 2), algebra="sedenion")


# ------------------------------------------------------------------------------ QLinear
def test_qlinear_shapes_and_parameter_saving():
    layer = nn.QLinear(784, 300)
    assert layer.weight.shape == (4, 75, 196) and layer.bias.shape == (300,)
    real = nn.Linear(784, 300)
    assert layer.weight.size * 4 == real.weight.size == 235_200
    assert layer(hp.tensor(np.zeros((2, 784), dtype=np.float32))).shape == (2, 300)
    assert layer.weight.dtype == np.float32


@pytest.mark.parametrize("sizes", [(6, 8), (8, 10), (0, 8), (8.0, 8)])
def test_qlinear_sizes_must_be_multiples_of_4(sizes):
    with pytest.raises(ValueError, match=rf"QLinear\({sizes[0]}, {sizes[1]}\).*multiple of 4"):
        nn.QLinear(*sizes)


def test_qlinear_layer_gradcheck(backend):
    with hp.use_backend(dtype="float64"):
        layer = nn.QLinear(8, 12)
    x = make(5, 8)
    hp.gradcheck(lambda x, w, b: hamilton_linear(x, w, b), x,
                 hp.tensor(layer.weight.data, requires_grad=True),
                 hp.tensor(layer.bias.data, requires_grad=True))


# ------------------------------------------------------------------------ initialization
@pytest.mark.parametrize("criterion", ["glorot", "he"])
def test_polar_init_preactivation_variance(criterion):
    """Var(y) = 4 σ² fan_in Var(x) for y = W ⊗ x, within 5%."""
    hp.manual_seed(11)
    fan_in, fan_out = 256, 128
    w = init.quaternion_polar((4, fan_out, fan_in), criterion)
    x = np.random.default_rng(12).standard_normal((2000, 4 * fan_in)) * 1.5
    y = x @ QUATERNION.block_matrix(w).T
    sigma = init.quaternion_sigma(fan_in, fan_out, criterion)
    expected = 4 * sigma ** 2 * fan_in * 1.5 ** 2
    assert abs(y.var() / expected - 1) < 0.05
    # and the same variance as the real rule: 2 fan_in/(fan_in+fan_out) or 2, times Var(x)
    real_rule = 2 * fan_in / (fan_in + fan_out) if criterion == "glorot" else 2.0
    assert math.isclose(expected, real_rule * 1.5 ** 2)


def test_polar_init_structure():
    hp.manual_seed(13)
    w = init.quaternion_polar((4, 200, 300), "glorot")
    modulus = np.sqrt((w ** 2).sum(axis=0))
    sigma = init.quaternion_sigma(300, 200, "glorot")
    assert abs((modulus ** 2).mean() / (4 * sigma ** 2) - 1) < 0.02   # E|w|² = 4σ² (χ4)
    assert abs(w.mean()) < 0.01 * sigma                                 # zero mean
    # phase ~ U(-π, π): E[cos θ] = 0 and E[cos² θ] = 1/2, so E[w_r²] = 2σ²
    assert abs((w[0] ** 2).mean() / (2 * sigma ** 2) - 1) < 0.03
    with pytest.raises(ValueError, match="unknown init criterion 'lecun'"):
        init.quaternion_polar((4, 2, 2), "lecun")
    with pytest.raises(ValueError, match=r"shape must be \(4, out_q, in_q"):
        init.quaternion_polar((3, 2, 2))


@pytest.mark.parametrize("name,rule", [("glorot_normal", lambda i, o: 2 / (i + o)),
                                       ("glorot_uniform", lambda i, o: 2 / (i + o)),
                                       ("he_normal", lambda i, o: 2 / i),
                                       ("he_uniform", lambda i, o: 2 / i)])
def test_real_init_variance(name, rule):
    hp.manual_seed(14)
    w = init.real_init(name, (300, 500), 500, 300)
    assert abs(w.var() / rule(500, 300) - 1) < 0.02
    x = np.random.default_rng(15).standard_normal((2000, 500))
    assert abs((x @ w.T).var() / (500 * rule(500, 300)) - 1) < 0.05


# --------------------------------------------------------------------------- activations
def test_split_activations_act_per_component():
    """On the planar layout, applying f elementwise is f applied to each component."""
    x = np.random.default_rng(16).standard_normal((3, 12))
    q = to_components(x)
    for module, f in [(nn.ReLU(), lambda v: np.maximum(v, 0)), (nn.Tanh(), np.tanh),
                      (nn.Sigmoid(), lambda v: 1 / (1 + np.exp(-v)))]:
        np.testing.assert_allclose(to_components(module(hp.tensor(x)).numpy()), f(q),
                                   rtol=1e-12)


def test_modrelu_gradcheck(backend):
    x = make(3, 2, 8, seed=17)
    bias = hp.tensor(np.array([-0.4, 0.3]), requires_grad=True)
    # keep |q| + b away from 0, where modReLU has its kink
    q = to_components(host(x.data))
    assert np.abs(np.sqrt((q ** 2).sum(-1)) + host(bias.data)).min() > 0.05
    hp.gradcheck(mod_relu, x, bias)


def test_modrelu_keeps_direction_and_thresholds_the_magnitude():
    q = np.array([[3.0, 0.0, 4.0, 0.0], [0.1, 0.1, 0.0, 0.0]])  # |q| = 5 and ~0.14
    x = from_components(q[None])                                  # (1, 8) planar
    y = to_components(mod_relu(hp.tensor(x), hp.tensor(np.array([-1.0, -1.0]))).numpy())[0]
    np.testing.assert_allclose(y[0], q[0] * 4 / 5, rtol=1e-7)    # |y| = relu(5 - 1)
    np.testing.assert_array_equal(y[1], 0)                          # below the threshold
    with pytest.raises(ValueError, match="multiple of 4"):
        nn.ModReLU(6)
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 8\)"):
        mod_relu(make(2, 12), make(2))
