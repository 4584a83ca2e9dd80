"""Train / validation / test splits: one dataclass and one way of holding out validation.

The validation split is a fixed random subset of the training images, the first
`validation` entries of `np.random.default_rng(seed).permutation(n)`; the rest is
`train`.  The two are disjoint, depend only on `seed` (the same for every run and
replicate, as in the papers: replicates differ in initialization and batch order, not in
their data) and keep the images' original order (shuffling is the batches' job).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import is_int


def split_indices(n: int, validation: int, seed: int = 0):
    """(train_indices, val_indices): sorted, disjoint, covering range(n); see the module
    docstring.  0 <= validation < n."""
    if not is_int(validation) or not 0 <= validation < n:
        raise ValueError(f"validation must be an integer in [0, {n}), got {validation!r}")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[validation:]), np.sort(order[:validation])


@dataclass(frozen=True)
class Splits:
    """A dataset as three (x, y) pairs, ready for training.

    `train_indices` / `val_indices` are the (sorted) positions in the original training
    set that make up each split.  `name`, `source` and `description` say what was loaded
    (e.g. "CIFAR-10 (JPEG copy)", the label to print next to results); `classes` are the
    class names when the files have them.  `splits["train"]` works like `splits.train`.
    """

    train: tuple
    val: tuple
    test: tuple
    train_indices: np.ndarray
    val_indices: np.ndarray
    name: str = ""
    source: str = ""
    description: str = ""
    classes: tuple | None = None

    def __getitem__(self, key: str) -> tuple:
        if key not in ("train", "val", "test"):
            raise KeyError(key)
        return getattr(self, key)
