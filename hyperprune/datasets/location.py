"""Where datasets live: an explicit directory, else $HYPERPRUNE_DATA, else the repository's
data/ (which embeds MNIST and tiny Shakespeare).  Each dataset is a subdirectory:
<data_dir>/mnist, <data_dir>/cifar-10-batches-bin, <data_dir>/tinyshakespeare, ...
"""
import os
from pathlib import Path

#: Environment variable overriding the default data directory.
DATA_ENV_VAR = "HYPERPRUNE_DATA"

#: The repository's embedded data: <repo>/data, found relative to this package.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"


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


def describe_data_dir(explicit) -> str:
    """Say how the data directory was chosen, for error messages."""
    if explicit is not None:
        return "given explicitly"
    if os.environ.get(DATA_ENV_VAR):
        return f"from ${DATA_ENV_VAR}"
    return f"the repository default; set ${DATA_ENV_VAR} or pass a data directory to change it"
