#!/usr/bin/env bash
# More seeds for the committed single-seed reproductions, with exactly their protocols:
# LeNet-300-100 (Frankle & Carbin protocol), gpt_char (Q/K/V pruned 50% per round) and
# the ViT on CIFAR-10, real and quaternion.  Seed 0 is the committed run (e.g.
# results/gpt_char/real); seed S goes to the same place with the suffix _seedS, and
# `hyperprune plot` averages runs whose settings differ only in the seed.
#
#   bash results/replicates.sh                 # every run below, two lanes in parallel
#   ONLY="lenet gpt" SEEDS="1 2" bash results/replicates.sh
#
# Resumable like every lottery run.  About 12 CPU-hours in all on this machine class
# (LeNet about 55 min a run, gpt_char and the ViT about an hour each, one BLAS thread).
# OUT=DIR writes the runs under DIR instead of results/ (to regenerate and compare).
set -euo pipefail
cd "$(dirname "$0")/.."
HP=${HP:-hyperprune}
PY=${PY:-python3}
OUT=${OUT:-results}
SEEDS=${SEEDS:-1 2}
VIT_SEEDS=${VIT_SEEDS:-1}
ONLY=${ONLY:-lenet gpt vit}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export HYPERPRUNE_DATA=${HYPERPRUNE_DATA:-$PWD/data}

lottery() {  # lottery RUN_DIR [options]: one run, its log beside it
  local dir=$1; shift
  mkdir -p "$(dirname "$dir")"
  $HP lottery --run-dir "$dir" --quiet "$@" > "$dir.log" 2>&1
}

lenet() {  # lenet ALGEBRA LEVELS SEED
  lottery "$OUT/lenet_300_100/frankle/$1_seed$3" --preset frankle --algebra "$1" \
      --levels "$2" --seed "$3"
}
gpt() {  # gpt ALGEBRA SEED
  lottery "$OUT/gpt_char/$1_seed$2" --preset gpt_char --algebra "$1" --levels 7 --seed "$2"
}
vit() {  # vit ALGEBRA SEED
  lottery "$OUT/vit_cifar10/$1_seed$2" --model vit --dataset cifar10 --algebra "$1" \
      --n-layer 2 --n-head 4 --n-embd 64 --mlp-dim 128 --scope qkv --strategy componentwise \
      --rate 0.5 --levels 7 --iterations 1500 --eval-every 250 --batch-size 64 \
      --optimizer adamw --lr 1e-3 --weight-decay 0.05 --lr-schedule cosine \
      --warmup-iters 100 --min-lr 1e-4 --data-dir "$CIFAR_DIR" --seed "$2"
}
wants() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if wants vit; then source results/cifar_data.sh; fi   # sets CIFAR_DIR

lane() {  # lane ALGEBRA: every experiment of one algebra, one seed after another
  local algebra=$1 levels=18 seed
  [ "$algebra" = quaternion ] && levels=14
  for seed in $SEEDS; do wants lenet && lenet "$algebra" "$levels" "$seed"; done
  for seed in $SEEDS; do wants gpt && gpt "$algebra" "$seed"; done
  for seed in $VIT_SEEDS; do wants vit && vit "$algebra" "$seed"; done
  return 0
}

lane real & a=$!
lane quaternion & b=$!
wait $a $b
