"""Mini-batches: resumable streams of training batches, and fixed evaluation samples.

Plain NumPy on host arrays; the training code moves each batch to the selected backend.

    batches(x, y, batch_size, ...)          one epoch of (xb, yb) mini-batches of examples
    iterate_batches(x, y, ...)              an endless, resumable stream across epochs
    lm_batch(data, T, B, seed, i)           the (x, y) language-modelling batch of iteration i
    lm_batches(data, T, B, seed, k)         an endless, resumable stream of them from i = k
    eval_batches(data, T, B, n, seed)       a fixed, seeded evaluation sample of n batches

Resumable means: iteration i's batch depends only on (seed, i) -- through the epoch's
permutation, seeded by (seed, epoch), or the window offsets, seeded by (seed, i) -- so a
run resumed at iteration k sees exactly the batches an uninterrupted run would.

Language-modelling batches
--------------------------
For ids `data` (1-D, length n), a batch of B sequences of length T (the block size):

    offsets = np.random.default_rng([seed, i]).integers(0, n - T, size=B)
    x[b] = data[offsets[b] : offsets[b] + T]
    y[b] = data[offsets[b] + 1 : offsets[b] + T + 1]       (the next character of each x)

x and y are int64 (B, T).  Like nanoGPT's get_batch the offsets are drawn with
replacement, but from a generator seeded by (seed, iteration) rather than one advancing
stream: iteration i's batch depends on nothing else, so a run resumed at iteration k
sees exactly the batches an uninterrupted run would.  Evaluation batch j is drawn the same
way from `np.random.default_rng([seed, j, EVAL_STREAM])`; the third word keeps the
evaluation sample apart from the training stream of the same seed (a trailing zero
would not: SeedSequence treats [s, j] and [s, j, 0] alike).
"""
import numpy as np

from ..checks import is_int

#: Third seed word of evaluation batches ("eval" in ASCII); see the module docstring.
EVAL_STREAM = 0x6576616C


def _check_batch_args(x, y, batch_size, seed, epoch=0, start_iteration=0) -> int:
    """Validate the common arguments of `batches` / `iterate_batches`; return len(x)."""
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    # (np.random.default_rng([seed, epoch]) needs non-negative integers.)
    for label, value in (("seed", seed), ("epoch", epoch), ("start_iteration", start_iteration)):
        if not is_int(value) or value < 0:
            raise ValueError(f"{label} must be a non-negative integer, got {value!r}")
    return len(x)


def _epoch_order(n: int, shuffle: bool, seed: int, epoch: int):
    """The example order of one epoch: a permutation seeded by (seed, epoch), or None
    (meaning 0..n-1) when not shuffling.  Seeding by the pair rather than advancing one
    generator makes every epoch reproducible on its own, which is what makes resuming
    possible without replaying earlier epochs."""
    if not shuffle:
        return None
    return np.random.default_rng([seed, epoch]).permutation(n)


def _num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def _take(x, y, order, start: int, stop: int):
    """Batch [start, stop) of an epoch: slices (views) when unshuffled, else gathered copies."""
    if order is None:
        return x[start:stop], y[start:stop]
    idx = order[start:stop]
    return x[idx], y[idx]


def batches(x, y, batch_size: int, shuffle: bool = True, seed: int = 0, epoch: int = 0,
            drop_last: bool = False):
    """One epoch of mini-batches: an iterator of (xb, yb) with xb = x[idx], yb = y[idx].

    With `shuffle`, the order is `np.random.default_rng([seed, epoch]).permutation(len(x))`:
    a different order each epoch, but the same one for the same (seed, epoch).  Without
    it the batches are consecutive slices (views of x and y).  The last batch is smaller
    when len(x) is not a multiple of `batch_size`, unless `drop_last` drops it.

    Arguments are validated immediately (not at the first `next()`), so mistakes surface
    where the call is made.
    """
    n = _check_batch_args(x, y, batch_size, seed, epoch)
    order = _epoch_order(n, shuffle, seed, epoch)
    count = _num_batches(n, batch_size, drop_last)

    def generate():
        for b in range(count):
            yield _take(x, y, order, b * batch_size, min((b + 1) * batch_size, n))

    return generate()


class BatchIterator:
    """An endless stream of mini-batches across epochs, for iteration-based training.

    Iteration `it` is batch `it % batches_per_epoch` of epoch `it // batches_per_epoch`,
    where epochs are exactly those of `batches(x, y, batch_size, shuffle, seed, epoch,
    drop_last)`.  Because each epoch's order depends only on (seed, epoch), starting at
    `start_iteration=k` yields exactly what an uninterrupted run yields from its k-th batch
    on: to resume, save `iteration` (the index of the next batch) in the checkpoint.

    Attributes:
        iteration: index of the batch the next `next()` returns.
        epoch: the epoch of that batch.
        batches_per_epoch: number of batches in one epoch.
    """

    def __init__(self, x, y, batch_size: int, seed: int = 0, start_iteration: int = 0,
                 shuffle: bool = True, drop_last: bool = False):
        self.n = _check_batch_args(x, y, batch_size, seed, start_iteration=start_iteration)
        self.batches_per_epoch = _num_batches(self.n, batch_size, drop_last)
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"an epoch has no batches ({self.n} examples, batch_size={batch_size}, "
                f"drop_last={drop_last}); an endless stream needs at least one"
            )
        self.x, self.y = x, y
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.iteration = int(start_iteration)
        self._order_epoch, self._order = None, None  # the cached permutation of one epoch

    @property
    def epoch(self) -> int:
        return self.iteration // self.batches_per_epoch

    def __iter__(self):
        return self

    def __next__(self):
        epoch, b = divmod(self.iteration, self.batches_per_epoch)
        if epoch != self._order_epoch:  # a new epoch: draw (once) its permutation
            self._order = _epoch_order(self.n, self.shuffle, self.seed, epoch)
            self._order_epoch = epoch
        start = b * self.batch_size
        batch = _take(self.x, self.y, self._order, start, min(start + self.batch_size, self.n))
        self.iteration += 1
        return batch


