"""gpt_char: a nanoGPT-style character-level decoder, real or quaternion.

    idx (B, T) token ids
      -> token embedding + position embedding        real nn.Embedding, (B, T, E)
      -> n_layer pre-LN blocks:
             x = x + attn(ln_1(x))                    causal self-attention, n_head heads
             x = x + mlp(ln_2(x))                     Linear E->4E, GELU, Linear 4E->E
      -> ln_f, lm_head                                logits (B, T, V)

nanoGPT's README CPU configuration is the default: 4 layers, 4 heads, width 128, context
64, vocabulary 65 (tiny Shakespeare, hyperprune.text).

Complex, octonion and PHM models are the quaternion one with their layers (heads of
whole numbers, the vocabulary padded to whole numbers).

The quaternion model ("Transformers at a Fraction"): Q, K, V and the output projection
of every attention layer are QLinear (Hamilton products, heads of whole quaternions,
nn.QMultiHeadAttention); fused_qkv=True takes qytorch's fused layout instead.  The MLP
stays real unless quaternion_mlp=True (QLinear E->4E, 4E->E).  The lm_head is a QLinear
to the vocabulary padded to a multiple of 4 (65 -> 68, CharVocab.padded_size): logits
(B, T, 68) whose last 3 columns are dummy symbols that no target ever names, so training
only learns to push them down, and `generate` samples from the first 65 columns only.
Layer norms, biases, embeddings and position embeddings stay real in both models.

No weight tying (GPT-2 and nanoGPT share the token embedding with lm_head): the
quaternion lm_head has weight (4, 17, 32), not the embedding's (65, 128), so it cannot
share it; the real model does not tie either, so the two differ only in their algebra.

Initialization as nanoGPT: real Linear weights N(0, 0.02^2), the residual projections
(attention out_proj, MLP c_proj) N(0, (0.02 / sqrt(2 n_layer))^2), biases zero,
embeddings N(0, 0.02^2).  Quaternion layers keep their polar init (Parcollet et al.).

Parameters of the default configuration (model.num_parameters(by_kind=True)):

                        prunable weights   embeddings   norms   biases      total
    real                         794,752       16,512   2,304    4,608    818,176
    quaternion                   592,000       16,512   2,304    4,608    615,424
    quaternion_mlp=True          198,784       16,512   2,304    4,608    222,208

(prunable = the weights of Linear and QLinear layers, what hyperprune.prune masks.)
"""
import math
from dataclasses import dataclass

import numpy as np

from .. import backend, nn
from ..autograd import Tensor, no_grad
from ..checks import is_int
from .family import Family, layers


@dataclass
class GPTConfig:
    algebra: str = "real"          # real, complex, quaternion, octonion or phm
    vocab_size: int = 65           # tiny Shakespeare's characters
    block_size: int = 64           # context length T_max
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128              # width E
    dropout: float = 0.0
    quaternion_mlp: bool = False   # hypercomplex only: the MLP in the algebra too
    fused_qkv: bool = False        # hypercomplex only: qytorch's fused QKV layout
    bias: bool = True              # biases in Linear layers and LayerNorms
    phm_n: int = 4                 # phm: the number n of learned rules

    @property
    def layers(self):
        """The Layers of the algebra (models.family.layers)."""
        return layers(self.algebra, self.phm_n, "gpt_char")

    @property
    def output_size(self):
        """lm_head outputs: vocab_size (real) or padded to whole numbers (68 for
        quaternions, 72 for octonions)."""
        return self.layers.round(self.vocab_size)

    def check(self):
        name = "gpt_char"
        n = self.layers.n
        for what in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, what)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"{name}: n_embd {self.n_embd} must be divisible by n_head "
                             f"{self.n_head}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {self.dropout}")
        if self.algebra == "real" and (self.quaternion_mlp or self.fused_qkv):
            raise ValueError(f"{name}: quaternion_mlp and fused_qkv need a hypercomplex "
                             "algebra")
        if self.n_embd % n:
            raise ValueError(f"{name}: n_embd {self.n_embd} must be a multiple of {n} "
                             f"({self.layers.name} numbers of {n} real features)")


