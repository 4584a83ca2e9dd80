"""Convolution and pooling on NCHW images, each backward derived by hand.

Shapes: x (N, C, H, W) -- batch, channels, height, width -- as PyTorch.  With a kernel
(kh, kw), stride (sh, sw) and zero padding (ph, pw) the output has

    Ho = floor((H + 2 ph - kh) / sh) + 1,   Wo = floor((W + 2 pw - kw) / sw) + 1

positions (rows or columns that do not fill a whole window are dropped, as in PyTorch).

Convolution (cross-correlation, as every deep-learning library): weight (O, C, kh, kw),

    y[n, o, p, q] = b[o] + sum_{c, i, j} W[o, c, i, j] x[n, c, p sh + i - ph, q sw + j - pw]

with x = 0 outside the image.  im2col lays every window out as a column,

    X[(c, i, j), (n, p, q)] = x[n, c, p sh + i - ph, q sw + j - pw]      (C kh kw, N Ho Wo)

so the convolution is one GEMM, Y = W2 X with W2 = W.reshape(O, C kh kw), and with
G = dL/dY (O, N Ho Wo) the backward is two more GEMMs and a sum:

    dL/dW2 = G X^T          (the columns X, kept from the forward)
    dL/dX  = W2^T G         then col2im: every entry of X is a copy of one entry of x (or
                            a padding zero), so dL/dx[n, c, h, w] is the sum of the entries
                            of dL/dX that were copied from x[n, c, h, w] -- for each kernel
                            offset (i, j), one strided add of that slice back where it
                            came from
    dL/db  = sum of G over n, p, q.
With stride 1 and O <= C, dL/dx is instead computed as what it also is -- the convolution
of G with the kernel flipped and transposed (one im2col of G, one GEMM, no col2im).

Hypercomplex convolution, y = W ⊛ x with the algebra product (the Hamilton product for
quaternions), on the planar channel layout [r | i | j | k] of QLinear: channels
0..C/4-1 are the real parts, and so on.  The weight (n, O/n, C/n, kh, kw) holds one
hypercomplex number per (output, input, kernel offset); at each offset the product
W[..., i, j] ⊗ x is the linear map of the real block matrix M of QLinear, so the layer
is a real convolution with the assembled weight M = Algebra.block_matrix(W) of shape
(O, C, kh, kw) (the kernel axes ride along).  Forward and backward are the real ones; the
only extra work is on the weight side -- assembling M and folding dL/dM back into
dL/dW = Algebra.block_matrix_grad(dL/dM), the signed sum of the n blocks that hold each
component (the same one-GEMM block-sum trick as QLinear at large batch).  With 16 blocks
from 4 components, QConv2d has a quarter of Conv2d's weights at the same cost.

Pooling (no padding; stride defaults to the kernel size):
    max:      y = max over the window;  dL/dx: G goes to the window's maximum -- on a tie
              to the first maximum in row-major window order (as PyTorch's CPU kernel),
              never split -- and overlapping windows accumulate.
    average:  y = mean over the window; dL/dx: G / (kh kw) to every element of the window.
    global average: the mean over H and W, (N, C, H, W) -> (N, C) (composed from `mean`).
On quaternion features these act per channel, i.e. per component (split pooling).

Every op uses only basic strided slicing, so the same code runs on NumPy, CuPy and the
strict stand-in with no backend helper: im2col is kh*kw strided slice copies into one
zeroed buffer, col2im kh*kw strided adds, and windows are clipped to the image instead of
padding a copy of x.  (A sliding_window_view of a padded copy, copied once, measured no
faster, and CuPy has it only from version 13.)  X costs C kh kw N Ho Wo floats -- 141 MB
for Conv-2's second layer at batch 60 -- and is the bulk of a conv's memory traffic:
written once, read by two GEMMs, then recycled as dL/dX.
"""

from .. import backend
from ..algebra import QUATERNION, get_algebra
from ..autograd import Function, as_tensor
from ..checks import check_same_dtype, int_pair
from .phm import kronecker_sum
from .reduction import mean

