"""Datasets: reading IDX files, loading and verifying MNIST, splits and mini-batches.

Plain NumPy, no autograd: everything here produces host-side `numpy.ndarray`s that the
training code later moves to the selected backend.  CIFAR-10/100 (binary): `hyperprune.cifar`.

Overview
--------
    read_idx(path, sha256=None)      any IDX file (gzipped or raw) -> ndarray
    data_dir(explicit=None)          where datasets live: argument > $HYPERPRUNE_DATA > repo data/
    mnist_dir(data_dir=None)         <data_dir>/mnist
    load_mnist(data_dir=None)        the four MNIST arrays, SHA-256 verified
    download_mnist(dest_dir=None)    fetch the four canonical files (needs internet)
    mnist_splits(...)                train / val / test as float features and int64 labels
    batches(x, y, batch_size, ...)   one epoch of (xb, yb) mini-batches
    iterate_batches(x, y, ...)       an endless, resumable stream of batches across epochs

The IDX format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS")
------------------------------------------------------------------
All integers in the header are big-endian::

    offset  size       content
    0       2          0x00 0x00                   (the "magic" prefix)
    2       1          dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                                   0x0D float32, 0x0E float64
    3       1          number of dimensions d
    4       4*d        the d dimension sizes, each an unsigned 32-bit integer
    4+4*d   ...        prod(dims) values of the dtype, big-endian, row-major (C order)

The MNIST files are distributed gzipped; whether a file is gzipped is decided by its first
two bytes (the gzip magic 1f 8b), not by its name, so a renamed file still loads.

Why checksums of the *decompressed* content: the same data can be gzipped into different
byte streams (compression level, timestamps in the gzip header), so the hash of the .gz
file says more about who compressed it than about the data.  Hashing what we actually parse
verifies exactly what the model is trained on, and works equally for raw (.gz-less) copies.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "IDX_DTYPES",
    "MNIST_FILES",
    "MNIST_SHA256",
    "MNIST_MIRRORS",
    "MNIST_MEAN",
    "MNIST_STD",
    "read_idx",
    "DATA_ENV_VAR",
    "DEFAULT_DATA_DIR",
    "data_dir",
    "mnist_dir",
    "load_mnist",
    "download_mnist",
    "MNISTSplits",
    "mnist_splits",
    "batches",
    "BatchIterator",
    "iterate_batches",
]

# ----------------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------------

#: IDX dtype code -> big-endian NumPy dtype of the stored values.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_content(path: Path) -> bytes:
    """The file's bytes, gunzipped if the file starts with the gzip magic bytes 1f 8b."""
    raw = path.read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        # gzip.decompress also checks the CRC-32 and length stored in the gzip trailer.
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise ValueError(f"{path}: corrupt gzip data ({exc})") from exc


def _check_sha256(path: Path, content: bytes, expected: str, what: str = "expected") -> None:
    """Raise ValueError unless sha256(content) == expected (hex digest, case-insensitive)."""
    got = hashlib.sha256(content).hexdigest()
    if got != expected.lower():
        raise ValueError(
            f"{path}: checksum mismatch: expected SHA-256 {expected.lower()}, got {got}; "
            f"the file is corrupt or not the canonical {what}"
        )


def _parse_idx(content: bytes, path) -> np.ndarray:
    """Parse the bytes of an (already decompressed) IDX file; see the module docstring."""
    if len(content) < 4:
        raise ValueError(
            f"{path}: truncated IDX header: {len(content)} bytes, the header needs at least 4"
        )
    if content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"{path}: bad IDX magic: expected the first two bytes to be 00 00, "
            f"got {content[:2].hex(' ')} (not an IDX file?)"
        )
    code, ndim = content[2], content[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({d.name})" for c, d in IDX_DTYPES.items())
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02X}; known codes: {known}")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header_size} header "
            f"bytes, the file has {len(content)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1  # no dims = one scalar
    expected = header_size + count * dtype.itemsize
    if len(content) < expected:
        raise ValueError(
            f"{path}: truncated IDX data: shape {dims} of {dtype.name} needs {expected} "
            f"bytes, the file has only {len(content)}"
        )
    if len(content) > expected:
        raise ValueError(
            f"{path}: {len(content) - expected} trailing bytes after the IDX data "
            f"(shape {dims} of {dtype.name} needs exactly {expected} bytes)"
        )
    values = np.frombuffer(content, dtype=dtype, count=count, offset=header_size)
    # astype copies into native byte order; the copy also makes the array writable
    # (a frombuffer view of immutable bytes is read-only).
    return values.astype(dtype.newbyteorder("=")).reshape(dims)


