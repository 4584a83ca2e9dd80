"""k-bit quantization, quantization-aware training and the compressed model file."""
import json
import math
import struct
import zlib

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import deploy, functional as F, modelfile, nn, optim, prune, quantize
from hyperprune.config import LotteryConfig
from hyperprune.lottery import LotteryRun
from hyperprune.models import get_model
from hyperprune.train import train_step
from conftest import grads_of, host, make


# ------------------------------------------------------------------------ the grid
@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("granularity,axis,shape", [("tensor", 0, (20, 30)),
                                                    ("unit", 0, (20, 30)),
                                                    ("unit", 1, (4, 6, 5))])
def test_codes_land_on_the_grid_within_half_a_step(bits, granularity, axis, shape):
    rng = np.random.default_rng(bits)
    w = rng.standard_normal(shape)
    mask = rng.random(shape) < 0.3
    q = quantize.quantize_tensor(w * mask, mask, bits, granularity, axis)
    m = 2 ** (bits - 1) - 1
    assert q.codes.dtype == np.int8 and np.abs(q.codes).max() <= m
    err = np.abs(q.values - w * mask)
    assert (err <= np.broadcast_to(q.scale, shape) / 2 + 1e-7).all()
    assert (q.values[~mask] == 0).all() and (q.codes[~mask] == 0).all()   # zero stays zero
    if axis == 1:                       # one scale per output unit, shared by components
        assert q.scale.shape == (1, 6, 1)


def test_one_bit_is_sign_times_the_best_scale():
    """k = 1: codes +-1 (pruned zeros stay 0); the scale mean|w| of the survivors is the
    one minimising the squared error of a sign code."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal(200)
    mask = rng.random(200) < 0.5
    q = quantize.quantize_tensor(w * mask, mask, 1, "tensor")
    s = float(q.scale.ravel()[0])
    assert set(np.unique(q.codes[mask])) <= {-1, 1} and (q.codes[~mask] == 0).all()
    assert math.isclose(s, np.abs(w[mask]).mean(), rel_tol=1e-3)      # float16-rounded

    def error(scale):
        return ((np.sign(w[mask]) * scale - w[mask]) ** 2).sum()
    assert error(s) <= min(error(s * 1.05), error(s * 0.95))


def test_bad_bit_widths_and_granularities_are_refused():
    with pytest.raises(ValueError, match="bits must be an integer from 1 to 8"):
        quantize.quantize_tensor(np.ones(3), None, 9)
    with pytest.raises(ValueError, match="unknown quantization granularity 'row'"):
        quantize.quantize_tensor(np.ones(3), None, 4, "row")


# ------------------------------------------------------------- fake quantization
def test_fake_quantize_forward_is_the_grid_and_backward_is_straight_through(backend):
    w = make(5, 7)
    scale = hp.tensor(np.full((5, 1), 0.25)).data
    y = F.fake_quantize(w, scale, 3)
    q = quantize.quantize(host(w), np.ones((5, 7), bool), 3, 0.25)
    np.testing.assert_allclose(host(y), q * 0.25)
    g = np.random.default_rng(2).standard_normal((5, 7))
    (grad,) = grads_of(y, g, w)
    np.testing.assert_array_equal(grad, g * (np.abs(host(w)) <= 3 * 0.25))   # 0 outside


def test_relaxed_fake_quantize_gradchecks(backend):
    """The straight-through backward is the exact derivative of the relaxed op (the clip
    without the rounding), checked numerically off the clip's kinks."""
    rng = np.random.default_rng(3)
    w = hp.tensor(rng.uniform(-1, 1, (4, 6)) * rng.choice([0.5, 3.0], (4, 6)),
                  requires_grad=True)
    scale = hp.tensor(np.full((4, 1), 0.5)).data            # clip at +-1.5
    assert hp.gradcheck(lambda x: F.fake_quantize(x, scale, 3, relaxed=True),
                        w).max_error <= 1e-6


def test_quantization_aware_training_keeps_pruned_zeros_and_is_exported_exactly():
    hp.manual_seed(0)
    model = get_model("lenet_300_100", "quaternion")
    masks = prune.prune(model, prune.Masks.ones(model), "global", fraction=0.8)
    masks.apply(model)
    quantize.attach_fake_quant(model, masks, 3)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 784)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    losses = [train_step(model, opt, masks, x, y).item() for _ in range(30)]
    assert losses[-1] < losses[0]
    for name, layer in prune.prunable_layers(model).items():
        assert (host(layer.weight)[~masks[name]] == 0).all()
    fake = host(model(hp.tensor(x)))
    quantize.detach_fake_quant(model)
    _, exported = deploy.file_tensors(model, masks, 3)
    # the exported model computes what QAT trained (biases differ only by float16)
    np.testing.assert_allclose(host(exported(hp.tensor(x))), fake, atol=2e-3)


