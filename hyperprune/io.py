"""Files that are never half-written and never unpickled.

Every write goes to a temporary file in the target's directory, is flushed to disk, and
then atomically renamed over the target (os.replace): a crash or Ctrl-C leaves either the
old file or the new one, never a truncated mix.  Arrays are stored as .npz and read with
allow_pickle=False, so a file cannot run code when it is loaded.
"""
import json
import os
import tempfile
import zipfile

_UMASK = os.umask(0)
os.umask(_UMASK)
from pathlib import Path

import numpy as np


def atomic_write(path, write):
    """Call write(file_object) on a temporary file, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_npz(path, arrays, compressed=False):
    """Write a dict of NumPy arrays (host arrays; use backend.to_numpy first) atomically.

    compressed=True zips the arrays (worth it for masks, which are mostly runs of 0 or 1).
    """
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.dtype == object:
            raise TypeError(f"save_npz: {name!r} must be a numeric numpy array, "
                            f"got {type(value).__name__}")
    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda f: save(f, **arrays))


def load_npz(path):
    """Read a .npz written by save_npz into a dict of arrays; never unpickles."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a valid .npz array file ({err})") from err


def save_json(path, obj, compact=False):
    """Write JSON atomically (indented for people, or compact for bulky records)."""
    if compact:
        text = json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n"
    else:
        text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def load_json(path):
    """Read a JSON file; a malformed one is a ValueError naming the file."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err}): the file is corrupt") from err


def save_text(path, text):
    return atomic_write(path, lambda f: f.write(text.encode()))
