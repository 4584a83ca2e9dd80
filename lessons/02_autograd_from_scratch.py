# %% [markdown]
# # Lesson 2: automatic differentiation from scratch
#
# Training a network means following the gradient of a loss with respect to every weight.
# This lesson builds the machine that computes those gradients, in four steps:
#
# 1. the derivative as a limit, computed numerically (slow, approximate, but always
#    available: it is the referee for everything that follows);
# 2. a scalar `Value` that remembers how it was computed, differentiated first by hand and
#    then automatically (reverse mode, with a topological sort);
# 3. a two-layer network trained with it;
# 4. the real engine, `hyperprune.Tensor`, which does the same on whole arrays: we write a
#    new op for it and check it with `hyperprune.gradcheck`, and see how the engine
#    handles broadcasting.
#
# You need: the chain rule, and Python classes.  Every claim is checked by an `assert`, so
# running this file top to bottom (`python lessons/02_autograd_from_scratch.py`) is also a
# test of the lesson.

# %%
import math
import os

import numpy as np

import hyperprune as hp
from hyperprune import functional as F
from hyperprune.autograd import sum_to

from lesson_tools import output_dir  # lessons/lesson_tools.py

# The test suite sets HYPERPRUNE_LESSON_FAST=1 to shorten the training loop.
FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"
np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The derivative as a limit
#
# f'(x) = lim_{h→0} (f(x + h) − f(x)) / h.  On a computer h cannot go to 0, so we pick a
# small step `eps` and live with two errors:
#
# * **truncation**: the formula is only exact in the limit.  By Taylor,
#   f(x ± h) = f(x) ± h f'(x) + h²/2 f''(x) ± h³/6 f'''(x) + …, so the *forward*
#   difference (f(x+h) − f(x))/h is off by about h/2·f''(x), while the *central* difference
#   (f(x+h) − f(x−h)) / 2h cancels the h² terms and is off by only h²/6·f'''(x).
# * **round-off**: f(x+h) and f(x−h) are nearly equal numbers, each stored with a relative
#   error of about the machine epsilon (2.2e-16 in float64, 1.2e-7 in float32).
#   Subtracting them keeps the absolute error and dividing by h magnifies it: ≈ ε|f|/h.
#
# The total ≈ h²/6·|f'''| + ε|f|/h is smallest near h ≈ ε^(1/3): about 1e-5 in float64
# (error ~1e-11) but 5e-3 in float32 (error ~1e-5 at best).  Let us measure it on a
# function whose derivative we know exactly:
#
#     f(x) = tanh(2x) + x²,        f'(x) = 2 (1 − tanh²(2x)) + 2x

# %%
def f(x):
    return np.tanh(2 * x) + x * x


def df(x):
    return 2 * (1 - np.tanh(2 * x) ** 2) + 2 * x


def forward_difference(fn, x, eps):
    return (fn(x + eps) - fn(x)) / eps


def central_difference(fn, x, eps):
    return (fn(x + eps) - fn(x - eps)) / (2 * eps)


x0 = 0.7
exact = df(x0)
EPSILONS = [10.0 ** -k for k in range(1, 13)]
errors = {"forward, float64": [], "central, float64": [], "central, float32": []}
print(f"f'({x0}) = {exact:.15f}\n")
print(f"{'eps':>7} | {'forward f64':>11} | {'central f64':>11} | {'central f32':>11}")
for eps in EPSILONS:
    e_fwd = abs(forward_difference(f, x0, eps) - exact)
    e_c64 = abs(central_difference(f, x0, eps) - exact)
    # float32 all the way through: x, eps and every intermediate are 32-bit floats
    e_c32 = abs(float(central_difference(f, np.float32(x0), np.float32(eps))) - exact)
    errors["forward, float64"].append(e_fwd)
    errors["central, float64"].append(e_c64)
    errors["central, float32"].append(e_c32)
    print(f"{eps:7.0e} | {e_fwd:11.2e} | {e_c64:11.2e} | {e_c32:11.2e}")

