"""Progressive dense -> PHM replacement: kd_loss, ProgressivePHM, the projection init,
the fade, Fisher capacity and the resumable distillation run."""
import json
import math

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import cli, distill, nn
from hyperprune import functional as F
from hyperprune.algebra import QUATERNION
from hyperprune.config import LotteryConfig
from hyperprune.distill import DistillConfig
from hyperprune.lottery import LotteryRun
from hyperprune.nn.init import kronecker_rearrangement, phm_projection
from hyperprune.schedule import fade, fade_iteration
from conftest import host, make


# --------------------------------------------------------------------- kd_loss
def composed_kd(s, t, T):
    rows = s.size // s.shape[-1]
    p = F.softmax(t * (1 / T))
    return (p * (F.log_softmax(t * (1 / T)) - F.log_softmax(s * (1 / T)))).sum() * \
        (T * T / rows)


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 6)])
def test_kd_loss_matches_its_composed_twin_and_gradchecks(backend, shape):
    s, t = make(*shape, seed=1), make(*shape, seed=2)
    for T in (1.0, 4.0):
        fused, composed = F.kd_loss(s, t, T), composed_kd(s, t, T)
        np.testing.assert_allclose(host(fused), host(composed), rtol=1e-12)
        g = np.random.default_rng(3).standard_normal()
        fused.backward(hp.tensor(np.array(g)))
        fused_grads = host(s.grad), host(t.grad)
        s.grad = t.grad = None
        composed.backward(hp.tensor(np.array(g)))
        np.testing.assert_allclose(fused_grads[0], host(s.grad), atol=1e-12)
        np.testing.assert_allclose(fused_grads[1], host(t.grad), atol=1e-12)
        s.grad = t.grad = None
        assert hp.gradcheck(lambda a, b: F.kd_loss(a, b, T), s, t).max_error <= 1e-6


def test_kd_loss_is_zero_at_the_teacher_and_the_T2_factor_keeps_gradients_in_scale():
    t = make(50, 10, seed=4, requires_grad=False)
    assert abs(F.kd_loss(t, t, 4.0).item()) < 1e-12
    s = make(50, 10, seed=5)
    norms = []
    for T in (4.0, 40.0, 400.0):
        F.kd_loss(s, t, T).backward()
        norms.append(np.linalg.norm(host(s.grad)))
        s.grad = None
    # dL/ds = T/N (q - p) and q - p ~ (s - t)/T for large T: the gradient tends to a
    # constant instead of vanishing as 1/T (which it would without the T^2)
    assert norms[2] == pytest.approx(norms[1], rel=1e-3)


def test_kd_loss_refuses_bad_input():
    s = make(3, 4)
    with pytest.raises(ValueError, match="same shape"):
        F.kd_loss(s, make(3, 5), 4.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        F.kd_loss(s, make(3, 4), 0.0)
    with pytest.raises(TypeError, match="teacher logits float32"):
        F.kd_loss(s, make(3, 4, dtype=np.float32), 2.0)


# ------------------------------------------------------------- ProgressivePHM
def explicit_h(rules, weight):
    n, oq, iq = weight.shape
    h = np.zeros((n * oq, n * iq))
    for i in range(n):
        h += np.kron(rules[i], weight[i])
    return h


def test_alpha_0_and_1_are_exactly_the_dense_and_the_phm_layer(backend):
    hp.manual_seed(1)
    dense = nn.Linear(16, 12)
    layer = nn.ProgressivePHM(dense, 4)
    x = hp.tensor(np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32))
    assert np.array_equal(host(layer(x)), host(dense(x)))
    layer.alpha = 1.0
    assert np.array_equal(host(layer(x)), host(layer.phm(x)))
    assert all(not p.requires_grad for p in dense.parameters())
    layer.alpha = 1.5
    with pytest.raises(ValueError, match="alpha must be in"):
        layer(x)


