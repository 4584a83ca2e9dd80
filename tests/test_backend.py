"""Backend selection and the strict CuPy stand-in.

The strict backend must behave like CuPy where NumPy-only code would break: no implicit
conversion to NumPy, no mixing with host arrays, 0-d arrays from reductions, and integer
indices that wrap around instead of raising.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import backend, functional as F, nn, strict
from conftest import _cuda_available

xp = strict.module


def test_default_is_numpy_float32():
    assert backend.backend_name() == "numpy"
    assert backend.xp() is np
    assert hp.get_default_dtype() == np.float32


def test_use_backend_is_restorable():
    with hp.use_backend("strict", dtype="float64"):
        assert backend.backend_name() == "strict"
        assert isinstance(hp.tensor([1.0]).data, strict.ndarray)
        assert hp.tensor([1.0]).dtype == np.float64
    assert backend.backend_name() == "numpy" and hp.get_default_dtype() == np.float32


def test_bad_choices_are_named():
    with pytest.raises(ValueError, match="unknown backend 'jax'"):
        hp.use_backend("jax")
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        hp.use_backend(dtype="float16")


def test_environment_variable_selects_the_backend():
    code = ("import hyperprune as hp, hyperprune.backend as b; "
            "print(b.backend_name(), type(hp.tensor([1.0]).data).__module__)")
    env = dict(os.environ, HYPERPRUNE_BACKEND="strict")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["strict", "hyperprune.strict"]


def test_strict_refuses_implicit_conversion():
    a = xp.asarray(np.arange(6.0).reshape(2, 3))
    for convert in (np.asarray, np.array, np.exp, lambda v: np.concatenate([v, v])):
        with pytest.raises(TypeError):
            convert(a)
    with pytest.raises(TypeError, match="mixing device and host"):
        a + np.ones(3)
    with pytest.raises(TypeError):
        np.ones(3) + a
    with pytest.raises(TypeError, match="numpy.ndarray was mixed"):
        xp.maximum(a, np.zeros(3))


def test_strict_explicit_transfers_and_scalars_work():
    a = xp.asarray(np.arange(6.0).reshape(2, 3))
    assert isinstance(a.get(), np.ndarray)
    np.testing.assert_array_equal(backend.to_numpy(a), np.arange(6.0).reshape(2, 3))
    total = a.sum()
    assert isinstance(total, strict.ndarray) and total.shape == ()  # 0-d, like CuPy
    assert float(total) == 15.0
    assert isinstance(a * np.float32(2.0) + 1, strict.ndarray)  # NumPy scalars are fine


def test_strict_wraps_out_of_range_integer_indices_like_cupy():
    """The reason hyperprune range-checks indices itself (cross_entropy, getitem)."""
    a = xp.asarray(np.array([10.0, 20.0, 30.0]))
    assert backend.to_numpy(a[xp.asarray(np.array([3, -4]))]).tolist() == [10.0, 30.0]
    t = xp.take_along_axis(xp.asarray(np.array([[1.0, 2.0]])), xp.asarray(np.array([[2]])), 1)
    assert float(t[0, 0]) == 1.0


def test_ops_on_strict_tensors_stay_on_the_device():
    with hp.use_backend("strict"):
        x = hp.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
                      requires_grad=True)
        layer = nn.QLinear(12, 8)
        y = F.cross_entropy(layer(F.concatenate([x, x, x, x], axis=1)),
                            hp.tensor(np.array([0, 1, 2, 7])))
        y.backward()
        for t in (y, x.grad, layer.weight.grad, layer.bias.grad):
            data = t.data if isinstance(t, hp.Tensor) else t
            assert isinstance(data, strict.ndarray)


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="CuPy with a CUDA device is not available")
def test_cupy_round_trip():  # pragma: no cover - needs a GPU
    import cupy
    with hp.use_backend("cupy"):
        x = hp.tensor([1.0, 2.0], requires_grad=True)
        assert isinstance(x.data, cupy.ndarray)
        (x * x).sum().backward()
        np.testing.assert_array_equal(backend.to_numpy(x.grad), [2.0, 4.0])


def test_parameters_are_seen_as_tensors():
    """A Parameter is a Tensor: get_array_module and to_numpy look through it to its array
    (they once recognised Tensors by their module's name and missed nn.Parameter)."""
    with hp.use_backend("strict"):
        layer = nn.Linear(3, 2)
        assert hp.get_array_module(layer.weight) is strict.module
        host = hp.to_numpy(layer.weight)
        assert type(host) is np.ndarray and host.dtype == np.float32 and host.shape == (2, 3)
        np.testing.assert_array_equal(host, layer.weight.data.get())
    assert hp.get_array_module(nn.Linear(3, 2).weight) is np
