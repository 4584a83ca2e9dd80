"""vit: a Vision Transformer for CIFAR, real or quaternion ("Transformers at a Fraction").

The paper's CIFAR-10 model is the default: 6 layers, width 64, 8 heads, MLP 512, patch 4.

    x (B, 3, 32, 32)
      -> patches (B, 64, 48)                  a reshape/transpose, no learned op
      -> patch embedding Linear(48, 64)       (B, 64, 64)
      -> [class token; patches] + positions   (B, 65, 64), both real Parameters
      -> depth pre-LN encoder blocks          non-causal attention, heads of dim 8
      -> LayerNorm of the class token         (B, 64)
      -> head Linear(64, num_classes)         (B, num_classes)

Patch features are ordered (channel, row, column): patch n of image b is
x[b, :, r:r+p, c:c+p] flattened, C p p = 48 values.  On the planar layout a quaternion
layer reads them as 4 blocks of C p p / 4; with channels=4 (RGB encoded as (R, G, B,
gray), hyperprune.cifar) each block is one channel, so each quaternion is one pixel.

The quaternion model: the patch embedding is a QLinear (48 and 64 are multiples of 4),
every attention layer is nn.QMultiHeadAttention (Q, K, V, out as QLinear; head dim 8 = 2
whole quaternions; fused_qkv=True: qytorch's layout), the MLP stays real unless
quaternion_mlp=True.  Norms, biases, the class token, the position embeddings and the
output layer stay real (as in the conv models).

Initialization: real Linear weights N(0, 0.02^2) (as gpt_char and timm), biases zero,
class token and position embeddings N(0, 0.02^2); quaternion layers keep the polar init.

Parameters of the default configuration (model.num_parameters(by_kind=True)):

                        prunable weights   embeddings   norms   biases      total
    real                         495,232        4,224   1,664    5,066    506,186
    quaternion                   419,200        4,224   1,664    5,066    430,154
    quaternion_mlp=True          124,288        4,224   1,664    5,066    135,242

(embeddings: the class token and the 65 position embeddings; biases include the head's.)
"""
import numpy as np

from .. import backend, functional as F, nn
from ..autograd import Tensor, as_tensor
from ..checks import is_int
from .family import Family, layers
from .gpt import init_linear, normal_, parameter_counts


class FeedForward(nn.Module):
    """(B, N, D) -> Linear D->M -> GELU -> Linear M->D (-> dropout) -> (B, N, D)."""

    def __init__(self, dim, mlp_dim, dropout, kind):
        super().__init__()
        Dense = kind.linear
        self.fc1, self.gelu, self.fc2 = Dense(dim, mlp_dim), nn.GELU(), Dense(mlp_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):                                    # (B, N, D)
        return self.dropout(self.fc2(self.gelu(self.fc1(x))))  # (B, N, M) inside


