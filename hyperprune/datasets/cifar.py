"""CIFAR-10 and CIFAR-100, binary version: reading, verifying, downloading, preprocessing.

Plain NumPy, no autograd, and never pickle: only the *binary* releases are read (the
"python version" of CIFAR is a set of pickles, which can run code when loaded).

Overview
--------
    read_cifar10_batch(path)               one CIFAR-10 .bin file -> (images, labels)
    read_cifar100_file(path, label)        one CIFAR-100 .bin file -> (images, labels)
    cifar_dir(name, data_dir=None)         the folder holding the .bin files
    load_cifar10(data_dir=None, verify)    train / test arrays + where they came from
    load_cifar100(data_dir=None, label)    the same for CIFAR-100 (fine or coarse labels)
    download_cifar(name, dest_dir=None)    fetch, MD5-check and safely extract a tarball
    channel_stats(images)                  per-channel mean / std of pixels scaled to [0, 1]
    normalize(images, mean, std)           per-channel standardization, float32
    random_crop_flip(batch, rng)           padded random crops + horizontal flips, vectorized
    cifar_splits(name, ...)                train / val / test ready for training

The binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version")
-------------------------------------------------------------------------------
A file is a plain concatenation of fixed-size records; there is no header::

    CIFAR-10  record (3073 bytes): label (1 byte, 0..9), then 3072 pixel bytes
    CIFAR-100 record (3074 bytes): coarse label (0..19), fine label (0..99), 3072 pixels

The 3072 pixel bytes are the red, green and blue planes of a 32x32 image, each plane row
by row (row-major), i.e. one image in CHW order: reshaping to (3, 32, 32) is exact.

    cifar-10-batches-bin/   data_batch_1.bin ... data_batch_5.bin   10,000 records each
                            test_batch.bin                          10,000 records
                            batches.meta.txt                        the 10 class names
    cifar-100-binary/       train.bin 50,000 records, test.bin 10,000 records
                            coarse_label_names.txt, fine_label_names.txt

Files are found in `<data_dir>/cifar-10-batches-bin/` (`<data_dir>/cifar-100-binary/`),
the folder names of the canonical tarballs, or directly in `data_dir` when it is that
folder; `data_dir` is resolved as in `hyperprune.datasets.data_dir` (argument, then
$HYPERPRUNE_DATA, then the repository's data/).

Because 3073 and 3074 are coprime, a CIFAR-100 file read as CIFAR-10 (or the reverse)
almost always fails the size check; if its size happens to fit, the label bytes land on
pixel bytes and fail the label-range check; the canonical record counts catch the rest.

Which CIFAR-10 is it?  The canonical release vs the JPEG copy
------------------------------------------------------------
Offline, CIFAR-10 is available here as a JPEG copy: `../shared/data/cifar10_from_jpeg.py
DIR` (run from the repository root) writes the same six .bin files from JPEG images - the
same images and labels, pixel values slightly changed by JPEG compression.  Numbers
measured on it should say so.  `load_cifar10(verify=True)` (the default) hashes each .bin
file (SHA-256, about 0.2 s for all six) and compares with `CIFAR10_JPEG_COPY_SHA256`:

    all six match           source = "jpeg-copy"                        "CIFAR-10 (JPEG copy)"
    none match              source = "canonical (unverified per file)"  "CIFAR-10"
    some match, some don't  ValueError (a corrupt or mixed copy)

For the canonical release only the MD5 of the tarball is published (checked by
`download_cifar`), not per-file hashes, so canonical files are *not* verified one by one:
"canonical" means "structurally CIFAR-10 (sizes, record counts, labels, every class equally
often) and not the JPEG copy".  A corrupted JPEG copy whose six files all changed would
also be reported as canonical; that is the limit of what can be checked.  With
verify=False nothing is hashed and source = "unverified".  `CIFAR.description` is the
label to print next to results.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import is_int
from .download import download_verified, safe_extract
from .location import DATA_ENV_VAR, data_dir as _resolve_data_dir, describe_data_dir
from .splits import Splits, split_indices

__all__ = [
    "IMAGE_SHAPE",
    "CIFAR10_RECORD_BYTES",
    "CIFAR100_RECORD_BYTES",
    "CIFAR10_FOLDER",
    "CIFAR100_FOLDER",
    "CIFAR10_TRAIN_FILES",
    "CIFAR10_TEST_FILE",
    "CIFAR10_BATCH_RECORDS",
    "CIFAR100_RECORDS",
    "CIFAR10_CLASSES",
    "CIFAR10_JPEG_COPY_SHA256",
    "CIFAR_DOWNLOADS",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "read_cifar10_batch",
    "read_cifar100_file",
    "cifar_dir",
    "CIFAR",
    "load_cifar10",
    "load_cifar100",
    "download_cifar",
    "channel_stats",
    "normalize",
    "random_crop_flip",
    "cifar_splits",
]

# ----------------------------------------------------------------------------------------
# Formats and files
# ----------------------------------------------------------------------------------------

IMAGE_SHAPE = (3, 32, 32)
_PIXELS = 3 * 32 * 32
CIFAR10_RECORD_BYTES = 1 + _PIXELS   # label, pixels
CIFAR100_RECORD_BYTES = 2 + _PIXELS  # coarse label, fine label, pixels

CIFAR10_FOLDER = "cifar-10-batches-bin"
CIFAR100_FOLDER = "cifar-100-binary"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"

#: Records in every canonical CIFAR-10 .bin file (5 training batches + the test batch).
CIFAR10_BATCH_RECORDS = 10000
#: Records in the canonical CIFAR-100 files.
CIFAR100_RECORDS = {"train.bin": 50000, "test.bin": 10000}

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

#: SHA-256 of the files written by ../shared/data/cifar10_from_jpeg.py (the JPEG copy),
#: from ../shared/data/SHA256SUMS.cifar-10-batches-bin.
CIFAR10_JPEG_COPY_SHA256 = {
    "data_batch_1.bin": "95bc40a96c189b4ae973b8e377256610c0b0865f59a76bf2e7b5f5d3b6a9cd51",
    "data_batch_2.bin": "5bb5b7448ab13050c953f52e49624887d937f2dbc737ba8308b771b88b6f5ced",
    "data_batch_3.bin": "ecc5c793ff8d4a06b657d4f9dfc1eb1e29f15f7e75fed9b9c34eb4df9459108d",
    "data_batch_4.bin": "9e28b99d5925a27d404ec940d84ec491ea1cd48e3ceb0e9db193afd19c93e65b",
    "data_batch_5.bin": "887c29d30b4a78aa9e3c200efd2298570173503aa557ab013e8e62afb37a242a",
    "test_batch.bin": "18fde75bb6b08389d237f73ff3863b75b88eb8920dadf3900bc92e4e644e6545",
}

#: The canonical tarballs and the MD5s published on the dataset page.
CIFAR_DOWNLOADS = {
    "cifar10": {"title": "CIFAR-10", "folder": CIFAR10_FOLDER,
                "url": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                "md5": "c32a1d4ab5d03f1284b67883e8d87530"},
    "cifar100": {"title": "CIFAR-100", "folder": CIFAR100_FOLDER,
                 "url": "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
                 "md5": "03b5dce01913d631647c71ecec9e9cb8"},
}

#: This project's offline machines keep a JPEG copy of CIFAR-10 outside the repository
#: and a converter to the binary format (the path as typed from the repository root);
#: error messages mention it only where it exists.
_JPEG_SCRIPT = "../shared/data/cifar10_from_jpeg.py"
JPEG_CONVERTER = Path(__file__).resolve().parents[2] / _JPEG_SCRIPT


def _offline_copy() -> bool:
    return JPEG_CONVERTER.is_file()


def _check_name(name: str) -> dict:
    if name not in CIFAR_DOWNLOADS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(CIFAR_DOWNLOADS)}")
    return CIFAR_DOWNLOADS[name]


# ----------------------------------------------------------------------------------------
# Reading one file
# ----------------------------------------------------------------------------------------

def _parse_records(content: bytes, path, record: int, what: str, other: tuple,
                   expected_records):
    """bytes -> (records (N, record) uint8 view); checks the size and the record count."""
    size = len(content)
    if size == 0 or size % record:
        hint = ""
        if size and size % other[0] == 0:
            hint = (f"; its size is a multiple of {other[0]} bytes, the {other[1]} record "
                    f"size: a {other[1]} file?")
        raise ValueError(
            f"{path}: {size} bytes is not a positive multiple of the {record}-byte "
            f"{what.split()[0]} record: truncated or not a {what}{hint}")
    n = size // record
    if expected_records is not None and n != expected_records:
        raise ValueError(
            f"{path}: {n} records ({size} bytes), expected {expected_records} "
            f"({expected_records * record} bytes): truncated or not a canonical {what}")
    return np.frombuffer(content, dtype=np.uint8).reshape(n, record)


def _check_labels(labels: np.ndarray, high: int, path, which: str, what: str) -> None:
    bad = np.flatnonzero(labels > high)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{path}: {which} {int(labels[i])} of record {i} is out of range 0..{high} "
            f"({bad.size} such records): not a {what}, or corrupt")


def _images(records: np.ndarray, offset: int) -> np.ndarray:
    # A copy: contiguous, writable, and independent of the file's bytes.
    return np.ascontiguousarray(records[:, offset:]).reshape((len(records),) + IMAGE_SHAPE)


def _cifar10_arrays(content: bytes, path, expected_records):
    what = "CIFAR-10 binary batch"
    records = _parse_records(content, path, CIFAR10_RECORD_BYTES, what,
                             (CIFAR100_RECORD_BYTES, "CIFAR-100"), expected_records)
    _check_labels(records[:, 0], 9, path, "label", what)
    return _images(records, 1), records[:, 0].astype(np.int64)


def read_cifar10_batch(path, expected_records: int | None = CIFAR10_BATCH_RECORDS):
    """Read one CIFAR-10 binary file (`data_batch_K.bin` or `test_batch.bin`).

    Args:
        path: the file; records of 1 label byte + 3072 pixel bytes, no header.
        expected_records: the record count to insist on (10,000 for every canonical
            file); None accepts any positive count.

    Returns:
        (images, labels): uint8 (N, 3, 32, 32) in CHW order (pixels 0..255), and int64
        (N,) with values 0..9.  Both are fresh, writable arrays.

    Raises:
        ValueError naming the file if its size is not a positive multiple of 3073 bytes,
        the record count is not `expected_records`, or a label is outside 0..9.
    """
    path = Path(path)
    return _cifar10_arrays(path.read_bytes(), path, expected_records)


def read_cifar100_file(path, label: str = "fine", expected_records: int | None = None):
    """Read one CIFAR-100 binary file (`train.bin` or `test.bin`).

    Args:
        path: the file; records of coarse label byte + fine label byte + 3072 pixel bytes.
        label: "fine" (100 classes) or "coarse" (20 superclasses) - which labels to return.
            Both label bytes are range-checked either way.
        expected_records: the record count to insist on (the canonical train.bin has
            50,000, test.bin 10,000; `load_cifar100` passes them); None accepts any.

    Returns:
        (images, labels): uint8 (N, 3, 32, 32) CHW, int64 (N,) in 0..99 or 0..19.

    Raises:
        ValueError naming the file for a size that is not a positive multiple of 3074
        bytes, a wrong record count, or a label out of range; ValueError for a bad `label`.
    """
    if label not in ("fine", "coarse"):
        raise ValueError(f"label must be 'fine' or 'coarse', got {label!r}")
    path = Path(path)
    what = "CIFAR-100 binary file"
    records = _parse_records(path.read_bytes(), path, CIFAR100_RECORD_BYTES, what,
                             (CIFAR10_RECORD_BYTES, "CIFAR-10"), expected_records)
    _check_labels(records[:, 0], 19, path, "coarse label", what)
    _check_labels(records[:, 1], 99, path, "fine label", what)
    return _images(records, 2), records[:, 1 if label == "fine" else 0].astype(np.int64)


def _read_names(path: Path, count: int) -> tuple:
    """Class names, one per line (blank lines ignored); exactly `count` of them."""
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if len(names) != count:
        raise ValueError(f"{path}: {len(names)} class names, expected {count}")
    return names


# ----------------------------------------------------------------------------------------
# Locating and loading the data sets
# ----------------------------------------------------------------------------------------

def _required_files(name: str) -> dict:
    """file name -> expected size in bytes, for every .bin file of the data set."""
    if name == "cifar10":
        size = CIFAR10_BATCH_RECORDS * CIFAR10_RECORD_BYTES
        return {f: size for f in CIFAR10_TRAIN_FILES + (CIFAR10_TEST_FILE,)}
    return {f: n * CIFAR100_RECORD_BYTES for f, n in CIFAR100_RECORDS.items()}


def cifar_dir(name: str = "cifar10", data_dir=None) -> Path:
    """The folder holding the .bin files of `name` ("cifar10" or "cifar100").

    `<data_dir>/cifar-10-batches-bin` (`cifar-100-binary`) if that folder exists, else
    `data_dir` itself if it directly holds one of the data set's .bin files, else the
    former (where `download_cifar` puts it).  The folder is not required to exist.
    """
    spec = _check_name(name)
    root = _resolve_data_dir(data_dir)
    folder = root / spec["folder"]
    if not folder.is_dir() and any((root / f).is_file() for f in _required_files(name)):
        return root
    return folder


def _locate(name: str, data_dir) -> Path:
    """cifar_dir(), after checking that every .bin file is there."""
    spec = _check_name(name)
    directory = cifar_dir(name, data_dir)
    missing = [directory / f for f in _required_files(name) if not (directory / f).is_file()]
    if not missing:
        return directory
    root = _resolve_data_dir(data_dir)
    looked = "\n  ".join(str(p) for p in missing)
    how = f"`hyperprune download {name} --data-dir {root}` (needs internet)"
    if name == "cifar10" and _offline_copy():
        how += (f", or offline here `python {_JPEG_SCRIPT} {root / spec['folder']}` (builds "
                "the binary batches from this machine's JPEG copy; run from the repository "
                "root)")
    raise FileNotFoundError(
        f"{spec['title']} not found in {directory} (data directory {root}, "
        f"{describe_data_dir(data_dir)}).\n"
        f"Looked for:\n  {looked}\n"
        f"(in {root / spec['folder']}, or directly in {root}).\n"
        f"Get it with {how}; or point --data-dir / ${DATA_ENV_VAR} at a "
        f"directory containing {spec['folder']}/.")


@dataclass(frozen=True)
class CIFAR:
    """A loaded CIFAR data set.

    `train` and `test` are (images uint8 (N, 3, 32, 32), labels int64 (N,)); CIFAR-10 has
    50,000 / 10,000 images, CIFAR-100 the same.  `classes` are the class names (None if
    the names file is absent), `label` is "fine" / "coarse" for CIFAR-100 (None for
    CIFAR-10), `source` says which copy was found (see the module docstring) and
    `description` is the label to put next to numbers measured on it.
    """

    name: str
    train: tuple
    test: tuple
    classes: tuple | None
    source: str
    directory: Path
    label: str | None = None

    @property
    def description(self) -> str:
        title = CIFAR_DOWNLOADS[self.name]["title"]
        if self.name == "cifar100" and self.label == "coarse":
            title += " (20 coarse classes)"
        return {"jpeg-copy": f"{title} (JPEG copy)",
                "unverified": f"{title} (source not verified)"}.get(self.source, title)


def _identify_cifar10(hashes: dict, directory: Path) -> str:
    """'jpeg-copy' if every file has the JPEG copy's SHA-256, 'canonical (unverified per
    file)' if none has; a partial match is a corrupt or mixed copy."""
    matches = {f: h == CIFAR10_JPEG_COPY_SHA256.get(f) for f, h in hashes.items()}
    if all(matches.values()):
        return "jpeg-copy"
    if not any(matches.values()):
        return "canonical (unverified per file)"
    bad = "\n  ".join(f"{directory / f}: SHA-256 {hashes[f]}, the JPEG copy has "
                      f"{CIFAR10_JPEG_COPY_SHA256.get(f)}" for f, ok in matches.items() if not ok)
    good = ", ".join(f for f, ok in matches.items() if ok)
    raise ValueError(
        f"{directory}: {good} match the CIFAR-10 JPEG copy but these files do not:\n  {bad}\n"
        f"a corrupt or mixed copy; rebuild it with `python {_JPEG_SCRIPT} {directory}`")


