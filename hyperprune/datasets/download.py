"""Downloads that are verified before anything uses them, and safe archive extraction.

    download_verified(url, directory, verify)   stream a URL into a temporary file next
                                                to its destination, check it, hand it over
    safe_extract(archive, dest)                 a tar archive's regular files and
                                                directories, nothing else, inside dest

A download is never visible under its real name before it is verified: the bytes go to a
hidden temporary file in the destination directory, `verify(path)` (which raises for
wrong content) checks them, and only then may the caller rename the file
into place (atomic within one filesystem) or extract it; the temporary file is removed in
every case.  Network failures are OSErrors (URLError, HTTPError, timeouts) and propagate
to the caller, which knows what to suggest (mirrors, the offline copies).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..io import atomic_write


@contextlib.contextmanager
def download_verified(url: str, directory, verify, timeout: float = 60.0):
    """Download `url` into a temporary file in `directory`, call verify(path), and yield
    the path of the verified file; it is deleted on exit unless the caller moved it."""
    directory = Path(directory)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{url.rsplit('/', 1)[-1]}.", suffix=".part",
                                    dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, \
                urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        verify(tmp)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _member_kind(member: tarfile.TarInfo) -> str:
    for test, kind in ((member.issym, "symbolic link"), (member.islnk, "hard link"),
                       (member.ischr, "character device"), (member.isblk, "block device"),
                       (member.isfifo, "FIFO")):
        if test():
            return kind
    return f"special member (type {member.type!r})"


def _safe_target(member: tarfile.TarInfo, root: str, archive) -> str:
    """Where `member` may be written under `root` (a realpath), or ValueError."""
    name = member.name
    refuse = f"{archive}: refusing to extract {name!r}"
    if not (member.isreg() or member.isdir()):
        raise ValueError(f"{refuse}: a {_member_kind(member)}; only regular files and "
                         "directories are extracted")
    if (not name or PurePosixPath(name).is_absolute() or name.startswith("\\")
            or PureWindowsPath(name).drive):
        raise ValueError(f"{refuse}: an absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise ValueError(f"{refuse}: a '..' path component")
    target = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, target]) != root:
        raise ValueError(f"{refuse}: it resolves to {target}, outside {root}")
    return target


def safe_extract(archive, dest) -> list[Path]:
    """Extract a tar archive (any compression tarfile reads) into `dest`, safely.

    Every member is checked before anything is written: only regular files and
    directories; no absolute paths, no '..' components, nothing that resolves outside
    `dest` (e.g. through a symbolic link already in `dest`).  Symbolic and hard links,
    devices and FIFOs are refused.  The checks are done here rather than left to
    `tarfile`'s extraction filters (which older Python versions lack): files are copied
    out with `extractfile`, each written atomically, so no metadata, owner or mode from
    the archive is applied and nothing is ever half-written under its real name.

    Returns:
        the paths of the extracted regular files, in archive order.

    Raises:
        ValueError naming the archive and the offending member (nothing is extracted), or
        if the archive cannot be read.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            plan = [(m, _safe_target(m, root, archive)) for m in tar.getmembers()]
            written = []
            for member, target in plan:
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                source = tar.extractfile(member)
                atomic_write(target, lambda f: shutil.copyfileobj(source, f))
                written.append(Path(target))
    except (tarfile.TarError, EOFError) as exc:
        raise ValueError(f"{archive}: not a readable tar archive ({exc})") from exc
    return written
