"""The pieces of a training loop that every run shares: loss, masked step, evaluation.

    loss_of(logits, y)                    cross-entropy of (N, C) or (B, T, V) logits
    train_step(model, opt, masks, x, y)   one optimizer step with pruned weights held at 0
    evaluate(model, x, y)                 (mean loss, accuracy) without a graph
    make_optimizer(config, model)         the optimizer a LotteryConfig asks for
"""
from . import functional as F, optim
from .autograd import no_grad, tensor


def evaluate(model, x, y, batch_size=5000, prepare=None):
    """(mean cross-entropy, accuracy) of `model` on arrays x, y, without a graph.
    `prepare` transforms each chunk of inputs first (e.g. a quaternion input encoding)."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with no_grad():
        for i in range(0, len(y), batch_size):
            xb = x[i:i + batch_size] if prepare is None else prepare(x[i:i + batch_size])
            xb, yb = tensor(xb), tensor(y[i:i + batch_size])
            logits = model(xb)
            if logits.ndim == 3:  # a language model: every position is a prediction
                logits, yb = logits.reshape(-1, logits.shape[-1]), yb.reshape(-1)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += int((logits.data.argmax(axis=1) == yb.data).sum())
    model.train(was_training)
    return total_loss / y.size, correct / y.size


def loss_of(logits, y):
    """Cross-entropy of class logits (N, C), or of sequence logits (B, T, V) with targets
    (B, T), which are flattened to (B T, V) as a language model's loss is."""
    if logits.ndim == 3:
        logits = logits.reshape(-1, logits.shape[-1])
        y = y.reshape(-1)
    return F.cross_entropy(logits, y)


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


def make_optimizer(config, model):
    betas = (0.9, config.beta2)
    if config.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=config.lr, betas=betas,
                          weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return optim.AdamW(optim.decay_groups(model, config.weight_decay), lr=config.lr,
                           betas=betas)
    return optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                     weight_decay=config.weight_decay)
