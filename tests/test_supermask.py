"""Supermasks (issue 15): the straight-through gradient, exactly round(keep x n) weights
per layer, weights that never change, runs that resume bitwise, tickets rebuilt from the
seed and the mask, and clear errors."""
import json
import math

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import cli, functional as F, io, lottery, prune
from hyperprune.config import SupermaskConfig
from hyperprune.models import get_model
from hyperprune.nn.supermask import attach_supermask, detach_supermask, scores, \
    supermask_masks
from hyperprune.supermask import SupermaskRun, ticket
from hyperprune.train import evaluate, loss_of
from conftest import grads_of, host, make

TINY = dict(iterations=24, eval_every=8, checkpoint_every=10, train_subset=600,
            validation=500, batch_size=32)


def off_zero(*shape, seed=1):
    rng = np.random.default_rng(seed)
    return hp.tensor(rng.uniform(0.2, 1.5, shape) * rng.choice([-1, 1], shape),
                     requires_grad=True)


# ------------------------------------------------------------------ the op and its gradient
@pytest.mark.parametrize("element", [False, True], ids=["component", "element"])
def test_the_straight_through_gradient_is_checked(backend, element):
    """The scores' gradient is dL/ds = g ⊙ w ⊙ sign(s) (the issue's dL/dw_eff ⊙ w for
    positive scores): the exact derivative of the relaxed op w ⊙ |s| (gradchecked, every
    element, random cotangent), and with the hard top-k forward the same formula, while
    the weights' gradient is exactly g ⊙ m (the op with the mask held, gradchecked)."""
    w = make(4, 3, 5, seed=2)
    s = off_zero(*((3, 5) if element else (4, 3, 5)))
    count = 7
    assert hp.gradcheck(lambda w, s: F.supermask(w, s, count, relaxed=True), w, s
                        ).max_error <= 1e-6
    g = np.random.default_rng(3).standard_normal((4, 3, 5))
    out = F.supermask(w, s, count)
    gw, gs = grads_of(out, g, w, s)
    a = np.abs(host(s.data))
    m = np.zeros(a.size, bool)
    m[np.argsort(-a.ravel(), kind="stable")[:count]] = True    # no ties: unique top-k
    m = np.broadcast_to(m.reshape(a.shape), (4, 3, 5))
    np.testing.assert_allclose(host(out.data), host(w.data) * m, rtol=0, atol=0)
    np.testing.assert_allclose(gw, g * m, rtol=0, atol=0)
    expected = g * host(w.data) * np.sign(host(s.data))
    np.testing.assert_allclose(gs, expected.sum(axis=0) if element else expected,
                               rtol=1e-12, atol=1e-12)
    held = hp.tensor(host(s.data))           # the mask held: only w varies, exact gradient
    assert hp.gradcheck(lambda w: F.supermask(w, held, count), w).max_error <= 1e-6


def test_biprop_uses_alpha_sign_of_the_weights_and_the_same_score_gradient():
    w = make(6, 4, seed=4, requires_grad=False)
    s = off_zero(6, 4)
    out = F.supermask(w, s, 10, binary=True)
    m = host(F.topk_mask(np.abs(host(s.data)), 10))
    alpha = np.abs(host(w.data))[m].mean()
    np.testing.assert_allclose(host(out.data), alpha * np.sign(host(w.data)) * m,
                               rtol=1e-12)
    g = np.random.default_rng(5).standard_normal((6, 4))
    (gs,) = grads_of(out, g, s)
    np.testing.assert_allclose(gs, g * host(w.data) * np.sign(host(s.data)), rtol=1e-12)
    with pytest.raises(ValueError, match="frozen"):
        F.supermask(make(6, 4), s, 10, binary=True)


