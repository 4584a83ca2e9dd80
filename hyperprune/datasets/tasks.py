"""What a run trains on: a dataset's splits, its stream of training batches, and how it is
evaluated.  Each dataset is declared once, in DATASETS.

A task has
    train          (x, y) host arrays of the training split
    val, test      (x, y) arrays for evaluation (the fixed validation split, seed 0)
    batches(seed, start_iteration, batch_size)   the endless, resumable stream of
                   prepared training batches
    prepare(x)     what evaluation applies to a chunk of inputs (a model's input encoding)
    eval_batch_size

MNIST: flattened, standardized images (LeNet).  CIFAR-10/100: standardized NCHW images,
optionally augmented (random 4-pixel-padded crops and horizontal flips, drawn from (seed,
iteration) so a resumed run sees the same batches).  Tiny Shakespeare: character windows
(TextTask).  `prepare` comes from the model (hyperprune.models.encodings): the data stay
RGB and a quaternion first layer's 4-channel encoding is applied per batch.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import backend
from ..checks import check_choice
from . import cifar, mnist, shakespeare
from .batches import eval_batches, iterate_batches, lm_batches
from .location import data_dir as _resolve_data_dir


def _identity(x):
    return x


class MNISTTask:
    eval_batch_size = 5000

    def __init__(self, name, data_dir=None, prepare=None, validation=5000, train_subset=0):
        splits = mnist.mnist_splits(data_dir, validation=validation, seed=0)
        x, y = splits.train
        if train_subset:
            x, y = x[:train_subset], y[:train_subset]
        self.train = (x, y)
        self.val = tuple(backend.asarray(a) for a in splits.val)
        self.test = tuple(backend.asarray(a) for a in splits.test)
        self.prepare = prepare or _identity

    def batches(self, seed, start_iteration, batch_size):
        stream = iterate_batches(*self.train, batch_size, seed=seed,
                                 start_iteration=start_iteration)
        return ((self.prepare(x), y) for x, y in stream)


class CIFARTask:
    eval_batch_size = 250  # im2col of a full-width conv layer: 250 x 1024 x 576 floats

    def __init__(self, name, data_dir=None, prepare=None, validation=5000, train_subset=0,
                 augment=False):
        # cifar.cifar_splits is looked up at call time (tests replace it with synthetic data)
        splits = cifar.cifar_splits(name, data_dir, validation=validation, seed=0,
                                    train_subset=train_subset or None)
        self.train, self.val, self.test = splits.train, splits.val, splits.test
        self.augment = augment
        self.prepare = prepare or _identity

    def batches(self, seed, start_iteration, batch_size):
        stream = iterate_batches(*self.train, batch_size, seed=seed,
                                 start_iteration=start_iteration)
        iteration = start_iteration
        for xb, yb in stream:
            if self.augment:
                xb = cifar.random_crop_flip(xb, np.random.default_rng([seed, iteration]))
            iteration += 1
            yield self.prepare(xb), yb


class TextTask:
    """Character-level language modelling on tiny Shakespeare (nanoGPT's shakespeare_char).

    Training batches: random windows of the first 90% (lm_batches, from (seed,
    iteration)).  Evaluation: a fixed sample of `eval_iters` x batch_size windows of the
    last 10% -- the corpus has no separate test split, so `test` is that same validation
    sample (reported test numbers are validation numbers).  Accuracy: of the next
    character; perplexity: exp(validation loss).
    """

    def __init__(self, name, data_dir=None, prepare=None, block_size=64, batch_size=12,
                 eval_iters=20):
        corpus = shakespeare.load_tiny_shakespeare(data_dir)
        self.vocab = shakespeare.CharVocab(corpus)
        splits = shakespeare.char_splits(corpus, self.vocab)
        self.train = splits.train
        xs, ys = zip(*eval_batches(splits.val, block_size, batch_size, eval_iters, seed=0))
        self.val = (np.concatenate(xs), np.concatenate(ys))   # (N, T) ids, (N, T) targets
        self.test = self.val
        self.block_size = block_size
        self.eval_batch_size = 4 * batch_size
        self.prepare = prepare or _identity

    def batches(self, seed, start_iteration, batch_size):
        return lm_batches(self.train, self.block_size, batch_size, seed,
                          start_iteration=start_iteration)


@dataclass(frozen=True)
class Dataset:
    """A dataset a run can name: its task, the run settings the task reads, its number of
    classes, and how to download it (None: embedded in the repository)."""

    name: str
    task: Callable            # task(name, data_dir, prepare, **settings)
    settings: tuple           # names of the run settings passed to the task
    num_classes: int = 0      # classes of a classification dataset (0: a corpus)
    download: Callable = None  # download(data_dir) -> paths written (needs internet)


def _download_mnist(data_dir=None):
    return mnist.download_mnist(mnist.mnist_dir(data_dir))


def _downloader(name):
    return lambda data_dir=None: [cifar.download_cifar(name, _resolve_data_dir(data_dir))]


DATASETS = {d.name: d for d in [
    Dataset("mnist", MNISTTask, ("validation", "train_subset"), 10, _download_mnist),
    Dataset("cifar10", CIFARTask, ("validation", "train_subset", "augment"), 10,
            _downloader("cifar10")),
    Dataset("cifar100", CIFARTask, ("validation", "train_subset", "augment"), 100,
            _downloader("cifar100")),
    Dataset("shakespeare_char", TextTask, ("block_size", "batch_size", "eval_iters")),
]}


def get_dataset(name):
    return DATASETS[check_choice(name, tuple(DATASETS), "dataset")]


def make_task(name, settings, data_dir=None, prepare=None):
    """The task of dataset `name`, reading its settings from `settings` (any object with
    those attributes, e.g. a LotteryConfig); `prepare` is applied to every batch of inputs."""
    dataset = get_dataset(name)
    return dataset.task(name, data_dir, prepare,
                        **{s: getattr(settings, s) for s in dataset.settings})
