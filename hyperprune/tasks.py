"""What a lottery run trains on: the data, its per-batch preparation, and the model.

A task turns a LotteryConfig into
    train          (x, y) host arrays of the training split
    val, test      (x, y) arrays for evaluation (fixed validation split, seed 0)
    batches(...)   the endless, resumable stream of prepared training batches
    prepare(x)     what evaluation applies to a chunk of inputs (e.g. the quaternion
                   input encoding)
    eval_batch_size

MNIST: flattened, standardized images (LeNet).  Tiny Shakespeare: character windows for
gpt_char (TextTask).  CIFAR-10/100: standardized NCHW images;
optional augmentation (random 4-pixel-padded crops and horizontal flips, drawn from
(seed, iteration) so a resumed run sees the same batches); for a quaternion model whose
first layer is quaternion, RGB is encoded as 4 channels per batch: (R, G, B, gray) as in
Iqbal & Mishra, or (0, R, G, B).
"""
import numpy as np

from . import backend, cifar, datasets, models, text

ENCODINGS = {"rgb_gray": cifar.encode_rgb_gray, "zero_rgb": cifar.encode_zero_rgb}


def dataset_for(model):
    return {"lenet_300_100": "mnist", "gpt_char": "shakespeare_char"}.get(model, "cifar10")


def model_options(config):
    """Keyword options for models.get_model from a LotteryConfig."""
    options = {}
    if config.fully_quaternion:
        options["fully_quaternion"] = True
    quaternion_only = {}
    if config.algebra == "quaternion":
        quaternion_only = dict(quaternion_mlp=config.quaternion_mlp, fused_qkv=config.fused_qkv)
    if config.model in ("conv2", "conv4", "conv6"):
        options["width"] = config.width
        options["num_classes"] = 100 if config.dataset == "cifar100" else 10
        if config.first_layer:
            options["first_layer"] = config.first_layer
    elif config.model == "gpt_char":
        options.update(block_size=config.block_size, n_layer=config.n_layer,
                       n_head=config.n_head, n_embd=config.n_embd, dropout=config.dropout,
                       **quaternion_only)
    elif config.model == "vit":
        options.update(num_classes=100 if config.dataset == "cifar100" else 10,
                       dim=config.n_embd, depth=config.n_layer, heads=config.n_head,
                       mlp_dim=config.mlp_dim, dropout=config.dropout, **quaternion_only)
    return options


def build_model(config):
    return models.get_model(config.model, config.algebra, **model_options(config))


def real_prunable_total(config):
    """The real model's number of prunable weights in the run's scope (all layers, or the
    attention Q/K/V projections): the papers' 100% on the x-axis."""
    from . import prune
    options = {k: v for k, v in model_options(config).items()
               if k not in ("fully_quaternion", "first_layer", "quaternion_mlp", "fused_qkv")}
    with backend.use_backend("numpy"):
        real = models.get_model(config.model, "real", **options)
    return sum(m.weight.size for m in prune.prunable_layers(real, config.scope).values())


class MNISTTask:
    eval_batch_size = 5000

    def __init__(self, config, data_dir=None):
        # the validation split is fixed (seed 0) for every run and replicate, as in the
        # papers: replicates differ in initialization and batch order, not in their data
        splits = datasets.mnist_splits(data_dir, validation=config.validation, seed=0)
        x, y = splits.train
        if config.train_subset:
            x, y = x[:config.train_subset], y[:config.train_subset]
        self.train = (x, y)
        self.val = tuple(backend.asarray(a) for a in splits.val)
        self.test = tuple(backend.asarray(a) for a in splits.test)
        self.description = "MNIST"

    def batches(self, seed, start_iteration, batch_size):
        return datasets.iterate_batches(*self.train, batch_size, seed=seed,
                                        start_iteration=start_iteration)

    def prepare(self, x):
        return x


class CIFARTask:
    eval_batch_size = 250  # im2col of a full-width conv layer: 250 x 1024 x 576 floats

    def __init__(self, config, data_dir=None):
        splits = cifar.cifar_splits(config.dataset, data_dir, validation=config.validation,
                                    seed=0, train_subset=config.train_subset or None)
        self.train, self.val, self.test = splits.train, splits.val, splits.test
        self.description = splits.description   # e.g. "CIFAR-10 (JPEG copy)"
        self.augment = config.augment
        quaternion_input = config.algebra == "quaternion" and config.model != "vit" and \
            (config.first_layer or "quaternion") == "quaternion"  # a ViT embeds RGB patches
        if config.encoding not in ENCODINGS:
            raise ValueError(f"unknown input encoding {config.encoding!r}: expected one of "
                             f"{', '.join(ENCODINGS)}")
        self.encode = ENCODINGS[config.encoding] if quaternion_input else None

    def prepare(self, x):
        return self.encode(x) if self.encode is not None else x

    def batches(self, seed, start_iteration, batch_size):
        stream = datasets.iterate_batches(*self.train, batch_size, seed=seed,
                                          start_iteration=start_iteration)
        iteration = start_iteration
        for xb, yb in stream:
            if self.augment:
                xb = cifar.random_crop_flip(xb, np.random.default_rng([seed, iteration]))
            iteration += 1
            yield self.prepare(xb), yb


class TextTask:
    """Character-level language modelling on tiny Shakespeare (nanoGPT's shakespeare_char).

    Training batches: random windows of the first 90% (text.lm_batches, from (seed,
    iteration)).  Evaluation: a fixed sample of `eval_iters` x batch_size windows of the
    last 10% -- the corpus has no separate test split, so `test` is that same validation
    sample (reported test numbers are validation numbers).  Accuracy: of the next
    character; perplexity: exp(validation loss).
    """

    def __init__(self, config, data_dir=None):
        corpus = text.load_tiny_shakespeare(data_dir)
        self.vocab = text.CharVocab(corpus)
        splits = text.char_splits(corpus, self.vocab)
        self.train = splits.train
        xs, ys = zip(*text.eval_batches(splits.val, config.block_size, config.batch_size,
                                        config.eval_iters, seed=0))
        self.val = (np.concatenate(xs), np.concatenate(ys))   # (N, T) ids, (N, T) targets
        self.test = self.val
        self.block_size = config.block_size
        self.eval_batch_size = 4 * config.batch_size
        self.description = "tiny Shakespeare (characters)"

    def batches(self, seed, start_iteration, batch_size):
        return text.lm_batches(self.train, self.block_size, batch_size, seed,
                               start_iteration=start_iteration)

    def prepare(self, x):
        return x


def make_task(config, data_dir=None):
    if config.dataset == "shakespeare_char":
        if config.model != "gpt_char":
            raise ValueError(f"model {config.model} does not read text; use gpt_char")
        return TextTask(config, data_dir)
    if config.model == "gpt_char":
        raise ValueError("gpt_char is a character language model: use the dataset "
                         "shakespeare_char")
    if config.dataset == "mnist":
        if config.model != "lenet_300_100":
            raise ValueError(f"model {config.model} needs CIFAR images, not MNIST")
        return MNISTTask(config, data_dir)
    if config.dataset in ("cifar10", "cifar100"):
        if config.model == "lenet_300_100":
            raise ValueError("lenet_300_100 is an MNIST model; use conv2/conv4/conv6 on CIFAR")
        return CIFARTask(config, data_dir)
    raise ValueError(f"unknown dataset {config.dataset!r}: expected one of mnist, cifar10, "
                     "cifar100, shakespeare_char")
