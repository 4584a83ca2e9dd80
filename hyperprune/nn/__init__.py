"""Layers and containers, with PyTorch's names."""
from . import init
from .activation import GELU, ModReLU, ReLU, Sigmoid, Tanh
from .conv import (AvgPool2d, Conv2d, GlobalAvgPool2d, HypercomplexConv2d, MaxPool2d,
                   PHMConv2d, QConv2d)
from .attention import HypercomplexMultiHeadAttention, MultiHeadAttention, QMultiHeadAttention
from .layers import Dropout, Embedding, Flatten, Identity
from .linear import HypercomplexLinear, Linear, PHMLinear, QLinear
from .module import Module, Parameter, Sequential
from .norm import LayerNorm
from .progressive import ProgressivePHM

# layers whose `weight` the pruning module may mask (biases, norms and PHM rules never
# are); the hypercomplex classes cover QLinear and QConv2d, their subclasses.  Each
# hypercomplex layer says how many real components its numbers have (`components`).
PRUNABLE = [Linear, HypercomplexLinear, PHMLinear, Conv2d, HypercomplexConv2d, PHMConv2d]

__all__ = ["PRUNABLE", "Module", "Parameter", "Sequential", "Linear", "QLinear",
           "HypercomplexLinear", "PHMLinear", "Conv2d", "QConv2d", "HypercomplexConv2d",
           "PHMConv2d", "MaxPool2d",
           "AvgPool2d", "GlobalAvgPool2d", "ReLU", "Tanh", "Sigmoid", "GELU", "ModReLU",
           "Dropout", "Flatten", "Identity", "LayerNorm", "Embedding", "MultiHeadAttention",
           "QMultiHeadAttention", "HypercomplexMultiHeadAttention", "ProgressivePHM", "init"]
