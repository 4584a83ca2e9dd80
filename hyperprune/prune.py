"""Magnitude pruning with masks: layer-wise or global, per component or whole quaternion.

A mask is a 0/1 array of the shape of a prunable weight (the weights of Linear, QLinear
and convolution layers; biases and norms are never pruned).  Pruning keeps the weights
that are large and zeroes the rest, a fraction of the *remaining* ones per round, so
after k rounds at rate p a layer keeps (1 - p)^k of its weights.

Policies
    layerwise  each layer loses its own fraction of its remaining weights (Frankle &
               Carbin: fully connected 20%, the output layer half that; conv 10 or 15%)
    componentwise  the same, but each of a quaternion layer's component matrices R, I, J,
               K is ranked on its own ("Transformers at a Fraction", Algorithm 1)
    global     all prunable weights are ranked together and the smallest fraction of the
               remaining ones goes (open_lth's sparse_global; Iqbal & Mishra's 20%)

Granularity, for hypercomplex weights (n, out/n, in/n[, kh, kw]) -- quaternion (n = 4),
complex, octonion, or PHM (n = phm_n; its learned rules are never pruned)
    component  each real entry is scored on its own by |w| (what both quaternion papers do)
    element    whole numbers (the n components at one position) are scored by their RMS
               component |q|/sqrt(n) -- |q|/2 for quaternions -- and kept or pruned
               together, which keeps the algebraic structure; "quaternion" is its
               older name
Real layers are always pruned per entry.  The RMS lets whole numbers compete fairly with
real entries |w| under the global policy; each counts as n weights.

Scope: which layers take part -- `all` prunable layers, or only the `qkv` projections of
attention layers (the transformer paper's choice); embeddings, norms, biases and position
or class tokens are never pruned.

Method: `magnitude` (the lottery ticket), or `random` (the control: the same number of
weights removed from each layer as magnitude pruning would, at random positions).

Keeping pruned weights at zero during training: multiply the gradients by the mask
before the optimizer step and the weights after it (`Masks.apply_to_grads`,
`Masks.apply`).  With a fresh optimizer per level, Adam's moments of pruned weights stay
zero; re-masking the weights after every step makes "exactly zero" hold for any
optimizer (momentum, weight decay) regardless.
"""
import hashlib
import math
from collections import OrderedDict

import numpy as np

from . import backend, io, nn
from .checks import check_choice

STRATEGIES = ("layerwise", "global", "componentwise")
SCOPES = ("all", "qkv")
QKV_NAMES = ("q_proj", "k_proj", "v_proj", "qkv_proj")
GRANULARITIES = ("component", "element", "quaternion")   # "quaternion": the old "element"
METHODS = ("magnitude", "random")


def prunable_layers(model, scope="all"):
    """OrderedDict name -> layer for every layer whose `weight` can be pruned.

    scope "qkv": only the query, key and value projections of attention layers (the
    paper's Algorithm 1 for transformers); "all": every Linear, QLinear and convolution.
    """
    check_choice(scope, SCOPES, "pruning scope")
    types = tuple(nn.PRUNABLE)
    return OrderedDict((name, m) for name, m in model.named_modules()
                       if isinstance(m, types) and getattr(m, "weight", None) is not None
                       and (scope == "all" or name.rsplit(".", 1)[-1] in QKV_NAMES))


def components(layer):
    """The number of real components of the layer's numbers (its `components`: 4 for
    quaternion layers, n for PHM layers), 1 for real layers; its weight is
    (n, out/n, in/n, ...) then."""
    return getattr(layer, "components", 1)


