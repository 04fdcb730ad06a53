#!/usr/bin/env bash
# Continues a trained reference run without changing what other stages depend on: only the leaf
# stages resume — pred and interp (temporal stacks on the frozen image LDM), tdec (decoder temporal
# layers; the encoder and so the latent space stay fixed) and up_video (on the frozen up_image).
# Re-running ae, latents, ldm or up_image would invalidate the stages trained on top of them.
# Usage: training/scripts/continue_reference.sh [RUN=runs/ref] [MINUTES_PER_STAGE=30]
# Then: training/scripts/export_and_eval.sh training/runs/ref models/reference
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/ref}
M=${2:-30}
PY="nice -n 10 /usr/bin/python3 -m vldm_train.train"
export PYTHONPATH=.
lane_1() {
  $PY pred --run "$RUN" --resume --steps 20000 --minutes "$M"
  $PY tdec --run "$RUN" --resume --steps 20000 --minutes "$M"
}
lane_2() {
  $PY interp --run "$RUN" --resume --steps 20000 --minutes "$M"
  $PY up_video --run "$RUN" --resume --steps 20000 --minutes "$M"
}
lane_1 > "$RUN/continue-1.log" 2>&1 &
lane_2 > "$RUN/continue-2.log" 2>&1 &
wait
