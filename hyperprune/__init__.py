"""hyperprune: pruned hypercomplex neural networks, from scratch on NumPy.

    import hyperprune as hp
    x = hp.tensor([[1.0, 2.0]], requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 x

Public names: tensor, Tensor, no_grad, manual_seed, use_backend, gradcheck; submodules
functional (as F), quaternion, nn, optim.
"""
from . import backend
from .autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, tensor
from .backend import (get_array_module, get_default_dtype, manual_seed, set_default_dtype,
                      to_numpy, use_backend)
from . import functional
from .gradcheck import GradcheckError, gradcheck

__version__ = "0.1.0"

__all__ = ["Function", "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "manual_seed", "use_backend", "set_default_dtype", "get_default_dtype",
           "get_array_module", "to_numpy", "gradcheck", "GradcheckError", "functional",
           "backend"]
