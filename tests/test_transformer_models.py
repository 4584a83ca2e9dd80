"""The transformer model families (gpt_char, vit) and their training utilities
(clip_grad_norm_, decay_groups, CosineSchedule): shapes, parameter counts against
formulas, causality, clear errors, a tiny GPT that overfits, seeded generation."""
import math

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import nn, optim, prune
from hyperprune.models import GPTConfig, generate, get_model, gpt_char, vit
from hyperprune.train import loss_of as lm_loss
from hyperprune.schedule import CosineSchedule
from hyperprune.datasets import CharVocab
from conftest import host

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def ids(shape, high, seed=0):
    return np.random.default_rng(seed).integers(0, high, shape)


# ===================================================================== parameter counts
def gpt_formula(algebra, V=65, T=64, L=4, E=128, quaternion_mlp=False):
    """Counts of gpt_char derived by hand (bias=True)."""
    q = algebra == "quaternion"
    attn = 4 * E * E // (4 if q else 1)                    # q, k, v, out projections
    mlp = 2 * 4 * E * E // (4 if quaternion_mlp else 1)    # E -> 4E -> E
    head = E * (-(-V // 4) * 4 if q else V) // (4 if q else 1)
    return dict(prunable=L * (attn + mlp) + head,
                embeddings=V * E + T * E,                  # token + position
                norms=(2 * L + 1) * 2 * E,                 # ln_1, ln_2 per block; ln_f
                biases=L * (4 * E + 4 * E + E))            # attention, c_fc, c_proj


def vit_formula(algebra, classes=10, D=64, L=6, M=512, P=48, N=64, quaternion_mlp=False):
    q = algebra == "quaternion"
    attn = 4 * D * D // (4 if q else 1)
    mlp = 2 * D * M // (4 if quaternion_mlp else 1)
    return dict(prunable=P * D // (4 if q else 1) + L * (attn + mlp) + D * classes,
                embeddings=D + (N + 1) * D,                # class token + positions
                norms=(2 * L + 1) * 2 * D,
                biases=D + L * (4 * D + M + D) + classes)


@pytest.mark.parametrize("name,formula", [("gpt_char", gpt_formula), ("vit", vit_formula)])
def test_parameter_counts_match_the_formulas(name, formula):
    for algebra, options in [("real", {}), ("quaternion", {}),
                             ("quaternion", {"quaternion_mlp": True})]:
        model = get_model(name, algebra, **options)
        counts = model.num_parameters(by_kind=True)
        expected = formula(algebra, **options)
        expected["total"] = sum(expected.values())
        print(f"{name} {algebra} {options}: {counts}")
        assert counts == expected
        assert model.num_parameters() == counts["total"] == sum(p.size for p in
                                                                model.parameters())
        assert counts["prunable"] == sum(m.weight.size for m in
                                         prune.prunable_layers(model).values())


def test_gpt_without_biases():
    """bias=False (nanoGPT's option): no Linear biases, LayerNorms keep their weight."""
    for algebra in ("real", "quaternion"):
        counts = gpt_char(algebra, bias=False).num_parameters(by_kind=True)
        expected = gpt_formula(algebra)
        assert counts["biases"] == 0 and counts["norms"] == 9 * 128
        assert counts["prunable"] == expected["prunable"]


def test_default_counts():
    """The numbers in the module docstrings."""
    assert gpt_char().num_parameters(by_kind=True)["prunable"] == 794_752
    assert gpt_char("quaternion").num_parameters(by_kind=True)["prunable"] == 592_000
    assert gpt_char().num_parameters() == 818_176
    assert vit().num_parameters() == 506_186
    assert vit("quaternion").num_parameters(by_kind=True)["prunable"] == 419_200


# ================================================================================= GPT
@pytest.mark.parametrize("algebra,options", [("real", {}), ("quaternion", {}),
                                             ("quaternion", {"quaternion_mlp": True}),
                                             ("quaternion", {"fused_qkv": True})])
def test_gpt_shapes_and_layers(backend, algebra, options):
    model = gpt_char(algebra, **TINY, **options)
    logits = model(ids((3, 5), 11))
    padded = 12 if algebra == "quaternion" else 11
    assert logits.shape == (3, 5, padded) and logits.dtype == np.float32
    assert model.config.output_size == padded
    Dense = nn.QLinear if algebra == "quaternion" else nn.Linear
    assert isinstance(model.lm_head, Dense) and model.lm_head.bias is None
    assert isinstance(model.h[0].attn.out_proj, Dense)
    mlp = nn.QLinear if options.get("quaternion_mlp") else nn.Linear
    assert isinstance(model.h[0].mlp.c_fc, mlp) and isinstance(model.h[1].mlp.c_proj, mlp)
    qkv = prune.prunable_layers(model, scope="qkv")
    assert len(qkv) == (1 if options.get("fused_qkv") else 3) * TINY["n_layer"]
    loss = lm_loss(logits, ids((3, 5), 11, seed=1))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_gpt_init_is_nanogpts():
    hp.manual_seed(0)
    model = gpt_char(n_layer=8)
    std = lambda t: float(host(t.data).std())                       # noqa: E731
    assert std(model.h[0].attn.q_proj.weight) == pytest.approx(0.02, rel=0.05)
    assert std(model.h[0].mlp.c_proj.weight) == pytest.approx(0.02 / 4, rel=0.05)
    assert std(model.h[0].attn.out_proj.weight) == pytest.approx(0.02 / 4, rel=0.05)
    assert std(model.wte.weight) == pytest.approx(0.02, rel=0.1)
    assert not host(model.h[0].attn.q_proj.bias.data).any()
    quaternion = gpt_char("quaternion")                              # polar init kept
    sigma = 1 / math.sqrt(2 * (32 + 32))
    w = host(quaternion.h[0].attn.q_proj.weight.data)
    assert np.sqrt((w ** 2).sum(axis=0)).mean() == pytest.approx(
        sigma * math.sqrt(2) * math.gamma(2.5) / math.gamma(2), rel=0.05)  # E chi_4


@pytest.mark.parametrize("algebra", ["real", "quaternion"])
def test_gpt_is_causal_end_to_end(algebra):
    """Changing the tokens after position t changes no logit at positions <= t."""
    model = gpt_char(algebra, **TINY)
    a = ids((2, 8), 11)
    for t in (0, 3, 6):
        b = a.copy()
        b[:, t + 1:] = (b[:, t + 1:] + 1 + ids((2, 7 - t), 9, seed=t)) % 11
        la, lb = host(model(a).data), host(model(b).data)
        np.testing.assert_allclose(la[:, :t + 1], lb[:, :t + 1], rtol=0, atol=1e-6)
        assert np.abs(la[:, t + 1:] - lb[:, t + 1:]).max() > 1e-4   # the future did change


def test_gpt_errors_are_clear():
    model = gpt_char(**TINY)
    with pytest.raises(ValueError, match=r"gpt_char: sequence length 9 is longer than the "
                                         r"model's context \(block_size 8\)"):
        model(ids((1, 9), 11))
    with pytest.raises(IndexError, match=r"gpt_char: token id 11 is not in the vocabulary "
                                         r"of 11 symbols \(ids 0..10\)"):
        model(np.array([[1, 2, 11]]))
    with pytest.raises(IndexError, match="token id -1"):
        model(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match=r"integer token ids of shape \(B, T\)"):
        model(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"integer token ids"):
        model(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="sequence length 0"):
        model(np.zeros((1, 0), dtype=np.int64))
    with pytest.raises(ValueError, match="need a hypercomplex algebra"):
        gpt_char("real", quaternion_mlp=True)
    with pytest.raises(ValueError, match="divisible by n_head"):
        gpt_char(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="unknown algebra"):
        gpt_char("sedenion")
    with pytest.raises(ValueError, match="top_k"):
        generate(model, ids((1, 2), 11), 1, top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, ids((1, 2), 11), 1, temperature=0)


@pytest.mark.parametrize("algebra", ["real", "quaternion"])
def test_tiny_gpt_overfits_a_repeated_string_and_generates(algebra):
    text = "to be or not to be, " * 8
    vocab = CharVocab(text)
    data = vocab.encode(text)
    hp.manual_seed(0)
    model = gpt_char(algebra, vocab_size=vocab.size, block_size=16, n_layer=2, n_head=2,
                     n_embd=32)
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-2, betas=(0.9, 0.99))
    schedule = CosineSchedule(opt, max_lr=1e-2, min_lr=1e-3, warmup_iters=5,
                              decay_iters=40)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(40):
        starts = rng.integers(0, len(data) - 17, 8)
        x = np.stack([data[s:s + 16] for s in starts])
        y = np.stack([data[s + 1:s + 17] for s in starts])
        loss = lm_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        losses.append(loss.item())
    print(f"{algebra}: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert losses[-1] < losses[0] / 2

    prompt = vocab.encode("to be or not ")[None]                     # (1, 13)
    out = generate(model, prompt, 10, rng=np.random.default_rng(1))
    again = generate(model, prompt, 10, rng=np.random.default_rng(1))
    assert out.shape == (1, 23) and out.dtype == np.int64
    np.testing.assert_array_equal(out, again)                        # seeded: deterministic
    np.testing.assert_array_equal(out[:, :13], prompt)
    assert out.min() >= 0 and out.max() < vocab.size                 # never a dummy id
    vocab.decode(out[0])
    batch = generate(model, np.repeat(prompt, 3, axis=0), 6, temperature=0.5, top_k=3,
                     rng=np.random.default_rng(2))
    assert batch.shape == (3, 19)                                    # context cropped to 16
    assert model.training                                            # mode restored
    greedy = generate(model, prompt, 7, top_k=1, rng=np.random.default_rng(3))
    print(algebra, repr(vocab.decode(greedy[0])))


def test_generate_under_the_strict_backend_and_library_seed():
    with hp.use_backend("strict"):
        hp.manual_seed(5)
        model = gpt_char("quaternion", **TINY)
        hp.manual_seed(7)
        first = generate(model, ids((2, 3), 11), 4)
        hp.manual_seed(7)
        np.testing.assert_array_equal(first, generate(model, ids((2, 3), 11), 4))
    assert first.shape == (2, 7) and first.max() < 11


def test_gpt_config_dataclass():
    cfg = GPTConfig(algebra="quaternion", vocab_size=65)
    assert cfg.output_size == 68 and GPTConfig().output_size == 65
    assert gpt_char("quaternion").config == cfg


# ================================================================================= ViT
@pytest.mark.parametrize("algebra,options,classes", [
    ("real", {}, 10), ("quaternion", {}, 10), ("real", {"num_classes": 100}, 100),
    ("quaternion", {"num_classes": 100}, 100), ("quaternion", {"fused_qkv": True}, 10),
    ("quaternion", {"quaternion_mlp": True}, 10)])
def test_vit_shapes(backend, algebra, options, classes):
    model = vit(algebra, **options)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    logits = model(hp.tensor(x))
    assert logits.shape == (2, classes) and logits.dtype == np.float32
    assert isinstance(model.head, nn.Linear)
    Dense = nn.QLinear if algebra == "quaternion" else nn.Linear
    assert isinstance(model.patch_embedding, Dense)
    assert isinstance(model.blocks[5].attn.out_proj, Dense)
    assert model.blocks[0].attn.head_dim == 8 and not model.blocks[0].attn.causal
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_vit_patches_are_a_reshape():
    model = vit(depth=1)
    x = np.arange(2 * 3 * 32 * 32, dtype=np.float32).reshape(2, 3, 32, 32)
    patches = host(model.patches(hp.tensor(x)).data)
    assert patches.shape == (2, 64, 48)
    np.testing.assert_array_equal(patches[1, 8 + 2], x[1, :, 4:8, 8:12].reshape(-1))


def test_vit_small_and_four_channel_configs():
    model = vit("quaternion", image_size=16, patch_size=4, channels=4, dim=32, depth=2,
                heads=2, mlp_dim=64)
    assert model(np.zeros((3, 4, 16, 16), np.float32)).shape == (3, 10)


def test_vit_errors_are_clear():
    with pytest.raises(ValueError, match="patch_size 5 must divide image_size 32"):
        vit(patch_size=5)
    with pytest.raises(ValueError, match="multiples of 4"):
        vit("quaternion", image_size=33, patch_size=3)
    with pytest.raises(ValueError, match="channels must be a positive integer"):
        vit(channels=0)
    with pytest.raises(ValueError, match="need a hypercomplex algebra"):
        vit("real", fused_qkv=True)
    model = vit(depth=1)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 3, 32, 32\), got "
                                         r"\(2, 4, 32, 32\)"):
        model(np.zeros((2, 4, 32, 32), np.float32))