# %% [markdown]
# Read the table from the top.  While truncation dominates, dividing eps by 10 divides the
# forward error by 10 (it is O(eps)) and the central error by 100 (O(eps²)).  Past the
# sweet spot round-off takes over and the errors *grow* as eps shrinks.  In float32 the
# sweet spot is shallow and early, and at eps = 1e-6 — a perfectly good step in float64 —
# the float32 estimate is already wrong in the second digit.  That is why
# `hyperprune.gradcheck` uses central differences, eps = 1e-6, and refuses anything but
# float64.

# %%
fwd, c64, c32 = (np.array(errors[k]) for k in errors)
i2, i3 = EPSILONS.index(1e-2), EPSILONS.index(1e-3)
print(f"eps 1e-2 -> 1e-3: forward error / {fwd[i2] / fwd[i3]:.1f}, "
      f"central error / {c64[i2] / c64[i3]:.1f}")
assert 5 < fwd[i2] / fwd[i3] < 20            # first order
assert 50 < c64[i2] / c64[i3] < 200          # second order
best = int(np.argmin(c64))
print(f"best float64 central step: eps = {EPSILONS[best]:.0e}, error {c64[best]:.1e}")
assert c64[best] < 1e-9 and 1e-6 <= EPSILONS[best] <= 1e-4
assert c64[-1] > 1000 * c64[best]            # eps = 1e-12: round-off wins
print(f"best float32 central error: {c32.min():.1e};  at eps = 1e-6: "
      f"{c32[EPSILONS.index(1e-6)]:.1e}")
assert c32.min() > 1000 * c64[best]          # float32 cannot get close
assert c32[EPSILONS.index(1e-6)] > 1e-2      # and gradcheck's step would be useless

# %% [markdown]
# The same numbers as a picture (saved next to this file, under `_output/`): the
# V-shaped curves are truncation on the right, round-off on the left.

# %%
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUTPUT = output_dir()
fig, ax = plt.subplots(figsize=(5, 3.5))
for label, values in errors.items():
    ax.loglog(EPSILONS, np.maximum(values, 1e-17), marker="o", label=label)
ax.set_xlabel("step eps")
ax.set_ylabel("|estimate − f'(x)|")
ax.set_title("finite differences: truncation vs round-off")
ax.legend()
fig.tight_layout()
fig.savefig(OUTPUT / "02_finite_difference_error.png", dpi=100)
plt.close(fig)

# %% [markdown]
# Numerical derivatives cost two evaluations of f *per input*: fine as a referee, hopeless
# for a network with 10⁵ weights.  We want all the derivatives from one forward and one
# backward pass.
#
# ## 2. A scalar that remembers where it came from
#
# A `Value` holds a number (`data`), the derivative of the final output with respect to it
# (`grad`, filled in later), and its **parents**: the Values it was computed from, each
# with the *local derivative* ∂(this)/∂(parent).  Each op computes its result and, on the
# very same line, those local derivatives — the derivative sits next to the forward.

# %%
class Value:
    """A float, with the local derivatives that link it to the Values it was made from."""

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents   # tuple of (parent Value, d self / d parent)
        self.op = op             # for printing only

    def __repr__(self):
        return f"Value({self.data:.4f}, grad={self.grad:.4f})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        # s = a + b:   ds/da = 1,  ds/db = 1
        return Value(self.data + other.data, ((self, 1.0), (other, 1.0)), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        # p = a * b:   dp/da = b,  dp/db = a
        return Value(self.data * other.data, ((self, other.data), (other, self.data)), "*")


# %% [markdown]
# Build an expression and name every intermediate (we will need the names to go back):
#
#     e = a * b,     d = e + c,     L = d * w

# %%
a, b, c, w = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)
e = a * b
d = e + c
L = d * w
print("L =", L.data, "  made by", repr(L.op), "from", [p.data for p, _ in L.parents])
assert L.data == (2.0 * -3.0 + 10.0) * -2.0

