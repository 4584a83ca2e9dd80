"""The supermask runner: strong lottery tickets, found without training a single weight.

One run trains the scores of a random network (hyperprune.nn.supermask: weights frozen at
their random draw, the forward using the top `keep` of each layer's |scores|) with the
loop of the IMP runner (hyperprune.lottery: the same batches, schedule, evaluation,
checkpoints, divergence checks and bitwise resumption), as its one level 0:

    1. draw the random weights and the scores from the seed (θ0; rebuilt and checked
       against init.npz whenever the run resumes)
    2. train the scores for `iterations` steps (SGD on the scores only), evaluating every
       `eval_every`: validation, and test at every evaluation
    3. save the mask the forward ends with (masks/level_00.npz), the record
       (levels/level_00.json) and the metrics (metrics.csv, metrics.json, curves.csv)

A finished run's mask is verified when read (shapes, and exactly round(keep x n) kept per
layer), and `ticket(run_dir)` rebuilds the pruned random network from the seed and that
mask alone -- what the run's final test accuracy was measured on.  The settings:
hyperprune.config.SupermaskConfig.
"""
import time

from tqdm import tqdm

from . import backend, io, optim, prune
from .config import SupermaskConfig
from .lottery import LotteryRun, build_model
from .nn.supermask import attach_supermask, scores, supermask_masks
from .rundir import RunDir


class SupermaskRun(LotteryRun):
    """One supermask run in `run_dir`; `run()` trains it unless it is finished."""

    def __init__(self, config, run_dir, data_dir=None, quiet=False, command=None,
                 restart=False):
        if not isinstance(config, SupermaskConfig):
            raise TypeError(f"SupermaskRun takes a SupermaskConfig, got "
                            f"{type(config).__name__}")
        super().__init__(config, run_dir, data_dir, quiet, command, restart)

    # ------------------------------------------------------------ what differs from IMP
    def build_model(self):
        """The model with its prunable layers supermasked: weights and scores drawn from
        the library's generator (seeded by the caller)."""
        return attach_model(self.config, build_model(self.config))

    def make_optimizer(self, model):
        """The scores' optimizer: the weights are frozen and never seen by it."""
        cfg = self.config
        if cfg.optimizer == "adam":
            return optim.Adam(scores(model), lr=cfg.lr, betas=(0.9, cfg.beta2),
                              weight_decay=cfg.weight_decay)
        return optim.SGD(scores(model), lr=cfg.lr, momentum=cfg.momentum,
                         weight_decay=cfg.weight_decay)

    def progress_label(self, level, masks):
        return f"supermask keep {self.config.keep:.0%}"

    def run(self):
        """Train the run unless it is finished; returns its summary."""
        cfg = self.config
        task, real_total, theta0 = self._begin()
        if self.dir.level_path(0).exists():
            verified_mask(self.dir, self.build_model(), cfg)
        else:
            line = summary_line(self._run_level(0, task, real_total, theta0))
            tqdm.write(line) if not self.quiet else print(line, flush=True)
        self._write_metrics()
        return self.dir.read_level(0)["summary"]

    def _run_level(self, level, task, real_total, theta0):
        model, ones, opt, (iteration, curve, window, spent) = \
            self._start_level(level, theta0)
        started = time.time() - spent          # seconds accumulate over resumed segments
        curve = self._train(level, model, ones, opt, task, iteration, curve, window, started)
        masks = supermask_masks(model)         # the mask the forward ends with
        summary = self._summarize(level, masks, curve, real_total, time.time() - started)
        summary["keep"] = self.config.keep
        self._finish_level(level, model, masks, summary, curve)
        return summary

    def _finish_level(self, level, model, masks, summary, curve):
        """Persist the run: the mask first, then the record (whose existence marks the run
        done); the final state (weights and scores) in weights/, not committed."""
        histogram = prune.surviving_weight_histogram(model, masks)   # the kept weights
        masks.save(self.dir.mask_path(level))
        io.save_npz(self.dir.weights_path(level), dict(model.state_dict()))
        self.dir.write_level(level, summary, curve, histogram)
        self.dir.checkpoint_path.unlink(missing_ok=True)
        self._write_metrics()


def attach_model(cfg, model):
    """attach_supermask with a SupermaskConfig's settings."""
    return attach_supermask(model, cfg.keep, cfg.init, cfg.granularity, cfg.weight_bits,
                            cfg.binary, cfg.scale_fan)


def summary_line(s):
    return (f"supermask keep {s['keep']:.0%}  ({s['weights_remaining']:,} weights, "
            f"{s['pm_of_real']:7.2%} of real)  test acc at the early stop "
            f"({s['early_stop_iteration']}) {s['early_stop_test_acc']:.4f}, at the end "
            f"{s['final_test_acc']:.4f}  [{s['seconds']:.0f} s]")


def read_config(run_dir):
    """The SupermaskConfig of a supermask run directory (ValueError for another kind)."""
    rundir = RunDir(run_dir)
    saved = rundir.read_config()
    if "keep" not in saved:
        raise ValueError(f"{rundir.path} is not a supermask run (its config.json has no "
                         "setting keep)")
    return SupermaskConfig.from_dict(saved).validate()


def verified_mask(rundir, model, cfg):
    """The run's saved mask, checked against the supermasked `model`: its layers and
    shapes, and exactly the number of weights the forward keeps in every layer -- a
    changed file is refused, naming it."""
    path = rundir.mask_path(0)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the run {rundir.path} did not finish")
    masks = prune.Masks.load(path)
    masks.verify(model, "all", path)
    for name, expected in supermask_masks(model).remaining().items():
        kept = int(masks[name].sum())
        if kept != expected:
            raise ValueError(f"{path}: layer {name} keeps {kept} weights, but keep "
                             f"{cfg.keep} keeps {expected}: a changed file")
        if cfg.granularity == "element" and prune.components(
                prune.prunable_layers(model)[name]) > 1 and \
                not (masks[name] == masks[name][:1]).all():
            raise ValueError(f"{path}: layer {name}'s mask is not one of whole elements")
    return masks


def ticket(run_dir):
    """The strong ticket of a finished run: its random network rebuilt from the seed,
    computing with the saved mask (the scores set to the mask, so the top-k is exactly
    it).  Returns (model, masks, config)."""
    rundir = RunDir(run_dir)
    cfg = read_config(run_dir)
    backend.manual_seed(cfg.seed)
    model = attach_model(cfg, build_model(cfg))
    masks = verified_mask(rundir, model, cfg)
    for name, layer in prune.prunable_layers(model).items():
        m = masks[name] if layer.scores.shape == layer.weight.shape else masks[name][0]
        layer.scores.data[...] = backend.asarray(m.astype(layer.scores.dtype))
    return model, masks, cfg


def run_supermask(config, run_dir, data_dir=None, quiet=False, command=None,
                  restart=False):
    """Train (or resume, or read) one supermask run; returns its summary."""
    return SupermaskRun(config, run_dir, data_dir, quiet, command, restart).run()
