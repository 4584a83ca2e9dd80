#!/usr/bin/env bash
# "Beyond Real Weights" at a laptop's scale (issue 14): the MLP blocks of the trained real
# gpt_char (nanoGPT's CPU configuration, results/gpt_char/real level 0, validation loss
# 1.906) replaced by PHM layers -- progressively, abruptly, or trained from scratch --
# and, as the control for the students' extra training, the teacher trained on as it is.
#
#   bash results/distill/reproduce.sh            # every run (one lane, resumable)
#   OUT=DIR bash results/distill/reproduce.sh
#
# Every student trains 1,600 iterations (stage A 800 + stage B 800 for the progressive
# method; 1,600 for abrupt and scratch), batch 12 x 64 characters, the teacher's AdamW
# (lr 1e-3, betas 0.9/0.99, weight decay 0.1 on matrices, gradient clip 1) and its cosine
# schedule (warmup 100, down to 1e-4) stretched over the 1,600 iterations; distillation at
# T = 4 with weight 1, reconstruction weight 1, a linear fade over 500 iterations;
# evaluation every 100 iterations on the fixed validation sample (20 x 12 windows).
# The 8 MLP matrices (128 -> 512 -> 128) hold 524,288 of the teacher's 818,176
# parameters; PHM with n = 4 (learned rules) keeps 131,584 of them, n = 2 262,208.
set -euo pipefail
cd "$(dirname "$0")/../.."
HP=${HP:-hyperprune}
OUT=${OUT:-results/distill}
TEACHER=${TEACHER:-results/gpt_char/real}
PY=${PY:-python3}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$OUT"

run() {  # run NAME [options]: one student, resumed if it exists
  local name=$1; shift
  $HP distill --teacher "$TEACHER" --stage-a-iters 800 --stage-b-iters 800 \
      --fade-iters 500 --eval-every 100 --quiet --run-dir "$OUT/$name" "$@" \
      > "$OUT/$name.log" 2>&1
}

# the decisive comparison, n = 4 learned rules, 2 seeds
for seed in 0 1; do
  run "progressive_n4_seed$seed" --seed "$seed"
  run "abrupt_n4_seed$seed" --method abrupt --seed "$seed"
  run "scratch_n4_seed$seed" --method scratch --seed "$seed"
  # the control: no replacement, the teacher trained on for the same iterations
  run "dense_seed$seed" --method dense --seed "$seed"
done
# n = 2 (learned) and the quaternion table (fixed rules)
for method in progressive abrupt scratch; do
  run "${method}_n2_seed0" --method "$method" --phm-n 2
  run "${method}_quaternion_seed0" --method "$method" --rules quaternion
done
# ablations of the progressive method (n = 4, seed 0)
run progressive_n4_fade100_seed0 --fade-iters 100
run progressive_n4_fade800_seed0 --fade-iters 800
run progressive_n4_nokd_seed0 --kd-weight 0
run progressive_n4_norecon_seed0 --recon-weight 0
run progressive_n4_nokd_norecon_seed0 --kd-weight 0 --recon-weight 0
for seed in 0 1; do
  run "progressive_fisher_seed$seed" --capacity fisher --seed "$seed"
  run "progressive_random_seed$seed" --capacity random --seed "$seed"
done

$PY results/distill/report.py "$OUT"
