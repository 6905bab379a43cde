#!/usr/bin/env bash
# Retrain the shipped ViT (and optionally continue the DETR) on one GPU in a single call, and write new
# checkpoint folders with their model cards (throughput, MFU, peak memory included) under OUT.
#
#   bash training/gpu_run.sh OUT                  # ViT only (the goal still open: top-1 >= 0.98)
#   DETR_STEPS=20000 bash training/gpu_run.sh OUT # and continue detr-shapes for 20k steps
#   CLAIMS="vit-heads detr-aux-loss" bash training/gpu_run.sh OUT  # and the claims lab's experiments, after them
#
# Then copy OUT/checkpoints/<name> over checkpoints/<name>, raise the floors in
# tests/test_shipped_checkpoints.py and update the README's quality paragraph. Claims (tiny models: a whole claim
# takes minutes on a GPU) land in OUT/claims/<claim>.json and .runs.jsonl, resumable; copy the complete ones to
# experiments/results/ and add their README rows (only 8 files come back from the device: name few claims).
#
# Knobs (environment): CLAIMS (names for `python -m training.run_claims`, default none; CLAIMS_MINUTES, default 5),
# DEVICE (cuda), VIT_STEPS (30000), VIT_BATCH (256), VIT_LR (0.001), DETR_STEPS (0: skip),
# DETR_BATCH (32), WORKERS (data-generation processes, default: CPUs - 2), MINUTES (budget for both runs,
# default 9: each CLI is stopped cleanly at its share and the card is written from what was trained).
# Check it on a CPU first with tiny numbers:
#   DEVICE=cpu VIT_STEPS=3 VIT_BATCH=8 DETR_STEPS=2 DETR_BATCH=2 EVAL_IMAGES=8 bash training/gpu_run.sh /tmp/g
set -euo pipefail

OUT=${1:?usage: bash training/gpu_run.sh OUT}
DEVICE=${DEVICE:-cuda}
VIT_STEPS=${VIT_STEPS:-30000}
VIT_BATCH=${VIT_BATCH:-256}
VIT_LR=${VIT_LR:-0.001}
DETR_STEPS=${DETR_STEPS:-0}
DETR_BATCH=${DETR_BATCH:-32}
EVAL_IMAGES=${EVAL_IMAGES:-2000}
MINUTES=${MINUTES:-9}
WORKERS=${WORKERS:-$(( $(nproc) > 3 ? $(nproc) - 2 : 1 ))}
PY=${PYTHON:-python}
mkdir -p "$OUT/checkpoints"

# Each training command gets a share of the budget; `timeout -s INT` makes the CLI stop after the current
# step and still save its model, so a card can always be written.
share=$MINUTES
[ "$DETR_STEPS" -gt 0 ] && share=$(( MINUTES / 2 > 1 ? MINUTES / 2 : 1 ))

vit_cmd=(-m training.train_vit --preset small --device "$DEVICE" --steps "$VIT_STEPS"
         --batch-size "$VIT_BATCH" --lr "$VIT_LR" --num-workers "$WORKERS" --eval-every 2000
         --checkpoint-every 2000 --no-progress --out "$OUT/vit")
echo "== ViT: python ${vit_cmd[*]} (at most $share min)"
timeout -s INT "${share}m" "$PY" "${vit_cmd[@]}" || [ $? -eq 124 ]
"$PY" -m training.model_card "$OUT/vit" --out "$OUT/checkpoints/vit-shapes" --name vit-shapes --preset small \
    --eval-images "$EVAL_IMAGES" --command "python ${vit_cmd[*]/$OUT/runs}"
grep -m1 "Top-1" "$OUT/checkpoints/vit-shapes/README.md"

if [ "$DETR_STEPS" -gt 0 ]; then
    detr_cmd=(-m training.train_detr --preset small --device "$DEVICE" --init checkpoints/detr-shapes
              --steps "$DETR_STEPS" --batch-size "$DETR_BATCH" --data-seed 4 --num-workers "$WORKERS"
              --eval-every 2000 --checkpoint-every 2000 --no-progress --out "$OUT/detr")
    echo "== DETR: python ${detr_cmd[*]} (at most $share min)"
    timeout -s INT "${share}m" "$PY" "${detr_cmd[@]}" || [ $? -eq 124 ]
    "$PY" -m training.model_card "$OUT/detr" --out "$OUT/checkpoints/detr-shapes" --name detr-shapes \
        --preset small --eval-images "$(( EVAL_IMAGES / 4 > 4 ? EVAL_IMAGES / 4 : 4 ))" \
        --command "python ${detr_cmd[*]/$OUT/runs}"
    grep -m1 -A3 "COCO evaluation" "$OUT/checkpoints/detr-shapes/README.md"
fi

if [ -n "${CLAIMS:-}" ]; then
    claim_args=()
    for claim in $CLAIMS; do claim_args+=(--claim "$claim"); done
    echo "== claims: python -m training.run_claims ${claim_args[*]} --device $DEVICE (at most ${CLAIMS_MINUTES:-5} min)"
    rc=0  # 124: stopped at the budget (the runs finished so far are kept, the claim resumes from them)
    timeout -s INT "${CLAIMS_MINUTES:-5}m" "$PY" -m training.run_claims "${claim_args[@]}" --device "$DEVICE" \
        --threads 4 --no-progress --out "$OUT/claims" || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ] || exit "$rc"
    "$PY" -c 'import json, sys; [print(p, "complete" if json.load(open(p))["complete"] else "partial") for p in sys.argv[1:]]' \
        "$OUT"/claims/*.json || true
fi