class Masks:
    """0/1 masks for the prunable weights of a model, keyed by layer name.

    Masks are kept on the host as bool arrays of the weight's shape; `apply` multiplies
    the weights (on whatever backend) in place.
    """

    def __init__(self, masks):
        self.masks = OrderedDict((k, np.asarray(v, dtype=bool)) for k, v in masks.items())
        self._device = {}

    @classmethod
    def ones(cls, model, scope="all"):
        """Keep everything: one mask per prunable layer in `scope`."""
        return cls({name: np.ones(layer.weight.shape, dtype=bool)
                    for name, layer in prunable_layers(model, scope).items()})

    def __getitem__(self, name):
        return self.masks[name]

    def __iter__(self):
        return iter(self.masks)

    def __len__(self):
        return len(self.masks)

    def _device_mask(self, name, weight):
        key = (name, type(weight.data).__module__, weight.dtype.str)
        if key not in self._device:
            host = self.masks[name].astype(weight.dtype)
            self._device[key] = backend.get_array_module(weight.data).asarray(host)
        return self._device[key]

    def _layers(self, model):
        """The model's layers these masks are for (a scope may leave some unmasked)."""
        layers = prunable_layers(model)
        unknown = [name for name in self.masks if name not in layers]
        if unknown:
            raise ValueError(f"masks are for layers {list(self.masks)}, the model has "
                             f"prunable layers {list(layers)}")
        layers = OrderedDict((name, layers[name]) for name in self.masks)
        for name, layer in layers.items():
            if layer.weight.shape != self.masks[name].shape:
                raise ValueError(f"mask for {name} has shape {self.masks[name].shape}, "
                                 f"the weight has {layer.weight.shape}")
        return layers

    def apply(self, model):
        """weight *= mask for every prunable layer, in place."""
        for name, layer in self._layers(model).items():
            layer.weight.data *= self._device_mask(name, layer.weight)

    def apply_to_grads(self, model):
        """grad *= mask, so the optimizer sees no gradient for pruned weights."""
        for name, layer in self._layers(model).items():
            if layer.weight.grad is not None:
                layer.weight.grad *= self._device_mask(name, layer.weight)

    # ------------------------------------------------------------------ counting
    def remaining(self):
        """OrderedDict name -> number of weights kept."""
        return OrderedDict((k, int(m.sum())) for k, m in self.masks.items())

    def total(self):
        return OrderedDict((k, int(m.size)) for k, m in self.masks.items())

    def density(self):
        """Pm: the fraction of prunable weights remaining (1.0 before pruning)."""
        return sum(self.remaining().values()) / sum(self.total().values())

    # ------------------------------------------------------------------ checks
    def verify(self, model, scope, where, previous=None):
        """Raise ValueError (naming `where`, e.g. the file) unless these masks fit the
        model -- exactly its prunable layers in `scope`, with their shapes -- keep at least
        one weight, and (given the previous level's masks) keep only weights that
        `previous` kept: pruning only ever removes weights."""
        layers = prunable_layers(model, scope)
        if list(self.masks) != list(layers):
            missing = [n for n in layers if n not in self.masks]
            unexpected = [n for n in self.masks if n not in layers]
            raise ValueError(f"{where}: the masks do not fit the model: missing layers "
                             f"{missing}, unexpected layers {unexpected}")
        for name, layer in layers.items():
            if self.masks[name].shape != layer.weight.shape:
                raise ValueError(f"{where}: the mask of {name} has shape "
                                 f"{self.masks[name].shape}, the weight {layer.weight.shape}")
        if not any(m.any() for m in self.masks.values()):
            raise ValueError(f"{where}: the masks keep no weight at all")
        for name, m in (previous.masks.items() if previous is not None else ()):
            revived = int((self.masks[name] & ~m).sum())
            if revived:
                raise ValueError(f"{where}: layer {name} keeps {revived} weights that the "
                                 "previous level had pruned; masks only ever remove weights")

    def digest(self):
        """SHA-256 of the masks (names, shapes and 0/1 values): what a level records of
        the next level's mask, so a changed mask file is recognised."""
        h = hashlib.sha256()
        for name, m in self.masks.items():
            h.update(f"{name}:{m.shape};".encode())
            h.update(np.packbits(m).tobytes())
        return h.hexdigest()

    # ------------------------------------------------------------------ files
    def save(self, path):
        return io.save_npz(path, {k: m.astype(np.uint8) for k, m in self.masks.items()},
                           compressed=True)

    @classmethod
    def load(cls, path):
        arrays = io.load_npz(path)
        for name, a in arrays.items():
            if a.dtype != np.uint8 or (a > 1).any():
                raise ValueError(f"{path}: mask {name!r} is not a 0/1 uint8 array")
        return cls(arrays)


