"""k-bit quantization of (pruned) weights: post-training (PTQ) and quantization-aware (QAT).

The grid is uniform, symmetric and has an exact zero:

    real value = scale * code,    code in {-m, ..., m},   m = 2^(k-1) - 1   (k = 2..8)

so a k-bit code takes 2^k - 1 of its 2^k patterns (TensorRT's convention: max|w| / 127
for 8 bits; PyTorch's symmetric observer divides by 127.5 instead).  The scale maps the
largest *surviving* magnitude to the last code, scale = max|w| / m, so every surviving
weight lands within scale / 2 of its grid value and a pruned weight (0) stays exactly 0.
k = 1 is sign x scale: codes {-1, +1}, scale = mean |w| over the survivors (the scale
that minimises the squared error of a sign code; max|w| would flatten every small weight
to the largest), pruned zeros again exactly 0 (they are masked, not coded).

Granularity of the scale:
    tensor   one scale per weight tensor
    unit     one per output unit: a row of a Linear, an output channel of a convolution,
             and for hypercomplex and PHM layers (weight (n, out/n, in/n[, k...])) one per
             output number, shared by its n components (axis 1) -- a hypercomplex weight
             keeps its algebraic shape, as its n components are scaled together
A PHM layer's learned rules A (n, n, n) are quantized per tensor with the same k
("factors": A and S, each on its own grid); `phm_as_matrix` turns PHM layers into real
ones holding H = sum A_i ⊗ S_i, whose quantization is the alternative (H on one grid).

PTQ: `quantize_model(model, masks, bits)` -> {parameter name: Quantized}; `dequantize_into`
writes the grid values into a model.  QAT: `attach_fake_quant` makes every prunable layer
compute with fake-quantized weights (hyperprune.functional.fake_quantize, a straight-through
backward), scales taken from the current weights at every step; train as usual with the
masks, then `detach_fake_quant`.
"""
from dataclasses import dataclass

import numpy as np

from . import backend, nn, prune
from .autograd import no_grad
from .functional.quantize import fake_quantize, grid_max

GRANULARITIES = ("tensor", "unit")


def unit_axis(layer):
    """The axis of a prunable layer's weight that indexes output units: 1 for the
    (n, out/n, in/n, ...) weight of hypercomplex and PHM layers, else 0."""
    return 1 if prune.components(layer) > 1 else 0


def scales(w, mask, bits, granularity="unit", axis=0):
    """The scale(s) of host weights `w` (float64), broadcastable to w: from the surviving
    entries (mask), per tensor or per unit along `axis` (see the module docstring)."""
    grid_max(bits)
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown quantization granularity {granularity!r}: expected one "
                         f"of {', '.join(GRANULARITIES)}")
    a = np.abs(np.where(mask, w, 0.0))
    reduce = tuple(range(w.ndim)) if granularity == "tensor" else \
        tuple(i for i in range(w.ndim) if i != axis)
    if bits == 1:
        count = mask.sum(axis=reduce, keepdims=True)
        s = a.sum(axis=reduce, keepdims=True) / np.maximum(count, 1)
    else:
        s = a.max(axis=reduce, keepdims=True) / grid_max(bits)
    return np.where(s > 0, s, 1.0)          # a unit with no survivor: any scale (codes 0)


def quantize(w, mask, bits, scale):
    """int8 codes of host weights w on the grid of `scale` (0 where mask is False),
    computed in float32, as fake_quantize computes them (so QAT and export agree)."""
    m = grid_max(bits)
    w, scale = np.asarray(w, np.float32), np.asarray(scale, np.float32)
    codes = np.sign(w) if bits == 1 else np.clip(np.rint(w / scale), -m, m)
    return np.where(mask, codes, 0).astype(np.int8)


def grid_scales(w, mask, bits, granularity="unit", axis=0):
    """The float32 scales quantization uses: `scales`, rounded to float16 where float16
    holds them (a file then stores them in two bytes)."""
    s = scales(np.asarray(w, np.float64), mask, bits, granularity, axis)
    half = s.astype(np.float16)
    if np.all(np.isfinite(half)) and half.min() >= np.finfo(np.float16).tiny:
        s = half
    return s.astype(np.float32)


@dataclass
class Quantized:
    """One quantized tensor: int8 `codes` (0 where pruned), float32 `scale`
    (broadcastable; rounded to float16 where float16 holds it, so a file stores it in two
    bytes), its bit width and mask; `values` is what the model computes with."""

    codes: np.ndarray
    scale: np.ndarray
    bits: int
    mask: np.ndarray

    @property
    def values(self):
        return self.codes.astype(np.float32) * self.scale.astype(np.float32)


