"""The iterative magnitude pruning (IMP) runner: lottery tickets, real and quaternion.

Each level k = 0, 1, ..., L:
    1. start from the surviving weights of θ0 (or of the rewind point θ_k), masked
    2. build a fresh optimizer and train T iterations, pruned weights held at zero
    3. every `eval_every` iterations, record validation and test loss and accuracy
    4. note the early-stop iteration (minimum validation loss) and the test accuracy
       there and at the end
    5. prune: the next level's mask removes a fraction of the surviving weights
Controls: `reinit` trains the masks of another run from a new random initialization;
`random_pruning` removes the same numbers of weights per layer at random positions.

The run lives in a run directory (hyperprune.rundir): every file is written atomically,
so a kill at any moment leaves a consistent directory; running the same command again
skips finished levels and continues a level from its last checkpoint, producing bitwise
the same numbers as an uninterrupted run.  The settings: hyperprune.config.
"""
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import __version__, backend, datasets, io, models, optim, prune
from .config import CONTROLS, OPTIMIZERS, PRESETS, SCHEDULES, LotteryConfig  # noqa: F401
from .models.encodings import ENCODINGS
from .rundir import RunDir
from .schedule import CosineSchedule
from .train import evaluate, train_step


# ------------------------------------------------------------- what a config builds
def build_model(cfg):
    """The run's model, from its family's declared settings."""
    family = models.get_family(cfg.model)
    num_classes = datasets.get_dataset(cfg.dataset).num_classes
    return family.build(cfg.algebra, **family.options(cfg, num_classes))


def real_prunable_total(cfg):
    """The real model's number of prunable weights in the run's scope (all layers, or the
    attention Q/K/V projections): the papers' 100% on the x-axis."""
    family = models.get_family(cfg.model)
    options = family.options(cfg, datasets.get_dataset(cfg.dataset).num_classes)
    for name in family.hypercomplex_options:
        options.pop(name)
    with backend.use_backend("numpy"):
        real = family.build("real", **options)
    return sum(m.weight.size for m in prune.prunable_layers(real, cfg.scope).values())


def make_task(cfg, data_dir=None):
    """The run's data; batches are encoded for a quaternion first layer if the model
    family asks for it."""
    family = models.get_family(cfg.model)
    options = family.options(cfg, datasets.get_dataset(cfg.dataset).num_classes)
    prepare = ENCODINGS[cfg.encoding] if family.needs_encoding(cfg.algebra, options) \
        else None
    return datasets.make_task(cfg.dataset, cfg, data_dir, prepare)


def make_optimizer(cfg, model):
    betas = (0.9, cfg.beta2)
    if cfg.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=cfg.lr, betas=betas,
                          weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return optim.AdamW(optim.decay_groups(model, cfg.weight_decay), lr=cfg.lr,
                           betas=betas)
    return optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                     weight_decay=cfg.weight_decay)


class DivergedError(FloatingPointError):
    """Training produced a non-finite loss or weight; the level stopped there."""


# the third word of a level's random stream (dropout): "drop" in ASCII
DROPOUT_STREAM = 0x64726F70