def check_context(length: int, block_size: int, what: str = "gpt_char") -> None:
    """Raise ValueError unless 1 <= length <= block_size: a model with learned position
    embeddings has none for positions >= block_size.  `what` names the model in the
    message, e.g. "gpt_char: sequence length 80 is longer than the model's context
    (block_size 64)"; crop the input to its last block_size ids to generate further."""
    if not is_int(length) or not is_int(block_size):
        raise TypeError(f"{what}: length and block_size must be integers, got "
                        f"{length!r} and {block_size!r}")
    if length > block_size:
        raise ValueError(f"{what}: sequence length {length} is longer than the model's "
                         f"context (block_size {block_size})")
    if length < 1:
        raise ValueError(f"{what}: sequence length {length}: a sequence needs at least one "
                         f"position")


def normal_(param, std):
    """Fill a Parameter in place with N(0, std^2) draws from the library's generator."""
    draw = backend.rng().normal(0.0, std, param.shape).astype(param.dtype)
    param.data[...] = backend.asarray(draw)


def init_linear(layer, std=0.02):
    """nanoGPT's init of a real Linear (N(0, std^2) weight, zero bias); quaternion layers
    keep their polar init."""
    if isinstance(layer, nn.Linear):
        normal_(layer.weight, std)


class MLP(nn.Module):
    """(B, T, E) -> Linear E->4E -> GELU -> Linear 4E->E (-> dropout) -> (B, T, E)."""

    def __init__(self, cfg):
        super().__init__()
        e = cfg.n_embd
        Dense = cfg.layers.linear if cfg.quaternion_mlp else nn.Linear
        self.c_fc = Dense(e, 4 * e, bias=cfg.bias)
        self.gelu = nn.GELU()
        self.c_proj = Dense(4 * e, e, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):                                   # (B, T, E)
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, 4E) inside


