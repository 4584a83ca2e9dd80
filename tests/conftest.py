"""Shared fixtures: backends are test parameters, not copied files.

`backend` runs a test under NumPy, under the strict CuPy stand-in (which refuses implicit
conversion to NumPy and wraps out-of-range indices, as CuPy does), and under CuPy when a
CUDA device is present (skipped cleanly otherwise).
"""
import os

# One BLAS thread for the suite (set before NumPy loads): the tests multiply small
# matrices, where OpenBLAS's threads only add overhead, and on a busy 2-core machine their
# spinning can make a GEMM tens of times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import hyperprune as hp
from hyperprune import backend as hp_backend


def _cuda_available():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


BACKENDS = [
    "numpy",
    "strict",
    pytest.param("cupy", marks=[pytest.mark.gpu, pytest.mark.skipif(
        not _cuda_available(), reason="CuPy with a CUDA device is not available")]),
]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Select a backend for the test (restored afterwards); yields its name."""
    with hp.use_backend(request.param):
        yield request.param


@pytest.fixture(autouse=True)
def _seed():
    hp.manual_seed(0)
    yield


# A LeNet-300-100 lottery small enough for a test: one pruning round of 30 iterations on
# 600 training images (tests that need more levels or another setting override a key).
TINY_LENET_LOTTERY = dict(levels=1, iterations=30, eval_every=10, checkpoint_every=12,
                          train_subset=600, validation=500, rate=0.5, output_rate=0.25)


def make(*shape, seed=0, low=None, high=None, requires_grad=True, dtype=np.float64):
    """A float64 test tensor on the current backend, standard normal (or uniform)."""
    rng = np.random.default_rng(seed)
    host = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return hp.tensor(host.astype(dtype), requires_grad=requires_grad)


def host(x):
    """A NumPy copy of a tensor or array of any backend (the explicit transfer)."""
    return hp_backend.to_numpy(x)


def grads_of(out, g, *inputs):
    """Backward with cotangent g; the host gradients of `inputs` (then cleared)."""
    for t in inputs:
        t.grad = None
    out.backward(hp.tensor(g))
    grads = [host(t.grad) for t in inputs]
    for t in inputs:
        t.grad = None
    return grads