# ------------------------------------------------------------------------- the runner
class LotteryRun:
    """One IMP run in `run_dir`; `run()` trains every unfinished level.

    The directory is claimed (config.json written) only once the data have loaded, so a
    start that fails leaves nothing behind; `restart=True` starts a run that has not
    finished its first level again, with this config's settings.
    """

    def __init__(self, config, run_dir, data_dir=None, quiet=False, command=None,
                 restart=False):
        self.config = config.validate()
        self.family = models.get_family(self.config.model)
        self.dir = RunDir(run_dir)
        if self.dir.path.exists() and not self.dir.path.is_dir():
            raise ValueError(f"{self.dir.path} is a file, not a run directory")
        self.data_dir = data_dir
        self.quiet = quiet
        self.command = command
        self._check_config(restart)

    def _check_config(self, restart):
        """Refuse a directory that holds a run with other settings -- unless `restart` and
        that run never finished a level, which is then cleared."""
        if not self.dir.config_path.exists():
            return
        started = self.dir.level_path(0).exists()
        if restart and not started:
            self.dir.clear()
            return
        if restart:
            raise ValueError(f"{self.dir.path}: --restart only restarts a run that never "
                             "finished a level; this one has: use another --run-dir")
        # settings added in later versions take their default in older run dirs
        saved = {**type(self.config)().to_dict(), **self.dir.read_config()}
        current = self.config.to_dict()
        diff = {k: (saved.get(k), v) for k, v in current.items()
                if saved.get(k) != v and k not in self.config.RESUMABLE}
        if diff:
            hint = ("Use another --run-dir, or the same settings to resume." if started else
                    "It never finished a level: add --restart to start it again with "
                    "these settings.")
            raise ValueError(f"{self.dir.path} holds a run with other settings "
                             f"{ {k: v[0] for k, v in diff.items()} }; this command has "
                             f"{ {k: v[1] for k, v in diff.items()} }. {hint}")

    # what a runner built on this loop (hyperprune.supermask) may change
    def build_model(self):
        return build_model(self.config)

    def make_optimizer(self, model):
        return make_optimizer(self.config, model)

    def progress_label(self, level, masks):
        return f"level {level:2d} Pm {masks.density():6.2%}"

    def finished_levels(self):
        return self.dir.finished_levels(self.config.levels)

    def summaries(self):
        return self.dir.summaries(self.finished_levels())

    # ----------------------------------------------------------------- the loop
    def _begin(self):
        """(task, real prunable total, θ0); data first: missing data leave nothing behind."""
        task = make_task(self.config, self.data_dir)
        real_total = real_prunable_total(self.config)
        self.dir.write_config(self.config.to_dict(), self.command, __version__)
        return task, real_total, self._initial_state()

    def run(self):
        cfg = self.config
        task, real_total, theta0 = self._begin()
        for level in range(cfg.levels + 1):
            if self.dir.level_path(level).exists():
                continue
            line = _summary_line(self._run_level(level, task, real_total, theta0),
                                 self.family.language_model)
            tqdm.write(line) if not self.quiet else print(line, flush=True)
        self._write_metrics()
        return self.summaries()

    def _run_level(self, level, task, real_total, theta0):
        model, masks, opt, (iteration, curve, window, spent) = \
            self._start_level(level, theta0)
        started = time.time() - spent          # seconds accumulate over resumed segments
        curve = self._train(level, model, masks, opt, task, iteration, curve, window, started)
        summary = self._summarize(level, masks, curve, real_total, time.time() - started)
        self._finish_level(level, model, masks, summary, curve)
        return summary

    def _start_level(self, level, theta0):
        """The model at the level's start (θ0 or the rewind point, masked, or the
        checkpoint), its masks and optimizer, and (iteration, curve, loss window, seconds
        spent).  The library's random stream (dropout) starts from (seed, level), or from
        the checkpoint's state, so a level's numbers never depend on what ran before."""
        cfg = self.config
        model = self.build_model()
        masks = self._level_mask(level, model)
        opt = self.make_optimizer(model)
        backend.manual_seed((cfg.seed, level, DROPOUT_STREAM))
        state = self._load_checkpoint(level, model, opt)
        if state is None:
            state = self._rewind_state(model, theta0), [], [0.0, 0], 0.0
        if masks.density() < 1.0:
            masks.apply(model)
        return model, masks, opt, state

    def _train(self, level, model, masks, opt, task, iteration, curve, window, started):
        """Train from `iteration` to the end of the level; returns the evaluation curve.
        A non-finite loss (every step) or weight (at every evaluation) stops it."""
        cfg = self.config
        masks_or_none = None if masks.density() == 1.0 else masks
        stream = task.batches(cfg.seed, iteration, cfg.batch_size)
        schedule = None
        if cfg.lr_schedule == "cosine":
            schedule = CosineSchedule(opt, cfg.lr, cfg.min_lr, cfg.warmup_iters,
                                      cfg.iterations)
        bar = tqdm(total=cfg.iterations, initial=iteration, disable=self.quiet, leave=False,
                   desc=self.progress_label(level, masks), file=sys.stderr)
        # overflow warnings of a diverging run are replaced by one clear error below
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while iteration < cfg.iterations:
                xb, yb = next(stream)
                if schedule is not None:  # a function of the iteration: resumes exactly
                    schedule.set(iteration)
                loss = train_step(model, opt, masks_or_none, xb, yb, cfg.grad_clip).item()
                iteration += 1
                if not math.isfinite(loss):
                    raise DivergedError(self._diverged(level, iteration, "training loss", loss))
                window[0] += loss
                window[1] += 1
                if iteration == cfg.rewind_iteration and level == 0 and cfg.rewind_iteration:
                    io.save_npz(self.dir.rewind_path, dict(model.state_dict()))
                if iteration % cfg.eval_every == 0 or iteration == cfg.iterations:
                    self._check_weights(model, level, iteration)
                    point = self._evaluate(model, task, iteration, window, curve)
                    curve.append(point)
                    window = [0.0, 0]
                    bar.set_postfix(loss=f"{point['train_loss']:.3f}",
                                    val_acc=f"{point['val_acc']:.4f}", refresh=False)
                    if point.get("last"):                  # patience ran out: level done
                        break
                if iteration % cfg.checkpoint_every == 0 and iteration < cfg.iterations:
                    self._save_checkpoint(level, model, opt, iteration, curve, window,
                                          time.time() - started)
                bar.update()
        bar.close()
        return curve

    def _check_weights(self, model, level, iteration):
        for name, p in model.named_parameters():
            xp = backend.get_array_module(p.data)
            if not bool(xp.isfinite(p.data).all()):
                raise DivergedError(self._diverged(level, iteration, f"weight {name}",
                                                   "not finite"))

    def _diverged(self, level, iteration, what, value):
        again = ("then run the same command with --restart (the run has not finished a "
                 "level)" if level == 0 else
                 f"in a new --run-dir (levels 0-{level - 1} of this run stay as they are)")
        return (f"level {level}, iteration {iteration}: the {what} is {value}: training "
                f"diverged.  Lower the learning rate (--lr, now {self.config.lr:g}) or clip "
                f"the gradients (--grad-clip), {again}.")

    def _finish_level(self, level, model, masks, summary, curve):
        """Prune for the next level and persist the level.  Order matters for resumption:
        the next mask first, then the level's record (the mask after the last level too,
        so a finished run can be extended with --levels)."""
        cfg = self.config
        histogram = prune.surviving_weight_histogram(model, masks)
        next_digest = None
        if cfg.control != "reinit":
            method = "random" if cfg.control == "random_pruning" else "magnitude"
            rates = prune.layerwise_rates(model, cfg.rate, cfg.output_rate, cfg.conv_rate,
                                          cfg.scope)
            target = None
            if cfg.control == "random_pruning" and cfg.masks_from:  # the ticket's counts
                target = RunDir(cfg.masks_from).verified_mask(level + 1, model, cfg.scope)
            nxt = prune.prune(model, masks, cfg.strategy, rates, cfg.fraction,
                              cfg.granularity, method, seed=cfg.seed * 1000 + level,
                              target=target)
            nxt.save(self.dir.mask_path(level + 1))
            next_digest = nxt.digest()
        if level == 0 or not self.dir.mask_path(level).exists():
            masks.save(self.dir.mask_path(level))
        io.save_npz(self.dir.weights_path(level), dict(model.state_dict()))
        self.dir.write_level(level, summary, curve, histogram, next_digest)
        self.dir.checkpoint_path.unlink(missing_ok=True)
        self._write_metrics()

    # ----------------------------------------------------------------- setup
    def _initial_state(self):
        """θ0, made from the seed: saved once so every level starts from it, and checked
        against its rebuild whenever the run resumes (a changed init.npz is refused)."""
        cfg = self.config
        backend.manual_seed(cfg.seed + (10_000 if cfg.control == "reinit" else 0))
        state = self.build_model().state_dict()
        path = self.dir.init_path
        if not path.exists():
            io.save_npz(path, dict(state))
            return state
        saved = io.load_npz(path)
        if list(saved) != list(state) or any(
                saved[k].shape != v.shape or not np.array_equal(saved[k], v)
                for k, v in state.items()):
            raise ValueError(f"{path} is not θ0 of this run (the initial weights rebuilt from "
                             f"seed {cfg.seed} differ): the file was changed.  Delete it to "
                             "have it rebuilt, then run the command again.")
        return saved

    def _level_mask(self, level, model):
        """The mask level `level` trains, verified (RunDir.verified_mask)."""
        cfg = self.config
        if cfg.control == "reinit":
            return RunDir(cfg.masks_from).verified_mask(level, model, cfg.scope)
        if level == 0:
            return prune.Masks.ones(model, cfg.scope)
        return self.dir.verified_mask(level, model, cfg.scope)

    def _rewind_state(self, model, theta0):
        """Load θ0 (or the rewind point) into the model; returns the start iteration."""
        cfg = self.config
        if cfg.rewind_iteration and self.dir.rewind_path.exists():
            model.load_state_dict(io.load_npz(self.dir.rewind_path))
            return cfg.rewind_iteration
        model.load_state_dict(theta0)
        return 0

    def _evaluate(self, model, task, iteration, window, curve):
        """The evaluation point at `iteration`; with patience, marked "last" when the
        validation loss has not improved for `patience` iterations."""
        cfg = self.config
        val_loss, val_acc = evaluate(model, *task.val, task.eval_batch_size, task.prepare)
        train_loss = window[0] / window[1] if window[1] else float("nan")
        point = dict(iteration=iteration, train_loss=train_loss, val_loss=val_loss,
                     val_acc=val_acc)
        best = min(curve + [point], key=lambda p: p["val_loss"])
        last = iteration == cfg.iterations or (
            cfg.patience and iteration - best["iteration"] >= cfg.patience)
        if last and iteration < cfg.iterations:
            point["last"] = True
        if last or best is point or not cfg.test_when_improved:
            point["test_loss"], point["test_acc"] = evaluate(
                model, *task.test, task.eval_batch_size, task.prepare)
        return point

    def _summarize(self, level, masks, curve, real_total, seconds):
        best = min(curve, key=lambda p: p["val_loss"])
        last = curve[-1]
        report = prune.sparsity_report(masks, real_total)
        summary = dict(level=level, weights_remaining=report["weights_remaining"],
                       pm=report["pm"], pm_of_real=report["pm_of_real"],
                       final_iteration=last["iteration"],
                       early_stop_iteration=best["iteration"],
                       early_stop_val_loss=best["val_loss"], early_stop_val_acc=best["val_acc"],
                       early_stop_test_acc=best["test_acc"], final_val_loss=last["val_loss"],
                       final_val_acc=last["val_acc"], final_test_acc=last["test_acc"],
                       final_test_loss=last["test_loss"], seconds=round(seconds, 1))
        if self.family.language_model:  # perplexity = exp(validation loss)
            summary["early_stop_val_perplexity"] = math.exp(best["val_loss"])
            summary["final_val_perplexity"] = math.exp(last["val_loss"])
        return summary

    # ----------------------------------------------------------------- checkpoints
    def _save_checkpoint(self, level, model, opt, iteration, curve, window, seconds):
        """Everything the rest of the level depends on: weights, the optimizer's state and
        parameter groups, the random stream, the iteration, the curve so far."""
        arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
        opt_state = opt.state_dict()
        for key, value in opt_state["state"].items():
            arrays[f"opt.{key}"] = np.asarray(value)
        arrays["level"] = np.asarray(level)
        arrays["iteration"] = np.asarray(iteration)
        arrays["window"] = np.asarray(window, dtype=np.float64)
        arrays["seconds"] = np.asarray(seconds, dtype=np.float64)
        # JSON as unicode strings, never pickled objects
        arrays["curve"] = np.asarray(json.dumps(curve))
        arrays["param_groups"] = np.asarray(json.dumps(opt_state["param_groups"]))
        arrays["rng"] = np.asarray(json.dumps(backend.rng_state()))
        io.save_npz(self.dir.checkpoint_path, arrays)

    def _load_checkpoint(self, level, model, opt):
        path = self.dir.checkpoint_path
        if not path.exists():
            return None
        arrays = io.load_npz(path)
        if int(arrays["level"]) != level:
            return None
        model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
        state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")}
        groups = json.loads(str(arrays["param_groups"])) if "param_groups" in arrays else \
            [{} for _ in opt.param_groups]             # older checkpoints: from the config
        opt.load_state_dict({"param_groups": groups, "state": state})
        if "rng" in arrays:
            backend.set_rng_state(json.loads(str(arrays["rng"])))
        window = arrays["window"].tolist()
        seconds = float(arrays["seconds"]) if "seconds" in arrays else 0.0
        return int(arrays["iteration"]), json.loads(str(arrays["curve"])), \
            [window[0], int(window[1])], seconds

    def _write_metrics(self):
        self.dir.write_metrics(self.config.to_dict(), self.finished_levels())


