"""Tests for hyperprune.datasets: IDX parsing, MNIST loading/verification, splits, batches.

The MNIST tests read the embedded files in data/mnist once (module-scoped fixture); all
other tests use small synthetic IDX files in tmp_path.  Nothing touches the network.
"""
import gzip
import io
import hashlib
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import hyperprune.datasets as ds

REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """Serialize `array` as IDX with the given dtype code (the inverse of read_idx)."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(ds.IDX_DTYPES[code]).tobytes()


def write(path: Path, content: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


# ---------------------------------------------------------------------------------------
# IDX round trip and errors
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                        (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
def test_idx_round_trip(tmp_path, gz, code, dtype):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True).astype(dtype)
    else:
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    # The name deliberately lies about compression: detection is by magic bytes.
    path = write(tmp_path / "data.idx", idx_bytes(array, code), gz=gz)
    out = ds.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 0  # writable


def test_idx_one_dimensional_and_empty(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(ds.read_idx(write(tmp_path / "a", idx_bytes(labels, 8))), labels)
    empty = np.zeros((0, 28, 28), dtype=np.uint8)
    assert ds.read_idx(write(tmp_path / "b", idx_bytes(empty, 8))).shape == (0, 28, 28)


def test_idx_optional_checksum(tmp_path):
    content = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3), 8)
    path = write(tmp_path / "x.gz", content, gz=True)
    good = hashlib.sha256(content).hexdigest()  # of the decompressed bytes
    assert ds.read_idx(path, sha256=good).shape == (2, 3)
    with pytest.raises(ValueError, match="checksum mismatch"):
        ds.read_idx(path, sha256="0" * 64)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), 8)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("content,message", [
    (b"\x01\x00" + GOOD[2:], "bad IDX magic"),
    (b"\x00\x00\x07" + GOOD[3:], "unknown IDX dtype code 0x07"),
    (GOOD[:-1], "truncated IDX data"),
    (GOOD[:9], "truncated IDX header"),
    (GOOD[:2], "truncated IDX header"),
    (GOOD + b"\x00\x00\x00", "3 trailing bytes"),
])
def test_idx_errors(tmp_path, gz, content, message):
    path = write(tmp_path / "bad.idx", content, gz=gz)
    with pytest.raises(ValueError, match=message) as info:
        ds.read_idx(path)
    assert str(path) in str(info.value)


def test_idx_corrupt_gzip(tmp_path):
    packed = bytearray(gzip.compress(GOOD))
    packed[-5] ^= 0xFF  # damage the stored length/CRC
    path = write(tmp_path / "bad.gz", bytes(packed))
    with pytest.raises(ValueError, match="corrupt gzip") as info:
        ds.read_idx(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="corrupt gzip"):
        ds.read_idx(write(tmp_path / "cut.gz", gzip.compress(GOOD)[:-12]))


# ---------------------------------------------------------------------------------------
# Data directory resolution
# ---------------------------------------------------------------------------------------

def test_data_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPERPRUNE_DATA", raising=False)
    assert ds.data_dir() == REPO_DATA
    assert ds.mnist_dir() == REPO_DATA / "mnist"
    monkeypatch.setenv("HYPERPRUNE_DATA", str(tmp_path / "env"))
    assert ds.data_dir() == tmp_path / "env"
    assert ds.data_dir(tmp_path / "explicit") == tmp_path / "explicit"  # explicit wins
    assert ds.mnist_dir(str(tmp_path)) == tmp_path / "mnist"
    monkeypatch.setenv("HYPERPRUNE_DATA", "")  # empty counts as unset
    assert ds.data_dir() == REPO_DATA


def test_missing_mnist_lists_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERPRUNE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        ds.load_mnist()
    message = str(info.value)
    assert "hyperprune download mnist" in message
    for name in ds.MNIST_FILES.values():
        assert str(tmp_path / "mnist" / (name + ".gz")) in message
        assert str(tmp_path / "mnist" / name) in message


def fake_mnist(directory: Path, gz_names=()) -> dict:
    """Write four tiny IDX files under MNIST's names; return their decompressed hashes."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28),
        "train-labels-idx1-ubyte": np.array([1, 2, 3], dtype=np.uint8),
        "t10k-images-idx3-ubyte": np.ones((2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.array([7, 9], dtype=np.uint8),
    }
    hashes = {}
    for name, array in arrays.items():
        content = idx_bytes(array, 8)
        gz = name in gz_names
        write(directory / (name + ".gz" if gz else name), content, gz=gz)
        hashes[name] = hashlib.sha256(content).hexdigest()
    return hashes


def test_load_mnist_env_and_explicit_dir(tmp_path, monkeypatch):
    # Raw (uncompressed) names are accepted, mixed with gzipped ones.
    hashes = fake_mnist(tmp_path / "env" / "mnist", gz_names={"train-labels-idx1-ubyte"})
    fake_mnist(tmp_path / "explicit" / "mnist")
    monkeypatch.setattr(ds.mnist, "MNIST_SHA256", hashes)
    monkeypatch.setenv("HYPERPRUNE_DATA", str(tmp_path / "env"))
    x, y, xt, yt = ds.load_mnist()
    assert x.shape == (3, 28, 28) and y.tolist() == [1, 2, 3] and yt.tolist() == [7, 9]
    assert ds.load_mnist(tmp_path / "explicit")[1].tolist() == [1, 2, 3]
    with pytest.raises(FileNotFoundError):
        ds.load_mnist(tmp_path / "nowhere")


def test_load_mnist_checksum_mismatch_patched(tmp_path, monkeypatch):
    hashes = fake_mnist(tmp_path / "mnist")
    hashes["t10k-labels-idx1-ubyte"] = "ab" * 32
    monkeypatch.setattr(ds.mnist, "MNIST_SHA256", hashes)
    with pytest.raises(ValueError) as info:
        ds.load_mnist(tmp_path)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message
    assert f"checksum mismatch: expected SHA-256 {'ab' * 32}, got " in message
    assert "the file is corrupt or not the canonical MNIST" in message


def test_load_mnist_rejects_corrupted_real_labels(tmp_path):
    """A valid IDX file with one label changed parses fine but fails the real checksum."""
    directory = tmp_path / "mnist"
    directory.mkdir()
    for name in ds.MNIST_FILES.values():  # cheap stand-ins: links to the real files
        (directory / (name + ".gz")).symlink_to(REPO_DATA / "mnist" / (name + ".gz"))
    real = REPO_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(real.read_bytes()))
    content[-1] = (content[-1] + 1) % 10
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    write(directory / "t10k-labels-idx1-ubyte.gz", bytes(content), gz=True)
    with pytest.raises(ValueError, match="checksum mismatch.*canonical MNIST"):
        ds.load_mnist(tmp_path)


