"""Model families, one readable file each; each declares itself as a Family (family.py).

    lenet.py    LeNet-300-100 (MNIST)
    conv.py     Conv-2, Conv-4, Conv-6 (CIFAR)
    gpt.py      gpt_char, a character-level nanoGPT (tiny Shakespeare)
    vit.py      a Vision Transformer for 32x32 images (CIFAR)
    encodings.py  RGB as 4 quaternion channels, for quaternion first layers

    get_family("conv4")                 what the rest of the library knows about a model
    get_model("lenet_300_100", "quaternion", **options)   build one
"""
from ..checks import check_choice
from . import conv as _conv, gpt as _gpt, lenet as _lenet, vit as _vit
from .conv import conv2, conv4, conv6
from .family import ALGEBRAS, METRICS, Family, check_algebra
from .gpt import GPT, GPTConfig, generate, gpt_char
from .lenet import lenet_300_100
from .vit import ViT, vit

FAMILIES = {f.name: f for f in [_lenet.FAMILY, *_conv.FAMILIES, _gpt.FAMILY, _vit.FAMILY]}
MODELS = {name: family.build for name, family in FAMILIES.items()}


def get_family(name):
    """The Family registered as `name` (ValueError listing the models otherwise)."""
    return FAMILIES[check_choice(name, tuple(sorted(FAMILIES)), "model")]


def get_model(name, algebra="real", **options):
    """Build a registered model: get_model("lenet_300_100", "quaternion")."""
    family = get_family(name)
    check_algebra(algebra, None, family.algebras)
    return family.build(algebra, **options)


__all__ = ["get_family", "get_model", "lenet_300_100", "conv2", "conv4", "conv6",
           "gpt_char", "vit", "GPT", "GPTConfig", "ViT", "generate", "Family", "FAMILIES",
           "MODELS", "ALGEBRAS", "METRICS"]
