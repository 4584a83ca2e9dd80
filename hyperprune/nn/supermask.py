"""Supermasks on a model's layers: frozen random weights, a trained score per weight.

    attach_supermask(model, keep, init="signed_constant", ...)   every prunable layer
    detach_supermask(model), supermask_masks(model) -> prune.Masks, scores(model)

attach_supermask redraws each prunable layer's weight (below), freezes every parameter
(weights, biases -- left at their initial zeros --, norms), gives the layer a learnable
`scores` Parameter and installs a transform (Module.transforms, the hook fake quantization
uses) so that forward computes with functional.supermask(weight, scores, count): the
round(keep x n) weights of largest |score| of the layer, in the graph, without touching
the weight itself.  An optimizer of scores(model) then trains the mask; the weights stay
bitwise as drawn.

The random weights (fan_in in real units: in_features, or in_channels x kernel area, for
real and hypercomplex layers alike -- each real output of a hypercomplex layer sums that
many signed component products, so He's variance 2 / fan_in is per component):

    kaiming_normal    N(0, 2 / fan_in)
    signed_constant   ±sqrt(2 / fan_in)                       (binary weights)
    kbit              the 2^k - 2 nonzero codes of a k-bit grid, uniformly, variance 2/fan_in

With scale_fan the fan is fan_in x keep (hidden-networks' --scale-fan, with keep the
fraction kept).  Scores: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), hidden-networks' init.

Granularity: `component` (one score per real entry; every layer) or `element` (one score
per hypercomplex weight, shape weight.shape[1:], its n components kept or dropped
together; a real layer has one component, so the two agree there).  `binary` is Multi-
Prize / biprop: the forward uses α sign(W) ⊙ mask.
"""
import math
from collections import OrderedDict

import numpy as np

from .. import backend, functional as F
from . import init as initializers
from .module import Parameter

INITS = ("kaiming_normal", "signed_constant", "kbit")
GRANULARITIES = ("component", "element")


def fan_in(layer):
    """The layer's fan-in in real units: each output sums this many weight x input terms
    (for a hypercomplex weight (n, out/n, in/n, *k): n x in/n x kernel area)."""
    shape = layer.weight.shape
    if getattr(layer, "components", 1) > 1:                 # (n, out/n, in/n, *kernel)
        return shape[0] * math.prod(shape[2:])
    return math.prod(shape[1:])                             # (out, in, *kernel)


def random_weight(layer, init, bits=4, keep=1.0, scale_fan=False):
    """A float64 host draw of the layer's random weight (module docstring)."""
    fan = fan_in(layer) * (keep if scale_fan else 1.0)
    shape = layer.weight.shape
    if init == "kaiming_normal":
        return initializers.he_normal(shape, fan)
    if init == "signed_constant":
        return initializers.signed_constant(shape, fan)
    if init == "kbit":
        return initializers.grid_uniform(shape, fan, bits)[0]
    raise ValueError(f"unknown supermask init {init!r}: expected one of {', '.join(INITS)}")


class SupermaskTransform:
    """weight -> functional.supermask(weight, layer.scores, count): what attach_supermask
    installs as layer.transforms["weight"]."""

    def __init__(self, layer, count, binary):
        self.layer, self.count, self.binary = layer, count, binary

    def __call__(self, w):
        return F.supermask(w, self.layer.scores, self.count, self.binary)

    def mask(self):
        """The bool host mask of the weight's shape that the forward uses now."""
        s = self.layer.scores.data
        m = backend.to_numpy(F.topk_mask(backend.get_array_module(s).abs(s), self.count))
        return np.broadcast_to(m, self.layer.weight.shape).copy()


def attach_supermask(model, keep, init="signed_constant", granularity="component",
                     bits=4, binary=False, scale_fan=False):
    """Make every prunable layer of `model` a supermasked one (module docstring), in
    place; weights and scores are drawn from the library's generator, layer by layer.
    Returns the model."""
    from ..prune import components, prunable_layers
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown supermask granularity {granularity!r}: expected one of "
                         f"{', '.join(GRANULARITIES)}")
    layers = prunable_layers(model)
    for name, layer in layers.items():
        if getattr(layer, "learned_rules", False):
            raise ValueError(f"supermask: layer {name} is a PHM layer with learned rules; "
                             "a supermask keeps every parameter random")
    for p in model.parameters():
        p.requires_grad = False
    for name, layer in layers.items():
        w = random_weight(layer, init, bits, keep, scale_fan)
        layer.weight.data[...] = backend.asarray(w.astype(layer.weight.dtype))
        element = granularity == "element" and components(layer) > 1
        shape = layer.weight.shape[1:] if element else layer.weight.shape
        count = F.kept_count(keep, math.prod(shape), f"layer {name or 'model'}")
        layer.scores = Parameter.from_host(initializers.score_uniform(shape, fan_in(layer)))
        layer.transforms["weight"] = SupermaskTransform(layer, count, binary)
    return model


def _transforms(model):
    return OrderedDict((name, m.transforms["weight"]) for name, m in model.named_modules()
                       if isinstance(m.transforms.get("weight"), SupermaskTransform))


def scores(model):
    """The scores Parameters of a supermasked model (what its optimizer trains)."""
    return [t.layer.scores for t in _transforms(model).values()]


def supermask_masks(model):
    """The masks the forward uses now, as prune.Masks (weight-shaped, bool)."""
    from ..prune import Masks
    transforms = _transforms(model)
    if not transforms:
        raise ValueError("the model has no supermask: call attach_supermask first")
    return Masks(OrderedDict((name, t.mask()) for name, t in transforms.items()))


def detach_supermask(model, bake=True):
    """Remove the supermask transforms and scores; with `bake`, write the effective
    weights (w ⊙ m, or α sign(w) ⊙ m) into the weights first, so the model computes
    the same without them.  Parameters stay frozen."""
    from ..autograd import no_grad
    for t in _transforms(model).values():
        layer = t.layer
        if bake:
            with no_grad():
                layer.weight.data = t(layer.weight).data
        del layer.transforms["weight"]
        del layer.scores
    return model
