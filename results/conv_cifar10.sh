#!/usr/bin/env bash
# Real vs quaternion Conv-n lottery tickets on CIFAR-10 (JPEG copy), at CPU scale: the
# protocol shared by results/conv2_cifar10 and results/conv4_cifar10.
#
#   bash results/conv_cifar10.sh MODEL [--whole]   # MODEL: conv2 | conv4 | conv6; resumable
#
# Scaling (full scale is about 4 hours per level-set here): width 0.25 (channels a quarter
# of Frankle & Carbin's: 16, 16[, 32, 32]; fully connected 64, 64, 10), 3,000 iterations
# per level (4 epochs of the 45,000-image training split), evaluation every 500
# iterations on the 5,000-image validation split and the full 10,000-image test set.
# Adam 1e-3, batch 60, no augmentation.  Pruning as Iqbal & Mishra: global 20% per round,
# reset to θ0.  Real: 16 rounds (to 2.8% of its weights); quaternion (first layer
# quaternion on (R, G, B, gray)): 10 rounds (to about 2.7% of the real model's weights),
# pruned per component and, with --whole, in a second run as whole quaternions.  The
# runs go in parallel, then the figure and table are drawn.
#
# The data: CIFAR-10's binary batches in $CIFAR_DIR/cifar-10-batches-bin, fetched when
# missing by results/cifar_data.sh (the JPEG copy offline, else `hyperprune download`).
set -euo pipefail
MODEL=${1:?usage: conv_cifar10.sh MODEL [--whole]}
WHOLE=${2:-}
cd "$(dirname "$0")/.."
HP=${HP:-hyperprune}
PY=${PY:-python3}
OUT=${OUT:-results/${MODEL}_cifar10}   # OUT=DIR: regenerate into DIR
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$OUT"

source results/cifar_data.sh      # sets CIFAR_DIR, fetches CIFAR-10 when missing

run() {  # run NAME ALGEBRA LEVELS [extra options]
  local name=$1 algebra=$2 levels=$3; shift 3
  $HP lottery --model "$MODEL" --algebra "$algebra" --width 0.25 --levels "$levels" \
      --strategy global --fraction 0.2 --iterations 3000 --eval-every 500 --lr 1e-3 \
      --batch-size 60 --data-dir "$CIFAR_DIR" --run-dir "$OUT/$name" --quiet "$@" \
      > "$OUT/$name.log" 2>&1
}

pids=()
run real real 16 & pids+=($!)
run quaternion quaternion 10 & pids+=($!)
if [ "$WHOLE" = "--whole" ]; then
  run quaternion_whole quaternion 10 --granularity quaternion & pids+=($!)
fi
wait "${pids[@]}"

$HP plot "$OUT" -o "$OUT/${MODEL}_cifar10.png" --table "$OUT/${MODEL}_cifar10.md" \
    --targets 100,80,64,51.2,41,32.8,26.2,21,16.8,13.4,10.7,8.6,6.9,5.5,4.4,3.5,2.8 \
    --title "Conv-${MODEL#conv} (width 0.25), CIFAR-10 (JPEG copy): global 20% per round, reset to θ0"
