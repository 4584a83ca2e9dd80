"""Optimizers against their textbook update rules (torch.optim's documented algorithms)."""
import numpy as np
import pytest

import hyperprune as hp
from hyperprune import functional as F, nn, optim
from conftest import host


def quadratic_grads(p):
    """Gradient of 0.5 * sum(a * p^2) + sum(p), a fixed function of p."""
    a = np.linspace(0.5, 2.0, p.size).reshape(p.shape)
    return a * p + 1.0


def run(opt_factory, steps=5):
    p = hp.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
    opt = opt_factory([p])
    data = p.data
    for _ in range(steps):
        p.grad = hp.backend.asarray(quadratic_grads(host(p.data)))
        opt.step()
    assert p.data is data  # updated in place
    return host(p.data)


def reference_sgd(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False, steps=5):
    p = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    buf = None
    for _ in range(steps):
        g = quadratic_grads(p) + wd * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def reference_adam(lr, b1, b2, eps, wd=0.0, decoupled=False, steps=5):
    p = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = quadratic_grads(p)
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("kwargs", [dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.1),
                                    dict(momentum=0.9, nesterov=True), dict(weight_decay=0.1),
                                    dict(momentum=0.5, weight_decay=0.1, nesterov=True)])
def test_sgd(backend, kwargs):
    ours = run(lambda ps: optim.SGD(ps, lr=0.1, **kwargs))
    ref = reference_sgd(0.1, kwargs.get("momentum", 0), kwargs.get("dampening", 0),
                        kwargs.get("weight_decay", 0), kwargs.get("nesterov", False))
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam(backend, wd):
    ours = run(lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=wd))
    np.testing.assert_allclose(ours, reference_adam(0.01, 0.8, 0.9, 1e-6, wd), rtol=1e-10)


def test_adamw(backend):
    ours = run(lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.5))
    ref = reference_adam(0.01, 0.9, 0.999, 1e-8, 0.5, decoupled=True)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_state_dict_resume_gives_the_same_trajectory():
    full = run(lambda ps: optim.Adam(ps, lr=0.05), steps=6)
    p = hp.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
    opt = optim.Adam([p], lr=0.05)
    for _ in range(3):
        p.grad = quadratic_grads(p.data)
        opt.step()
    saved = opt.state_dict()
    q = hp.tensor(p.data.copy(), requires_grad=True)
    opt2 = optim.Adam([q], lr=0.05)
    opt2.load_state_dict(saved)
    for _ in range(3):
        q.grad = quadratic_grads(q.data)
        opt2.step()
    np.testing.assert_array_equal(q.data, full)


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a = hp.tensor(np.ones(2), requires_grad=True)
    b = hp.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a, b], lr=1.0)
    a.grad = np.ones(2)
    opt.step()
    assert a.data.tolist() == [0, 0] and b.data.tolist() == [1, 1]
    opt.zero_grad()
    assert a.grad is None


def test_argument_errors():
    p = hp.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Parameters"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW"])
def test_training_reduces_the_loss(backend, opt_name):
    hp.manual_seed(0)
    rng = np.random.default_rng(0)
    x = hp.tensor(rng.standard_normal((64, 8)).astype(np.float32))
    y = hp.tensor((host(x.data)[:, :4].sum(1) > 0).astype(np.int64) * 2)
    model = nn.Sequential(nn.QLinear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    kwargs = dict(lr=0.1, momentum=0.9) if opt_name == "SGD" else dict(lr=0.01)
    opt = getattr(optim, opt_name)(model.parameters(), **kwargs)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("opt_name,wd", [("Adam", 0.0), ("Adam", 0.1), ("AdamW", 0.1)])
def test_adam_in_pieces_is_bitwise_the_whole_array_update(monkeypatch, opt_name, wd):
    """Adam runs its chain of in-place steps piece by piece (cache-sized pieces): every
    element sees the same operations, so the weights are equal bit for bit to one
    whole-array pass (here: 7-element pieces against one piece)."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((37, 11)).astype(np.float32)
    grads = rng.standard_normal((4, 37, 11)).astype(np.float32)

    def train():
        p = hp.tensor(start.copy(), requires_grad=True)
        opt = getattr(optim, opt_name)([p], lr=0.01, weight_decay=wd)
        for g in grads:
            p.grad = g.T.copy().T         # a non-contiguous gradient is read correctly too
            opt.step()
        return p.data
    whole = train()
    monkeypatch.setattr(hp.backend, "CACHE_CHUNK", 7)
    assert np.array_equal(train(), whole)
    assert not np.array_equal(whole, start)
