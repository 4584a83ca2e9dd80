"""Model families, one readable file each, and a registry for the command line."""
from .conv import conv2, conv4, conv6
from .gpt import GPT, GPTConfig, generate, gpt_char
from .lenet import lenet_300_100
from .vit import ViT, vit

MODELS = {"lenet_300_100": lenet_300_100, "conv2": conv2, "conv4": conv4, "conv6": conv6,
          "gpt_char": gpt_char, "vit": vit}
ALGEBRAS = ("real", "quaternion")


def get_model(name, algebra="real", **options):
    """Build a registered model: get_model("lenet_300_100", "quaternion")."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: expected one of {', '.join(sorted(MODELS))}")
    if algebra not in ALGEBRAS:
        raise ValueError(f"unknown algebra {algebra!r}: expected one of {', '.join(ALGEBRAS)}")
    return MODELS[name](algebra, **options)


__all__ = ["get_model", "lenet_300_100", "conv2", "conv4", "conv6", "gpt_char", "vit",
           "GPT", "GPTConfig", "ViT", "generate", "MODELS", "ALGEBRAS"]
