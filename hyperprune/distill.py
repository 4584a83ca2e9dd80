"""Progressive dense -> PHM replacement with reconstruction and distillation.

"Beyond Real Weights: Hypercomplex Representations for Stable Quantization" (arXiv
2512.08524) compresses a trained network by replacing its dense layers with PHM layers
(H = sum_i A_i ⊗ S_i, n^3 + in out / n parameters instead of in out) without training
from scratch:

    stage A   each replaced layer computes (1 - alpha) W x + alpha H x (nn.ProgressivePHM),
              alpha ramped 0 -> 1 over fade_iters (schedule.fade); the loss is
                  CE(student) + kd_weight  T^2 KL(teacher_T || student_T)   (F.kd_loss)
                             + recon_weight  mean over layers of E_x ||H x - W x||^2
    stage B   the dense branches dropped: the PHM-only network fine-tuned with CE + KD

The PHM factors start at the projection of the dense weights (nn.init.phm_projection: for
learned rules the optimal sum of n Kronecker products).  Capacity: one n for every layer,
or (capacity="fisher") smaller n -- more parameters -- where the teacher's empirical
Fisher trace is large, under the uniform assignment's parameter budget; "random" shuffles
the Fisher assignment's n's over the layers (the check of whether the proxy adds
anything).  The compared methods train the same number of iterations: "abrupt" (PHM only
from the projection, with KD), "scratch" (the PHM network from a random init, task loss
only) and the control "dense" (no replacement: the teacher trained on, task loss only).

    run = DistillRun(DistillConfig(teacher="results/gpt_char/real"), "runs/phm4").run()

Data path: teacher (a lottery run's level, or a saved .npz) -> student -> batches ->
loss -> backward -> optimizer -> metrics -> run directory (config.json, checkpoint.npz,
curve.csv, metrics.json, student.npz) -> figure (curve.png).  Runs resume bitwise.
"""
import copy
import csv
import io as _io
import itertools
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import __version__, backend, deploy, io, modelfile, nn, optim
from . import functional as F
from .autograd import no_grad, tensor
from .config import PRESETS, LotteryConfig, Settings, setting
from .lottery import DivergedError, build_model, make_task
from .nn.init import phm_projection
from .rundir import RunDir
from .schedule import CosineSchedule, fade, fade_iteration
from .train import evaluate, loss_of

# ------------------------------------------------------------------ settings
DISTILL_METHODS = ("progressive", "abrupt", "scratch", "dense")
CAPACITIES = ("uniform", "fisher", "random")


