#!/usr/bin/env bash
# Reproduce the LeNet-300-100 lottery-ticket results in this directory (MNIST, embedded).
#
#   bash results/lenet_300_100/reproduce.sh            # everything, two lanes in parallel
#
# Resumable: run it again after an interruption and finished levels are skipped, a level in
# progress continues from its last checkpoint (bitwise the same numbers).  On 2 cores each
# lane uses one BLAS thread; the whole set takes about 3-4 hours here.
#
# (a) Frankle & Carbin's protocol: Adam 1.2e-3, batch 60, 50K iterations per level,
#     layer-wise 20% per round (output layer 10%), reset to θ0, 5K validation split,
#     evaluation every 100 iterations.  Real 18 rounds (to 1.9%), quaternion 14 rounds.
#     Control: the same tickets randomly reinitialized.
# (b) Iqbal & Mishra's protocol: the same training, global 20% per round.
set -euo pipefail
cd "$(dirname "$0")/../.."
HP=${HP:-hyperprune}
OUT=${OUT:-results/lenet_300_100}   # OUT=DIR: regenerate into DIR (e.g. $(mktemp -d))
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export HYPERPRUNE_DATA=${HYPERPRUNE_DATA:-$PWD/data}   # the embedded MNIST, for any install

run() {  # run NAME ALGEBRA PRESET LEVELS [extra options]
  local name=$1 algebra=$2 preset=$3 levels=$4; shift 4
  $HP lottery --preset "$preset" --algebra "$algebra" --levels "$levels" \
      --run-dir "$OUT/$name" --quiet "$@" > "$OUT/$name.log" 2>&1
}

lane_a() {
  run frankle/real real frankle 18
  run iqbal_mishra/quaternion quaternion iqbal_mishra 14
  run frankle/real_reinit real frankle 18 --control reinit --masks-from "$OUT/frankle/real"
}
lane_b() {
  run iqbal_mishra/real real iqbal_mishra 18
  run frankle/quaternion quaternion frankle 14
  run frankle/quaternion_reinit quaternion frankle 14 --control reinit \
      --masks-from "$OUT/frankle/quaternion"
}

mkdir -p "$OUT/frankle" "$OUT/iqbal_mishra"
lane_a & a=$!
lane_b & b=$!
wait $a $b

TARGETS=100,51.3,25.3,21.1,13.5,7.0,3.6,1.9,1.1   # Frankle & Carbin's figure labels
$HP plot "$OUT/frankle" -o "$OUT/frankle.png" --table "$OUT/frankle.md" --targets $TARGETS \
    --title "LeNet-300-100, MNIST: Frankle & Carbin protocol (layer-wise 20%, reset to θ0)"
$HP plot "$OUT/iqbal_mishra" -o "$OUT/iqbal_mishra.png" --table "$OUT/iqbal_mishra.md" \
    --targets $TARGETS \
    --title "LeNet-300-100, MNIST: Iqbal & Mishra protocol (global 20%, reset to θ0)"
