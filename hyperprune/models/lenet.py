"""LeNet-300-100: the fully connected MNIST network of the lottery-ticket papers.

    real:        Linear(784, 300) - ReLU - Linear(300, 100) - ReLU - Linear(100, 10)
                 266,200 weights (+ 410 biases), Glorot normal init (Frankle & Carbin 2019)
    quaternion:  QLinear(784, 300) - ReLU - QLinear(300, 100) - ReLU - Linear(100, 10)
                 the same real widths, 67,300 weights: the hidden layers have a quarter of
                 the weights, the output layer stays real (Iqbal & Mishra 2023)
    quaternion, fully_quaternion=True:  the output layer is QLinear(100, 12) too, with two
                 dummy classes that no target uses ("Transformers at a Fraction")
ReLU on quaternion features is the split ReLU (one per component).
"""
from .. import nn
from .family import Family, check_algebra


def lenet_300_100(algebra="real", fully_quaternion=False):
    check_algebra(algebra, "lenet_300_100")
    if algebra == "real":
        if fully_quaternion:
            raise ValueError("lenet_300_100: fully_quaternion needs algebra='quaternion'")
        return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    output = nn.QLinear(100, 12) if fully_quaternion else nn.Linear(100, 10)
    return nn.Sequential(nn.QLinear(784, 300), nn.ReLU(), nn.QLinear(300, 100), nn.ReLU(),
                         output)


FAMILY = Family("lenet_300_100", lenet_300_100, datasets=("mnist",),
                description="an MNIST model", settings={"fully_quaternion": "fully_quaternion"},
                hypercomplex_options=("fully_quaternion",))
