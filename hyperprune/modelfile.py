"""The compressed model file (.hpz): a pruned, k-bit model at close to its information
content, verified before anything is decoded, never unpickled.

Layout (little-endian):

    b"HPZ1"                      magic and format version
    uint32 header length H, uint64 payload length P
    H bytes                      the header: zlib-compressed JSON
    P bytes                      the payload: every tensor's bytes, at offsets the header gives
    32 bytes                     SHA-256 of everything above

The header holds what rebuilds the model (its family, algebra and settings), and for each
tensor its name, shape and encoding:

    "coded"     a quantized prunable weight: its mask, the k-bit codes of the surviving
                entries only (in row-major order), bit-packed, and its scales (float16
                when float16 holds them exactly, else float32)
    "float16"   every other parameter and buffer (biases, norms, embeddings, PHM rules)
    "float32"   the same, for a float (unquantized, bits 32) export, which also stores the
                surviving weights as float32

Masks are coded near their information content.  A mask of N entries with nnz survivors
(density d) needs at least N H(d) bits, H(d) = -d log2 d - (1-d) log2(1-d): far below one
bit per weight at 1-3% density.  Each mask is stored as the smaller of
    bitmap        N bits
    Elias-Fano    the sorted survivor positions: each split into its low L = floor(log2(N /
                  nnz)) bits, stored plainly, and its high part, stored in unary as one
                  bitvector of nnz + (N >> L) bits -- at most 2 + log2(N / nnz) bits per
                  survivor, within a few percent of N H(d) at low density, and decoded
                  without a sequential scan (the set bits of the unary part minus their
                  rank are the high parts)
or, for a mask with more survivors than pruned entries, Elias-Fano of the pruned entries
(an unpruned layer's mask costs no bytes), so a file's size is within a small factor of
the bound N H(d) / 8 + nnz k / 8 bytes per layer (plus the other parameters):
`size_report` prints both.
"""
import hashlib
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from . import __version__, io

MAGIC = b"HPZ1"
_FIXED = struct.Struct("<4sIQ")
DIGEST = 32


class ModelFileError(ValueError):
    """A model file that is truncated, corrupted, tampered with or not one."""


# ----------------------------------------------------------------------- bit packing
def pack_uint(values, bits):
    """Unsigned integers < 2^bits, `bits` each, packed little-endian bit order."""
    values = np.asarray(values, dtype=np.uint32)
    if bits == 0 or values.size == 0:
        return b""
    planes = (values[:, None] >> np.arange(bits, dtype=np.uint32)) & 1
    return np.packbits(planes.astype(np.uint8).ravel(), bitorder="little").tobytes()


def unpack_uint(data, count, bits):
    if bits == 0 or count == 0:
        return np.zeros(count, dtype=np.int64)
    needed = math.ceil(count * bits / 8)
    if len(data) != needed:
        raise ModelFileError(f"expected {needed} bytes for {count} values of {bits} bits, "
                             f"got {len(data)}")
    planes = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
    planes = planes[:count * bits].reshape(count, bits).astype(np.int64)
    return planes @ (1 << np.arange(bits, dtype=np.int64))


# ---------------------------------------------------------------------- mask coding
def entropy_bits(n, nnz):
    """N H(d): the information content of a random mask of n entries with nnz set."""
    if nnz in (0, n):
        return 0.0
    d = nnz / n
    return n * -(d * math.log2(d) + (1 - d) * math.log2(1 - d))


def _elias_fano(positions, n):
    """(L, bytes) of sorted positions < n: low L bits plainly, high parts in unary."""
    nnz = positions.size
    if nnz == 0:
        return 0, b""
    low = max(0, int(math.floor(math.log2(n / nnz))))
    upper = np.zeros(nnz + (n >> low) + 1, dtype=bool)
    upper[(positions >> low) + np.arange(nnz)] = True
    return low, pack_uint(positions & ((1 << low) - 1), low) + \
        np.packbits(upper, bitorder="little").tobytes()


def encode_mask(mask):
    """(method, low bits L, bytes) of a flat bool mask, the smallest of: a bitmap,
    Elias-Fano of the survivors, Elias-Fano of the pruned entries (dense masks: an unpruned
    layer costs nothing)."""
    mask = np.asarray(mask, bool).ravel()
    n = mask.size
    options = [("bitmap", 0, np.packbits(mask, bitorder="little").tobytes()),
               ("elias-fano", *_elias_fano(np.flatnonzero(mask), n)),
               ("elias-fano-pruned", *_elias_fano(np.flatnonzero(~mask), n))]
    return min(options, key=lambda option: len(option[2]))