# ---------------------------------------------------------------------- pruning units
def _units(layer, mask, granularity):
    """Scores, alive flags and the unit size of one layer's prunable weight.

    component: units are entries, score |w|.  quaternion (hypercomplex layers only): units
    are whole numbers of n components, score |q|/sqrt(n) -- their RMS component, |q|/2 for
    quaternions -- n weights each.
    """
    w = backend.to_numpy(layer.weight.data).astype(np.float64)
    n = components(layer)
    if granularity in ("element", "quaternion") and n > 1:
        score = np.sqrt((w * w).sum(axis=0)) / np.sqrt(n)   # the RMS of the n components
        alive = mask.all(axis=0)
        return score.ravel(), alive.ravel(), n
    return np.abs(w).ravel(), mask.ravel().copy(), 1


def _unit_mask_to_weight_mask(unit_alive, layer, size):
    shape = layer.weight.shape
    if size > 1:
        return np.broadcast_to(unit_alive.reshape(shape[1:]), shape).copy()
    return unit_alive.reshape(shape)


def _smallest(score, alive, count, rng=None):
    """Indices of the `count` alive units with the smallest score (or random ones)."""
    candidates = np.flatnonzero(alive)
    if count <= 0:
        return candidates[:0]
    if rng is not None:
        return rng.choice(candidates, size=count, replace=False)
    order = np.argsort(score[candidates], kind="stable")
    return candidates[order[:count]]


def layerwise_rates(model, rate=0.2, output_rate=None, conv_rate=None, scope="all"):
    """Frankle & Carbin's per-layer rates: `rate` for fully connected layers, `conv_rate`
    for convolutions, and `output_rate` (default rate / 2) for the output layer (the last
    prunable layer, when it is in scope)."""
    layers = list(prunable_layers(model, scope).items())
    if not layers:
        raise ValueError(f"the model has no prunable layers in scope {scope!r}")
    rates = OrderedDict()
    for name, layer in layers:
        is_conv = getattr(layer, "is_convolution", False)
        rates[name] = conv_rate if is_conv and conv_rate is not None else rate
    output = next(reversed(prunable_layers(model)))
    if output in rates:
        rates[output] = rate / 2 if output_rate is None else output_rate
    return rates


def prune(model, masks, strategy="layerwise", rates=None, fraction=0.2,
          granularity="component", method="magnitude", seed=None, target=None):
    """The next round's masks: remove weights from the current `masks` of `model`.

    layerwise: `rates` maps layer name -> fraction of that layer's remaining weights.
    componentwise: the same, with each component matrix (R, I, J, K) of a quaternion
    layer ranked and pruned on its own (Algorithm 1 of "Transformers at a Fraction").
    global: `fraction` of all remaining prunable weights.
    The masks decide which layers take part (see Masks.ones' scope).
    Counts are rounded up (ceil), as open_lth does.  `seed` drives method="random".
    target: masks whose survivor counts per group (layer or component matrix) the result
    must have -- the random-pruning control takes its ticket's counts this way, which a
    global ranking of the control's own weights would not reproduce.
    """
    check_choice(strategy, STRATEGIES, "pruning strategy")
    check_choice(granularity, GRANULARITIES, "pruning granularity")
    check_choice(method, METHODS, "pruning method")
    layers = masks._layers(model)
    units = OrderedDict((name, _units(layer, masks[name], granularity))
                        for name, layer in layers.items())

    # 1) how many units each group loses (decided by magnitude in both methods); a group
    # is a layer, or for `componentwise` one component matrix (R, I, J or K) of a layer
    groups = OrderedDict((name, _groups(layers[name], score.size, size, strategy))
                         for name, (score, alive, size) in units.items())
    if strategy == "global":
        if not 0 <= fraction <= 1:
            raise ValueError(f"global pruning fraction must be in [0, 1], got {fraction}")
        counts = OrderedDict((name, [n]) for name, n in _global_counts(units, fraction).items())
    else:
        if rates is None:
            rates = layerwise_rates(model)
        missing = [n for n in layers if n not in rates]
        if missing:
            raise ValueError(f"{strategy} pruning: no rate for layers {missing}")
        counts = OrderedDict()
        for name, (score, alive, size) in units.items():
            if not 0 <= rates[name] <= 1:
                raise ValueError(f"pruning rate for {name} must be in [0, 1], got "
                                 f"{rates[name]}")
            counts[name] = [math.ceil(rates[name] * int(alive[a:b].sum()))
                            for a, b in groups[name]]

    if target is not None:
        counts = _counts_to_reach(target, units, layers, groups, granularity)

    # 2) which units: the smallest, or random ones in the same numbers
    rng = np.random.default_rng(seed) if method == "random" else None
    new = OrderedDict()
    for name, (score, alive, size) in units.items():
        alive = alive.copy()
        for (a, b), count in zip(groups[name], counts[name]):
            alive[a + _smallest(score[a:b], alive[a:b], count, rng)] = False
        new[name] = _unit_mask_to_weight_mask(alive, layers[name], size) & masks[name]
    return Masks(new)


