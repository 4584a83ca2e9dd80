"""What the rest of the library needs to know about a model family, declared in one place.

Each model file ends with a `FAMILY = Family(...)`: how to build it, which datasets it
reads, which run settings it takes and under what names, how its quality is measured and
whether its input is encoded first.  The runner, the data, the plots and the command line
ask the family; nothing outside models/ branches on a model's name.
"""
from dataclasses import dataclass, field
from typing import Callable

from ..checks import check_choice

#: The algebras of the model families.
ALGEBRAS = ("real", "quaternion")

#: How a family's quality is reported: test accuracy of a classifier, or validation
#: perplexity exp(loss) of a language model.
METRICS = ("accuracy", "perplexity")


def check_algebra(algebra, where, algebras=ALGEBRAS):
    """ValueError "{where}: unknown algebra 'x': expected one of real, quaternion"."""
    return check_choice(algebra, algebras, "algebra", where)


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