def decode_mask(method, low, data, n, nnz):
    if method == "bitmap":
        if len(data) != math.ceil(n / 8):
            raise ModelFileError(f"a bitmap of {n} entries needs {math.ceil(n / 8)} bytes, "
                                 f"got {len(data)}")
        mask = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")[:n]
        if int(mask.sum()) != nnz:
            raise ModelFileError(f"the mask has {int(mask.sum())} survivors, the header "
                                 f"says {nnz}")
        return mask.astype(bool)
    if method == "elias-fano":
        return _decode_elias_fano(low, data, n, nnz, "survivors")
    if method == "elias-fano-pruned":
        return ~_decode_elias_fano(low, data, n, n - nnz, "pruned entries")
    raise ModelFileError(f"unknown mask coding {method!r}")


def _decode_elias_fano(low, data, n, count, what):
    mask = np.zeros(n, dtype=bool)
    if count == 0:
        if data:
            raise ModelFileError(f"a mask with no {what} holds {len(data)} bytes")
        return mask
    low_bytes = math.ceil(count * low / 8)
    upper_bits = count + (n >> low) + 1
    if len(data) != low_bytes + math.ceil(upper_bits / 8):
        raise ModelFileError(f"an Elias-Fano mask of {count} {what} of {n} entries needs "
                             f"{low_bytes + math.ceil(upper_bits / 8)} bytes, got "
                             f"{len(data)}")
    lows = unpack_uint(data[:low_bytes], count, low)
    upper = np.unpackbits(np.frombuffer(data[low_bytes:], np.uint8),
                          bitorder="little")[:upper_bits]
    ones = np.flatnonzero(upper)
    if ones.size != count:
        raise ModelFileError(f"the mask codes {ones.size} {what}, the header says {count}")
    positions = ((ones - np.arange(count)) << low) | lows
    if positions.max() >= n or (count > 1 and (np.diff(positions) <= 0).any()):
        raise ModelFileError("the mask's positions are out of order or out of range")
    mask[positions] = True
    return mask


# ----------------------------------------------------------------------- the file
# Header entries are compact (the header of a 3 KB model should not weigh 1 KB): per tensor
# a short dict; the payload is laid out in header order, so only lengths are stored.
#   n name, s shape, k kind ("c" coded, "h" float16, "f" float32), b bits, z survivors,
#   m mask coding ("b" bitmap, "e" Elias-Fano, "p" Elias-Fano of the pruned entries),
#   l its low bits, a the scales' unit axis
#   (-1: one scale), o the code offset, d the scales' dtype ("h"/"f"), L byte lengths
_KINDS = {"coded": "c", "float16": "h", "float32": "f"}
_MASKS = {"bitmap": "b", "elias-fano": "e", "elias-fano-pruned": "p"}


def write(path, model_spec, tensors):
    """Write a model file.  model_spec: JSON-able settings that rebuild the model;
    tensors: {name: dict(kind=..., ...)} as made by hyperprune.deploy.file_tensors.
    Returns the number of bytes written."""
    entries, payload = [], bytearray()
    for name, t in tensors.items():
        entry = {"n": name, "s": list(t["shape"]), "k": _KINDS[t["kind"]]}
        if t["kind"] == "coded":
            method, low, mask_bytes = encode_mask(t["mask"])
            mask = np.asarray(t["mask"], bool).ravel()
            codes = t["codes"].ravel()[mask]
            parts = [mask_bytes]
            if t["bits"] == 32:
                parts.append(codes.astype("<f4").tobytes())
            else:
                parts.append(pack_uint(codes.astype(np.int64) + t["offset"], t["bits"]))
                scale = np.asarray(t["scale"], np.float32)
                axes = [i for i, k in enumerate(scale.shape) if k > 1]
                half = scale.astype("<f2")
                dtype = "h" if np.array_equal(half.astype(np.float32), scale) else "f"
                parts.append(scale.astype("<f2" if dtype == "h" else "<f4").tobytes())
                entry.update(a=axes[0] if axes else -1, o=t["offset"], d=dtype)
            entry.update(b=t["bits"], z=int(mask.sum()), m=_MASKS[method], l=low,
                         L=[len(x) for x in parts])
        else:
            parts = [np.asarray(t["array"]).astype(
                "<f2" if t["kind"] == "float16" else "<f4").tobytes()]
            entry["L"] = [len(parts[0])]
        for x in parts:
            payload.extend(x)
        entries.append(entry)
    header = {"format": 1, "hyperprune": __version__, "model": model_spec, "tensors": entries}
    header_bytes = zlib.compress(json.dumps(header, separators=(",", ":")).encode(), 9)
    body = _FIXED.pack(MAGIC, len(header_bytes), len(payload)) + header_bytes + payload
    data = body + hashlib.sha256(body).digest()
    io.atomic_write(path, lambda f: f.write(data))
    return len(data)