def test_the_interpolated_layer_and_reconstruction_loss_gradcheck_and_match_twins(backend):
    hp.manual_seed(2)
    with hp.use_backend(dtype="float64"):
        dense = nn.Linear(8, 12)
        layer = nn.ProgressivePHM(dense, 4, init="random")
        layer.alpha = 0.3
        x = make(5, 8, seed=3)
        w, b = host(dense.weight), host(dense.bias)
        h = explicit_h(host(layer.phm.rules), host(layer.phm.weight))
        twin = 0.7 * (host(x) @ w.T + b) + 0.3 * (host(x) @ h.T + host(layer.phm.bias))
        np.testing.assert_allclose(host(layer(x)), twin, atol=1e-12)
        phm = layer.phm

        def forward(x, rules, weight, bias):
            phm.rules, phm.weight, phm.bias = rules, weight, bias
            return layer(x)
        params = (phm.rules, phm.weight, phm.bias)
        assert hp.gradcheck(forward, x, *params).max_error <= 1e-6

        recon_twin = ((host(x) @ h.T + host(phm.bias) - host(x) @ w.T - b) ** 2).sum(1).mean()
        np.testing.assert_allclose(layer.reconstruction_loss(x).item(), recon_twin,
                                   rtol=1e-12)

        def recon(rules, weight, bias):
            phm.rules, phm.weight, phm.bias = rules, weight, bias
            return layer.reconstruction_loss(x)
        assert hp.gradcheck(recon, *params).max_error <= 1e-6
        x.grad = None
        layer.reconstruction_loss(x).backward()
        assert x.grad is None and dense.weight.grad is None   # a target, not a path


def test_reconstruction_loss_uses_the_last_training_input():
    hp.manual_seed(3)
    layer = nn.ProgressivePHM(nn.Linear(8, 8), 2)
    with pytest.raises(ValueError, match="no input yet"):
        layer.reconstruction_loss()
    x = hp.tensor(np.random.default_rng(1).standard_normal((4, 3, 8)).astype(np.float32))
    layer(x)
    assert layer.reconstruction_loss().item() == layer.reconstruction_loss(x).item()


# ----------------------------------------------------------- projection init
def independent_rearrangement(w, n):
    """R(W) written with loops: row (p, q) is block (p, q) of W, flattened."""
    oq, iq = w.shape[0] // n, w.shape[1] // n
    return np.stack([w[p * oq:(p + 1) * oq, q * iq:(q + 1) * iq].ravel()
                     for p in range(n) for q in range(n)])


