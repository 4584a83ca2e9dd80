"""Transformer blocks: gradchecks, composed twins, causality, quaternion heads, errors."""
import math

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn
from hyperprune.algebra import QUATERNION
from conftest import grads_of, host, make


def build(cls, *args, **kwargs):
    """A module with float64 parameters (for gradchecks), on the current backend."""
    with hp.use_backend(dtype="float64"):
        return cls(*args, **kwargs)


def module_gradcheck(module, x):
    """gradcheck of module(x) with respect to x and every parameter of the module.

    gradcheck differentiates with respect to its own fresh leaves, so `fn` puts those in
    place of the module's Parameters for the call (and puts the Parameters back).
    """
    slots = [(m, name) for m in module.modules() for name in m._parameters]
    params = [getattr(m, name) for m, name in slots]

    def fn(x, *values):
        try:
            for (m, name), value in zip(slots, values):
                object.__setattr__(m, name, value)
            return module(x)
        finally:
            for (m, name), p in zip(slots, params):
                object.__setattr__(m, name, p)

    return hp.gradcheck(fn, x, *params)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ============================================================================ layer norm
def composed_layer_norm(x, weight, bias, eps):
    """The twin from primitive ops: mean, variance, sqrt, division."""
    xc = x - x.mean(axis=-1, keepdims=True)
    var = (xc * xc).mean(axis=-1, keepdims=True)
    return xc / (var + eps).sqrt() * weight + bias


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (6,)])
@pytest.mark.parametrize("affine", ["none", "weight", "weight+bias"])
def test_layer_norm_gradcheck(backend, shape, affine):
    n = shape[-1]
    params = {"none": [], "weight": [make(n, seed=2)],
              "weight+bias": [make(n, seed=2), make(n, seed=3)]}[affine]
    result = hp.gradcheck(lambda x, *p: F.layer_norm(x, *p), make(*shape, seed=1), *params)
    assert result.max_error <= 1e-6


def test_layer_norm_gradcheck_without_dx(backend):
    """A constant input (say, right after an embedding that is frozen): only gamma, beta."""
    x = make(3, 4, seed=1, requires_grad=False)
    result = hp.gradcheck(lambda w, b: F.layer_norm(x, w, b), make(4, seed=2), make(4, seed=3))
    assert result.max_error <= 1e-6


def test_layer_norm_bias_without_weight_gradcheck(backend):
    result = hp.gradcheck(lambda x, b: F.layer_norm(x, bias=b), make(3, 4, seed=1),
                          make(4, seed=2))
    assert result.max_error <= 1e-6


@pytest.mark.parametrize("eps", [1e-5, 0.5])
def test_layer_norm_matches_its_composed_twin(backend, eps):
    x, w, b = make(2, 3, 6, seed=1), make(6, seed=2), make(6, seed=3)
    g = randn(2, 3, 6, seed=4)
    fused = F.layer_norm(x, w, b, eps=eps)
    twin = composed_layer_norm(x, w, b, eps)
    np.testing.assert_allclose(host(fused.data), host(twin.data), rtol=1e-12, atol=1e-12)
    for a, c in zip(grads_of(fused, g, x, w, b), grads_of(twin, g, x, w, b)):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_layer_norm_normalizes_then_scales_and_shifts(backend):
    x = hp.tensor(3.0 + 2.0 * randn(4, 8, seed=5))
    y = host(F.layer_norm(x, eps=0.0).data)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-12)
    gamma, beta = randn(8, seed=6), randn(8, seed=7)
    z = host(F.layer_norm(x, hp.tensor(gamma), hp.tensor(beta), eps=0.0).data)
    np.testing.assert_allclose(z, y * gamma + beta, rtol=1e-12, atol=1e-12)


def test_layer_norm_eps_is_added_to_the_variance(backend):
    """A row of variance v comes out with variance v / (v + eps); a constant row is 0."""
    x = hp.tensor(np.array([[1.0, -1.0, 1.0, -1.0], [2.0, 2.0, 2.0, 2.0]]))  # var 1 and 0
    y = host(F.layer_norm(x, eps=3.0).data)
    np.testing.assert_allclose(y[0], [0.5, -0.5, 0.5, -0.5], rtol=1e-12)
    assert np.array_equal(y[1], np.zeros(4))


