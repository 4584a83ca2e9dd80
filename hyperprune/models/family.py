"""What the rest of the library needs to know about a model family, declared in one place.

Each model file ends with a `FAMILY = Family(...)`: how to build it, which datasets it
reads, which run settings it takes and under what names, how its quality is measured and
whether its input is encoded first.  The runner, the data, the plots and the command line
ask the family; nothing outside models/ branches on a model's name.
"""
import math
from dataclasses import dataclass, field
from typing import Callable

from .. import nn
from ..checks import check_choice, is_int

#: The algebras of the model families: real, the hypercomplex algebras of
#: hyperprune.algebra (a fixed multiplication table), and phm (PHM layers whose n x n x n
#: rules are learned: the network learns its own algebra; n is the setting phm_n).
ALGEBRAS = ("real", "complex", "quaternion", "octonion", "phm")

#: How a family's quality is reported: test accuracy of a classifier, or validation
#: perplexity exp(loss) of a language model.
METRICS = ("accuracy", "perplexity")


def check_algebra(algebra, where, algebras=ALGEBRAS):
    """ValueError "{where}: unknown algebra 'x': expected one of real, complex, ..."."""
    return check_choice(algebra, algebras, "algebra", where)


@dataclass(frozen=True)
class Layers:
    """The layers a model family builds in one algebra, so that a model file is written
    once for all of them: `linear(in, out)` and `conv(in, out, k, padding)` in real units,
    `n` real components per number (1 for real layers), `round(size)` a width rounded up
    to whole numbers, and `name` for messages."""

    algebra: str
    n: int

    @property
    def name(self):
        return f"phm (n={self.n})" if self.algebra == "phm" else self.algebra

    def round(self, size, multiple=1):
        """size rounded up to a multiple of lcm(n, multiple): LeNet's 300 hidden units
        are 304 octonion units (38 octonions)."""
        m = self.n * multiple // math.gcd(self.n, multiple)
        return -(-size // m) * m

    def linear(self, in_features, out_features, bias=True):
        if self.algebra == "real":
            return nn.Linear(in_features, out_features, bias=bias)
        if self.algebra == "quaternion":
            return nn.QLinear(in_features, out_features, bias=bias)
        if self.algebra == "phm":
            return nn.PHMLinear(in_features, out_features, self.n, bias=bias)
        return nn.HypercomplexLinear(in_features, out_features, bias, algebra=self.algebra)

    def conv(self, in_channels, out_channels, kernel_size, padding=0):
        if self.algebra == "real":
            return nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)
        if self.algebra == "quaternion":
            return nn.QConv2d(in_channels, out_channels, kernel_size, padding=padding)
        if self.algebra == "phm":
            return nn.PHMConv2d(in_channels, out_channels, kernel_size, self.n,
                                padding=padding)
        return nn.HypercomplexConv2d(in_channels, out_channels, kernel_size,
                                     padding=padding, algebra=self.algebra)

    def attention(self, embed_dim, num_heads, **options):
        """Self-attention with this algebra's projections and heads of whole numbers."""
        if self.algebra == "real":
            return nn.MultiHeadAttention(embed_dim, num_heads, **options)
        return nn.HypercomplexMultiHeadAttention(embed_dim, num_heads, projection=self.linear,
                                                 components=self.n, **options)


def layers(algebra, phm_n=4, where=None):
    """The Layers of `algebra` ("phm": PHM layers with n = phm_n learned rules)."""
    from ..algebra import get_algebra
    check_algebra(algebra, where)
    if algebra == "phm":
        if not is_int(phm_n) or phm_n < 1:
            raise ValueError(f"{where}: phm_n must be a positive integer, got {phm_n!r}")
        return Layers("phm", int(phm_n))
    return Layers(algebra, 1 if algebra == "real" else get_algebra(algebra).dim)


@dataclass(frozen=True)
class Family:
    """A model family.

    name          the registry name ("conv4")
    build         build(algebra, **options) -> Module
    datasets      the datasets it reads; the first is the default
    description   what it is, for errors ("an MNIST model")
    settings      build option -> the run setting it comes from, e.g. {"dim": "n_embd"}
    hypercomplex_options  options the real model does not take (left out when the real
                  reference model is built: its weight count is the 100% of the papers'
                  x-axis)
    num_classes   whether build takes num_classes (from the dataset)
    metric        "accuracy" or "perplexity"
    encoded_input encoded_input(algebra, options) -> True when the input must be
                  encoded as 4 quaternion channels first (RGB -> (R, G, B, gray), ...)
    """

    name: str
    build: Callable
    datasets: tuple
    description: str
    settings: dict = field(default_factory=dict)
    hypercomplex_options: tuple = ()
    num_classes: bool = False
    metric: str = "accuracy"
    encoded_input: Callable = None
    algebras: tuple = ALGEBRAS

    @property
    def language_model(self):
        """True for next-token models: their logits are (B, T, V) and they report
        perplexity."""
        return self.metric == "perplexity"

    def options(self, settings, num_classes=None):
        """The build options of a run: each declared option from its run setting (any
        object with those attributes, e.g. a LotteryConfig)."""
        options = {option: getattr(settings, name) for option, name in self.settings.items()}
        if self.num_classes:
            options["num_classes"] = num_classes
        return options

    def check(self, algebra, dataset):
        check_algebra(algebra, self.name, self.algebras)
        if dataset not in self.datasets:
            raise ValueError(f"{self.name} is {self.description}: it reads "
                             f"{', '.join(self.datasets)}, not {dataset}")

    def needs_encoding(self, algebra, options):
        return self.encoded_input is not None and self.encoded_input(algebra, options)
