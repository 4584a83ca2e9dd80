"""Layers and containers, with PyTorch's names."""
from . import init
from .activation import GELU, ModReLU, ReLU, Sigmoid, Tanh
from .layers import Dropout, Flatten, Identity
from .linear import HypercomplexLinear, Linear, QLinear
from .module import Module, Parameter, Sequential

# layers whose `weight` the pruning module may mask (biases and norms never are)
PRUNABLE = [Linear, HypercomplexLinear]

__all__ = ["PRUNABLE", "Module", "Parameter", "Sequential", "Linear", "QLinear", "HypercomplexLinear",
           "ReLU", "Tanh", "Sigmoid", "GELU", "ModReLU", "Dropout", "Flatten", "Identity",
           "init"]