# %% [markdown]
# ### Backward by hand
#
# We want dL/d(everything).  Start at the output, dL/dL = 1, and walk back; at each step
# the chain rule says dL/d(parent) = dL/d(child) · d(child)/d(parent):
#
#     dL/dL = 1
#     dL/dd = w                         (L = d·w)
#     dL/dw = d
#     dL/de = dL/dd · 1                 (d = e + c)
#     dL/dc = dL/dd · 1
#     dL/da = dL/de · b                 (e = a·b)
#     dL/db = dL/de · a
#
# Written out with the values, and compared with central differences:

# %%
dL = 1.0
dd = dL * w.data
dw = dL * d.data
de = dd * 1.0
dc = dd * 1.0
da = de * b.data
db = de * a.data


def numeric_grads(fn, inputs, eps=1e-6):
    """Central differences of fn (floats -> Value) with respect to each input float."""
    grads = []
    for k in range(len(inputs)):
        plus, minus = list(inputs), list(inputs)
        plus[k] += eps
        minus[k] -= eps
        up = fn(*[Value(v) for v in plus]).data
        down = fn(*[Value(v) for v in minus]).data
        grads.append((up - down) / (2 * eps))
    return grads


def expression(a, b, c, w):
    return (a * b + c) * w


by_hand = [da, db, dc, dw]
numeric = numeric_grads(expression, [a.data, b.data, c.data, w.data])
for name, mine, ref in zip("abcw", by_hand, numeric):
    print(f"dL/d{name}: by hand {mine:8.4f}   numeric {ref:8.4f}")
assert np.allclose(by_hand, numeric, atol=1e-8)

# %% [markdown]
# ### More operations
#
# Each new op is two lines of maths: the value, and its derivative with respect to each
# input.  We add them to the class as we go (Python lets us attach methods later):
#
# | op          | value      | local derivative               |
# |-------------|------------|--------------------------------|
# | `x ** p`    | x^p        | p x^(p−1)   (p a constant)     |
# | `x.exp()`   | e^x        | e^x (the value itself)         |
# | `x.tanh()`  | tanh x     | 1 − tanh² x                    |
#
# Subtraction and division need nothing new: a − b = a + (−1)·b and a / b = a · b^(−1).

# %%
def value_pow(self, p):
    assert isinstance(p, (int, float)), "only constant exponents"
    return Value(self.data ** p, ((self, p * self.data ** (p - 1)),), f"**{p}")


def value_exp(self):
    y = math.exp(self.data)
    return Value(y, ((self, y),), "exp")


def value_tanh(self):
    t = math.tanh(self.data)
    return Value(t, ((self, 1.0 - t * t),), "tanh")


Value.__pow__ = value_pow
Value.exp = value_exp
Value.tanh = value_tanh
Value.__neg__ = lambda self: self * -1.0
Value.__sub__ = lambda self, other: self + (-other if isinstance(other, Value) else -other)
Value.__truediv__ = lambda self, other: self * (
    other ** -1 if isinstance(other, Value) else 1.0 / other)
Value.__radd__ = lambda self, other: self + other          # 3 + v
Value.__rmul__ = lambda self, other: self * other          # 3 * v
Value.__rsub__ = lambda self, other: (-self) + other       # 3 - v
Value.__rtruediv__ = lambda self, other: (self ** -1) * other

assert abs((Value(2.0) ** 3).data - 8.0) < 1e-15
assert abs((1 - Value(0.25) / 0.5).data - 0.5) < 1e-15

# %% [markdown]
# ### Backward, automated
#
# Doing this by hand for every expression is what we want to avoid.  The recipe above is
# mechanical: visit the nodes **from the output back**, and at each node push its gradient
# to its parents through the stored local derivatives.  "From the output back" must mean:
# a node is visited only after *every* node that uses it — otherwise its gradient is not
# complete yet when we pass it on.  A **topological order** (every node after its parents)
# read in reverse gives exactly that; a depth-first search builds one.

# %%
def topological_order(root):
    """Every Value that `root` depends on, each after all of its parents."""
    order, seen = [], set()

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent, _ in node.parents:
            visit(parent)
        order.append(node)   # appended only once all its parents are in

    visit(root)
    return order


