"""Input encodings: RGB images as 4-channel quaternion input (no autograd, host arrays).

A quaternion first layer reads planar [r | i | j | k] channels, so 3 colour channels
become 4 per pixel, per batch (the data stay RGB):

    rgb_gray   (R, G, B, gray), as Iqbal & Mishra (gray the k part)
    zero_rgb   (0, R, G, B): pure quaternions, colour in the imaginary parts

A model family says whether its input is encoded (Family.encoded_input); the run's
`encoding` setting says which of these.
"""
import numpy as np


#: ITU-R BT.601 luma weights of (R, G, B), as in PIL's convert("L").
GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def _rgb(x):
    x = np.asarray(x)
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"expected 3 colour channels on axis -3 (N, 3, H, W), got {x.shape}")
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)
    return x.astype(dtype, copy=False), dtype


def encode_rgb_gray(x, gray_first: bool = False) -> np.ndarray:
    """(N, 3, H, W) RGB -> (N, 4, H, W) quaternion input: colour channels plus gray.

    gray = 0.299 R + 0.587 G + 0.114 B (`GRAY_WEIGHTS`), a linear combination of whatever
    the channels hold (on normalized input, of the normalized channels).  Quaternion layers
    use the planar layout [r | i | j | k] along channels, so with 4 input channels channel
    0 is the real part:

        gray_first=False (default, as Iqbal & Mishra: gray 4th)  (R, G, B, gray):
            real = R, i = G, j = B, k = gray
        gray_first=True                                           (gray, R, G, B):
            real = gray, colour in the three imaginary parts

    Float input keeps its dtype; integer input gives float32.  Also works on (3, H, W).
    """
    x, dtype = _rgb(x)
    wr, wg, wb = (dtype.type(w) for w in GRAY_WEIGHTS)
    gray = wr * x[..., 0:1, :, :] + wg * x[..., 1:2, :, :] + wb * x[..., 2:3, :, :]
    return np.concatenate((gray, x) if gray_first else (x, gray), axis=-3)


def encode_zero_rgb(x) -> np.ndarray:
    """(N, 3, H, W) RGB -> (N, 4, H, W) pure quaternions (0, R, G, B): real part 0 and
    R, G, B in the i, j, k parts (planar layout [r | i | j | k]).  Float input keeps its
    dtype; integer input gives float32."""
    x, dtype = _rgb(x)
    zero = np.zeros(x.shape[:-3] + (1,) + x.shape[-2:], dtype=dtype)
    return np.concatenate((zero, x), axis=-3)


#: The encodings by name (the run setting `encoding`).
ENCODINGS = {"rgb_gray": encode_rgb_gray, "zero_rgb": encode_zero_rgb}
