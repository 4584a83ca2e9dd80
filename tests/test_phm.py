"""The hypercomplex family: octonions, PHM layers (sums of Kronecker products, learned or
fixed rules), their hand-derived backward, init, and every model in every algebra."""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn, optim, prune
from hyperprune.algebra import ALGEBRAS, COMPLEX, OCTONION, QUATERNION, cayley_dickson
from hyperprune.models import get_model
from conftest import grads_of, host, make


# ------------------------------------------------------------------------- octonions
def test_cayley_dickson_gives_the_complex_and_quaternion_tables():
    for doublings, algebra in ((1, COMPLEX), (2, QUATERNION)):
        index, sign = cayley_dickson(doublings)
        assert np.array_equal(index, algebra.index) and np.array_equal(sign, algebra.sign)


def test_octonion_properties_that_hold_for_every_convention():
    """|xy| = |x||y|; alternativity x(xy) = (xx)y and (yx)x = y(xx); conj(xy) =
    conj(y) conj(x); e_a^2 = -1 for a >= 1; and some triple is not associative."""
    rng = np.random.default_rng(0)
    x, y, z = rng.standard_normal((3, 50, 8))
    mul, conj = OCTONION.multiply, OCTONION.conjugate
    norm = lambda a: np.sqrt((a * a).sum(-1))  # noqa: E731
    np.testing.assert_allclose(norm(mul(x, y)), norm(x) * norm(y), rtol=1e-12)
    np.testing.assert_allclose(mul(x, mul(x, y)), mul(mul(x, x), y), atol=1e-12)
    np.testing.assert_allclose(mul(mul(y, x), x), mul(y, mul(x, x)), atol=1e-12)
    np.testing.assert_allclose(conj(mul(x, y)), mul(conj(y), conj(x)), atol=1e-12)
    basis = np.eye(8)
    for a in range(1, 8):
        assert mul(basis[a], basis[a]).tolist() == (-basis[0]).tolist()
    assert np.abs(mul(x, mul(y, z)) - mul(mul(x, y), z)).max() > 1.0   # not associative


@pytest.mark.parametrize("name", ["complex", "quaternion", "octonion"])
def test_rules_tensor_makes_the_block_matrix(name):
    algebra = ALGEBRAS[name]
    w = np.random.default_rng(1).standard_normal((algebra.dim, 3, 2))
    kron = sum(np.kron(algebra.rules[i], w[i]) for i in range(algebra.dim))
    assert np.array_equal(kron, algebra.block_matrix(w))
    assert set(np.unique(algebra.rules)) <= {-1.0, 0.0, 1.0}


def test_octonion_layer_is_the_octonion_product(backend):
    w, x = make(8, 1, 1), make(5, 8, seed=1)
    y = F.hypercomplex_linear(x, w, algebra=OCTONION)
    np.testing.assert_allclose(host(y), OCTONION.multiply(host(w)[:, 0, 0], host(x)),
                               atol=1e-12)


# --------------------------------------------------------------- the Kronecker sum
def explicit_kronecker_sum(rules, weight):
    """The composed twin: sum_i kron(A_i, S_i) per kernel position, with NumPy."""
    n = rules.shape[0]
    rest = weight.shape[3:]
    out = np.zeros((n * weight.shape[1], n * weight.shape[2]) + rest)
    for k in np.ndindex(*rest):
        out[(...,) + k] = sum(np.kron(rules[i], weight[(i, slice(None), slice(None)) + k])
                              for i in range(n))
    return out


@pytest.mark.parametrize("shape", [(4, 3, 2), (2, 2, 3, 3, 2), (1, 2, 2)])
def test_kronecker_sum_matches_its_composed_twin_and_gradchecks(backend, shape):
    rules, weight = make(shape[0], shape[0], shape[0]), make(*shape, seed=1)
    np.testing.assert_allclose(host(F.kronecker_sum(rules, weight)),
                               explicit_kronecker_sum(host(rules), host(weight)), atol=1e-12)
    assert hp.gradcheck(F.kronecker_sum, rules, weight).max_error <= 1e-6


def test_phm_conv_kernel_is_not_a_kronecker_product_over_the_kernel():
    """A known mistake (torch.kron on 4-D kernels): the kernel's axes must ride along."""
    rules, weight = np.random.default_rng(2).standard_normal((2, 2, 2)), \
        np.random.default_rng(3).standard_normal((2, 2, 3, 3, 3))
    h = host(F.kronecker_sum(hp.tensor(rules), hp.tensor(weight)))
    assert h.shape == (4, 6, 3, 3)
    # kron of the (2, 2) rule with a 4-D kernel pairs the rule with the *last* two axes:
    # a (2, 3, 6, 6) kernel, a Kronecker product over the spatial axes -- the mistake
    wrong = sum(np.kron(rules[i], weight[i]) for i in range(2))
    assert wrong.shape == (2, 3, 6, 6) != h.shape
    right = sum(np.kron(rules[i][:, :, None, None], weight[i]) for i in range(2))
    np.testing.assert_allclose(right, h, atol=1e-12)