def backward_first_try(root):
    root.grad = 1.0
    for node in reversed(topological_order(root)):
        for parent, local in node.parents:
            parent.grad = node.grad * local      # chain rule (spot the bug)


print("topological order:", [v.op or f"{v.data:g}" for v in topological_order(L)])
backward_first_try(L)
automated = [a.grad, b.grad, c.grad, w.grad]
print("automated:", automated, " by hand:", by_hand)
assert automated == by_hand

# %% [markdown]
# It agrees with the hand derivation.  Now a tiny expression that uses a value twice:
#
#     s = a + a          ds/da should be 2

# %%
a = Value(3.0)
s = a + a
backward_first_try(s)
print("first try: ds/da =", a.grad)
assert a.grad == 1.0   # wrong!

# %% [markdown]
# The bug: when a value feeds two places, each place sends it a share of the gradient (the
# multivariable chain rule *sums* over all paths), but `parent.grad = ...` overwrites the
# first share with the second.  The fix is one character: **accumulate** with `+=`.  It is
# also why every grad starts at 0, and why a training loop must reset the gradients of
# the weights before each backward pass (`zero_grad` in PyTorch and in hyperprune).

# %%
def backward(self):
    """Fill in d self / d v in v.grad for every v that self depends on."""
    self.grad = 1.0
    for node in reversed(topological_order(self)):
        for parent, local in node.parents:
            parent.grad += node.grad * local     # sum over every path


Value.backward = backward

a = Value(3.0)
s = a + a
s.backward()
print("fixed: ds/da =", a.grad)
assert a.grad == 2.0

# Reuse in a less obvious form: y = x·x + x, dy/dx = 2x + 1
x = Value(1.5)
y = x * x + x
y.backward()
assert x.grad == 2 * 1.5 + 1

# %% [markdown]
# A last check with every op, against central differences:

# %%
def everything(a, b, c):
    return (a * b).exp() + c ** 3 / a - (a - c).tanh() * 2


inputs = [0.3, -1.2, 0.8]
leaves = [Value(v) for v in inputs]
everything(*leaves).backward()
auto = [v.grad for v in leaves]
numeric = numeric_grads(everything, inputs)
print("autograd:", np.array(auto), "\nnumeric: ", np.array(numeric))
assert np.allclose(auto, numeric, rtol=1e-7, atol=1e-9)

# %% [markdown]
# ## 3. Training a tiny network with `Value`
#
# A neuron computes tanh(Σ wᵢ xᵢ + b).  Two layers of them — 2 inputs, 4 hidden neurons,
# 1 output — trained by plain gradient descent on the mean squared error to output the
# sign of x₁·x₂ on six points (an XOR: no single neuron can draw that boundary).  Nothing
# here is new: just `Value` arithmetic and `backward()`.

