#!/usr/bin/env bash
# Real vs quaternion Conv-4 lottery tickets on CIFAR-10 (JPEG copy), at CPU scale:
# real (16 rounds), quaternion pruned per component and as whole quaternions (10 rounds
# each), in parallel, then the figure and table.  The protocol and its scaling (width
# 0.25, 3,000 iterations per level, global 20%, reset to θ0) are in ../conv_cifar10.sh.
#
#   bash results/conv4_cifar10/reproduce.sh      # resumable; HP=, CIFAR_DIR= as there
exec bash "$(dirname "$0")/../conv_cifar10.sh" conv4 --whole
