"""Normalization layers: LayerNorm (the op and its backward: hyperprune.functional.norm)."""
import numpy as np

from ..checks import is_int
from ..functional import layer_norm
from .module import Module, Parameter


class LayerNorm(Module):
    """Layer norm over the last axis: x (..., normalized_shape) -> same shape.

    normalized_shape: an int, the size of the last axis.  eps is added to the (biased)
    variance.  elementwise_affine: learn weight (ones) and bias (zeros), each
    (normalized_shape,); bias=False keeps the weight only (as nanoGPT's LayerNorm).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        if not (is_int(normalized_shape) and normalized_shape >= 1):
            raise ValueError(f"LayerNorm({normalized_shape!r}): normalized_shape must be a "
                             "positive integer (the size of the last axis)")
        if not eps >= 0:
            raise ValueError(f"LayerNorm({normalized_shape}): eps must be >= 0, got {eps}")
        self.normalized_shape, self.eps = int(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        n = self.normalized_shape
        self.weight = Parameter.from_host(np.ones(n)) if elementwise_affine else None
        self.bias = Parameter.from_host(np.zeros(n)) if elementwise_affine and bias else None

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.normalized_shape:
            raise ValueError(f"LayerNorm({self.normalized_shape}): expected an input of shape "
                             f"(..., {self.normalized_shape}), got {tuple(x.shape)}")
        return layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
