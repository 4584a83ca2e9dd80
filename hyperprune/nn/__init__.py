"""Layers and containers, with PyTorch's names."""
from . import init
from .activation import GELU, ModReLU, ReLU, Sigmoid, Tanh
from .conv import AvgPool2d, Conv2d, GlobalAvgPool2d, HypercomplexConv2d, MaxPool2d, QConv2d
from .attention import MultiHeadAttention, QMultiHeadAttention
from .layers import Dropout, Embedding, Flatten, Identity
from .linear import HypercomplexLinear, Linear, QLinear
from .module import Module, Parameter, Sequential
from .norm import LayerNorm

# layers whose `weight` the pruning module may mask (biases and norms never are);
# the hypercomplex classes cover QLinear and QConv2d, their subclasses
PRUNABLE = [Linear, HypercomplexLinear, Conv2d, HypercomplexConv2d]

__all__ = ["PRUNABLE", "Module", "Parameter", "Sequential", "Linear", "QLinear",
           "HypercomplexLinear", "Conv2d", "QConv2d", "HypercomplexConv2d", "MaxPool2d",
           "AvgPool2d", "GlobalAvgPool2d", "ReLU", "Tanh", "Sigmoid", "GELU", "ModReLU",
           "Dropout", "Flatten", "Identity", "LayerNorm", "Embedding", "MultiHeadAttention",
           "QMultiHeadAttention", "init"]
