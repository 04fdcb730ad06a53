"""CI smoke test of the training code: every stage a few steps on tiny data with tiny networks, then
a full pack export (contract metadata, manifest with sha256s) and golden cases for ort_check.

    PYTHONPATH=training /usr/bin/python3 -m vldm_train.smoke --out DIR [--run RUNDIR]
    node training/scripts/ort_check.cjs DIR DIR/cases     # the same graphs under onnxruntime-node
    npx vldm models verify DIR                            # the orchestrator's contract check

It proves the code path end to end (data → every stage → resume → export), not model quality, and
the GPU round trip of `scripts/gpu_train.sh` on the CPU: weights-only checkpoints written by
`--weights-out`, merged into the run (`vldm_train.weights`), resumed with a fresh optimiser.
"""

import argparse
import json
import os
import shutil
import tempfile
import time

import torch

from . import export, train, weights


def main(argv=None):
    p = argparse.ArgumentParser(description="smoke-test every training stage and export a pack")
    p.add_argument("--out", required=True, help="folder for the exported pack (replaced)")
    p.add_argument("--run", help="run folder for checkpoints (default: a temporary folder)")
    args = p.parse_args(argv)
    t0 = time.time()
    run = args.run or tempfile.mkdtemp(prefix="vldm-smoke-")
    common = ["--run", run, "--size", "tiny", "--small", "--threads", "1", "--log", "1", "--every", "2"]
    wout = os.path.join(run, "weights-out")
    plan = [
        ("ae", ["--steps", "3", "--batch", "4"]),
        ("ae", ["--steps", "4", "--batch", "4", "--resume"]),  # resume path
        ("latents", []),
        ("tdec", ["--steps", "3", "--batch", "2"]),
        ("ldm", ["--steps", "3", "--batch", "4"]),
        ("pred", ["--steps", "3", "--batch", "1", "--weights-out", wout]),
        ("merge", []),
        ("pred", ["--steps", "4", "--batch", "1", "--resume"]),  # from the weights-only checkpoint
        ("interp", ["--steps", "3", "--batch", "2"]),
        ("up_image", ["--steps", "3", "--batch", "2"]),
        ("up_video", ["--steps", "2", "--batch", "1"]),
    ]
    for stage, extra in plan:
        if stage == "merge":
            weights.merge(wout, run)
            weights.slim(run, os.path.join(run, "slim"), ("pred",), half=True)
            continue
        train.main([stage] + common + extra)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    torch.set_num_threads(1)
    path = export.export_pack(run, args.out, cases=os.path.join(args.out, "cases"),
                              description="smoke-test pack: tiny networks trained a few steps (CI only)")
    with open(path) as f:
        m = json.load(f)
    print(json.dumps({"manifest": path, "roles": sorted(m["models"]), "seconds": round(time.time() - t0, 1)}))
    if not args.run:
        shutil.rmtree(run)


if __name__ == "__main__":
    main()
