"""The array library behind every tensor: NumPy, CuPy, or a strict stand-in for CuPy.

Every difference between NumPy and CuPy lives in this module, behind a named helper:

    get_array_module(*arrays)   the module (numpy | cupy | strict) that owns these arrays
    xp()                        the module of the selected backend, for creating new arrays
    asarray(data, dtype)        data on the selected backend (explicit host -> device transfer)
    to_numpy(array)             an explicit device -> host copy (CuPy's .get())
    scatter_add(a, index, v)    a[index] += v with repeated indices accumulated
    check_index_range(...)      explicit range check: CuPy *wraps* out-of-range integer
                                indices instead of raising, so the library checks itself
    rng(), manual_seed(seed)    one seeded NumPy Generator; random numbers are drawn on the
                                host and moved to the backend, so every backend sees the
                                same numbers for the same seed

Ops never import numpy as a global to compute with: they ask `get_array_module(x)` for the
module that owns their inputs (the DeZero/CuPy idiom), so the same code runs on a GPU.

Selecting a backend:  `HYPERPRUNE_BACKEND=cupy` (read once, at import), or
`hyperprune.use_backend("cupy")`, which also works as a context manager that restores the
previous choice.  The default dtype is float32; `use_backend(dtype="float64")` or
`set_default_dtype` change it.
"""
import contextlib
import functools
import os

import numpy as np

BACKENDS = ("numpy", "cupy", "strict")
_DTYPES = {"float32": np.float32, "float64": np.float64}

_state = {"name": "numpy", "module": np, "dtype": np.dtype(np.float32)}
_rng = [np.random.default_rng(0)]


def _load_cupy():
    try:
        import cupy
    except ImportError as err:  # pragma: no cover - depends on the machine
        raise RuntimeError(
            "backend 'cupy' needs CuPy: pip install 'hyperprune[gpu]' (CUDA 12) "
            f"or a CuPy wheel for your CUDA version ({err})") from err
    return cupy


def _module_for(name):
    if name == "numpy":
        return np
    if name == "cupy":
        return _load_cupy()
    if name == "strict":
        from . import strict
        return strict.module
    raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(BACKENDS)}")


def _as_dtype(dtype):
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}: expected 'float32' or 'float64'")
        return np.dtype(_DTYPES[dtype])
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"default dtype must be float32 or float64, got {dtype}")
    return dtype


class _Restore(contextlib.AbstractContextManager):
    """Returned by use_backend / set_default_dtype: `with` restores the previous state."""

    def __init__(self, previous):
        self._previous = previous

    def __exit__(self, *exc):
        _state.update(self._previous)
        return False


def use_backend(name=None, dtype=None):
    """Select the array library ('numpy', 'cupy', 'strict') and/or the default float dtype.

    Takes effect at once; used as `with use_backend("strict"): ...` it is undone on exit.
    """
    previous = dict(_state)
    if name is not None:
        _state.update(name=name, module=_module_for(name))
    if dtype is not None:
        _state["dtype"] = _as_dtype(dtype)
    return _Restore(previous)


def set_default_dtype(dtype):
    """Set the float dtype of new tensors and parameters (float32 or float64)."""
    return use_backend(dtype=dtype)


def get_default_dtype():
    return _state["dtype"]


def backend_name():
    return _state["name"]


def xp():
    """The array module of the selected backend (for creating arrays from nothing)."""
    return _state["module"]


@functools.lru_cache(maxsize=None)
def _tensor_type():
    """hyperprune.autograd.Tensor (imported on first use: autograd imports this module)."""
    from .autograd import Tensor
    return Tensor


def get_array_module(*arrays):
    """The array module owning `arrays` (Tensors and Parameters are looked through);
    NumPy for host data."""
    for a in arrays:
        if isinstance(a, _tensor_type()):  # a Tensor or a subclass: look at its array
            a = a.data
        owner = type(a).__module__
        if owner.startswith("cupy"):
            return _load_cupy()
        if owner == "hyperprune.strict":
            from . import strict
            return strict.module
    return np


def is_array(a):
    """True for an ndarray of any backend."""
    owner = type(a).__module__
    return isinstance(a, np.ndarray) or owner.startswith("cupy") or owner == "hyperprune.strict"


def asarray(data, dtype=None):
    """`data` as an array of the selected backend. Host data is copied to the device explicitly."""
    module = xp()
    if module is np:
        return np.asarray(data, dtype=dtype)
    if get_array_module(data) is module:
        return data if dtype is None else data.astype(dtype, copy=False)
    if get_array_module(data) is not np:
        raise TypeError(f"cannot move a {type(data).__name__} to backend {backend_name()!r} "
                        "implicitly; convert it with to_numpy first")
    return module.asarray(np.asarray(data, dtype=dtype))