def test_layer_norm_module(backend):
    layer = nn.LayerNorm(5)
    assert layer.weight.dtype == np.float32 and host(layer.weight.data).tolist() == [1] * 5
    assert host(layer.bias.data).tolist() == [0] * 5
    x = hp.tensor(randn(2, 3, 5, seed=1).astype(np.float32))
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (2, 3, 5)
    np.testing.assert_allclose(host(y.data), host(F.layer_norm(x).data), rtol=1e-6)
    assert module_gradcheck(build(nn.LayerNorm, 5, eps=0.1), make(2, 3, 5)).max_error <= 1e-6
    assert [n for n, _ in nn.LayerNorm(5, bias=False).named_parameters()] == ["weight"]
    assert list(nn.LayerNorm(5, elementwise_affine=False).parameters()) == []


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"LayerNorm\(4\): expected an input of shape"):
        nn.LayerNorm(4)(hp.tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match="normalized_shape must be a positive integer"):
        nn.LayerNorm((2, 4))
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not match"):
        F.layer_norm(hp.tensor(np.zeros((2, 4))), hp.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        F.layer_norm(hp.tensor(np.zeros((2, 4))), eps=-1.0)


# ============================================================================= embedding
def test_embedding_gradcheck_with_repeated_indices(backend):
    idx = hp.tensor(np.array([[0, 2, 2], [4, 0, 2]]))
    result = hp.gradcheck(lambda w: F.embedding(idx, w), make(5, 3))
    assert result.max_error <= 1e-6


def test_embedding_picks_rows_and_accumulates_repeated_indices(backend):
    w = make(5, 3)
    idx = np.array([[1, 3, 1], [1, 0, 3]])
    y = F.embedding(hp.tensor(idx), w)
    assert y.shape == (2, 3, 3)
    np.testing.assert_array_equal(host(y.data), host(w.data)[idx])
    g = randn(2, 3, 3, seed=1)
    (dw,) = grads_of(y, g, w)
    np.testing.assert_allclose(dw[1], g[0, 0] + g[0, 2] + g[1, 0], rtol=1e-12)
    np.testing.assert_allclose(dw[3], g[0, 1] + g[1, 2], rtol=1e-12)
    np.testing.assert_allclose(dw[0], g[1, 1], rtol=1e-12)
    assert not dw[2].any() and not dw[4].any()  # rows never looked up get no gradient


@pytest.mark.parametrize("bad", [7, 9, -1, -7])
def test_embedding_rejects_out_of_range_and_negative_indices(backend, bad):
    """NumPy would read -1 as the last row; the strict backend (like CuPy) wraps 7 to 0."""
    layer = nn.Embedding(7, 3)
    with pytest.raises(IndexError, match=rf"Embedding\(7, 3\): index {bad} is out of range "
                                         r"for a vocabulary of size 7"):
        layer(hp.tensor(np.array([[0, bad], [1, 2]])))


def test_embedding_module(backend):
    layer = nn.Embedding(1000, 64)
    w = host(layer.weight.data)
    assert layer.weight.dtype == np.float32 and w.shape == (1000, 64)
    assert abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001  # nanoGPT's N(0, 0.02^2)
    assert abs(host(nn.Embedding(1000, 64, std=1.0).weight.data).std() - 1) < 0.05
    for idx in ([[3, 999]], np.array([[3, 999]])):  # lists and host arrays work too
        np.testing.assert_array_equal(host(layer(idx).data), w[[[3, 999]]])


def test_embedding_errors():
    layer = nn.Embedding(4, 2)
    with pytest.raises(TypeError, match=r"Embedding\(4, 2\): indices must be integers"):
        layer(hp.tensor(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="num_embeddings must be a positive integer"):
        nn.Embedding(0, 2)


# ============================================================================= attention
def composed_attention(q, k, v, causal=False, mask=None):
    """The twin from existing ops: matmul, a constant -1e9 mask, softmax, matmul."""
    t, s, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scores = (q @ k.swapaxes(-1, -2)) * (1.0 / math.sqrt(d))
    if causal:
        scores = scores + hp.tensor(np.triu(np.full((t, s), -1e9), 1))
    p = F.softmax(scores, axis=-1)
    if mask is not None:
        p = p * mask
    return p @ v


QKV_SHAPES = [  # q, k, v
    ((2, 3, 4, 3), (2, 3, 4, 3), (2, 3, 4, 3)),  # B = 2, H = 3, T = 4, D = 3
    ((2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 2)),  # Dv != D
    ((1, 2, 2, 3), (1, 2, 5, 3), (1, 2, 5, 2)),  # S != T (not causal)
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shapes", QKV_SHAPES, ids=["square", "dv", "cross"])
def test_attention_gradcheck(backend, causal, shapes):
    if causal and shapes[0][-2] != shapes[1][-2]:
        pytest.skip("causal attention needs T = S")
    q, k, v = (make(*s, seed=i) for i, s in enumerate(shapes))
    result = hp.gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, causal=causal), q, k, v)
    assert result.max_error <= 1e-6


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_attention_matches_its_composed_twin(backend, causal, dropout):
    q, k, v = make(2, 3, 5, 4, seed=1), make(2, 3, 5, 4, seed=2), make(2, 3, 5, 2, seed=3)
    mask = None
    if dropout:  # the fused op takes the mask the functional wrapper would draw
        keep = np.random.default_rng(4).random((2, 3, 5, 5)) >= 0.3
        mask = hp.tensor(keep / 0.7)
    fused = F.ScaledDotProductAttention(causal, None, None if mask is None else mask.data)(
        q, k, v)
    twin = composed_attention(q, k, v, causal, mask)
    np.testing.assert_allclose(host(fused.data), host(twin.data), rtol=1e-12, atol=1e-12)
    g = randn(2, 3, 5, 2, seed=5)
    for a, c in zip(grads_of(fused, g, q, k, v), grads_of(twin, g, q, k, v)):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_causal_attention_ignores_later_positions(backend):
    """Changing keys and values after position t leaves outputs 0..t unchanged."""
    q, k, v = (randn(2, 2, 6, 3, seed=i) for i in range(3))
    k2, v2 = k.copy(), v.copy()
    k2[..., 4:, :] += 5.0
    v2[..., 4:, :] -= 3.0
    y = [host(F.scaled_dot_product_attention(*map(hp.tensor, qkv), causal=True).data)
         for qkv in ((q, k, v), (q, k2, v2))]
    np.testing.assert_allclose(y[0][..., :4, :], y[1][..., :4, :], rtol=1e-12, atol=1e-12)
    assert not np.allclose(y[0][..., 4:, :], y[1][..., 4:, :])
    first = v[..., 0, :]  # position 0 sees itself only
    np.testing.assert_allclose(y[0][..., 0, :], first, rtol=1e-12)


def test_attention_dropout_is_inverted_and_seeded(backend):
    q, k, v = (hp.tensor(randn(2, 2, 4, 3, seed=i)) for i in range(3))
    hp.manual_seed(3)
    a = host(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data)
    hp.manual_seed(3)
    b = host(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data)
    plain = host(F.scaled_dot_product_attention(q, k, v).data)
    assert np.array_equal(a, b) and not np.allclose(a, plain)


def test_attention_keeps_float32():
    q = hp.tensor(randn(1, 2, 4, 3).astype(np.float32))
    assert F.scaled_dot_product_attention(q, q, q, causal=True).dtype == np.float32


def test_attention_errors():
    q = hp.tensor(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="same number"):
        F.scaled_dot_product_attention(q, q.reshape(2, 3, 4), q)
    with pytest.raises(ValueError, match=r"expected q \(\.\.\., T, D\)"):
        F.scaled_dot_product_attention(q, hp.tensor(np.zeros((1, 2, 3, 5))), q)
    with pytest.raises(ValueError, match="causal attention needs as many queries as keys"):
        kv = hp.tensor(np.zeros((1, 2, 5, 4)))
        F.scaled_dot_product_attention(q, kv, kv, causal=True)
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\)"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)


