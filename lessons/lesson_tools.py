"""The small helpers the lessons share, written once instead of pasted into each lesson.

* `output_dir()`: the folder the lessons save their figures in, `lessons/_output/`.
* `numerical_gradient` / `numerical_gradients`: the referee every hand-derived backward
  pass is checked against, central differences in float64.  Lesson 3 explains it (and
  lesson 2 why a step of 1e-6 is a good one in float64).
* `cmp`: one row of the comparison table the lessons print (exact / approx / max diff).

This file is not a lesson: its name does not match `NN_*.py`, so the test suite does not
run it on its own.  A lesson imports it with `from lesson_tools import ...`, which works
both when the lesson runs as a script (Python puts the script's folder on `sys.path`) and
when it is opened as a notebook (the working directory is `lessons/`).
"""
from pathlib import Path

import numpy as np


def output_dir():
    """`lessons/_output/`, created if missing: where the lessons save their figures."""
    output = Path(__file__).resolve().parent / "_output"
    output.mkdir(parents=True, exist_ok=True)
    return output


def numerical_gradient(f, array, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of `array`.

    Each entry is nudged by +eps and by -eps in place (f must read `array`), the two
    values of f are differenced, and the entry is put back.
    """
    grad = np.zeros_like(array)
    for j in np.ndindex(*array.shape):
        keep = array[j]
        array[j] = keep + eps
        plus = f()
        array[j] = keep - eps
        minus = f()
        array[j] = keep
        grad[j] = (plus - minus) / (2 * eps)
    return grad


def numerical_gradients(loss, arrays, eps=1e-6):
    """Central differences of the scalar loss(*arrays) with respect to each array."""
    return [numerical_gradient(lambda: loss(*arrays), array, eps) for array in arrays]


def cmp(name, ours, reference, rtol=1e-6, atol=1e-8):
    """Print one row of the comparison table; return True when the two agree up to
    rounding (np.allclose with rtol, atol)."""
    assert ours.shape == reference.shape, (name, ours.shape, reference.shape)
    exact = bool(np.array_equal(ours, reference))
    approx = bool(np.allclose(ours, reference, rtol=rtol, atol=atol))
    maxdiff = float(np.abs(ours - reference).max())
    print(f"{name:<10} | exact: {exact!s:<5} | approx: {approx!s:<5} | maxdiff: {maxdiff:.1e}")
    return approx
