"""Every differentiable op of the library, as hyperprune.functional.X (F.relu, F.conv2d, ...).

Each op is a `Function` with its derivative beside its forward (the formulas in the
docstrings) and a function of the same name in lower case that checks the arguments and
calls it, DeZero's `class Exp` + `def exp`.  A Function whose op a layer of `nn` applies is
named after the layer with the suffix Function (LinearFunction computes what nn.Linear
applies), so a Function and a Module never share a name.

    elementwise   add sub mul div neg pow exp log sqrt, dropout (dropout_mask)
    activation    tanh sigmoid relu gelu softmax log_softmax mod_relu
    reduction     sum mean max
    shape         reshape transpose permute swapaxes getitem concatenate (cat) stack
                  embedding
    linear        matmul linear hypercomplex_linear hamilton_linear
    phm           kronecker_sum phm_linear (PHM layers: sums of Kronecker products)
    loss          cross_entropy mse_loss (mse) kd_loss (distillation)
    conv          conv2d hypercomplex_conv2d quaternion_conv2d phm_conv2d max_pool2d avg_pool2d
                  global_avg_pool2d (and im2col / col2im, output_size)
    norm          layer_norm
    quantize      fake_quantize (k-bit grid forward, straight-through backward)
    supermask     supermask (top-k of learned scores on frozen weights, straight-through
                  backward; biprop's binary form), topk_mask, kept_count
    attention     scaled_dot_product_attention, split_heads merge_heads
                  split_hypercomplex_heads merge_hypercomplex_heads (n components;
                  split_quaternion_heads merge_quaternion_heads: n = 4)

Conventions: `g` is the gradient of the loss with respect to the op's output (same shape
as the output); backward returns the gradient with respect to each input, as arrays of the
inputs' module.  Broadcasting is undone by the engine (`autograd.sum_to`), so a binary op
returns gradients in the output's shape.  Arrays come from the inputs' own module
(`get_array_module`), so every op runs on NumPy, CuPy or the strict stand-in unchanged.
Tensor's operators (`+`, `@`, `x[i]`, `x.sum()`, ...) are wired to these ops in
`operators`.
"""
from . import operators  # noqa: F401  (wires Tensor's operators and methods)
from .activation import (GELUFunction, LogSoftmax, ModReLUFunction, ReLUFunction,
                         SigmoidFunction, Softmax, TanhFunction, gelu, log_softmax,
                         mod_relu, relu, sigmoid, softmax, tanh)
from .attention import (ScaledDotProductAttention, merge_heads, merge_hypercomplex_heads,
                        merge_quaternion_heads, scaled_dot_product_attention, split_heads,
                        split_hypercomplex_heads, split_quaternion_heads)
from .conv import (AvgPool2dFunction, Conv2dFunction, MaxPool2dFunction, avg_pool2d,
                   col2im, conv2d, global_avg_pool2d, hypercomplex_conv2d, im2col,
                   max_pool2d, output_size, phm_conv2d, quaternion_conv2d)
from .elementwise import (Add, Div, Exp, Log, Mul, Neg, Pow, Sqrt, Sub, add, div,
                          dropout, dropout_mask, exp, log, mul, neg, pow, sqrt, sub)
from .linear import (HypercomplexLinearFunction, LinearFunction, MatMul, hamilton_linear,
                     hypercomplex_linear, linear, matmul)
from .loss import (REDUCTIONS, CrossEntropy, KDLossFunction, cross_entropy, kd_loss, mse,
                   mse_loss)
from .norm import LayerNormFunction, layer_norm
from .phm import KroneckerSum, PHMLinearFunction, kronecker_sum, phm_linear
from .quantize import FakeQuantizeFunction, fake_quantize, grid_max
from .reduction import Max, Mean, Sum, max, mean, sum
from .shape import (Concatenate, EmbeddingFunction, GetItem, Reshape, Stack, Transpose,
                    cat, concatenate, embedding, getitem, permute, reshape, stack,
                    swapaxes, transpose)
from .supermask import SupermaskFunction, kept_count, supermask, topk_mask