# ================================================================ multi-head attention
def reference_attention(x, qw, kw, vw, ow, heads, causal):
    """NumPy: project, attend per head (heads given as lists of feature indices), merge,
    project out.  qw..ow: (matrix M, bias) with y = x M^T + b."""
    q, k, v = (x @ m.T + b for m, b in (qw, kw, vw))
    out = np.empty_like(q)
    t = x.shape[1]
    for idx in heads:
        s = q[..., idx] @ k[..., idx].swapaxes(-1, -2) / math.sqrt(len(idx))
        if causal:
            s = s + np.triu(np.full((t, t), -np.inf), 1)
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        out[..., idx] = p @ v[..., idx]
    m, b = ow
    return out @ m.T + b


def causality_check(layer, x):
    """Outputs at positions <= t do not move when inputs after t change (t = 2)."""
    x2 = x.copy()
    x2[:, 3:] = randn(*x2[:, 3:].shape, seed=9)
    y1, y2 = (host(layer(hp.tensor(a)).data) for a in (x, x2))
    np.testing.assert_allclose(y1[:, :3], y2[:, :3], rtol=1e-12, atol=1e-12)
    assert not np.allclose(y1[:, 3:], y2[:, 3:])


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_gradcheck(backend, causal):
    layer = build(nn.MultiHeadAttention, 8, 2, causal=causal)
    assert module_gradcheck(layer, make(2, 3, 8)).max_error <= 1e-6


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_a_per_head_reference(backend, causal):
    layer = build(nn.MultiHeadAttention, 12, 3, causal=causal)
    x = randn(2, 5, 12, seed=1)
    proj = [(host(p.weight.data), host(p.bias.data))
            for p in (layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj)]
    heads = [list(range(4 * h, 4 * h + 4)) for h in range(3)]  # contiguous slices
    np.testing.assert_allclose(host(layer(hp.tensor(x)).data),
                               reference_attention(x, *proj, heads, causal), rtol=1e-10)