@pytest.mark.parametrize("order", ["fused", "matrix"])
@pytest.mark.parametrize("bias", [True, False])
def test_phm_linear_gradcheck_x_rules_weight_bias(backend, bias, order):
    x, rules, weight = make(3, 8), make(4, 4, 4, seed=1), make(4, 3, 2, seed=2)
    args = (x, rules, weight) + ((make(12, seed=3),) if bias else ())
    fn = lambda *a: F.phm_linear(*a, order=order)  # noqa: E731
    assert hp.gradcheck(fn, *args).max_error <= 1e-6


def test_fused_phm_linear_equals_its_composed_twin(backend):
    """The small-batch fused op (never forms H) against kronecker_sum + linear: outputs
    and every gradient, to float64 rounding."""
    x, rules, weight, bias = make(2, 3, 8), make(4, 4, 4, seed=1), make(4, 3, 2, seed=2), \
        make(12, seed=3)
    g = np.random.default_rng(5).standard_normal((2, 3, 12))
    results = []
    for order in ("fused", "matrix"):
        y = F.phm_linear(x, rules, weight, bias, order=order)
        results.append([host(y)] + grads_of(y, g, x, rules, weight, bias))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((1, 2), (1, 0))])
def test_phm_conv2d_gradcheck_x_rules_weight_bias(backend, stride, padding):
    x, rules, weight = make(2, 4, 5, 5), make(2, 2, 2, seed=1), make(2, 3, 2, 3, 2, seed=2)
    fn = lambda x, r, w, b: F.phm_conv2d(x, r, w, b, stride, padding)  # noqa: E731
    assert hp.gradcheck(fn, x, rules, weight, make(6, seed=3)).max_error <= 1e-6


def test_phm_layers_match_their_composed_twins():
    hp.manual_seed(0)
    with hp.use_backend(dtype="float64"):
        layer = nn.PHMLinear(8, 12, 4)
        x = make(5, 8, requires_grad=False)
        h = explicit_kronecker_sum(host(layer.rules), host(layer.weight))
        np.testing.assert_allclose(host(layer(x)), host(x) @ h.T + host(layer.bias),
                                   atol=1e-12)
        conv = nn.PHMConv2d(4, 8, 3, 2, padding=1)
        xc = make(2, 4, 6, 6, requires_grad=False)
        h = explicit_kronecker_sum(host(conv.rules), host(conv.weight))
        np.testing.assert_allclose(host(conv(xc)), host(F.conv2d(xc, hp.tensor(h),
                                                                 conv.bias, padding=1)),
                                   atol=1e-12)


def test_phm_with_quaternion_rules_is_qlinear():
    """PHMLinear(in, out, 4, rules="quaternion") with QLinear's weight: QLinear's output
    and gradients, to float64 rounding; likewise the convolutions."""
    hp.manual_seed(0)
    with hp.use_backend(dtype="float64"):
        q, p = nn.QLinear(8, 12), nn.PHMLinear(8, 12, 4, rules="quaternion")
        p.weight.data[...] = q.weight.data
        x = make(5, 8, requires_grad=True)
        g = np.random.default_rng(4).standard_normal((5, 12))
        outs = []
        for layer in (q, p):
            y = layer(x)
            y.backward(hp.tensor(g))
            outs.append((host(y), host(x.grad), host(layer.weight.grad)))
            x.grad = None
        for a, b in zip(*outs):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        assert not p.learned_rules and "rules" not in dict(p.named_parameters())
        qc, pc = nn.QConv2d(8, 4, 3), nn.PHMConv2d(8, 4, 3, 4, rules="quaternion")
        pc.weight.data[...] = qc.weight.data
        xc = make(2, 8, 5, 5, requires_grad=False)
        np.testing.assert_allclose(host(qc(xc)), host(pc(xc)), rtol=1e-12, atol=1e-12)


def test_phm_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"PHMLinear\(10, 8, n=4\): in_features = 10 must be "
                                         "a positive multiple of n = 4"):
        nn.PHMLinear(10, 8, 4)
    with pytest.raises(ValueError, match=r"PHMLinear\(8, 8, n=0\): n must be a positive"):
        nn.PHMLinear(8, 8, 0)
    with pytest.raises(ValueError, match=r"PHMLinear\(8, 8, n=4\): rules must have shape "
                                         r"\(4, 4, 4\), got \(2, 2, 2\)"):
        nn.PHMLinear(8, 8, 4, rules=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="rules 'complex' are 2x2, not n = 4"):
        nn.PHMLinear(8, 8, 4, rules="complex")
    with pytest.raises(ValueError, match=r"PHMConv2d\(6, 8, kernel_size=3\): in_channels = 6 "
                                         "must be a positive multiple of 4"):
        nn.PHMConv2d(6, 8, 3, 4)


