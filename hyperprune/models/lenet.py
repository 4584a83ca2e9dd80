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


def lenet_300_100(algebra="real", fully_quaternion=False):
    if algebra not in ("real", "quaternion"):
        raise ValueError(f"lenet_300_100: unknown algebra {algebra!r}: expected one of "
                         "real, quaternion")
    if algebra == "real":
        if fully_quaternion:
            raise ValueError("lenet_300_100: fully_quaternion needs algebra='quaternion'")
        return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    output = nn.QLinear(100, 12) if fully_quaternion else nn.Linear(100, 10)
    return nn.Sequential(nn.QLinear(784, 300), nn.ReLU(), nn.QLinear(300, 100), nn.ReLU(),
                         output)
