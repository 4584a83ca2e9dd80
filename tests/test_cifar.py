"""Tests for hyperprune.cifar: binary readers, loading and source detection, download with
MD5 check and safe extraction, preprocessing, quaternion encodings, splits.

Everything uses small synthetic files written in tmp_path in exactly the binary format
(the real data set is never read), and nothing touches the network: `urlopen` is replaced
by a function serving bytes.
"""
import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from hyperprune.datasets import cifar
from hyperprune.datasets.download import safe_extract
from hyperprune.models import encodings

RNG = np.random.default_rng(1234)


# ---------------------------------------------------------------------------------------
# Synthetic files
# ---------------------------------------------------------------------------------------

def random_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


def cifar10_bytes(images, labels) -> bytes:
    """The binary CIFAR-10 format: per record, 1 label byte then 3072 CHW pixel bytes."""
    n = len(labels)
    return np.concatenate([np.asarray(labels, np.uint8)[:, None],
                           images.reshape(n, -1)], axis=1).tobytes()


def cifar100_bytes(images, coarse, fine) -> bytes:
    n = len(fine)
    return np.concatenate([np.asarray(coarse, np.uint8)[:, None],
                           np.asarray(fine, np.uint8)[:, None],
                           images.reshape(n, -1)], axis=1).tobytes()


PER_BATCH = 20  # records per synthetic CIFAR-10 file (the canonical count is patched)


@pytest.fixture
def small_counts(monkeypatch):
    """Make the loaders expect 20-record CIFAR-10 files and 40/20-record CIFAR-100 files."""
    monkeypatch.setattr(cifar, "CIFAR10_BATCH_RECORDS", PER_BATCH)
    monkeypatch.setattr(cifar, "CIFAR100_RECORDS", {"train.bin": 40, "test.bin": 20})