def _check_balanced(labels: np.ndarray, classes: int, where: str) -> None:
    counts = np.bincount(labels, minlength=classes)
    if counts.min() != counts.max():
        raise ValueError(
            f"{where}: class counts {counts.tolist()} are not all equal; both the canonical "
            f"CIFAR-10 and its JPEG copy have every class equally often: not CIFAR-10")


def load_cifar10(data_dir=None, verify: bool = True) -> CIFAR:
    """Load CIFAR-10 (binary version) from `cifar_dir("cifar10", data_dir)`.

    Every file is checked structurally (size, 10,000 records, labels 0..9).  With
    `verify`, each .bin file is also hashed and compared with the JPEG copy's SHA-256s,
    and each split must have every class equally often; `source` is then "jpeg-copy" or
    "canonical (unverified per file)" (see the module docstring), else "unverified".

    Returns:
        a `CIFAR`: train (50000, 3, 32, 32) / (50000,), test (10000, 3, 32, 32) /
        (10000,), images uint8 CHW, labels int64 0..9; classes from batches.meta.txt if
        present, else `CIFAR10_CLASSES`.

    Raises:
        FileNotFoundError listing the missing files and how to get them.
        ValueError for a malformed file or a corrupt / mixed JPEG copy.
    """
    directory = _locate("cifar10", data_dir)
    hashes, parts = {}, {}
    for f in CIFAR10_TRAIN_FILES + (CIFAR10_TEST_FILE,):
        content = (directory / f).read_bytes()
        parts[f] = _cifar10_arrays(content, directory / f, CIFAR10_BATCH_RECORDS)
        if verify:
            hashes[f] = hashlib.sha256(content).hexdigest()
    train = tuple(np.concatenate([parts[f][i] for f in CIFAR10_TRAIN_FILES]) for i in (0, 1))
    test = parts[CIFAR10_TEST_FILE]
    source = "unverified"
    if verify:
        source = _identify_cifar10(hashes, directory)
        _check_balanced(train[1], 10, f"{directory} (training batches)")
        _check_balanced(test[1], 10, directory / CIFAR10_TEST_FILE)
    meta = directory / "batches.meta.txt"
    classes = _read_names(meta, 10) if meta.is_file() else CIFAR10_CLASSES
    return CIFAR("cifar10", train, test, classes, source, directory)


