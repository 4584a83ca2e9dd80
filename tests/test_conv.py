"""Convolution and pooling: gradchecks, composed twins, the quaternion structure, errors."""
import math

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn, prune, quaternion
from hyperprune.functional import conv
from hyperprune.algebra import COMPLEX, QUATERNION
from conftest import grads_of, host, make


# ------------------------------------------------------------------------- gradchecks
CONV_CASES = [  # (stride, padding, kernel, bias)
    (1, 0, (3, 3), True),
    (2, 1, (3, 2), False),
    ((1, 2), (1, 0), (2, 3), True),
    (2, 0, (1, 1), True),
]


@pytest.mark.parametrize("stride,padding,kernel,bias", CONV_CASES)
def test_conv2d_gradcheck(backend, stride, padding, kernel, bias):
    x, w = make(2, 3, 5, 6, seed=1), make(4, 3, *kernel, seed=2)
    args = [x, w] + ([make(4, seed=3)] if bias else [])
    result = hp.gradcheck(lambda x, w, *b: F.conv2d(x, w, *b, stride=stride, padding=padding),
                          *args)
    assert result.max_error <= 1e-6


# stride 1 with out_channels <= in_channels: dL/dx as a convolution of G (no col2im)
BY_CONVOLUTION = [((3, 3), (1, 1)), ((3, 2), (2, 0)), ((2, 3), (0, 2)), ((1, 1), (0, 0))]


@pytest.mark.parametrize("kernel,padding", BY_CONVOLUTION)
def test_conv2d_gradcheck_input_gradient_by_convolution(backend, kernel, padding):
    x, w, b = make(2, 4, 5, 6, seed=7), make(3, 4, *kernel, seed=8), make(3, seed=9)
    assert conv._gradient_by_convolution(w.shape, (1, 1), padding)
    result = hp.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=padding), x, w, b)
    assert result.max_error <= 1e-6


@pytest.mark.parametrize("kernel,padding", BY_CONVOLUTION)
def test_input_gradient_by_convolution_equals_col2im(backend, kernel, padding):
    """The two routes to dL/dx -- M2^T G then col2im, and G convolved with the flipped
    kernel -- agree to float64 rounding."""
    xp = hp.backend.get_array_module(make(1))
    x, m = make(3, 5, 6, 7, seed=10).data, make(4, 5, *kernel, seed=11).data
    ho, wo = (conv.output_size(s, k, 1, p) for s, k, p in zip((6, 7), kernel, padding))
    g = make(3, 4, ho, wo, seed=12).data
    gc = xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(4, -1)
    by_col2im = conv.col2im(m.reshape(4, -1).T @ gc, x.shape, kernel, (1, 1), padding)
    by_convolution = conv._input_gradient_by_convolution(g, m, padding)
    np.testing.assert_allclose(host(by_convolution), host(by_col2im), rtol=1e-12, atol=1e-12)


def test_input_gradient_route_is_chosen_by_shape():
    choose = conv._gradient_by_convolution
    assert choose((64, 64, 3, 3), (1, 1), (1, 1))          # Conv-2's second layer
    assert not choose((128, 64, 3, 3), (1, 1), (1, 1))     # wider output: col2im is cheaper
    assert not choose((64, 64, 3, 3), (2, 2), (1, 1))      # strided: G would need dilating
    assert not choose((64, 64, 3, 3), (1, 1), (3, 0))      # padding >= kernel


@pytest.mark.parametrize("stride,padding,kernel,bias", CONV_CASES[:3])
def test_quaternion_conv2d_gradcheck(backend, stride, padding, kernel, bias):
    x, w = make(2, 8, 5, 4, seed=4), make(4, 3, 2, *kernel, seed=5)
    args = [x, w] + ([make(12, seed=6)] if bias else [])
    result = hp.gradcheck(
        lambda x, w, *b: F.quaternion_conv2d(x, w, *b, stride=stride, padding=padding), *args)
    assert result.max_error <= 1e-6


