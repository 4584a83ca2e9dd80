"""Conv-2, Conv-4 and Conv-6: the VGG-like CIFAR-10 networks of Frankle & Carbin (2019).

    Conv-2: conv 64, conv 64, pool                                 | fc 256, fc 256, fc 10
    Conv-4: conv 64, conv 64, pool, conv 128, conv 128, pool        | fc 256, fc 256, fc 10
    Conv-6: ... conv 256, conv 256, pool                             | fc 256, fc 256, fc 10
3x3 convolutions with padding 1, ReLU after every layer but the last, 2x2 max pooling,
Glorot normal init.  Weights (real): 4.30M / 2.43M / 2.26M.

Quaternion versions keep the real channel and unit counts (Iqbal & Mishra 2023): QConv2d
and QLinear everywhere but the output layer, which stays real (or, fully_quaternion=True,
a QLinear padded to a multiple of 4 outputs with dummy classes: 12 for CIFAR-10).  A
quaternion first convolution needs 4 input channels: encode RGB as (R, G, B, gray) or
(0, R, G, B) first (hyperprune.models.encodings), or keep first_layer="real" to feed RGB
to a real first convolution.  Weights: about a quarter of the real model's.

`width` multiplies every channel and unit count (rounded to a multiple of 4), for
CPU-scale runs: width=0.25 is a 16-channel Conv-2.
"""
from .. import nn
from ..checks import check_choice
from .family import Family, check_algebra

PLANS = {
    "conv2": [64, 64, "pool"],
    "conv4": [64, 64, "pool", 128, 128, "pool"],
    "conv6": [64, 64, "pool", 128, 128, "pool", 256, 256, "pool"],
}


def _scaled(n, width):
    return max(4, int(round(n * width / 4)) * 4)


def quaternion_first_layer(algebra, first_layer=None):
    """Whether the first convolution is quaternion (then it reads RGB encoded as 4
    channels): by default, in a quaternion network; first_layer="real" keeps it real."""
    return algebra == "quaternion" and (first_layer or algebra) == "quaternion"


def conv_net(plan, algebra="real", width=1.0, in_channels=None, num_classes=10,
             first_layer=None, fully_quaternion=False, image_size=32):
    """A Conv-n network from a plan of channel counts and "pool" markers."""
    check_choice(plan, tuple(PLANS), "plan")
    check_algebra(algebra, plan)
    if width <= 0:
        raise ValueError(f"{plan}: width must be positive, got {width}")
    quaternion = algebra == "quaternion"
    first_layer = first_layer or algebra
    if first_layer not in ("real", "quaternion") or (first_layer == "quaternion"
                                                      and not quaternion):
        raise ValueError(f"{plan}: first_layer must be 'real' or, for quaternion models, "
                         f"'quaternion'; got {first_layer!r}")
    if in_channels is None:
        in_channels = 4 if quaternion_first_layer(algebra, first_layer) else 3
    Conv = nn.QConv2d if quaternion else nn.Conv2d
    Dense = nn.QLinear if quaternion else nn.Linear
    layers, channels, size = [], in_channels, image_size
    for i, step in enumerate(PLANS[plan]):
        if step == "pool":
            layers.append(nn.MaxPool2d(2))
            size //= 2
            continue
        out = _scaled(step, width)
        layer = nn.Conv2d if (i == 0 and first_layer == "real") else Conv
        layers += [layer(channels, out, 3, padding=1), nn.ReLU()]
        channels = out
    hidden = _scaled(256, width)
    layers += [nn.Flatten(), Dense(channels * size * size, hidden), nn.ReLU(),
               Dense(hidden, hidden), nn.ReLU()]
    if quaternion and fully_quaternion:
        layers.append(nn.QLinear(hidden, -(-num_classes // 4) * 4))  # dummy classes pad
    else:
        layers.append(nn.Linear(hidden, num_classes))
    return nn.Sequential(*layers)


def conv2(algebra="real", **options):
    return conv_net("conv2", algebra, **options)


def conv4(algebra="real", **options):
    return conv_net("conv4", algebra, **options)


def conv6(algebra="real", **options):
    return conv_net("conv6", algebra, **options)


def _family(name, build):
    return Family(name, build, datasets=("cifar10", "cifar100"), description="a CIFAR model",
                  settings={"width": "width", "first_layer": "first_layer",
                            "fully_quaternion": "fully_quaternion"},
                  hypercomplex_options=("first_layer", "fully_quaternion"), num_classes=True,
                  encoded_input=lambda algebra, options: quaternion_first_layer(
                      algebra, options.get("first_layer")))


FAMILIES = [_family("conv2", conv2), _family("conv4", conv4), _family("conv6", conv6)]
