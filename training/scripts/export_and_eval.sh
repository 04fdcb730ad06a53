#!/usr/bin/env bash
# Exports a trained run as the reference pack, checks it under onnxruntime-node (golden cases and
# per-role timings), and evaluates it on held-out drives (EVAL.md, eval.json, PNGs in the pack).
# Usage: training/scripts/export_and_eval.sh [RUN=training/runs/ref] [PACK=models/reference] [evaluate args…]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
RUN=${1:-training/runs/ref}
PACK=${2:-models/reference}
shift $(( $# > 2 ? 2 : $# ))
export PYTHONPATH=training
CASES=$(mktemp -d)
nice -n 10 /usr/bin/python3 -m vldm_train.export --run "$RUN" --out "$PACK" --cases "$CASES"
nice -n 10 node training/scripts/ort_check.cjs "$PACK" "$CASES" --repeat 5 --json "$CASES/speed.json"
nice -n 10 /usr/bin/python3 -m vldm_train.evaluate --pack "$PACK" --run "$RUN" --speed "$CASES/speed.json" "$@"
rm -rf "$CASES"
# The PNGs are for people to look at; a 256-colour palette (no dithering) keeps them recognisable at
# a fifth of the size, so the whole pack stays under 20 MB.
for png in "$PACK"/*.png; do
  ffmpeg -v error -y -i "$png" \
    -vf "split[a][b];[a]palettegen=max_colors=256:stats_mode=full[p];[b][p]paletteuse=dither=none" \
    -pix_fmt pal8 "$png.pal.png"
  mv "$png.pal.png" "$png"
done
du -b "$PACK" | awk '{printf "pack size: %.2f MB\n", $1 / 1e6}'
