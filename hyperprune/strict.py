"""A strict stand-in for CuPy, so the GPU code path is tested on machines without a GPU.

`use_backend("strict")` makes every new array a `strict.ndarray`: a thin wrapper around a
NumPy array that keeps the rules of CuPy that bite when code is written for NumPy only:

* no implicit conversion to NumPy: `np.asarray(x)`, `np.exp(x)`, `x + numpy_array` raise
  TypeError, as `cupy.ndarray` does ("Implicit conversion to a NumPy array is not allowed").
  Moving data is explicit: `backend.asarray(host)` in, `x.get()` / `backend.to_numpy(x)` out.
* reductions return 0-d arrays, not NumPy scalars (as CuPy's do).
* integer-array indices that are out of range *wrap around* instead of raising (CuPy's
  documented behaviour), so a missing explicit range check shows up as a wrong answer in
  tests instead of an IndexError that only NumPy would raise.

It is stricter than CuPy in one way: NumPy functions never dispatch to it (no
`__array_function__`), so library code must take its array module from `get_array_module`.
It is a test tool, not a fast path: everything runs on NumPy underneath.
"""
import numbers
import types

import numpy as np

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed on the strict backend "
             "(as with CuPy): use hyperprune.backend.to_numpy(x) or x.get()")


def _unwrap(value):
    """Strict arrays -> their NumPy data; NumPy arrays are refused (they live on the 'host')."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, np.ndarray):
        raise TypeError("a numpy.ndarray was mixed with strict (device) arrays; "
                        "move it with hyperprune.backend.asarray first")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return ndarray(np.asarray(value))  # CuPy reductions give 0-d arrays
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _index_array(part):
    if isinstance(part, ndarray):
        return part._a
    if isinstance(part, (np.ndarray, list)):
        return np.asarray(part)
    return None


def _wrap_key(key, shape):
    """Make out-of-range integer-array indices wrap around, as CuPy does."""
    parts = list(key) if isinstance(key, tuple) else [key]
    consumed = sum(1 if p is not None and p is not Ellipsis else 0 for p in parts)
    for p in parts:
        arr = _index_array(p)
        if arr is not None and arr.dtype == bool:
            consumed += arr.ndim - 1
    out, axis = [], 0
    for p in parts:
        if p is Ellipsis:
            axis += len(shape) - consumed
            out.append(p)
            continue
        if p is None:
            out.append(p)
            continue
        arr = _index_array(p)
        if arr is None:
            out.append(p)
            axis += 1
        elif arr.dtype == bool:
            out.append(arr)
            axis += arr.ndim
        else:
            out.append(np.mod(arr, shape[axis]) if arr.size and shape[axis] else arr)
            axis += 1
    return tuple(out)


class ndarray:
    """A device-like array: NumPy data behind CuPy's rules (see the module docstring)."""

    __slots__ = ("_a",)
    __array_ufunc__ = None  # NumPy ufuncs and operators refuse us instead of converting
    __hash__ = None

    def __init__(self, array):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"strict.ndarray wraps a numpy.ndarray, got {type(array).__name__}")
        self._a = array

    def __array__(self, *args, **kwargs):
        raise TypeError(_IMPLICIT)

    def get(self):
        """Explicit copy to the host, as cupy.ndarray.get()."""
        return self._a.copy()

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))

    def __getattr__(self, name):
        if name.startswith("__"):  # never leak __array_interface__ & co: NumPy would use them
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return lambda *args, **kwargs: _wrap(attr(*_unwrap(args), **_unwrap_kw(kwargs)))
        return _wrap(attr)

    def __getitem__(self, key):
        return _wrap(self._a[_wrap_key(key, self.shape)])

    def __setitem__(self, key, value):
        self._a[_wrap_key(key, self.shape)] = _unwrap(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return "strict." + repr(self._a)

    __str__ = __repr__


def _unwrap_kw(kwargs):
    return {k: _unwrap(v) for k, v in kwargs.items()}


def _binary(name):
    def method(self, other):
        if not isinstance(other, (ndarray, numbers.Number, np.generic)):
            if isinstance(other, np.ndarray):
                raise TypeError(f"unsupported operand: strict.ndarray {name} numpy.ndarray "
                                "(mixing device and host arrays, as CuPy refuses)")
            return NotImplemented
        return _wrap(getattr(self._a, name)(_unwrap(other)))
    method.__name__ = name
    return method


def _inplace(name):
    def method(self, other):
        _binary(name)(self, other)  # checks and performs the in-place update on self._a
        return self
    method.__name__ = name
    return method


def _unary(name):
    def method(self):
        return _wrap(getattr(self._a, name)())
    method.__name__ = name
    return method


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
            "and", "or", "xor", "lshift", "rshift"):
    setattr(ndarray, f"__{_op}__", _binary(f"__{_op}__"))
    setattr(ndarray, f"__r{_op}__", _binary(f"__r{_op}__"))
    setattr(ndarray, f"__i{_op}__", _inplace(f"__i{_op}__"))
for _op in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_op}__", _binary(f"__{_op}__"))
for _op in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_op}__", _unary(f"__{_op}__"))


class _Function:
    """A NumPy function lifted to strict arrays: unwrap the inputs, call, wrap the outputs."""

    def __init__(self, fn, allow_host=False):
        self._fn = fn
        self._allow_host = allow_host
        self.__name__ = getattr(fn, "__name__", "function")

    def __call__(self, *args, **kwargs):
        if self._allow_host:  # asarray/array: the explicit host -> device transfer
            args = tuple(a._a if isinstance(a, ndarray) else a for a in args)
            return _wrap(np.asarray(self._fn(*args, **kwargs)))
        return _wrap(self._fn(*_unwrap(args), **_unwrap_kw(kwargs)))

    def __getattr__(self, name):  # ufunc methods: np.add.at, np.maximum.reduce, ...
        return _Function(getattr(self._fn, name))


def _take_along_axis(a, indices, axis):
    a, indices = _unwrap(a), _unwrap(indices)
    return _wrap(np.take_along_axis(a, np.mod(indices, a.shape[axis]), axis))


def _take(a, indices, axis=None, **kwargs):
    a, indices = _unwrap(a), _unwrap(indices)
    size = a.size if axis is None else a.shape[axis]
    return _wrap(np.take(a, np.mod(indices, size), axis=axis, **kwargs))


class _Module(types.ModuleType):
    """The `xp` of the strict backend: numpy's namespace with every function lifted."""

    _special = {"take_along_axis": _take_along_axis, "take": _take}

    def __init__(self, name, inner):
        super().__init__(name)
        self._inner = inner
        self.ndarray = ndarray

    def __getattr__(self, name):
        if name in self._special:
            return self._special[name]
        attr = getattr(self._inner, name)
        if isinstance(attr, types.ModuleType):
            return _Module(f"{self.__name__}.{name}", attr)
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes, constants
        return _Function(attr, allow_host=name in ("asarray", "array", "asanyarray"))


module = _Module("hyperprune.strict", np)
