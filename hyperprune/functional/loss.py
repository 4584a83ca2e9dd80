"""Losses: cross-entropy (fused with its softmax), mean squared error, distillation.

    cross_entropy(logits, targets, reduction="mean")   logits (N, C), integer targets (N,)
    mse_loss(input, target, reduction="mean")          composed: mean((input - target)^2)
    kd_loss(student, teacher, temperature)             fused: T^2 KL(teacher || student)

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


class KDLossFunction(Function):
    """Knowledge distillation (Hinton et al. 2015): with p = softmax(t / T) the teacher's
    and q = softmax(s / T) the student's softened distributions over the last axis, and
    N rows (every leading position: a language model's tokens count one each),

        loss = T^2 / N  sum_rows KL(p || q) = T^2 / N  sum_rows sum_c p_c (log p_c - log q_c)

    The T^2 keeps the gradient's size independent of T: the softened gradients scale as
    1/T (Hinton's reason for the factor).  Backward, with l = log p - log q per row:

        dloss/ds = T / N (q - p)
        dloss/dt = T / N  p * (l - KL_row)          (KL_row = sum_c p_c l_c)

    (the teacher's gradient is zero-mean per row, as any softmax input's is; it is computed
    only when the teacher requires one, normally it is a constant).
    """

    def __init__(self, temperature):
        self.temperature = temperature

    def forward(self, s, t):
        xp, T = _get_xp(s), self.temperature
        log_q = s / T
        log_q -= log_q.max(axis=-1, keepdims=True)
        log_q -= xp.log(xp.exp(log_q).sum(axis=-1, keepdims=True))
        log_p = t / T
        log_p -= log_p.max(axis=-1, keepdims=True)
        log_p -= xp.log(xp.exp(log_p).sum(axis=-1, keepdims=True))
        self.p, self.q = xp.exp(log_p), xp.exp(log_q)
        self.l = log_p - log_q
        self.rows = s.size // s.shape[-1]
        self.kl = (self.p * self.l).sum(axis=-1, keepdims=True)
        return self.kl.sum() * (T * T / self.rows)

    def backward(self, g):
        scale = g * (self.temperature / self.rows)
        grad_s = (self.q - self.p) * scale
        grad_t = None
        if self.needs_input_grad[1]:
            grad_t = self.p * (self.l - self.kl) * scale
        return grad_s, grad_t


def kd_loss(student_logits, teacher_logits, temperature=4.0):
    """T^2 KL(softmax(teacher / T) || softmax(student / T)), averaged over rows: every
    position but the last axis (tokens of (B, T, V) logits count one each).  Detach the
    teacher's logits (or compute them under no_grad) to train the student only."""
    s, t = as_tensor(student_logits), as_tensor(teacher_logits)
    if s.shape != t.shape:
        raise ValueError(f"kd_loss: student logits of shape {s.shape} and teacher logits of "
                         f"shape {t.shape} must have the same shape")
    if s.ndim < 1 or s.shape[-1] < 1:
        raise ValueError(f"kd_loss: logits need a class axis, got shape {s.shape}")
    if not temperature > 0:
        raise ValueError(f"kd_loss: temperature must be > 0, got {temperature}")
    if s.dtype != t.dtype:
        raise TypeError(f"kd_loss: student logits are {s.dtype}, teacher logits "
                        f"{t.dtype}: convert one of them")
    return KDLossFunction(float(temperature))(s, t)
