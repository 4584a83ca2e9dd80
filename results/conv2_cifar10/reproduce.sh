#!/usr/bin/env bash
# Real vs quaternion Conv-2 lottery tickets on CIFAR-10 (JPEG copy), at CPU scale: real
# (16 rounds) and quaternion pruned per component (10 rounds), in parallel, then the
# figure and table.  The protocol and its scaling (width 0.25, 3,000 iterations per
# level, global 20%, reset to θ0) are in ../conv_cifar10.sh, shared with Conv-4.
#
#   bash results/conv2_cifar10/reproduce.sh      # resumable; HP=, CIFAR_DIR= as there
exec bash "$(dirname "$0")/../conv_cifar10.sh" conv2