# %%
X_data = [[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [2.0, -1.5], [-1.5, -2.0]]
y_data = [1.0, 1.0, -1.0, -1.0, -1.0, 1.0]
N_IN, N_HIDDEN = 2, 4


def make_layer(n_in, n_out):
    """Weights and biases as Values, with a small random start."""
    weights = [[Value(rng.uniform(-1, 1) / math.sqrt(n_in)) for _ in range(n_in)]
               for _ in range(n_out)]
    biases = [Value(0.0) for _ in range(n_out)]
    return weights, biases


def layer_forward(layer, inputs):
    weights, biases = layer
    return [(sum((w * x for w, x in zip(row, inputs)), bias)).tanh()
            for row, bias in zip(weights, biases)]


def mlp(layers, x):
    for layer in layers:
        x = layer_forward(layer, x)
    return x[0]


def parameters(layers):
    return [v for weights, biases in layers for v in sum(weights, []) + biases]


def mse(layers):
    return sum((mlp(layers, x) - t) ** 2 for x, t in zip(X_data, y_data)) / len(X_data)


layers = [make_layer(N_IN, N_HIDDEN), make_layer(N_HIDDEN, 1)]
params = parameters(layers)
print(f"{len(params)} parameters")
assert len(params) == N_IN * N_HIDDEN + N_HIDDEN + N_HIDDEN + 1

# %% [markdown]
# Before training, one more check that the gradient is right: the whole network's gradient
# against central differences on every parameter (cheap here: 17 parameters).

# %%
loss = mse(layers)
loss.backward()
value_grads = np.array([p.grad for p in params])
numeric = []
for p in params:
    original = p.data
    p.data = original + 1e-6
    up = mse(layers).data
    p.data = original - 1e-6
    down = mse(layers).data
    p.data = original
    numeric.append((up - down) / 2e-6)
print(f"max |autograd - numeric| over the parameters: "
      f"{np.abs(value_grads - np.array(numeric)).max():.1e}")
assert np.allclose(value_grads, numeric, rtol=1e-6, atol=1e-9)

# %%
LEARNING_RATE = 0.5
STEPS = 15 if FAST else 60
history = []
for step in range(STEPS):
    for p in params:
        p.grad = 0.0                 # zero_grad: grads accumulate otherwise
    loss = mse(layers)
    loss.backward()
    for p in params:
        p.data -= LEARNING_RATE * p.grad
    history.append(loss.data)
    if step % 5 == 0 or step == STEPS - 1:
        print(f"step {step:3d}   loss {loss.data:.4f}")
predictions = [mlp(layers, x).data for x in X_data]
print("predictions:", np.round(predictions, 2), " targets:", y_data)
assert history[-1] < 0.5 * history[0]
assert all(later < earlier for earlier, later in zip(history[:5], history[1:6]))
if not FAST:
    assert history[-1] < 0.1
    assert all(p * t > 0 for p, t in zip(predictions, y_data))   # every sign right

# %% [markdown]
# ## 4. The real engine: `hyperprune.Tensor`
#
# `Value` works on single numbers; a layer with 235,200 weights built from Values would
# make 235,200 Python objects per multiplication.  `hyperprune.Tensor` keeps the same idea
# — data, grad, a link to how it was made, reverse topological backward with `+=` — but
# every node holds a whole NumPy array and every op is one vectorized call.
#
# First, the same network on arrays, with the trained weights copied from the Values: one
# matrix product per layer instead of loops over neurons.

# %%
def as_array(rows):
    return np.array([[v.data for v in row] for row in rows])


W1 = hp.tensor(as_array(layers[0][0]), requires_grad=True)          # (4, 2), float64
b1 = hp.tensor(np.array([v.data for v in layers[0][1]]), requires_grad=True)
W2 = hp.tensor(as_array(layers[1][0]), requires_grad=True)          # (1, 4)
b2 = hp.tensor(np.array([v.data for v in layers[1][1]]), requires_grad=True)

for p in params:                 # the Value gradients at the same (trained) weights
    p.grad = 0.0
loss_v = mse(layers)
loss_v.backward()

X_arr, y_arr = hp.tensor(np.array(X_data)), hp.tensor(np.array(y_data)[:, None])
hidden = F.tanh(X_arr @ W1.T + b1)
out = F.tanh(hidden @ W2.T + b2)
loss_t = ((out - y_arr) ** 2).mean()
loss_t.backward()
tensor_grads = np.concatenate([W1.grad.ravel(), b1.grad, W2.grad.ravel(), b2.grad])
print(f"loss: Value {loss_v.data:.12f}   Tensor {loss_t.item():.12f}")
assert abs(loss_v.data - loss_t.item()) < 1e-12
assert np.allclose([p.grad for p in params], tensor_grads, rtol=1e-10, atol=1e-14)

# %% [markdown]
# Same gradients, to the last few bits.  Look at the graph the Tensor recorded: `_ctx` is
# the `Function` object that made a tensor, and its `inputs` are the tensors it used.

# %%
node, chain = loss_t, []
while node._ctx is not None:
    chain.append(type(node._ctx).__name__)
    node = node._ctx.inputs[0]
print(" <- ".join(chain), "<- input")
assert chain[:3] == ["Mean", "Pow", "Sub"]

# %% [markdown]
# ### `Function`: forward and backward on arrays
#
# A `Value` stored its local derivative as a number.  For arrays that does not scale: the
# derivative of an op from n numbers to m numbers is an m × n Jacobian.  So a
# `hyperprune.Function` stores whatever it needs from the forward, and its `backward(g)`
# receives g = dL/d(output), an array shaped like the output, and returns
# dL/d(input) = gᵀ·Jacobian, shaped like the input, without ever forming the Jacobian.
# For an elementwise op y = f(x) the Jacobian is diagonal, so this is just g · f'(x).
#
# Let us add an op the library does not have: **softplus**, a smooth ReLU,
#
#     y = log(1 + eˣ),        dy/dx = eˣ / (1 + eˣ) = sigmoid(x).
#
# Written naively, eˣ overflows for x ≳ 710 (float64).  Using
# log(1 + eˣ) = max(x, 0) + log(1 + e^(−|x|)) keeps the exponent ≤ 0.  Similarly
# sigmoid(x) = (1 + tanh(x/2)) / 2 never overflows.  `hp.get_array_module(x)` returns the
# array library that owns x (NumPy here, CuPy on a GPU), so the op runs on either.

# %%
class Softplus(hp.Function):
    """y = log(1 + e^x);  dy/dx = sigmoid(x)."""

    def forward(self, x):
        xp = hp.get_array_module(x)
        self.x = x                                   # saved for backward
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, g):
        xp = hp.get_array_module(g)
        sigmoid = 0.5 * (1 + xp.tanh(0.5 * self.x))
        return g * sigmoid                           # upstream gradient × local derivative


