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
to a real first convolution.  Weights: about a quarter of the real model's.  Complex,
octonion and PHM versions are the same with their layers (an octonion or n = 8 network's
first convolution stays real: 4 encoded channels are not a whole octonion).

`width` multiplies every channel and unit count (rounded to a multiple of 4, or of n for
n = 8), for CPU-scale runs: width=0.25 is a 16-channel Conv-2.
"""
from .. import nn
from ..checks import check_choice
from .family import Family, layers

PLANS = {
    "conv2": [64, 64, "pool"],
    "conv4": [64, 64, "pool", 128, 128, "pool"],
    "conv6": [64, 64, "pool", 128, 128, "pool", 256, 256, "pool"],
}


def _scaled(n, width, multiple=4):
    return max(multiple, int(round(n * width / multiple)) * multiple)


def hypercomplex_first_layer(algebra, first_layer=None, n=None):
    """Whether the first convolution is hypercomplex, reading RGB encoded as 4 channels
    (hyperprune.models.encodings): by default when the network is and those 4 channels
    hold whole numbers (n = 2 or 4; an octonion or n = 8 network keeps a real first
    layer on RGB); first_layer="real" keeps it real ("quaternion" is the old name of
    "hypercomplex")."""
    if algebra == "real" or first_layer == "real":
        return False
    n = n if n is not None else layers(algebra).n
    return first_layer in ("hypercomplex", "quaternion") or 4 % n == 0


def conv_net(plan, algebra="real", width=1.0, in_channels=None, num_classes=10,
             first_layer=None, fully_quaternion=False, image_size=32, phm_n=4):
    """A Conv-n network from a plan of channel counts and "pool" markers."""
    check_choice(plan, tuple(PLANS), "plan")
    kind = layers(algebra, phm_n, plan)
    if width <= 0:
        raise ValueError(f"{plan}: width must be positive, got {width}")
    if first_layer not in (None, "", "real", "hypercomplex", "quaternion") or (
            first_layer in ("hypercomplex", "quaternion") and algebra == "real"):
        raise ValueError(f"{plan}: first_layer must be 'real' or, for hypercomplex models, "
                         f"'hypercomplex'; got {first_layer!r}")
    encoded = hypercomplex_first_layer(algebra, first_layer, kind.n)
    if encoded and 4 % kind.n:
        raise ValueError(f"{plan}: a hypercomplex first layer reads 4 encoded channels, "
                         f"which do not hold whole numbers of {kind.n} components")
    if in_channels is None:
        in_channels = 4 if encoded else 3
    multiple = kind.round(4)                      # channel counts: whole numbers
    net, channels, size = [], in_channels, image_size
    for i, step in enumerate(PLANS[plan]):
        if step == "pool":
            net.append(nn.MaxPool2d(2))
            size //= 2
            continue
        out = _scaled(step, width, multiple)
        conv = nn.Conv2d(channels, out, 3, padding=1) if i == 0 and not encoded else \
            kind.conv(channels, out, 3, padding=1)
        net += [conv, nn.ReLU()]
        channels = out
    hidden = _scaled(256, width, multiple)
    net += [nn.Flatten(), kind.linear(channels * size * size, hidden), nn.ReLU(),
            kind.linear(hidden, hidden), nn.ReLU()]
    if fully_quaternion and algebra != "real":
        net.append(kind.linear(hidden, kind.round(num_classes)))  # dummy classes pad
    else:
        net.append(nn.Linear(hidden, num_classes))
    model = nn.Sequential(*net)
    weights = sum(m.weight.size for m in net if hasattr(m, "weight"))
    model.description = (f"{plan} width {width:g}, {kind.name}: channels "
                         f"{[m.out_channels for m in net if hasattr(m, 'out_channels')]}, "
                         f"fully connected {hidden}, {hidden}, {net[-1].out_features}; "
                         f"{weights:,} prunable weights")
    return model


def conv2(algebra="real", **options):
    return conv_net("conv2", algebra, **options)


def conv4(algebra="real", **options):
    return conv_net("conv4", algebra, **options)


def conv6(algebra="real", **options):
    return conv_net("conv6", algebra, **options)


def _family(name, build):
    return Family(name, build, datasets=("cifar10", "cifar100"), description="a CIFAR model",
                  settings={"width": "width", "first_layer": "first_layer",
                            "fully_quaternion": "fully_quaternion", "phm_n": "phm_n"},
                  hypercomplex_options=("first_layer", "fully_quaternion", "phm_n"),
                  num_classes=True,
                  encoded_input=lambda algebra, options: hypercomplex_first_layer(
                      algebra, options.get("first_layer"),
                      layers(algebra, options.get("phm_n", 4)).n))


FAMILIES = [_family("conv2", conv2), _family("conv4", conv4), _family("conv6", conv6)]
