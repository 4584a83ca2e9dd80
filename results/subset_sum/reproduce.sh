#!/usr/bin/env bash
# Exact quantized strong tickets (issue 15, part 2): how many random candidates per target
# weight a subset needs to hit a k-bit target exactly (random weights on a grid whose
# products contain the target grid), against the continuous case (uniform candidates,
# error <= 2^-k), k = 2..8, 10,000 trials each, seed 0.  About a minute on one core.
#
#   bash results/subset_sum/reproduce.sh
#   OUT=DIR bash results/subset_sum/reproduce.sh
#
# Writes $OUT/overparameterisation.csv, .png and .md (hyperprune/subset_sum.py has the
# construction and the definitions).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
OUT=${OUT:-results/subset_sum}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
$PY results/subset_sum/measure.py --out "$OUT"