def load_cifar100(data_dir=None, label: str = "fine") -> CIFAR:
    """Load CIFAR-100 (binary version) from `cifar_dir("cifar100", data_dir)`.

    Checked structurally (sizes, 50,000 / 10,000 records, both label ranges).  No per-file
    checksums are known (only the tarball's MD5, checked by `download_cifar`), so
    `source` is "canonical (unverified per file)".

    Returns:
        a `CIFAR` with train (50000, 3, 32, 32) / (50000,) and test (10000, ...) arrays,
        labels int64 in 0..99 (label="fine") or 0..19 ("coarse"); classes from
        fine_label_names.txt / coarse_label_names.txt if present, else None.
    """
    if label not in ("fine", "coarse"):
        raise ValueError(f"label must be 'fine' or 'coarse', got {label!r}")
    directory = _locate("cifar100", data_dir)
    train, test = (read_cifar100_file(directory / f, label, n) for f, n in CIFAR100_RECORDS.items())
    names = directory / f"{label}_label_names.txt"
    classes = _read_names(names, 100 if label == "fine" else 20) if names.is_file() else None
    return CIFAR("cifar100", train, test, classes, "canonical (unverified per file)",
                 directory, label)


# ----------------------------------------------------------------------------------------
# Download and safe extraction
# ----------------------------------------------------------------------------------------

