"""The settings of a run: plain dataclasses, their fields grouped by concern, and presets.

    model     which network: family, algebra, sizes                 (ModelSettings)
    data      what it reads: dataset, input encoding, augmentation, splits   (ModelSettings)
    training  how each level trains: iterations, batch, optimizer, schedule, evaluation
    pruning   how each round prunes: scope, strategy, rates, granularity, rounds, rewinding
    supermask which random weights, which fraction of them is kept, how masks are scored
    run       the seed and the controls

LotteryConfig (an IMP run: hyperprune.lottery) and SupermaskConfig (a strong-ticket run:
hyperprune.supermask) share the model and data sections through ModelSettings.

Each field is declared once, with its default, its help text and (where it has one) its
list of choices; the command line is generated from these declarations (`add_arguments`,
`from_arguments`), so an option cannot drift from the setting it sets.  On disk the
settings are the flat JSON object of `to_dict()` (config.json of a run directory); run
directories written by older versions, which lack later settings, read with their
defaults.  Defaults: Frankle & Carbin's LeNet-300-100.
"""
import dataclasses
from dataclasses import dataclass, field

from . import models, prune
from .checks import check_choice
from .datasets import DATASETS
from .models.encodings import ENCODINGS
from .nn.supermask import GRANULARITIES as SUPERMASK_GRANULARITIES, INITS as SUPERMASK_INITS

SECTIONS = ("model", "data", "training", "pruning", "supermask", "run")
CONTROLS = ("none", "reinit", "random_pruning")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")


def setting(section, default, help, choices=None, what=None):
    """A field of a run's settings: its section, default, help and choices; `what` names the
    setting in error messages (default: its name)."""
    return field(default=default, metadata=dict(section=section, help=help, choices=choices,
                                                what=what))


class Settings:
    """What every runner's settings dataclass shares: checks, and the flat dict of
    config.json."""

    def check_choices(self):
        """ValueError naming the setting when one is not among its declared choices."""
        for f in dataclasses.fields(self):
            if f.metadata["choices"] is not None:
                check_choice(getattr(self, f.name), f.metadata["choices"],
                             f.metadata["what"] or f.name)

    def check_counts(self, non_negative, positive):
        """ValueError unless each named setting is >= 0 (non_negative) or >= 1 (positive)."""
        for names, least in ((non_negative, 0), (positive, 1)):
            for name in names:
                if getattr(self, name) < least:
                    raise ValueError(f"{name} must be >= {least}, got {getattr(self, name)}")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Settings from a flat dict (config.json); settings added later keep defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown settings {unknown}")
        return cls(**values)