def read(path):
    """(header, {name: array}) of a model file, after verifying its size, its checksum and
    every tensor's extent; a bad file raises ModelFileError naming it and the problem."""
    path = Path(path)
    data = path.read_bytes()
    where = f"{path}"
    if len(data) < _FIXED.size + DIGEST:
        raise ModelFileError(f"{where}: {len(data)} bytes: truncated (not even a header)")
    magic, header_len, payload_len = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise ModelFileError(f"{where}: not a hyperprune model file (magic {magic!r})")
    expected = _FIXED.size + header_len + payload_len + DIGEST
    if len(data) != expected:
        raise ModelFileError(f"{where}: {len(data)} bytes, the header promises {expected}: "
                             "truncated or padded")
    body, digest = data[:-DIGEST], data[-DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise ModelFileError(f"{where}: checksum mismatch: the file is corrupted or was "
                             "changed")
    try:
        header = json.loads(zlib.decompress(body[_FIXED.size:_FIXED.size + header_len]))
    except (zlib.error, ValueError) as err:
        raise ModelFileError(f"{where}: unreadable header ({err})") from err
    payload = body[_FIXED.size + header_len:]
    try:
        lengths = [n for t in header["tensors"] for n in t["L"]]
        if any(n < 0 for n in lengths) or sum(lengths) != len(payload):
            raise ModelFileError(f"the tensors' lengths ({sum(lengths)} bytes) do not add up "
                                 f"to the payload ({len(payload)} bytes)")
        arrays, start = {}, 0
        for t in header["tensors"]:
            parts = []
            for n in t["L"]:
                parts.append(payload[start:start + n])
                start += n
            arrays[t["n"]] = _decode(t, parts)
        return header, arrays
    except ModelFileError as err:
        raise ModelFileError(f"{where}: {err}") from None
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ModelFileError(f"{where}: malformed header ({err!r})") from err


def _decode(t, parts):
    name, shape = t["n"], tuple(t["s"])
    n = int(np.prod(shape))
    if t["k"] in ("h", "f"):
        dtype = np.dtype("<f2" if t["k"] == "h" else "<f4")
        if len(parts) != 1 or len(parts[0]) != n * dtype.itemsize:
            raise ModelFileError(f"{name}: {sum(map(len, parts))} bytes for {n} values")
        return np.frombuffer(parts[0], dtype).astype(np.float32).reshape(shape)
    if t["k"] != "c":
        raise ModelFileError(f"{name}: unknown tensor kind {t['k']!r}")
    nnz, bits = int(t["z"]), int(t["b"])
    if not 0 <= nnz <= n or bits not in (1, 2, 3, 4, 5, 6, 7, 8, 32) or \
            len(parts) != (2 if bits == 32 else 3):
        raise ModelFileError(f"{name}: {nnz} survivors of {n} at {bits} bits is impossible")
    method = {v: k for k, v in _MASKS.items()}.get(t["m"], t["m"])
    mask = decode_mask(method, int(t["l"]), parts[0], n, nnz)
    values = np.zeros(n, dtype=np.float32)
    if bits == 32:
        if len(parts[1]) != 4 * nnz:
            raise ModelFileError(f"{name}: {len(parts[1])} bytes for {nnz} float32 values")
        values[mask] = np.frombuffer(parts[1], "<f4")
        return values.reshape(shape)
    stored = unpack_uint(parts[1], nnz, bits)
    codes = np.zeros(n, dtype=np.float32)
    codes[mask] = 2 * stored - 1 if bits == 1 else stored - int(t["o"])
    axis, dtype = int(t["a"]), np.dtype("<f2" if t["d"] == "h" else "<f4")
    scale_shape = [1] * len(shape)
    if axis >= 0:
        if axis >= len(shape):
            raise ModelFileError(f"{name}: a scale axis {axis} for shape {shape}")
        scale_shape[axis] = shape[axis]
    if len(parts[2]) != dtype.itemsize * int(np.prod(scale_shape)):
        raise ModelFileError(f"{name}: {len(parts[2])} bytes of scales do not fit {shape}")
    scale = np.frombuffer(parts[2], dtype).astype(np.float32).reshape(scale_shape)
    return codes.reshape(shape) * scale