def write_cifar10(directory: Path, meta=True) -> dict:
    """Six balanced 20-record files (+ batches.meta.txt); returns file name -> (x, y)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for k, name in enumerate(cifar.CIFAR10_TRAIN_FILES + (cifar.CIFAR10_TEST_FILE,)):
        x = random_images(PER_BATCH, seed=k)
        y = np.random.default_rng(k).permutation(np.arange(PER_BATCH) % 10)
        (directory / name).write_bytes(cifar10_bytes(x, y))
        arrays[name] = (x, y)
    if meta:
        (directory / "batches.meta.txt").write_text("\n".join(cifar.CIFAR10_CLASSES) + "\n\n")
    return arrays


def write_cifar100(directory: Path) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for k, (name, n) in enumerate({"train.bin": 40, "test.bin": 20}.items()):
        rng = np.random.default_rng(100 + k)
        x = random_images(n, seed=100 + k)
        coarse, fine = rng.integers(0, 20, n), rng.integers(0, 100, n)
        (directory / name).write_bytes(cifar100_bytes(x, coarse, fine))
        arrays[name] = (x, coarse, fine)
    (directory / "fine_label_names.txt").write_text("\n".join(f"f{i}" for i in range(100)) + "\n")
    (directory / "coarse_label_names.txt").write_text("\n".join(f"c{i}" for i in range(20)) + "\n")
    return arrays


def sha256_of(directory: Path) -> dict:
    return {f: hashlib.sha256((directory / f).read_bytes()).hexdigest()
            for f in cifar.CIFAR10_JPEG_COPY_SHA256}


# ---------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------

def test_cifar10_round_trip(tmp_path):
    x, y = random_images(7), np.array([0, 9, 3, 3, 5, 1, 2])
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar10_bytes(x, y))
    images, labels = cifar.read_cifar10_batch(path, expected_records=None)
    assert images.shape == (7, 3, 32, 32) and images.dtype == np.uint8
    assert labels.shape == (7,) and labels.dtype == np.int64
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    # CHW: byte 1 + 32*r + c of a record is red pixel (r, c); byte 1 + 1024 starts green.
    raw = path.read_bytes()
    assert images[1, 0, 2, 5] == raw[cifar.CIFAR10_RECORD_BYTES + 1 + 32 * 2 + 5]
    assert images[1, 1, 0, 0] == raw[cifar.CIFAR10_RECORD_BYTES + 1 + 1024]
    images[0, 0, 0, 0] = 1  # writable
    assert cifar.read_cifar10_batch(path, expected_records=7)[0].shape == (7, 3, 32, 32)


@pytest.mark.parametrize("label", ["fine", "coarse"])
def test_cifar100_round_trip(tmp_path, label):
    x, coarse, fine = random_images(5), np.array([0, 19, 4, 4, 7]), np.array([99, 0, 17, 18, 50])
    path = tmp_path / "train.bin"
    path.write_bytes(cifar100_bytes(x, coarse, fine))
    images, labels = cifar.read_cifar100_file(path, label=label)
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, fine if label == "fine" else coarse)
    assert labels.dtype == np.int64 and images.dtype == np.uint8
    with pytest.raises(ValueError, match="'fine' or 'coarse'"):
        cifar.read_cifar100_file(path, label="both")
    with pytest.raises(ValueError, match="5 records"):
        cifar.read_cifar100_file(path, expected_records=50000)


def test_truncated_not_a_multiple(tmp_path):
    good = cifar10_bytes(random_images(3), [1, 2, 3])
    path = tmp_path / "data_batch_1.bin"
    for content in (good[:-1], good + b"\x00", b""):
        path.write_bytes(content)
        with pytest.raises(ValueError) as info:
            cifar.read_cifar10_batch(path, expected_records=None)
        message = str(info.value)
        assert str(path) in message and f"{len(content)} bytes" in message
        assert "3073-byte" in message
        assert "truncated or not a CIFAR-10 binary batch" in message
    path.write_bytes(cifar100_bytes(random_images(2), [1, 2], [3, 4])[:-10])
    with pytest.raises(ValueError, match="3074-byte CIFAR-100 record: truncated") as info:
        cifar.read_cifar100_file(path)
    assert str(path) in str(info.value)


def test_file_one_record_short(tmp_path):
    """The canonical count (10,000 per CIFAR-10 file) is the reader's default."""
    n = cifar.CIFAR10_BATCH_RECORDS - 1
    path = tmp_path / "data_batch_3.bin"
    path.write_bytes(cifar10_bytes(np.zeros((n, 3, 32, 32), np.uint8), np.arange(n) % 10))
    with pytest.raises(ValueError) as info:
        cifar.read_cifar10_batch(path)
    message = str(info.value)
    assert str(path) in message and "9999 records" in message and "expected 10000" in message
    assert "truncated or not a canonical CIFAR-10 binary batch" in message
    assert len(cifar.read_cifar10_batch(path, expected_records=None)[1]) == n


def test_cifar100_file_read_as_cifar10_is_detected(tmp_path):
    # Usual case: the size is not a multiple of 3073 (3073 and 3074 are coprime); the
    # message recognizes the CIFAR-100 record size.
    path = tmp_path / "train.bin"
    path.write_bytes(cifar100_bytes(random_images(7), np.arange(7), np.arange(7) * 10))
    with pytest.raises(ValueError, match="multiple of 3074 bytes, the CIFAR-100 record size"):
        cifar.read_cifar10_batch(path, expected_records=None)
    # And the reverse.
    path.write_bytes(cifar10_bytes(random_images(7), np.arange(7)))
    with pytest.raises(ValueError, match="multiple of 3073 bytes, the CIFAR-10 record size"):
        cifar.read_cifar100_file(path)
    # 3073 CIFAR-100 records are also 3074 CIFAR-10-sized records: the label bytes then
    # fall on coarse labels / pixels, out of 0..9 (and the canonical count would not fit).
    n = cifar.CIFAR10_RECORD_BYTES
    path.write_bytes(cifar100_bytes(random_images(n), np.arange(n) % 20, np.arange(n) % 100))
    with pytest.raises(ValueError, match="out of range 0..9") as info:
        cifar.read_cifar10_batch(path, expected_records=None)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="3074 records"):
        cifar.read_cifar10_batch(path)


