"""Progressive replacement of a trained dense layer by a PHM layer ("Beyond Real Weights").

    layer = ProgressivePHM(trained_linear, n=4)      # alpha = 0: exactly the dense layer
    layer.alpha = 0.3                                 # (1 - 0.3) dense(x) + 0.3 phm(x)
    loss = task_loss + layer.reconstruction_loss(x)   # the PHM branch learns W's map
    layer.alpha = 1.0                                 # exactly layer.phm; drop the dense

The dense branch is the trained layer itself, frozen (its parameters stop requiring
gradients); the PHM branch starts at the projection of its weight (nn.init.phm_projection:
for learned rules the optimal sum of n Kronecker products, Van Loan-Pitsianis) and its
bias is a copy of the dense bias.
"""
from .. import backend
from ..autograd import no_grad
from .init import phm_projection
from .linear import Linear, PHMLinear
from .module import Module, Parameter

INITS = ("projection", "random")


class ProgressivePHM(Module):
    """y = (1 - alpha) dense(x) + alpha phm(x)     x (..., in), y (..., out)

    dense: a trained nn.Linear (frozen here); phm: PHMLinear(in, out, n, rules), with
    init="projection" (the PHM layer nearest to dense.weight: `projection_error` is
    ||H - W|| / ||W||) or "random" (PHMLinear's own init).  alpha is a plain float the
    training loop sets (hyperprune.schedule.fade); at alpha = 0 the layer is exactly
    `dense` and at alpha = 1 exactly `phm` (the other branch is not computed).

    Gradients: dy/dx = (1 - alpha) W + alpha H; the PHM parameters receive alpha times
    their PHM-only gradient -- nothing at alpha = 0, which is why the reconstruction loss
    is needed while alpha is small.
    """

    def __init__(self, dense, n, rules="learned", init="projection"):
        super().__init__()
        if not isinstance(dense, Linear):
            raise TypeError(f"ProgressivePHM: dense must be an nn.Linear, got "
                            f"{type(dense).__name__}")
        if init not in INITS:
            raise ValueError(f"ProgressivePHM: unknown init {init!r}: expected one of "
                             f"{', '.join(INITS)}")
        self.dense = dense
        for p in dense.parameters():
            p.requires_grad = False
        self.phm = PHMLinear(dense.in_features, dense.out_features, n, rules,
                             bias=dense.bias is not None)
        self.projection_error = None
        if init == "projection":
            A, S, self.projection_error = phm_projection(
                backend.to_numpy(dense.weight.data), n, rules)
            if self.phm.learned_rules:
                self.phm.rules = Parameter.from_host(A)
            self.phm.weight = Parameter.from_host(S)
            if dense.bias is not None:
                self.phm.bias = Parameter.from_host(backend.to_numpy(dense.bias.data))
        self.alpha = 0.0
        self.last_input = None

    def forward(self, x):
        if self.training:
            self.last_input = x            # what reconstruction_loss is computed on
        alpha = float(self.alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"ProgressivePHM: alpha must be in [0, 1], got {alpha}")
        if alpha == 0.0:
            return self.dense(x)
        if alpha == 1.0:
            return self.phm(x)
        return self.dense(x) * (1.0 - alpha) + self.phm(x) * alpha

    def reconstruction_loss(self, x=None):
        """E_x ||phm(x) - dense(x)||^2: the squared distance of the two branches' outputs
        (biases included), summed over the output features and averaged over every other
        position (rows; tokens count one each).  x: the layer's input -- by default the
        one of the last training forward.  It is a constant here (detached): the loss
        moves the PHM branch towards the dense map, not the activations towards inputs
        on which the two happen to agree."""
        x = self.last_input if x is None else x
        if x is None:
            raise ValueError("ProgressivePHM.reconstruction_loss: no input yet (call the "
                             "layer in training mode first, or pass x)")
        x = x.detach()
        with no_grad():
            target = self.dense(x)
        diff = self.phm(x) - target
        rows = diff.size // diff.shape[-1]
        return (diff * diff).sum() * (1.0 / rows)

    def extra_repr(self):
        return f"alpha={float(self.alpha):.3g}"
