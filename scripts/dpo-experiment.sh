#!/usr/bin/env bash
# Issue 6 item 7: offline vs online vs offline→online DPO at playground scale, with equal DPO steps
# (docs/results/dpo-experiment.md).
#
# Start: the student fine-tuned on the reward-based arbitrage SFT set, and the offline preference
# set of that arbitrage run (best vs worst per prompt) — both made by
#   node bin/aya-playground.js arbitrage-experiment --zoo public/models --per-language 16 --steps 150 \
#     --eval-samples 2 --bootstrap 2000 --seed 1 --out scratch/exp-full
# Three arms with the same number of DPO steps (S): offline only (S offline steps), online only
# (3 iterations × S/3 steps, K = 4 samples per prompt ranked by the Arbiter), offline → online
# (S/2 offline + 3 × S/6 online). Each arm's final model plays the SFT student head-to-head on the
# held-out prompts of all 23 languages (the first 6 per language, 1 sample each, Arbiter judge, 2000
# bootstrap resamples).
#
#   scripts/dpo-experiment.sh          # each finished step is kept and skipped on a re-run
set -euo pipefail
cd "$(dirname "$0")/.."
CLI="node bin/aya-playground.js"
ARB=${ARB:-scratch/exp-full}
SFT=$ARB/students/student-reward
DATA=${DATA:-$ARB/arbitrage/reward/preferences.jsonl}
EXP=${EXP:-scratch/dpo-exp}
OUT=docs/results/dpo-experiment
S=${S:-30}
COMMON=(--model "$SFT" --loss sigmoid --beta 0.1 --lr 1e-3 --batch 4 --seq 64 --seed 1 --k 4 --per-language 2
        --eval-per-language 1 --eval-every 10 --max-new-tokens 24 --temperature 0.9 --json)
mkdir -p "$EXP" "$OUT"
arm() { # name, extra args…
  local name=$1; shift
  if [ -f "$OUT/$name.jsonl" ] && grep -q '"type":"done"' "$OUT/$name.jsonl"; then echo "== $name: done before"; return; fi
  echo "== $name"; $CLI dpo "${COMMON[@]}" --out "$EXP/$name" "$@" > "$OUT/$name.jsonl"
}
arm offline --mode offline --data "$DATA" --steps "$S"
arm online --mode online --online-steps $((S / 3)) --iterations 3
arm offline-online --mode offline+online --data "$DATA" --steps $((S / 2)) --online-steps $((S / 6)) --iterations 3
final() { # the last saved model of an arm
  node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse).filter(x=>x.type==="saved");console.log(l.at(-1).modelId)' "$OUT/$1.jsonl"
}
for name in offline online offline-online; do
  if [ -f "$OUT/eval-$name-vs-sft.json" ]; then echo "== eval $name: done before"; continue; fi
  echo "== eval $name vs SFT"
  $CLI eval --a "$(final $name)" --b "$SFT" --per-language ${EVAL_PER:-6} --samples 1 --seed 1 --bootstrap 2000 --out "$OUT/eval-$name-vs-sft.json" --json > /dev/null
done
node scripts/dpo-experiment-report.mjs
