#!/usr/bin/env bash
# Conv-6 on CIFAR-10 with the protocol of results/conv4_converged (width 0.25: channels
# 16, 16, 32, 32, 64, 64, fully connected 64, 64, 10; global pruning of half the remaining
# weights a round, each level trained until validation has not improved for 1,500
# iterations, at most 10,000; real 7 rounds, quaternion 5, to about 0.8% of the real
# weights), seeds 0 and 1: Iqbal & Mishra's largest gap (at about 9% of the weights, real
# about 62% against quaternion about 83%).  The four runs recorded 4.7 CPU-hours.
#
#   bash results/conv6_converged/reproduce.sh        # resumable; SEEDS="0 1 2" for more
set -euo pipefail
MODEL=conv6 OUT=${OUT:-results/conv6_converged} SEEDS=${SEEDS:-0 1} \
    exec bash "$(dirname "$0")/../conv4_converged/reproduce.sh"