@dataclass
class ModelSettings(Settings):
    """The model and data sections, which every runner's settings share."""

    # ------------------------------------------------------------------------- model
    model: str = setting("model", "lenet_300_100", "the network",
                         choices=tuple(sorted(models.FAMILIES)))
    algebra: str = setting("model", "real", "the algebra of its layers",
                           choices=models.ALGEBRAS)
    fully_quaternion: bool = setting("model", False,
                                     "quaternion output layer with dummy classes")
    width: float = setting("model", 1.0, "Conv-n: channel and unit multiplier")
    first_layer: str = setting("model", "", "Conv-n hypercomplex: the first convolution "
                               "(default hypercomplex on 4 encoded input channels when they "
                               "hold whole numbers, else real)",
                               choices=("", "real", "hypercomplex", "quaternion"))
    block_size: int = setting("model", 64, "gpt_char: context length")
    n_layer: int = setting("model", 4, "transformers: depth")
    n_head: int = setting("model", 4, "transformers: heads")
    n_embd: int = setting("model", 128, "transformers: width")
    mlp_dim: int = setting("model", 512, "vit: MLP width (gpt_char uses 4 x n_embd)")
    dropout: float = setting("model", 0.0, "transformers: dropout probability")
    quaternion_mlp: bool = setting("model", False, "quaternion transformers: QLinear MLP too")
    fused_qkv: bool = setting("model", False,
                              "quaternion transformers: qytorch's fused QKV layout")
    phm_n: int = setting("model", 4, "algebra phm: n, the number of learned rules (real "
                         "components per number)")
    # -------------------------------------------------------------------------- data
    dataset: str = setting("data", "auto", "default (auto): the model's own dataset",
                           choices=("auto",) + tuple(DATASETS))
    encoding: str = setting("data", "rgb_gray", "quaternion input: (R,G,B,gray) or "
                            "(0,R,G,B)", choices=tuple(ENCODINGS), what="input encoding")
    augment: bool = setting("data", False, "CIFAR: random crops (4-pixel padding) and "
                            "horizontal flips")
    validation: int = setting("data", 5000, "images held out of training for validation "
                              "(at least 1: the early stop needs them)")
    train_subset: int = setting("data", 0, "train on the first N images (0: all)")
    eval_iters: int = setting("data", 20, "text: validation batches per evaluation")

    def validate_model(self):
        """Check every setting's choices and the model and data sections (without building
        anything); `dataset` auto becomes the model's own.  Returns the model's Family."""
        family = models.get_family(self.model)     # its message lists the models
        if self.dataset == "auto":
            self.dataset = family.datasets[0]
        self.check_choices()
        family.check(self.algebra, self.dataset)
        defaults = type(self)()
        ignored = [f.name for f in dataclasses.fields(self)
                   if f.metadata["section"] == "model" and f.name not in ("model", "algebra")
                   and f.name not in family.settings.values()
                   and getattr(self, f.name) != getattr(defaults, f.name)]
        if ignored:
            raise ValueError(f"{self.model} has no setting {', '.join(ignored)} (its "
                             f"settings: {', '.join(sorted(family.settings.values())) or 'none'})")
        if self.validation < 1:
            raise ValueError(f"validation must be >= 1 (early stopping needs a validation "
                             f"split), got {self.validation}")
        return family


@dataclass
class TrainingSettings(ModelSettings):
    """The model, data and training sections, which IMP and supermask runs share (the
    defaults are the IMP runner's; a runner may declare other defaults)."""

    # ---------------------------------------------------------------------- training
    iterations: int = setting("training", 50000, "training iterations per level")
    batch_size: int = setting("training", 60, "examples (sequences) per batch")
    optimizer: str = setting("training", "adam", "adamw: nanoGPT's decay groups",
                             choices=OPTIMIZERS)
    lr: float = setting("training", 1.2e-3, "learning rate")
    beta2: float = setting("training", 0.999, "adam, adamw: second-moment decay")
    momentum: float = setting("training", 0.9, "sgd: momentum")
    weight_decay: float = setting("training", 0.0, "weight decay")
    lr_schedule: str = setting("training", "constant", "cosine: linear warmup, then decay",
                               choices=SCHEDULES, what="learning-rate schedule")
    warmup_iters: int = setting("training", 0, "cosine: warmup iterations")
    min_lr: float = setting("training", 0.0, "cosine: the final learning rate")
    grad_clip: float = setting("training", 0.0, "> 0: clip the global gradient norm")
    eval_every: int = setting("training", 100, "evaluate every N iterations")
    patience: int = setting("training", 0, "end a level once the validation loss has not "
                            "improved for this many iterations (0: train every iteration)")
    test_when_improved: bool = setting("training", False, "evaluate the test set only when "
                                       "the validation loss improves (and at the level's "
                                       "end): the numbers reported, at the early stop and "
                                       "at the end, are the same at less cost")
    checkpoint_every: int = setting("training", 1000, "save a mid-level checkpoint every N "
                                    "iterations")