def softplus(x):
    return Softplus()(x)


x = hp.tensor(np.array([-1000.0, -2.0, 0.0, 2.0, 1000.0]), requires_grad=True)
y = softplus(x)
print("softplus:", y.data)
assert np.allclose(y.data, [0.0, math.log1p(math.exp(-2)), math.log(2), 2 + math.log1p(
    math.exp(-2)), 1000.0])
y.sum().backward()
print("gradient:", x.grad)
assert np.allclose(x.grad, [0.0, 1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-2)), 1.0])

# %% [markdown]
# ### Checking it: `hyperprune.gradcheck`
#
# `hp.gradcheck(fn, *inputs)` compares, element by element, what backward computes with
# central differences — in float64 (section 1 showed why), for a *random* cotangent c:
# it calls `fn(x).backward(c)` and differentiates the scalar sum(c · fn(x)) numerically.
# It returns the worst element (and raises if it exceeds the tolerance, unless told not
# to).  Softplus passes, and also agrees with softplus built from existing ops:

# %%
x = hp.tensor(rng.standard_normal((3, 4)), requires_grad=True)      # float64
result = hp.gradcheck(softplus, x)
print(result)
assert result.passed and result.max_error < 1e-8

x_a = hp.tensor(x.data.copy(), requires_grad=True)
x_b = hp.tensor(x.data.copy(), requires_grad=True)
cotangent = rng.standard_normal((3, 4))
softplus(x_a).backward(cotangent)
F.log(1 + F.exp(x_b)).backward(cotangent)                           # composite version
assert np.allclose(x_a.grad, x_b.grad, rtol=1e-12)

# %% [markdown]
# ### Why a random cotangent, and not ones
#
# Here is the most common backward bug: returning the local derivative and forgetting to
# multiply by the upstream gradient g.

# %%
class BuggySoftplus(Softplus):
    def backward(self, g):
        xp = hp.get_array_module(g)
        return 0.5 * (1 + xp.tanh(0.5 * self.x))     # BUG: forgot `g *`


# %% [markdown]
# The obvious test — backpropagate a gradient of ones and compare with the numerical
# derivative of sum(f(x)) — cannot see it, because multiplying by ones changes nothing:

# %%
def check_with_ones(fn, x, eps=1e-6):
    """The naive check: upstream gradient of ones; returns the max abs difference."""
    x = hp.tensor(x.data.copy(), requires_grad=True)
    y = fn(x)
    y.backward(np.ones(y.shape))
    numeric = np.empty(x.shape)
    for j in np.ndindex(*x.shape):
        plus, minus = x.data.copy(), x.data.copy()
        plus[j] += eps
        minus[j] -= eps
        numeric[j] = (fn(hp.tensor(plus)).data.sum() - fn(hp.tensor(minus)).data.sum()) / (
            2 * eps)
    return float(np.abs(x.grad - numeric).max())


