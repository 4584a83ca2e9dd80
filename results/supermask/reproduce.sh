#!/usr/bin/env bash
# Strong lottery tickets (issue 15): supermasks on random real and quaternion networks --
# no weight is ever trained; a score per weight chooses which round(keep x n) weights of
# each layer the forward uses -- against the trained dense networks and the IMP tickets
# at equal weights remaining.
#
#   bash results/supermask/reproduce.sh                       # LeNet, seeds 0 and 1
#   SEEDS="0" OUT=DIR bash results/supermask/reproduce.sh
#   ONLY=variants bash results/supermask/reproduce.sh         # inits, element masks, biprop
#   ONLY=conv4 bash results/supermask/reproduce.sh            # Conv-4 on CIFAR-10 (CPU scale)
#
# LeNet-300-100 on MNIST (784-300-100-10, hidden-networks' FC network; biases frozen at
# their initial 0), hidden-networks' protocol: signed Kaiming constant weights
# ±sqrt(2/fan_in), scores U(±1/sqrt(fan_in)), SGD lr 0.1 momentum 0.9, cosine decay to 0,
# weight decay 1e-4 on the scores, batch 128, 43,000 iterations (100 epochs of the 55,000
# training images); evaluation every 430 iterations (validation 5,000, test 10,000).
# keep = the fraction of each layer's weights kept, in {0.1, 0.3, 0.5, 0.7}, real and
# quaternion (QLinear hidden layers, a real output layer, masks per component), and the
# real network again at the quaternion network's weight counts (keep x 67,300/266,200:
# 0.0253, 0.0758, 0.1264, 0.177), so that both algebras meet at equal weights.  The IMP
# tickets and the trained dense networks (their level 0) are the committed Frankle-
# protocol runs, seeds 0 and 1 (results/lenet_300_100/frankle).  About 5 minutes a real
# run and 3 a quaternion run on one busy core; one run at a time.  Resumable.
set -euo pipefail
cd "$(dirname "$0")/../.."
HP=${HP:-hyperprune}
OUT=${OUT:-results/supermask}
SEEDS=${SEEDS:-0 1}
ONLY=${ONLY:-lenet}
LENET=${LENET:-results/lenet_300_100/frankle}     # the IMP runs compared with
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export HYPERPRUNE_DATA=${HYPERPRUNE_DATA:-$PWD/data}

run() {  # run DIR [options]: one supermask run, its log beside it
  local dir=$1
  shift
  mkdir -p "$(dirname "$dir")"
  $HP supermask "$@" --run-dir "$dir" --quiet > "$dir.log" 2>&1
}
TARGETS=100,70,50,30,25.3,17.7,12.6,10,7.6,2.5

case " $ONLY " in *" lenet "*)
  for seed in $SEEDS; do
    for keep in 0.1 0.3 0.5 0.7; do
      run "$OUT/lenet/real_keep${keep}_seed$seed" --algebra real --keep $keep --seed $seed
      run "$OUT/lenet/quaternion_keep${keep}_seed$seed" --algebra quaternion --keep $keep \
          --seed $seed
    done
    for keep in 0.0253 0.0758 0.1264 0.177; do
      run "$OUT/lenet/real_keep${keep}_seed$seed" --algebra real --keep $keep --seed $seed
    done
  done
  $HP plot "$OUT/lenet" "$LENET/real" "$LENET/real_seed1" "$LENET/quaternion" \
      "$LENET/quaternion_seed1" -o "$OUT/lenet.png" --table "$OUT/lenet.md" \
      --targets $TARGETS \
      --title "LeNet-300-100, MNIST: strong tickets (supermasks) vs IMP tickets"
esac

case " $ONLY " in *" variants "*)
  # seed 0, keep 0.5 and 0.1: Kaiming normal weights, 4-bit grid weights, biprop
  # (alpha sign(W) x mask on Kaiming normal weights), and whole-quaternion masks
  for keep in 0.1 0.5; do
    for algebra in real quaternion; do
      run "$OUT/lenet_variants/${algebra}_kaiming_keep${keep}" --algebra $algebra \
          --keep $keep --init kaiming_normal
      run "$OUT/lenet_variants/${algebra}_kbit4_keep${keep}" --algebra $algebra \
          --keep $keep --init kbit --weight-bits 4
      run "$OUT/lenet_variants/${algebra}_biprop_keep${keep}" --algebra $algebra \
          --keep $keep --init kaiming_normal --binary
    done
    run "$OUT/lenet_variants/quaternion_element_keep${keep}" --algebra quaternion \
        --keep $keep --granularity element
  done
  $HP plot "$OUT/lenet_variants" "$OUT/lenet"/*_keep0.1_seed0 "$OUT/lenet"/*_keep0.5_seed0 \
      -o "$OUT/lenet_variants.png" --table "$OUT/lenet_variants.md" --targets 50,12.6,10,2.5 \
      --title "LeNet-300-100, MNIST: supermask variants (seed 0)"
esac

case " $ONLY " in *" conv4 "*)
  # Conv-4 at width 0.25 (channels 16, 16, 32, 32; fully connected 64, 64, 10), CIFAR-10
  # (JPEG copy on this project's machines), no augmentation, the same optimizer, a CPU
  # budget of 3,500 iterations (about 10 epochs of 45,000 images) at batch 128.
  # The real network also at the quaternion network's weight counts (keep x 38,608 /
  # 152,368: 0.0253, 0.0760, 0.1267, 0.1774), so that both algebras meet at equal weights.
  source results/cifar_data.sh
  conv4() {  # conv4 NAME KEEP [OPTION...]: NAME is the algebra, then any tag (real_scalefan)
    run "$OUT/conv4/$1_keep$2_seed0" --model conv4 --width 0.25 --algebra "${1%%_*}" \
        --keep "$2" --iterations 3500 --eval-every 350 --test-when-improved \
        --data-dir "$CIFAR_DIR" "${@:3}"
  }
  for keep in 0.1 0.3 0.5 0.7; do
    conv4 real $keep
    conv4 quaternion $keep
  done
  for keep in 0.0253 0.076 0.1267 0.1774; do conv4 real $keep; done
  # below keep 0.1 the real network's signal vanishes (seven layers each keeping a few %
  # of weights ±sqrt(2/fan_in)); hidden-networks' remedy: the constant of the kept fan
  for keep in 0.076 0.0253; do conv4 real_scalefan $keep --scale-fan; done
  # the IMP tickets compared with: Conv-4 trained to convergence at every level, seed 0
  C=${CONV4:-results/conv4_converged}
  $HP plot "$OUT/conv4" "$C/real_seed0" "$C/quaternion_seed0" -o "$OUT/conv4.png" \
      --table "$OUT/conv4.md" --targets 100,70,50,30,25.3,17.7,12.7,10,7.6,2.5 \
      --title "Conv-4 (width 0.25), CIFAR-10 (JPEG copy): strong tickets vs IMP tickets"
esac