def iterate_batches(x, y, batch_size: int, seed: int = 0, start_iteration: int = 0,
                    shuffle: bool = True, drop_last: bool = False) -> BatchIterator:
    """An endless, resumable stream of (xb, yb) batches; see `BatchIterator`."""
    return BatchIterator(x, y, batch_size, seed=seed, start_iteration=start_iteration,
                         shuffle=shuffle, drop_last=drop_last)


def _check_lm_args(data, block_size, batch_size, **non_negative) -> np.ndarray:
    """Validate the arguments of the batch functions; return data as a 1-D integer array."""
    data = np.asarray(data)
    if data.ndim != 1 or data.dtype == bool or not np.issubdtype(data.dtype, np.integer):
        raise ValueError(f"data must be a 1-D array of integer ids, got shape {data.shape} "
                         f"of {data.dtype}")
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not is_int(block_size) or not 1 <= block_size < len(data):
        raise ValueError(
            f"block_size must be an integer with 1 <= block_size < len(data) = {len(data)} "
            f"(each sequence needs block_size + 1 ids: its inputs and the next character), "
            f"got {block_size!r}"
        )
    # (np.random.default_rng([seed, i]) needs non-negative integers.)
    for label, value in non_negative.items():
        if not is_int(value) or value < 0:
            raise ValueError(f"{label} must be a non-negative integer, got {value!r}")
    return data


def _gather(data: np.ndarray, rng: np.random.Generator, block_size: int, batch_size: int):
    """Draw `batch_size` offsets from `rng`; return x, y int64 (batch_size, block_size)."""
    offsets = rng.integers(0, len(data) - block_size, size=batch_size)
    idx = offsets[:, None] + np.arange(block_size)
    return data[idx].astype(np.int64, copy=False), data[idx + 1].astype(np.int64, copy=False)


def lm_batch(data, block_size: int, batch_size: int, seed: int, iteration: int):
    """The (x, y) training batch of `iteration`: int64 (batch_size, block_size), y[:, t] =
    the character after x[:, t]; offsets from `np.random.default_rng([seed, iteration])`
    (see the module docstring).  What `lm_batches` yields at that iteration."""
    data = _check_lm_args(data, block_size, batch_size, seed=seed, iteration=iteration)
    return _gather(data, np.random.default_rng([seed, iteration]), block_size, batch_size)


class LMBatchIterator:
    """An endless stream of language-modelling batches; see `lm_batches`.

    Attributes:
        iteration: the iteration whose batch the next `next()` returns; save it in a
            checkpoint and pass it back as `start_iteration` to resume.
    """

    def __init__(self, data, block_size: int, batch_size: int, seed: int,
                 start_iteration: int = 0):
        self.data = _check_lm_args(data, block_size, batch_size, seed=seed,
                                   start_iteration=start_iteration)
        self.block_size, self.batch_size, self.seed = block_size, batch_size, seed
        self.iteration = int(start_iteration)

    def __iter__(self):
        return self

    def __next__(self):
        rng = np.random.default_rng([self.seed, self.iteration])
        batch = _gather(self.data, rng, self.block_size, self.batch_size)
        self.iteration += 1
        return batch


def lm_batches(data, block_size: int, batch_size: int, seed: int,
               start_iteration: int = 0) -> LMBatchIterator:
    """An endless, resumable stream of (x, y) batches of int64 (batch_size, block_size),
    y being x shifted by one character, beginning at iteration `start_iteration`.

    Iteration i's offsets come from `np.random.default_rng([seed, i])`, so starting at k
    yields exactly what an uninterrupted stream yields from its k-th batch on.  Arguments
    are validated here, not at the first `next()`.

    Raises:
        ValueError unless data is 1-D integer, 1 <= block_size < len(data),
        batch_size >= 1, and seed and start_iteration are non-negative integers.
    """
    return LMBatchIterator(data, block_size, batch_size, seed, start_iteration)


def eval_batches(data, block_size: int, batch_size: int, n_batches: int, seed: int):
    """A fixed evaluation sample: an iterator of `n_batches` (x, y) batches shaped as those
    of `lm_batches`, batch j drawn from `np.random.default_rng([seed, j, EVAL_STREAM])`.

    Every call with the same arguments yields the same batches, so successive estimates of
    the loss (nanoGPT averages eval_iters random batches) differ only through the model.
    The batches are generated one at a time; arguments are validated immediately.
    """
    data = _check_lm_args(data, block_size, batch_size, seed=seed)
    if not is_int(n_batches) or n_batches < 1:
        raise ValueError(f"n_batches must be an integer >= 1, got {n_batches!r}")

    def generate():
        for j in range(n_batches):
            rng = np.random.default_rng([seed, j, EVAL_STREAM])
            yield _gather(data, rng, block_size, batch_size)

    return generate()
