"""Weights-only checkpoints: carry a run's weights to another machine and bring trained ones back.

    PYTHONPATH=training /usr/bin/python3 -m vldm_train.weights slim --run training/runs/ref --out DIR [--half]
    PYTHONPATH=training /usr/bin/python3 -m vldm_train.weights merge --src DIR --run training/runs/ref

`slim` writes `<stage>.pt` with only the module weights and the step (no optimiser or RNG state; with
`--half` float weights as float16, a third of a full checkpoint), plus `meta.json`: what
`scripts/gpu_train.sh` starts from. Training there with `--weights-out` writes the same format back.
`merge` installs such files as the run's checkpoints; the replaced checkpoint of each stage is kept as
`<stage>.before-merge.pt`. A merged stage resumes with a fresh optimiser (`train.Stage.resume`).
"""

import argparse
import os
import shutil

import torch

STAGES = ("ae", "tdec", "ldm", "pred", "interp", "up_image", "up_video")


def _modules(ckpt):
    """The state dicts in a checkpoint (model, disc, …): dicts whose values are all tensors."""
    return {
        k: v for k, v in ckpt.items()
        if isinstance(v, dict) and k != "opt" and v and all(torch.is_tensor(x) for x in v.values())
    }


def write(path, modules, step, size, seed, half=False):
    """Write a weights-only checkpoint atomically: {name: state dict} on the CPU, float weights as
    float32 (float16 with `half`), plus the step. `modules` maps names to state dicts."""
    w = {k: {n: t.detach().cpu().to(torch.float16 if half else torch.float32) if t.is_floating_point() else t
             for n, t in sd.items()} for k, sd in modules.items()}
    w.update(step=step, size=size, seed=seed)
    torch.save(w, path + ".tmp")
    os.replace(path + ".tmp", path)


def slim(run, out, stages=STAGES, half=False):
    os.makedirs(out, exist_ok=True)
    for stage in stages:
        p = os.path.join(run, f"{stage}.pt")
        if not os.path.exists(p):
            raise SystemExit(f"{p} does not exist; train that stage first")
        ck = torch.load(p, map_location="cpu", weights_only=False)
        write(os.path.join(out, f"{stage}.pt"), _modules(ck), ck["step"], ck.get("size", "full"), ck.get("seed", 0),
              half)
        print(f"{stage}: step {ck['step']}, {os.path.getsize(os.path.join(out, f'{stage}.pt')) / 1e6:.1f} MB")
    shutil.copy(os.path.join(run, "meta.json"), os.path.join(out, "meta.json"))


def merge(src, run):
    found = [s for s in STAGES if os.path.exists(os.path.join(src, f"{s}.pt"))]
    if not found:
        raise SystemExit(f"no <stage>.pt files in {src}")
    for stage in found:
        ck = torch.load(os.path.join(src, f"{stage}.pt"), map_location="cpu", weights_only=False)
        if not _modules(ck) or "step" not in ck:
            raise SystemExit(f"{src}/{stage}.pt is not a weights-only checkpoint (no state dicts or no step)")
        dst = os.path.join(run, f"{stage}.pt")
        if os.path.exists(dst):
            shutil.copy(dst, os.path.join(run, f"{stage}.before-merge.pt"))
        write(dst, _modules(ck), ck["step"], ck.get("size", "full"), ck.get("seed", 0))
        print(f"{stage}: step {ck['step']} → {dst}")


def main(argv=None):
    p = argparse.ArgumentParser(description="weights-only checkpoints (carry a run to a GPU and back)")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("slim", help="write weights-only copies of a run's checkpoints")
    s.add_argument("--run", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--stages", nargs="*", default=list(STAGES), choices=STAGES)
    s.add_argument("--half", action="store_true", help="store float weights as float16")
    m = sub.add_parser("merge", help="install weights-only checkpoints into a run")
    m.add_argument("--src", required=True)
    m.add_argument("--run", required=True)
    args = p.parse_args(argv)
    if args.cmd == "slim":
        slim(args.run, args.out, args.stages, args.half)
    else:
        merge(args.src, args.run)


if __name__ == "__main__":
    main()