def quantize_tensor(w, mask, bits, granularity="unit", axis=0):
    w = np.asarray(w, dtype=np.float64)
    mask = np.ones(w.shape, bool) if mask is None else np.asarray(mask, bool)
    if bits == 1:             # a sign code has no 0: an exact-zero survivor is pruned
        mask = mask & (w != 0)
    s = grid_scales(w, mask, bits, granularity, axis)
    return Quantized(quantize(w, mask, bits, s), s, bits, mask)


def quantized_parameters(model, scope="all"):
    """{parameter name: (layer, attribute, unit axis)} of what quantization codes: every
    prunable weight and every learned PHM rule tensor (axis None: per tensor)."""
    out = {}
    for name, layer in prune.prunable_layers(model, scope).items():
        prefix = f"{name}." if name else ""
        out[prefix + "weight"] = (layer, "weight", unit_axis(layer))
        if getattr(layer, "learned_rules", False):
            out[prefix + "rules"] = (layer, "rules", None)
    return out


def quantize_model(model, masks, bits, granularity="unit", scope="all"):
    """PTQ: {parameter name: Quantized} for the model's prunable weights (masked by
    `masks`, None for dense) and learned PHM rules (per tensor)."""
    result = {}
    for pname, (layer, attr, axis) in quantized_parameters(model, scope).items():
        w = backend.to_numpy(getattr(layer, attr).data)
        layer_name = pname.rsplit(".", 1)[0] if "." in pname else ""
        mask = masks[layer_name] if masks is not None and attr == "weight" and \
            layer_name in masks else None
        result[pname] = quantize_tensor(w, mask, bits, "tensor" if axis is None
                                        else granularity, axis or 0)
    return result


def dequantize_into(model, quantized):
    """Write each Quantized tensor's grid values into the model's parameters, in place."""
    state = dict(model.state_dict())
    for name, q in quantized.items():
        state[name] = q.values
    model.load_state_dict(state)
    return model


# ---------------------------------------------------------------------- QAT
def attach_fake_quant(model, masks, bits, granularity="unit", scope="all"):
    """Quantization-aware training: every coded parameter is used fake-quantized in
    forward (its scale recomputed from the current surviving weights at each step,
    without a gradient); the backward is straight-through.  Undo with detach_fake_quant."""
    for pname, (layer, attr, axis) in quantized_parameters(model, scope).items():
        layer_name = pname.rsplit(".", 1)[0] if "." in pname else ""
        mask = masks[layer_name] if masks is not None and attr == "weight" and \
            layer_name in masks else None
        layer.transforms[attr] = _FakeQuant(mask, bits, "tensor" if axis is None
                                            else granularity, axis or 0)
    return model


def detach_fake_quant(model):
    for m in model.modules():
        for attr in [a for a, t in m.transforms.items() if isinstance(t, _FakeQuant)]:
            del m.transforms[attr]
    return model


class _FakeQuant:
    """w -> fake_quantize(w, scale(w)): the transform attach_fake_quant installs."""

    def __init__(self, mask, bits, granularity, axis):
        self.mask, self.bits, self.granularity, self.axis = mask, bits, granularity, axis

    def __call__(self, w):
        host = backend.to_numpy(w.data)
        mask = np.ones(host.shape, bool) if self.mask is None else self.mask
        if self.bits == 1:                  # as quantize_tensor: a zero survivor is pruned
            mask = mask & (host != 0)
        s = grid_scales(host, mask, self.bits, self.granularity, self.axis)
        s = backend.get_array_module(w.data).asarray(s.astype(w.dtype))
        return fake_quantize(w, s, self.bits)


# ------------------------------------------------------------------ PHM as a matrix
def phm_as_matrix(model):
    """A copy-free conversion: every PHM layer of `model` replaced, in place, by the real
    layer (Linear or Conv2d) holding its matrix H = sum_i A_i ⊗ S_i -- to quantize H on
    one grid instead of the factors.  Returns the model."""
    from . import functional as F
    for _, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            if not isinstance(child, (nn.PHMLinear, nn.PHMConv2d)):
                continue
            with no_grad():
                h = F.kronecker_sum(child.rules, child.weight).data
            if isinstance(child, nn.PHMLinear):
                real = nn.Linear(child.in_features, child.out_features,
                                 bias=child.bias is not None)
            else:
                real = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size,
                                 child.stride, child.padding, bias=child.bias is not None)
            real.weight.data[...] = h
            if child.bias is not None:
                real.bias.data[...] = child.bias.data
            setattr(parent, child_name, real)
    return model