def _summary_line(s, language_model):
    metric, key = ("val loss", "val_loss") if language_model else ("test acc", "test_acc")
    return (f"level {s['level']:2d}  Pm {s['pm']:7.2%}  (of real {s['pm_of_real']:7.2%})  "
            f"early stop {s['early_stop_iteration']:6d}  {metric} there "
            f"{s['early_stop_' + key]:.4f}, at end {s['final_' + key]:.4f}  "
            f"[{s['seconds']:.0f} s]")


def run_lottery(config, run_dir, replicates=1, data_dir=None, quiet=False, command=None,
                restart=False):
    """One run in run_dir, or `replicates` > 1 of them (seeds seed, seed+1, ...) in
    run_dir/replicate_R -- the one layout of replicates, which `hyperprune plot run_dir`
    averages.  A directory holds either one run or replicates, never both."""
    root = Path(run_dir)
    if replicates > 1 and RunDir(root).config_path.exists():
        raise ValueError(f"{root} holds a single run; replicates go to replicate_0, "
                         f"replicate_1, ... of a directory of their own: use another "
                         f"--run-dir (or move this run's files into {root / 'replicate_0'} "
                         f"if its seed is {config.seed})")
    if replicates == 1 and any(root.glob("replicate_*/config.json")):
        raise ValueError(f"{root} holds replicates (replicate_0, ...): resume them with "
                         "--replicates N, or use another --run-dir for a single run")
    results = []
    for r in range(replicates):
        cfg = dataclasses.replace(config, seed=config.seed + r)
        sub = root / f"replicate_{r}" if replicates > 1 else root
        results.append(LotteryRun(cfg, sub, data_dir, quiet, command, restart).run())
    return results
