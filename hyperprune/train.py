"""The pieces of a training loop that every run shares: loss, masked step, evaluation.

    loss_of(logits, y)                    cross-entropy of (N, C) or (B, T, V) logits
    train_step(model, opt, masks, x, y)   one optimizer step with pruned weights held at 0
    evaluate(model, x, y)                 (mean loss, accuracy) without a graph

They take a model, an optimizer and masks, never a run's settings.  Sequence logits
(B, T, V) with targets (B, T) -- a language model's -- count every position as one
prediction; `_as_rows` is the one place that knows it.
"""
from . import functional as F, optim
from .autograd import Tensor, no_grad, tensor


def _as_rows(logits, y):
    """(N, C) logits and (N,) targets; sequence logits (B, T, V) are flattened to rows."""
    if logits.ndim == 3:
        return logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
    return logits, y


def loss_of(logits, y):
    """Mean cross-entropy of class logits (N, C), or of sequence logits (B, T, V) with
    targets (B, T), which are flattened to (B T, V) as a language model's loss is.
    Targets may be a Tensor or host integers (moved to the logits' backend)."""
    return F.cross_entropy(*_as_rows(logits, y if isinstance(y, Tensor) else tensor(y)))


def evaluate(model, x, y, batch_size=5000, prepare=None):
    """(mean cross-entropy, accuracy) of `model` on arrays x, y, without a graph.
    `prepare` transforms each chunk of inputs first (e.g. a quaternion input encoding)."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with no_grad():
        for i in range(0, len(y), batch_size):
            xb = x[i:i + batch_size] if prepare is None else prepare(x[i:i + batch_size])
            logits, yb = _as_rows(model(tensor(xb)), tensor(y[i:i + batch_size]))
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += int((logits.data.argmax(axis=1) == yb.data).sum())
    model.train(was_training)
    return total_loss / y.size, correct / y.size


def train_step(model, opt, masks, xb, yb, grad_clip=0.0):
    """One masked optimizer step; returns the loss (a Tensor)."""
    loss = loss_of(model(tensor(xb)), tensor(yb))
    opt.zero_grad()
    loss.backward()
    if masks is not None:
        masks.apply_to_grads(model)
    if grad_clip:
        optim.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    if masks is not None:
        masks.apply(model)
    return loss