def test_input_layer_gradcheck_without_dx(backend):
    """The first layer: no gradient for the image, only for the weight and bias."""
    x = make(2, 4, 5, 5, seed=7, requires_grad=False)
    result = hp.gradcheck(lambda w, b: F.quaternion_conv2d(x, w, b, padding=1),
                          make(4, 2, 1, 3, 3, seed=8), make(8, seed=9))
    assert result.max_error <= 1e-6


def test_other_algebra_conv_gradcheck(backend):
    result = hp.gradcheck(lambda x, w: F.hypercomplex_conv2d(x, w, algebra=COMPLEX, stride=2),
                          make(2, 4, 5, 5, seed=10), make(2, 3, 2, 2, 2, seed=11))
    assert result.max_error <= 1e-6


@pytest.mark.parametrize("kernel,stride", [(2, None), ((3, 2), (2, 1)), (2, 3)])
@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d], ids=["max", "avg"])
def test_pool_gradcheck(backend, pool, kernel, stride):
    x = make(2, 3, 7, 6, seed=12)  # 7 rows: a partial window is dropped for kernel 2
    result = hp.gradcheck(lambda x: pool(x, kernel, stride), x)
    assert result.max_error <= 1e-6


def test_global_avg_pool_gradcheck(backend):
    x = make(2, 3, 4, 5, seed=13)
    assert F.global_avg_pool2d(x).shape == (2, 3)
    assert hp.gradcheck(F.global_avg_pool2d, x).max_error <= 1e-6


def test_layer_modules_gradcheck(backend):
    with hp.use_backend(dtype="float64"):
        real, quat = nn.Conv2d(3, 4, (2, 3), stride=2, padding=1), nn.QConv2d(4, 8, 2)
    x3, x4 = make(2, 3, 5, 5, seed=14), make(2, 4, 4, 4, seed=15)
    for layer, x, fn in ((real, x3, F.conv2d), (quat, x4, F.quaternion_conv2d)):
        w = hp.tensor(layer.weight.data, requires_grad=True)
        b = hp.tensor(layer.bias.data + 0.1, requires_grad=True)
        fixed = dict(stride=layer.stride, padding=layer.padding)
        assert hp.gradcheck(lambda x, w, b: fn(x, w, b, **fixed), x, w, b).max_error <= 1e-6
        np.testing.assert_allclose(host(layer(x).data), host(fn(x, layer.weight, layer.bias,
                                                                **fixed).data))


