"""Simple layers: Identity, Flatten, Dropout (no weights) and Embedding (a lookup table)."""
from .. import backend, functional as F
from ..checks import is_int
from .module import Module, Parameter


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten axes start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} is after end_dim "
                             f"{self.end_dim} for an input of shape {x.shape}")
        shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
        return x.reshape(shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero each element with probability p while training; identity in eval()."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Embedding(Module):
    """A lookup table: integer indices (any shape) -> (*shape, embedding_dim).

    weight (num_embeddings, embedding_dim), initialized N(0, std^2) with std = 0.02 as
    nanoGPT (GPT-2) does; std=1.0 gives PyTorch's N(0, 1).  Indices outside
    [0, num_embeddings) raise IndexError on every backend (CuPy would wrap them).
    """

    def __init__(self, num_embeddings, embedding_dim, std=0.02):
        super().__init__()
        name = f"Embedding({num_embeddings!r}, {embedding_dim!r})"
        for what, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not (is_int(n) and n >= 1):
                raise ValueError(f"{name}: {what} must be a positive integer, got {n!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.std = std
        draw = backend.rng().normal(0.0, std, (num_embeddings, embedding_dim))
        self.weight = Parameter.from_host(draw)

    def forward(self, indices):
        return F.embedding(indices, self.weight,
                           name=f"Embedding({self.num_embeddings}, {self.embedding_dim})")

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
