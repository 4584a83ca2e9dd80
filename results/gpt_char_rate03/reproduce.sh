#!/usr/bin/env bash
# The gpt_char lottery of results/gpt_char at the paper's other prune rate, 0.3: reset to
# θ0, train, prune 30% of the remaining weights of each component matrix of W_Q, W_K, W_V
# (L1 magnitude), 13 rounds (0.7^13 = 0.97% of Q/K/V, under 1% as Algorithm 1 asks).
#
#   bash results/gpt_char_rate03/reproduce.sh     # real and quaternion in parallel, resumable
#
# Training per level exactly as results/gpt_char (nanoGPT's README CPU configuration:
# 4 layers, 4 heads, width 128, context 64, batch 12, 2,000 iterations, AdamW 1e-3 with
# warmup and cosine decay, validation loss on 20 batches every 250 iterations); level 0
# is the same network as there.  The figure overlays both prune rates.
set -euo pipefail
cd "$(dirname "$0")/../.."
HP=${HP:-hyperprune}
OUT=${OUT:-results/gpt_char_rate03}   # OUT=DIR: regenerate into DIR (e.g. $(mktemp -d))
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export HYPERPRUNE_DATA=${HYPERPRUNE_DATA:-$PWD/data}

run() {  # run NAME ALGEBRA
  $HP lottery --preset gpt_char --algebra "$2" --rate 0.3 --levels 13 \
      --run-dir "$OUT/$1" --quiet > "$OUT/$1.log" 2>&1
}

run real real & a=$!
run quaternion quaternion & b=$!
wait $a $b

$HP plot "$OUT" -o "$OUT/gpt_char_rate03.png" --table "$OUT/gpt_char_rate03.md" \
    --histograms "$OUT/gpt_char_rate03_histograms.png" \
    --targets 100,70,49,34.3,24,16.8,11.8,8.2,5.8,4,2.8,2,1.4,0.97,0.68,0.47,0.33,0.23 \
    --title "gpt_char, tiny Shakespeare: Q/K/V pruned 30% per round (componentwise), reset to θ0"
RATE05=${RATE05:-results/gpt_char}   # the rate-0.5 runs to compare with
$HP plot "$RATE05/real" "$RATE05/quaternion" "$OUT/real" "$OUT/quaternion" \
    -o "$OUT/gpt_char_both_rates.png" --table "$OUT/gpt_char_both_rates.md" \
    --targets 100,50,25,12.5,6.25,3.13,1.56,0.78,0.39,0.2 \
    --title "gpt_char, tiny Shakespeare: prune rate 0.5 vs 0.3 per round (Q/K/V componentwise)"