class EncoderBlock(nn.Module):
    """x + attn(norm1(x)), then + mlp(norm2(x)); attention over all tokens."""

    def __init__(self, dim, heads, mlp_dim, dropout, kind, quaternion_mlp, fused_qkv):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        options = dict(fused_qkv=fused_qkv) if kind.algebra != "real" else {}
        self.attn = kind.attention(dim, heads, dropout=dropout, **options)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_dim, dropout,
                               kind if quaternion_mlp else layers("real"))

    def forward(self, x):                                    # (B, N, D)
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, algebra="real", image_size=32, patch_size=4, num_classes=10, dim=64,
                 depth=6, heads=8, mlp_dim=512, channels=3, dropout=0.0,
                 quaternion_mlp=False, fused_qkv=False, phm_n=4):
        super().__init__()
        sizes = dict(image_size=image_size, patch_size=patch_size, num_classes=num_classes,
                     dim=dim, depth=depth, heads=heads, mlp_dim=mlp_dim, channels=channels)
        for what, n in sizes.items():
            if not is_int(n) or n < 1:
                raise ValueError(f"vit: {what} must be a positive integer, got {n!r}")
        kind = layers(algebra, phm_n, "vit")
        if image_size % patch_size:
            raise ValueError(f"vit: patch_size {patch_size} must divide image_size "
                             f"{image_size}")
        if dim % heads:
            raise ValueError(f"vit: dim {dim} must be divisible by heads {heads}")
        if not 0 <= dropout < 1:
            raise ValueError(f"vit: dropout must be in [0, 1), got {dropout}")
        if algebra == "real" and (quaternion_mlp or fused_qkv):
            raise ValueError("vit: quaternion_mlp and fused_qkv need a hypercomplex algebra")
        patch_dim = channels * patch_size * patch_size
        if patch_dim % kind.n or dim % kind.n:
            raise ValueError(f"vit: a {kind.name} patch embedding needs channels * "
                             f"patch_size^2 = {patch_dim} and dim = {dim} to be multiples of "
                             f"{kind.n}")
        self.algebra, self.image_size, self.patch_size = algebra, image_size, patch_size
        self.channels, self.dim, self.num_classes = channels, dim, num_classes
        self.num_patches = (image_size // patch_size) ** 2
        self.patch_embedding = kind.linear(patch_dim, dim)
        dtype = backend.get_default_dtype()
        self.cls_token = nn.Parameter(backend.asarray(np.zeros((1, 1, dim), dtype)))
        self.pos_embedding = nn.Parameter(
            backend.asarray(np.zeros((1, self.num_patches + 1, dim), dtype)))
        normal_(self.cls_token, 0.02)
        normal_(self.pos_embedding, 0.02)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[
            EncoderBlock(dim, heads, mlp_dim, dropout, kind, quaternion_mlp, fused_qkv)
            for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        for m in self.modules():
            init_linear(m)

    def patches(self, x):
        """(B, C, H, W) -> (B, N, C p p): N = (H/p)(W/p) patches, features (c, row, col)."""
        b, c, s, p = x.shape[0], self.channels, self.image_size, self.patch_size
        x = x.reshape(b, c, s // p, p, s // p, p)              # (B, C, h, p, w, p)
        x = x.transpose((0, 2, 4, 1, 3, 5))                    # (B, h, w, C, p, p)
        return x.reshape(b, self.num_patches, c * p * p)      # (B, N, C p p)

    def forward(self, x):
        """Images (B, channels, image_size, image_size) -> logits (B, num_classes)."""
        x = as_tensor(x)
        want = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"vit: expected images of shape (B, {', '.join(map(str, want))}),"
                             f" got {tuple(x.shape)}")
        b = x.shape[0]
        x = self.patch_embedding(self.patches(x))              # (B, N, D)
        xp = backend.get_array_module(x.data)
        cls = Tensor(xp.zeros((b, 1, self.dim), dtype=x.dtype)) + self.cls_token  # (B, 1, D)
        x = F.concatenate([cls, x], axis=1) + self.pos_embedding  # (B, N+1, D)
        x = self.blocks(self.dropout(x))                       # (B, N+1, D)
        return self.head(self.norm(x[:, 0]))                   # (B, D) -> (B, classes)

    def num_parameters(self, by_kind=False):
        """The number of learnable scalars; by_kind=True: a dict splitting it into
        prunable weights, embeddings, norms and biases (models.gpt.parameter_counts)."""
        return parameter_counts(self) if by_kind else super().num_parameters()

    def extra_repr(self):
        return (f"algebra={self.algebra}, image_size={self.image_size}, "
                f"patch_size={self.patch_size}, num_classes={self.num_classes}")


def vit(algebra="real", image_size=32, patch_size=4, num_classes=10, dim=64, depth=6,
        heads=8, mlp_dim=512, channels=3, dropout=0.0, quaternion_mlp=False, fused_qkv=False,
        phm_n=4):
    """The paper's CIFAR ViT (module docstring); num_classes=100 for CIFAR-100."""
    return ViT(algebra, image_size, patch_size, num_classes, dim, depth, heads, mlp_dim,
               channels, dropout, quaternion_mlp, fused_qkv, phm_n)


FAMILY = Family("vit", vit, datasets=("cifar10", "cifar100"), description="a CIFAR model",
                settings={"dim": "n_embd", "depth": "n_layer", "heads": "n_head",
                          "mlp_dim": "mlp_dim", "dropout": "dropout",
                          "quaternion_mlp": "quaternion_mlp", "fused_qkv": "fused_qkv",
                          "phm_n": "phm_n"},
                hypercomplex_options=("quaternion_mlp", "fused_qkv", "phm_n"), num_classes=True)
