"""Masks and pruning policies."""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn, optim, prune
from hyperprune.models import get_model, lenet_300_100


def schedule(model, strategy="layerwise", rounds=18, **kwargs):
    masks = prune.Masks.ones(model)
    densities = [1.0]
    for _ in range(rounds):
        masks = prune.prune(model, masks, strategy, **kwargs)
        masks.apply(model)
        densities.append(masks.density())
    return densities, masks


def test_frankle_layerwise_schedule_for_lenet():
    """20% per round, output layer 10%: Pm = 51.3, 21.1, 7.0, 3.6, 1.9% at rounds
    3, 7, 12, 15, 18 (the labels of Frankle & Carbin's figures), to 0.1 pp."""
    hp.manual_seed(0)
    model = lenet_300_100("real")
    rates = prune.layerwise_rates(model, rate=0.2, output_rate=0.1)
    assert list(rates.values()) == [0.2, 0.2, 0.1]
    pm, _ = schedule(model, rates=rates)
    for level, expected in [(3, 51.3), (7, 21.1), (12, 7.0), (15, 3.6), (18, 1.9)]:
        assert abs(100 * pm[level] - expected) <= 0.1, (level, 100 * pm[level])


def test_quaternion_lenet_sparsity_relative_to_the_real_model():
    model = lenet_300_100("quaternion")
    masks = prune.Masks.ones(model)
    assert sum(masks.total().values()) == 58_800 + 7_500 + 1_000
    report = prune.sparsity_report(masks, reference_total=266_200)
    assert report["pm"] == 1.0 and abs(report["pm_of_real"] - 0.2528) < 1e-4


def test_layerwise_keeps_the_largest_weights_in_each_layer():
    hp.manual_seed(1)
    model = lenet_300_100("real")
    masks = prune.prune(model, prune.Masks.ones(model), "layerwise")
    for name, layer in prune.prunable_layers(model).items():
        w = np.abs(layer.weight.numpy())
        kept, gone = w[masks[name]], w[~masks[name]]
        assert kept.min() >= gone.max()
        rate = 0.1 if name == "4" else 0.2
        assert gone.size == int(np.ceil(rate * w.size))


def test_global_ranks_all_layers_together():
    hp.manual_seed(2)
    model = lenet_300_100("real")
    masks = prune.prune(model, prune.Masks.ones(model), "global", fraction=0.2)
    all_w = np.concatenate([np.abs(l.weight.numpy()).ravel()
                            for l in prune.prunable_layers(model).values()])
    all_m = np.concatenate([masks[n].ravel() for n in masks])
    assert all_w[all_m].min() >= all_w[~all_m].max()
    assert (~all_m).sum() == int(np.ceil(0.2 * all_m.size))


def test_whole_quaternion_granularity_prunes_full_quaternions():
    hp.manual_seed(3)
    model = lenet_300_100("quaternion")
    _, masks = schedule(model, rounds=3, granularity="quaternion")
    for name, layer in prune.prunable_layers(model).items():
        m = masks[name]
        if isinstance(layer, nn.QLinear):
            assert (m == m[0]).all()  # the 4 components share one decision
            q = np.sqrt((layer.weight.numpy() ** 2).sum(0))
            assert q[~m[0]].max() <= q[m[0]].min()  # the smallest |q| went
    # component granularity, by contrast, splits quaternions
    _, comp = schedule(lenet_300_100("quaternion"), rounds=3, granularity="component")
    assert not (comp["0"] == comp["0"][0]).all()


def test_whole_quaternion_ranking_by_magnitude():
    layer = nn.QLinear(4, 8)
    w = np.zeros((4, 2, 1), dtype=np.float32)
    w[:, 0, 0] = [3, 0, 0, 0]    # |q| = 3
    w[:, 1, 0] = [1, 1, 1, 1]    # |q| = 2, but every component is small
    layer.weight.data[...] = w
    model = nn.Sequential(layer)
    masks = prune.prune(model, prune.Masks.ones(model), "layerwise", rates={"0": 0.5},
                        granularity="quaternion")
    assert masks["0"][:, 0, 0].all() and not masks["0"][:, 1, 0].any()


