"""MNIST: reading IDX files, loading and verifying the four files, downloading, splits.

Plain NumPy, no autograd: everything here produces host-side `numpy.ndarray`s that the
training code later moves to the selected backend.

Overview
--------
    read_idx(path, sha256=None)      any IDX file (gzipped or raw) -> ndarray
    mnist_dir(data_dir=None)         <data_dir>/mnist (data_dir: hyperprune.datasets.location)
    load_mnist(data_dir=None)        the four MNIST arrays, SHA-256 verified
    download_mnist(dest_dir=None)    fetch the four canonical files (needs internet)
    mnist_splits(...)                train / val / test as float features and int64 labels

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
import zlib
from pathlib import Path

import numpy as np

from .download import download_verified
from .location import DATA_ENV_VAR, data_dir as _resolve_data_dir, describe_data_dir
from .splits import Splits, split_indices

__all__ = [
    "IDX_DTYPES",
    "MNIST_FILES",
    "MNIST_SHA256",
    "MNIST_MIRRORS",
    "MNIST_MEAN",
    "MNIST_STD",
    "read_idx",
    "mnist_dir",
    "load_mnist",
    "download_mnist",
    "mnist_splits",
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
            f"MNIST not found in {directory} (data directory {describe_data_dir(data_dir)}).\n"
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

        def verify(path, name=name):
            _check_sha256(path, _read_content(path), MNIST_SHA256[name], what="MNIST")

        for mirror in mirrors:
            url = mirror + name + ".gz"
            try:
                with download_verified(url, dest, verify, timeout) as tmp:
                    os.replace(tmp, target)  # atomic within one filesystem
            except ValueError as exc:
                bad_content.append(f"{url}: {exc}")
                continue
            except OSError as exc:  # URLError, HTTPError and socket timeouts are OSErrors
                network_errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            paths.append(target)
            break
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
                 flatten: bool = True, dtype=np.float32) -> Splits:
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
    train_idx, val_idx = split_indices(len(train_images), validation, seed)

    def pair(images, labels):
        return _features(images, normalize, flatten, dtype), labels.astype(np.int64)

    return Splits(
        train=pair(train_images[train_idx], train_labels[train_idx]),
        val=pair(train_images[val_idx], train_labels[val_idx]),
        test=pair(test_images, test_labels),
        train_indices=train_idx,
        val_indices=val_idx,
        name="mnist",
        description="MNIST",
    )
