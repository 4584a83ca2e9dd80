# %% [markdown]
# # Lesson 5: convolution as a matrix product, and the quaternion convolution
#
# Lesson 3 derived the backward pass of the quaternion *linear* layer.  The Conv-2/4/6
# networks of the lottery-ticket papers are mostly convolutions, so this lesson does the
# same for a convolution: first a real one, written as plain loops; then the same thing as
# a single matrix product (**im2col**), whose backward is two more matrix products and
# the adjoint of im2col (**col2im**); then the quaternion convolution, which turns out to
# be a real convolution with a structured weight, so that its backward is the real one
# plus one small extra step on the weight side.
#
# Same method as lesson 3: write the forward in small pieces, derive each gradient by
# hand, compare with central differences in a `cmp` table, and only then compare with
# the library (`hyperprune.functional.conv`).
#
# You need: lesson 3 (the block matrix M of a quaternion layer) and lesson 2 (gradcheck).
# Every claim is an `assert`.  Nothing here needs a data set; everything runs in seconds.

# %%
import os
import time

import numpy as np

import hyperprune as hp
from hyperprune import nn, prune
from hyperprune.models.encodings import GRAY_WEIGHTS, encode_rgb_gray, encode_zero_rgb
from hyperprune.algebra import QUATERNION
from hyperprune.functional import (col2im, conv2d, hamilton_linear, im2col, max_pool2d,
                                   output_size, quaternion_conv2d)
from hyperprune.models import conv2, conv4, conv6
from hyperprune.models.conv import PLANS
from hyperprune.quaternion import hamilton_product

from lesson_tools import cmp, numerical_gradients, output_dir  # lessons/lesson_tools.py

FAST = os.environ.get("HYPERPRUNE_LESSON_FAST") == "1"   # set by the test suite
np.set_printoptions(precision=4, suppress=True, linewidth=100)
rng = np.random.default_rng(5)
LESSON_START = time.perf_counter()

# %% [markdown]
# ## 1. A convolution, written as loops
#
# Images are stored **NCHW**: x has shape (N, C, H, W) — batch, channels, height, width.
# A convolution layer with O output channels and a kh × kw kernel has a weight of shape
# (O, C, kh, kw) and a bias of shape (O,).  Output channel o at position (p, q) is the
# sum, over every input channel and every kernel offset, of weight times pixel:
#
#     y[n, o, p, q] = b[o] + Σ_{c,i,j} w[o, c, i, j] · x[n, c, p·s + i − pad, q·s + j − pad]
#
# * **stride** s: the window moves s pixels at a time;
# * **padding** pad: the image is surrounded by pad rows and columns of zeros first.
#
# Strictly speaking this is a *cross-correlation*: the mathematical convolution flips the
# kernel (w[o, c, kh−1−i, kw−1−j]).  Every deep-learning library calls the unflipped
# version "convolution"; since the kernel is learned, the flip changes nothing but the
# order in which the learned numbers are stored.
#
# The window fits at (H + 2·pad − kh) / s + 1 places along the height, rounded *down*:
#
#     Ho = ⌊(H + 2·pad − kh) / s⌋ + 1,      Wo = ⌊(W + 2·pad − kw) / s⌋ + 1.
#
# Here is the definition, as directly as NumPy allows: one dot product per output element.

