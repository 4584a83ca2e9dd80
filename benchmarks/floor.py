"""The GEMM floor of a training step: the step's matrix products alone, same shapes, same
layouts, in the same process.

    products = record(make_step)     # make_step() builds a model and returns step()
    floor = Floor(products)
    floor.time()                     # seconds for all of them, once
    floor.gflop                      # their arithmetic: 2 m n k per product

`record` builds and runs one step under the strict backend (hyperprune.strict: NumPy data
behind device-like arrays), whose operators and functions pass through one place, and
notes every matrix product there -- the `@` operator, matmul, dot and tensordot --
with its operands' shapes, dtypes and memory layouts (which axis is contiguous: a
transposed operand is a different GEMM call for BLAS) and its keyword arguments.  `Floor`
replays them on NumPy arrays of the same shapes and layouts.  Nothing is assumed about a
model's layers, so the floor of any step (convolutions as im2col products, attention's
batched products, the Hamilton products' block GEMMs) is measured the same way.

Time step and floor alternately and report the median of their paired ratios: both see
the same machine load, which a ratio cancels.
"""
import statistics
import time
from contextlib import contextmanager

import numpy as np

import hyperprune as hp
from hyperprune import strict

PRODUCTS = ("matmul", "dot", "tensordot")


def _layout(a):
    """(shape, dtype, axis order from the largest stride to the smallest): an array made
    C-contiguous in that axis order, then transposed back, has the same memory layout
    (for the permuted-contiguous views the library's products use)."""
    if not isinstance(a, strict.ndarray):
        return a                                # tensordot's axes, ...
    order = tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))
    return ("array", a.shape, a.dtype.str, order)


def _build(spec, rng):
    if not (isinstance(spec, tuple) and spec and spec[0] == "array"):
        return spec
    _, shape, dtype, order = spec
    base = rng.standard_normal([shape[i] for i in order]).astype(dtype)
    return base.transpose(np.argsort(order))


@contextmanager
def _recording(log):
    """Patch the strict array's @ and the strict module's product functions to log."""
    saved_mm, saved_rmm = strict.ndarray.__matmul__, strict.ndarray.__rmatmul__
    saved_special = dict(strict._Module._special)

    def operator(a, b):
        log.append(("matmul", (_layout(a), _layout(b)), {}))
        return saved_mm(a, b)

    def roperator(b, a):
        log.append(("matmul", (_layout(a), _layout(b)), {}))
        return saved_rmm(b, a)

    def function(name):
        inner = getattr(strict.module, name)

        def call(*args, **kwargs):
            kw = {k: _layout(v) for k, v in kwargs.items()}
            log.append((name, tuple(_layout(a) for a in args), kw))
            return inner(*args, **kwargs)
        return call
    strict.ndarray.__matmul__, strict.ndarray.__rmatmul__ = operator, roperator
    for name in PRODUCTS:
        strict._Module._special[name] = function(name)
    try:
        yield
    finally:
        strict.ndarray.__matmul__, strict.ndarray.__rmatmul__ = saved_mm, saved_rmm
        strict._Module._special.clear()
        strict._Module._special.update(saved_special)


def record(make_step, warmup=1):
    """The matrix products of one step: make_step() is called under the strict backend and
    returns step(); after `warmup` unrecorded steps (an optimizer's first step may differ),
    one step is recorded.  Returns [(function name, args, kwargs)] with arrays as layouts."""
    log = []
    with hp.use_backend("strict"):
        step = make_step()
        for _ in range(warmup):
            step()
        with _recording(log):
            step()
    if not log:
        raise ValueError("record: the step computed no matrix product")
    return log


def _flops(name, args, result):
    """2 x (the result's size) x (the contracted length) of one product."""
    a = args[0]
    if name == "tensordot":
        axes = args[2] if len(args) > 2 else 2
        contracted = [a.shape[i] for i in axes[0]] if isinstance(axes, (tuple, list)) \
            else a.shape[a.ndim - int(axes):]
        return 2.0 * result.size * float(np.prod(contracted))
    return 2.0 * result.size * a.shape[-1]


class Floor:
    """The recorded products, replayed on NumPy arrays of the same shapes and layouts."""

    def __init__(self, products, seed=0):
        rng = np.random.default_rng(seed)
        self.calls = []
        for name, args, kwargs in products:
            fn = np.matmul if name == "matmul" else getattr(np, name)
            self.calls.append((fn, tuple(_build(a, rng) for a in args),
                               {k: _build(v, rng) for k, v in kwargs.items()}))
        self.gflop = sum(_flops(fn.__name__, args, fn(*args, **kw))
                         for fn, args, kw in self.calls) / 1e9

    def __len__(self):
        return len(self.calls)

    def time(self):
        """Seconds to compute every product once."""
        start = time.perf_counter()
        for fn, args, kwargs in self.calls:
            fn(*args, **kwargs)
        return time.perf_counter() - start


def step_over_floor(step, floor, repeats):
    """Time step() and the floor alternately `repeats` times: (median step seconds, median
    floor seconds, median of the paired ratios step / floor)."""
    step()
    floor.time()
    steps, floors = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        steps.append(time.perf_counter() - start)
        floors.append(floor.time())
    return (statistics.median(steps), statistics.median(floors),
            statistics.median(s / f for s, f in zip(steps, floors)))
