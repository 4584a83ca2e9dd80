#!/usr/bin/env bash
# The accuracy-per-byte frontier (issue 13): committed pruned runs x bit widths, as .hpz
# files evaluated from the file.
#
#   bash results/frontier/reproduce.sh            # LeNet-300-100 (MNIST), then Conv-4
#   ONLY=lenet bash results/frontier/reproduce.sh
#
# LeNet-300-100: the Frankle-protocol runs of seed 1 (results/lenet_300_100/frankle; 50,000
# iterations a level, layer-wise 20% rounds), real at levels 0, 6, 10, 13, 16, 18 (100% to
# 1.8% of the weights) and quaternion at 0, 3, 6, 9, 12, 14 (25% to 1.1% of the real
# model's).  Those runs predate the runner keeping each level's weights, so each level is
# replayed once from its mask and θ0 (about 3 CPU-minutes) and checked against its record.
# Conv-4 (width 0.25, CIFAR-10): the levels of results/conv4_converged seed 0 (kept weights).
# Every level: PTQ at 32 (float), 8, 4, 3, 2 bits, and QAT at 4, 3, 2 bits (2,000
# iterations, Adam at a tenth of the run's rate); one scale per output unit (for
# quaternion layers shared by a unit's four components).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
OUT=${OUT:-results/frontier}
ONLY=${ONLY:-}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
F=results/frontier/frontier.py
L=results/lenet_300_100/frankle
if [ -z "$ONLY" ] || [ "$ONLY" = lenet ]; then
  # bytes against the bound at every level of both runs (sizes need masks only: seconds)
  $PY results/frontier/sizes.py "$L/real_seed1" "$L/quaternion_seed1" --out "$OUT"
  $PY $F lenet "$L/real_seed1@0,6,10,13,16,18" "$L/quaternion_seed1@0,3,6,9,12,14" \
      --out "$OUT" --title "LeNet-300-100, MNIST: test accuracy against bytes on disk"
fi
if [ -z "$ONLY" ] || [ "$ONLY" = conv4 ]; then
  source results/cifar_data.sh
  C=results/conv4_converged
  $PY $F conv4 "$C/real_seed0@0,2,4,5,6,7" "$C/quaternion_seed0@0,1,2,3,4,5" \
      --data-dir "$CIFAR_DIR" --out "$OUT" \
      --title "Conv-4 (width 0.25), CIFAR-10 (JPEG copy): test accuracy against bytes on disk"
fi