def test_multi_head_attention_is_causal(backend):
    causality_check(build(nn.MultiHeadAttention, 8, 2, causal=True), randn(2, 6, 8))


def test_multi_head_attention_layout_and_dropout(backend):
    layer = nn.MultiHeadAttention(8, 2, causal=True, dropout=0.5)
    assert [n for n, _ in layer.named_parameters()] == [
        f"{p}_proj.{w}" for p in ("q", "k", "v", "out") for w in ("weight", "bias")]
    assert layer.q_proj.weight.dtype == np.float32
    x = hp.tensor(randn(2, 4, 8).astype(np.float32))
    layer.eval()
    evaluated = host(layer(x).data)
    layer.dropout = 0.0
    np.testing.assert_array_equal(evaluated, host(layer(x).data))  # eval: no dropout
    layer.dropout = 0.5
    layer.train()
    assert not np.allclose(host(layer(x).data), evaluated)
    assert list(nn.MultiHeadAttention(8, 2, bias=False).named_parameters())[1][0] == \
        "k_proj.weight"


def test_multi_head_attention_errors():
    with pytest.raises(ValueError, match=r"MultiHeadAttention\(embed_dim=10, num_heads=4\): "
                                         "embed_dim must be divisible by num_heads"):
        nn.MultiHeadAttention(10, 4)
    layer = nn.MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"expected an input of shape \(B, T, 8\), got \(4, 8\)"):
        layer(hp.tensor(np.zeros((4, 8))))
    with pytest.raises(ValueError, match=r"got \(2, 3, 6\)"):
        layer(hp.tensor(np.zeros((2, 3, 6))))
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        nn.MultiHeadAttention(8, 2, dropout=1.0)


# ===================================================== quaternion multi-head attention
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("fused_qkv", [False, True])
def test_quaternion_attention_gradcheck(backend, causal, fused_qkv):
    layer = build(nn.QMultiHeadAttention, 16, 2, causal=causal, fused_qkv=fused_qkv)
    assert module_gradcheck(layer, make(2, 3, 16)).max_error <= 1e-6


def test_quaternion_attention_gradcheck_after_double(backend):
    layer = nn.QMultiHeadAttention(8, 2, causal=True).double()
    assert module_gradcheck(layer, make(2, 3, 8)).max_error <= 1e-6


def quaternion_head_features(embed_dim, num_heads):
    """Planar feature indices of head h: the 4 components of units [h u, (h+1) u)."""
    m, u = embed_dim // 4, embed_dim // (4 * num_heads)
    return [[c * m + unit for c in range(4) for unit in range(h * u, (h + 1) * u)]
            for h in range(num_heads)]


@pytest.mark.parametrize("causal", [False, True])
def test_quaternion_attention_matches_a_per_head_reference(backend, causal):
    """Hamilton projections, heads of whole quaternions, scores summed over all four
    components, merged back to planar before the Hamilton output projection."""
    layer = build(nn.QMultiHeadAttention, 24, 3, causal=causal)
    x = randn(2, 5, 24, seed=1)
    proj = [(QUATERNION.block_matrix(host(p.weight.data)), host(p.bias.data))
            for p in (layer.q_proj, layer.k_proj, layer.v_proj, layer.out_proj)]
    np.testing.assert_allclose(
        host(layer(hp.tensor(x)).data),
        reference_attention(x, *proj, quaternion_head_features(24, 3), causal), rtol=1e-10)


def test_quaternion_attention_is_causal(backend):
    for fused_qkv in (False, True):
        causality_check(build(nn.QMultiHeadAttention, 16, 2, causal=True,
                              fused_qkv=fused_qkv), randn(2, 6, 16))


def test_quaternion_attention_has_independent_q_k_v_projections(backend):
    layer = build(nn.QMultiHeadAttention, 16, 2)
    weights = [layer.q_proj.weight, layer.k_proj.weight, layer.v_proj.weight]
    assert all(isinstance(w, nn.Parameter) and w.shape == (4, 4, 4) for w in weights)
    assert len({id(w) for w in weights + [layer.out_proj.weight]}) == 4
    assert layer.num_parameters() == 4 * (4 * 4 * 4 + 16)
    x = hp.tensor(randn(2, 3, 16))
    before = [host(t.data) for t in layer.project_qkv(x)]
    layer.k_proj.weight.data += 0.1  # change one projection: only k moves
    after = [host(t.data) for t in layer.project_qkv(x)]
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[2], after[2])
    assert not np.allclose(before[1], after[1])


