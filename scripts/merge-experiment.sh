#!/usr/bin/env bash
# Issue 7 item 7: "mix data or merge models?" at playground scale (docs/results/merge-experiment.md).
#
# From the shipped base-student (200 steps on all 23 languages) as the SHARED base, fine-tune five
# family experts (own languages + eng/spa/fra, S steps each) and a "union" model (all 23 languages,
# 5·S steps = the same total), then merge the experts (linear, ties, dare_ties, CMA-ES-searched
# linear weights) and compare per-language held-out loss and head-to-head win-rates vs the union.
# The zoo teachers are NOT used as merge inputs: they were trained from different random inits.
#
#   scripts/merge-experiment.sh            # everything (each finished step is kept and skipped)
#   PHASE=train scripts/merge-experiment.sh   # only the training
#   PHASE=merge scripts/merge-experiment.sh   # only the merges and the evaluation
#   S=100 LR=3e-3 BUDGET=32 EXP=scratch/merge-exp   # the defaults (a new EXP for other settings)
#
# Models go to scratch/merge-exp/ (gitignored); results to docs/results/merge-*.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI="node bin/aya-playground.js"
S=${S:-100}
LR=${LR:-3e-3}
EXP=${EXP:-scratch/merge-exp}
BASE=public/models/base-student
PHASE=${PHASE:-all}
FAMILIES=(romance germanic-hellenic slavic mideast-southasia east-asia)
# FAMILIES[i].trainLanguages of src/data/languages.ts (own + eng/spa/fra)
LANGS=(
  fra,spa,ita,por,ron,eng
  eng,deu,nld,ell,spa,fra
  rus,ukr,pol,ces,eng,spa,fra
  arb,heb,pes,hin,tur,eng,spa,fra
  zho,jpn,kor,vie,ind,eng,spa,fra
)
mkdir -p "$EXP"
log() { echo "[$(date -u +%FT%TZ)] $*"; }

train() { # out langs steps seed
  if [ -f "$1/model.safetensors" ]; then log "$1: already trained, kept"; return; fi
  log "$1: training $3 steps on $2 (seed $4)"
  $CLI train --model "$BASE" --out "$1" --langs "$2" --steps "$3" --batch 8 --seq 64 --lr "$LR" --seed "$4" --json > "$1.train.jsonl"
  log "$1: $(tail -1 "$1.train.jsonl")"
}

if [ "$PHASE" = all ] || [ "$PHASE" = train ]; then
  for i in "${!FAMILIES[@]}"; do
    train "$EXP/expert-${FAMILIES[$i]}" "${LANGS[$i]}" "$S" $((11 + i))
  done
  train "$EXP/union" "$(IFS=,; echo "arb,zho,ces,nld,eng,fra,deu,ell,heb,hin,ind,ita,jpn,kor,pes,pol,por,ron,rus,spa,tur,ukr,vie")" $((5 * S)) 20
fi

# ---- merges, search, evaluation ------------------------------------------------------------------
R=docs/results/merge-experiment     # configs, raw JSON/CSV (the summary is docs/results/merge-experiment.{md,json,csv})
EXPERTS=(); for f in "${FAMILIES[@]}"; do EXPERTS+=("$EXP/expert-$f"); done
ZOO=(); for f in "${FAMILIES[@]}"; do ZOO+=("public/models/teacher-$f"); done

# config NAME METHOD WEIGHT [BASE] [PARAMS-YAML] [MODELS…]: a mergekit config over the experts
config() {
  local name=$1 method=$2 weight=$3 base=$4 params=$5; shift 5
  local models=("$@"); [ ${#models[@]} -eq 0 ] && models=("${EXPERTS[@]}")
  {
    echo "# issue 7 experiment: $name (scripts/merge-experiment.sh); paths relative to the repository root"
    echo "merge_method: $method"
    [ -n "$base" ] && echo "base_model: $base"
    echo "models:"
    for m in "${models[@]}"; do echo "  - model: $m"; echo "    parameters: {weight: $weight}"; done
    [ -n "$params" ] && echo "parameters: $params"
    echo "dtype: float32"
  } > "$R/$name.yml"
}

merge() { # name
  if [ -f "$EXP/merge-$1/model.safetensors" ]; then log "merge-$1: kept"; return; fi
  log "merge-$1"; $CLI merge "$R/$1.yml" --out "$EXP/merge-$1" --seed 1
}

if [ "$PHASE" = all ] || [ "$PHASE" = merge ]; then
  mkdir -p "$R"
  # linear: equal weights (normalize: true divides by Σw) — Aya Expanse's method.
  config linear linear 1 "" ""
  # ties: task vectors from the shared base, top 50% by magnitude per tensor, sign election,
  # disjoint mean (normalize defaults to true, so the weights' scale does not matter).
  config ties ties 0.2 "$BASE" "{density: 0.5}"
  # dare_ties: Bernoulli keep 50% (seeded), L1 rescale (mergekit's default), sign election; it does
  # not normalize, so weights 0.2 = Σw 1, the average of the task vectors.
  config dare_ties dare_ties 0.2 "$BASE" "{density: 0.5}"
  # task_arithmetic with weight 1 each: base + Σ τ_i — every expert's full update, not a fifth of it.
  config task_arithmetic task_arithmetic 1 "$BASE" ""
  # The caution: the shipped zoo teachers come from different random inits (manifest init_seed 101–105).
  config zoo-teachers-linear linear 1 "" "" "${ZOO[@]}"
  for m in linear ties dare_ties task_arithmetic zoo-teachers-linear; do merge $m; done

  # CMA-ES over the simplex of linear weights, objective = mean −held-out loss over the 23 languages.
  if [ ! -f "$R/search-cmaes.best.yml" ]; then
    log "merge-search cmaes"
    $CLI merge-search --models "$(IFS=,; echo "${EXPERTS[*]}")" --method linear --strategy cmaes \
      --budget "${BUDGET:-32}" --seed 1 --out "$R/search-cmaes.json" 2>&1 | tee "$EXP/search-cmaes.log"
  fi
  cp "$R/search-cmaes.best.yml" "$R/cmaes.yml"
  merge cmaes

  MERGES=(linear ties dare_ties task_arithmetic cmaes)
  ALL=("$BASE" "${EXPERTS[@]}" "$EXP/union"); for m in "${MERGES[@]}" zoo-teachers-linear; do ALL+=("$EXP/merge-$m"); done
  if [ ! -f "$R/held-out.json" ]; then
    log "held-out loss of ${#ALL[@]} models"
    $CLI held-out --models "$(IFS=,; echo "${ALL[*]}")" --out "$R/held-out.json"
  fi

  # Head-to-head vs the union model: every merge, and the base student as the reference point.
  for m in "${MERGES[@]}" base-student; do
    a="$EXP/merge-$m"; [ "$m" = base-student ] && a="$BASE"
    if [ -f "$R/eval-$m-vs-union.json" ]; then log "eval $m: kept"; continue; fi
    log "eval $m vs union"
    $CLI eval --a "$a" --b "$EXP/union" --per-language 6 --samples 1 --seed 1 --out "$R/eval-$m-vs-union.json" > "$EXP/eval-$m.log" 2>&1
    tail -3 "$EXP/eval-$m.log"
  done
  npx tsx scripts/merge-experiment-stats.ts > "$R/task-vectors.json"
  npx tsx scripts/merge-experiment-report.ts
fi