@pytest.mark.parametrize("n,shape", [(2, (6, 10)), (4, (16, 8)), (4, (8, 32))])
def test_projection_init_reaches_the_optimum_of_an_independent_svd(n, shape):
    rng = np.random.default_rng(n)
    w = rng.standard_normal(shape)
    w += 3 * np.kron(rng.standard_normal((n, n)), rng.standard_normal((shape[0] // n,
                                                                       shape[1] // n)))
    A, S, error = phm_projection(w, n)
    R = independent_rearrangement(w, n)
    assert np.array_equal(kronecker_rearrangement(w, n), R)
    sigma = np.linalg.svd(R, compute_uv=False)
    optimum = math.sqrt((sigma[n:] ** 2).sum()) / np.linalg.norm(w)
    h = explicit_h(A, S)
    assert error == pytest.approx(optimum, rel=1e-9)
    assert np.linalg.norm(h - w) / np.linalg.norm(w) == pytest.approx(optimum, rel=1e-9)
    for _ in range(5):           # no nearby sum of n Kronecker products is closer
        A2 = A + 1e-3 * rng.standard_normal(A.shape)
        S2 = S + 1e-3 * rng.standard_normal(S.shape)
        assert np.linalg.norm(explicit_h(A2, S2) - w) >= np.linalg.norm(h - w)


def test_fixed_rule_projection_is_the_least_squares_layer_of_that_algebra():
    rng = np.random.default_rng(7)
    s = rng.standard_normal((4, 3, 5))
    exact = QUATERNION.block_matrix(s)                    # a QLinear's matrix
    A, S, error = phm_projection(exact, 4, "quaternion")
    assert error < 1e-12 and np.allclose(S, s)
    w = rng.standard_normal((12, 20))
    A, S, error = phm_projection(w, 4, "quaternion")
    residual = kronecker_rearrangement(w - explicit_h(A, S), 4)
    # the normal equations: the residual is orthogonal to every rule's direction
    np.testing.assert_allclose(A.reshape(4, 16) @ residual, 0, atol=1e-12)
    assert error == pytest.approx(np.linalg.norm(residual) / np.linalg.norm(w))


def test_random_matrices_project_with_error_near_sqrt_one_minus_one_over_n():
    rng = np.random.default_rng(8)
    for n in (2, 4):
        _, _, error = phm_projection(rng.standard_normal((512, 512)), n)
        assert error == pytest.approx(math.sqrt(1 - 1 / n), abs=0.02)


def test_projection_refuses_a_weight_n_does_not_divide():
    with pytest.raises(ValueError, match="n = 4 must divide 6"):
        phm_projection(np.ones((6, 8)), 4)


# -------------------------------------------------------------------- the fade
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_fade_ramps_from_0_to_1_and_milestones_are_first_crossings(kind):
    values = [fade(i, 40, kind) for i in range(50)]
    assert values[0] == 0 and values[40] == 1 and values[49] == 1
    assert all(b >= a for a, b in zip(values, values[1:]))
    for a in (0.25, 0.5, 0.75, 1.0):
        it = fade_iteration(a, 40, kind)
        assert fade(it, 40, kind) >= a and (it == 0 or fade(it - 1, 40, kind) < a)
    assert fade(0, 0) == 1.0
    with pytest.raises(ValueError, match="unknown fade"):
        fade(1, 10, "step")


# ------------------------------------------------------------------ capacity
def test_capacity_goes_to_the_sensitive_layers_within_the_budget():
    options = {name: {2: (2000, e2), 4: (1000, e4), 8: (500, e8)}
               for name, (e2, e4, e8) in dict(a=(1.0, 4.0, 9.0), b=(1.0, 4.0, 9.0),
                                              c=(1.0, 4.0, 9.0)).items()}
    traces = dict(a=100.0, b=1.0, c=1.0)
    pick = distill.assign_capacity(options, traces, budget=3000)
    assert pick == dict(a=2, b=8, c=8)                # the sensitive one gets n = 2
    assert sum(options[k][n][0] for k, n in pick.items()) <= 3000
    shuffled = distill.shuffled_capacity(pick, options, 3000, seed=1)
    assert sorted(shuffled.values()) == sorted(pick.values())
    with pytest.raises(ValueError, match="no capacity assignment fits"):
        distill.assign_capacity(options, traces, budget=100)


# --------------------------------------------------------------------- the run
TINY_TEACHER = dict(model="gpt_char", block_size=16, n_layer=1, n_head=2, n_embd=16,
                    batch_size=4, iterations=30, optimizer="adamw", lr=1e-3, beta2=0.99,
                    weight_decay=0.1, lr_schedule="cosine", warmup_iters=5, min_lr=1e-4,
                    grad_clip=1.0, eval_every=15, eval_iters=2, levels=0)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "run"
    LotteryRun(LotteryConfig(**TINY_TEACHER), path, quiet=True).run()
    return path


def tiny(teacher, **kw):
    values = dict(teacher=str(teacher), stage_a_iters=12, stage_b_iters=6, fade_iters=8,
                  eval_every=4, checkpoint_every=5, quantize_bits="8,4", fisher_examples=4)
    values.update(kw)
    return DistillConfig(**values)


def test_progressive_run_starts_at_the_teacher_and_resumes_bitwise(teacher, tmp_path,
                                                                   monkeypatch):
    whole = distill.DistillRun(tiny(teacher), tmp_path / "whole", quiet=True).run()
    meta = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    first = meta["curve"][0]
    assert first["iteration"] == 0 and first["alpha"] == 0
    assert first["val_loss"] == whole["teacher_val_loss"]       # alpha = 0: the teacher
    assert [p["stage"] for p in meta["curve"]][-1] == "B"
    assert set(whole["val_loss_at_alpha"]) == {"0", "0.25", "0.5", "0.75", "1"}
    calls = {"n": 0}
    step = distill.DistillRun._step

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] == 14:                            # in stage B, after a checkpoint
            raise KeyboardInterrupt
        return step(self, *args)
    monkeypatch.setattr(distill.DistillRun, "_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        distill.DistillRun(tiny(teacher), tmp_path / "resumed", quiet=True).run()
    assert (tmp_path / "resumed" / "checkpoint.npz").exists()
    monkeypatch.setattr(distill.DistillRun, "_step", step)
    resumed = distill.DistillRun(tiny(teacher), tmp_path / "resumed", quiet=True).run()
    again = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert [p["val_loss"] for p in again["curve"]] == [p["val_loss"] for p in meta["curve"]]
    assert resumed["final_val_loss"] == whole["final_val_loss"]
    a = distill.load_student(tmp_path / "whole").state_dict()
    b = distill.load_student(tmp_path / "resumed").state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "resumed" / "checkpoint.npz").exists()
    # the saved student is the PHM-only network, with the run's validation loss
    student = distill.load_student(tmp_path / "whole")
    assert not list(distill.progressive_layers(student))
    assert any(isinstance(m, nn.PHMLinear) for m in student.modules())


def test_methods_capacities_and_the_quantization_report(teacher, tmp_path):
    for method in ("abrupt", "scratch", "dense"):
        s = distill.DistillRun(tiny(teacher, method=method), tmp_path / method,
                               quiet=True).run()
        assert s["method"] == method
    # the control replaces nothing: the teacher's network, trained on
    assert s["student_parameters"] == s["teacher_parameters"]
    assert s["replaced_weights"] == s["dense_weights"]
    assert s["final_val_loss"] != s["teacher_val_loss"]
    s = distill.DistillRun(tiny(teacher, capacity="fisher", capacity_choices="2,4,8"),
                           tmp_path / "fisher", quiet=True).run()
    meta = json.loads((tmp_path / "fisher" / "metrics.json").read_text())
    assert set(meta["report"]["fisher_trace"]) == set(meta["capacity"])
    assert s["replaced_weights"] <= meta["report"]["budget"]
    q = s["quantization"]["student"]
    assert q["4"]["bytes"] < q["8"]["bytes"] < q["32"]["bytes"]


def with_option(argv, flag, value):
    argv = list(argv)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return argv


def test_the_distill_command_and_its_errors(teacher, tmp_path, capsys):
    args = ["distill", "--teacher", str(teacher), "--stage-a-iters", "4", "--stage-b-iters",
            "2", "--fade-iters", "2", "--eval-every", "2", "--quantize-bits", "8",
            "--run-dir", str(tmp_path / "d"), "--quiet"]
    assert cli.main(args) == 0
    assert "validation loss" in capsys.readouterr().out
    for bad, message in ((("--teacher", str(tmp_path / "nothing")), "does not exist"),
                         (("--fade-iters", "9"), "must fit in stage A"),
                         (("--phm-n", "3"), "no PHM form with n = 3"),
                         (("--capacity", "fisher", "--rules", "quaternion"),
                          "need learned rules")):
        argv = with_option(args, "--run-dir", str(tmp_path / "other"))
        for i in range(0, len(bad), 2):
            argv = with_option(argv, bad[i], bad[i + 1])
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    # the same directory with other settings is refused
    assert cli.main(with_option(args, "--phm-n", "2")) == 2
    assert "other settings" in capsys.readouterr().err


def test_a_saved_model_can_be_the_teacher(teacher, tmp_path, monkeypatch):
    from hyperprune import deploy
    from hyperprune.config import PRESETS
    cfg = LotteryConfig.from_dict(json.loads((teacher / "config.json").read_text())
                                  ["config"])
    model = distill.build_model(cfg)
    model.load_state_dict(deploy.level_weights(teacher, 0))
    model.save(tmp_path / "teacher.npz")
    with pytest.raises(ValueError, match="needs --architecture"):
        distill.DistillRun(tiny(tmp_path / "teacher.npz"), tmp_path / "a").run()
    with pytest.raises(ValueError, match="does not fit"):
        distill.DistillRun(tiny(tmp_path / "teacher.npz", architecture="gpt_char"),
                           tmp_path / "b").run()
    monkeypatch.setitem(PRESETS, "gpt_char", TINY_TEACHER)   # the settings that built it
    from_file = distill.DistillRun(tiny(tmp_path / "teacher.npz", architecture="gpt_char"),
                                   tmp_path / "c", quiet=True).run()
    from_run = distill.DistillRun(tiny(teacher), tmp_path / "d", quiet=True).run()
    assert from_file["teacher_val_loss"] == from_run["teacher_val_loss"]
    assert from_file["final_val_loss"] == from_run["final_val_loss"]
