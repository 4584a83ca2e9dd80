"""The data of every run, one module per dataset, on host NumPy arrays (no autograd).

    location      where datasets live: --data-dir > $HYPERPRUNE_DATA > the repository's data/
    download      downloads verified before use; safe tar extraction
    splits        one Splits dataclass and one validation hold-out (split_indices)
    batches       resumable batch streams: examples (iterate_batches), character windows
                  (lm_batches) and fixed evaluation samples (eval_batches)
    mnist         IDX files, MNIST (embedded under data/mnist, SHA-256 verified)
    cifar         CIFAR-10/100 binary (never pickle), normalization, augmentation
    shakespeare   tiny Shakespeare (embedded), the character vocabulary, its splits
    tasks         what a run trains on: splits + batch stream + evaluation chunking

Everything a file gives is verified before it is parsed (checksums, sizes, record
counts), and every error names the file.
"""
from .batches import (EVAL_STREAM, BatchIterator, LMBatchIterator, batches, eval_batches,
                      iterate_batches, lm_batch, lm_batches)
from .location import DATA_ENV_VAR, DEFAULT_DATA_DIR, data_dir, describe_data_dir
from .mnist import (IDX_DTYPES, MNIST_FILES, MNIST_MEAN, MNIST_MIRRORS, MNIST_SHA256,
                    MNIST_STD, download_mnist, load_mnist, mnist_dir, mnist_splits, read_idx)
from .splits import Splits, split_indices
from .tasks import DATASETS, Dataset, get_dataset, make_task
from .shakespeare import (TINY_SHAKESPEARE_FILE, TINY_SHAKESPEARE_SHA256, CharSplits,
                          CharVocab, char_splits, load_tiny_shakespeare)
