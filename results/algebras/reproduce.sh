#!/usr/bin/env bash
# Which algebra survives extreme sparsity best?  Real vs complex vs quaternion vs octonion
# vs learned PHM (n = 4) lottery tickets, test accuracy against weights remaining as % of
# the real model.
#
#   bash results/algebras/reproduce.sh              # LeNet and Conv-4, figures, tables
#   ONLY=lenet SEEDS="0 1" OUT=DIR bash results/algebras/reproduce.sh
#   ONLY=conv4 bash results/algebras/reproduce.sh
#   ONLY=gpt bash results/algebras/reproduce.sh     # opt-in third task (gpt_char)
#
# LeNet-300-100 on MNIST, Frankle & Carbin's protocol exactly as results/lenet_300_100
# (layer-wise 20% per round, output 10%, Adam 1.2e-3, batch 60, 50K iterations per
# level, reset to θ0, early stop on a fixed 5K validation split): complex (starts at
# 50.2% of the real weights) 18 rounds, octonion (13.1%: hidden widths 304 and 104,
# whole octonions) 12 rounds, PHM n = 4 (25.3%, learned rules, never pruned) 14 rounds,
# each to about 1% of the real model; seeds 0 and 1.  Real and quaternion are the runs
# of results/lenet_300_100/frankle (seeds 0, 1, 2, by results/replicates.sh).
# About 3 CPU-hours (the seed-1 runs took 0.4-0.5 hours each; one BLAS thread).
#
# Conv-4 on CIFAR-10 with the protocol of results/conv4_converged (width 0.25, global 50%
# per round, each level trained until validation has not improved for 1,500 iterations,
# at most 10,000; no augmentation), one seed (0): complex (50.3% of the real weights)
# 6 rounds, octonion (13.1%; first convolution real: 4 encoded channels are not a whole
# octonion) 4 rounds, PHM n = 4 (25.3%) 5 rounds, each to about 0.8% of the real
# weights; real and quaternion are seed 0 of results/conv4_converged.  About 2.5
# CPU-hours.  Resumable.
#
# gpt_char (opt-in, ONLY=gpt): the protocol of results/gpt_char (Q/K/V pruned 50% of each
# component matrix per round, 7 rounds), complex, PHM n = 4 and octonion, seed 0, against
# the three seeds of results/gpt_char (results/replicates.sh); 15-17 minutes a run.
set -euo pipefail
cd "$(dirname "$0")/../.."
HP=${HP:-hyperprune}
OUT=${OUT:-results/algebras}
SEEDS=${SEEDS:-0 1}
ONLY=${ONLY:-lenet conv4}
LENET=${LENET:-results/lenet_300_100/frankle}   # the real and quaternion runs
CONV4=${CONV4:-results/conv4_converged}         # ditto, Conv-4
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export HYPERPRUNE_DATA=${HYPERPRUNE_DATA:-$PWD/data}
mkdir -p "$OUT/lenet"

lenet() {  # lenet ALGEBRA LEVELS SEED
  local dir="$OUT/lenet/$1_seed$3"
  $HP lottery --preset frankle --algebra "$1" --levels "$2" --seed "$3" --run-dir "$dir" \
      --quiet > "$dir.log" 2>&1
}

case " $ONLY " in *" lenet "*)
  lane_a() { for s in $SEEDS; do lenet complex 18 "$s"; done; }
  lane_b() { for s in $SEEDS; do lenet octonion 12 "$s"; lenet phm 14 "$s"; done; }
  lane_a & a=$!
  lane_b & b=$!
  wait $a $b
  TARGETS=100,51.3,25.3,21.1,13.5,7.0,3.6,1.9,1.1
  $HP plot "$LENET"/real "$LENET"/real_seed* "$LENET"/quaternion "$LENET"/quaternion_seed* \
      "$OUT/lenet" -o "$OUT/lenet.png" --table "$OUT/lenet.md" --targets $TARGETS \
      --title "LeNet-300-100, MNIST, Frankle & Carbin protocol: five algebras"
esac

case " $ONLY " in *" conv4 "*)
  source results/cifar_data.sh
  mkdir -p "$OUT/conv4"
  conv4() {  # conv4 ALGEBRA ROUNDS
    local dir="$OUT/conv4/$1_seed0"
    $HP lottery --model conv4 --algebra "$1" --width 0.25 --levels "$2" --seed 0 \
        --strategy global --fraction 0.5 --iterations 10000 --patience 1500 \
        --eval-every 500 --test-when-improved --lr 1e-3 --batch-size 60 \
        --data-dir "$CIFAR_DIR" --run-dir "$dir" --quiet > "$dir.log" 2>&1
  }
  conv4 complex 6 & a=$!
  (conv4 octonion 4; conv4 phm 5) & b=$!
  wait $a $b
  $HP plot "$CONV4"/real_seed0 "$CONV4"/quaternion_seed0 "$OUT/conv4" \
      -o "$OUT/conv4.png" --table "$OUT/conv4.md" \
      --targets 100,50.3,25.3,13.1,6.3,3.1,1.6,0.8 \
      --title "Conv-4 (width 0.25), CIFAR-10, trained to convergence: five algebras"
esac

case " $ONLY " in *" gpt "*)
  mkdir -p "$OUT/gpt_char"
  gpt() {  # gpt ALGEBRA
    local dir="$OUT/gpt_char/$1_seed0"
    $HP lottery --preset gpt_char --algebra "$1" --levels 7 --seed 0 --run-dir "$dir" \
        --quiet > "$dir.log" 2>&1
  }
  (gpt complex; gpt octonion) & a=$!
  gpt phm & b=$!
  wait $a $b
  G=results/gpt_char            # real and quaternion: the three seeds of results/replicates.sh
  $HP plot $G/real $G/real_seed1 $G/real_seed2 $G/quaternion $G/quaternion_seed1 \
      $G/quaternion_seed2 "$OUT/gpt_char" -o "$OUT/gpt_char.png" --table "$OUT/gpt_char.md" \
      --targets 100,50,25,12.5,6.25,3.13,1.56,0.78,0.39,0.2,0.1 \
      --title "gpt_char, tiny Shakespeare, Q/K/V pruned 50% a round: five algebras"
esac