@dataclass
class LotteryConfig(TrainingSettings):
    """Every setting of one IMP run (one replicate); see the module docstring."""

    # ----------------------------------------------------------------------- pruning
    scope: str = setting("pruning", "all", "which layers are pruned: all, or only "
                         "attention q/k/v", choices=prune.SCOPES, what="pruning scope")
    strategy: str = setting("pruning", "layerwise", "layerwise, global, or componentwise "
                            "(each quaternion component ranked on its own)",
                            choices=prune.STRATEGIES, what="pruning strategy")
    rate: float = setting("pruning", 0.2, "layerwise and componentwise: rate per round of "
                          "the fully connected layers")
    output_rate: float = setting("pruning", 0.1, "layerwise: rate of the output layer")
    conv_rate: float = setting("pruning", 0.1, "layerwise: rate of the convolutions")
    fraction: float = setting("pruning", 0.2, "global: fraction of all remaining weights "
                              "per round")
    granularity: str = setting("pruning", "component", "element: whole hypercomplex numbers "
                               "ranked by their RMS component (|q|/2 for quaternions); "
                               "quaternion: the same (its older name)",
                               choices=prune.GRANULARITIES, what="pruning granularity")
    levels: int = setting("pruning", 18, "pruning rounds; levels 0..levels are trained")
    rewind_iteration: int = setting("pruning", 0, "0: reset to θ0 (Frankle & Carbin 2019); "
                                    "K: rewind to the weights at iteration K")
    # --------------------------------------------------------------------------- run
    seed: int = setting("run", 0, "seeds the initialization, the batches and the pruning")
    control: str = setting("run", "none", "reinit: the masks of --masks-from, trained from "
                           "a new initialization; random_pruning: the same counts at "
                           "random", choices=CONTROLS)
    masks_from: str = setting("run", "", "reinit: the run whose masks are retrained; "
                              "random_pruning: the ticket whose per-layer counts are kept")

    # settings that may change between invocations of one run directory
    RESUMABLE = ("levels", "checkpoint_every")

    def validate(self):
        """Check every setting (without building anything); `dataset` auto becomes the
        model's own.  Returns self."""
        self.validate_model()
        if self.control == "reinit" and not self.masks_from:
            raise ValueError("control 'reinit' needs masks_from: the run whose masks to train")
        if self.control == "random_pruning" and self.strategy == "global" and \
                not self.masks_from:
            raise ValueError("control 'random_pruning' under the global strategy needs "
                             "masks_from: the ticket whose per-layer counts it keeps (a "
                             "global ranking of the control's own weights would not)")
        self.check_counts(("levels", "rewind_iteration", "train_subset", "patience"),
                          ("iterations", "batch_size", "eval_every", "checkpoint_every"))
        if self.lr_schedule == "cosine" and not 0 <= self.warmup_iters <= self.iterations:
            raise ValueError(f"warmup_iters ({self.warmup_iters}) must be within the "
                             f"{self.iterations} iterations of a level")
        if self.rewind_iteration >= self.iterations:
            raise ValueError("rewind_iteration must be smaller than iterations")
        return self


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

PRESET_HELP = ("a protocol's settings (explicit options override them): frankle = "
               "layer-wise 20%%/output 10%%, 50K iterations, Adam 1.2e-3, batch 60; "
               "iqbal_mishra = global 20%%; quick = the main job's few-minute run; "
               "frankle_conv2/4/6 = Conv-n on CIFAR-10; gpt_char = nanoGPT's CPU "
               "shakespeare_char, QKV pruned 50%% per round")