def test_random_pruning_removes_the_same_counts_elsewhere():
    hp.manual_seed(4)
    model = lenet_300_100("real")
    ones = prune.Masks.ones(model)
    mag = prune.prune(model, ones, "layerwise")
    rnd = prune.prune(model, ones, "layerwise", method="random", seed=0)
    assert mag.remaining() == rnd.remaining()
    assert not np.array_equal(mag["0"], rnd["0"])


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW"])
def test_pruned_weights_stay_zero_through_training(opt_name):
    hp.manual_seed(5)
    model = lenet_300_100("quaternion")
    masks = prune.prune(model, prune.Masks.ones(model), "layerwise", rates=None)
    masks.apply(model)
    kwargs = dict(lr=0.05, momentum=0.9, weight_decay=1e-3) if opt_name == "SGD" \
        else dict(lr=1e-2, weight_decay=1e-3)
    opt = getattr(optim, opt_name)(model.parameters(), **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = hp.tensor(rng.standard_normal((16, 784)).astype(np.float32))
        loss = F.cross_entropy(model(x), hp.tensor(rng.integers(0, 10, 16)))
        opt.zero_grad()
        loss.backward()
        masks.apply_to_grads(model)
        opt.step()
        masks.apply(model)
        for name, layer in prune.prunable_layers(model).items():
            assert (layer.weight.numpy()[~masks[name]] == 0).all()
            assert (layer.weight.grad[~masks[name]] == 0).all()
    state = opt.state[id(model[0].weight)]
    if opt_name != "SGD":  # Adam's moments never saw a gradient for pruned weights
        assert (state["exp_avg"][~masks["0"]] == 0).all()


def test_masks_save_load_and_errors(tmp_path):
    model = lenet_300_100("real")
    masks = prune.prune(model, prune.Masks.ones(model), "layerwise")
    path = masks.save(tmp_path / "m.npz")
    again = prune.Masks.load(path)
    assert again.remaining() == masks.remaining()
    with pytest.raises(ValueError, match="masks are for layers"):
        again.apply(nn.Sequential(nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="unknown pruning strategy 'random'.*layerwise, global"):
        prune.prune(model, masks, "random")
    with pytest.raises(ValueError, match="unknown pruning granularity"):
        prune.prune(model, masks, granularity="row")


def test_model_registry_errors_list_the_choices():
    with pytest.raises(ValueError,
                       match="unknown model 'lenet5': expected one of conv2, conv4, conv6, "
                             "gpt_char, lenet_300_100, vit"):
        get_model("lenet5")
    with pytest.raises(ValueError, match="unknown algebra 'sedenion': expected one of real"):
        get_model("lenet_300_100", "sedenion")


def test_fully_quaternion_lenet_pads_to_12_classes():
    model = lenet_300_100("quaternion", fully_quaternion=True)
    out = model(hp.tensor(np.zeros((2, 784), dtype=np.float32)))
    assert out.shape == (2, 12)
    assert isinstance(model[4], nn.QLinear)


def test_qkv_scope_prunes_only_the_attention_projections():
    hp.manual_seed(6)
    model = nn.Sequential(nn.QLinear(8, 16), nn.QMultiHeadAttention(16, 2), nn.Linear(16, 4))
    masks = prune.Masks.ones(model, scope="qkv")
    assert list(masks) == ["1.q_proj", "1.k_proj", "1.v_proj"]
    rates = prune.layerwise_rates(model, rate=0.5, scope="qkv")
    assert set(rates.values()) == {0.5}  # no output-layer rate: the output is out of scope
    new = prune.prune(model, masks, "layerwise", rates=rates)
    assert all(m.mean() == 0.5 for m in new.masks.values())
    before = model[0].weight.numpy().copy()
    new.apply(model)
    np.testing.assert_array_equal(model[0].weight.numpy(), before)  # untouched
    with pytest.raises(ValueError, match="unknown pruning scope 'mlp'"):
        prune.Masks.ones(model, scope="mlp")


def test_componentwise_ranks_each_component_matrix_on_its_own():
    """Algorithm 1: each of R, I, J, K loses the same fraction of its own weights."""
    layer = nn.QLinear(8, 8)
    w = np.zeros((4, 2, 2), dtype=np.float32)
    w[0] = [[10, 11], [12, 13]]      # R: all large
    w[1] = [[0.1, 0.2], [0.3, 0.4]]  # I: all small
    w[2] = [[1, 2], [3, 4]]
    w[3] = [[5, 6], [7, 8]]
    layer.weight.data[...] = w
    model = nn.Sequential(layer)
    comp = prune.prune(model, prune.Masks.ones(model), "componentwise", rates={"0": 0.5})
    assert (comp["0"].reshape(4, -1).sum(1) == 2).all()   # 2 of 4 kept in every matrix
    assert comp["0"][0].tolist() == [[False, False], [True, True]]
    layered = prune.prune(model, prune.Masks.ones(model), "layerwise", rates={"0": 0.5})
    assert not layered["0"][1].any() and layered["0"][0].all()  # layer-wise empties I


@pytest.mark.parametrize("strategy,granularity", [("layerwise", "component"),
                                                  ("global", "quaternion"),
                                                  ("componentwise", "component")])
def test_pruning_path_on_every_backend(backend, strategy, granularity):
    """Masks.apply, Masks.apply_to_grads and prune under NumPy and the strict stand-in:
    weights and gradients stay on the device and pruned entries are exactly zero (a host
    array slipped into the pruning path fails here under strict)."""
    hp.manual_seed(0)
    model = nn.Sequential(nn.QLinear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    masks = prune.Masks.ones(model)
    for _ in range(2):
        masks = prune.prune(model, masks, strategy, fraction=0.3, granularity=granularity,
                            rates={"0": 0.3, "2": 0.3})
        masks.apply(model)
    x = hp.tensor(np.random.default_rng(1).standard_normal((5, 16)).astype(np.float32))
    model(x).sum().backward()
    masks.apply_to_grads(model)
    module = hp.get_array_module(x)
    for name, layer in prune.prunable_layers(model).items():
        for array in (layer.weight.data, layer.weight.grad):
            assert hp.get_array_module(array) is module
            assert (hp.to_numpy(array)[~masks[name]] == 0).all()
    assert 0 < masks.density() < 1
