#!/usr/bin/env bash
# Real vs quaternion character GPT on tiny Shakespeare, pruned as "Transformers at a
# Fraction" (Algorithm 1): reset to θ0, train, prune half of the remaining weights of each
# component matrix of W_Q, W_K, W_V (L1 magnitude), until under 1% remains.
#
#   bash results/gpt_char/reproduce.sh            # three runs in parallel, resumable
#   ONLY="quaternion quaternion_fused_qkv" bash results/gpt_char/reproduce.sh   # some, in turn
#
# Training per level is nanoGPT's README CPU configuration of shakespeare_char: 4 layers,
# 4 heads, width 128, context 64, batch 12, 2,000 iterations, AdamW (lr 1e-3, betas 0.9 /
# 0.99, weight decay 0.1), 100 warmup iterations and cosine decay to 1e-4, gradient
# clipping 1.0, dropout 0; validation loss on 20 batches every 250 iterations.  Level 0
# of the real run is nanoGPT's own experiment (its README: about 1.88).  Runs: real;
# quaternion (Q, K, V, out as Hamilton projections, heads of whole quaternions, real
# MLP); quaternion with qytorch's fused QKV layout.  7 rounds: 0.5^7 = 0.8% of Q/K/V.
set -euo pipefail
cd "$(dirname "$0")/../.."
HP=${HP:-hyperprune}
OUT=${OUT:-results/gpt_char}   # OUT=DIR: regenerate into DIR (e.g. $(mktemp -d))
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export HYPERPRUNE_DATA=${HYPERPRUNE_DATA:-$PWD/data}

run() {  # run NAME ALGEBRA [extra options]
  local name=$1 algebra=$2; shift 2
  $HP lottery --preset gpt_char --algebra "$algebra" --levels 7 --run-dir "$OUT/$name" \
      --quiet "$@" > "$OUT/$name.log" 2>&1
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

$HP plot "$OUT" -o "$OUT/gpt_char.png" --table "$OUT/gpt_char.md" \
    --histograms "$OUT/gpt_char_histograms.png" --targets 100,50,25,12.5,6.25,3.13,1.56,0.78,0.39,0.2 \
    --title "gpt_char, tiny Shakespeare: Q/K/V pruned 50% per round (componentwise), reset to θ0"