@dataclass
class SupermaskConfig(TrainingSettings):
    """Every setting of one strong-ticket run (hyperprune.supermask): the weights stay as
    drawn at random, a score per weight is trained, and the forward uses the top `keep`
    of each layer.  Defaults: hidden-networks' small-scale protocol (SGD, momentum 0.9,
    lr 0.1 with cosine decay to 0, weight decay 1e-4 on the scores, batch 128, 100
    epochs) on LeNet-300-100: 43,000 iterations are 100 epochs of MNIST's 55,000 images."""

    # ------------------------------------- training: hidden-networks' defaults (the
    # other training settings are TrainingSettings')
    iterations: int = setting("training", 43000, "training iterations (430 are an epoch "
                              "of MNIST's 55,000 training images at batch 128)")
    batch_size: int = setting("training", 128, "examples per batch")
    optimizer: str = setting("training", "sgd", "the scores' optimizer",
                             choices=("sgd", "adam"))
    lr: float = setting("training", 0.1, "learning rate")
    weight_decay: float = setting("training", 1e-4, "weight decay of the scores")
    lr_schedule: str = setting("training", "cosine", "cosine: linear warmup, then decay",
                               choices=SCHEDULES, what="learning-rate schedule")
    eval_every: int = setting("training", 430, "evaluate every N iterations")
    # --------------------------------------------------------------------- supermask
    keep: float = setting("supermask", 0.5, "the fraction of each layer's weights KEPT: "
                          "the forward uses round(keep x n) of a layer's n weights, those "
                          "of the largest |score| (hidden-networks' --prune-rate in its "
                          "mask code)")
    init: str = setting("supermask", "signed_constant", "the random weights: kaiming_normal "
                        "N(0, 2/fan_in); signed_constant ±sqrt(2/fan_in); kbit the nonzero "
                        "codes of a --weight-bits grid, uniformly, variance 2/fan_in "
                        "(fan_in in real units; hypercomplex layers: per component)",
                        choices=SUPERMASK_INITS, what="supermask init")
    weight_bits: int = setting("supermask", 4, "kbit: the bits of the weights' grid (2-8)")
    granularity: str = setting("supermask", "component", "element: one score per "
                               "hypercomplex weight, its n components kept or dropped "
                               "together (real layers: per entry)",
                               choices=SUPERMASK_GRANULARITIES, what="supermask granularity")
    binary: bool = setting("supermask", False, "Multi-Prize (biprop): the forward uses "
                           "alpha sign(W) x mask, alpha the mean |W| of a layer's kept weights")
    scale_fan: bool = setting("supermask", False, "draw the weights with fan_in x keep (the "
                              "fan of the kept weights) instead of fan_in")
    # --------------------------------------------------------------------------- run
    seed: int = setting("run", 0, "seeds the random weights, the scores and the batches")

    # settings that may change between invocations of one run directory
    RESUMABLE = ("checkpoint_every",)
    # what the runner machinery shared with IMP (hyperprune.lottery) reads: a supermask
    # run is one level (0), never rewound, with every prunable layer scored
    levels, rewind_iteration, control, scope = 0, 0, "none", "all"

    def validate(self):
        """Check every setting (without building anything).  Returns self."""
        self.validate_model()
        if self.algebra == "phm":
            raise ValueError("supermask: algebra phm learns its rules, which a supermask "
                             "run keeps random; use real, complex, quaternion or octonion")
        if not 0 < self.keep <= 1:
            raise ValueError(f"keep must be in (0, 1] (the fraction of each layer's weights "
                             f"kept), got {self.keep}")
        if self.init == "kbit" and not 2 <= self.weight_bits <= 8:
            raise ValueError(f"weight_bits must be 2 to 8, got {self.weight_bits}")
        self.check_counts(("train_subset", "patience", "warmup_iters"),
                          ("iterations", "batch_size", "eval_every", "checkpoint_every"))
        if self.lr_schedule == "cosine" and self.warmup_iters > self.iterations:
            raise ValueError(f"warmup_iters ({self.warmup_iters}) must be within the "
                             f"{self.iterations} iterations")
        return self


def add_arguments(parser, cls=LotteryConfig, presets=PRESETS, preset_help=PRESET_HELP):
    """One option per setting of `cls` (--batch-size for batch_size), in a group per
    section, and --preset (when there are presets).  Options not given are None, so
    presets and defaults fill them in."""
    if presets:
        parser.add_argument("--preset", choices=sorted(presets), help=preset_help)
    defaults = cls()
    fields = dataclasses.fields(cls)
    groups = {s: parser.add_argument_group(f"{s} settings") for s in SECTIONS
              if any(f.metadata["section"] == s for f in fields)}
    for f in fields:
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        text = meta["help"].replace("%", "%%")
        if meta["section"] not in groups:
            groups[meta["section"]] = parser.add_argument_group(f"{meta['section']} settings")
        group = groups[meta["section"]]
        if f.type in (bool, "bool"):
            group.add_argument(flag, action="store_true", default=None, help=text)
            continue
        kind = {"int": int, "float": float, "str": str}.get(str(f.type), f.type)
        text += f" (default {getattr(defaults, f.name)!r})"
        choices = meta["choices"] and [c for c in meta["choices"] if c != ""]  # "": unset
        group.add_argument(flag, type=kind, choices=choices, help=text)


def from_arguments(args, cls=LotteryConfig, presets=PRESETS):
    """The settings (`cls`) of parsed arguments: the preset, then every option given."""
    values = dict(presets[args.preset]) if getattr(args, "preset", None) else {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = value
    return cls(**values)