def read_idx(path, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file, gzipped or raw, into a NumPy array.

    Args:
        path: file to read.  Gzip is detected by the magic bytes 1f 8b, not the extension.
        sha256: optional expected SHA-256 (hex) of the *decompressed* content; when given,
            the content is verified before it is parsed.

    Returns:
        an array with the shape given by the header's dimensions and the header's dtype
        (uint8, int8, int16, int32, float32 or float64) in native byte order; writable.

    Raises:
        ValueError naming the file for: bad magic, unknown dtype code, truncated header or
        data, trailing bytes, corrupt gzip data, or a checksum mismatch.
    """
    path = Path(path)
    content = _read_content(path)
    if sha256 is not None:
        _check_sha256(path, content, sha256)
    return _parse_idx(content, path)


# ----------------------------------------------------------------------------------------
# Where the data lives
# ----------------------------------------------------------------------------------------

#: Environment variable overriding the default data directory.
DATA_ENV_VAR = "HYPERPRUNE_DATA"

#: The repository's embedded data: <repo>/data, found relative to this package.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_dir(explicit=None) -> Path:
    """The root data directory: `explicit` if given, else $HYPERPRUNE_DATA if set and
    non-empty, else the repository's `data/` directory.  Datasets live in subdirectories
    (MNIST in `<data_dir>/mnist/`).  The directory is not required to exist."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_DIR


# `load_mnist` etc. take a parameter called data_dir, which shadows the function inside
# them; they call it through this alias.
_resolve_data_dir = data_dir


def _describe_data_dir(explicit) -> str:
    """Say how the data directory was chosen, for error messages."""
    if explicit is not None:
        return "given explicitly"
    if os.environ.get(DATA_ENV_VAR):
        return f"from ${DATA_ENV_VAR}"
    return f"the repository default; set ${DATA_ENV_VAR} or pass a data directory to change it"


def mnist_dir(data_dir=None) -> Path:
    """`<data_dir>/mnist`, with `data_dir` resolved as by `data_dir()`."""
    return _resolve_data_dir(data_dir) / "mnist"


# ----------------------------------------------------------------------------------------
# MNIST
# ----------------------------------------------------------------------------------------

#: The four canonical MNIST files (uncompressed names; the distributed files add ".gz").
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: SHA-256 of each file's *decompressed* content (computed from the canonical files).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Mirrors of the original files, tried in order (yann.lecun.com is no longer reliable).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Mean and standard deviation of the training pixels scaled to [0, 1] (all 60,000 images).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def _mnist_candidates(directory: Path, name: str) -> list[Path]:
    """Where one MNIST file may be, in order of preference: gzipped, then raw."""
    return [directory / (name + ".gz"), directory / name]


def load_mnist(data_dir=None):
    """Load MNIST from `<data_dir>/mnist/`, verifying every file's SHA-256.

    Each file may be gzipped (`train-images-idx3-ubyte.gz`, the distributed form) or raw
    (`train-images-idx3-ubyte`); the gzipped one wins if both exist.  Each file is read
    once; its decompressed content is hashed and compared with `MNIST_SHA256` before it is
    parsed.  Nothing is cached on disk.

    Returns:
        (train_images, train_labels, test_images, test_labels) with shapes
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,), all uint8
        (pixels 0..255, 0 = background; labels 0..9).

    Raises:
        FileNotFoundError listing the paths looked at, if any file is missing.
        ValueError on a checksum mismatch or a malformed file.
    """
    directory = mnist_dir(data_dir)
    # Locate all four files before reading any, so that one error lists everything missing.
    found, missing = {}, []
    for name in MNIST_FILES.values():
        candidates = _mnist_candidates(directory, name)
        existing = [p for p in candidates if p.is_file()]
        if existing:
            found[name] = existing[0]
        else:
            missing.extend(candidates)
    if missing:
        looked = "\n  ".join(str(p) for p in missing)
        raise FileNotFoundError(
            f"MNIST not found in {directory} (data directory {_describe_data_dir(data_dir)}).\n"
            f"Looked for:\n  {looked}\n"
            f"Run `hyperprune download mnist` to fetch it, or point --data-dir / "
            f"${DATA_ENV_VAR} at a directory containing mnist/."
        )

    arrays = []
    for name, path in found.items():
        content = _read_content(path)
        _check_sha256(path, content, MNIST_SHA256[name], what="MNIST")
        arrays.append(_parse_idx(content, path))
    return tuple(arrays)


def _is_valid_mnist_file(path: Path, name: str) -> bool:
    """True if `path` exists and its decompressed content has the canonical checksum."""
    if not path.is_file():
        return False
    try:
        _check_sha256(path, _read_content(path), MNIST_SHA256[name])
    except ValueError:
        return False
    return True


def download_mnist(dest_dir=None, mirrors=MNIST_MIRRORS, timeout: float = 60.0) -> list[Path]:
    """Download the four canonical gzipped MNIST files into `dest_dir` (needs internet).

    `dest_dir` is the directory the files go into (default: `mnist_dir()`, i.e.
    `<data_dir>/mnist`); it is created if needed.  Files already present (gzipped or raw)
    with the right checksum are skipped.  Each download goes to a temporary file in
    `dest_dir`, is verified (SHA-256 of the decompressed content), and only then renamed
    into place atomically, so an interrupted download never leaves a half-written file
    under the real name.  Mirrors are tried in order.

    Returns:
        the paths of the four files (existing or newly downloaded).

    Raises:
        RuntimeError if a file could not be fetched from any mirror (e.g. offline) or no
        mirror served the canonical content.
    """
    dest = mnist_dir() if dest_dir is None else Path(dest_dir).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in MNIST_FILES.values():
        valid = [p for p in _mnist_candidates(dest, name) if _is_valid_mnist_file(p, name)]
        if valid:
            paths.append(valid[0])
            continue
        target = dest / (name + ".gz")
        network_errors, bad_content = [], []
        for mirror in mirrors:
            url = mirror + name + ".gz"
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest)
            tmp = Path(tmp_name)
            try:
                try:
                    with os.fdopen(fd, "wb") as out, \
                            urllib.request.urlopen(url, timeout=timeout) as response:
                        shutil.copyfileobj(response, out)
                except OSError as exc:  # URLError, HTTPError and socket timeouts are OSErrors
                    network_errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                    continue
                try:
                    _check_sha256(tmp, _read_content(tmp), MNIST_SHA256[name], what="MNIST")
                except ValueError as exc:
                    bad_content.append(f"{url}: {exc}")
                    continue
                os.replace(tmp, target)  # atomic within one filesystem
                paths.append(target)
                break
            finally:
                if tmp.exists():
                    tmp.unlink()
        else:
            if bad_content:
                raise RuntimeError(
                    f"could not download {name}.gz: no mirror served the canonical MNIST:\n  "
                    + "\n  ".join(bad_content + network_errors)
                )
            raise RuntimeError(
                f"could not download MNIST (offline?): {'; '.join(network_errors)}. "
                "The repository embeds MNIST under data/mnist; use "
                f"--data-dir/{DATA_ENV_VAR} to point elsewhere"
            )
    return paths


