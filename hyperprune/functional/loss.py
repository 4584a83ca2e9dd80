"""Losses: cross-entropy (fused with its softmax) and mean squared error.

    cross_entropy(logits, targets, reduction="mean")   logits (N, C), integer targets (N,)
    mse_loss(input, target, reduction="mean")          composed: mean((input - target)^2)

reduction: "mean" (default), "sum" or "none" (one loss per row / element), as PyTorch.
"""
import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..checks import check_choice

_get_xp = backend.get_array_module


class CrossEntropy(Function):
    """Fused softmax + negative log-likelihood for logits x (N, C) and class indices t (N,).

    loss_n = -log softmax(x_n)[t_n] = logsumexp(x_n) - x_n[t_n]
    dloss_n/dx_n = softmax(x_n) - onehot(t_n)        (then scaled by the reduction)
    """

    def __init__(self, targets, reduction="mean"):
        self.targets, self.reduction = targets, reduction

    def forward(self, x):
        xp = _get_xp(x)
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        sum_e = e.sum(axis=1, keepdims=True)
        e /= sum_e
        self.p = e
        picked = xp.take_along_axis(shifted, self.targets[:, None], 1)
        losses = (xp.log(sum_e) - picked)[:, 0]
        if self.reduction == "none":
            return losses
        return losses.sum() if self.reduction == "sum" else losses.mean()

    def backward(self, g):
        xp = _get_xp(g)
        n = self.p.shape[0]
        grad = self.p.copy()
        grad[xp.arange(n), self.targets] -= 1
        if self.reduction == "none":
            return grad * g[:, None]
        return grad * (g / n if self.reduction == "mean" else g)


REDUCTIONS = ("mean", "sum", "none")


def cross_entropy(logits, targets, reduction="mean"):
    """Mean (or sum, or per-row) negative log-likelihood of integer class `targets`.

    logits: (N, C) unnormalized scores.  targets: (N,) integers in [0, C).
    Targets are checked explicitly: NumPy would read -1 as the last class and CuPy wraps
    any out-of-range index, both silently wrong.
    """
    logits = as_tensor(logits)
    check_choice(reduction, REDUCTIONS, "reduction", "cross_entropy")
    t = targets.data if isinstance(targets, Tensor) else targets
    if not backend.is_array(t):
        t = backend.asarray(np.asarray(t))
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype "
                        f"{t.dtype}")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {logits.shape}"
                         "; reshape to (-1, C) first")
    if t.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: targets of shape {t.shape} do not match logits of "
                         f"shape {logits.shape}: expected ({logits.shape[0]},)")
    backend.check_index_range(t, logits.shape[1], "cross_entropy", negative=False,
                              message="target {bad} is out of range for {size} classes "
                                      "(expected 0..{last})")
    return CrossEntropy(t, reduction)(logits)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: mean((input - target)^2) (or its sum, or elementwise).

    The shapes must match exactly: a silently broadcast (N, 1) - (N,) is a classic bug.
    """
    input, target = as_tensor(input), as_tensor(target, like=as_tensor(input))
    check_choice(reduction, REDUCTIONS, "reduction", "mse_loss")
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input of shape {input.shape} and target of shape "
                         f"{target.shape} must have the same shape")
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()


mse = mse_loss
