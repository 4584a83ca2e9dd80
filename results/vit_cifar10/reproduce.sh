#!/usr/bin/env bash
# Real vs quaternion ViT lottery tickets on CIFAR-10 (JPEG copy), at CPU scale, pruned as
# "Transformers at a Fraction" (Algorithm 1): reset to θ0, train, prune half of the
# remaining weights of each component matrix of W_Q, W_K, W_V (L1 magnitude), 7 rounds
# (0.5^7 = 0.8% of Q/K/V left).
#
#   bash results/vit_cifar10/reproduce.sh            # three runs in parallel, resumable
#   ONLY="real quaternion" bash results/vit_cifar10/reproduce.sh   # some of them, in turn
#
# Scaling (the paper's model is 6 layers, width 64, 8 heads, MLP 512, and one training
# step of it at batch 128 takes about 0.7 s here): 2 layers, width 64, 4 heads (head
# dimension 16 = 4 whole quaternions), MLP 128, patch 4; 1,500 iterations per level at
# batch 64 (about 2 epochs of the 45,000-image training split), AdamW (lr 1e-3, weight
# decay 0.05, 100 warmup iterations, cosine to 1e-4), no augmentation; validation loss and
# accuracy on the 5,000-image validation split and the 10,000-image test set every 250
# iterations.  Runs: real; quaternion (Q, K, V, out and the patch embedding as Hamilton
# projections, heads of whole quaternions, real MLP); quaternion with qytorch's fused QKV
# layout, on the same seed.
#
# The data: CIFAR-10's binary batches in $CIFAR_DIR/cifar-10-batches-bin, fetched when
# missing by results/cifar_data.sh (the JPEG copy offline, else `hyperprune download`).
set -euo pipefail
cd "$(dirname "$0")/../.."
HP=${HP:-hyperprune}
PY=${PY:-python3}
OUT=${OUT:-results/vit_cifar10}   # OUT=DIR: regenerate into DIR (e.g. $(mktemp -d))
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

source results/cifar_data.sh      # sets CIFAR_DIR, fetches CIFAR-10 when missing

run() {  # run NAME ALGEBRA [extra options]
  local name=$1 algebra=$2; shift 2
  $HP lottery --model vit --dataset cifar10 --algebra "$algebra" --n-layer 2 --n-head 4 \
      --n-embd 64 --mlp-dim 128 --scope qkv --strategy componentwise --rate 0.5 \
      --levels 7 --iterations 1500 --eval-every 250 --batch-size 64 --optimizer adamw \
      --lr 1e-3 --weight-decay 0.05 --lr-schedule cosine --warmup-iters 100 --min-lr 1e-4 \
      --data-dir "$CIFAR_DIR" --run-dir "$OUT/$name" --quiet "$@" > "$OUT/$name.log" 2>&1
}

if [ -n "${ONLY:-}" ]; then   # ONLY="real quaternion": just these runs, then the figure
  for name in $ONLY; do
    case $name in
      quaternion_fused_qkv) run "$name" quaternion --fused-qkv ;;
      *) run "$name" "$name" ;;
    esac
  done
else
  run real real & a=$!
  run quaternion quaternion & b=$!
  run quaternion_fused_qkv quaternion --fused-qkv & c=$!
  wait $a $b $c
fi

$HP plot "$OUT" -o "$OUT/vit_cifar10.png" --table "$OUT/vit_cifar10.md" \
    --histograms "$OUT/vit_cifar10_histograms.png" --targets 100,50,25,12.5,6.25,3.13,1.56,0.78,0.39,0.2 \
    --title "ViT (2 layers, width 64), CIFAR-10 (JPEG copy): Q/K/V pruned 50% per round"