def buggy_softplus(x):
    return BuggySoftplus()(x)


error_with_ones = check_with_ones(buggy_softplus, x)
print(f"buggy op, upstream ones: max error {error_with_ones:.1e}  (looks fine!)")
assert error_with_ones < 1e-8

# %% [markdown]
# The same happens in a real model whenever the buggy op's output goes straight into a
# sum, or `loss.backward()` is called right on it.  As soon as anything sits downstream
# (a weighted sum, a square, another layer), g is no longer ones and the gradients are
# silently wrong.  `gradcheck` uses a random cotangent, so each output element gets a
# different weight and a missing `g *` shows at once:

# %%
result = hp.gradcheck(buggy_softplus, x, raise_exception=False)
print(result)
assert not result.passed
assert hp.gradcheck(softplus, x).passed            # the correct one, same check

# %% [markdown]
# (Why the little wrappers `softplus(x) = Softplus()(x)`: a Function object keeps the
# arrays its forward saved, and its inputs, for its own backward, so every use in a graph
# needs a fresh instance — calling one instance twice in a graph would silently mix up
# the two uses.  The library's `F.tanh`, `F.relu`, ... are wrappers of the same kind.)
#
# ## 5. Broadcasting: the engine sums gradients back
#
# `x + b` with x of shape (4, 3) and a bias b of shape (3,) works by *broadcasting*: b is
# reused for each of the 4 rows.  A value used several times receives the sum of its
# gradients (section 2), so dL/db is dL/dy summed over the rows.  In hyperprune, `Add`'s
# backward simply returns g, shaped like the output (4, 3), for both inputs; the engine
# then calls `autograd.sum_to(g, b.shape)`, which sums over every axis that broadcasting
# added (leading axes) or stretched (axes of size 1).  Each op stays simple, and no op can
# forget it.

# %%
x = hp.tensor(rng.standard_normal((4, 3)), requires_grad=True)
b = hp.tensor(rng.standard_normal(3), requires_grad=True)
y = x + b                                         # (4, 3)
G = rng.standard_normal(y.shape)                  # dL/dy for L = sum(G * y)
y.backward(G)
print("b.grad      =", b.grad)
print("G.sum(axis=0) =", G.sum(axis=0))
assert b.grad.shape == b.shape
assert np.allclose(b.grad, G.sum(axis=0), rtol=1e-14) and np.allclose(x.grad, G)

# sum_to on its own: (2, 3, 4) back to (3, 1) sums over axis 0 (added) and axis 2
# (stretched from 1 to 4); each element of the (3, 1) array was used 2 * 4 = 8 times.
reduced = sum_to(np.ones((2, 3, 4)), (3, 1))
print("sum_to(ones(2, 3, 4), (3, 1)) =", reduced.ravel())
assert reduced.shape == (3, 1) and np.all(reduced == 8)

# A column (4, 1) broadcast along the features, and a gradcheck of both cases:
column = hp.tensor(rng.standard_normal((4, 1)), requires_grad=True)
assert hp.gradcheck(lambda x, b, col: x * col + b, x, b, column).passed

# %% [markdown]
# ## Summary
#
# * Central differences in float64 with eps ≈ 1e-6 are accurate to ~1e-10: the referee.
#   In float32, or with a tiny eps, round-off ruins them.
# * Reverse mode: record the computation, then walk it in reverse topological order,
#   multiplying the gradient by each local derivative — and **accumulating** (`+=`) where
#   a value is used more than once.
# * `hyperprune.Function`: `forward` on arrays saves what it needs; `backward(g)` returns
#   g times the local derivative, shaped like each input.  Check every new one with
#   `hp.gradcheck` (float64, random cotangent, which catches a forgotten `g *`).
# * Broadcast inputs get their gradients summed back by the engine (`sum_to`).

# %%
print("Lesson 2: all checks passed.")