# ============================================================ schedule, clipping, groups
def test_cosine_schedule_values():
    p = nn.Parameter(np.zeros(3, np.float32))
    opt = optim.AdamW([{"params": [p]}, {"params": [p * 1.0], "weight_decay": 0.0}])
    s = CosineSchedule(opt, max_lr=1.0, min_lr=0.1, warmup_iters=10, decay_iters=110)
    assert [g["lr"] for g in opt.param_groups] == [1 / 11, 1 / 11]  # set at iteration 0
    assert s.lr_at(0) == pytest.approx(1 / 11)                       # warmup start
    assert s.lr_at(9) == pytest.approx(10 / 11)                      # end of warmup
    assert s.lr_at(10) == pytest.approx(1.0)                         # decay starts at max
    assert s.lr_at(60) == pytest.approx(0.55)                        # mid-decay
    assert s.lr_at(85) == pytest.approx(0.1 + 0.9 * (1 + math.cos(0.75 * math.pi)) / 2)
    assert s.lr_at(110) == s.lr_at(10_000) == 0.1                    # after decay
    for _ in range(60):
        s.step()
    assert s.iteration == 60 and opt.param_groups[1]["lr"] == pytest.approx(0.55)
    resumed = CosineSchedule(opt, 1.0, 0.1, 10, 110)
    resumed.load_state_dict(s.state_dict())
    assert resumed.last_lr == pytest.approx(0.55)
    assert optim.CosineSchedule is CosineSchedule
    with pytest.raises(ValueError, match="min_lr"):
        CosineSchedule(opt, 0.1, 1.0, 10, 100)
    with pytest.raises(ValueError, match="warmup_iters <= decay_iters"):
        CosineSchedule(opt, 1.0, 0.1, 10, 5)


