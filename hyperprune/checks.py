"""Argument checks shared by the whole library: one helper per idiom.

    is_int(value)                    an integer (Python or NumPy) that is not a bool
    int_pair(value, what, minimum)   3 -> (3, 3); a pair of ints, each >= minimum
    check_choice(value, choices, what)   a clear error that lists the choices
    check_same_dtype(what, x, *params)   a layer's input and weights share one float dtype

Callers write their own messages (naming the layer, the function or the setting); these
helpers only decide.  `True` is never accepted as 1: Linear(True, 4) is an error, as is
Conv2d(True, 4, 3).
"""
import numpy as np


def is_int(value):
    """An integer (Python or NumPy), but not a bool (True would silently mean 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def int_pair(value, what, minimum=1):
    """An int or a pair of ints, each >= minimum, as a tuple: 3 -> (3, 3)."""
    values = (value, value) if is_int(value) else value
    if not (isinstance(values, (tuple, list)) and len(values) == 2
            and all(is_int(v) and v >= minimum for v in values)):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{what} must be a {kind} integer or a pair of them, got {value!r}")
    return int(values[0]), int(values[1])


def check_choice(value, choices, what, where=None):
    """Raise ValueError unless value is one of choices:
    "[where: ]unknown {what} 'x': expected one of a, b, c"."""
    if value not in choices:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}unknown {what} {value!r}: expected one of "
                         f"{', '.join(choices)}")
    return value


def check_same_dtype(what, x, *params):
    """TypeError unless the input and every (non-None) parameter have one dtype.

    NumPy would upcast a float32 layer to float64 silently when it meets float64 input
    (then compute, and return, float64 at twice the cost); PyTorch refuses.  Layers here
    refuse too: convert the input (x.astype(np.float32)) or the module (module.double())."""
    for p in params:
        if p is not None and p.dtype != x.dtype:
            raise TypeError(f"{what}: the input is {x.dtype} but the layer's weights are "
                            f"{p.dtype}; convert one of them (x.astype(...), or "
                            "module.double() / module.float()): layers do not mix dtypes")
