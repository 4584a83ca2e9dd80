"""Modules: registration, traversal, modes, state dicts, saving without pickle."""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn
from conftest import host


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.QLinear(8, 12)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(12, 3)
        self.register_buffer("mask", np.ones((3, 12), dtype=np.float32))

    def forward(self, x):
        return self.fc2(self.drop(self.act(self.fc1(x))))


def test_parameters_are_registered_in_order():
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert m.num_parameters() == 4 * 3 * 2 + 12 + 36 + 3
    assert [n for n, _ in m.named_buffers()] == ["mask"]
    assert len(list(m.modules())) == 5 and len(list(m.children())) == 4


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(4, 4)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2


def test_train_eval_reaches_every_module():
    m = TwoLayer()
    x = hp.tensor(np.ones((4, 8), dtype=np.float32))
    m.eval()
    assert not m.drop.training
    np.testing.assert_array_equal(m(x).numpy(), m(x).numpy())  # dropout off: deterministic
    m.train()
    assert m.drop.training and m.fc1.training


def test_state_dict_is_a_copy_and_round_trips(tmp_path):
    hp.manual_seed(1)
    a = TwoLayer()
    state = a.state_dict()
    a.fc1.weight.data += 1.0  # an in-place update must not reach the saved state
    assert not np.allclose(state["fc1.weight"], a.fc1.weight.numpy())
    hp.manual_seed(2)
    b = TwoLayer()
    weight_array = b.fc1.weight.data
    b.load_state_dict(state)
    assert b.fc1.weight.data is weight_array  # loaded in place: optimizers keep working
    np.testing.assert_array_equal(b.fc1.weight.numpy(), state["fc1.weight"])
    path = b.save(tmp_path / "model.npz")
    c = TwoLayer()
    c.load(path)
    for (n1, p1), (n2, p2) in zip(b.named_parameters(), c.named_parameters()):
        assert n1 == n2
        np.testing.assert_array_equal(p1.numpy(), p2.numpy())


def test_load_state_dict_errors(tmp_path):
    m = TwoLayer()
    state = m.state_dict()
    with pytest.raises(KeyError, match=r"missing keys \['fc2.bias'\]"):
        m.load_state_dict({k: v for k, v in state.items() if k != "fc2.bias"})
    with pytest.raises(ValueError, match=r"fc2.bias has shape \(4,\) in the state, \(3,\)"):
        m.load_state_dict({**state, "fc2.bias": np.zeros(4)})
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a valid .npz"):
        m.load(bad)


def test_save_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        nn.Linear(2, 2).load(path, strict=False)


def test_save_is_atomic(tmp_path, monkeypatch):
    """A failure while writing leaves the previous file intact and no temporary behind."""
    m = nn.Linear(3, 2)
    path = m.save(tmp_path / "m.npz")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(KeyboardInterrupt):
        m.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_module_without_super_init_gets_a_clear_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(RuntimeError, match="call super"):
        Forgetful()


def test_sequential_and_flatten(backend):
    seq = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.GELU(), nn.Linear(4, 2))
    x = hp.tensor(np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32))
    assert seq(x).shape == (5, 2)
    assert len(seq) == 4 and isinstance(seq[1], nn.Linear)
    assert "Linear(in_features=12, out_features=4, bias=True)" in repr(seq)
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), F.relu)


def test_module_to_float64_and_zero_grad():
    m = TwoLayer().double()
    assert all(p.dtype == np.float64 for p in m.parameters())
    x = hp.tensor(np.ones((2, 8)))
    m.eval()
    m(x).sum().backward()
    assert m.fc1.weight.grad is not None
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_linear_argument_errors():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="unknown init 'orthogonal'"):
        nn.Linear(3, 3, init="orthogonal")
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        nn.Dropout(-0.1)


def test_layers_on_the_strict_backend(backend):
    m = TwoLayer()
    x = hp.tensor(np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32))
    loss = F.cross_entropy(m(x), hp.tensor(np.array([0, 1, 2, 0])))
    loss.backward()
    assert all(host(p.grad).shape == p.shape for p in m.parameters())


def test_a_bool_is_not_a_size():
    """True is not 1: every layer refuses a bool size, Linear as Conv2d."""
    for build in (lambda: nn.Linear(True, 4), lambda: nn.Conv2d(True, 4, 3),
                  lambda: nn.QLinear(4, True), lambda: nn.LayerNorm(True)):
        with pytest.raises(ValueError, match="True"):
            build()


def test_replacing_a_submodule_keeps_its_place():
    """Reassigning a child (as quantize.phm_as_matrix does) must not move it to the end of
    a Sequential."""
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    seq[0]  # noqa: B018
    setattr(seq, "0", nn.Linear(4, 3))
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert list(dict(seq.named_parameters())) == ["0.weight", "0.bias", "2.weight", "2.bias"]