# ----------------------------------------------------------------- mask coding
@pytest.mark.parametrize("n,density", [(1000, 0.0), (1000, 1.0), (5000, 0.01),
                                       (5000, 0.2), (777, 0.5), (64, 0.03), (5000, 0.99),
                                       (3000, 0.8)])
def test_masks_round_trip_near_their_entropy(n, density):
    rng = np.random.default_rng(n)
    mask = rng.random(n) < density
    nnz = int(mask.sum())
    method, low, data = modelfile.encode_mask(mask)
    assert np.array_equal(modelfile.decode_mask(method, low, data, n, nnz), mask)
    rare = min(nnz, n - nnz)                  # the survivors, or the pruned entries if fewer
    if rare == 0:
        assert data == b""                    # an unpruned (or empty) mask costs nothing
    else:
        assert len(data) * 8 <= rare * (2 + math.log2(n / rare)) + 16 or method == "bitmap"
    assert len(data) <= math.ceil(n / 8)                      # never worse than a bitmap


def test_bit_packing_round_trips():
    rng = np.random.default_rng(4)
    for bits in range(1, 9):
        v = rng.integers(0, 2 ** bits, 101)
        packed = modelfile.pack_uint(v, bits)
        assert len(packed) == math.ceil(101 * bits / 8)
        assert np.array_equal(modelfile.unpack_uint(packed, 101, bits), v)


# ------------------------------------------------------------------- the file
TINY = dict(levels=2, iterations=30, eval_every=10, train_subset=600, validation=500,
            rate=0.5, output_rate=0.25)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for algebra in ("real", "quaternion", "phm"):
        LotteryRun(LotteryConfig(algebra=algebra, **TINY), root / algebra, quiet=True).run()
    return root


@pytest.mark.parametrize("algebra", ["real", "quaternion", "phm"])
@pytest.mark.parametrize("bits", [32, 8, 3, 1])
def test_export_evaluate_round_trip_is_bitwise(runs, tmp_path, algebra, bits):
    """The file holds exactly the in-memory quantized model: same predictions, bit for
    bit; a float export is exactly the trained level."""
    out = tmp_path / "m.hpz"
    _, in_memory = deploy.export(runs / algebra, 2, bits, out)
    loaded, header = deploy.load(out)
    x = hp.tensor(np.random.default_rng(5).standard_normal((50, 784)).astype(np.float32))
    assert np.array_equal(host(loaded(x)), host(in_memory(x)))
    result = deploy.evaluate_file(out)
    assert result["bytes"] == out.stat().st_size and result["bits"] == bits
    if bits == 32:
        level = json.loads((runs / algebra / "levels" / "level_02.json").read_text())
        assert result["accuracy"] == level["summary"]["final_test_acc"]


def test_export_replays_a_level_without_its_weights(runs, tmp_path):
    a, b = tmp_path / "kept.hpz", tmp_path / "replayed.hpz"
    deploy.export(runs / "real", 1, 4, a)
    weights = runs / "real" / "weights" / "level_01.npz"
    saved = weights.read_bytes()
    weights.unlink()
    try:
        deploy.export(runs / "real", 1, 4, b)
    finally:
        weights.write_bytes(saved)
    assert deploy.load(a)[0].state_dict().keys() == deploy.load(b)[0].state_dict().keys()
    for k, v in deploy.load(a)[0].state_dict().items():
        assert np.array_equal(v, deploy.load(b)[0].state_dict()[k])