def test_keep_is_the_fraction_kept_rounded_half_up():
    assert F.kept_count(0.5, 7) == 4          # round half up: 3.5 -> 4 (not Python's 4)
    assert F.kept_count(0.5, 5) == 3          # 2.5 -> 3 (Python's round gives 2)
    assert F.kept_count(0.3, 10) == 3 and F.kept_count(0.7, 10) == 7
    assert F.kept_count(1.0, 12) == 12 and F.kept_count(0.1, 266200) == 26620
    for bad in (0, -0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match=r"keep must be in \(0, 1\]"):
            F.kept_count(bad, 10)
    with pytest.raises(ValueError, match="keeps no weight of layer 4"):
        F.kept_count(0.01, 10, "layer 4")


@pytest.mark.parametrize("algebra,granularity", [("real", "component"),
                                                  ("quaternion", "component"),
                                                  ("quaternion", "element"),
                                                  ("octonion", "element")])
@pytest.mark.parametrize("keep", [0.1, 0.3, 0.5, 0.7])
def test_exactly_round_keep_n_weights_are_used_per_layer(algebra, granularity, keep):
    """The forward's effective weight has exactly round(keep x n) nonzeros in every layer
    (signed-constant weights are never 0); whole elements count n components each."""
    hp.manual_seed(1)
    model = attach_supermask(get_model("lenet_300_100", algebra), keep,
                             granularity=granularity)
    for name, layer in prune.prunable_layers(model).items():
        used = host(layer.effective("weight").data)
        n = prune.components(layer) if granularity == "element" else 1
        units = layer.weight.size // n
        expected = math.floor(keep * units + 0.5) * n
        assert np.count_nonzero(used) == expected, name
        assert supermask_masks(model).remaining()[name] == expected
        if n > 1:                       # whole elements: all n components or none
            nz = used != 0
            assert (nz == nz[:1]).all()


@pytest.mark.parametrize("init", ["kaiming_normal", "signed_constant", "kbit"])
def test_random_weights_have_he_variance_and_the_promised_values(init):
    hp.manual_seed(2)
    model = attach_supermask(get_model("lenet_300_100", "quaternion"), 0.5, init=init,
                             bits=3)
    layer = model[0]                                  # QLinear(784, 300): fan_in 784
    w = host(layer.weight.data).astype(np.float64)
    assert abs(w.var() / (2 / 784) - 1) < 0.03
    if init == "signed_constant":
        np.testing.assert_allclose(np.abs(w), math.sqrt(2 / 784), rtol=1e-6)
    if init == "kbit":                                # the nonzero codes of a 3-bit grid
        codes = np.rint(w / np.abs(w).min())
        assert set(np.unique(codes)) == {-3, -2, -1, 1, 2, 3}
        np.testing.assert_allclose(w / np.abs(w).min(), codes, atol=1e-4)


