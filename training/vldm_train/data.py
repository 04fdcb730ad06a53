"""Datasets rendered from the procedural world (world.py), cached under training/data-cache/.

    PYTHONPATH=training /usr/bin/python3 -m vldm_train.data [--workers 2] [--small]

Training drives use seeds 0, 1, 2, …; held-out drives use seeds from 1 000 000 up, so evaluation
never sees a training drive. Each set is a uint8 array saved as .npy (memory-mapped when loaded):

| set | shape | what |
|---|---|---|
| `key` | [N, 10, 64, 128, 3] | keyframes, every 16th video frame (1.5 fps) |
| `vid` | [N, 33, 64, 128, 3] | 33 consecutive 24 fps frames (both interpolation rates, decoder clips) |
| `hi` | [N, 8, 96, 96, 3] | 8 consecutive 256×512 frames cropped to 96×96 at multiples of 4 (upsampler) |
| `hifull` | [N, 8, 256, 512, 3] | held-out only: whole 256×512 frames for the upsampler evaluation |

plus `<set>-labels.npy` [N, 4] (day, night, clear, crowded). `VLDM_DATA_CACHE` overrides the folder.
`--scale K` renders training sets with K× the drives (seeds 0 … K·N−1, files `<set>-train-xK.npy`),
for training on a GPU, which gets through the default sets in seconds; held-out sets never scale.
"""

import argparse
import os
from multiprocessing import Pool

import numpy as np

from .world import Drive, downsample

CACHE = os.environ.get(
    "VLDM_DATA_CACHE", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data-cache")
)
HELD_OUT_SEED = 1_000_000
KEY_STRIDE = 16
KEY_FRAMES = 10
VID_FRAMES = 33
HI_FRAMES = 8
HI_CROP = 96

# (set, split) → number of drives. `--small` divides by 100 (smoke tests).
SIZES = {
    ("key", "train"): 1000,
    ("vid", "train"): 300,
    ("hi", "train"): 250,
    ("key", "eval"): 64,
    ("vid", "eval"): 32,
    ("hifull", "eval"): 8,
}
HI_CROPS_PER_DRIVE = 3
# Seed offsets keep the sets of one split on different drives.
SET_OFFSET = {"key": 0, "vid": 200_000, "hi": 400_000, "hifull": 600_000}


def _render(job):
    kind, seed = job
    d = Drive(seed)
    if kind == "key":
        x = np.stack([d.render_base(i * KEY_STRIDE) for i in range(KEY_FRAMES)])
    elif kind == "vid":
        x = np.stack([d.render_base(i) for i in range(VID_FRAMES)])
    elif kind == "hifull":
        x = np.stack([d.render(i) for i in range(HI_FRAMES)])
    else:
        frames = np.stack([d.render(i) for i in range(HI_FRAMES)])
        rng = np.random.default_rng(seed)
        crops = []
        for _ in range(HI_CROPS_PER_DRIVE):
            y = 4 * rng.integers(15, (256 - HI_CROP) // 4 + 1)  # below most of the sky
            xo = 4 * rng.integers(0, (512 - HI_CROP) // 4 + 1)
            crops.append(frames[:, y : y + HI_CROP, xo : xo + HI_CROP])
        x = np.stack(crops)
    return x, d.labels()


def _scale(split, scale):
    return scale if split == "train" else 1


def path(kind, split, small=False, scale=1):
    k = _scale(split, scale)
    return os.path.join(CACHE, f"{kind}-{split}{'-small' if small else ''}{f'-x{k}' if k != 1 else ''}.npy")


def build(kind, split, workers=2, small=False, scale=1):
    n = SIZES[(kind, split)] // (100 if small else 1) * _scale(split, scale)
    n = max(n, 2)
    base = (HELD_OUT_SEED if split == "eval" else 0) + SET_OFFSET[kind]
    jobs = [(kind, base + i) for i in range(n)]
    if workers > 1:
        with Pool(workers) as pool:
            res = pool.map(_render, jobs, chunksize=4)
    else:
        res = [_render(j) for j in jobs]
    if kind == "hi":
        x = np.concatenate([r[0] for r in res])
        labels = np.repeat(np.stack([r[1] for r in res]), HI_CROPS_PER_DRIVE, axis=0)
    else:
        x = np.stack([r[0] for r in res])
        labels = np.stack([r[1] for r in res])
    os.makedirs(CACHE, exist_ok=True)
    p = path(kind, split, small, scale)
    np.save(p + ".tmp.npy", x)
    np.save(p.replace(".npy", "-labels.npy"), labels)
    os.replace(p + ".tmp.npy", p)
    return p


def load(kind, split, small=False, workers=2, scale=1):
    """(frames uint8 memmap, labels float32); renders and caches the set on first use."""
    p = path(kind, split, small, scale)
    if not os.path.exists(p):
        build(kind, split, workers=workers, small=small, scale=scale)
    return np.load(p, mmap_mode="r"), np.load(p.replace(".npy", "-labels.npy"))


def to_float(x):
    """uint8 [..., H, W, 3] → float32 [..., 3, H, W] in [-1, 1] (numpy)."""
    x = np.asarray(x, dtype=np.float32) / 127.5 - 1.0
    return np.moveaxis(x, -1, -3)


def to_uint8(x):
    """float [..., 3, H, W] in [-1, 1] → uint8 [..., H, W, 3]."""
    x = np.moveaxis(np.asarray(x, dtype=np.float32), -3, -1)
    return (np.clip((x + 1.0) * 127.5, 0, 255) + 0.5).astype(np.uint8)


def main(argv=None):
    p = argparse.ArgumentParser(description="render and cache the procedural driving datasets")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--small", action="store_true", help="1/100 size (smoke tests)")
    p.add_argument("--only", nargs="*", help="set:split names in this order, e.g. key:train vid:eval")
    p.add_argument("--scale", type=int, default=1, help="training sets with K× the drives")
    args = p.parse_args(argv)
    names = args.only or [f"{k}:{s}" for k, s in SIZES]
    for name in names:
        kind, split = name.split(":")
        if (kind, split) not in SIZES:
            raise SystemExit(f"unknown set {name!r}; sets: {', '.join(f'{k}:{s}' for k, s in SIZES)}")
        p = path(kind, split, args.small, args.scale)
        if os.path.exists(p):
            print("cached", p)
            continue
        print("built", build(kind, split, workers=args.workers, small=args.small, scale=args.scale), flush=True)


if __name__ == "__main__":
    main()