def test_export_and_evaluate_commands(runs, tmp_path, capsys):
    """hyperprune export prints bytes, the dense size and the bound; evaluate --json gives
    accuracy and bytes, exactly the in-memory quantized model's accuracy; bad input is one
    line naming the problem, exit 2."""
    from hyperprune import cli
    out = tmp_path / "m.hpz"
    assert cli.main(["export", str(runs / "quaternion"), "--level", "2", "--bits", "4",
                     "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{out.stat().st_size:,} bytes" in printed and "dense float32" in printed \
        and "information bound" in printed
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bytes"] == out.stat().st_size
    config, model, masks = deploy.run_model(runs / "quaternion", 2)
    _, in_memory = deploy.file_tensors(model, masks, 4)
    assert result["accuracy"] == deploy.evaluate_model(in_memory, config)["accuracy"]
    for argv, message in (
            (["export", str(runs / "quaternion"), "--level", "2", "--bits", "12", "-o",
              str(out)], "--bits must be 1 to 8, or 32"),
            (["export", str(runs / "quaternion"), "--level", "7", "-o", str(out)],
             "level 7 of"),
            (["evaluate", str(tmp_path / "missing.hpz")], "missing.hpz")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    out.write_bytes(out.read_bytes()[:-5])
    assert cli.main(["evaluate", str(out)]) == 2
    assert "truncated" in capsys.readouterr().err


def _rewrite(path, change_header=None, change_body=None):
    data = bytearray(path.read_bytes())
    magic, hl, pl = struct.unpack_from("<4sIQ", data)
    header = json.loads(zlib.decompress(bytes(data[16:16 + hl])))
    payload = bytes(data[16 + hl:16 + hl + pl])
    if change_header:
        change_header(header)
    hb = zlib.compress(json.dumps(header).encode())
    body = struct.pack("<4sIQ", magic, len(hb), len(payload)) + hb + payload
    import hashlib
    path.write_bytes(body + hashlib.sha256(body).digest())


def test_bad_files_are_refused_naming_the_problem(runs, tmp_path):
    good = tmp_path / "good.hpz"
    deploy.export(runs / "quaternion", 2, 4, good)
    data = good.read_bytes()
    cases = {"truncated": data[:len(data) // 2], "empty": b"",
             "flipped": data[:100] + bytes([data[100] ^ 1]) + data[101:],
             "not ours": b"PK\x03\x04" + data[4:]}
    messages = {"truncated": "truncated", "empty": "truncated", "flipped": "checksum mismatch",
                "not ours": "not a hyperprune model file"}
    for what, content in cases.items():
        bad = tmp_path / f"{what.replace(' ', '_')}.hpz"
        bad.write_bytes(content)
        with pytest.raises(modelfile.ModelFileError, match=messages[what]) as info:
            deploy.load(bad)
        assert str(bad) in str(info.value)
    wrong = tmp_path / "wrong.hpz"
    wrong.write_bytes(data)
    _rewrite(wrong, lambda h: h["model"]["config"].update(algebra="real"))   # checksum ok
    with pytest.raises(modelfile.ModelFileError, match="do not fit the architecture"):
        deploy.load(wrong)
    lying = tmp_path / "lying.hpz"
    lying.write_bytes(data)
    _rewrite(lying, lambda h: h["tensors"][0].update(z=h["tensors"][0]["z"] + 1))
    with pytest.raises(modelfile.ModelFileError, match="survivors"):
        deploy.load(lying)


@pytest.mark.parametrize("algebra", ["real", "quaternion"])
def test_files_are_within_1_3x_of_the_information_bound(algebra, tmp_path):
    """Bytes on disk against sum N H(d)/8 + nnz k/8 (+ the other parameters), at the
    Frankle densities <= 20% of LeNet-300-100, for every k from 2 to 8."""
    hp.manual_seed(0)
    model = get_model("lenet_300_100", algebra)
    masks = prune.Masks.ones(model)
    rates = prune.layerwise_rates(model, 0.2, 0.1)
    for r in range(1, 19):
        masks = prune.prune(model, masks, "layerwise", rates)
        masks.apply(model)
        if masks.density() > 0.2 or r % 3:
            continue
        for bits in (8, 5, 3, 2):
            tensors, quantized = deploy.file_tensors(model, masks, bits)
            out = tmp_path / "m.hpz"
            modelfile.write(out, {"config": {"algebra": algebra}, "level": r, "bits": bits},
                            tensors)
            report = deploy.size_report(quantized, masks, bits, out)
            assert report["ratio"] <= 1.3, (r, bits, report)


def test_phm_as_matrix_computes_the_same_layer():
    hp.manual_seed(0)
    model = get_model("lenet_300_100", "phm")
    x = hp.tensor(np.random.default_rng(6).standard_normal((4, 784)).astype(np.float32))
    before = host(model(x))
    quantize.phm_as_matrix(model)
    assert isinstance(model[0], nn.Linear) and model[0].weight.shape == (300, 784)
    np.testing.assert_allclose(host(model(x)), before, rtol=1e-5, atol=1e-6)
