"""Schedules.  CosineSchedule: nanoGPT's warmup + cosine decay of the learning rate;
fade: the 0 -> 1 ramp of an interpolation weight alpha (progressive replacement).

For iteration it (from 0), with W = warmup_iters and D = decay_iters:

    it < W:        lr = max_lr (it + 1) / (W + 1)                     linear warmup
    W <= it < D:   lr = min_lr + (max_lr - min_lr) (1 + cos(pi r)) / 2,  r = (it - W) / (D - W)
    it >= D:       lr = min_lr                                         constant after decay

(nanoGPT's get_lr: the warmup starts at max_lr / (W + 1), not 0, so no step is wasted;
at it = W the cosine starts from max_lr, and it reaches min_lr at it = D.)

    opt = AdamW(decay_groups(model, 0.1), lr=1e-3)
    schedule = CosineSchedule(opt, max_lr=1e-3, min_lr=1e-4, warmup_iters=100, decay_iters=5000)
    for it in range(5000):
        ...; opt.step(); schedule.step()       # sets the lr of iteration it + 1

The constructor sets the lr of iteration 0 in every parameter group; `step()` advances one
iteration and sets its lr; `lr_at(it)` is the formula alone.
"""
import math


class CosineSchedule:
    def __init__(self, optimizer, max_lr, min_lr, warmup_iters, decay_iters):
        if not 0 <= min_lr <= max_lr:
            raise ValueError(f"CosineSchedule: need 0 <= min_lr <= max_lr, got min_lr "
                             f"{min_lr}, max_lr {max_lr}")
        if not 0 <= warmup_iters <= decay_iters:
            raise ValueError(f"CosineSchedule: need 0 <= warmup_iters <= decay_iters, got "
                             f"{warmup_iters} and {decay_iters}")
        self.optimizer, self.max_lr, self.min_lr = optimizer, max_lr, min_lr
        self.warmup_iters, self.decay_iters = warmup_iters, decay_iters
        self.iteration = 0
        self._apply()

    def lr_at(self, it):
        """The learning rate of iteration `it` (formula in the module docstring)."""
        w, d = self.warmup_iters, self.decay_iters
        if it < w:
            return self.max_lr * (it + 1) / (w + 1)
        if it >= d:
            return self.min_lr
        coeff = 0.5 * (1.0 + math.cos(math.pi * (it - w) / (d - w)))
        return self.min_lr + coeff * (self.max_lr - self.min_lr)

    def _apply(self):
        self.last_lr = self.lr_at(self.iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = self.last_lr

    def set(self, iteration):
        """Jump to `iteration` and set its learning rate (what a resumed run needs)."""
        self.iteration = int(iteration)
        self._apply()
        return self.last_lr

    def step(self):
        """Advance one iteration and set its learning rate in every group; returns it."""
        self.iteration += 1
        self._apply()
        return self.last_lr

    def state_dict(self):
        return {"iteration": self.iteration}

    def load_state_dict(self, state):
        self.iteration = int(state["iteration"])
        self._apply()


FADES = ("linear", "cosine")


def fade(iteration, fade_iters, kind="linear"):
    """alpha of iteration `iteration`: 0 at iteration 0, 1 from iteration fade_iters on.

        linear   alpha = r                   r = min(1, iteration / fade_iters)
        cosine   alpha = (1 - cos(pi r)) / 2  (slow at both ends: no jump in the slope)

    fade_iters = 0 is an abrupt switch: alpha = 1 from the start."""
    if kind not in FADES:
        raise ValueError(f"unknown fade {kind!r}: expected one of {', '.join(FADES)}")
    if fade_iters < 0 or iteration < 0:
        raise ValueError(f"fade: iteration ({iteration}) and fade_iters ({fade_iters}) must "
                         "be >= 0")
    if fade_iters == 0:
        return 1.0
    r = min(1.0, iteration / fade_iters)
    return r if kind == "linear" else 0.5 * (1.0 - math.cos(math.pi * r))


def fade_iteration(alpha, fade_iters, kind="linear"):
    """The first iteration whose fade(...) >= alpha (where a run evaluates alpha = .25,
    .5, ...)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if fade_iters == 0:
        return 0
    r = alpha if kind == "linear" else math.acos(1.0 - 2.0 * alpha) / math.pi
    it = max(0, min(fade_iters, math.ceil(r * fade_iters - 1e-9)))
    while it > 0 and fade(it - 1, fade_iters, kind) >= alpha:
        it -= 1
    while fade(it, fade_iters, kind) < alpha:
        it += 1
    return it