# ----------------------------------------------------------------------------------------
# Train / validation / test splits
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MNISTSplits:
    """MNIST as three (x, y) pairs.  `x` is float (N, 784) or (N, 28, 28), `y` int64 (N,).

    `train_indices` / `val_indices` are the (sorted) positions in the original 60,000
    training images that make up each split.  `splits["train"]` works like `splits.train`.
    """

    train: tuple
    val: tuple
    test: tuple
    train_indices: np.ndarray
    val_indices: np.ndarray

    def __getitem__(self, key: str) -> tuple:
        if key not in ("train", "val", "test"):
            raise KeyError(key)
        return getattr(self, key)


def _features(images: np.ndarray, normalize: bool, flatten: bool, dtype) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float `dtype` in [0, 1], optionally standardized."""
    x = images.astype(dtype)
    # In-place arithmetic: the training set as float32 is ~170 MB; avoid temporaries.
    x /= 255.0
    if normalize:
        x -= MNIST_MEAN
        x /= MNIST_STD
    return x.reshape(len(x), -1) if flatten else x


def mnist_splits(data_dir=None, validation: int = 5000, seed: int = 0, normalize: bool = True,
                 flatten: bool = True, dtype=np.float32) -> MNISTSplits:
    """MNIST as train / val / test splits ready for training.

    The validation split is a fixed random subset of `validation` of the 60,000 training
    images: the first `validation` entries of `np.random.default_rng(seed).permutation(60000)`.
    The rest is `train`; the two are disjoint and depend only on `seed`.  Both keep the
    original order of the images (shuffling is the job of `batches`).  `test` is the
    official 10,000-image test set.

    Features: pixels scaled to [0, 1], then, if `normalize`, standardized with the training
    statistics (x - 0.1307) / 0.3081; flattened to (N, 784) if `flatten`, else (N, 28, 28);
    of `dtype`.  Labels: int64, 0..9.
    """
    train_images, train_labels, test_images, test_labels = load_mnist(data_dir)
    n = len(train_images)
    if not _is_int(validation) or not 0 <= validation < n:
        raise ValueError(f"validation must be an integer in [0, {n}), got {validation!r}")
    order = np.random.default_rng(seed).permutation(n)
    val_idx = np.sort(order[:validation])
    train_idx = np.sort(order[validation:])

    def pair(images, labels):
        return _features(images, normalize, flatten, dtype), labels.astype(np.int64)

    return MNISTSplits(
        train=pair(train_images[train_idx], train_labels[train_idx]),
        val=pair(train_images[val_idx], train_labels[val_idx]),
        test=pair(test_images, test_labels),
        train_indices=train_idx,
        val_indices=val_idx,
    )


# ----------------------------------------------------------------------------------------
# Mini-batches
# ----------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    """An integer (Python or NumPy), but not a bool (True would silently mean 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_batch_args(x, y, batch_size, seed, epoch=0, start_iteration=0) -> int:
    """Validate the common arguments of `batches` / `iterate_batches`; return len(x)."""
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    # (np.random.default_rng([seed, epoch]) needs non-negative integers.)
    for label, value in (("seed", seed), ("epoch", epoch), ("start_iteration", start_iteration)):
        if not _is_int(value) or value < 0:
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
