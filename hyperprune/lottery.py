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

A run directory is self-describing and resumable:
    config.json            every setting, and the command that regenerates the run
    init.npz               θ0 (and rewind.npz, the weights at the rewind iteration)
    masks/level_KK.npz     the mask trained at level KK
    levels/level_KK.json   that level's evaluation curve and summary (marks it done)
    metrics.csv, metrics.json, curves.csv   all finished levels
    checkpoint.npz         mid-level state (weights, optimizer, iteration, curve)
Every file is written atomically, so a kill at any moment leaves a consistent directory;
running the same command again skips finished levels and continues a level from its
last checkpoint, producing bitwise the same numbers as an uninterrupted run.
"""
import csv
import dataclasses
import io as _io
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import __version__, backend, io, models, prune, tasks
from .schedule import CosineSchedule
from .train import evaluate, make_optimizer, train_step

CONTROLS = ("none", "reinit", "random_pruning")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")


@dataclass
class LotteryConfig:
    """Every setting of one IMP run (one replicate).  Defaults: Frankle & Carbin's LeNet."""

    model: str = "lenet_300_100"
    algebra: str = "real"
    fully_quaternion: bool = False
    dataset: str = "auto"                 # auto: mnist for LeNet, cifar10 for Conv-n
    width: float = 1.0                    # Conv-n: channel and unit multiplier
    first_layer: str = ""                 # Conv-n quaternion: "quaternion" (default) | "real"
    encoding: str = "rgb_gray"            # quaternion input: rgb_gray | zero_rgb
    augment: bool = False                 # CIFAR: random crops and flips
    block_size: int = 64                  # gpt_char: context length
    n_layer: int = 4                      # transformers: depth
    n_head: int = 4                       #               heads
    n_embd: int = 128                     #               width
    mlp_dim: int = 512                    # vit: MLP width (gpt_char uses 4 x n_embd)
    dropout: float = 0.0
    quaternion_mlp: bool = False          # quaternion transformers: QLinear MLP too
    fused_qkv: bool = False               # quaternion transformers: qytorch's QKV layout
    eval_iters: int = 20                  # text: validation batches per evaluation
    scope: str = "all"                    # all | qkv: which layers are pruned
    strategy: str = "layerwise"           # layerwise | global | componentwise
    rate: float = 0.2                     # layerwise: fully connected layers
    output_rate: float = 0.1              # layerwise: the output layer
    conv_rate: float = 0.1                # layerwise: convolutions
    fraction: float = 0.2                 # global: of all remaining prunable weights
    granularity: str = "component"        # component | quaternion
    levels: int = 18                      # pruning rounds; levels 0..levels are trained
    iterations: int = 50000               # training iterations per level
    batch_size: int = 60
    optimizer: str = "adam"               # adam | adamw (nanoGPT's decay groups) | sgd
    lr: float = 1.2e-3
    beta2: float = 0.999                  # adam, adamw
    momentum: float = 0.9                 # sgd only
    weight_decay: float = 0.0
    lr_schedule: str = "constant"         # constant | cosine (linear warmup, then decay)
    warmup_iters: int = 0
    min_lr: float = 0.0                   # cosine: the final learning rate
    grad_clip: float = 0.0                # > 0: clip the global gradient norm
    rewind_iteration: int = 0             # 0: reset to θ0 (Frankle & Carbin 2019)
    eval_every: int = 100
    validation: int = 5000
    train_subset: int = 0                 # 0: the whole training split
    seed: int = 0
    control: str = "none"                 # none | reinit | random_pruning
    masks_from: str = ""                  # reinit: the run whose masks are retrained
    checkpoint_every: int = 1000

    def validate(self):
        if self.dataset == "auto":
            self.dataset = tasks.dataset_for(self.model)
        if self.model not in models.MODELS:  # the registry's message lists the choices
            models.get_model(self.model, self.algebra)
        if self.algebra not in models.ALGEBRAS:
            models.get_model(self.model, self.algebra)
        prune._check_choice(self.strategy, prune.STRATEGIES, "pruning strategy")
        prune._check_choice(self.granularity, prune.GRANULARITIES, "pruning granularity")
        prune._check_choice(self.control, CONTROLS, "control")
        prune._check_choice(self.optimizer, OPTIMIZERS, "optimizer")
        prune._check_choice(self.lr_schedule, SCHEDULES, "learning-rate schedule")
        prune._check_choice(self.scope, prune.SCOPES, "pruning scope")
        if self.control == "reinit" and not self.masks_from:
            raise ValueError("control 'reinit' needs masks_from: the run whose masks to train")
        for name in ("levels", "rewind_iteration", "train_subset"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("iterations", "batch_size", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr_schedule == "cosine" and not 0 <= self.warmup_iters <= self.iterations:
            raise ValueError(f"warmup_iters ({self.warmup_iters}) must be within the "
                             f"{self.iterations} iterations of a level")
        if self.rewind_iteration >= self.iterations:
            raise ValueError("rewind_iteration must be smaller than iterations")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    # settings that may change between invocations of one run directory
    RESUMABLE = ("levels", "checkpoint_every")


PRESETS = {
    "frankle": dict(strategy="layerwise", rate=0.2, output_rate=0.1, iterations=50000,
                    batch_size=60, lr=1.2e-3, eval_every=100),
    "iqbal_mishra": dict(strategy="global", fraction=0.2, iterations=50000, batch_size=60,
                         lr=1.2e-3, eval_every=100),
    "quick": dict(strategy="layerwise", rate=0.4, output_rate=0.2, levels=6,
                  iterations=1500, batch_size=60, lr=1.2e-3, eval_every=100),
    # Frankle & Carbin's Conv-n on CIFAR-10: Adam, batch 60, conv / fc / output rates
    "frankle_conv2": dict(model="conv2", strategy="layerwise", conv_rate=0.1, rate=0.2,
                          output_rate=0.1, iterations=20000, batch_size=60, lr=2e-4,
                          eval_every=100),
    "frankle_conv4": dict(model="conv4", strategy="layerwise", conv_rate=0.1, rate=0.2,
                          output_rate=0.1, iterations=25000, batch_size=60, lr=3e-4,
                          eval_every=100),
    "frankle_conv6": dict(model="conv6", strategy="layerwise", conv_rate=0.15, rate=0.2,
                          output_rate=0.1, iterations=30000, batch_size=60, lr=3e-4,
                          eval_every=100),
    # nanoGPT's README CPU configuration of shakespeare_char, pruned as "Transformers at
    # a Fraction": each component matrix of W_Q, W_K, W_V loses half per round
    "gpt_char": dict(model="gpt_char", block_size=64, n_layer=4, n_head=4, n_embd=128,
                     batch_size=12, iterations=2000, optimizer="adamw", lr=1e-3, beta2=0.99,
                     weight_decay=0.1, lr_schedule="cosine", warmup_iters=100, min_lr=1e-4,
                     grad_clip=1.0, eval_every=250, eval_iters=20, scope="qkv",
                     strategy="componentwise", rate=0.5, levels=7),
}


build_model = tasks.build_model
real_prunable_total = tasks.real_prunable_total


# ------------------------------------------------------------------------- the runner
class LotteryRun:
    """One IMP run in `run_dir`; `run()` trains every unfinished level."""

    def __init__(self, config, run_dir, data_dir=None, quiet=False, command=None):
        self.config = config.validate()
        self.dir = Path(run_dir)
        self.data_dir = data_dir
        self.quiet = quiet
        self.command = command
        self._check_or_write_config()

    # ----------------------------------------------------------------- files
    def _path(self, *parts):
        return self.dir.joinpath(*parts)

    def mask_path(self, level):
        return self._path("masks", f"level_{level:02d}.npz")

    def level_path(self, level):
        return self._path("levels", f"level_{level:02d}.json")

    def _check_or_write_config(self):
        path = self._path("config.json")
        current = self.config.to_dict()
        if path.exists():
            # settings added in later versions take their default in older run dirs
            defaults = LotteryConfig().to_dict()
            saved = {**defaults, **io.load_json(path)["config"]}
            diff = {k: (saved.get(k), v) for k, v in current.items()
                    if saved.get(k) != v and k not in LotteryConfig.RESUMABLE}
            if diff:
                raise ValueError(f"{self.dir} holds a run with other settings "
                                 f"{ {k: v[0] for k, v in diff.items()} }; this command has "
                                 f"{ {k: v[1] for k, v in diff.items()} }. Use another "
                                 "--run-dir, or the same settings to resume.")
        io.save_json(path, {"config": current, "command": self.command,
                            "hyperprune": __version__})

    def finished_levels(self):
        return [k for k in range(self.config.levels + 1) if self.level_path(k).exists()]

    # ----------------------------------------------------------------- setup
    def _initial_state(self, model):
        """θ0: made once from the seed and saved, so every level starts from it."""
        cfg = self.config
        path = self._path("init.npz")
        if path.exists():
            return io.load_npz(path)
        backend.manual_seed(cfg.seed + (10_000 if cfg.control == "reinit" else 0))
        fresh = build_model(cfg)
        state = fresh.state_dict()
        io.save_npz(path, dict(state))
        return state

    def _level_mask(self, level, model):
        cfg = self.config
        if cfg.control == "reinit":
            source = Path(cfg.masks_from) / "masks" / f"level_{level:02d}.npz"
            if not source.exists():
                raise FileNotFoundError(f"reinit control: {source} does not exist (has the "
                                        f"run in {cfg.masks_from} finished level {level}?)")
            return prune.Masks.load(source)
        if level == 0:
            return prune.Masks.ones(model, cfg.scope)
        path = self.mask_path(level)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: level {level - 1} did not finish")
        return prune.Masks.load(path)

    # ----------------------------------------------------------------- the loop
    def run(self):
        cfg = self.config
        data = tasks.make_task(cfg, self.data_dir)
        real_total = real_prunable_total(cfg)
        for level in range(cfg.levels + 1):
            if self.level_path(level).exists():
                continue
            summary = self._run_level(level, data, real_total)
            if not self.quiet:
                tqdm.write(_summary_line(summary))
            else:
                print(_summary_line(summary), flush=True)
        self._write_metrics()
        return self.summaries()

    def _run_level(self, level, data, real_total):
        cfg = self.config
        start_time = time.time()
        model = build_model(cfg)
        theta0 = self._initial_state(model)
        masks = self._level_mask(level, model)
        opt = make_optimizer(cfg, model)
        checkpoint = self._load_checkpoint(level, model, opt)
        if checkpoint is None:
            start = self._rewind_state(model, theta0, data, masks)
            iteration, curve, window = start, [], [0.0, 0]
        else:
            iteration, curve, window = checkpoint
        dense = masks.density() == 1.0
        masks_or_none = None if dense else masks
        if not dense:
            masks.apply(model)
        stream = data.batches(cfg.seed, iteration, cfg.batch_size)
        schedule = None
        if cfg.lr_schedule == "cosine":
            schedule = CosineSchedule(opt, cfg.lr, cfg.min_lr, cfg.warmup_iters,
                                      cfg.iterations)
        bar = tqdm(total=cfg.iterations, initial=iteration, disable=self.quiet, leave=False,
                   desc=f"level {level:2d} Pm {masks.density():6.2%}", file=sys.stderr)
        while iteration < cfg.iterations:
            xb, yb = next(stream)
            if schedule is not None:  # a function of the iteration: resumes exactly
                schedule.set(iteration)
            loss = train_step(model, opt, masks_or_none, xb, yb, cfg.grad_clip)
            window[0] += loss.item()
            window[1] += 1
            iteration += 1
            if iteration == cfg.rewind_iteration and level == 0 and cfg.rewind_iteration:
                io.save_npz(self._path("rewind.npz"), dict(model.state_dict()))
            if iteration % cfg.eval_every == 0 or iteration == cfg.iterations:
                point = self._evaluate(model, data, iteration, window)
                curve.append(point)
                window = [0.0, 0]
                bar.set_postfix(loss=f"{point['train_loss']:.3f}",
                                val_acc=f"{point['val_acc']:.4f}", refresh=False)
            if iteration % cfg.checkpoint_every == 0 and iteration < cfg.iterations:
                self._save_checkpoint(level, model, opt, iteration, curve, window)
            bar.update()
        bar.close()
        summary = self._summarize(level, masks, curve, real_total,
                                  time.time() - start_time)
        histogram = prune.surviving_weight_histogram(model, masks)
        # order matters for resumption: the next mask first, then the level's record (the
        # mask after the last level too, so a finished run can be extended with --levels)
        if cfg.control != "reinit":
            method = "random" if cfg.control == "random_pruning" else "magnitude"
            rates = prune.layerwise_rates(model, cfg.rate, cfg.output_rate, cfg.conv_rate,
                                          cfg.scope)
            nxt = prune.prune(model, masks, cfg.strategy, rates, cfg.fraction,
                              cfg.granularity, method, seed=cfg.seed * 1000 + level)
            nxt.save(self.mask_path(level + 1))
        if level == 0 or not self.mask_path(level).exists():
            masks.save(self.mask_path(level))
        io.save_json(self.level_path(level), {"summary": summary, "curve": curve,
                                              "histogram": histogram}, compact=True)
        self._path("checkpoint.npz").unlink(missing_ok=True)
        self._write_metrics()
        return summary

    def _rewind_state(self, model, theta0, data, masks):
        """Load θ0 (or the rewind point) into the model; returns the start iteration."""
        cfg = self.config
        if cfg.rewind_iteration and (self._path("rewind.npz")).exists():
            model.load_state_dict(io.load_npz(self._path("rewind.npz")))
            return cfg.rewind_iteration
        model.load_state_dict(theta0)
        return 0

    def _evaluate(self, model, data, iteration, window):
        val_loss, val_acc = evaluate(model, *data.val, data.eval_batch_size, data.prepare)
        test_loss, test_acc = evaluate(model, *data.test, data.eval_batch_size, data.prepare)
        train_loss = window[0] / window[1] if window[1] else float("nan")
        return dict(iteration=iteration, train_loss=train_loss, val_loss=val_loss,
                    val_acc=val_acc, test_loss=test_loss, test_acc=test_acc)

    def _summarize(self, level, masks, curve, real_total, seconds):
        best = min(curve, key=lambda p: p["val_loss"])
        last = curve[-1]
        report = prune.sparsity_report(masks, real_total)
        summary = dict(level=level, weights_remaining=report["weights_remaining"],
                       pm=report["pm"], pm_of_real=report["pm_of_real"],
                       early_stop_iteration=best["iteration"],
                       early_stop_val_loss=best["val_loss"], early_stop_val_acc=best["val_acc"],
                       early_stop_test_acc=best["test_acc"], final_val_loss=last["val_loss"],
                       final_val_acc=last["val_acc"], final_test_acc=last["test_acc"],
                       final_test_loss=last["test_loss"], seconds=round(seconds, 1))
        if self.config.dataset == "shakespeare_char":  # perplexity = exp(validation loss)
            summary["early_stop_val_perplexity"] = math.exp(best["val_loss"])
            summary["final_val_perplexity"] = math.exp(last["val_loss"])
        return summary

    # ----------------------------------------------------------------- checkpoints
    def _save_checkpoint(self, level, model, opt, iteration, curve, window):
        arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
        opt_state = opt.state_dict()
        for key, value in opt_state["state"].items():
            arrays[f"opt.{key}"] = np.asarray(value)
        arrays["level"] = np.asarray(level)
        arrays["iteration"] = np.asarray(iteration)
        arrays["window"] = np.asarray(window, dtype=np.float64)
        arrays["curve"] = np.asarray(json.dumps(curve))  # a unicode string, not an object
        io.save_npz(self._path("checkpoint.npz"), arrays)

    def _load_checkpoint(self, level, model, opt):
        path = self._path("checkpoint.npz")
        if not path.exists():
            return None
        arrays = io.load_npz(path)
        if int(arrays["level"]) != level:
            return None
        model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
        state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")}
        opt.load_state_dict({"param_groups": [{}], "state": state})
        window = arrays["window"].tolist()
        return int(arrays["iteration"]), json.loads(str(arrays["curve"])), \
            [window[0], int(window[1])]

    # ----------------------------------------------------------------- metrics
    def summaries(self):
        rows = [io.load_json(self.level_path(k))["summary"] for k in self.finished_levels()]
        return [{k: row[k] for k in SUMMARY_FIELDS if k in row} for row in rows]

    def _write_metrics(self):
        summaries = self.summaries()
        if not summaries:
            return
        io.save_text(self._path("metrics.csv"), _csv(summaries))
        curves = []
        for k in self.finished_levels():
            for point in io.load_json(self.level_path(k))["curve"]:
                curves.append({"level": k, **{f: point[f] for f in CURVE_FIELDS}})
        io.save_text(self._path("curves.csv"), _csv(curves))
        io.save_json(self._path("metrics.json"), {"config": self.config.to_dict(),
                                                  "levels": summaries})


SUMMARY_FIELDS = ("level", "weights_remaining", "pm", "pm_of_real", "early_stop_iteration",
                  "early_stop_val_loss", "early_stop_val_acc", "early_stop_test_acc",
                  "final_val_loss", "final_val_acc", "final_test_acc", "final_test_loss",
                  "early_stop_val_perplexity", "final_val_perplexity", "seconds")
CURVE_FIELDS = ("iteration", "train_loss", "val_loss", "val_acc", "test_loss", "test_acc")


def _csv(rows):
    out = _io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _summary_line(s):
    text = "final_val_perplexity" in s              # language models: loss, not accuracy
    metric, key = ("val loss", "val_loss") if text else ("test acc", "test_acc")
    return (f"level {s['level']:2d}  Pm {s['pm']:7.2%}  (of real {s['pm_of_real']:7.2%})  "
            f"early stop {s['early_stop_iteration']:6d}  {metric} there "
            f"{s['early_stop_' + key]:.4f}, at end {s['final_' + key]:.4f}  "
            f"[{s['seconds']:.0f} s]")


def run_lottery(config, run_dir, replicates=1, data_dir=None, quiet=False, command=None):
    """Run `replicates` replicates (seeds seed, seed+1, ...) into run_dir/replicate_R."""
    results = []
    for r in range(replicates):
        cfg = dataclasses.replace(config, seed=config.seed + r)
        sub = Path(run_dir) / f"replicate_{r}" if replicates > 1 else Path(run_dir)
        results.append(LotteryRun(cfg, sub, data_dir, quiet, command).run())
    return results