def test_clip_grad_norm(backend):
    a = nn.Parameter(np.zeros(2, np.float32))
    b = nn.Parameter(np.zeros((1, 2), np.float32))
    c = nn.Parameter(np.zeros(3, np.float32))                        # no grad: skipped
    ga, gb = np.array([3.0, 0.0], np.float32), np.array([[0.0, 4.0]], np.float32)
    a.grad, b.grad = hp.backend.asarray(ga.copy()), hp.backend.asarray(gb.copy())
    assert optim.clip_grad_norm_([a, b, c], 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(host(a.grad), ga)                  # below max: unchanged
    norm = optim.clip_grad_norm_(iter([a, b, c]), 1.0)
    assert norm == pytest.approx(5.0)
    coef = np.float32(1.0 / (5.0 + 1e-6))
    np.testing.assert_array_equal(host(a.grad), ga * coef)
    np.testing.assert_array_equal(host(b.grad), gb * coef)
    assert optim.clip_grad_norm_([a, b], 1.0) == pytest.approx(1.0, abs=1e-5)
    assert optim.clip_grad_norm_(a, 0.3) == pytest.approx(0.6, rel=1e-5)  # one tensor
    assert optim.clip_grad_norm_([c], 1.0) == 0.0
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm_([a], 0.0)


def test_decay_groups_follow_nanogpts_rule():
    for model in (gpt_char("quaternion", **TINY), vit("quaternion", depth=1)):
        decay, no_decay = optim.decay_groups(model, 0.1)
        assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
        assert {p.ndim for p in decay["params"]} >= {2, 3}           # quaternion weights
        assert {p.ndim for p in no_decay["params"]} == {1}
        assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    model = gpt_char("quaternion", **TINY)
    decay = {id(p) for p in optim.decay_groups(model, 0.1)[0]["params"]}
    assert id(model.wte.weight) in decay and id(model.h[0].attn.q_proj.weight) in decay
    assert id(model.h[0].ln_1.weight) not in decay and id(model.lm_head.weight) in decay


def test_gpt_lottery_prunes_only_qkv_componentwise(tmp_path):
    """A tiny gpt_char lottery as in "Transformers at a Fraction": W_Q, W_K, W_V lose half
    of each component matrix per round; everything else stays dense."""
    from hyperprune import prune
    from hyperprune.lottery import PRESETS, LotteryConfig, LotteryRun
    config = LotteryConfig(**{**PRESETS["gpt_char"], "algebra": "quaternion", "n_layer": 1,
                              "n_head": 2, "n_embd": 16, "block_size": 16, "batch_size": 4,
                              "iterations": 6, "warmup_iters": 2, "eval_every": 3,
                              "eval_iters": 2, "levels": 1})
    summaries = LotteryRun(config, tmp_path, quiet=True).run()
    assert [s["pm"] for s in summaries] == [1.0, 0.5]
    assert summaries[0]["pm_of_real"] == 0.25  # of the real model's Q/K/V weights
    assert summaries[1]["final_val_perplexity"] > 1
    mask = prune.Masks.load(tmp_path / "masks" / "level_01.npz")
    assert sorted(mask) == ["h.0.attn.k_proj", "h.0.attn.q_proj",
                            "h.0.attn.v_proj"]
    for m in mask.masks.values():   # each component matrix keeps exactly half
        assert (m.reshape(4, -1).mean(axis=1) == 0.5).all()
    import json
    record = json.loads((tmp_path / "levels" / "level_01.json").read_text())
    assert sum(record["histogram"]["counts"]) == sum(int(m.sum()) for m in mask.masks.values())
