"""Character-level text: tiny Shakespeare, a character vocabulary, splits and LM batches.

Plain NumPy, no autograd: everything here produces host-side int64 `numpy.ndarray`s of
token ids that the training code later moves to the selected backend.  The recipe is
nanoGPT's `data/shakespeare_char` (prepare.py and the `get_batch` of train.py), with
the randomness made resumable.

Overview
--------
    load_tiny_shakespeare(data_dir=None)   the corpus as a str, SHA-256 verified
    CharVocab(text)                        sorted unique characters <-> ids 0..size-1
    char_splits(text, vocab, 0.1)          (train, val) id arrays: first 90%, last 10%
    lm_batch(data, T, B, seed, i)          the (x, y) batch of iteration i
    lm_batches(data, T, B, seed, k)        an endless, resumable stream of them from i = k
    eval_batches(data, T, B, n, seed)      a fixed, seeded evaluation sample of n batches
    check_context(length, block_size)      a clear error for sequences longer than a model's context

The corpus
----------
`<data_dir>/tinyshakespeare/input.txt` (data_dir as `hyperprune.datasets.data_dir`:
argument > $HYPERPRUNE_DATA > the repository's data/) is char-rnn's tiny Shakespeare:
1,115,394 bytes of ASCII text with LF line endings, 65 distinct characters, SHA-256
`TINY_SHAKESPEARE_SHA256` of the file's bytes.  The bytes are verified before they are
decoded, so a copy with CRLF line endings (e.g. a git checkout with core.autocrlf) is
rejected rather than silently giving a 66-symbol vocabulary and different splits.

Vocabulary and splits (as shakespeare_char)
-------------------------------------------
The vocabulary is `sorted(set(text))`: for tiny Shakespeare 65 symbols, "\\n" (id 0)
then " " (1), "!" (2), ... "z" (64).  A quaternion output layer needs a multiple of 4
units, so a model pads the vocabulary to `vocab.padded_size()` = 68 with dummy symbols
that never occur in the data (as the paper pads the classes); decoding a dummy id is an
error.  `char_splits` encodes the whole text and cuts it at int(n * (1 - val_fraction)):
1,003,854 training and 111,540 validation ids for the 90/10 split.

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
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .datasets import _describe_data_dir, data_dir as _resolve_data_dir

__all__ = [
    "TINY_SHAKESPEARE_FILE",
    "TINY_SHAKESPEARE_SHA256",
    "TINY_SHAKESPEARE_URL",
    "EVAL_STREAM",
    "load_tiny_shakespeare",
    "CharVocab",
    "CharSplits",
    "char_splits",
    "lm_batch",
    "LMBatchIterator",
    "lm_batches",
    "eval_batches",
    "check_context",
]

# ----------------------------------------------------------------------------------------
# The corpus
# ----------------------------------------------------------------------------------------

#: Where the corpus lives, relative to the data directory.
TINY_SHAKESPEARE_FILE = Path("tinyshakespeare") / "input.txt"

#: SHA-256 of the file's bytes (char-rnn's input.txt: 1,115,394 bytes, LF line endings).
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

#: The canonical source (what nanoGPT's prepare.py downloads); for reference only.
TINY_SHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/"
                        "data/tinyshakespeare/input.txt")

#: Third seed word of evaluation batches ("eval" in ASCII); see the module docstring.
EVAL_STREAM = 0x6576616C


def load_tiny_shakespeare(data_dir=None) -> str:
    """The tiny Shakespeare corpus from `<data_dir>/tinyshakespeare/input.txt`, verified.

    `data_dir` is resolved as by `hyperprune.datasets.data_dir` (argument, else
    $HYPERPRUNE_DATA, else the repository's data/).  The file's bytes are checked against
    `TINY_SHAKESPEARE_SHA256` before they are decoded (UTF-8; the file is ASCII).

    Returns:
        the text, a str of 1,115,394 characters (65 distinct), exactly the file's content
        (no newline translation).

    Raises:
        FileNotFoundError naming the path looked at and how the data directory was chosen.
        ValueError naming the file on a checksum mismatch.
    """
    path = _resolve_data_dir(data_dir) / TINY_SHAKESPEARE_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"tiny Shakespeare not found (data directory {_describe_data_dir(data_dir)}).\n"
            f"Looked for:\n  {path}\n"
            f"The repository commits it as data/{TINY_SHAKESPEARE_FILE.as_posix()}; the "
            f"original is {TINY_SHAKESPEARE_URL}"
        )
    content = path.read_bytes()
    got = hashlib.sha256(content).hexdigest()
    if got != TINY_SHAKESPEARE_SHA256:
        hint = ""
        if b"\r\n" in content:
            hint = (" (it has CRLF line endings: a checkout converted them? the canonical "
                    "file uses LF only)")
        raise ValueError(
            f"{path}: checksum mismatch: expected SHA-256 {TINY_SHAKESPEARE_SHA256}, got "
            f"{got}; the file ({len(content):,} bytes) is corrupt or not the canonical "
            f"tiny Shakespeare{hint}"
        )
    return content.decode("utf-8")


# ----------------------------------------------------------------------------------------
# The vocabulary
# ----------------------------------------------------------------------------------------

def _code_points(text: str) -> np.ndarray:
    """The Unicode code points of `text` as uint32, shape (len(text),), without a Python loop."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _is_int(value) -> bool:
    """An integer (Python or NumPy), but not a bool (True would silently mean 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class CharVocab:
    """A character vocabulary: the sorted unique characters of a text, ids 0..size-1.

    `CharVocab(text)` is nanoGPT's shakespeare_char vocabulary, `sorted(set(text))`;
    for tiny Shakespeare `size` is 65 and `chars` starts "\\n !$&',-.3:;?AB".  Characters
    sort by code point, so building from a string of already sorted, unique characters
    (such as `vocab.chars`) gives the same vocabulary back.

    Attributes:
        chars: the symbols as one str; id i is chars[i].
        size: the number of symbols (len(vocab) too).
    """

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"CharVocab needs a str, got {type(text).__name__}")
        if not text:
            raise ValueError("CharVocab needs a non-empty text: no characters, no vocabulary")
        self.chars = "".join(sorted(set(text)))
        self._codes = _code_points(self.chars)   # sorted, so ids are found by searchsorted

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other) -> bool:
        return isinstance(other, CharVocab) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        shown = self.chars if self.size <= 20 else self.chars[:20] + "..."
        return f"CharVocab(size={self.size}, chars={shown!r})"

    def padded_size(self, multiple: int = 4) -> int:
        """`size` rounded up to a multiple of `multiple` (65 -> 68 for a quaternion output
        layer); ids size..padded_size-1 are dummy symbols that never occur in the data."""
        if not _is_int(multiple) or multiple < 1:
            raise ValueError(f"multiple must be an integer >= 1, got {multiple!r}")
        return -(-self.size // multiple) * multiple

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of `text`: int64, shape (len(text),).

        Raises:
            ValueError naming (repr) and locating (0-based position) the characters that are
            not in the vocabulary; never a silent wrong id.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode needs a str, got {type(text).__name__}")
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        found = ids < self.size
        found[found] = self._codes[ids[found]] == codes[found]
        if not found.all():
            bad = np.flatnonzero(~found)
            shown = ", ".join(f"{text[p]!r} at position {p}" for p in bad[:5])
            more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
            raise ValueError(
                f"{len(bad)} character(s) not in the vocabulary of {self.size} symbols: "
                f"{shown}{more}"
            )
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """The text of a 1-D sequence of integer ids (list, array; empty gives "").

        Raises:
            ValueError for an id outside 0..size-1, saying when it is one of the dummy
            padding ids of a padded output layer (>= size); TypeError for non-integer ids.
        """
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if ids.ndim != 1:
            raise ValueError(f"decode needs a 1-D sequence of ids, got shape {ids.shape}")
        if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"decode needs integer ids, got dtype {ids.dtype}")
        bad = np.flatnonzero((ids < 0) | (ids >= self.size))
        if len(bad):
            p = int(bad[0])
            value = int(ids[p])
            why = (f"ids from {self.size} on are only the dummy symbols that pad an output "
                   f"layer to padded_size() and never stand for a character"
                   if value >= self.size else "ids are >= 0")
            raise ValueError(
                f"id {value} at position {p} is not a character: the vocabulary has "
                f"{self.size} symbols (ids 0..{self.size - 1}); {why}"
                + (f" ({len(bad)} bad ids in all)" if len(bad) > 1 else "")
            )
        return self._codes[ids].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def to_dict(self) -> dict:
        """A JSON-able description, for saving with a run: {"kind", "chars", "size"}."""
        return {"kind": "char", "chars": self.chars, "size": self.size}

    @classmethod
    def from_dict(cls, d) -> "CharVocab":
        """The vocabulary saved by `to_dict`; rejects anything that would change the ids."""
        if not isinstance(d, dict) or d.get("kind") != "char" or not isinstance(
                d.get("chars"), str):
            raise ValueError(f"not a saved CharVocab (expected kind 'char' and a str "
                             f"'chars'): {d!r:.200}")
        chars = d["chars"]
        vocab = cls(chars) if chars else None
        if vocab is None or vocab.chars != chars:
            raise ValueError("saved CharVocab chars must be non-empty, sorted and unique, got "
                             f"{chars!r:.200}")
        if "size" in d and d["size"] != vocab.size:
            raise ValueError(f"saved CharVocab says size {d['size']!r} but has "
                             f"{vocab.size} chars")
        return vocab


# ----------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------

class CharSplits(NamedTuple):
    """(train, val) int64 id arrays; unpacks like a tuple."""

    train: np.ndarray
    val: np.ndarray


def char_splits(text: str, vocab: CharVocab, val_fraction: float = 0.1) -> CharSplits:
    """Encode `text` and split it as nanoGPT: the first int(n * (1 - val_fraction)) ids
    are `train`, the rest `val` (contiguous, in order; no shuffling: the model must
    generalize to a later part of the text).  Tiny Shakespeare, 0.1: 1,003,854 / 111,540.

    Raises:
        ValueError if val_fraction is not in (0, 1) or leaves a split empty, or if the
        text has a character outside `vocab`.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) \
            or not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
    ids = vocab.encode(text)
    n_train = int(len(ids) * (1.0 - val_fraction))
    if not 0 < n_train < len(ids):
        raise ValueError(f"val_fraction={val_fraction} splits {len(ids)} characters into "
                         f"{n_train} train / {len(ids) - n_train} val: both must be non-empty")
    return CharSplits(train=ids[:n_train], val=ids[n_train:])