class Block(nn.Module):
    """A pre-LN transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, cfg):
        super().__init__()
        e = cfg.n_embd
        self.ln_1 = nn.LayerNorm(e, bias=cfg.bias)
        options = dict(fused_qkv=cfg.fused_qkv) if cfg.algebra != "real" else {}
        self.attn = cfg.layers.attention(e, cfg.n_head, bias=cfg.bias, causal=True,
                                         dropout=cfg.dropout, **options)
        self.resid_dropout = nn.Dropout(cfg.dropout)
        self.ln_2 = nn.LayerNorm(e, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x):                                   # (B, T, E)
        x = x + self.resid_dropout(self.attn(self.ln_1(x)))
        return x + self.mlp(self.ln_2(x))                   # (B, T, E)


class GPT(nn.Module):
    """The decoder; `GPT(GPTConfig(...))` or `gpt_char(...)`.  forward(idx) -> logits."""

    def __init__(self, cfg):
        super().__init__()
        cfg.check()
        self.config = cfg
        e = cfg.n_embd
        self.wte = nn.Embedding(cfg.vocab_size, e)           # token embedding, real
        self.wpe = nn.Embedding(cfg.block_size, e)           # position embedding, real
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.Sequential(*[Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(e, bias=cfg.bias)
        self.lm_head = cfg.layers.linear(e, cfg.output_size, bias=False)
        residual_std = 0.02 / math.sqrt(2 * cfg.n_layer)
        for name, m in self.named_modules():
            init_linear(m, residual_std if name.endswith(("out_proj", "c_proj")) else 0.02)

    def forward(self, idx):
        """idx: int token ids (B, T), T <= block_size -> logits (B, T, output_size)."""
        cfg = self.config
        idx = idx.data if isinstance(idx, Tensor) else idx
        if not backend.is_array(idx):
            idx = np.asarray(idx)
        if idx.ndim != 2 or idx.dtype.kind not in "iu":
            raise ValueError(f"gpt_char: expected integer token ids of shape (B, T), got "
                             f"shape {tuple(idx.shape)} and dtype {idx.dtype}")
        t = idx.shape[1]
        check_context(t, cfg.block_size, "gpt_char")
        backend.check_index_range(idx, cfg.vocab_size, "gpt_char", negative=False, message=(
            "token id {bad} is not in the vocabulary of {size} symbols (ids 0..{last})"))
        x = self.wte(idx) + self.wpe(np.arange(t))          # (B, T, E) + (T, E)
        x = self.h(self.drop(x))                            # (B, T, E)
        return self.lm_head(self.ln_f(x))                   # (B, T, output_size)

    def num_parameters(self, by_kind=False):
        """The number of learnable scalars; by_kind=True: a dict splitting it into
        prunable weights, embeddings, norms and biases (see parameter_counts)."""
        return parameter_counts(self) if by_kind else super().num_parameters()


def parameter_counts(model):
    """{"prunable", "embeddings", "norms", "biases", "total"} parameter counts of a model.

    prunable: weights of the layers hyperprune.prune masks (Linear, QLinear, ...);
    norms: LayerNorm weights and biases; biases: those of the prunable layers;
    embeddings: everything else (token and position embeddings, a class token).
    """
    counts = dict(prunable=0, embeddings=0, norms=0, biases=0)
    for m in model.modules():
        for name, p in m.named_parameters(recurse=False):
            if isinstance(m, nn.LayerNorm):
                kind = "norms"
            elif isinstance(m, tuple(nn.PRUNABLE)):
                kind = "prunable" if name == "weight" else "biases"
            else:
                kind = "embeddings"
            counts[kind] += p.size
    counts["total"] = sum(counts.values())
    return counts


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, rng=None):
    """Continue each row of idx (B, T) by max_new_tokens sampled ids -> (B, T + new).

    Each step feeds the last block_size ids (cropped), takes the last position's logits
    over the real vocabulary (a quaternion model's dummy outputs are never sampled),
    divides by temperature, keeps the top_k largest (if given) and samples from the
    softmax.  rng: a NumPy Generator (None: the library's, seeded by hp.manual_seed), so
    a seeded Generator gives the same ids every time.  The model runs in eval mode, under
    no_grad; its mode is restored afterwards.  Returns host int64 ids.
    """
    cfg = model.config
    idx = np.array(backend.to_numpy(idx.data if isinstance(idx, Tensor) else idx))
    if idx.ndim != 2 or idx.dtype.kind not in "iu":
        raise ValueError(f"generate: idx must be integer token ids of shape (B, T), got "
                         f"shape {idx.shape} and dtype {idx.dtype}")
    if not temperature > 0:
        raise ValueError(f"generate: temperature must be > 0, got {temperature}")
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        raise ValueError(f"generate: top_k must be a positive integer or None, got {top_k!r}")
    rng = backend.rng() if rng is None else rng
    idx, was_training = idx.astype(np.int64), model.training
    model.eval()
    try:
        with no_grad():
            for _ in range(max_new_tokens):
                logits = model(idx[:, -cfg.block_size:])           # (B, t, output_size)
                last = backend.to_numpy(logits.data[:, -1, :cfg.vocab_size])
                last = last.astype(np.float64) / temperature       # (B, V)
                if top_k is not None and top_k < last.shape[1]:
                    kth = np.sort(last, axis=1)[:, -top_k][:, None]
                    last = np.where(last < kth, -np.inf, last)
                probs = np.exp(last - last.max(axis=1, keepdims=True))
                cdf = np.cumsum(probs, axis=1)
                u = rng.random((len(idx), 1)) * cdf[:, -1:]        # inverse-CDF sampling
                nxt = np.minimum((cdf <= u).sum(axis=1), cdf.shape[1] - 1)
                idx = np.concatenate([idx, nxt[:, None]], axis=1)
    finally:
        model.train(was_training)
    return idx


def gpt_char(algebra="real", vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128,
             dropout=0.0, quaternion_mlp=False, fused_qkv=False, bias=True, phm_n=4):
    """The character-level GPT (module docstring); nanoGPT's CPU configuration by default."""
    return GPT(GPTConfig(algebra, vocab_size, block_size, n_layer, n_head, n_embd, dropout,
                         quaternion_mlp, fused_qkv, bias, phm_n))


FAMILY = Family("gpt_char", gpt_char, datasets=("shakespeare_char",),
                description="a character language model", metric="perplexity",
                settings={name: name for name in ("block_size", "n_layer", "n_head", "n_embd",
                                                  "dropout", "quaternion_mlp", "fused_qkv",
                                                  "phm_n")},
                hypercomplex_options=("quaternion_mlp", "fused_qkv", "phm_n"))