def _counts_to_reach(target, units, layers, groups, granularity):
    """Units to remove per group so that each group keeps as many as in `target`."""
    if set(target) != set(units):
        raise ValueError(f"target masks are for layers {list(target)}, the masks being "
                         f"pruned for {list(units)}")
    counts = OrderedDict()
    for name, (_, alive, _) in units.items():
        kept = _units(layers[name], target[name], granularity)[1]
        counts[name] = [int(alive[a:b].sum()) - int(kept[a:b].sum()) for a, b in groups[name]]
        if min(counts[name]) < 0:
            raise ValueError(f"target mask for {name} keeps more weights than are left")
    return counts


def _groups(layer, n_units, unit_size, strategy):
    """Index ranges of the flattened units that are ranked separately."""
    n = components(layer)
    if strategy == "componentwise" and unit_size == 1 and n > 1:
        per = n_units // n  # component-major: R entries, then I, J, K
        return [(c * per, (c + 1) * per) for c in range(n)]
    return [(0, n_units)]


def _global_counts(units, fraction):
    """Units to remove per layer when the smallest `fraction` of all remaining weights go."""
    names, scores, sizes = [], [], []
    for k, (name, (score, alive, size)) in enumerate(units.items()):
        idx = np.flatnonzero(alive)
        names.append(np.full(idx.size, k))
        scores.append(score[idx])
        sizes.append(np.full(idx.size, size))
    names, scores, sizes = (np.concatenate(a) for a in (names, scores, sizes))
    target = math.ceil(fraction * int(sizes.sum()))
    order = np.argsort(scores, kind="stable")
    removed = np.cumsum(sizes[order])
    cut = int(np.searchsorted(removed, target)) + 1 if target else 0  # first prefix >= target
    chosen = names[order[:cut]]
    return OrderedDict((name, int((chosen == k).sum())) for k, name in enumerate(units))


def sparsity_report(masks, reference_total=None):
    """Pm (own) and, given the real model's prunable count, Pm relative to it."""
    kept = sum(masks.remaining().values())
    report = {"weights_remaining": kept, "weights_total": sum(masks.total().values()),
              "pm": kept / sum(masks.total().values())}
    if reference_total:
        report["pm_of_real"] = kept / reference_total
    return report


def surviving_weight_histogram(model, masks, bins=80):
    """Histogram of the weights that survive in the pruned layers (the paper's weight
    distribution figures): {"edges": [...], "counts": [...]}, symmetric about 0."""
    values = [backend.to_numpy(layer.weight.data)[masks[name]]
              for name, layer in masks._layers(model).items()]
    values = np.concatenate(values) if values else np.zeros(0)
    limit = float(np.abs(values).max()) if values.size else 1.0
    counts, edges = np.histogram(values, bins=bins, range=(-limit, limit))
    return {"edges": edges.tolist(), "counts": counts.tolist()}