# %%
def out_size(size, kernel, stride=1, padding=0):
    """Number of window positions along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def conv_loops(x, w, b=None, stride=1, padding=0):
    """y = w ⊛ x + b by the definition: a loop over every output element."""
    n_images, channels, height, width = x.shape
    n_out, channels_w, kh, kw = w.shape
    assert channels == channels_w, (x.shape, w.shape)
    ho, wo = out_size(height, kh, stride, padding), out_size(width, kw, stride, padding)
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    y = np.zeros((n_images, n_out, ho, wo), dtype=np.result_type(x, w))
    for n in range(n_images):
        for o in range(n_out):
            for p in range(ho):
                for q in range(wo):
                    window = xpad[n, :, p * stride:p * stride + kh, q * stride:q * stride + kw]
                    y[n, o, p, q] = np.sum(w[o] * window) + (0 if b is None else b[o])
    return y


# %% [markdown]
# A case small enough to do in your head: a 4 × 4 image holding 0..15 and the 2 × 2
# kernel [[1, 0], [0, −1]], which computes x[p, q] − x[p+1, q+1].  Moving one step down
# and one step right adds 4 + 1 = 5, so every output is −5.

# %%
x_tiny = np.arange(16.0).reshape(1, 1, 4, 4)
k_tiny = np.array([[1.0, 0.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)
print(x_tiny[0, 0])
y_tiny = conv_loops(x_tiny, k_tiny)
print("stride 1, no padding ->", y_tiny.shape[2:], "\n", y_tiny[0, 0])
assert y_tiny.shape == (1, 1, 3, 3) and np.all(y_tiny == -5)

y_stride = conv_loops(x_tiny, k_tiny, stride=2)           # windows at rows/cols 0 and 2
assert y_stride.shape == (1, 1, 2, 2) and np.all(y_stride == -5)

y_pad = conv_loops(x_tiny, k_tiny, padding=1)            # (4 + 2 - 2) / 1 + 1 = 5
print("padding 1 ->", y_pad.shape[2:], "\n", y_pad[0, 0])
assert y_pad.shape == (1, 1, 5, 5)
assert np.all(y_pad[0, 0, 1:4, 1:4] == -5)               # the windows inside the image
assert y_pad[0, 0, 4, 4] == 15                            # x[3, 3]·1 − (padding zero)·1
assert y_pad[0, 0, 0, 0] == 0                             # 0·1 − x[0, 0]·1, and x[0, 0] = 0

# %% [markdown]
# The flip, checked once: on a single row, `np.convolve` (the mathematical convolution)
# equals our cross-correlation with the kernel reversed.

# %%
row = rng.standard_normal(9)
kernel_1d = rng.standard_normal(3)
ours = conv_loops(row.reshape(1, 1, 1, 9), kernel_1d[::-1].reshape(1, 1, 1, 3))[0, 0, 0]
assert np.allclose(ours, np.convolve(row, kernel_1d, mode="valid"))

# %% [markdown]
# The output size formula, for a 3 × 3 kernel at a few sizes, strides and paddings
# (`hyperprune.functional.output_size` is the same formula):

# %%
print(f"{'H':>3} {'stride':>6} {'pad':>4} {'Ho':>4}")
for height in (5, 6, 7, 32):
    for stride, padding in ((1, 0), (1, 1), (2, 0), (2, 1)):
        ho = out_size(height, 3, stride, padding)
        assert ho == output_size(height, 3, stride, padding)
        if height < 32:
            y = conv_loops(np.zeros((1, 1, height, height)), np.zeros((1, 1, 3, 3)),
                           stride=stride, padding=padding)
            assert y.shape[2:] == (ho, ho)
        print(f"{height:>3} {stride:>6} {padding:>4} {ho:>4}")
assert out_size(32, 3, 1, 1) == 32        # "same" padding: what Conv-2/4/6 use

# %% [markdown]
# Rounding down means a window that would stick out of the (padded) image is dropped, so
# part of the image may never be read.  With H = 6, a 3 × 3 kernel, stride 2 and no
# padding, the windows start at rows 0 and 2 and cover rows 0..4: row 5 does not matter.

# %%
x6 = rng.standard_normal((1, 1, 6, 6))
w3 = rng.standard_normal((1, 1, 3, 3))
x6_changed = x6.copy()
x6_changed[..., 5, :] += 100.0                       # change the last row ...
assert out_size(6, 3, 2) == 2
assert np.array_equal(conv_loops(x6, w3, stride=2),  # ... and nothing happens
                      conv_loops(x6_changed, w3, stride=2))

# %% [markdown]
# ## 2. im2col: the convolution as one matrix product
#
# Every output element is a dot product between the flattened kernel w[o] (C·kh·kw
# numbers) and the flattened window under it (also C·kh·kw numbers).  So write every
# window out as a **column** of a matrix X:
#
#     X[(c, i, j), (n, p, q)] = x[n, c, p·s + i − pad, q·s + j − pad]       (0 in the padding)
#
# X has C·kh·kw rows and N·Ho·Wo columns (one per output position).  With the weight
# flattened to W2 = w.reshape(O, C·kh·kw), all the dot products at once are
#
#     Y = W2 · X        (O × N·Ho·Wo),   then   y = Y.reshape(O, N, Ho, Wo), moved to NCHW.
#
# This is the layout of `hyperprune.functional.im2col`: rows in (c, i, j) order — the order of
# `w.reshape(O, -1)`'s columns, so the weight needs no copy — and columns in (n, p, q)
# order, so that Y reshapes to (O, N, Ho, Wo) and one transpose gives (N, O, Ho, Wo).
# Here is im2col by its definition, one column per window:

# %%
def im2col_loops(x, kh, kw, stride=1, padding=0):
    """Every window as a column: (N, C, H, W) -> (C·kh·kw, N·Ho·Wo)."""
    n_images, channels, height, width = x.shape
    ho, wo = out_size(height, kh, stride, padding), out_size(width, kw, stride, padding)
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((channels * kh * kw, n_images * ho * wo), dtype=x.dtype)
    for n in range(n_images):
        for p in range(ho):
            for q in range(wo):
                window = xpad[n, :, p * stride:p * stride + kh, q * stride:q * stride + kw]
                cols[:, (n * ho + p) * wo + q] = window.ravel()        # (c, i, j) order
    return cols


def conv_gemm(x, w, b=None, stride=1, padding=0):
    """The same convolution as ONE matrix product W2 · X."""
    n_images, _, height, width = x.shape
    n_out, _, kh, kw = w.shape
    ho, wo = out_size(height, kh, stride, padding), out_size(width, kw, stride, padding)
    cols = im2col_loops(x, kh, kw, stride, padding)
    y = (w.reshape(n_out, -1) @ cols).reshape(n_out, n_images, ho, wo).transpose(1, 0, 2, 3)
    return y if b is None else y + b.reshape(1, n_out, 1, 1)


# %% [markdown]
# The test case for sections 2 and 3: 2 images, 3 channels, 5 × 6 pixels, 4
# output channels, a 3 × 3 kernel, stride 2, padding 1.  Everything is float64.

# %%
N, C, H, W_IMG, O, KH, KW = 2, 3, 5, 6, 4, 3, 3
STRIDE, PAD = 2, 1
x = rng.standard_normal((N, C, H, W_IMG))
w = rng.standard_normal((O, C, KH, KW))
b = rng.standard_normal(O)
HO, WO = out_size(H, KH, STRIDE, PAD), out_size(W_IMG, KW, STRIDE, PAD)

cols = im2col_loops(x, KH, KW, STRIDE, PAD)
print("x:", x.shape, "  columns X:", cols.shape, "  output:", (N, O, HO, WO))
assert cols.shape == (C * KH * KW, N * HO * WO) == (27, 2 * 3 * 3)
y_loops = conv_loops(x, w, b, STRIDE, PAD)
assert np.allclose(conv_gemm(x, w, b, STRIDE, PAD), y_loops, rtol=1e-12, atol=1e-12)

# the library's im2col builds the same matrix, bit for bit (it only copies numbers)
cols_lib = im2col(x, (KH, KW), (STRIDE, STRIDE), (PAD, PAD))
assert np.array_equal(cols_lib, cols)

# %% [markdown]
# The library fills X differently — not one column per window, but one strided slice copy
# per kernel offset (i, j): all the pixels that sit under offset (i, j) in any window
# form a strided sub-grid of the image, so kh·kw slice copies fill the whole matrix, with
# no Python loop over positions.  The price of im2col is memory: with stride 1 and "same"
# padding every pixel is copied kh·kw times.

# %%
x_same = rng.standard_normal((2, 3, 8, 8))
cols_same = im2col(x_same, (3, 3), (1, 1), (1, 1))
print(f"x has {x_same.size} numbers, its im2col {cols_same.size} "
      f"({cols_same.size // x_same.size}x)")
assert cols_same.size == 9 * x_same.size

# %% [markdown]
# ### col2im is the adjoint of im2col
#
# im2col is **linear** in x and only copies: X = A x for a 0/1 matrix A (after flattening
# x and X), with at most one 1 per row — each entry of X is a copy of one pixel, or a
# padding zero.  We can build A explicitly on a small case: its column m is im2col of the
# m-th unit image.

# %%
small_shape, small_args = (1, 2, 4, 4), ((3, 3), (1, 1), (1, 1))   # kernel, stride, pad
n_pixels = int(np.prod(small_shape))
A = np.stack([im2col(np.eye(n_pixels)[m].reshape(small_shape), *small_args).ravel()
              for m in range(n_pixels)], axis=1)
print("A:", A.shape, "entries:", np.unique(A))
assert set(np.unique(A)) == {0.0, 1.0}
assert A.sum(axis=1).max() == 1                      # a row copies at most one pixel
x_small = rng.standard_normal(small_shape)
assert np.array_equal(A @ x_small.ravel(), im2col(x_small, *small_args).ravel())
assert not A[:144, 16:].any() and not A[144:, :16].any()   # channels never mix: block diagonal

# %% [markdown]
# The backward of any linear map u ↦ A u is the transpose: if L depends on X = A x, then
# dL/dx = Aᵀ dL/dX (lesson 2's matmul rule).  Aᵀ is the **adjoint** of A, the map with
#
#     ⟨A x, c⟩ = ⟨x, Aᵀ c⟩        for every x and c.
#
# For a copy matrix, Aᵀ c *adds up* all the entries of c that were copies of the same
# pixel — exactly what `col2im` does (kh·kw strided additions, the mirror image of
# im2col's kh·kw strided copies).  Padding entries have no pixel to go back to and are
# dropped.  Checked three ways: against Aᵀ, by the inner-product identity on the lesson's
# strided case, and by col2im of all ones, which counts how many windows read each pixel.

# %%
c_small = rng.standard_normal(A.shape[0])
back = col2im(c_small.reshape(18, 16), small_shape, *small_args)
assert np.allclose(back.ravel(), A.T @ c_small, rtol=1e-12, atol=1e-12)

c_test = rng.standard_normal(cols.shape)
lhs = float(np.sum(im2col(x, (KH, KW), (STRIDE, STRIDE), (PAD, PAD)) * c_test))
rhs = float(np.sum(x * col2im(c_test, x.shape, (KH, KW), (STRIDE, STRIDE), (PAD, PAD))))
print(f"<im2col(x), c> = {lhs:.12f}\n<x, col2im(c)> = {rhs:.12f}")
assert np.isclose(lhs, rhs, rtol=1e-12, atol=1e-12)

counts = col2im(np.ones((9, 25)), (1, 1, 5, 5), (3, 3), (1, 1), (1, 1))[0, 0]
print("windows reading each pixel (5x5 image, 3x3 kernel, padding 1):\n", counts)
A_counts = np.array([[4, 6, 6, 6, 4]] + [[6, 9, 9, 9, 6]] * 3 + [[4, 6, 6, 6, 4]])
assert np.array_equal(counts, A_counts)       # 9 inside, fewer where windows hit padding
# for the small case, the same counts are the column sums of A (its Aᵀ applied to ones)
assert np.array_equal(A.sum(axis=0), col2im(np.ones((18, 16)), small_shape, *small_args).ravel())

# %% [markdown]
# A picture of A (saved under `lessons/_output/`): each column is one pixel, each row one
# entry of X; every pixel is copied into up to 9 rows (fewer at the border, where windows
# run into the padding).  The two channels do not mix: A is block diagonal.

# %%
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUTPUT = output_dir()
fig, (ax_a, ax_c) = plt.subplots(1, 2, figsize=(8, 4.5), gridspec_kw={"width_ratios": [1, 1.3]})
ax_a.imshow(A, aspect="auto", cmap="Greys", interpolation="nearest")
ax_a.set_title("im2col as a 0/1 matrix A")
ax_a.set_xlabel("pixel (c, h, w)")
ax_a.set_ylabel("entry of X: row (c, i, j) × column (n, p, q)")
image = ax_c.imshow(A.sum(axis=0).reshape(small_shape)[0, 0], cmap="viridis")
ax_c.set_title("column sums of A = col2im(ones)\n(windows per pixel, channel 0)")
fig.colorbar(image, ax=ax_c, shrink=0.8)
fig.tight_layout()
figure_path = OUTPUT / "05_im2col.png"
fig.savefig(figure_path, dpi=90)
plt.close(fig)
print("figure:", figure_path)
assert figure_path.stat().st_size > 0

# %% [markdown]
# ## 3. The backward of a real convolution, by hand
#
# As in lesson 3, take L = Σ G ⊙ y for a fixed random G of y's shape, so that dL/dy = G.
# In matrix form the forward is
#
#     X = im2col(x),     Y = W2 X + b 1ᵀ        (Y: O × N·Ho·Wo)
#
# so with G laid out like Y (Gm = G moved to (O, N, Ho, Wo) and flattened), the three
# gradients are one rule each:
#
# * dL/dW2 = Gm Xᵀ — **one GEMM**, the same shape of work as the forward, then reshaped
#   to (O, C, kh, kw).  Each weight is used at every position, so its gradient sums over
#   all N·Ho·Wo positions: that sum is the GEMM's inner dimension.
# * dL/dX = W2ᵀ Gm — another GEMM — and then dL/dx = col2im(dL/dX), the adjoint from
#   section 2: each pixel collects the gradient of every copy of it.
# * dL/db = Σ over (n, p, q) of G — the bias is added at every position.

# %%
G = rng.standard_normal((N, O, HO, WO))
Gm = G.transpose(1, 0, 2, 3).reshape(O, -1)                  # (O, N·Ho·Wo), like Y

dw_hand = (Gm @ cols.T).reshape(w.shape)
dx_hand = col2im(w.reshape(O, -1).T @ Gm, x.shape, (KH, KW), (STRIDE, STRIDE), (PAD, PAD))
db_hand = Gm.sum(axis=1)

# %% [markdown]
# The referee: central differences in float64 on the *loop* forward of section 1, which
# shares no code with the GEMM version.  L is linear in each of x, w, b separately, so the
# central difference has no truncation error; what is left is round-off: each value of L
# is a sum of a few hundred products, rounded to ~1e-14, and dividing by 2·eps = 2e-6
# magnifies that to ~1e-9..1e-8.  So `approx` allows 1e-6; a wrong sign or a missing term
# would show up as a difference of order 1.  (`numerical_gradients` and `cmp` are lesson
# 3's referee and table, imported from `lesson_tools.py`.)

# %%
def real_loss(x, w, b):
    return float(np.sum(G * conv_loops(x, w, b, STRIDE, PAD)))


num_x, num_w, num_b = numerical_gradients(real_loss, [x.copy(), w.copy(), b.copy()])
print("hand-derived vs numerical")
assert all([cmp("dL/dx", dx_hand, num_x, rtol=1e-6, atol=1e-6),
            cmp("dL/dw", dw_hand, num_w, rtol=1e-6, atol=1e-6),
            cmp("dL/db", db_hand, num_b, rtol=1e-6, atol=1e-6)])

# %% [markdown]
# Now the library.  `hyperprune.functional.conv2d(x, weight, bias, stride, padding)` is the
# differentiable op behind `nn.Conv2d`; `y.backward(G)` feeds it our G.  It runs the very
# same formulas (its docstring lists them), so we expect agreement to rounding — the
# GEMMs may be evaluated in another order, so not necessarily bit for bit.

# %%
x_t = hp.tensor(x.copy(), requires_grad=True)
w_t = hp.tensor(w.copy(), requires_grad=True)
b_t = hp.tensor(b.copy(), requires_grad=True)
y_t = conv2d(x_t, w_t, b_t, stride=STRIDE, padding=PAD)
y_t.backward(G)
print("library vs hand-derived")
assert all([cmp("y", y_t.data, y_loops, 1e-12, 1e-12),
            cmp("dL/dx", x_t.grad, dx_hand, 1e-12, 1e-12),
            cmp("dL/dw", w_t.grad, dw_hand, 1e-12, 1e-12),
            cmp("dL/db", b_t.grad, db_hand, 1e-12, 1e-12)])

# %% [markdown]
# And `hp.gradcheck` (lesson 2: random cotangent, every element, float64), here also on a
# rectangular kernel with different strides and paddings along the two axes:

# %%
result = hp.gradcheck(lambda x, w, b: conv2d(x, w, b, stride=STRIDE, padding=PAD), x_t, w_t, b_t)
print(result)
assert result.passed
x_rect = hp.tensor(rng.standard_normal((2, 2, 5, 7)), requires_grad=True)
w_rect = hp.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)
result = hp.gradcheck(lambda x, w: conv2d(x, w, stride=(2, 1), padding=(0, 1)), x_rect, w_rect)
print(result)
assert result.passed

# %% [markdown]
# ## 4. The quaternion convolution
#
# A quaternion convolution has one *quaternion* weight per (output channel, input channel,
# kernel offset), and multiplies with the Hamilton product, weight on the left:
#
#     y[n, o, p, q] = b[o] + Σ_{c,i,j} W[o, c, i, j] ⊗ x[n, c, p·s + i − pad, q·s + j − pad]
#
# where now c and o count quaternion channels.  Storage follows `QLinear`:
#
# * channels are **planar** [r | i | j | k]: an input with C real channels holds C/4
#   quaternion channels, channels 0..C/4−1 are their real parts, C/4..C/2−1 their i
#   parts, and so on;
# * the weight has shape (4, O/4, C/4, kh, kw): the four real components R, I, J, K of
#   every quaternion weight, component first.
#
# First the definition, quaternion by quaternion, with `hamilton_product` on arrays whose
# last axis holds (r, i, j, k).  Slow but unmistakable.

# %%
def planar_to_quaternions(x):
    """(N, 4·Cq, H, W) planar -> (N, Cq, H, W, 4), components last."""
    n_images, channels, height, width = x.shape
    return np.moveaxis(x.reshape(n_images, 4, channels // 4, height, width), 1, -1)


def quaternions_to_planar(q):
    """(N, Cq, H, W, 4) -> (N, 4·Cq, H, W) planar."""
    n_images, cq, height, width, _ = q.shape
    return np.moveaxis(q, -1, 1).reshape(n_images, 4 * cq, height, width)


def qconv_hamilton(x, wq, stride=1, padding=0):
    """The quaternion convolution by its definition: Σ W ⊗ x over each window."""
    xq = planar_to_quaternions(np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))))
    w_last = np.moveaxis(wq, 0, -1)                          # (Oq, Cq, kh, kw, 4)
    _, oq, _, kh, kw = wq.shape
    n_images = x.shape[0]
    ho, wo = out_size(x.shape[2], kh, stride, padding), out_size(x.shape[3], kw, stride, padding)
    yq = np.zeros((n_images, oq, ho, wo, 4))
    for n in range(n_images):
        for p in range(ho):
            for q in range(wo):
                window = xq[n, :, p * stride:p * stride + kh, q * stride:q * stride + kw]
                # every output quaternion o: Σ over (c, i, j) of W[o, c, i, j] ⊗ window[c, i, j]
                yq[n, :, p, q] = hamilton_product(w_last, window[None]).sum(axis=(1, 2, 3))
    return quaternions_to_planar(yq)


CQ, OQ, QH, QW = 2, 2, 4, 5              # 2 quaternion channels in and out: C = O = 8
xq_in = rng.standard_normal((2, 4 * CQ, QH, QW))
Wq = rng.standard_normal((4, OQ, CQ, KH, KW))
yq_hamilton = qconv_hamilton(xq_in, Wq, padding=1)
print("x:", xq_in.shape, " W:", Wq.shape, " y:", yq_hamilton.shape)
assert yq_hamilton.shape == (2, 4 * OQ, QH, QW)

# %% [markdown]
# Now the trick of lesson 3, position by position.  At a fixed kernel offset (i, j) the
# map "input quaternions ↦ Σ_c W[o, c, i, j] ⊗ x_c" is a quaternion *linear* layer, and on
# the planar layout that is the real block matrix
#
#     M[:, :, i, j] = [[R, −I, −J, −K],
#                      [I,  R, −K,  J],          R = W[0, :, :, i, j], I = W[1, :, :, i, j], ...
#                      [J,  K,  R, −I],
#                      [K, −J,  I,  R]]          (O × C)
#
# Stack these for every (i, j) and you have a real convolution weight M of shape
# (O, C, kh, kw): the **quaternion convolution is the real convolution with weight M**.
# The kernel axes simply ride along.  `np.block` assembles blocks along the *last two*
# axes, so we park the kernel axes in front, build, and move them back.

# %%
R, I, J, K = Wq.transpose(0, 3, 4, 1, 2)                  # each (kh, kw, Oq, Cq)
M_hand = np.block([[R, -I, -J, -K],
                   [I, R, -K, J],
                   [J, K, R, -I],
                   [K, -J, I, R]]).transpose(2, 3, 0, 1)  # (O, C, kh, kw)
M = QUATERNION.block_matrix(Wq)
print("M:", M.shape, f"built from {Wq.size} numbers ({M.size} entries)")
assert M.shape == (4 * OQ, 4 * CQ, KH, KW) and M.size == 4 * Wq.size
assert np.array_equal(M, M_hand)
for i in range(KH):                                        # offset by offset: lesson 3's M
    for j in range(KW):
        assert np.array_equal(M[:, :, i, j], QUATERNION.block_matrix(Wq[..., i, j]))

print("quaternion conv: Hamilton loops vs real conv with M")
assert cmp("loops", conv_loops(xq_in, M, padding=1), yq_hamilton, 1e-12, 1e-12)
assert cmp("GEMM", conv_gemm(xq_in, M, padding=1), yq_hamilton, 1e-12, 1e-12)
assert cmp("library", quaternion_conv2d(hp.tensor(xq_in), hp.tensor(Wq), padding=1).data,
           yq_hamilton, 1e-12, 1e-12)

# %% [markdown]
# A 1 × 1 quaternion convolution has a single kernel offset, so it is exactly lesson 3's
# `hamilton_linear` applied to every pixel (with the channels as the feature axis):

# %%
W1 = rng.standard_normal((4, OQ, CQ, 1, 1))
y_1x1 = quaternion_conv2d(hp.tensor(xq_in), hp.tensor(W1)).data
y_per_pixel = hamilton_linear(hp.tensor(xq_in.transpose(0, 2, 3, 1)),   # (N, H, W, C)
                              hp.tensor(W1[..., 0, 0])).data.transpose(0, 3, 1, 2)
assert np.allclose(y_1x1, y_per_pixel, rtol=1e-12, atol=1e-12)

# %% [markdown]
# ## 5. The backward of the quaternion convolution
#
# The weight is used in two steps: W ↦ M (assembly) and M ↦ y (a real convolution).
# The chain rule splits along the same line.
#
# * **x and M**: the real convolution's backward from section 3, unchanged.  With
#   X = im2col(x), dL/dM = Gm Xᵀ (one GEMM, reshaped to (O, C, kh, kw)) and
#   dL/dx = col2im(M2ᵀ Gm).
# * **W from M**: M is made of 16 blocks, each a signed copy of one component:
#   block (c, b) of M (output component c, input component b) is s(c, b) · W_a(c, b),
#   the sign and component of lesson 3's table.  A component that is copied into four
#   places collects the gradient of all four copies, with the signs of the copies —
#   the same "shared, so add up" rule as col2im:
#
#       dL/dW_a = Σ_{blocks (c, b) holding W_a}  s(c, b) · (block (c, b) of dL/dM)
#
#   Reading the blocks of M off its picture (rows c and columns b in the order r, i, j, k):
#
#       dR =  dM_rr + dM_ii + dM_jj + dM_kk
#       dI = −dM_ri + dM_ir − dM_jk + dM_kj
#       dJ = −dM_rj + dM_ik + dM_jr − dM_ki
#       dK = −dM_rk − dM_ij + dM_ji + dM_kr
#
#   each term an (O/4, C/4, kh, kw) array.  This is `Algebra.block_matrix_grad`; it is
#   the adjoint of `block_matrix`, just as col2im is the adjoint of im2col.
#
# So a quaternion convolution costs what the real convolution of the same width costs,
# plus assembling M (forward) and 12 block additions (backward), both proportional to the
# number of weights and independent of the batch and image size.

# %%
Gq = rng.standard_normal(yq_hamilton.shape)
O_REAL = 4 * OQ
cols_q = im2col(xq_in, (KH, KW), (1, 1), (1, 1))
Gq_m = Gq.transpose(1, 0, 2, 3).reshape(O_REAL, -1)

dM = (Gq_m @ cols_q.T).reshape(M.shape)                                # same GEMM as real
dxq_hand = col2im(M.reshape(O_REAL, -1).T @ Gq_m, xq_in.shape, (KH, KW), (1, 1), (1, 1))
B = dM.reshape(4, OQ, 4, CQ, KH, KW)                    # B[c, :, b] = block (c, b) of dL/dM
dWq_hand = np.stack([
    B[0, :, 0] + B[1, :, 1] + B[2, :, 2] + B[3, :, 3],                   # dR
    -B[0, :, 1] + B[1, :, 0] - B[2, :, 3] + B[3, :, 2],                  # dI
    -B[0, :, 2] + B[1, :, 3] + B[2, :, 0] - B[3, :, 1],                  # dJ
    -B[0, :, 3] - B[1, :, 2] + B[2, :, 1] + B[3, :, 0]])                 # dK
assert np.array_equal(dWq_hand, QUATERNION.block_matrix_grad(dM, Wq.shape))

# the adjoint identity <block_matrix(W), D> = <W, block_matrix_grad(D)>, for any D
D = rng.standard_normal(M.shape)
assert np.isclose(np.sum(QUATERNION.block_matrix(Wq) * D),
                  np.sum(Wq * QUATERNION.block_matrix_grad(D, Wq.shape)), rtol=1e-12)

# %% [markdown]
# The referee, again independent of everything above: central differences through the
# Hamilton-product loops of section 4.

# %%
def quaternion_loss(x, wq):
    return float(np.sum(Gq * qconv_hamilton(x, wq, padding=1)))


num_xq, num_Wq = numerical_gradients(quaternion_loss, [xq_in.copy(), Wq.copy()])
print("hand-derived vs numerical (quaternion convolution)")
assert all([cmp("dL/dx", dxq_hand, num_xq, rtol=1e-6, atol=1e-6),
            cmp("dL/dW", dWq_hand, num_Wq, rtol=1e-6, atol=1e-6)])

# %% [markdown]
# Forgetting that each component is used four times is the classic bug.  Keep only the
# copy in M's first block column (dR = dM_rr, dI = dM_ir, dJ = dM_jr, dK = dM_kr) and
# three of the four terms of every sum are missing; the numerical check sees it at once:

# %%
only_one_block = np.stack([B[0, :, 0], B[1, :, 0], B[2, :, 0], B[3, :, 0]])  # first column
error = np.abs(only_one_block - num_Wq).max()
print(f"first block column only: maxdiff {error:.2f}")
assert error > 0.1

# %% [markdown]
# The library: `quaternion_conv2d` (behind `nn.QConv2d`), with G as the upstream gradient,
# and then gradcheck with a bias and stride 2.

# %%
xq_t = hp.tensor(xq_in.copy(), requires_grad=True)
Wq_t = hp.tensor(Wq.copy(), requires_grad=True)
yq_t = quaternion_conv2d(xq_t, Wq_t, padding=1)
yq_t.backward(Gq)
print("library vs hand-derived")
assert all([cmp("y", yq_t.data, yq_hamilton, 1e-12, 1e-12),
            cmp("dL/dx", xq_t.grad, dxq_hand, 1e-12, 1e-12),
            cmp("dL/dW", Wq_t.grad, dWq_hand, 1e-12, 1e-12)])

bq_t = hp.tensor(rng.standard_normal(4 * OQ), requires_grad=True)
result = hp.gradcheck(lambda x, w, b: quaternion_conv2d(x, w, b, stride=2, padding=1),
                      xq_t, Wq_t, bq_t)
print(result)
assert result.passed

# %% [markdown]
# ## 6. Counting parameters — and arithmetic
#
# Channel counts are real units, so `nn.QConv2d(64, 64, 3)` is a drop-in replacement for
# `nn.Conv2d(64, 64, 3)`: 16 quaternion channels in and out, weight (4, 16, 16, 3, 3).

# %%
conv_real, conv_quat = nn.Conv2d(64, 64, 3, padding=1), nn.QConv2d(64, 64, 3, padding=1)
print(f"Conv2d(64, 64, 3).weight  {conv_real.weight.shape}: {conv_real.weight.size:,}")
print(f"QConv2d(64, 64, 3).weight {conv_quat.weight.shape}: {conv_quat.weight.size:,}")
assert conv_real.weight.size == 64 * 64 * 3 * 3 == 36_864
assert conv_quat.weight.shape == (4, 16, 16, 3, 3) and conv_quat.weight.size == 9_216
assert conv_real.bias.size == conv_quat.bias.size == 64          # biases stay real

# %% [markdown]
# The Conv-2/4/6 networks of Frankle & Carbin (`hyperprune.models`): 3 × 3 convolutions
# with padding 1, 2 × 2 max pooling after each pair, then fully connected layers 256, 256,
# 10.  The quaternion versions (Iqbal & Mishra) use QConv2d and QLinear everywhere except
# the 10-way output layer, and take 4 input channels (section 7).  A short formula
# reproduces every count: convolutions C_in·C_out·9, dense layers in·out, divided by 4 for
# quaternion layers.

# %%
def count_weights(model):
    return sum(layer.weight.size for layer in prune.prunable_layers(model).values())


def weights_by_formula(plan, quaternion, in_channels):
    share = 4 if quaternion else 1
    total, channels, size = 0, in_channels, 32
    for step in PLANS[plan]:
        if step == "pool":
            size //= 2
        else:
            total += channels * step * 9 // share
            channels = step
    flat = channels * size * size
    return total + (flat * 256 + 256 * 256) // share + 256 * 10   # the output layer is real


KNOWN = {"conv2": (4_300_992, 1_077_312), "conv4": (2_425_024, 608_320),
         "conv6": (2_261_184, 567_360)}
print(f"{'':>6} {'real':>11} {'quaternion':>11} {'ratio':>7}")
for plan, build in (("conv2", conv2), ("conv4", conv4), ("conv6", conv6)):
    n_real, n_quat = count_weights(build("real")), count_weights(build("quaternion"))
    print(f"{plan:>6} {n_real:>11,} {n_quat:>11,} {n_quat / n_real:>7.1%}")
    assert (n_real, n_quat) == KNOWN[plan]
    assert n_real == weights_by_formula(plan, False, 3)
    assert n_quat == weights_by_formula(plan, True, 4)
assert count_weights(conv2("quaternion", first_layer="real")) == 1_078_464


def convolution_share(model):
    layers = prune.prunable_layers(model).values()
    conv = sum(layer.weight.size for layer in layers if getattr(layer, "is_convolution", False))
    return conv / count_weights(model)


print(f"share of the weights in convolutions: conv2 {convolution_share(conv2()):.1%}, "
      f"conv6 {convolution_share(conv6()):.1%}")
assert convolution_share(conv2()) < 0.01 and 0.45 < convolution_share(conv6()) < 0.55

# %% [markdown]
# Conv-2 is mostly its first dense layer (64·16·16 = 16,384 inputs × 256 = 4.19M of its
# 4.30M weights); Conv-6 pools three times before flattening, and there the convolutions
# hold about half of the weights.  Either way the quaternion model has about a quarter of
# the weights (slightly more, because the real output layer is not divided by 4).
#
# **Arithmetic does not shrink.**  A quaternion convolution runs as the real convolution
# with M, whose shape is the real layer's weight shape: the same GEMMs, the same
# multiply-adds, O·C·kh·kw per output position.  Counted quaternion by quaternion it is
# the same number: (O/4)·(C/4)·kh·kw Hamilton products of 16 real multiply-adds each.

# %%
def multiply_adds(model, image_size=32):
    """Multiply-adds of one forward pass on one image (convolutions and dense layers)."""
    total, size = 0, image_size
    for layer in model:
        if getattr(layer, "is_convolution", False):
            size = output_size(size, layer.kernel_size[0], layer.stride[0], layer.padding[0])
            kernel_area = layer.kernel_size[0] * layer.kernel_size[1]
            total += layer.out_channels * layer.in_channels * kernel_area * size * size
        elif isinstance(layer, nn.MaxPool2d):
            size = output_size(size, layer.kernel_size[0], layer.stride[0])
        elif hasattr(layer, "in_features"):
            total += layer.in_features * layer.out_features
    return total


assert (OQ * CQ * KH * KW) * 16 == M.size                # per position: 16 per Hamilton product
print(f"{'':>6} {'real':>14} {'quaternion':>14}   multiply-adds per image")
for plan, build in (("conv2", conv2), ("conv4", conv4), ("conv6", conv6)):
    macs_real = multiply_adds(build("real"))
    macs_quat = multiply_adds(build("quaternion", first_layer="real"))   # same RGB input
    print(f"{plan:>6} {macs_real:>14,} {macs_quat:>14,}")
    assert macs_real == macs_quat
assert multiply_adds(conv2("real")) == (3 * 64 + 64 * 64) * 9 * 32 * 32 + 16_384 * 256 \
    + 256 * 256 + 256 * 10

# %% [markdown]
# With the quaternion first layer on 4 input channels, only that layer does a third more
# work (4 input channels instead of 3).  So: **quaternion layers save parameters (and
# memory, and bandwidth for the weights), not arithmetic.**

# %% [markdown]
# ## 7. What the first quaternion layer sees: encoding RGB
#
# A QConv2d needs a multiple of 4 input channels; a colour image has 3.  Two encodings
# (`hyperprune.models.encodings`) turn each pixel into one quaternion:
#
# * `encode_rgb_gray`: (R, G, B, gray) with gray = 0.299 R + 0.587 G + 0.114 B, i.e. the
#   pixel R + G i + B j + gray k (Iqbal & Mishra's choice; `gray_first=True` gives
#   (gray, R, G, B) instead);
# * `encode_zero_rgb`: (0, R, G, B), the pure quaternion R i + G j + B k.
#
# With 4 channels there is one quaternion channel, so the planar layout is simply
# channel 0 = real part, 1 = i, 2 = j, 3 = k.  No data set needed: a random "image" batch.

# %%
rgb = rng.random((2, 3, 4, 4))                          # 2 images, RGB in [0, 1), 4 x 4
rgb_gray = encode_rgb_gray(rgb)
zero_rgb = encode_zero_rgb(rgb)
gray = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
print("RGB", rgb.shape, "-> (R, G, B, gray)", rgb_gray.shape, "and (0, R, G, B)", zero_rgb.shape)
print("pixel (0, 0) of image 0 as a quaternion:", rgb_gray[0, :, 0, 0], "and", zero_rgb[0, :, 0, 0])
assert rgb_gray.shape == zero_rgb.shape == (2, 4, 4, 4)
assert np.array_equal(rgb_gray[:, :3], rgb) and np.allclose(rgb_gray[:, 3], gray)
assert np.all(zero_rgb[:, 0] == 0) and np.array_equal(zero_rgb[:, 1:], rgb)
assert np.allclose(encode_rgb_gray(rgb, gray_first=True)[:, 0], gray)
assert GRAY_WEIGHTS == (0.299, 0.587, 0.114)

# %% [markdown]
# A 1 × 1 QConv2d from these 4 channels to 4 channels multiplies every pixel quaternion
# by one quaternion weight on the left:

# %%
w_pixel = rng.standard_normal((4, 1, 1, 1, 1))                 # one quaternion weight
y_pixels = quaternion_conv2d(hp.tensor(rgb_gray), hp.tensor(w_pixel)).data
expected = hamilton_product(w_pixel[:, 0, 0, 0, 0], np.moveaxis(rgb_gray, 1, -1))  # (N, H, W, 4)
assert np.allclose(y_pixels, np.moveaxis(expected, -1, 1), rtol=1e-12, atol=1e-12)

# %% [markdown]
# Neither encoding adds information — gray is a fixed mix of R, G, B, and 0 is nothing —
# so a quaternion first layer on the encoded image is just a real convolution on RGB with
# a **constrained** weight.  Fold the encoding into the layer's real weight M:
#
# * (R, G, B, gray):  W_rgb[:, c] = M[:, c] + g_c · M[:, 3]     (g = the gray weights)
# * (0, R, G, B):     W_rgb = M[:, 1:4]                        (channel 0 multiplies zeros)
#
# A real Conv2d(3, 8, 3) has 216 free weights; QConv2d(4, 8, 3) has 72, and its RGB filter
# is a fixed linear function of them.  The encoding chooses *which* 72-dimensional family
# of RGB filters the first layer can express.

# %%
Wq_first = rng.standard_normal((4, 2, 1, 3, 3))                # QConv2d(4, 8, 3)'s weight
M_first = QUATERNION.block_matrix(Wq_first)                    # (8, 4, 3, 3)
g = np.array(GRAY_WEIGHTS).reshape(1, 3, 1, 1)
W_from_rgb_gray = M_first[:, :3] + g * M_first[:, 3:4]
W_from_zero_rgb = M_first[:, 1:4]
for encoded, W_rgb in ((rgb_gray, W_from_rgb_gray), (zero_rgb, W_from_zero_rgb)):
    y_quat = quaternion_conv2d(hp.tensor(encoded), hp.tensor(Wq_first), padding=1).data
    y_real = conv2d(hp.tensor(rgb), hp.tensor(W_rgb), padding=1).data
    assert np.allclose(y_quat, y_real, rtol=1e-12, atol=1e-12)
print(f"QConv2d(4, 8, 3): {Wq_first.size} weights; equivalent Conv2d(3, 8, 3) on RGB: "
      f"{W_from_rgb_gray.size} entries")

# %% [markdown]
# In the models, `conv2("quaternion")` starts with QConv2d(4, 64, 3) and expects one of
# these encodings; `conv2("quaternion", first_layer="real")` starts with a real
# Conv2d(3, 64, 3) on RGB instead (1,152 more weights, the count in the papers).

# %%
for first_layer, channels in (("quaternion", 4), ("real", 3)):
    model = conv2("quaternion", first_layer=first_layer, width=0.25)
    print(f"first_layer={first_layer!r:<13}: {model[0]!r}")
    out = model(hp.tensor(np.zeros((2, channels, 32, 32), dtype=np.float32)))
    assert out.shape == (2, 10)
assert isinstance(conv2("quaternion")[0], nn.QConv2d)
assert type(conv2("quaternion", first_layer="real")[0]) is nn.Conv2d

# %% [markdown]
# ## 8. Max pooling and its backward
#
# 2 × 2 max pooling keeps the largest value of each window.  Its derivative is 1 for the
# element that was the maximum and 0 for the others, so the backward sends each window's
# gradient to its **argmax** and nothing elsewhere.  When windows overlap (kernel larger
# than stride) a pixel can be the maximum of several windows and collects all their
# gradients.  On a tie the library gives the gradient to the first maximum in row-major
# window order, never split.  On quaternion features pooling acts per channel, so per
# component ("split" pooling).

# %%
def max_pool_by_hand(x, k, stride, g):
    """Forward and backward of max pooling, with an explicit argmax per window."""
    n_images, channels, height, width = x.shape
    ho, wo = out_size(height, k, stride), out_size(width, k, stride)
    y, dx = np.empty((n_images, channels, ho, wo)), np.zeros_like(x)
    for n, c, p, q in np.ndindex(n_images, channels, ho, wo):
        window = x[n, c, p * stride:p * stride + k, q * stride:q * stride + k]
        i, j = np.unravel_index(np.argmax(window), window.shape)   # first max, row-major
        y[n, c, p, q] = window[i, j]
        dx[n, c, p * stride + i, q * stride + j] += g[n, c, p, q]
    return y, dx


for k, stride in ((2, 2), (3, 2)):                           # disjoint, then overlapping
    x_pool = rng.standard_normal((2, 3, 7, 7))
    ho = out_size(7, k, stride)
    g_pool = rng.standard_normal((2, 3, ho, ho))
    y_ref, dx_ref = max_pool_by_hand(x_pool, k, stride, g_pool)
    x_pool_t = hp.tensor(x_pool.copy(), requires_grad=True)
    y_pool = max_pool2d(x_pool_t, k, stride)
    y_pool.backward(g_pool)
    print(f"max pool {k}x{k}, stride {stride}: {x_pool.shape[2:]} -> {y_pool.shape[2:]}")
    assert np.array_equal(y_pool.data, y_ref) and np.allclose(x_pool_t.grad, dx_ref)
    # nothing is lost or created: each window hands its whole gradient to one pixel
    assert np.isclose(x_pool_t.grad.sum(), g_pool.sum(), rtol=1e-12)
    assert np.count_nonzero(x_pool_t.grad) <= g_pool.size
    result = hp.gradcheck(lambda x: max_pool2d(x, k, stride), x_pool_t)
    print(result)
    assert result.passed

# a tie: a constant image; every window's gradient goes to its top-left element
x_flat = hp.tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
max_pool2d(x_flat, 2).backward(np.ones((1, 1, 2, 2)))
print("gradient of 2x2 max pooling on a constant image:\n", x_flat.grad[0, 0])
assert np.array_equal(x_flat.grad[0, 0], np.kron(np.ones((2, 2)), [[1, 0], [0, 0]]))

# %% [markdown]
# (gradcheck works here because random inputs have no ties: each window's maximum is
# ahead of the runner-up by far more than the step 1e-6, so the argmax does not move while
# the derivative is estimated.  At a tie max is not differentiable, and the first-maximum
# rule is a choice.)
#
# ## 9. Timing (informative only)
#
# Forward + backward of Conv2d(32, 32, 3) and QConv2d(32, 32, 3) with padding 1, float32,
# on 8 images of 16 × 16.  By section 6 both do the same GEMMs, so expect similar times;
# the quaternion layer also assembles M and folds dL/dM.  Machine dependent: nothing is
# asserted.

# %%
def time_layer(layer, x, iterations):
    layer(x).sum().backward()                                  # warm-up
    start = time.perf_counter()
    for _ in range(iterations):
        layer.zero_grad()
        layer(x).sum().backward()
    return (time.perf_counter() - start) / iterations


hp.manual_seed(0)
x_batch = hp.tensor(rng.standard_normal((8, 32, 16, 16)).astype(np.float32))
iterations = 3 if FAST else 20
for name, layer in (("Conv2d(32, 32, 3)", nn.Conv2d(32, 32, 3, padding=1)),
                    ("QConv2d(32, 32, 3)", nn.QConv2d(32, 32, 3, padding=1))):
    print(f"{name:<19} weights {layer.weight.size:>6,}   "
          f"{time_layer(layer, x_batch, iterations) * 1e3:6.2f} ms per forward+backward")

# %% [markdown]
# ## Summary
#
# * A convolution is a dot product per output position; Ho = ⌊(H + 2·pad − kh)/s⌋ + 1.
# * im2col copies every window into a column of X (C·kh·kw × N·Ho·Wo), so y = W2 X is one
#   GEMM.  im2col is a 0/1 copy matrix; its adjoint col2im adds the copies back up.
# * Backward: dL/dW2 = G Xᵀ, dL/dx = col2im(W2ᵀ G), dL/db = Σ G.
# * The quaternion convolution is the real convolution with M = block_matrix(W)
#   (lesson 3's blocks, the kernel axes riding along); its backward is the real one plus
#   dL/dW_a = the signed sum of the 4 blocks of dL/dM holding W_a (block_matrix_grad,
#   the adjoint of block_matrix).
# * QConv2d has 4× fewer weights than Conv2d (9,216 vs 36,864), the same multiply-adds.
# * RGB becomes one quaternion per pixel, (R, G, B, gray) or (0, R, G, B); the first
#   quaternion layer is then a constrained real convolution on RGB.
# * Max pooling routes each window's gradient to its (first) maximum.

# %%
print(f"Lesson 5: all checks passed in {time.perf_counter() - LESSON_START:.1f} s.")