# ----------------------------------------------------------------------------------------
# Language-modelling batches
# ----------------------------------------------------------------------------------------

def _check_lm_args(data, block_size, batch_size, **non_negative) -> np.ndarray:
    """Validate the arguments of the batch functions; return data as a 1-D integer array."""
    data = np.asarray(data)
    if data.ndim != 1 or data.dtype == bool or not np.issubdtype(data.dtype, np.integer):
        raise ValueError(f"data must be a 1-D array of integer ids, got shape {data.shape} "
                         f"of {data.dtype}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not _is_int(block_size) or not 1 <= block_size < len(data):
        raise ValueError(
            f"block_size must be an integer with 1 <= block_size < len(data) = {len(data)} "
            f"(each sequence needs block_size + 1 ids: its inputs and the next character), "
            f"got {block_size!r}"
        )
    # (np.random.default_rng([seed, i]) needs non-negative integers.)
    for label, value in non_negative.items():
        if not _is_int(value) or value < 0:
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
    if not _is_int(n_batches) or n_batches < 1:
        raise ValueError(f"n_batches must be an integer >= 1, got {n_batches!r}")

    def generate():
        for j in range(n_batches):
            rng = np.random.default_rng([seed, j, EVAL_STREAM])
            yield _gather(data, rng, block_size, batch_size)

    return generate()


# ----------------------------------------------------------------------------------------
# Context length
# ----------------------------------------------------------------------------------------

def check_context(length: int, block_size: int, what: str = "gpt_char") -> None:
    """Raise ValueError unless 1 <= length <= block_size: a model with learned position
    embeddings has none for positions >= block_size.  `what` names the model in the
    message, e.g. "gpt_char: sequence length 80 is longer than the model's context
    (block_size 64)"; crop the input to its last block_size ids to generate further."""
    if not _is_int(length) or not _is_int(block_size):
        raise TypeError(f"{what}: length and block_size must be integers, got "
                        f"{length!r} and {block_size!r}")
    if length > block_size:
        raise ValueError(f"{what}: sequence length {length} is longer than the model's "
                         f"context (block_size {block_size})")
    if length < 1:
        raise ValueError(f"{what}: sequence length {length}: a sequence needs at least one "
                         f"position")