def _complete(folder: Path, name: str) -> bool:
    return all((folder / f).is_file() and (folder / f).stat().st_size == size
               for f, size in _required_files(name).items())


def download_cifar(name: str, dest_dir=None, timeout: float = 60.0) -> Path:
    """Download the canonical binary tarball of `name` ("cifar10" or "cifar100") and
    extract it into `dest_dir` (default: `data_dir()`); needs internet.

    The tarball holds one folder (`cifar-10-batches-bin/` or `cifar-100-binary/`), which
    ends up at `<dest_dir>/<folder>`.  If that folder already holds every .bin file with
    the canonical size, nothing is downloaded (whatever copy it is).  The tarball is
    streamed to a temporary file in `dest_dir`, its MD5 is compared with the published
    one (`CIFAR_DOWNLOADS`) *before* the archive is opened, then it is extracted with
    `safe_extract` and deleted.

    Returns:
        the folder holding the .bin files.

    Raises:
        RuntimeError if the download fails (e.g. offline), the MD5 does not match, or the
        archive lacks the expected files; ValueError if the archive is unsafe.
    """
    spec = _check_name(name)
    dest = _resolve_data_dir() if dest_dir is None else Path(dest_dir).expanduser()
    folder = dest / spec["folder"]
    if _complete(folder, name):
        return folder
    dest.mkdir(parents=True, exist_ok=True)
    url, title = spec["url"], spec["title"]

    def verify(path):
        got = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if got != spec["md5"]:
            raise RuntimeError(
                f"{url}: checksum mismatch: expected MD5 {spec['md5']}, got {got}; the "
                f"download is corrupt or not the canonical {title} archive; nothing was "
                "extracted")

    try:
        with download_verified(url, dest, verify, timeout) as archive:
            safe_extract(archive, dest)
    except OSError as exc:  # URLError, HTTPError and socket timeouts are OSErrors
        offline = f"`python {_JPEG_SCRIPT} DIR` builds CIFAR-10 from the JPEG copy; " \
            if name == "cifar10" and _offline_copy() else ""
        raise RuntimeError(
            f"could not download {title} (offline?): {url}: "
            f"{getattr(exc, 'reason', exc)}. {offline}use --data-dir/"
            f"{DATA_ENV_VAR} to point at an existing copy") from exc
    if not _complete(folder, name):
        raise RuntimeError(f"{url}: the archive did not contain the expected files in "
                           f"{spec['folder']}/: {sorted(_required_files(name))}")
    return folder