def test_each_quaternion_head_holds_whole_quaternions(backend):
    """Label feature (component c, unit n) of the planar input as 100 n + c: head h must
    hold exactly the 4 components of units [h u, (h+1) u), planar within the head."""
    e, heads, m, u = 32, 2, 8, 4
    labels = np.array([100 * n + c for c in range(4) for n in range(m)], dtype=float)
    layer = nn.QMultiHeadAttention(e, heads)
    split = host(layer.split(hp.tensor(np.tile(labels, (2, 3, 1)))).data)  # (B, H, T, d)
    assert split.shape == (2, heads, 3, 16)
    for h in range(heads):
        expected = [[100 * n + c for n in range(h * u, (h + 1) * u)] for c in range(4)]
        np.testing.assert_array_equal(split[1, h, 2].reshape(4, u), expected)
    np.testing.assert_array_equal(split[0, 1, 0], labels[quaternion_head_features(e, heads)[1]])
    merged = host(layer.merge(hp.tensor(split)).data)
    np.testing.assert_array_equal(merged, np.tile(labels, (2, 3, 1)))  # merge inverts split


def test_fused_qkv_mixes_quaternion_components(backend):
    """qytorch's layout: one QLinear(E, 3E), planar output [r | i | j | k] of 3E/4 units
    each, cut into contiguous E-wide q, k, v.  Label output feature (component c, unit n)
    as 100 n + c through the bias (weight zero) and read back what q, k and v get."""
    e = 16
    layer = nn.QMultiHeadAttention(e, 2, fused_qkv=True)
    assert not hasattr(layer, "q_proj") and layer.qkv_proj.weight.shape == (4, 12, 4)
    layer.qkv_proj.weight.data[...] = 0
    labels = np.array([100 * n + c for c in range(4) for n in range(12)], dtype=np.float32)
    layer.qkv_proj.bias.data[...] = hp.tensor(labels).data
    q, k, v = (host(t.data)[0, 0].astype(int) for t in layer.project_qkv(
        hp.tensor(np.zeros((1, 1, e), dtype=np.float32))))
    rijk = np.array(list("rijk"))
    assert "".join(rijk[q % 100]) == "r" * 12 + "i" * 4       # r of units 0..11, i of 0..3
    assert (q // 100).tolist() == list(range(12)) + list(range(4))
    assert "".join(rijk[k % 100]) == "i" * 8 + "j" * 8        # i of 4..11, j of 0..7
    assert (k // 100).tolist() == list(range(4, 12)) + list(range(8))
    assert "".join(rijk[v % 100]) == "j" * 4 + "k" * 12       # j of 8..11, k of 0..11
    for chunk in (q, k, v):  # no unit has its 4 components in one chunk, let alone a head
        assert np.unique(chunk // 100, return_counts=True)[1].max() <= 2
    head0 = host(layer.split(hp.tensor(q[None, None].astype(float))).data)[0, 0, 0]
    assert set((head0 % 100).tolist()) == {0}  # head 0 of q: 8 real parts, no quaternion


def test_quaternion_attention_errors():
    with pytest.raises(ValueError, match=r"QMultiHeadAttention\(embed_dim=64, num_heads=6\): "
                                         "embed_dim must be divisible by num_heads"):
        nn.QMultiHeadAttention(64, 6)
    with pytest.raises(ValueError, match=r"QMultiHeadAttention\(embed_dim=24, num_heads=4\): "
                                         "head dimension embed_dim / num_heads = 6 must be a "
                                         "multiple of 4"):
        nn.QMultiHeadAttention(24, 4)
    nn.QMultiHeadAttention(24, 4, fused_qkv=True)  # qytorch's layout has no such rule
    with pytest.raises(ValueError, match="embed_dim must be a multiple of 4"):
        nn.QMultiHeadAttention(18, 3)
    layer = nn.QMultiHeadAttention(16, 2)
    with pytest.raises(ValueError,
                       match=r"expected an input of shape \(B, T, 16\), got \(2, 3, 12\)"):
        layer(hp.tensor(np.zeros((2, 3, 12))))
    with pytest.raises(ValueError, match=r"got \(3, 16\)"):
        layer(hp.tensor(np.zeros((3, 16))))
