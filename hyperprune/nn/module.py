"""`Module` and `Parameter`: the containers every layer and model is built from.

A Module registers the Parameters, sub-Modules and buffers assigned to its attributes, so
`model.parameters()` finds every weight, `model.state_dict()` names them with dotted paths
("0.weight", "fc1.bias"), and `train()` / `eval()` reach every layer.  Names and
signatures follow PyTorch.  One deliberate difference: `state_dict()` returns *copies*,
so a saved state (say the initial weights θ0 of a lottery ticket) cannot change when the
optimizer later updates the weights in place.
"""
from collections import OrderedDict

import numpy as np

from .. import backend, io
from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a Module (requires_grad by default)."""

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        if not backend.is_array(data):
            data = backend.asarray(np.asarray(data, dtype=backend.get_default_dtype()))
        super().__init__(data, requires_grad=requires_grad)

    @classmethod
    def from_host(cls, host_array):
        """A Parameter of the default dtype on the selected backend, from a host array
        (how every layer makes its weights: drawn in float64 on the host, then cast)."""
        return cls(backend.asarray(host_array.astype(backend.get_default_dtype())))

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: subclasses set attributes in __init__ and define
    forward(*inputs)."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "transforms", {})

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before "
                               "assigning attributes")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            self.register_buffer(name, value)  # re-assigning a buffer keeps it a buffer
            return
        kind = self._parameters if isinstance(value, Parameter) else \
            self._modules if isinstance(value, Module) else None
        for table in (self._parameters, self._modules, self._buffers):
            if table is not kind:
                table.pop(name, None)
        if kind is not None:        # an update keeps its place (Sequential's order)
            kind[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, value):
        """A state array that is not learned (a pruning mask, running statistics)."""
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value if backend.is_array(value) else backend.asarray(value))
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    def effective(self, name):
        """The parameter (or buffer) `name` as forward uses it: itself, or
        `self.transforms[name](it)` -- how quantization-aware training fake-quantizes a
        weight and a supermask keeps the top-scored entries, inside the graph, without
        touching the parameter itself (as PyTorch's parametrizations)."""
        value = getattr(self, name)
        transform = self.transforms.get(name)
        return value if transform is None else transform(value)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs, **kwargs):
        return self.forward(*inputs, **kwargs)

    # ----------------------------------------------------------------- traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        yield from self._modules.values()

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for path, module in modules:
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix=""):
        for path, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{path}.{name}" if path else name), b

    def num_parameters(self):
        """The number of learnable scalars (every component of a quaternion counts)."""
        return sum(p.size for p in self.parameters())

    # ----------------------------------------------------------------- modes and grads
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def to(self, dtype):
        """Convert every parameter and buffer of float dtype to `dtype`, in place."""
        dtype = np.dtype(dtype)
        for t in list(self.parameters()) + [b for _, b in self.named_buffers()]:
            if t.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                t.grad = None
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ----------------------------------------------------------------- state
    def state_dict(self):
        """An ordered dict name -> host (NumPy) copy of every parameter and buffer."""
        state = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = backend.to_numpy(p.data).copy()
        for name, b in self.named_buffers():
            state[name] = backend.to_numpy(b.data).copy()
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the parameters and buffers, in place (optimizers keep working).

        Raises KeyError for missing or unexpected names (unless strict=False) and
        ValueError for shape mismatches.
        """
        targets = OrderedDict(self.named_parameters())
        targets.update(self.named_buffers())
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys "
                           f"{missing}, unexpected keys {unexpected}")
        for name, value in state.items():
            if name not in targets:
                continue
            t = targets[name]
            value = value.data if isinstance(value, Tensor) else value
            if tuple(value.shape) != t.shape:
                raise ValueError(f"load_state_dict: {name} has shape {tuple(value.shape)} "
                                 f"in the state, {t.shape} in the model")
            if backend.get_array_module(value) is not backend.get_array_module(t.data):
                value = backend.get_array_module(t.data).asarray(backend.to_numpy(value))
            t.data[...] = value.astype(t.dtype, copy=False)
        return missing, unexpected

    def save(self, path):
        """Write state_dict() to a .npz file, atomically."""
        return io.save_npz(path, dict(self.state_dict()))

    def load(self, path, strict=True):
        """Read a .npz written by save() (never unpickles) into this module."""
        return self.load_state_dict(io.load_npz(path), strict=strict)

    # ----------------------------------------------------------------- printing
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + ("\n)" if len(lines) > 1 else ")")


class Sequential(Module):
    """Modules applied one after another: Sequential(a, b, c)(x) == c(b(a(x)))."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