@pytest.mark.parametrize("criterion,target", [("glorot", lambda i, o: 2 / (i + o)),
                                              ("he", lambda i, o: 2 / i)])
def test_phm_init_matches_the_variance_of_the_real_layer(criterion, target):
    """Var(H) = n Var(A) Var(S) with Var(A) = 1/n: the real layer's variance, measured
    over 30 draws (one draw of 64 rule entries is noisy on its own)."""
    variances = []
    for seed in range(30):
        hp.manual_seed(seed)
        layer = nn.PHMLinear(256, 128, 4, init=criterion)
        variances.append(host(F.kronecker_sum(layer.rules, layer.weight)).var())
    assert abs(np.mean(variances) / target(256, 128) - 1) < 0.1, np.mean(variances)


def test_phm_learns_the_hamilton_product():
    """HyperNets' tutorial ("PHM learns the Hamilton product"): the rules A are the only
    parameters; each example brings its own quaternion weight S (integers in [-10, 10))
    and input x, and the target is W ⊗ x.  Adam 5e-3, batch 1, MSE: the loss goes to ~0 and
    every learned A_i is the quaternion table's signed permutation matrix.  (With one fixed
    W the rules would not be identifiable: A T, T^-1 S gives the same layer for any
    invertible T -- the examples' varying S pin them down.)"""
    rng = np.random.default_rng(0)
    hp.manual_seed(0)
    with hp.use_backend(dtype="float64"):
        rules = nn.Parameter(hp.tensor(rng.uniform(-0.07, 0.07, (4, 4, 4))))
        opt = optim.Adam([rules], lr=5e-3)
        for step in range(3000):
            s = rng.integers(-10, 10, (4, 2, 2)).astype(np.float64)
            x = rng.integers(-10, 10, (2, 8)).astype(np.float64)
            y = host(F.hamilton_linear(hp.tensor(x), hp.tensor(s)))
            loss = F.mse_loss(F.phm_linear(hp.tensor(x), rules, hp.tensor(s)), hp.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert loss.item() < 1e-6
    learned = host(rules)
    np.testing.assert_allclose(learned, QUATERNION.rules, atol=1e-3)
    assert all(((np.abs(a).round() == 1).sum(axis=0) == 1).all() for a in learned.round())


# ------------------------------------------------------------ every model, every algebra
ALL = ["real", "complex", "quaternion", "octonion", "phm"]


@pytest.mark.parametrize("algebra", ALL)
def test_every_model_builds_and_runs_in_every_algebra(algebra):
    hp.manual_seed(0)
    x = hp.tensor(np.zeros((2, 784), np.float32))
    assert get_model("lenet_300_100", algebra)(x).shape == (2, 10)
    conv = get_model("conv4", algebra, width=0.25)
    first = conv[0].in_channels
    assert first == (4 if algebra in ("complex", "quaternion", "phm") else 3), first
    assert conv(hp.tensor(np.zeros((2, first, 32, 32), np.float32))).shape == (2, 10)
    gpt = get_model("gpt_char", algebra, block_size=8, n_layer=1, n_head=2, n_embd=32)
    assert gpt(np.zeros((2, 8), np.int64)).shape[:2] == (2, 8)
    vit = get_model("vit", algebra, depth=1, heads=2, dim=32, mlp_dim=32)
    assert vit(hp.tensor(np.zeros((2, 3, 32, 32), np.float32))).shape == (2, 10)


def test_octonion_widths_round_up_to_whole_octonions():
    model = get_model("lenet_300_100", "octonion")
    assert [model[i].out_features for i in (0, 2, 4)] == [304, 104, 10]
    assert "784-304-104-10" in model.description and "34,784 prunable weights" in \
        model.description
    gpt = get_model("gpt_char", "octonion", n_layer=1)
    assert gpt.lm_head.out_features == 72                  # 65 symbols + 7 dummies


@pytest.mark.parametrize("algebra", ["complex", "octonion", "phm"])
@pytest.mark.parametrize("strategy,granularity", [("layerwise", "component"),
                                                  ("global", "element"),
                                                  ("componentwise", "component")])
def test_every_algebra_prunes(algebra, strategy, granularity):
    """Components or whole numbers; the learned PHM rules are never masked."""
    hp.manual_seed(0)
    model = get_model("lenet_300_100", algebra)
    masks = prune.Masks.ones(model)
    rates = prune.layerwise_rates(model, 0.5, 0.25)
    nxt = prune.prune(model, masks, strategy, rates, 0.5, granularity)
    assert 0.4 < nxt.density() < 0.6
    n = model[0].components
    if granularity == "element":
        mask = nxt["0"]
        assert (mask == mask[:1]).all()                    # all n components together
    if strategy == "componentwise":
        for c in range(n):                                 # each component on its own
            kept = nxt["2"][c].mean()
            assert abs(kept - 0.5) < 0.01, (c, kept)
    names = [name for name, _ in model.named_parameters()]
    assert ("0.rules" in names) == (algebra == "phm") and set(nxt) == {"0", "2", "4"}
