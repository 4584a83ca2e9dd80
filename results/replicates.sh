#!/usr/bin/env bash
# More seeds for the committed single-seed reproductions, with exactly their protocols:
# LeNet-300-100 (Frankle & Carbin protocol), gpt_char (Q/K/V pruned 50% per round) and
# the ViT on CIFAR-10, real and quaternion.  Seed 0 is the committed run (e.g.
# results/gpt_char/real); seed S goes to the same place with the suffix _seedS, and
# `hyperprune plot` averages runs whose settings differ only in the seed.
#
#   bash results/replicates.sh                 # every run below, two lanes in parallel
#   ONLY="lenet gpt" SEEDS="1 2" bash results/replicates.sh
#   PLOT_ONLY=1 bash results/replicates.sh     # only the figures and tables
#
# The figures and tables (results/replicates/*.png, *.md) average every seed present: line
# and table entry the mean, band min to max, table mean ± sample std with n.
# Resumable like every lottery run.  About 8 CPU-hours in all on this machine class, one
# BLAS thread a lane (as recorded by the committed runs: LeNet 1-2 hours a run, gpt_char
# about 15 minutes, the ViT about 12 minutes with the code of the Benchmarks section).
# OUT=DIR writes the runs under DIR instead of results/ (to regenerate and compare).
set -euo pipefail
cd "$(dirname "$0")/.."
HP=${HP:-hyperprune}
PY=${PY:-python3}
OUT=${OUT:-results}
SEEDS=${SEEDS:-1 2}
VIT_SEEDS=${VIT_SEEDS:-1 2}
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

if [ -z "${PLOT_ONLY:-}" ]; then
  lane real & a=$!
  lane quaternion & b=$!
  wait $a $b
fi

seeds() {  # seeds DIR: DIR and its DIR_seedS replicates that exist
  local d
  for d in "$1" "$1"_seed*; do [ -d "$d" ] && printf '%s\n' "$d"; done
  return 0
}
plot() {  # plot NAME TITLE TARGETS RUN...: one figure and table over the runs' seeds
  local name=$1 title=$2 targets=$3 runs=() r
  shift 3
  for r in "$@"; do mapfile -t -O "${#runs[@]}" runs < <(seeds "$r"); done
  mkdir -p "$OUT/replicates"
  $HP plot "${runs[@]}" -o "$OUT/replicates/$name.png" --table "$OUT/replicates/$name.md" \
      --targets "$targets" --title "$title"
}
HALVES=100,50,25,12.5,6.25,3.13,1.56,0.78,0.39,0.2
wants lenet && plot lenet_frankle \
    "LeNet-300-100, MNIST, Frankle & Carbin protocol: seeds averaged" \
    100,51.3,25.3,21.1,13.5,7.0,3.6,1.9,1.1 \
    "$OUT/lenet_300_100/frankle/real" "$OUT/lenet_300_100/frankle/quaternion"
wants gpt && plot gpt_char "gpt_char, tiny Shakespeare, Q/K/V pruned 50% a round: seeds averaged" \
    "$HALVES" "$OUT/gpt_char/real" "$OUT/gpt_char/quaternion"
wants vit && plot vit_cifar10 "ViT (2 layers, width 64), CIFAR-10 (JPEG copy): seeds averaged" \
    "$HALVES" "$OUT/vit_cifar10/real" "$OUT/vit_cifar10/quaternion"
exit 0