def test_training_moves_scores_only_and_detach_bakes_the_ticket():
    hp.manual_seed(3)
    model = attach_supermask(get_model("lenet_300_100"), 0.3)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    opt = hp.optim.SGD(scores(model), lr=0.1, momentum=0.9)
    x = hp.tensor(np.random.default_rng(0).standard_normal((16, 784)).astype(np.float32))
    y = np.arange(16) % 10
    for _ in range(3):
        loss = loss_of(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.state_dict()
    for k in before:
        assert np.array_equal(before[k], after[k]) == (not k.endswith("scores")), k
    logits = host(model(x).data)
    detach_supermask(model)
    assert "0.scores" not in model.state_dict()
    np.testing.assert_array_equal(host(model(x).data), logits)


# ------------------------------------------------------------------------ the runner
def test_weights_never_change_during_a_run_and_the_ticket_is_rebuilt_from_seed_and_mask(
        tmp_path):
    """After a run, the weights it ended with are bitwise the random draw rebuilt from
    the seed; the scores moved; the committed mask alone, on that rebuild, gives the
    recorded final test accuracy."""
    config = SupermaskConfig(algebra="quaternion", keep=0.3, **TINY)
    summary = SupermaskRun(config, tmp_path / "run", quiet=True).run()
    final = io.load_npz(tmp_path / "run" / "weights" / "level_00.npz")
    model, masks, cfg = ticket(tmp_path / "run")
    rebuilt = model.state_dict()
    theta0 = io.load_npz(tmp_path / "run" / "init.npz")
    for k, v in final.items():
        if k.endswith("scores"):
            assert not np.array_equal(v, theta0[k])
        else:
            assert v.dtype == rebuilt[k].dtype and np.array_equal(v, rebuilt[k]), k
    task = lottery.make_task(cfg)
    _, acc = evaluate(model, *task.test, task.eval_batch_size, task.prepare)
    assert acc == summary["final_test_acc"]
    assert summary["weights_remaining"] == sum(masks.remaining().values())
    assert summary["pm"] == pytest.approx(0.3, abs=1e-4)
    for name in ("metrics.csv", "metrics.json", "curves.csv", "config.json"):
        assert (tmp_path / "run" / name).exists()


def test_a_killed_run_resumes_bitwise(tmp_path, monkeypatch):
    config = SupermaskConfig(keep=0.5, **TINY)
    SupermaskRun(config, tmp_path / "full", quiet=True).run()
    real, calls = lottery.train_step, [0]

    def dying(*args):
        calls[0] += 1
        if calls[0] == 15:                      # after the checkpoint at 10
            raise KeyboardInterrupt
        return real(*args)
    monkeypatch.setattr(lottery, "train_step", dying)
    with pytest.raises(KeyboardInterrupt):
        SupermaskRun(config, tmp_path / "cut", quiet=True).run()
    monkeypatch.setattr(lottery, "train_step", real)
    assert (tmp_path / "cut" / "checkpoint.npz").exists()
    SupermaskRun(config, tmp_path / "cut", quiet=True).run()

    def record(d):
        r = json.loads((d / "levels" / "level_00.json").read_text())
        r["summary"].pop("seconds")
        return r
    assert record(tmp_path / "full") == record(tmp_path / "cut")
    a = prune.Masks.load(tmp_path / "full" / "masks" / "level_00.npz")
    b = prune.Masks.load(tmp_path / "cut" / "masks" / "level_00.npz")
    assert a.digest() == b.digest()


def test_a_changed_mask_or_other_settings_are_refused(tmp_path):
    config = SupermaskConfig(keep=0.5, **{**TINY, "iterations": 8})
    SupermaskRun(config, tmp_path / "run", quiet=True).run()
    with pytest.raises(ValueError, match="other settings"):
        SupermaskRun(SupermaskConfig(keep=0.3, **{**TINY, "iterations": 8}),
                     tmp_path / "run", quiet=True).run()
    path = tmp_path / "run" / "masks" / "level_00.npz"
    masks = io.load_npz(path)
    masks["0"].flat[np.flatnonzero(masks["0"] == 0)[:1]] = 1      # one weight more
    io.save_npz(path, masks, compressed=True)
    with pytest.raises(ValueError, match=r"level_00.npz: layer 0 keeps 117601 weights"):
        SupermaskRun(config, tmp_path / "run", quiet=True).run()


@pytest.mark.parametrize("args,message", [
    (["--keep", "1.5"], r"keep must be in \(0, 1\]"),
    (["--keep", "0"], r"keep must be in \(0, 1\]"),
    (["--algebra", "phm"], "algebra phm learns its rules"),
    (["--init", "kbit", "--weight-bits", "9"], "weight_bits must be 2 to 8"),
])
def test_bad_settings_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    code = cli.main(["supermask", "--run-dir", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith(
        "hyperprune supermask: error:")
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "r").exists()


def test_the_plot_labels_say_how_the_random_weights_were_drawn():
    from hyperprune import plots
    base = dict(algebra="real", keep=0.1, init="signed_constant", weight_bits=4,
                granularity="component", binary=False, scale_fan=False)
    assert plots.run_label(base) == "supermask real signed constant"
    assert plots.run_label({**base, "scale_fan": True}) == \
        "supermask real signed constant scaled fan"
    assert plots.run_label({**base, "init": "kbit"}) == "supermask real kbit 4-bit"
    assert plots.run_label({**base, "algebra": "quaternion", "granularity": "element",
                            "binary": True}) == \
        "supermask quaternion signed constant whole-element biprop"