# ----------------------------------------------------------------------- composed twins
def naive_conv(x, w, b, stride, padding, g):
    """The definition, one output position at a time, and its adjoint: y, dx, dW, db."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y, dxp, dw = np.zeros((n, o, ho, wo)), np.zeros_like(xp), np.zeros_like(w)
    for p in range(ho):
        for q in range(wo):
            window = (slice(None), slice(None), slice(p * sh, p * sh + kh),
                      slice(q * sw, q * sw + kw))
            y[:, :, p, q] = np.einsum("ncij,ocij->no", xp[window], w) + b
            dw += np.einsum("no,ncij->ocij", g[:, :, p, q], xp[window])
            dxp[window] += np.einsum("no,ocij->ncij", g[:, :, p, q], w)
    return y, dxp[:, :, ph:ph + h, pw:pw + wd], dw, g.sum(axis=(0, 2, 3))


@pytest.mark.parametrize("stride,padding,kernel", [((1, 1), (1, 1), (3, 3)),
                                                   ((2, 1), (0, 2), (2, 3)),
                                                   ((3, 2), (2, 1), (2, 2))])
def test_conv2d_equals_the_direct_convolution(backend, stride, padding, kernel):
    x, w, b = make(3, 2, 7, 6, seed=20), make(4, 2, *kernel, seed=21), make(4, seed=22)
    y = F.conv2d(x, w, b, stride, padding)
    g = np.random.default_rng(23).standard_normal(y.shape)
    expected = naive_conv(host(x), host(w), host(b), stride, padding, g)
    got = [host(y.data)] + grads_of(y, g, x, w, b)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def naive_quaternion_conv(x, w, stride, padding, g):
    """y_o(p) = sum_{c,i,j} W[o,c,i,j] ⊗ x_c(p s + (i,j) - pad), quaternion by quaternion,
    with the adjoints of left multiplication: dx_c += conj(W) ⊗ G_o, dW += G_o ⊗ conj(x_c)."""
    hamilton, conj = quaternion.hamilton_product, quaternion.conjugate
    (sh, sw), (ph, pw) = stride, padding
    n, c4, h, wd = x.shape
    _, o, c, kh, kw = w.shape
    xq = np.moveaxis(np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).reshape(
        n, 4, c, h + 2 * ph, wd + 2 * pw), 1, -1)                  # (N, C, Hp, Wp, 4)
    wq = np.moveaxis(w, 0, -1)                                     # (O, C, kh, kw, 4)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    gq = np.moveaxis(g.reshape(n, 4, o, ho, wo), 1, -1)            # (N, O, Ho, Wo, 4)
    yq, dxq, dwq = np.zeros((n, o, ho, wo, 4)), np.zeros_like(xq), np.zeros_like(wq)
    for p in range(ho):
        for q in range(wo):
            for i in range(kh):
                for j in range(kw):
                    xs = xq[:, :, p * sh + i, q * sw + j]          # (N, C, 4)
                    ws = wq[:, :, i, j]                            # (O, C, 4)
                    yq[:, :, p, q] += hamilton(ws[None], xs[:, None]).sum(axis=2)
                    gs = gq[:, :, p, q]                            # (N, O, 4)
                    dxq[:, :, p * sh + i, q * sw + j] += hamilton(
                        conj(ws)[None], gs[:, :, None]).sum(axis=1)
                    dwq[:, :, i, j] += hamilton(gs[:, :, None], conj(xs)[:, None]).sum(axis=0)
    y = np.moveaxis(yq, -1, 1).reshape(n, 4 * o, ho, wo)
    dx = np.moveaxis(dxq, -1, 1).reshape(n, c4, h + 2 * ph, wd + 2 * pw)
    return y, dx[:, :, ph:ph + h, pw:pw + wd], np.moveaxis(dwq, -1, 0)


@pytest.mark.parametrize("stride,padding,kernel", [((1, 1), (1, 1), (3, 3)),
                                                   ((2, 1), (0, 1), (2, 3))])
def test_qconv2d_equals_the_hamilton_product_convolution(backend, stride, padding, kernel):
    x, w = make(2, 8, 5, 6, seed=30), make(4, 3, 2, *kernel, seed=31)
    y = F.quaternion_conv2d(x, w, stride=stride, padding=padding)
    g = np.random.default_rng(32).standard_normal(y.shape)
    expected = naive_quaternion_conv(host(x), host(w), stride, padding, g)
    got = [host(y.data)] + grads_of(y, g, x, w)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_qconv2d_is_conv2d_with_the_block_weight(backend):
    """REAL equivalence: y = conv2d(x, M) with M = block_matrix(W), and dL/dW is the
    block sum of dL/dM."""
    x, w, b = make(2, 8, 6, 5, seed=40), make(4, 2, 2, 3, 3, seed=41), make(8, seed=42)
    m = hp.tensor(QUATERNION.block_matrix(w.data), requires_grad=True)
    assert m.shape == (8, 8, 3, 3)
    yq = F.quaternion_conv2d(x, w, b, stride=2, padding=1)
    yr = F.conv2d(x, m, b, stride=2, padding=1)
    np.testing.assert_allclose(host(yq.data), host(yr.data), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(43).standard_normal(yq.shape)
    gx_q, gw_q = grads_of(yq, g, x, w)
    gx_r, gm = grads_of(yr, g, x, m)
    np.testing.assert_allclose(gx_q, gx_r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw_q, QUATERNION.block_matrix_grad(gm, w.shape), rtol=1e-12,
                               atol=1e-12)


def test_real_algebra_conv_is_conv2d():
    x, w, b = make(2, 3, 5, 5), make(4, 3, 2, 2), make(4)
    np.testing.assert_allclose(
        host(F.hypercomplex_conv2d(x, w.reshape(1, 4, 3, 2, 2), b, algebra="real").data),
        host(F.conv2d(x, w, b).data), rtol=1e-12)


def naive_pool(x, kernel, stride, reduce):
    n, c, h, w = x.shape
    ho, wo = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
    y = np.empty((n, c, ho, wo))
    for p in range(ho):
        for q in range(wo):
            y[:, :, p, q] = reduce(x[:, :, p * stride[0]:p * stride[0] + kernel[0],
                                     q * stride[1]:q * stride[1] + kernel[1]], axis=(2, 3))
    return y


@pytest.mark.parametrize("kernel,stride", [((2, 2), (2, 2)), ((3, 2), (1, 2))])
def test_pools_equal_the_direct_definition(backend, kernel, stride):
    x = make(2, 3, 7, 6, seed=50)
    for pool, reduce in ((F.max_pool2d, np.max), (F.avg_pool2d, np.mean)):
        np.testing.assert_allclose(host(pool(x, kernel, stride).data),
                                   naive_pool(host(x), kernel, stride, reduce), rtol=1e-12)


def test_max_pool_ties_go_to_the_first_maximum(backend):
    x = hp.tensor(np.array([[[[1.0, 3, 3, 0], [3, 2, 0, 0], [5, 5, 1, 1], [5, 5, 1, 1]]]]),
                  requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert host(y.data).tolist() == [[[[3, 3], [5, 1]]]]
    y.backward(hp.tensor(np.array([[[[1.0, 2], [3, 4]]]])))
    assert host(x.grad).tolist() == [[[[0, 1, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0],
                                       [0, 0, 0, 0]]]]


def test_overlapping_max_pool_accumulates(backend):
    x = hp.tensor(np.array([[[[0.0, 9, 0, 0]]]]), requires_grad=True)
    y = F.max_pool2d(x, (1, 2), stride=1)                  # windows [0 9] [9 0] [0 0]
    y.backward(hp.tensor(np.array([[[[1.0, 10, 100]]]])))
    assert host(x.grad).tolist() == [[[[0, 11, 100, 0]]]]  # the tie [0 0] -> its first


# ------------------------------------------------------------------- layers and shapes
def test_layers_shapes_dtype_and_parameter_count():
    real, quat = nn.Conv2d(64, 64, 3, padding=1), nn.QConv2d(64, 64, 3, padding=1)
    assert real.weight.shape == (64, 64, 3, 3) and quat.weight.shape == (4, 16, 16, 3, 3)
    assert quat.weight.size * 4 == real.weight.size == 36_864
    assert quat.bias.shape == real.bias.shape == (64,)
    x = hp.tensor(np.zeros((2, 64, 8, 8), dtype=np.float32))
    for layer in (real, quat):
        y = layer(x)
        assert y.shape == (2, 64, 8, 8) and y.dtype == np.float32
    rgb = hp.tensor(np.zeros((1, 3, 9, 9), np.float32))  # float32, as the layer (no upcast)
    assert nn.Conv2d(3, 8, (3, 2), stride=2)(rgb).shape == (1, 8, 4, 4)
    assert nn.MaxPool2d(2)(x).shape == nn.AvgPool2d(2)(x).shape == (2, 64, 4, 4)
    assert nn.AvgPool2d(3, stride=2)(x).shape == (2, 64, 3, 3)
    assert nn.GlobalAvgPool2d()(x).shape == (2, 64)
    assert nn.Conv2d(3, 8, 3, bias=False).bias is None


def test_conv_layers_are_prunable_with_the_conv_rate():
    model = nn.Sequential(nn.QConv2d(4, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.Flatten(),
                          nn.Linear(8, 10))
    assert nn.Conv2d.is_convolution and nn.QConv2d.is_convolution
    assert list(prune.prunable_layers(model)) == ["0", "2", "4"]
    assert list(prune.layerwise_rates(model, 0.2, conv_rate=0.1).values()) == [0.1, 0.1, 0.1]
    assert list(prune.layerwise_rates(model, 0.2, 0.05, conv_rate=0.15).values()) == \
        [0.15, 0.15, 0.05]
    masks = prune.Masks.ones(model)
    whole = prune.prune(model, masks, "layerwise", rates={"0": 0.5, "2": 0.5, "4": 0.0},
                        granularity="quaternion")
    kept = whole["0"]                                     # (4, 2, 1, 3, 3)
    assert (kept == kept[:1]).all() and kept.sum() == 4 * 9  # whole quaternions, half gone
    assert whole["2"].sum() == 8 * 8 * 9 // 2


def test_initialization_statistics():
    hp.manual_seed(1)
    real = nn.Conv2d(64, 32, 3)
    std = math.sqrt(2 / ((64 + 32) * 9))                  # Glorot, fans * kernel area
    assert abs(host(real.weight.data).std() / std - 1) < 0.03
    assert not host(real.bias.data).any()
    quat = host(nn.QConv2d(64, 64, 3).weight.data)        # (4, 16, 16, 3, 3)
    sigma = 1 / math.sqrt(2 * (16 * 9 + 16 * 9))          # quaternion units * kernel area
    assert abs((quat ** 2).sum(axis=0).mean() / (4 * sigma ** 2) - 1) < 0.05


def test_second_backward_through_the_same_graph(backend):
    """backward recycles the columns buffer; a second pass must rebuild it, not reuse it."""
    x, w = make(2, 3, 5, 5, seed=60), make(4, 3, 3, 3, seed=61)
    y = F.conv2d(x, w, padding=1)
    g = np.random.default_rng(62).standard_normal(y.shape)
    y.backward(hp.tensor(g))
    first = host(w.grad), host(x.grad)
    y.backward(hp.tensor(g))
    np.testing.assert_allclose(host(w.grad), 2 * first[0], rtol=1e-12)
    np.testing.assert_allclose(host(x.grad), 2 * first[1], rtol=1e-12)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("sizes", [(6, 8), (8, 10), (0, 8), (8.0, 8)])
def test_qconv2d_channels_must_be_multiples_of_4(sizes):
    with pytest.raises(ValueError, match=rf"QConv2d\({sizes[0]!r}, {sizes[1]!r}, kernel_size=3\)"
                                         ".*must be a positive multiple of 4"):
        nn.QConv2d(*sizes, 3)


@pytest.mark.parametrize("option,value", [("kernel_size", 0), ("kernel_size", (3,)),
                                          ("stride", 0), ("stride", 1.5),
                                          ("padding", -1), ("padding", (1, True))])
def test_geometry_arguments_are_checked(option, value):
    kwargs = dict(kernel_size=3, stride=1, padding=0)
    kwargs[option] = value
    with pytest.raises(ValueError, match=rf"Conv2d\(3, 8, .*\): {option} must be"):
        nn.Conv2d(3, 8, **kwargs)
    with pytest.raises(ValueError, match=rf"{option} must be"):
        nn.QConv2d(4, 8, **kwargs)
    with pytest.raises(ValueError, match="positive integer"):
        nn.Conv2d(0, 8, 3)


def test_input_rank_and_channels_are_checked():
    layer = nn.QConv2d(8, 4, 3)
    with pytest.raises(ValueError, match=r"QConv2d\(8, 4, kernel_size=3\): expected an input "
                                         r"of shape \(N, 8, H, W\), got \(8, 5, 5\)"):
        layer(make(8, 5, 5))
    with pytest.raises(ValueError, match=r"expected an input of shape \(N, 8, H, W\), got "
                                         r"\(2, 4, 5, 5\)"):
        layer(make(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: expected an input of shape \(N, 3, H, W\)"):
        F.conv2d(make(2, 4, 5, 5), make(8, 3, 3, 3))
    with pytest.raises(ValueError, match=r"weight must have shape \(out_channels"):
        F.conv2d(make(2, 3, 5, 5), make(8, 3, 3))
    with pytest.raises(ValueError, match=r"weight must have shape \(4, out, in, kh, kw\)"):
        F.quaternion_conv2d(make(2, 8, 5, 5), make(8, 2, 3, 3))
    with pytest.raises(ValueError, match=r"kernel \(5, 5\) does not fit"):
        F.conv2d(make(1, 3, 4, 4), make(2, 3, 5, 5), padding=0)
    with pytest.raises(ValueError, match="bias of shape"):
        F.conv2d(make(1, 3, 4, 4), make(2, 3, 3, 3), make(3))
    with pytest.raises(ValueError, match=r"max_pool2d: kernel \(3, 3\) is larger"):
        F.max_pool2d(make(1, 1, 2, 5), 3)
    with pytest.raises(ValueError, match=r"avg_pool2d: expected an input of shape"):
        F.avg_pool2d(make(4, 4, 4), 2)
    with pytest.raises(ValueError, match=r"global_avg_pool2d: expected"):
        F.global_avg_pool2d(make(4, 4))



def test_gradcheck_non_contiguous_inputs(backend):
    """Transposed views in (gradcheck keeps their memory layout)."""
    rng = np.random.default_rng(70)
    x = hp.tensor(rng.standard_normal((5, 4, 3, 2)).transpose(3, 2, 1, 0), requires_grad=True)
    w = hp.tensor(rng.standard_normal((2, 2, 3, 4)).transpose(3, 2, 1, 0), requires_grad=True)
    assert x.shape == (2, 3, 4, 5) and w.shape == (4, 3, 2, 2)
    assert hp.gradcheck(lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=1),
                        x, w).max_error <= 1e-6
    xq = hp.tensor(rng.standard_normal((3, 3, 8, 2)).transpose(3, 2, 0, 1), requires_grad=True)
    wq = hp.tensor(rng.standard_normal((3, 2, 2, 1, 4)).transpose(4, 3, 2, 1, 0),
                   requires_grad=True)
    assert xq.shape == (2, 8, 3, 3) and wq.shape == (4, 1, 2, 2, 3)
    assert hp.gradcheck(lambda x, w: F.quaternion_conv2d(x, w, padding=(0, 1)),
                        xq, wq).max_error <= 1e-6


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_max_pool_in_any_memory_order(backend, kernel, stride):
    """A convolution's output is an (N, C, H, W) view of (C, N, H, W) memory; pooling keeps
    that order and takes a gradient in another one (Flatten's): values and gradients are
    those of the contiguous input, including ties (ReLU's zeros)."""
    xp = hp.backend.get_array_module(make(1))
    rng = np.random.default_rng(24)
    host_x = np.maximum(rng.standard_normal((3, 4, 7, 8)), 0)       # ties at 0
    x_cn = hp.tensor(xp.ascontiguousarray(hp.backend.asarray(host_x).transpose(1, 0, 2, 3))
                     .transpose(1, 0, 2, 3), requires_grad=True)   # (N, C, H, W), C-major
    x_c = hp.tensor(hp.backend.asarray(host_x), requires_grad=True)
    y_cn, y_c = F.max_pool2d(x_cn, kernel, stride), F.max_pool2d(x_c, kernel, stride)
    np.testing.assert_array_equal(host(y_cn.data), host(y_c.data))
    g = rng.standard_normal(y_c.shape)
    np.testing.assert_array_equal(grads_of(y_cn, g, x_cn)[0], grads_of(y_c, g, x_c)[0])
