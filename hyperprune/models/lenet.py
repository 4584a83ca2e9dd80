"""LeNet-300-100: the fully connected MNIST network of the lottery-ticket papers.

    real:        Linear(784, 300) - ReLU - Linear(300, 100) - ReLU - Linear(100, 10)
                 266,200 weights (+ 410 biases), Glorot normal init (Frankle & Carbin 2019)
    quaternion:  QLinear(784, 300) - ReLU - QLinear(300, 100) - ReLU - Linear(100, 10)
                 the same real widths, 67,300 weights: the hidden layers have a quarter of
                 the weights, the output layer stays real (Iqbal & Mishra 2023)
    fully_quaternion=True:  the output layer is hypercomplex too, with dummy classes that
                 no target uses ("Transformers at a Fraction"): QLinear(100, 12)
    complex, octonion, phm:  the same with that algebra's layers (n = 2, 8, phm_n); a
                 hidden width that n does not divide is rounded up to whole numbers:
                 octonion (n = 8) 784 - 304 - 104 - 10, 34,784 weights

ReLU on hypercomplex features is the split ReLU (one per component).  The model's
`description` states its widths and weight count.
"""
from .. import nn
from .family import Family, layers


def lenet_300_100(algebra="real", fully_quaternion=False, phm_n=4):
    kind = layers(algebra, phm_n, "lenet_300_100")
    if algebra == "real" and fully_quaternion:
        raise ValueError("lenet_300_100: fully_quaternion needs a hypercomplex algebra")
    h1, h2 = kind.round(300), kind.round(100)

    def output():
        return kind.linear(h2, kind.round(10)) if fully_quaternion else nn.Linear(h2, 10)
    # The weights are drawn in the order of the committed runs (real: layer by layer;
    # hypercomplex: the output layer first), so θ0 rebuilt from their seed is theirs.
    last = output() if algebra != "real" else None
    first, second = kind.linear(784, h1), kind.linear(h1, h2)
    last = last or output()
    model = nn.Sequential(first, nn.ReLU(), second, nn.ReLU(), last)
    weights = sum(m.weight.size for m in (first, second, last))
    rules = sum(m.rules.size for m in (first, second, last) if getattr(m, "learned_rules", 0))
    model.description = (f"LeNet-300-100, {kind.name}: 784-{h1}-{h2}-{last.out_features}, "
                         f"{weights:,} prunable weights"
                         + (f" + {rules} rule parameters" if rules else ""))
    return model


FAMILY = Family("lenet_300_100", lenet_300_100, datasets=("mnist",),
                description="an MNIST model",
                settings={"fully_quaternion": "fully_quaternion", "phm_n": "phm_n"},
                hypercomplex_options=("fully_quaternion", "phm_n"))
