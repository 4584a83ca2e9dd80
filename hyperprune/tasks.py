"""What a lottery run trains on: the data, its per-batch preparation, and the model.

A task turns a LotteryConfig into
    train          (x, y) host arrays of the training split
    val, test      (x, y) arrays for evaluation (fixed validation split, seed 0)
    batches(...)   the endless, resumable stream of prepared training batches
    prepare(x)     what evaluation applies to a chunk of inputs (e.g. the quaternion
                   input encoding)
    eval_batch_size

MNIST: flattened, standardized images (LeNet).  CIFAR-10/100: standardized NCHW images;
optional augmentation (random 4-pixel-padded crops and horizontal flips, drawn from
(seed, iteration) so a resumed run sees the same batches); for a quaternion model whose
first layer is quaternion, RGB is encoded as 4 channels per batch: (R, G, B, gray) as in
Iqbal & Mishra, or (0, R, G, B).
"""
import numpy as np

from . import backend, cifar, datasets, models

ENCODINGS = {"rgb_gray": cifar.encode_rgb_gray, "zero_rgb": cifar.encode_zero_rgb}


def dataset_for(model):
    return "mnist" if model == "lenet_300_100" else "cifar10"


def model_options(config):
    """Keyword options for models.get_model from a LotteryConfig."""
    options = {}
    if config.fully_quaternion:
        options["fully_quaternion"] = True
    if config.model != "lenet_300_100":
        options["width"] = config.width
        options["num_classes"] = 100 if config.dataset == "cifar100" else 10
        if config.first_layer:
            options["first_layer"] = config.first_layer
    return options


def build_model(config):
    return models.get_model(config.model, config.algebra, **model_options(config))


def real_prunable_total(config):
    """The real model's number of prunable weights: the papers' 100% on the x-axis."""
    from . import prune
    options = {k: v for k, v in model_options(config).items()
               if k not in ("fully_quaternion", "first_layer")}
    with backend.use_backend("numpy"):
        real = models.get_model(config.model, "real", **options)
    return sum(m.weight.size for m in prune.prunable_layers(real).values())


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
        quaternion_input = config.algebra == "quaternion" and \
            (config.first_layer or "quaternion") == "quaternion"
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


def make_task(config, data_dir=None):
    if config.dataset == "mnist":
        if config.model != "lenet_300_100":
            raise ValueError(f"model {config.model} needs CIFAR images, not MNIST")
        return MNISTTask(config, data_dir)
    if config.dataset in ("cifar10", "cifar100"):
        if config.model == "lenet_300_100":
            raise ValueError("lenet_300_100 is an MNIST model; use conv2/conv4/conv6 on CIFAR")
        return CIFARTask(config, data_dir)
    raise ValueError(f"unknown dataset {config.dataset!r}: expected one of mnist, cifar10, "
                     "cifar100")
