#!/usr/bin/env bash
# Trains the reference pack in two lanes that run side by side on two cores (one torch thread each):
#   lane a: ae → latents → ldm → pred          lane b: up_image → up_video → tdec → interp
# Each stage resumes from its checkpoint, so re-running this script continues training; MINUTES scales
# every stage's wall-time budget for one pass (budgets: ae 12, ldm 25, pred 20, up_image 15, up_video 10,
# tdec 10, interp 20 minutes). Logs: $RUN/lane-a.log, $RUN/lane-b.log.
# For a fresh run, or to resume an interrupted one. Do not use it to train a finished run further:
# more `ae` or `ldm` steps would change what later stages were trained on; use continue_reference.sh.
# Usage (from training/): scripts/train_reference.sh [RUN=runs/ref] [PASS_MINUTES_FACTOR=1]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/ref}
F=${2:-1}
PY="nice -n 10 /usr/bin/python3 -m vldm_train.train"
export PYTHONPATH=.
mkdir -p "$RUN"
m() { awk -v a="$1" -v f="$F" 'BEGIN { print a * f }'; }
wait_for() { while [ ! -f "$RUN/$1.done" ]; do sleep 20; done; }
# Datasets are rendered by `python3 -m vldm_train.data` (started first, or built on first use).
wait_data() { while [ ! -f "${VLDM_DATA_CACHE:-data-cache}/$1.npy" ]; do sleep 20; done; }
lane_a() {
  wait_data key-train
  $PY ae --run "$RUN" --resume --steps 4000 --minutes "$(m 12)"
  wait_data vid-train
  $PY latents --run "$RUN"
  $PY ldm --run "$RUN" --resume --steps 6000 --minutes "$(m 25)"
  $PY pred --run "$RUN" --resume --steps 3000 --minutes "$(m 20)"
}
lane_b() {
  wait_data hi-train
  $PY up_image --run "$RUN" --resume --steps 4000 --minutes "$(m 15)"
  $PY up_video --run "$RUN" --resume --steps 1500 --minutes "$(m 10)"
  wait_for ae
  $PY tdec --run "$RUN" --resume --steps 1500 --minutes "$(m 10)"
  wait_for ldm
  $PY interp --run "$RUN" --resume --steps 3000 --minutes "$(m 20)"
}
rm -f "$RUN"/*.done
lane_a > "$RUN/lane-a.log" 2>&1 &
lane_b > "$RUN/lane-b.log" 2>&1 &
wait