_get_xp = backend.get_array_module


# ========================================================================== geometry
def output_size(size, kernel, stride, padding=0):
    """Window positions along one axis: floor((size + 2 padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def _valid(offset, size, out_size, stride, padding):
    """For one kernel offset: (output slice, input slice) of the positions inside the image.

    Output position p reads input p*stride + offset - padding; the p for which that lies in
    [0, size) are lo <= p < hi.  None when the offset only ever sees padding.
    """
    lo = max(0, -((offset - padding) // stride))            # ceil((padding - offset) / stride)
    hi = min(out_size, (size - 1 + padding - offset) // stride + 1)
    if hi <= lo:
        return None
    start = lo * stride + offset - padding
    return slice(lo, hi), slice(start, start + (hi - lo - 1) * stride + 1, stride)


def _offsets(kernel, stride, padding, in_hw, out_hw):
    """(i, j, output slices, input slices) for every kernel offset that sees the image."""
    for i in range(kernel[0]):
        rows = _valid(i, in_hw[0], out_hw[0], stride[0], padding[0])
        for j in range(kernel[1]):
            columns = _valid(j, in_hw[1], out_hw[1], stride[1], padding[1])
            if rows and columns:
                yield i, j, (rows[0], columns[0]), (rows[1], columns[1])


def im2col(x, kernel, stride, padding, out=None):
    """x (N, C, H, W) -> X (C kh kw, N Ho Wo):

        X[(c, i, j), (n, p, q)] = x[n, c, p sh + i - ph, q sw + j - pw]   (0 in the padding)

    kh*kw strided slice copies into one buffer (`out`, uninitialised, e.g. from the buffer
    pool, or a new one); only the frame each copy leaves uncovered -- the padding -- is
    zeroed.  Rows are (c, i, j) -- W.reshape(O, -1)'s column order -- and columns
    (n, p, q), so each copy moves whole rows of image pixels (every sw-th one).
    """
    n, c, h, w = x.shape
    out_hw = (output_size(h, kernel[0], stride[0], padding[0]),
              output_size(w, kernel[1], stride[1], padding[1]))
    shape = (c * kernel[0] * kernel[1], n * out_hw[0] * out_hw[1])
    cols = _get_xp(x).empty(shape, dtype=x.dtype) if out is None else out
    view = cols.reshape((c, kernel[0], kernel[1], n) + out_hw)
    xt = x.transpose(1, 0, 2, 3)                                  # (C, N, H, W), a view
    covered = set()
    for i, j, rows_cols, inp in _offsets(kernel, stride, padding, (h, w), out_hw):
        plane = view[:, i, j]                                     # (C, N, Ho, Wo)
        rows, cols_ = rows_cols
        plane[:, :, rows, cols_] = xt[:, :, inp[0], inp[1]]
        for frame in ((slice(0, rows.start), slice(None)), (slice(rows.stop, None), slice(None)),
                      (rows, slice(0, cols_.start)), (rows, slice(cols_.stop, None))):
            plane[(slice(None), slice(None)) + frame] = 0
        covered.add((i, j))
    for i in range(kernel[0]):                 # offsets that only ever see padding
        for j in range(kernel[1]):
            if (i, j) not in covered:
                view[:, i, j] = 0
    return cols


def _cols_shape(x_shape, kernel, stride, padding):
    n, c, h, w = x_shape
    return (c * kernel[0] * kernel[1], n * output_size(h, kernel[0], stride[0], padding[0])
            * output_size(w, kernel[1], stride[1], padding[1]))


def col2im(dcols, x_shape, kernel, stride, padding):
    """The adjoint of im2col: dX (C kh kw, N Ho Wo) -> dx (N, C, H, W), summing the copies.

    For each kernel offset (i, j), dx[:, :, window rows, window cols] += dX[(:, i, j), :]:
    kh*kw strided adds into one zeroed array (windows overlap when stride < kernel).
    """
    n, c, h, w = x_shape
    out_hw = (output_size(h, kernel[0], stride[0], padding[0]),
              output_size(w, kernel[1], stride[1], padding[1]))
    d = dcols.reshape((c, kernel[0], kernel[1], n) + out_hw)
    offsets = list(_offsets(kernel, stride, padding, (h, w), out_hw))
    whole = [k for k, (_, _, _, inp) in enumerate(offsets)
             if _covers(inp[0], h) and _covers(inp[1], w)]
    xp = _get_xp(dcols)
    # an offset covering every pixel (a 3x3 kernel's centre with padding 1) is assigned
    # first: no zero fill, one read-modify-write pass fewer
    dx = (xp.empty if whole else xp.zeros)(x_shape, dtype=dcols.dtype)
    dxt = dx.transpose(1, 0, 2, 3)                                # (C, N, H, W), a view
    if whole:
        i, j, out, inp = offsets.pop(whole[0])
        dxt[...] = d[:, i, j, :, out[0], out[1]]
    for i, j, out, inp in offsets:
        dxt[:, :, inp[0], inp[1]] += d[:, i, j, :, out[0], out[1]]
    return dx


def _covers(index, size):
    """Whether a slice from _valid takes every element of an axis of length `size`."""
    return index.start == 0 and index.stop >= size and index.step == 1


# ======================================================================= convolution
def _gradient_by_convolution(m_shape, stride, padding):
    """Whether dL/dx is cheaper as a convolution of G than as M2^T G and col2im.

    With stride 1, dL/dx is itself a convolution: the correlation of G with the kernel
    flipped in both spatial axes and its in/out channels swapped, padded by (k - 1 - p),

        dL/dx[n, c, h, w] = sum_{o, i, j} W[o, c, kh-1-i, kw-1-j] G[n, o, h + i - (kh-1-ph),
                                                                       w + j - (kw-1-pw)],

    one im2col of G and one GEMM, no col2im (whose scatter-adds cost about twice im2col's
    copies).  Chosen when G's columns are no larger than x's, O <= C (measured on Conv-4's
    layers: 10-20% less time for dL/dx; with O = 2C, 15-20% more).
    """
    o, c, kh, kw = m_shape
    return stride == (1, 1) and o <= c and padding[0] < kh and padding[1] < kw


def _input_gradient_by_convolution(g, m, padding):
    """dL/dx for stride 1 as the convolution of G with the flipped kernel (see above):
    g (N, O, Ho, Wo), m (O, C, kh, kw) -> (N, C, H, W)."""
    xp = _get_xp(g)
    o, c, kh, kw = m.shape
    n = g.shape[0]
    pad = (kh - 1 - padding[0], kw - 1 - padding[1])
    # flipped[c, (o, i, j)] = M[o, c, kh-1-i, kw-1-j]: small, so one contiguous copy
    flipped = xp.ascontiguousarray(m[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(c, -1)
    cols = im2col(g, (kh, kw), (1, 1), pad, out=backend.buffers.take(
        xp, _cols_shape(g.shape, (kh, kw), (1, 1), pad), g.dtype))
    hw = tuple(output_size(s, k, 1, p) for s, k, p in zip(g.shape[2:], (kh, kw), pad))
    gx = (flipped @ cols).reshape((c, n) + hw).transpose(1, 0, 2, 3)
    backend.buffers.give(cols)
    return gx


class Conv2dFunction(Function):
    """y = W ⊛ x + b, one fused op (formulas in the module docstring).

    x: (N, C, H, W)   weight: (O, C, kh, kw) real, or (n, O/n, C/n, kh, kw) for an algebra
    of dimension n   bias: (O,) real   y: (N, O, Ho, Wo).

    forward:   M = weight (real) or algebra.block_matrix(weight)       (O, C, kh, kw)
               X = im2col(x)  -- the one copy of the input --          (C kh kw, N Ho Wo)
               Y = M2 X + b  (one GEMM, M2 = M.reshape(O, -1)), returned as an (N, O, Ho,
               Wo) view of the (O, N, Ho, Wo) product: no transposing copy; elementwise
               ops keep that memory order, so the gradient comes back laid out as G.
    backward:  G = dL/dy as (O, N Ho Wo) (a transposing copy only if it is not already)
               dL/dM = G X^T   -- one GEMM; BLAS reads the transposed operand in place
                                  (no copy); QConv2d then folds it on the weight side:
                                  dL/dW = algebra.block_matrix_grad(dL/dM)
               dL/dX = M2^T G  -- written into X's buffer, which dL/dM no longer needs
               dL/dx = col2im(dL/dX),  dL/db = G summed over (n, p, q); with stride 1
               and O <= C, dL/dx = G ⊛ flipped M instead (_gradient_by_convolution).
    X is released in backward (a second backward through the same graph rebuilds it).
    """

    def __init__(self, stride=1, padding=0, algebra=None):
        self.stride = int_pair(stride, "stride")
        self.padding = int_pair(padding, "padding", minimum=0)
        self.algebra = algebra

    def forward(self, x, weight, bias=None):
        xp = _get_xp(x)
        m = weight if self.algebra is None else self.algebra.block_matrix(weight)
        o, kernel = m.shape[0], m.shape[2:]
        n = x.shape[0]
        cols = im2col(x, kernel, self.stride, self.padding, out=backend.buffers.take(
            xp, _cols_shape(x.shape, kernel, self.stride, self.padding), x.dtype))
        self.x, self.w_shape, self.m, self.cols = x, weight.shape, m, cols
        out_hw = tuple(output_size(s, k, st, p) for s, k, st, p in
                       zip(x.shape[2:], kernel, self.stride, self.padding))
        y = (m.reshape(o, -1) @ cols).reshape((o, n) + out_hw)
        if bias is not None:
            y += bias.reshape(o, 1, 1, 1)
        out = y.transpose(1, 0, 2, 3)
        if not any(self.needs_input_grad[:2]):     # no backward will read the columns
            backend.buffers.give(cols)
            self.cols = None
        return out

    def backward(self, g):
        xp = _get_xp(g)
        m, kernel = self.m, self.m.shape[2:]
        o = m.shape[0]
        gc = xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, -1)  # (O, N Ho Wo)
        cols, self.cols = self.cols, None
        if cols is None:  # a second backward through this graph: rebuild the columns
            cols = im2col(self.x, kernel, self.stride, self.padding)
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        gx = gw = gb = None
        if need_w:                                                    # dL/dM = G X^T
            # The inner dimension N Ho Wo is long; OpenBLAS's 2-thread split handles that
            # badly when the product has fewer rows than columns (measured: ~1 s instead of
            # ~60 ms on a loaded 2-core machine), so the taller orientation is chosen.
            gm = (cols @ gc.T).T if cols.shape[0] >= o else gc @ cols.T
            gm = gm.reshape(m.shape)
            gw = gm if self.algebra is None else \
                self.algebra.block_matrix_grad(gm, self.w_shape)
        by_convolution = need_x and _gradient_by_convolution(m.shape, self.stride,
                                                             self.padding)
        if need_x and not by_convolution:
            dcols = xp.matmul(m.reshape(o, -1).T, gc, out=cols)      # dL/dX = M2^T G
            gx = col2im(dcols, self.x.shape, kernel, self.stride, self.padding)
        backend.buffers.give(cols)          # for the next step, or for G's columns below
        if by_convolution:
            gx = _input_gradient_by_convolution(g, m, self.padding)
        if len(self.needs_input_grad) == 2:
            return gx, gw
        if self.needs_input_grad[2]:
            gb = gc.sum(axis=1)
        return gx, gw, gb


def _check_image(what, x, channels):
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{what}: expected an input of shape (N, {channels}, H, W), got "
                         f"{x.shape}")


def _convolve(what, x, weight, bias, stride, padding, algebra, out_channels):
    stride, padding = int_pair(stride, f"{what}: stride"), int_pair(padding, f"{what}: padding", 0)
    kernel = weight.shape[-2:]
    if any(output_size(s, k, st, p) < 1 for s, k, st, p in
           zip(x.shape[2:], kernel, stride, padding)):
        raise ValueError(f"{what}: kernel {kernel} does not fit the input of spatial size "
                         f"{x.shape[2:]} with padding {padding}")
    check_same_dtype(what, x, weight, None if bias is None else as_tensor(bias))
    fn = Conv2dFunction(stride, padding, algebra)
    if bias is None:
        return fn(x, weight)
    bias = as_tensor(bias)
    if bias.shape != (out_channels,):
        raise ValueError(f"{what}: bias of shape {bias.shape} does not match "
                         f"{out_channels} output channels")
    return fn(x, weight, bias)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """y = weight ⊛ x + bias:  x (N, C, H, W), weight (O, C, kh, kw), bias (O,)
    -> y (N, O, Ho, Wo)."""
    x, weight = as_tensor(x), as_tensor(weight)
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (out_channels, in_channels, kh, kw), "
                         f"got {weight.shape}")
    _check_image("conv2d", x, weight.shape[1])
    return _convolve("conv2d", x, weight, bias, stride, padding, None, weight.shape[0])


def hypercomplex_conv2d(x, weight, bias=None, stride=1, padding=0, algebra=QUATERNION):
    """y = weight ⊛ x + bias over an algebra of dimension n, planar channels:
    x (N, n*C_q, H, W), weight (n, O_q, C_q, kh, kw), bias (n*O_q,) -> (N, n*O_q, Ho, Wo)."""
    algebra = get_algebra(algebra)
    x, weight = as_tensor(x), as_tensor(weight)
    n, what = algebra.dim, f"{algebra.name} conv2d"
    if weight.ndim != 5 or weight.shape[0] != n:
        raise ValueError(f"{what}: weight must have shape ({n}, out, in, kh, kw) in "
                         f"{algebra.name} units, got {weight.shape}")
    _check_image(what, x, n * weight.shape[2])
    return _convolve(what, x, weight, bias, stride, padding, algebra, n * weight.shape[1])


def quaternion_conv2d(x, weight, bias=None, stride=1, padding=0):
    """The quaternion convolution y = W ⊛ x + b (Hamilton product; see hypercomplex_conv2d)."""
    return hypercomplex_conv2d(x, weight, bias, stride, padding, QUATERNION)


# =========================================================================== pooling
def _windows(shape, kernel, stride):
    """(offset number k = i*kw + j, index of the (i, j) element of every window)."""
    out_hw = (output_size(shape[2], kernel[0], stride[0]),
              output_size(shape[3], kernel[1], stride[1]))
    for i, j, _, inp in _offsets(kernel, stride, (0, 0), shape[2:], out_hw):
        yield i * kernel[1] + j, (slice(None), slice(None)) + inp


class MaxPool2dFunction(Function):
    """y[n, c, p, q] = max_{i,j} x[n, c, p sh + i, q sw + j]  (no padding).

    dL/dx: each window's gradient goes to its maximum; on a tie to the first one in
    row-major window order (as PyTorch's CPU kernel), so exactly one element per window
    receives it.  Overlapping windows accumulate.  The forward is a running maximum over
    the kh*kw strided slices (nothing else: evaluation pays for no bookkeeping); the
    backward finds each window's first maximum again, slice by slice, by comparing with
    y and keeping a mask of the windows already served.
    """

    def __init__(self, kernel_size, stride=None):
        self.kernel = int_pair(kernel_size, "kernel_size")
        self.stride = self.kernel if stride is None else int_pair(stride, "stride")

    def forward(self, x):
        xp = _get_xp(x)
        windows = list(_windows(x.shape, self.kernel, self.stride))
        y = x[windows[0][1]].copy(order="K")    # x's memory order (a conv's output: O, N)
        for _, key in windows[1:]:
            xp.maximum(y, x[key], out=y)
        if any(self.needs_input_grad):
            self.x, self.y = x, y
        return y

    def backward(self, g):
        xp = _get_xp(g)
        x, y = self.x, self.y
        windows = list(_windows(x.shape, self.kernel, self.stride))
        covers = self.kernel == self.stride and all(
            s == o * k for s, o, k in zip(x.shape[2:], y.shape[2:], self.kernel))
        dx = (xp.empty_like if covers else xp.zeros_like)(x, dtype=g.dtype)
        free = xp.ones_like(y, dtype=bool)           # windows whose maximum is still unseen
        hit = xp.empty_like(y, dtype=bool)
        if g.strides != y.strides:    # every array in x's and y's memory order (Flatten's
            aligned = xp.empty_like(y, dtype=g.dtype)     # g is not): passes read in step
            aligned[...] = g
            g = aligned
        for _, key in windows:
            xp.equal(x[key], y, out=hit)
            hit &= free
            free &= ~hit
            if covers:                               # disjoint slices tiling x: assign
                xp.multiply(g, hit, out=dx[key])
            else:
                dx[key] += g * hit
        return dx


class AvgPool2dFunction(Function):
    """y[n, c, p, q] = 1/(kh kw) sum_{i,j} x[n, c, p sh + i, q sw + j]  (no padding).

    dL/dx: G / (kh kw) to every element of the window; overlapping windows accumulate.
    """

    def __init__(self, kernel_size, stride=None):
        self.kernel = int_pair(kernel_size, "kernel_size")
        self.stride = self.kernel if stride is None else int_pair(stride, "stride")

    def forward(self, x):
        self.shape = x.shape
        keys = [key for _, key in _windows(x.shape, self.kernel, self.stride)]
        y = x[keys[0]].copy()
        for key in keys[1:]:
            y += x[key]
        y *= 1.0 / (self.kernel[0] * self.kernel[1])
        return y

    def backward(self, g):
        dx = _get_xp(g).zeros(self.shape, dtype=g.dtype)
        share = g * (1.0 / (self.kernel[0] * self.kernel[1]))
        for _, key in _windows(self.shape, self.kernel, self.stride):
            dx[key] += share
        return dx


def _pool(what, cls, x, kernel_size, stride):
    x = as_tensor(x)
    kernel = int_pair(kernel_size, f"{what}: kernel_size")
    stride = kernel if stride is None else int_pair(stride, f"{what}: stride")
    if x.ndim != 4:
        raise ValueError(f"{what}: expected an input of shape (N, C, H, W), got {x.shape}")
    if x.shape[2] < kernel[0] or x.shape[3] < kernel[1]:
        raise ValueError(f"{what}: kernel {kernel} is larger than the input's spatial size "
                         f"{x.shape[2:]}")
    return cls(kernel, stride)(x)


def max_pool2d(x, kernel_size, stride=None):
    """Max over kernel_size windows moved by stride (default: kernel_size): (N, C, Ho, Wo)."""
    return _pool("max_pool2d", MaxPool2dFunction, x, kernel_size, stride)


def avg_pool2d(x, kernel_size, stride=None):
    """Mean over kernel_size windows moved by stride (default: kernel_size): (N, C, Ho, Wo)."""
    return _pool("avg_pool2d", AvgPool2dFunction, x, kernel_size, stride)


def global_avg_pool2d(x):
    """Mean over height and width: (N, C, H, W) -> (N, C).  Composed: dL/dx = G / (H W)."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool2d: expected an input of shape (N, C, H, W), got "
                         f"{x.shape}")
    return mean(x, axis=(2, 3))


def phm_conv2d(x, rules, weight, bias=None, stride=1, padding=0):
    """A PHM convolution (PHC): y = H ⊛ x + b with H = kronecker_sum(rules, weight), the
    Kronecker product over the channel blocks only (the kernel's axes ride along):
    x (N, n C_q, H, W), rules (n, n, n), weight (n, O_q, C_q, kh, kw), bias (n O_q,)."""
    weight = as_tensor(weight)
    if weight.ndim != 5:
        raise ValueError(f"phm_conv2d: weight must have shape (n, out/n, in/n, kh, kw), got "
                         f"{weight.shape}")
    return conv2d(x, kronecker_sum(rules, weight), bias, stride, padding)