# ----------------------------------------------------------------------------------------
# Preprocessing
# ----------------------------------------------------------------------------------------

#: Per-channel mean / std of the 50,000 canonical CIFAR-10 training images, pixels in
#: [0, 1], over all pixels of each channel (the usual values; the often-seen
#: (0.2023, 0.1994, 0.2010) is a mean of per-image stds instead).  The JPEG copy measures
#: (0.4913, 0.4821, 0.4465) / (0.2452, 0.2428, 0.2606); the canonical values are used for
#: both, so that models see the same scaling whichever copy they are trained on.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
#: The same for CIFAR-100: the commonly quoted values, not recomputed here (CIFAR-100 is
#: not available offline); `channel_stats` computes them from any copy.
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
_STATS = {"cifar10": (CIFAR10_MEAN, CIFAR10_STD), "cifar100": (CIFAR100_MEAN, CIFAR100_STD)}


def channel_stats(images: np.ndarray):
    """Per-channel (mean, std) of images (N, C, H, W), as tuples of floats.

    uint8 pixels are scaled to [0, 1] and counted exactly with a histogram per channel;
    float input is used as is (float64 accumulation).  std is the population std.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {images.shape}")
    means, stds = [], []
    for c in range(images.shape[1]):
        if images.dtype == np.uint8:
            counts = np.bincount(images[:, c].ravel(), minlength=256)
            values = np.arange(256) / 255.0
            mean = (counts * values).sum() / counts.sum()
            std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
        else:
            channel = images[:, c].astype(np.float64)
            mean, std = channel.mean(), channel.std()
        means.append(float(mean))
        stds.append(float(std))
    return tuple(means), tuple(stds)


def normalize(images, mean=CIFAR10_MEAN, std=CIFAR10_STD, dtype=np.float32) -> np.ndarray:
    """(x - mean[c]) / std[c] per channel, channels on axis -3 (NCHW or CHW).

    uint8 pixels are divided by 255 first; floating-point input is taken to be in [0, 1]
    already.  Returns a new array of `dtype` (float32 by default).
    """
    images = np.asarray(images)
    if images.ndim < 3 or images.shape[-3] != len(mean) or len(mean) != len(std):
        raise ValueError(f"images {images.shape} need {len(mean)} channels on axis -3 "
                         f"(mean {len(mean)}, std {len(std)} values)")
    x = images.astype(dtype)  # a copy: the arithmetic below is in place
    if images.dtype == np.uint8:
        x /= 255.0
    x -= np.asarray(mean, dtype=dtype)[:, None, None]
    x /= np.asarray(std, dtype=dtype)[:, None, None]
    return x


def random_crop_flip(batch, rng: np.random.Generator, padding: int = 4, flip: bool = True,
                     fill=0) -> np.ndarray:
    """Random crops of the zero-padded images and random horizontal flips, vectorized.

    Each image of `batch` (N, C, H, W) is padded with `padding` pixels of `fill` on every
    side and an H x W window is cut at a uniformly random offset in [0, 2*padding] (per
    axis); then, if `flip`, it is mirrored left-right with probability 1/2.  Random draws,
    from `rng` in this order: the N row offsets, the N column offsets, the N flips.
    Shape and dtype are kept.  Apply it before `normalize` for black padding (the usual
    torchvision order) or after it for padding at the mean colour (fill=0 there).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not is_int(padding) or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    batch = np.asarray(batch)
    if batch.ndim != 4:
        raise ValueError(f"batch must be (N, C, H, W), got shape {batch.shape}")
    n, c, h, w = batch.shape
    p = padding
    padded = np.full((n, c, h + 2 * p, w + 2 * p), fill, dtype=batch.dtype)
    padded[:, :, p:p + h, p:p + w] = batch
    rows = rng.integers(0, 2 * p + 1, size=n)[:, None] + np.arange(h)   # (N, H)
    cols = rng.integers(0, 2 * p + 1, size=n)[:, None] + np.arange(w)   # (N, W)
    if flip:  # a flip is just reversed column indices
        flipped = rng.random(n) < 0.5
        cols = np.where(flipped[:, None], cols[:, ::-1], cols)
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