# ---------------------------------------------------------------------------------------
# Download (offline path only)
# ---------------------------------------------------------------------------------------

def test_download_offline_message(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError) as info:
        ds.download_mnist(tmp_path / "mnist")
    message = str(info.value)
    assert message.startswith("could not download MNIST (offline?)")
    assert "data/mnist" in message and "HYPERPRUNE_DATA" in message
    assert all(m in message for m in ds.MNIST_MIRRORS)
    assert not any((tmp_path / "mnist").iterdir())  # no temporary files left behind


def test_download_skips_valid_files(tmp_path, monkeypatch):
    hashes = fake_mnist(tmp_path, gz_names={"t10k-images-idx3-ubyte"})
    monkeypatch.setattr(ds.mnist, "MNIST_SHA256", hashes)

    def must_not_download(*args, **kwargs):
        raise AssertionError("nothing to download")

    monkeypatch.setattr(urllib.request, "urlopen", must_not_download)
    paths = ds.download_mnist(tmp_path)
    assert [p.name for p in paths] == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"]


def test_download_verifies_and_falls_back_to_next_mirror(tmp_path, monkeypatch):
    """Fake mirrors (no network): the first serves wrong content, the second the right one."""
    source = tmp_path / "source"
    hashes = fake_mnist(source)
    monkeypatch.setattr(ds.mnist, "MNIST_SHA256", hashes)
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        name = url.rsplit("/", 1)[1][: -len(".gz")]
        content = (source / name).read_bytes()
        if url.startswith("https://first/"):
            content = content[:-1] + b"\x00"  # wrong data: must not be kept
        return io.BytesIO(gzip.compress(content))

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    dest = tmp_path / "dest"
    paths = ds.download_mnist(dest, mirrors=("https://first/", "https://second/"))
    assert [p.name for p in paths] == [n + ".gz" for n in ds.MNIST_FILES.values()]
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in paths)  # no temp files
    assert len(requested) == 8
    for name in ds.MNIST_FILES.values():
        assert gzip.decompress((dest / (name + ".gz")).read_bytes()) == (source / name).read_bytes()
    # Only wrong content anywhere: a clear error, nothing kept.
    with pytest.raises(RuntimeError, match="no mirror served the canonical MNIST"):
        ds.download_mnist(tmp_path / "dest2", mirrors=("https://first/",))
    assert not any((tmp_path / "dest2").iterdir())


# ---------------------------------------------------------------------------------------
# The real MNIST
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist():
    return ds.load_mnist(REPO_DATA)


def test_mnist_shapes_and_values(mnist):
    x, y, xt, yt = mnist
    assert x.shape == (60000, 28, 28) and y.shape == (60000,)
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in mnist)
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(yt)) == set(range(10))
    # Pixel statistics over all 60k training images, from a histogram of the 256 values
    # (exact and much faster than converting 47M pixels to float).
    counts = np.bincount(x.ravel(), minlength=256)
    values = np.arange(256) / 255.0
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    assert abs(mean - ds.MNIST_MEAN) < 1e-3
    assert abs(std - ds.MNIST_STD) < 1e-3


def test_mnist_splits_normalized():
    splits = ds.mnist_splits(REPO_DATA)
    (x, y), (xv, yv), (xt, yt) = splits.train, splits.val, splits["test"]
    assert x.shape == (55000, 784) and xv.shape == (5000, 784) and xt.shape == (10000, 784)
    assert x.dtype == np.float32 and y.dtype == np.int64 and yv.dtype == np.int64
    assert abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1.0) < 0.01
    assert len(y) == 55000 and len(yt) == 10000