@dataclass
class DistillConfig(Settings):
    """Every setting of one dense -> PHM replacement run (hyperprune.distill).

    The student is the teacher's network with the chosen dense layers replaced by PHM
    layers; its architecture, data and optimizer are the teacher's (from the teacher's
    run directory, or from `architecture` for a saved model file)."""

    # ----------------------------------------------------------------------- teacher
    teacher: str = setting("teacher", "", "the trained teacher: a lottery run directory "
                           "(its level --teacher-level) or a model .npz saved by "
                           "Module.save (then --architecture names its settings)")
    teacher_level: int = setting("teacher", 0, "the level of a teacher run directory (0: "
                                 "the trained dense network)")
    architecture: str = setting("teacher", "", "for a teacher .npz: the lottery preset "
                                "(e.g. gpt_char) whose settings built it",
                                choices=("",) + tuple(sorted(PRESETS)))
    # ----------------------------------------------------------------------- student
    layers: str = setting("student", "mlp", "the dense layers replaced: mlp (the "
                          "transformer's MLP blocks) or hidden (every Linear but the last)",
                          choices=("mlp", "hidden"))
    phm_n: int = setting("student", 4, "n of the PHM layers (uniform capacity; the budget "
                         "of fisher and random)")
    rules: str = setting("student", "learned", "learned rules, or fixed to an algebra's "
                         "table (quaternion: n = 4)",
                         choices=("learned", "complex", "quaternion", "octonion"))
    capacity: str = setting("student", "uniform", "uniform: n everywhere; fisher: smaller n "
                            "(more parameters) where the teacher's Fisher trace is large, "
                            "under the uniform budget; random: the fisher choice of n's "
                            "shuffled over the layers", choices=CAPACITIES)
    capacity_choices: str = setting("student", "2,4,8", "fisher, random: the n's a layer "
                                    "may take")
    fisher_examples: int = setting("student", 64, "fisher: validation examples (sequences) "
                                   "whose per-example gradients estimate tr(F)")
    method: str = setting("student", "progressive", "progressive: alpha fades dense -> PHM "
                          "with distillation and reconstruction, then PHM only; abrupt: "
                          "PHM only from the projection, with distillation; scratch: the "
                          "PHM network trained from a random init, task loss only; dense: "
                          "no replacement, the teacher trained on for as many iterations "
                          "(the control for the students' extra training)",
                          choices=DISTILL_METHODS)
    init: str = setting("student", "projection", "progressive, abrupt: the PHM layers start "
                        "at the projection of the dense weights, or random",
                        choices=("projection", "random"))
    # ------------------------------------------------------------------ distillation
    temperature: float = setting("distillation", 4.0, "distillation temperature T (the loss "
                                 "is scaled by T^2)")
    kd_weight: float = setting("distillation", 1.0, "weight of the distillation loss (0: "
                               "off)")
    recon_weight: float = setting("distillation", 1.0, "progressive: weight of the "
                                  "reconstruction loss in stage A (0: off)")
    fade: str = setting("distillation", "linear", "the alpha ramp", choices=("linear",
                                                                             "cosine"))
    fade_iters: int = setting("distillation", 500, "progressive: iterations of the alpha ramp "
                              "(within stage A)")
    # ---------------------------------------------------------------------- training
    stage_a_iters: int = setting("training", 1000, "stage A: iterations with the dense "
                                 "branches (progressive; the other methods train stage A + "
                                 "B iterations in all)")
    stage_b_iters: int = setting("training", 1000, "stage B: iterations of the PHM-only "
                                 "network")
    lr: float = setting("training", 0.0, "learning rate (0: the teacher's); the teacher's "
                        "optimizer and schedule, over stage A + B")
    eval_every: int = setting("training", 100, "evaluate every N iterations")
    checkpoint_every: int = setting("training", 250, "save a checkpoint every N iterations")
    quantize_bits: str = setting("training", "8,4,3", "after training: post-training "
                                 "quantization of teacher and student at these bit widths")
    # --------------------------------------------------------------------------- run
    seed: int = setting("run", 0, "seeds the random inits and the batches")

    RESUMABLE = ("checkpoint_every",)

    @property
    def iterations(self):
        return self.stage_a_iters + self.stage_b_iters

    def n_choices(self):
        try:
            values = [int(v) for v in self.capacity_choices.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values or min(values) < 1:
            raise ValueError(f"capacity_choices must be positive integers separated by "
                             f"commas, got {self.capacity_choices!r}")
        return sorted(set(values))

    def bits(self):
        try:
            values = [int(v) for v in self.quantize_bits.split(",") if v.strip()]
        except ValueError:
            values = [0]
        if any(not 1 <= b <= 8 for b in values):
            raise ValueError(f"quantize_bits must be bit widths from 1 to 8 separated by "
                             f"commas, got {self.quantize_bits!r}")
        return values

    def validate(self):
        if not self.teacher:
            raise ValueError("distill needs --teacher: a lottery run directory or a model "
                             ".npz (with --architecture)")
        self.check_choices()
        self.check_counts(("teacher_level", "fade_iters", "stage_a_iters", "stage_b_iters"),
                          ("phm_n", "eval_every", "checkpoint_every", "fisher_examples"))
        if self.iterations < 1:
            raise ValueError("stage_a_iters + stage_b_iters must be >= 1")
        if self.method == "progressive" and self.fade_iters > self.stage_a_iters:
            raise ValueError(f"fade_iters ({self.fade_iters}) must fit in stage A "
                             f"({self.stage_a_iters} iterations): alpha reaches 1 before "
                             "the dense branches are dropped")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        for name in ("kd_weight", "recon_weight", "lr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.rules != "learned" and self.capacity != "uniform":
            raise ValueError(f"rules {self.rules!r} fix n to the algebra's dimension: "
                             "capacity fisher and random need learned rules")
        self.n_choices()
        self.bits()
        return self


STUDENT_STREAM = 7          # the random stream of the student's init (with the seed)
ALPHA_MILESTONES = (0.0, 0.25, 0.5, 0.75, 1.0)


# ----------------------------------------------------------------------- teacher
def load_teacher(cfg, data_dir=None):
    """(the teacher's LotteryConfig, the teacher model: trained, frozen, in eval mode)."""
    path = Path(cfg.teacher)
    if path.is_dir():
        if cfg.architecture:
            raise ValueError("--architecture is for a teacher .npz; a run directory "
                             f"({path}) names its own settings")
        teacher_cfg = LotteryConfig.from_dict(RunDir(path).read_config()).validate()
        weights = deploy.level_weights(path, cfg.teacher_level, data_dir)
    elif path.is_file():
        if not cfg.architecture:
            raise ValueError(f"a teacher .npz ({path}) needs --architecture: the lottery "
                             f"preset whose settings built it ({', '.join(sorted(PRESETS))})")
        teacher_cfg = LotteryConfig(**PRESETS[cfg.architecture]).validate()
        weights = io.load_npz(path)
    else:
        raise FileNotFoundError(f"teacher {path} does not exist (a lottery run directory "
                                "or a model .npz saved by Module.save)")
    teacher = build_model(teacher_cfg)
    try:
        teacher.load_state_dict(weights)
    except (KeyError, ValueError) as err:
        raise ValueError(f"teacher {path} does not fit the {teacher_cfg.model} "
                         f"({teacher_cfg.algebra}) it should be: {err}") from None
    for p in teacher.parameters():
        p.requires_grad = False
    return teacher_cfg, teacher.eval()


def replaceable_layers(model, which="mlp"):
    """The qualified names of the dense layers a student replaces: "mlp", every nn.Linear
    inside a module named mlp (both transformer families name their MLP blocks so), or
    "hidden", every nn.Linear but the last (a classifier's output layer stays)."""
    names = [name for name, m in model.named_modules() if type(m) is nn.Linear]
    if which == "mlp":
        names = [name for name in names if "mlp" in name.split(".")]
    elif which == "hidden":
        names = names[:-1]
    else:
        raise ValueError(f"unknown layers {which!r}: expected mlp or hidden")
    if not names:
        raise ValueError(f"the model has no real dense layers to replace (layers={which!r}; "
                         "a hypercomplex MLP is not dense)")
    return names


def get_submodule(model, name):
    for part in name.split("."):
        model = getattr(model, part)
    return model


def set_submodule(model, name, module):
    parent, _, leaf = name.rpartition(".")
    setattr(get_submodule(model, parent) if parent else model, leaf, module)


def phm_parameter_count(in_features, out_features, n, learned=True):
    """Weights of a PHM layer (bias excluded): n^3 rules (if learned) + in out / n."""
    return (n ** 3 if learned else 0) + in_features * out_features // n


# ------------------------------------------------------------------------ capacity
def fisher_traces(model, names, task, examples):
    """{layer: tr(F)} for the weights of the named layers: the empirical Fisher trace

        tr(F_l) = (1/M) sum_m ||d log p(y_m | x_m) / d W_l||^2

    over the first M validation examples, one backward each (a sequence's log-likelihood
    is its mean token log-likelihood, the training loss's scale).  The parameters are the
    model's, unchanged; their requires_grad is restored."""
    x, y = task.val
    m = min(examples, len(y))
    weights = {name: get_submodule(model, name).weight for name in names}
    saved = {name: w.requires_grad for name, w in weights.items()}
    traces = dict.fromkeys(names, 0.0)
    try:
        for w in weights.values():
            w.requires_grad = True
        for i in range(m):
            loss = loss_of(model(tensor(task.prepare(x[i:i + 1]))), y[i:i + 1])
            for w in weights.values():
                w.grad = None
            loss.backward()
            for name, w in weights.items():
                g = backend.to_numpy(w.grad.data).astype(np.float64)
                traces[name] += float((g * g).sum()) / m
    finally:
        for name, w in weights.items():
            w.requires_grad = saved[name]
            w.grad = None
    return traces


def capacity_options(layer, choices, rules="learned"):
    """{n: (parameters, squared projection error ||W - H_n||^2)} of a dense layer, for
    the n in choices that divide its sizes."""
    w = backend.to_numpy(layer.weight.data).astype(np.float64)
    norm2 = float((w * w).sum())
    learned = rules == "learned"
    out = {}
    for n in choices:
        if layer.in_features % n or layer.out_features % n:
            continue
        _, _, error = phm_projection(w, n, rules)
        out[n] = (phm_parameter_count(layer.in_features, layer.out_features, n, learned),
                  error * error * norm2)
    return out


def assign_capacity(options, traces, budget):
    """{layer: n} minimizing the Fisher-weighted projection error under a parameter budget.

    The loss change of replacing W_l by H_l is, to second order with the Fisher as the
    curvature and its diagonal taken flat within a layer, about

        sum_l tr(F_l) / N_l ||W_l - H_l||^2 / 2          (N_l = the layer's weights)

    so the most sensitive layers -- largest tr(F_l) per weight -- get the smaller n (the
    smaller error), paid for by larger n elsewhere.  Every assignment within the budget
    is tried (choices^layers of them)."""
    names = list(options)
    per_weight = {name: traces[name] / max(options[name][min(options[name])][0], 1)
                  for name in names}
    combos = math.prod(len(options[name]) for name in names)
    if combos > 2_000_000:
        raise ValueError(f"{combos} capacity assignments to search: give fewer "
                         "--capacity-choices")
    best, best_cost = None, math.inf
    for pick in itertools.product(*[sorted(options[name]) for name in names]):
        params = sum(options[name][n][0] for name, n in zip(names, pick))
        if params > budget:
            continue
        cost = sum(per_weight[name] * options[name][n][1] for name, n in zip(names, pick))
        if cost < best_cost - 1e-12 * abs(best_cost if math.isfinite(best_cost) else 0):
            best, best_cost = dict(zip(names, pick)), cost
    if best is None:
        raise ValueError(f"no capacity assignment fits the budget of {budget} parameters")
    return best


def shuffled_capacity(assignment, options, budget, seed):
    """The same n's over the layers in a random order (within the budget)."""
    rng = np.random.default_rng([seed, STUDENT_STREAM])
    names, values = list(assignment), list(assignment.values())
    for _ in range(1000):
        pick = dict(zip(names, rng.permutation(values).tolist()))
        if all(n in options[name] for name, n in pick.items()) and \
                sum(options[name][n][0] for name, n in pick.items()) <= budget:
            return pick
    raise ValueError("no shuffle of the Fisher assignment fits the budget")


# ------------------------------------------------------------------------- student
def build_student(cfg, teacher_cfg, teacher, n_of):
    """The student: for "scratch" a fresh network with PHMLinear layers, for "dense" the
    teacher's network as it is (the control); otherwise the teacher's weights with the
    named layers as ProgressivePHM (progressive) or their PHM branch alone (abrupt)."""
    backend.manual_seed((cfg.seed, STUDENT_STREAM))
    student = build_model(teacher_cfg)
    if cfg.method != "scratch":
        student.load_state_dict(teacher.state_dict())
    if cfg.method == "dense":
        return student
    for name, n in n_of.items():
        dense = get_submodule(student, name)
        if cfg.method == "scratch":
            layer = nn.PHMLinear(dense.in_features, dense.out_features, n, cfg.rules,
                                 bias=dense.bias is not None)
        else:
            layer = nn.ProgressivePHM(dense, n, cfg.rules, cfg.init)
            if cfg.method == "abrupt":
                layer = layer.phm
        set_submodule(student, name, layer)
    return student


def progressive_layers(model):
    return [m for m in model.modules() if isinstance(m, nn.ProgressivePHM)]


def drop_dense(model):
    """Stage B: every ProgressivePHM replaced by its PHM branch (the same parameters)."""
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.ProgressivePHM):
            set_submodule(model, name, m.phm)
    return model


def make_optimizer(teacher_cfg, model, lr):
    """The teacher's optimizer over the student's trainable parameters (frozen dense
    branches excluded); AdamW with nanoGPT's decay groups."""
    params = [p for p in model.parameters() if p.requires_grad]
    betas = (0.9, teacher_cfg.beta2)
    if teacher_cfg.optimizer == "adamw":
        return optim.AdamW([{"params": [p for p in params if p.ndim >= 2],
                             "weight_decay": teacher_cfg.weight_decay},
                            {"params": [p for p in params if p.ndim < 2],
                             "weight_decay": 0.0}], lr=lr, betas=betas)
    if teacher_cfg.optimizer == "adam":
        return optim.Adam(params, lr=lr, betas=betas, weight_decay=teacher_cfg.weight_decay)
    return optim.SGD(params, lr=lr, momentum=teacher_cfg.momentum,
                     weight_decay=teacher_cfg.weight_decay)


def load_student(run_dir):
    """The trained student of a finished run, rebuilt from its settings and student.npz."""
    run_dir = Path(run_dir)
    meta = io.load_json(run_dir / "metrics.json")
    if not meta.get("finished"):
        raise ValueError(f"{run_dir} has not finished")
    cfg = DistillConfig.from_dict(io.load_json(run_dir / "config.json")["config"])
    teacher_cfg = LotteryConfig.from_dict(meta["teacher_config"]).validate()
    backend.manual_seed((cfg.seed, STUDENT_STREAM))
    student = build_model(teacher_cfg)
    for name, n in meta["capacity"].items():
        dense = get_submodule(student, name)
        set_submodule(student, name, nn.PHMLinear(dense.in_features, dense.out_features, n,
                                                  cfg.rules, bias=dense.bias is not None))
    student.load(run_dir / "student.npz")
    return student


# -------------------------------------------------------------------------- the run
class DistillRun:
    """One replacement run in `run_dir`; `run()` trains (or resumes) and returns the
    summary.  A directory holding a run with other settings is refused."""

    def __init__(self, config, run_dir, data_dir=None, quiet=False, command=None):
        self.config = config.validate()
        self.path = Path(run_dir)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{self.path} is a file, not a run directory")
        self.data_dir, self.quiet, self.command = data_dir, quiet, command
        self._check_config()

    # ------------------------------------------------------------------ files
    @property
    def config_path(self):
        return self.path / "config.json"

    @property
    def checkpoint_path(self):
        return self.path / "checkpoint.npz"

    @property
    def metrics_path(self):
        return self.path / "metrics.json"

    def _check_config(self):
        if not self.config_path.exists():
            return
        saved = {**DistillConfig().to_dict(), **io.load_json(self.config_path)["config"]}
        diff = {k: (saved.get(k), v) for k, v in self.config.to_dict().items()
                if saved.get(k) != v and k not in DistillConfig.RESUMABLE}
        if diff:
            raise ValueError(f"{self.path} holds a distillation run with other settings "
                             f"{ {k: v[0] for k, v in diff.items()} }; this command has "
                             f"{ {k: v[1] for k, v in diff.items()} }.  Use another "
                             "--run-dir, or the same settings to resume.")

    def finished(self):
        return self.metrics_path.exists() and io.load_json(self.metrics_path).get("finished")

    # ------------------------------------------------------------------ the loop
    def run(self):
        if self.finished():
            return io.load_json(self.metrics_path)["summary"]
        cfg = self.config
        teacher_cfg, teacher = load_teacher(cfg, self.data_dir)
        task = make_task(teacher_cfg, self.data_dir)
        layers = replaceable_layers(teacher, cfg.layers)
        capacity, report = self._capacity(teacher, layers, task)
        io.save_text(self.config_path, json.dumps(
            {"command": self.command, "config": cfg.to_dict(), "hyperprune": __version__},
            indent=2) + "\n")
        student = build_student(cfg, teacher_cfg, teacher, capacity)
        lr = cfg.lr or teacher_cfg.lr
        opt = make_optimizer(teacher_cfg, student, lr)
        state = self._load_checkpoint(student, opt)
        if state is None:
            state = dict(iteration=0, curve=[], window=[0.0, 0.0, 0.0, 0], seconds=0.0)
        if cfg.method == "progressive" and state["iteration"] >= cfg.stage_a_iters:
            drop_dense(student)
        started = time.time() - state["seconds"]
        curve = self._train(student, teacher, opt, task, teacher_cfg, lr, state, started)
        if cfg.method == "progressive" and progressive_layers(student):
            drop_dense(student)
        summary = self._finish(student, teacher, teacher_cfg, task, capacity, report, curve,
                               time.time() - started)
        return summary

    def _capacity(self, teacher, layers, task):
        """({layer: n}, a report: traces, projection errors (also of random matrices of
        the same shapes), the budget)."""
        cfg = self.config
        learned = cfg.rules == "learned"
        n = cfg.phm_n
        if not learned:
            n = {"complex": 2, "quaternion": 4, "octonion": 8}[cfg.rules]
            if cfg.phm_n not in (4, n):
                raise ValueError(f"rules {cfg.rules!r} fix n = {n}, got --phm-n {cfg.phm_n}")
        modules = {name: get_submodule(teacher, name) for name in layers}
        for name, layer in modules.items():
            if layer.in_features % n or layer.out_features % n:
                raise ValueError(f"layer {name} ({layer.in_features} -> "
                                 f"{layer.out_features}) has no PHM form with n = {n}")
        choices = cfg.n_choices() if cfg.capacity != "uniform" else [n]
        if cfg.capacity != "uniform" and n not in choices:
            choices = sorted(set(choices) | {n})
        options = {name: capacity_options(layer, choices, cfg.rules)
                   for name, layer in modules.items()}
        budget = sum(phm_parameter_count(m.in_features, m.out_features, n, learned)
                     for m in modules.values())
        rng = np.random.default_rng(0)
        report = dict(budget=budget, projection_error={}, random_matrix_error={})
        for name, layer in modules.items():
            w = backend.to_numpy(layer.weight.data)
            norm = float(np.linalg.norm(w.astype(np.float64)))
            report["projection_error"][name] = {
                str(k): math.sqrt(v[1]) / norm for k, v in options[name].items()}
            g = rng.standard_normal(w.shape)
            report["random_matrix_error"][name] = {
                str(k): phm_projection(g, k, cfg.rules)[2]
                for k in options[name]}
        if cfg.capacity == "uniform":
            return {name: n for name in layers}, report
        traces = fisher_traces(teacher, layers, task, cfg.fisher_examples)
        report["fisher_trace"] = traces
        assignment = assign_capacity(options, traces, budget)
        report["fisher_assignment"] = dict(assignment)
        if cfg.capacity == "random":
            assignment = shuffled_capacity(assignment, options, budget, cfg.seed)
        return assignment, report

    def _eval_points(self):
        cfg = self.config
        points = set(range(0, cfg.iterations + 1, cfg.eval_every)) | {cfg.iterations}
        if cfg.method == "progressive":
            points |= {fade_iteration(a, cfg.fade_iters, cfg.fade) for a in ALPHA_MILESTONES}
            points.add(cfg.stage_a_iters)
        return points

    def _alpha(self, iteration):
        cfg = self.config
        if cfg.method != "progressive":
            return 1.0
        return fade(iteration, cfg.fade_iters, cfg.fade)

    def _train(self, student, teacher, opt, task, teacher_cfg, lr, state, started):
        cfg = self.config
        iteration, curve, window = state["iteration"], state["curve"], state["window"]
        schedule = None
        if teacher_cfg.lr_schedule == "cosine":
            scale = lr / teacher_cfg.lr
            schedule = CosineSchedule(opt, lr, teacher_cfg.min_lr * scale,
                                      min(teacher_cfg.warmup_iters, cfg.iterations),
                                      cfg.iterations)
        points = self._eval_points()
        use_kd = cfg.kd_weight > 0 and cfg.method not in ("scratch", "dense")
        stream = task.batches(cfg.seed, iteration, teacher_cfg.batch_size)
        bar = tqdm(total=cfg.iterations, initial=iteration, disable=self.quiet, leave=False,
                   desc=f"distill {cfg.method}", file=sys.stderr)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while True:
                alpha = self._alpha(iteration)
                for layer in progressive_layers(student):
                    layer.alpha = alpha
                if iteration in points and not (curve and curve[-1]["iteration"] == iteration):
                    curve.append(self._evaluate(student, task, iteration, alpha, window))
                    window = [0.0, 0.0, 0.0, 0]
                    bar.set_postfix(val_loss=f"{curve[-1]['val_loss']:.4f}", refresh=False)
                if iteration >= cfg.iterations:
                    break
                if cfg.method == "progressive" and iteration == cfg.stage_a_iters:
                    drop_dense(student)
                if iteration and iteration % cfg.checkpoint_every == 0:
                    self._save_checkpoint(student, opt, iteration, curve, window,
                                          time.time() - started)
                if schedule is not None:
                    schedule.set(iteration)
                xb, yb = next(stream)
                losses = self._step(student, teacher, opt, xb, yb, use_kd,
                                    teacher_cfg.grad_clip)
                iteration += 1
                if not math.isfinite(losses[0]):
                    raise DivergedError(f"iteration {iteration}: the training loss is "
                                        f"{losses[0]}: training diverged; lower --lr (now "
                                        f"{lr:g}) in a new --run-dir")
                for i, v in enumerate(losses):
                    window[i] += v
                window[3] += 1
                bar.update()
        bar.close()
        return curve

    def _step(self, student, teacher, opt, xb, yb, use_kd, grad_clip):
        """One step; returns (task loss, distillation loss, reconstruction loss)."""
        cfg = self.config
        x = tensor(xb)
        logits = student(x)
        task_loss = loss_of(logits, yb)
        total, kd_value, recon_value = task_loss, 0.0, 0.0
        if use_kd:
            with no_grad():
                teacher_logits = teacher(x)
            kd = F.kd_loss(logits, teacher_logits, cfg.temperature)
            total = total + kd * cfg.kd_weight
            kd_value = kd.item()
        layers = progressive_layers(student)
        if layers and cfg.recon_weight > 0:
            recon = layers[0].reconstruction_loss()
            for layer in layers[1:]:
                recon = recon + layer.reconstruction_loss()
            recon = recon * (1.0 / len(layers))
            total = total + recon * cfg.recon_weight
            recon_value = recon.item()
        opt.zero_grad()
        total.backward()
        if grad_clip:
            optim.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]],
                                  grad_clip)
        opt.step()
        return task_loss.item(), kd_value, recon_value

    def _evaluate(self, student, task, iteration, alpha, window):
        val_loss, val_acc = evaluate(student, *task.val, task.eval_batch_size, task.prepare)
        count = window[3]
        stage = "B" if self.config.method == "progressive" and \
            iteration > self.config.stage_a_iters else "A"
        return dict(iteration=iteration, stage=stage, alpha=alpha,
                    train_loss=window[0] / count if count else None,
                    train_kd=window[1] / count if count else None,
                    train_recon=window[2] / count if count else None,
                    val_loss=val_loss, val_acc=val_acc)

    # ------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, student, opt, iteration, curve, window, seconds):
        arrays = {f"model.{k}": v for k, v in student.state_dict().items()}
        opt_state = opt.state_dict()
        for key, value in opt_state["state"].items():
            arrays[f"opt.{key}"] = np.asarray(value)
        arrays["param_groups"] = np.asarray(json.dumps(opt_state["param_groups"]))
        arrays["iteration"] = np.asarray(iteration)
        arrays["window"] = np.asarray(window, dtype=np.float64)
        arrays["seconds"] = np.asarray(seconds, dtype=np.float64)
        arrays["curve"] = np.asarray(json.dumps(curve))
        arrays["rng"] = np.asarray(json.dumps(backend.rng_state()))
        io.save_npz(self.checkpoint_path, arrays)

    def _load_checkpoint(self, student, opt):
        if not self.checkpoint_path.exists():
            return None
        arrays = io.load_npz(self.checkpoint_path)
        iteration = int(arrays["iteration"])
        if self.config.method == "progressive" and iteration >= self.config.stage_a_iters:
            drop_dense(student)
        student.load_state_dict({k[6:]: v for k, v in arrays.items()
                                 if k.startswith("model.")})
        opt.load_state_dict({"param_groups": json.loads(str(arrays["param_groups"])),
                             "state": {k[4:]: v for k, v in arrays.items()
                                       if k.startswith("opt.")}})
        backend.set_rng_state(json.loads(str(arrays["rng"])))
        window = arrays["window"].tolist()
        return dict(iteration=iteration, curve=json.loads(str(arrays["curve"])),
                    window=window[:3] + [int(window[3])], seconds=float(arrays["seconds"]))

    # ----------------------------------------------------------------- results
    def _finish(self, student, teacher, teacher_cfg, task, capacity, report, curve,
                seconds):
        cfg = self.config
        teacher_loss, teacher_acc = evaluate(teacher, *task.val, task.eval_batch_size,
                                             task.prepare)
        final = curve[-1]
        milestones = {}
        if cfg.method == "progressive":
            for a in ALPHA_MILESTONES:
                it = fade_iteration(a, cfg.fade_iters, cfg.fade)
                milestones[f"{a:g}"] = next(p["val_loss"] for p in curve
                                            if p["iteration"] == it)
        summary = dict(
            method=cfg.method, rules=cfg.rules, capacity=cfg.capacity,
            final_val_loss=final["val_loss"], final_val_acc=final["val_acc"],
            final_val_perplexity=math.exp(final["val_loss"]),
            best_val_loss=min(p["val_loss"] for p in curve),
            teacher_val_loss=teacher_loss, teacher_val_acc=teacher_acc,
            student_parameters=student.num_parameters(),
            teacher_parameters=teacher.num_parameters(),
            replaced_weights=sum(phm_parameter_count(
                get_submodule(teacher, name).in_features,
                get_submodule(teacher, name).out_features, n, cfg.rules == "learned")
                for name, n in capacity.items()),
            dense_weights=sum(get_submodule(teacher, name).weight.size
                              for name in capacity),
            val_loss_at_alpha=milestones, seconds=round(seconds, 1))
        if cfg.method == "dense":                    # nothing replaced: the layers stay
            summary["replaced_weights"] = summary["dense_weights"]
        summary["quantization"] = {
            "teacher": quantization_report(teacher, task, cfg.bits()),
            "student": quantization_report(student, task, cfg.bits())}
        student.save(self.path / "student.npz")
        self._write_curve(curve)
        io.save_text(self.metrics_path, json.dumps(dict(
            finished=True, summary=summary, capacity=capacity, report=report,
            teacher_config=teacher_cfg.to_dict(), curve=curve), indent=1) + "\n")
        if self.checkpoint_path.exists():
            self.checkpoint_path.unlink()
        from .plots import distill_figure
        distill_figure(self.path, self.path / "curve.png")
        return summary

    def _write_curve(self, curve):
        buffer = _io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(curve[0]))
        writer.writeheader()
        writer.writerows(curve)
        io.save_text(self.path / "curve.csv", buffer.getvalue())


def quantization_report(model, task, bits_list):
    """{bits: {"val_loss", "bytes"}} of post-training quantization (one scale per output
    unit) of every prunable weight -- Linear, PHM factors -- the other parameters float16;
    bits 32 is the float export.  Bytes: the .hpz file hyperprune.modelfile writes."""
    out = {}
    for bits in [32] + list(bits_list):
        clone = copy.deepcopy(model)
        tensors, quantized = deploy.file_tensors(clone, None, bits)
        with tempfile.TemporaryDirectory() as tmp:
            size = modelfile.write(Path(tmp) / "m.hpz", {"bits": bits}, tensors)
        loss, _ = evaluate(quantized, *task.val, task.eval_batch_size, task.prepare)
        out[str(bits)] = dict(val_loss=loss, bytes=int(size))
    return out