def to_numpy(a):
    """`a` on the host (NumPy): device arrays and Tensors (Parameters too) are copied
    explicitly; NumPy arrays are returned as they are."""
    if isinstance(a, _tensor_type()):
        a = a.data
    if isinstance(a, (np.ndarray, np.generic)):
        return np.asarray(a)
    if hasattr(a, "get"):  # cupy.ndarray and the strict stand-in
        return a.get()
    return np.asarray(a)


def scatter_add(target, index, values):
    """target[index] += values, accumulating repeated indices (np.add.at / cupyx.scatter_add)."""
    module = get_array_module(target)
    if module is np or module.__name__ == "hyperprune.strict":
        module.add.at(target, index, values)
    else:  # CuPy: cupyx.scatter_add is the stable spelling across versions
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


def check_index_range(index, size, what, negative=True,
                      message="index {bad} is out of range for size {size}"):
    """Raise IndexError if an integer index array has entries outside [-size, size)
    (negative=False: outside [0, size)); the message is "{what}: " + `message` formatted
    with the offending index {bad}, {size} and the last valid index {last}.

    NumPy raises on such indices, CuPy silently wraps them around (and NumPy reads -1 as
    the last row), so code that must fail loudly on every backend checks explicitly
    (this costs a device sync on a GPU).
    """
    if index.size == 0:
        return
    lo, hi, low = int(index.min()), int(index.max()), -size if negative else 0
    if lo < low or hi >= size:
        bad = lo if lo < low else hi
        raise IndexError(f"{what}: " + message.format(bad=bad, size=size, last=size - 1))


class BufferPool:
    """Free arrays for reuse, by (array module, shape, dtype).

    A big temporary that every training step allocates anew costs more than its
    arithmetic: glibc serves allocations above 32 MiB with a fresh mmap, whose pages the
    kernel zero-fills on first touch (im2col's columns of a Conv-2 layer are 141 MB at batch
    60).  An op takes its buffer here (uninitialised) and gives it back when it no longer
    needs it; the next step gets the same pages.  At most `per_key` free arrays are kept
    for each (module, shape, dtype).  CuPy has its own memory pool; this is harmless there.
    """

    def __init__(self, per_key=2):
        self.free, self.per_key = {}, per_key

    def take(self, module, shape, dtype):
        key = (module.__name__, tuple(shape), np.dtype(dtype).str)
        stack = self.free.get(key)
        return stack.pop() if stack else module.empty(shape, dtype=dtype)

    def give(self, array):
        key = (get_array_module(array).__name__, array.shape, array.dtype.str)
        stack = self.free.setdefault(key, [])
        if len(stack) < self.per_key:
            stack.append(array)


#: The library's buffer pool (hyperprune.functional.conv takes im2col's columns from it).
buffers = BufferPool()

#: Elements per piece of an elementwise chain run piecewise (see `chunks`).
CACHE_CHUNK = 1 << 16


def chunks(size, module):
    """Slices covering range(size): pieces of CACHE_CHUNK elements on NumPy, otherwise
    one slice.

    NumPy runs every step of an elementwise chain (GELU's forward is nine) as a pass over
    whole arrays, each streaming them from memory again; run piece by piece, a chain's
    operands (64K float32 = 256 KB each) stay in the L2 cache from one step to the next
    (measured: 0.6x the time on (128, 65, 512) float32).  The values are the same bit for
    bit: every step is elementwise.  A GPU wants whole arrays."""
    step = CACHE_CHUNK if module is np else max(size, 1)
    return [slice(start, start + step) for start in range(0, size, step)]


def tune_allocator():
    """Keep freed memory for reuse instead of returning it to the OS (glibc only).

    By default glibc gives every large freed block back to the kernel and NumPy's next
    temporary of that size faults it in again, page by page: in a training loop that can
    cost more than the arithmetic (a GELU backward on (768, 512) took 5.6 ms instead of
    0.55 ms here).  This raises glibc's mmap and trim thresholds (mallopt) so blocks up to
    32 MB are recycled.  The command line calls it; a library import does not (it changes
    the whole process).  Returns False where it does not apply (not glibc).
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return mallopt(m_trim_threshold, 1 << 30) == 1 and mallopt(m_mmap_threshold, 1 << 25) == 1


def manual_seed(seed):
    """Seed the library's random generator (initialization, dropout): an int, or a
    sequence of ints (NumPy's SeedSequence entropy, e.g. (seed, level))."""
    _rng[0] = np.random.default_rng(seed)


def rng_state():
    """The library generator's state, a JSON-able dict (for checkpoints)."""
    return _rng[0].bit_generator.state


def set_rng_state(state):
    """Restore a state from rng_state(): the same draws follow, bitwise."""
    generator = np.random.default_rng()
    generator.bit_generator.state = state
    _rng[0] = generator


def rng():
    """The library's NumPy Generator (host side; move draws with `asarray`)."""
    return _rng[0]


_env_backend = os.environ.get("HYPERPRUNE_BACKEND")
if _env_backend:
    use_backend(_env_backend)
_env_dtype = os.environ.get("HYPERPRUNE_DTYPE")
if _env_dtype:
    use_backend(dtype=_env_dtype)
