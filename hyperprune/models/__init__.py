"""Model families, one readable file each, and a registry for the command line."""
from .conv import conv2, conv4, conv6
from .lenet import lenet_300_100

MODELS = {"lenet_300_100": lenet_300_100, "conv2": conv2, "conv4": conv4, "conv6": conv6}
ALGEBRAS = ("real", "quaternion")


def get_model(name, algebra="real", **options):
    """Build a registered model: get_model("lenet_300_100", "quaternion")."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: expected one of {', '.join(sorted(MODELS))}")
    if algebra not in ALGEBRAS:
        raise ValueError(f"unknown algebra {algebra!r}: expected one of {', '.join(ALGEBRAS)}")
    return MODELS[name](algebra, **options)


__all__ = ["get_model", "lenet_300_100", "conv2", "conv4", "conv6", "MODELS", "ALGEBRAS"]