# ----------------------------------------------------------------------------------------
# Train / validation / test splits
# ----------------------------------------------------------------------------------------

_normalize = normalize  # cifar_splits' argument `normalize` shadows the function


def cifar_splits(name: str = "cifar10", data_dir=None, validation: int = 5000, seed: int = 0,
                 train_subset: int | None = None, label: str = "fine", verify: bool = True,
                 normalize: bool = True, mean=None, std=None,
                 dtype=np.float32) -> Splits:
    """CIFAR-10 or CIFAR-100 as train / val / test splits ready for training.

    The validation split is the first `validation` entries of
    `np.random.default_rng(seed).permutation(50000)`, the rest is `train` (disjoint,
    depending only on `seed`, both in the original order), as `datasets.mnist_splits`.
    `train_subset=k` keeps only the first k training images of that split (as the
    lottery's train_subset does for MNIST); None or 0 keeps all.  `test` is the official
    10,000-image test set.

    Features: float `dtype` (N, 3, 32, 32); with `normalize`, standardized per channel
    with `mean` / `std` (default: `CIFAR10_MEAN` / `CIFAR10_STD`, or the CIFAR-100 ones),
    else pixels scaled to [0, 1].  Augmentation (`random_crop_flip`) and a model's input
    encoding (hyperprune.models.encodings) are per batch, not applied here.
    `label` picks CIFAR-100's fine or coarse labels; `verify` is `load_cifar10`'s.
    """
    _check_name(name)
    data = (load_cifar10(data_dir, verify=verify) if name == "cifar10"
            else load_cifar100(data_dir, label=label))
    images, labels = data.train
    train_idx, val_idx = split_indices(len(images), validation, seed)
    if train_subset:
        if not is_int(train_subset) or not 0 < train_subset <= len(train_idx):
            raise ValueError(f"train_subset must be an integer in [1, {len(train_idx)}] "
                             f"(or None/0 for all), got {train_subset!r}")
        train_idx = train_idx[:train_subset]
    default_mean, default_std = _STATS[name]
    mean = default_mean if mean is None else mean
    std = default_std if std is None else std

    def pair(x, y):
        x = _normalize(x, mean, std, dtype) if normalize else _normalize(x, (0,) * 3,
                                                                          (1,) * 3, dtype)
        return x, y.astype(np.int64)

    return Splits(
        train=pair(images[train_idx], labels[train_idx]),
        val=pair(images[val_idx], labels[val_idx]),
        test=pair(*data.test),
        train_indices=train_idx,
        val_indices=val_idx,
        name=name,
        source=data.source,
        description=data.description,
        classes=data.classes,
    )
