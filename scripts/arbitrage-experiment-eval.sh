#!/usr/bin/env bash
# The evaluation phase of issue 5's experiment as separate `eval` runs (what docs/results/
# arbitrage-experiment.md reports): each strategy's student against the single-teacher student on
# the first 8 held-out prompts of each of the 23 languages, 1 sample, seed 1, 2000 bootstrap
# resamples. (The one-command recipe evaluates on every held-out prompt with 2 samples; on this
# machine, shared with two other experiments, that would have taken over an hour more.)
set -euo pipefail
cd "$(dirname "$0")/.."
EXP=${EXP:-scratch/exp-full}
PER=${PER:-8}
for s in reward fixed learned random; do
  out=$EXP/eval/$s-vs-single.json
  if [ -f "$out" ]; then echo "== $s: done before"; continue; fi
  echo "== $s vs single"
  node bin/aya-playground.js eval --a "$EXP/students/student-$s" --b "$EXP/students/student-single" \
    --per-language "$PER" --samples 1 --seed 1 --bootstrap 2000 --max-new-tokens 48 --out "$out" --json > /dev/null
done
