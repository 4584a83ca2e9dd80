"""Optimizers: SGD (momentum, Nesterov, weight decay), Adam and AdamW; clip_grad_norm_,
decay_groups (nanoGPT's AdamW groups); CosineSchedule (from hyperprune.schedule).

Same names, arguments and update rules as torch.optim.  Every update happens in place on
the parameter arrays and on the optimizer's own state (no new arrays per step beyond one
scratch buffer per parameter), which matters for speed in NumPy: allocating and freeing
big temporaries costs as much as the arithmetic.

Notation: p parameter, g gradient, lr learning rate, t step number (from 1).
"""
import math

import numpy as np

from . import backend
from .autograd import Tensor
from .schedule import CosineSchedule  # noqa: F401  (re-exported: hp.optim.CosineSchedule)


class Optimizer:
    """Holds parameter groups (lists of parameters sharing hyperparameters) and state."""

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("optimizer params must be an iterable of Parameters, "
                            "e.g. model.parameters(), not a single tensor")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        for group in groups:
            group = {**self.defaults, **group, "params": list(group["params"])}
            self.param_groups.append(group)
        self.state = {}  # id(param) -> dict of arrays and counters

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def _state(self, p):
        return self.state.setdefault(id(p), {})

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self._state(p), group)

    def _update(self, p, g, state, group):
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """Hyperparameters and per-parameter state as host arrays, parameters by position."""
        groups, state = [], {}
        index = 0
        for group in self.param_groups:
            groups.append({k: v for k, v in group.items() if k != "params"})
            for p in group["params"]:
                for name, value in self.state.get(id(p), {}).items():
                    if name == "scratch":
                        continue
                    state[f"{index}.{name}"] = (backend.to_numpy(value).copy()
                                                if backend.is_array(value) else value)
                index += 1
        return {"param_groups": groups, "state": state}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: {len(groups)} parameter groups in the state, "
                             f"{len(self.param_groups)} in the optimizer")
        params = []
        for saved, group in zip(groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
            params.extend(group["params"])
        self.state = {}
        for key, value in state_dict["state"].items():
            index, name = key.split(".", 1)
            p = params[int(index)]
            if isinstance(value, np.ndarray) and value.ndim:
                if value.shape != p.shape:
                    raise ValueError(f"load_state_dict: state {key} has shape {value.shape}, "
                                     f"parameter has {p.shape}")
                value = backend.get_array_module(p.data).asarray(value.astype(p.dtype))
            elif isinstance(value, np.ndarray):
                value = value.item()
            self._state(p)[name] = value


def _scratch(state, p):
    """One reusable buffer per parameter for in-place arithmetic."""
    buf = state.get("scratch")
    if buf is None:
        buf = state["scratch"] = backend.get_array_module(p.data).empty_like(p.data)
    return buf


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD.

        g <- g + weight_decay * p
        b <- momentum * b + (1 - dampening) * g       (b = g at the first step)
        d <- g + momentum * b  (nesterov)   or   b  (otherwise; g if momentum = 0)
        p <- p - lr * d
    """

    def __init__(self, params, lr=1e-2, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got "
                             f"{lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p, g, state, group):
        xp = backend.get_array_module(p.data)
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        d = _scratch(state, p)
        if wd:
            xp.multiply(p.data, wd, out=d)
            d += g
        else:
            d[...] = g
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * d
            if group["nesterov"]:
                d += mu * buf
            else:
                d[...] = buf
        d *= lr
        p.data -= d


class Adam(Optimizer):
    """Adam (Kingma & Ba), as torch.optim.Adam (weight_decay is an L2 term in g).

        m <- b1 m + (1 - b1) g,     v <- b2 v + (1 - b2) g²
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: lr, eps and weight_decay must be >= 0")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    decoupled = False

    def _update(self, p, g, state, group):
        xp = backend.get_array_module(p.data)
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        tmp = _scratch(state, p)
        decay = 1 - lr * wd if wd and self.decoupled else None    # AdamW
        l2 = wd if wd and not self.decoupled else None            # Adam's L2 term
        bias2, step = 1 / math.sqrt(1 - b2 ** t), lr / (1 - b1 ** t)
        arrays = _flat_pieces(xp, p.data, g, m, v, tmp)

        def update(part):                  # one piece: the whole chain stays in cache
            w, gp, mp, vp, u = (a[part] for a in arrays)
            if decay is not None:
                w *= decay                 # AdamW: decay the weight itself
            elif l2 is not None:
                gp = w * l2 + gp           # Adam: L2 penalty added to the gradient
            mp *= b1
            xp.multiply(gp, 1 - b1, out=u)
            mp += u
            vp *= b2
            xp.multiply(gp, gp, out=u)
            u *= 1 - b2
            vp += u
            xp.sqrt(vp, out=u)
            u *= bias2
            u += eps
            xp.divide(mp, u, out=u)
            u *= step
            w -= u
        for part in _pieces(xp, arrays):
            update(part)


def _flat_pieces(xp, weight, g, *state):
    """The update's arrays as flat views, so its chain of in-place steps can run piece by
    piece (backend.chunks: each piece stays in cache from one step to the next; measured
    on Conv-2's 4.3M weights: 6.8 ms a step instead of 8.8); as they are (one piece)
    unless the weight and its state arrays are C-contiguous (the gradient is copied if it
    is not).  Values are bit for bit those of whole-array passes."""
    if not all(a.flags.c_contiguous for a in (weight,) + state):
        return (weight, g) + state
    return tuple(a.reshape(-1) for a in (weight, xp.ascontiguousarray(g)) + state)


def _pieces(xp, arrays):
    return backend.chunks(arrays[0].size, xp) if arrays[0].ndim == 1 else [Ellipsis]


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW:
    p <- p (1 - lr * weight_decay) before the Adam step.  Default weight_decay 0.01."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


def clip_grad_norm_(parameters, max_norm):
    """As torch.nn.utils.clip_grad_norm_: n = the global L2 norm of all the gradients;
    each grad is scaled in place by min(1, max_norm / (n + 1e-6)).  Returns n (a float)."""
    parameters = [parameters] if isinstance(parameters, Tensor) else parameters
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be > 0, got {max_norm}")
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    squares = sum((g * g).sum(dtype=np.float64) for g in grads)   # one device scalar
    norm = math.sqrt(float(backend.to_numpy(squares)))
    coef = max_norm / (norm + 1e-6)
    if not coef >= 1:  # also a nan norm: the grads become nan, as with PyTorch
        for g in grads:
            g *= coef
    return norm


def decay_groups(model, weight_decay):
    """AdamW groups by nanoGPT's rule: parameters with >= 2 axes decay (Linear, embedding
    and quaternion (4, out, in) weights, a ViT's class and position embeddings), 1-D ones
    (biases, LayerNorm weights) do not.  AdamW(decay_groups(model, 0.1), lr=1e-3)."""
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
