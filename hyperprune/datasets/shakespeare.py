"""Character-level text: tiny Shakespeare, a character vocabulary and its splits.

Plain NumPy, no autograd: everything here produces host-side int64 `numpy.ndarray`s of
token ids that the training code later moves to the selected backend.  The recipe is
nanoGPT's `data/shakespeare_char` (prepare.py and the `get_batch` of train.py), with
the randomness made resumable.

Overview
--------
    load_tiny_shakespeare(data_dir=None)   the corpus as a str, SHA-256 verified
    CharVocab(text)                        sorted unique characters <-> ids 0..size-1
    char_splits(text, vocab, 0.1)          (train, val) id arrays: first 90%, last 10%

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

Batches of character windows: hyperprune.datasets.batches (lm_batches, eval_batches).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..checks import is_int
from .location import data_dir as _resolve_data_dir, describe_data_dir

__all__ = [
    "TINY_SHAKESPEARE_FILE",
    "TINY_SHAKESPEARE_SHA256",
    "TINY_SHAKESPEARE_URL",
    "load_tiny_shakespeare",
    "CharVocab",
    "CharSplits",
    "char_splits",
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
            f"tiny Shakespeare not found (data directory {describe_data_dir(data_dir)}).\n"
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
        if not is_int(multiple) or multiple < 1:
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
