"""The benchmarks' GEMM floor records exactly the products a step computes."""
import sys
from pathlib import Path

import numpy as np

import hyperprune as hp
from hyperprune import nn, optim
from hyperprune import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import floor  # noqa: E402


def test_a_two_layer_step_records_its_five_products_with_their_layouts():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    y = rng.integers(0, 3, 6)

    def make_step():
        hp.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step():
            loss = F.cross_entropy(model(hp.tensor(x)), hp.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    products = floor.record(make_step)
    shapes = sorted((a[1], b[1]) for _, (a, b), _ in products)
    # forward x W1^T, h W2^T; backward dW2 = g^T h, dh = g W2, dW1 = g1^T x (no dL/dx)
    assert shapes == sorted([((6, 5), (5, 4)), ((6, 4), (4, 3)), ((3, 6), (6, 4)),
                             ((6, 3), (3, 4)), ((4, 6), (6, 5))])
    transposed = [a for _, (a, b), _ in products if a[1] == (3, 6)][0]
    assert transposed[3] == (1, 0)                      # g^T: a transposed view
    f = floor.Floor(products)
    assert len(f) == 5 and f.time() > 0
    assert np.isclose(f.gflop * 1e9, 2 * (6 * 5 * 4 + 6 * 4 * 3 + 3 * 6 * 4 + 6 * 3 * 4
                                          + 4 * 6 * 5))


def test_every_benchmark_step_can_be_recorded(monkeypatch):
    """Each benchmark's own step runs under the strict backend, where the floor records it
    (host labels must be moved explicitly there): the ViT's and gpt_char's, smaller."""
    import bench_transformer
    from hyperprune.models import gpt_char, vit
    monkeypatch.setattr(bench_transformer, "vit", lambda algebra: vit(
        algebra, depth=1, dim=16, heads=2, mlp_dim=16))
    monkeypatch.setattr(bench_transformer, "gpt_char", lambda algebra: gpt_char(
        algebra, n_layer=1, n_embd=16, n_head=2))
    for name, (setup, *_) in bench_transformer.BENCHES.items():
        for algebra in ("real", "quaternion"):
            def make_step():
                step = setup(algebra, np.random.default_rng(0))
                return lambda: step(0)
            assert len(floor.record(make_step)) > 0
