"""The same training steps in hyperprune and in PyTorch, alternately in one process.

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy -e .
    /tmp/torchenv/bin/python benchmarks/crosscheck_torch.py [--repeats 10] [--threads 1]

PyTorch is never a dependency of hyperprune: this script runs only in a separate
environment that has it.  Both libraries get the same thread count (--threads: OpenBLAS's
for NumPy, set before NumPy loads, and torch.set_num_threads), float32, the same shapes:

    conv2   Frankle & Carbin's Conv-2 (3->64->64, pool, 16384->256->256->10), batch 60,
            Adam, cross-entropy (no masks: PyTorch has none to apply)
    gpt     nanoGPT's CPU configuration of gpt_char (4 layers, 4 heads, width 128, context
            64, batch 12, vocabulary 65), AdamW, gradient clipping at 1
    vit     the CIFAR ViT of "Transformers at a Fraction" (patch 4, 6 pre-norm layers of
            width 64, 8 heads, MLP 512, class token), batch 128, Adam

and prints each step's median time and the median of the paired ratios hyperprune /
PyTorch (the two see the same machine load, which a ratio cancels).
"""
import argparse
import os
import statistics
import sys
import time


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=("conv2", "gpt", "vit"))
    return parser.parse_args()


ARGS = parse()
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)   # before NumPy is imported

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    sys.exit("crosscheck_torch.py needs PyTorch, in an environment of its own (see --help)")

import hyperprune as hp  # noqa: E402
from hyperprune import functional as F, models, optim, tensor  # noqa: E402
from hyperprune.train import loss_of  # noqa: E402

torch.set_num_threads(ARGS.threads)
tnn = torch.nn


# ------------------------------------------------------------------------- Conv-2
def image_step(name, lr, batch, rng):
    """A hyperprune classifier step (hyperprune.models.NAME, real): cross-entropy, Adam."""
    hp.manual_seed(0)
    model = getattr(models, name)("real")
    opt = optim.Adam(model.parameters(), lr=lr)
    x = tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
    y = rng.integers(0, 10, batch)

    def step():
        loss = F.cross_entropy(model(x), tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def conv2_hyperprune(rng):
    return image_step("conv2", 2e-4, 60, rng)


def conv2_torch(rng):
    torch.manual_seed(0)
    model = tnn.Sequential(
        tnn.Conv2d(3, 64, 3, padding=1), tnn.ReLU(), tnn.Conv2d(64, 64, 3, padding=1),
        tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(16384, 256), tnn.ReLU(),
        tnn.Linear(256, 256), tnn.ReLU(), tnn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    x = torch.from_numpy(rng.standard_normal((60, 3, 32, 32)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, 60))

    def step():
        loss = tnn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


# ------------------------------------------------------------------------ gpt_char
def gpt_hyperprune(rng):
    hp.manual_seed(0)
    model = models.gpt_char("real")
    opt = optim.AdamW(optim.decay_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.99))
    data = rng.integers(0, 65, (12, 65))
    x, y = data[:, :-1], data[:, 1:]

    def step():
        loss = loss_of(model(tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


class Block(tnn.Module):
    """nanoGPT's block: pre-norm causal self-attention and a 4x GELU MLP, no dropout."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = tnn.LayerNorm(width), tnn.LayerNorm(width)
        self.c_attn, self.c_proj = tnn.Linear(width, 3 * width), tnn.Linear(width, width)
        self.mlp = tnn.Sequential(tnn.Linear(width, 4 * width), tnn.GELU(approximate="tanh"),
                                  tnn.Linear(4 * width, width))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (a.view(b, t, self.heads, c // self.heads).transpose(1, 2) for a in (q, k, v))
        a = tnn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(a.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln_2(x))


def gpt_torch(rng):
    torch.manual_seed(0)
    width, vocab, block = 128, 65, 64
    wte, wpe = tnn.Embedding(vocab, width), tnn.Embedding(block, width)
    blocks = tnn.Sequential(*[Block(width, 4) for _ in range(4)])
    ln_f, head = tnn.LayerNorm(width), tnn.Linear(width, vocab, bias=False)
    head.weight = wte.weight                                # nanoGPT ties them
    params = [p for m in (wte, wpe, blocks, ln_f) for p in m.parameters()]
    decay = [p for p in params if p.dim() >= 2]
    other = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}], lr=1e-3,
                            betas=(0.9, 0.99))
    data = torch.from_numpy(rng.integers(0, 65, (12, 65)))
    x, y = data[:, :-1], data[:, 1:]
    pos = torch.arange(block)

    def step():
        h = blocks(wte(x) + wpe(pos))
        logits = head(ln_f(h))
        loss = tnn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return step


# --------------------------------------------------------------------------- ViT
def vit_hyperprune(rng):
    return image_step("vit", 1e-3, 128, rng)


class EncoderBlock(tnn.Module):
    """Pre-norm block of the CIFAR ViT: attention over all tokens, a GELU MLP."""

    def __init__(self, width, heads, mlp):
        super().__init__()
        self.norm1, self.norm2 = tnn.LayerNorm(width), tnn.LayerNorm(width)
        self.attn = tnn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = tnn.Sequential(tnn.Linear(width, mlp), tnn.GELU(approximate="tanh"),
                                  tnn.Linear(mlp, width))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


def vit_torch(rng):
    torch.manual_seed(0)
    width, patch = 64, 4
    embed = tnn.Linear(3 * patch * patch, width)
    cls = tnn.Parameter(torch.zeros(1, 1, width))
    pos = tnn.Parameter(torch.zeros(1, 65, width))
    blocks = tnn.Sequential(*[EncoderBlock(width, 8, 512) for _ in range(6)])
    norm, head = tnn.LayerNorm(width), tnn.Linear(width, 10)
    params = [cls, pos] + [p for m in (embed, blocks, norm, head) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.from_numpy(rng.standard_normal((128, 3, 32, 32)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, 128))

    def step():
        p = x.reshape(128, 3, 8, patch, 8, patch).permute(0, 2, 4, 1, 3, 5).reshape(128, 64, -1)
        h = torch.cat([cls.expand(128, -1, -1), embed(p)], dim=1) + pos
        loss = tnn.functional.cross_entropy(head(norm(blocks(h)[:, 0])), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


BENCHES = {"conv2": (conv2_hyperprune, conv2_torch, "Conv-2 step, batch 60, Adam"),
           "gpt": (gpt_hyperprune, gpt_torch, "gpt_char iteration, batch 12 x 64, AdamW"),
           "vit": (vit_hyperprune, vit_torch, "ViT step (6 x 64, 8 heads, MLP 512), batch "
                   "128, Adam")}


def main():
    print(f"PyTorch {torch.__version__}, NumPy {np.__version__}, {ARGS.threads} thread(s)")
    for name in ([ARGS.only] if ARGS.only else BENCHES):
        make_hp, make_torch, what = BENCHES[name]
        steps = {"hyperprune": make_hp(np.random.default_rng(0)),
                 "pytorch": make_torch(np.random.default_rng(0))}
        for step in steps.values():                      # warm up, optimizer state
            step()
            step()
        times = {k: [] for k in steps}
        for _ in range(ARGS.repeats):
            for k, step in steps.items():
                start = time.perf_counter()
                step()
                times[k].append(time.perf_counter() - start)
        ratio = statistics.median(a / b for a, b in zip(times["hyperprune"], times["pytorch"]))
        print(f"{what}: hyperprune {statistics.median(times['hyperprune']) * 1e3:.1f} ms, "
              f"PyTorch {statistics.median(times['pytorch']) * 1e3:.1f} ms, "
              f"ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