@pytest.fixture
def cached_load(monkeypatch, mnist):
    """Make mnist_splits reuse the module's already-loaded arrays (keeps tests fast)."""
    monkeypatch.setattr(ds.mnist, "load_mnist", lambda data_dir=None: mnist)


def test_mnist_splits_deterministic_and_disjoint(cached_load, mnist):
    a = ds.mnist_splits(seed=3, normalize=False, flatten=False)
    b = ds.mnist_splits(seed=3, normalize=False, flatten=False)
    c = ds.mnist_splits(seed=4, normalize=False, flatten=False)
    assert len(a.val_indices) == 5000 and len(a.train_indices) == 55000
    assert np.intersect1d(a.val_indices, a.train_indices).size == 0
    assert np.union1d(a.val_indices, a.train_indices).size == 60000
    np.testing.assert_array_equal(a.val_indices, b.val_indices)
    np.testing.assert_array_equal(a.val[0], b.val[0])
    assert not np.array_equal(a.val_indices, c.val_indices)
    # Unnormalized, unflattened: the raw pixels scaled to [0, 1], labels matching.
    x, y = a.val
    assert x.shape == (5000, 28, 28) and 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x, mnist[0][a.val_indices] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, mnist[1][a.val_indices])
    assert ds.mnist_splits(validation=100, dtype=np.float64).val[0].dtype == np.float64
    with pytest.raises(ValueError, match="validation"):
        ds.mnist_splits(validation=60000)


# ---------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------

N = 103


@pytest.fixture
def toy():
    x = np.arange(N * 2, dtype=np.float32).reshape(N, 2)
    return x, np.arange(N)  # y[i] = i identifies each example


def test_batches_cover_epoch_once(toy):
    x, y = toy
    got = list(ds.batches(x, y, 10, seed=1, epoch=0))
    assert [len(yb) for _, yb in got] == [10] * 10 + [3]
    seen = np.concatenate([yb for _, yb in got])
    assert sorted(seen.tolist()) == list(range(N))
    assert not np.array_equal(seen, np.arange(N))  # shuffled
    for xb, yb in got:
        np.testing.assert_array_equal(xb, x[yb])  # x and y stay aligned
    dropped = list(ds.batches(x, y, 10, seed=1, drop_last=True))
    assert [len(yb) for _, yb in dropped] == [10] * 10
    ordered = np.concatenate([yb for _, yb in ds.batches(x, y, 10, shuffle=False)])
    np.testing.assert_array_equal(ordered, np.arange(N))


def test_batches_reproducible_per_epoch(toy):
    x, y = toy

    def order(seed, epoch):
        return np.concatenate([yb for _, yb in ds.batches(x, y, 7, seed=seed, epoch=epoch)])

    np.testing.assert_array_equal(order(0, 2), order(0, 2))
    assert not np.array_equal(order(0, 0), order(0, 1))
    assert not np.array_equal(order(0, 0), order(1, 0))


def test_batches_argument_errors(toy):
    x, y = toy
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            ds.batches(x, y, bad)  # raised at the call, not at the first next()
    with pytest.raises(ValueError, match="same length"):
        ds.batches(x, y[:-1], 4)
    with pytest.raises(ValueError, match="epoch"):
        ds.batches(x, y, 4, epoch=-1)
    with pytest.raises(ValueError, match="batch_size"):
        ds.iterate_batches(x, y, 0)
    with pytest.raises(ValueError, match="same length"):
        ds.iterate_batches(x, y[:5], 4)
    with pytest.raises(ValueError, match="no batches"):
        ds.iterate_batches(x, y, N + 1, drop_last=True)
    with pytest.raises(ValueError, match="start_iteration"):
        ds.iterate_batches(x, y, 4, start_iteration=-1)


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterate_batches_matches_epochs_and_resumes(toy, drop_last):
    x, y = toy
    bs, seed = 10, 5
    stream = ds.iterate_batches(x, y, bs, seed=seed, drop_last=drop_last)
    per_epoch = stream.batches_per_epoch
    assert per_epoch == (10 if drop_last else 11)
    run = [next(stream) for _ in range(4 * per_epoch + 3)]
    assert stream.iteration == len(run) and stream.epoch == 4
    # The stream is the concatenation of the epochs of `batches`.
    expected = [b for epoch in range(5)
                for b in ds.batches(x, y, bs, seed=seed, epoch=epoch, drop_last=drop_last)]
    for (xa, ya), (xb, yb) in zip(run, expected):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    # Resuming at any iteration k reproduces the uninterrupted run from k on.
    for k in (0, 1, per_epoch - 1, per_epoch, 2 * per_epoch + 5):
        resumed = ds.iterate_batches(x, y, bs, seed=seed, start_iteration=k, drop_last=drop_last)
        for i in range(k, len(run)):
            xb, yb = next(resumed)
            np.testing.assert_array_equal(yb, run[i][1])
            np.testing.assert_array_equal(xb, run[i][0])