def test_labels_out_of_range(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(cifar10_bytes(random_images(4), [0, 9, 10, 255]))
    with pytest.raises(ValueError) as info:
        cifar.read_cifar10_batch(path, expected_records=None)
    message = str(info.value)
    assert str(path) in message and "label 10 of record 2 is out of range 0..9" in message
    assert "2 such records" in message
    path.write_bytes(cifar100_bytes(random_images(2), [3, 20], [5, 6]))
    with pytest.raises(ValueError, match=r"coarse label 20 of record 1 is out of range 0\.\.19"):
        cifar.read_cifar100_file(path, label="fine")  # both label bytes are checked
    path.write_bytes(cifar100_bytes(random_images(2), [3, 4], [100, 6]))
    with pytest.raises(ValueError, match=r"fine label 100 of record 0 is out of range 0\.\.99"):
        cifar.read_cifar100_file(path, label="coarse")


# ---------------------------------------------------------------------------------------
# Locating and loading
# ---------------------------------------------------------------------------------------

@pytest.fixture
def offline_copy(tmp_path, monkeypatch):
    """This project's machines: the JPEG converter exists next to the repository (made to
    exist here, so the test does not depend on where the repository is cloned)."""
    converter = tmp_path / "cifar10_from_jpeg.py"
    converter.write_text("")
    monkeypatch.setattr(cifar, "JPEG_CONVERTER", converter)


def test_missing_files_message(tmp_path, monkeypatch, offline_copy):
    monkeypatch.setenv("HYPERPRUNE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        cifar.load_cifar10()
    message = str(info.value)
    for name in cifar.CIFAR10_TRAIN_FILES + (cifar.CIFAR10_TEST_FILE,):
        assert str(tmp_path / "cifar-10-batches-bin" / name) in message
    assert "from $HYPERPRUNE_DATA" in message
    folder = tmp_path / "cifar-10-batches-bin"
    assert f"python ../shared/data/cifar10_from_jpeg.py {folder}" in message
    assert "hyperprune download cifar10" in message
    with pytest.raises(FileNotFoundError) as info:
        cifar.load_cifar100()
    message = str(info.value)
    assert str(tmp_path / "cifar-100-binary" / "train.bin") in message
    assert "hyperprune download cifar100" in message and "cifar10_from_jpeg" not in message
    # One file missing: only it is listed.
    write_cifar10(tmp_path / "cifar-10-batches-bin")
    (tmp_path / "cifar-10-batches-bin" / "data_batch_4.bin").unlink()
    with pytest.raises(FileNotFoundError) as info:
        cifar.load_cifar10()
    assert "data_batch_4.bin" in str(info.value) and "data_batch_1.bin" not in str(info.value)


def test_missing_cifar10_without_the_offline_copy_names_only_the_download(tmp_path,
                                                                          monkeypatch):
    """A user with only the repository is told the download command, not a converter
    that exists on this project's machines only."""
    monkeypatch.setenv("HYPERPRUNE_DATA", str(tmp_path))
    monkeypatch.setattr(cifar, "JPEG_CONVERTER", tmp_path / "absent.py")
    with pytest.raises(FileNotFoundError) as info:
        cifar.load_cifar10()
    message = str(info.value)
    assert f"hyperprune download cifar10 --data-dir {tmp_path}" in message
    assert "cifar10_from_jpeg" not in message


def test_layouts_and_data_dir_resolution(tmp_path, monkeypatch, small_counts):
    write_cifar10(tmp_path / "root" / "cifar-10-batches-bin")
    arrays = write_cifar10(tmp_path / "flat")  # the .bin files directly in data_dir
    monkeypatch.setenv("HYPERPRUNE_DATA", str(tmp_path / "root"))
    assert cifar.cifar_dir("cifar10") == tmp_path / "root" / "cifar-10-batches-bin"
    assert cifar.cifar_dir("cifar10", tmp_path / "flat") == tmp_path / "flat"
    assert cifar.cifar_dir("cifar100", tmp_path / "flat") == tmp_path / "flat" / "cifar-100-binary"
    with pytest.raises(ValueError, match="unknown dataset"):
        cifar.cifar_dir("cifar20")
    assert cifar.load_cifar10().directory == tmp_path / "root" / "cifar-10-batches-bin"
    data = cifar.load_cifar10(tmp_path / "flat")  # explicit beats the environment
    assert data.directory == tmp_path / "flat"
    x, y = data.train
    assert x.shape == (5 * PER_BATCH, 3, 32, 32) and y.shape == (5 * PER_BATCH,)
    np.testing.assert_array_equal(x[:PER_BATCH], arrays["data_batch_1.bin"][0])
    np.testing.assert_array_equal(y[-PER_BATCH:], arrays["data_batch_5.bin"][1])
    np.testing.assert_array_equal(data.test[0], arrays["test_batch.bin"][0])
    assert data.classes == cifar.CIFAR10_CLASSES and data.label is None


def test_cifar10_source_detection(tmp_path, monkeypatch, small_counts):
    directory = tmp_path / "cifar-10-batches-bin"
    write_cifar10(directory, meta=False)
    # Not the JPEG copy: reported as canonical, but honestly as unverified per file.
    data = cifar.load_cifar10(tmp_path)
    assert data.source == "canonical (unverified per file)" and data.description == "CIFAR-10"
    assert data.classes == cifar.CIFAR10_CLASSES  # default names without batches.meta.txt
    unverified = cifar.load_cifar10(tmp_path, verify=False)
    assert unverified.source == "unverified"
    assert unverified.description == "CIFAR-10 (source not verified)"
    # The JPEG copy: every file's SHA-256 is in the table.
    table = sha256_of(directory)
    monkeypatch.setattr(cifar, "CIFAR10_JPEG_COPY_SHA256", table)
    data = cifar.load_cifar10(tmp_path)
    assert data.source == "jpeg-copy" and data.description == "CIFAR-10 (JPEG copy)"
    # One file changed: a corrupt or mixed copy, named in the error.
    content = bytearray((directory / "data_batch_2.bin").read_bytes())
    content[-1] ^= 1
    (directory / "data_batch_2.bin").write_bytes(bytes(content))
    with pytest.raises(ValueError, match="corrupt or mixed copy") as info:
        cifar.load_cifar10(tmp_path)
    assert str(directory / "data_batch_2.bin") in str(info.value)
    assert "data_batch_1.bin" not in str(info.value).split("\n", 1)[1]
    assert cifar.load_cifar10(tmp_path, verify=False).source == "unverified"


def test_real_table_matches_shared_sums():
    """The embedded table is the one in ../shared/data (when that checkout is present)."""
    sums = Path(__file__).resolve().parents[2] / "shared/data/SHA256SUMS.cifar-10-batches-bin"
    if not sums.is_file():
        pytest.skip(f"{sums} not present")
    listed = {line.split()[1].rsplit("/", 1)[1]: line.split()[0]
              for line in sums.read_text().splitlines() if line.strip()}
    for name, digest in cifar.CIFAR10_JPEG_COPY_SHA256.items():
        assert listed[name] == digest


def test_verify_requires_balanced_classes(tmp_path, small_counts):
    directory = tmp_path / "cifar-10-batches-bin"
    write_cifar10(directory)
    y = np.zeros(PER_BATCH, dtype=np.uint8)  # all class 0
    (directory / "test_batch.bin").write_bytes(cifar10_bytes(random_images(PER_BATCH), y))
    with pytest.raises(ValueError, match="not all equal"):
        cifar.load_cifar10(tmp_path)
    assert cifar.load_cifar10(tmp_path, verify=False).test[1].sum() == 0


@pytest.mark.parametrize("label", ["fine", "coarse"])
def test_load_cifar100(tmp_path, small_counts, label):
    arrays = write_cifar100(tmp_path / "cifar-100-binary")
    data = cifar.load_cifar100(tmp_path, label=label)
    x, coarse, fine = arrays["train.bin"]
    np.testing.assert_array_equal(data.train[0], x)
    np.testing.assert_array_equal(data.train[1], fine if label == "fine" else coarse)
    assert data.test[0].shape == (20, 3, 32, 32)
    assert len(data.classes) == (100 if label == "fine" else 20) and data.label == label
    assert data.source == "canonical (unverified per file)"
    assert data.description == ("CIFAR-100" if label == "fine" else "CIFAR-100 (20 coarse classes)")
    # The canonical counts are required.
    (tmp_path / "cifar-100-binary" / "test.bin").write_bytes(
        cifar100_bytes(random_images(3), [1, 2, 3], [4, 5, 6]))
    with pytest.raises(ValueError, match="3 records.*expected 20"):
        cifar.load_cifar100(tmp_path, label=label)


# ---------------------------------------------------------------------------------------
# Download and safe extraction (no network)
# ---------------------------------------------------------------------------------------

def tar_bytes(members) -> bytes:
    """A .tar.gz of (TarInfo, data or None) pairs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def file_member(name, data=b"x"):
    return tarfile.TarInfo(name), data


def dir_member(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


def link_member(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def device_member(name):
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info, None


def serve(monkeypatch, content: bytes, requested=None):
    def fake_urlopen(url, timeout=None):
        if requested is not None:
            requested.append(url)
        return io.BytesIO(content)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def good_cifar10_tarball(tmp_path) -> bytes:
    source = tmp_path / "source" / "cifar-10-batches-bin"
    write_cifar10(source)
    members = [dir_member("cifar-10-batches-bin")]
    members += [file_member(f"cifar-10-batches-bin/{p.name}", p.read_bytes())
                for p in sorted(source.iterdir())]
    members.append(file_member("cifar-10-batches-bin/readme.html", b"<html></html>"))
    return tar_bytes(members)


def test_download_md5_mismatch_extracts_nothing(tmp_path, monkeypatch, small_counts):
    dest = tmp_path / "dest"
    for content in (b"not a tarball at all", good_cifar10_tarball(tmp_path)):
        serve(monkeypatch, content)
        with pytest.raises(RuntimeError) as info:
            cifar.download_cifar("cifar10", dest)
        message = str(info.value)
        assert "checksum mismatch: expected MD5 c32a1d4ab5d03f1284b67883e8d87530, got " in message
        assert hashlib.md5(content).hexdigest() in message and "nothing was extracted" in message
        assert cifar.CIFAR_DOWNLOADS["cifar10"]["url"] in message
        assert list(dest.iterdir()) == []  # no temporary file, nothing extracted


def test_download_good_tarball(tmp_path, monkeypatch, small_counts):
    content = good_cifar10_tarball(tmp_path)
    monkeypatch.setitem(cifar.CIFAR_DOWNLOADS["cifar10"], "md5", hashlib.md5(content).hexdigest())
    requested = []
    serve(monkeypatch, content, requested)
    dest = tmp_path / "data"
    folder = cifar.download_cifar("cifar10", dest)
    assert folder == dest / "cifar-10-batches-bin"
    assert requested == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    assert [p.name for p in dest.iterdir()] == ["cifar-10-batches-bin"]  # tarball removed
    source = tmp_path / "source" / "cifar-10-batches-bin"
    for p in source.iterdir():
        assert (folder / p.name).read_bytes() == p.read_bytes()
    assert cifar.load_cifar10(dest).train[0].shape == (5 * PER_BATCH, 3, 32, 32)
    # Already there: nothing is downloaded.
    serve(monkeypatch, b"", requested)
    assert cifar.download_cifar("cifar10", dest) == folder and len(requested) == 1


def test_download_archive_without_the_files(tmp_path, monkeypatch, small_counts):
    content = tar_bytes([file_member("something/else.txt")])
    monkeypatch.setitem(cifar.CIFAR_DOWNLOADS["cifar100"], "md5", hashlib.md5(content).hexdigest())
    serve(monkeypatch, content)
    with pytest.raises(RuntimeError, match="did not contain the expected files"):
        cifar.download_cifar("cifar100", tmp_path)


def test_download_offline_message(tmp_path, monkeypatch, offline_copy):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    dest = tmp_path / "dest"
    with pytest.raises(RuntimeError) as info:
        cifar.download_cifar("cifar10", dest)
    message = str(info.value)
    assert message.startswith("could not download CIFAR-10 (offline?)")
    assert cifar.CIFAR_DOWNLOADS["cifar10"]["url"] in message and "no route to host" in message
    assert "cifar10_from_jpeg.py" in message and "HYPERPRUNE_DATA" in message
    assert list(dest.iterdir()) == []  # no temporary file left behind
    with pytest.raises(RuntimeError, match="could not download CIFAR-100 \\(offline\\?\\)"):
        cifar.download_cifar("cifar100", dest)
    with pytest.raises(ValueError, match="unknown dataset"):
        cifar.download_cifar("mnist", dest)


UNSAFE = {
    "parent": ([file_member("../evil")], "'..' path component"),
    "nested parent": ([dir_member("ok"), file_member("ok/../../evil")], "'..' path component"),
    "absolute": ([file_member("/tmp/hyperprune-evil-absolute")], "absolute path"),
    "symlink": ([link_member("cifar-10-batches-bin/link", "/etc/passwd")], "symbolic link"),
    "symlink dir": ([link_member("escape", ".."), file_member("escape/evil")], "symbolic link"),
    "hardlink": ([link_member("hard", "/etc/passwd", tarfile.LNKTYPE)], "hard link"),
    "device": ([device_member("null")], "character device"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_safe_extract_rejects_unsafe_members(tmp_path, case):
    members, reason = UNSAFE[case]
    # A harmless file first: it must not be written either (all checks come first).
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tar_bytes([file_member("first.txt")] + members))
    dest = tmp_path / "dest" / "inner"
    with pytest.raises(ValueError, match=reason) as info:
        safe_extract(archive, dest)
    assert str(archive) in str(info.value) and "refusing to extract" in str(info.value)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "dest" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/hyperprune-evil-absolute").exists()


def test_safe_extract_rejects_paths_resolving_outside(tmp_path):
    outside, dest = tmp_path / "outside", tmp_path / "dest"
    outside.mkdir()
    dest.mkdir()
    (dest / "data").symlink_to(outside)  # a symlink already in the destination
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_bytes([file_member("data/evil")]))
    with pytest.raises(ValueError, match="outside"):
        safe_extract(archive, dest)
    assert list(outside.iterdir()) == []


def test_safe_extract_good_and_unreadable(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_bytes([dir_member("top"), file_member("top/a.bin", b"abc"),
                                   file_member("./top/sub/b.txt", b"hello")]))
    written = safe_extract(archive, tmp_path / "dest")
    assert [p.name for p in written] == ["a.bin", "b.txt"]
    assert (tmp_path / "dest/top/a.bin").read_bytes() == b"abc"
    assert (tmp_path / "dest/top/sub/b.txt").read_bytes() == b"hello"
    archive.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        safe_extract(archive, tmp_path / "dest2")


def test_download_rejects_unsafe_archive_with_matching_md5(tmp_path, monkeypatch):
    content = tar_bytes([file_member("cifar-10-batches-bin/test_batch.bin"),
                         file_member("../evil")])
    monkeypatch.setitem(cifar.CIFAR_DOWNLOADS["cifar10"], "md5", hashlib.md5(content).hexdigest())
    serve(monkeypatch, content)
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="'..' path component"):
        cifar.download_cifar("cifar10", dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "evil").exists()


# ---------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------

def test_normalization_constants_and_stats():
    assert cifar.CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert cifar.CIFAR10_STD == (0.2470, 0.2435, 0.2616)
    x = random_images(50)
    x[:, 2] //= 2  # channels with different statistics
    mean, std = cifar.channel_stats(x)
    scaled = x.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(cifar.channel_stats(scaled), (mean, std), rtol=1e-12)
    z = cifar.normalize(x, mean, std)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-5)
    # Default statistics, uint8 and [0, 1] float input alike, and a single CHW image.
    expected = (scaled - np.array(cifar.CIFAR10_MEAN)[:, None, None]) / \
        np.array(cifar.CIFAR10_STD)[:, None, None]
    np.testing.assert_allclose(cifar.normalize(x), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cifar.normalize(scaled.astype(np.float32)), expected, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(cifar.normalize(x[0]), expected[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="3 channels"):
        cifar.normalize(np.zeros((2, 4, 8, 8), np.uint8))


def test_encodings():
    x = RNG.standard_normal((5, 3, 32, 32)).astype(np.float32)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    gray = 0.299 * r + 0.587 * g + 0.114 * b
    q = encodings.encode_rgb_gray(x)  # (R, G, B, gray): real = R, k = gray
    assert q.shape == (5, 4, 32, 32) and q.dtype == np.float32
    np.testing.assert_array_equal(q[:, :3], x)
    np.testing.assert_allclose(q[:, 3], gray, rtol=1e-5, atol=1e-6)
    q = encodings.encode_rgb_gray(x, gray_first=True)  # (gray, R, G, B): real = gray
    np.testing.assert_allclose(q[:, 0], gray, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(q[:, 1:], x)
    z = encodings.encode_zero_rgb(x)  # pure quaternions
    assert z.shape == (5, 4, 32, 32) and z.dtype == np.float32
    assert not z[:, 0].any()
    np.testing.assert_array_equal(z[:, 1:], x)
    # uint8 input gives float32 (a white pixel is gray 255); float64 is kept; CHW works.
    white = np.full((1, 3, 2, 2), 255, np.uint8)
    w = encodings.encode_rgb_gray(white)
    assert w.dtype == np.float32 and np.allclose(w, 255.0)
    assert encodings.encode_zero_rgb(x.astype(np.float64)).dtype == np.float64
    assert encodings.encode_rgb_gray(x[0]).shape == (4, 32, 32)
    with pytest.raises(ValueError, match="3 colour channels"):
        encodings.encode_zero_rgb(np.zeros((2, 4, 32, 32)))


def windows(image, padding):
    """Every crop (and its mirror) of the zero-padded image: the possible outputs."""
    c, h, w = image.shape
    padded = np.zeros((c, h + 2 * padding, w + 2 * padding), image.dtype)
    padded[:, padding:padding + h, padding:padding + w] = image
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            yield (dy, dx, False), crop
            yield (dy, dx, True), crop[:, :, ::-1]


def test_random_crop_flip_properties():
    x = random_images(32, seed=5)
    out = cifar.random_crop_flip(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    # Each output is exactly one padded crop, possibly mirrored; both flips occur, and
    # zeros from the padding appear (input pixels are nonzero).
    x = np.maximum(x, 1)
    out = cifar.random_crop_flip(x, np.random.default_rng(0))
    seen = []
    for image, result in zip(x, out):
        matches = [k for k, crop in windows(image, 4) if np.array_equal(crop, result)]
        assert len(matches) == 1
        seen.append(matches[0])
    assert {f for _, _, f in seen} == {False, True}
    assert len({(dy, dx) for dy, dx, _ in seen}) > 10
    assert (out == 0).any() and (out[[i for i, (dy, dx, _) in enumerate(seen)
                                      if (dy, dx) != (4, 4)]] == 0).any(axis=(1, 2, 3)).all()
    # Deterministic for a seed, different for another.
    again = cifar.random_crop_flip(x, np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)
    assert not np.array_equal(out, cifar.random_crop_flip(x, np.random.default_rng(1)))
    # Without padding the only change is the flip, an exact mirror.
    mirrored = cifar.random_crop_flip(x, np.random.default_rng(2), padding=0)
    for image, result in zip(x, mirrored):
        assert np.array_equal(result, image) or np.array_equal(result, image[:, :, ::-1])
    assert np.array_equal(cifar.random_crop_flip(x, np.random.default_rng(2), padding=0,
                                                 flip=False), x)
    floats = cifar.normalize(x)
    assert cifar.random_crop_flip(floats, np.random.default_rng(0)).dtype == np.float32
    with pytest.raises(TypeError, match="Generator"):
        cifar.random_crop_flip(x, 0)
    with pytest.raises(ValueError, match="padding"):
        cifar.random_crop_flip(x, np.random.default_rng(0), padding=-1)


# ---------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------

def test_cifar10_splits_deterministic_and_disjoint(tmp_path, small_counts):
    arrays = write_cifar10(tmp_path / "cifar-10-batches-bin")
    a = cifar.cifar_splits(data_dir=tmp_path, validation=30, seed=3)
    b = cifar.cifar_splits(data_dir=tmp_path, validation=30, seed=3)
    c = cifar.cifar_splits(data_dir=tmp_path, validation=30, seed=4)
    n = 5 * PER_BATCH
    assert len(a.val_indices) == 30 and len(a.train_indices) == n - 30
    assert np.intersect1d(a.val_indices, a.train_indices).size == 0
    assert np.union1d(a.val_indices, a.train_indices).size == n
    np.testing.assert_array_equal(a.val_indices, b.val_indices)
    np.testing.assert_array_equal(a.train[0], b.train[0])
    assert not np.array_equal(a.val_indices, c.val_indices)
    (x, y), (xt, yt) = a.val, a["test"]
    assert x.dtype == np.float32 and x.shape == (30, 3, 32, 32) and y.dtype == np.int64
    raw = np.concatenate([arrays[f][0] for f in cifar.CIFAR10_TRAIN_FILES])
    labels = np.concatenate([arrays[f][1] for f in cifar.CIFAR10_TRAIN_FILES])
    np.testing.assert_allclose(x, cifar.normalize(raw[a.val_indices]), rtol=1e-6)
    np.testing.assert_array_equal(y, labels[a.val_indices])
    np.testing.assert_array_equal(yt, arrays["test_batch.bin"][1])
    assert a.source == "canonical (unverified per file)" and a.description == "CIFAR-10"
    assert a.name == "cifar10" and a.classes == cifar.CIFAR10_CLASSES
    # Unnormalized: [0, 1]; a training subset is the first k of the training split.
    plain = cifar.cifar_splits(data_dir=tmp_path, validation=30, seed=3, normalize=False,
                               train_subset=25)
    assert len(plain.train[1]) == 25
    np.testing.assert_array_equal(plain.train_indices, a.train_indices[:25])
    np.testing.assert_allclose(plain.train[0], raw[a.train_indices[:25]] / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="validation"):
        cifar.cifar_splits(data_dir=tmp_path, validation=n)
    with pytest.raises(ValueError, match="train_subset"):
        cifar.cifar_splits(data_dir=tmp_path, validation=30, train_subset=n)
    with pytest.raises(ValueError, match="unknown dataset"):
        cifar.cifar_splits("svhn", data_dir=tmp_path)


def test_cifar100_splits(tmp_path, small_counts):
    arrays = write_cifar100(tmp_path / "cifar-100-binary")
    s = cifar.cifar_splits("cifar100", data_dir=tmp_path, validation=10, seed=0, label="coarse")
    assert len(s.train[1]) == 30 and len(s.val[1]) == 10 and s.test[0].shape == (20, 3, 32, 32)
    _, coarse, _ = arrays["train.bin"]
    np.testing.assert_array_equal(s.val[1], coarse[s.val_indices])
    x = arrays["train.bin"][0][s.train_indices]
    np.testing.assert_allclose(s.train[0], cifar.normalize(x, cifar.CIFAR100_MEAN,
                                                           cifar.CIFAR100_STD), rtol=1e-6)
    assert s.description == "CIFAR-100 (20 coarse classes)" and len(s.classes) == 20
