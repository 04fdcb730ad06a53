"""The contract test pack: tiny, untrained, analytic models for the orchestrator's integration tests.

    PYTHONPATH=training python3 -m vldm_train.contract_pack --out models/contract-test [--seed 0]
    PYTHONPATH=training python3 -m vldm_train.contract_pack --out models/bench --shapes reference

`--shapes reference` gives the same analytic models with the reference pack's shapes, windows, latent
scale and sampling steps (models/reference/vldm-pack.json): the pack `vldm bench` runs, so that its
artifacts have their real sizes and its model-call counts are the reference pack's.

Every role of the contract, with every input used and all of B, T, H, W dynamic, small enough to
run multi-segment videos on two CPU cores. The weights are a fixed function of the seed. Properties
the tests can rely on (they are what makes this pack useful, so they are checked in `_self_check`):

- Denoisers predict a bounded clean sample x̂₀ and return ε = (x − α_t·x̂₀)/σ_t (or v = (α_t·x −
  x̂₀)/σ_t), with α_t, σ_t looked up by t in the pack's own schedule, so DDIM samples stay bounded.
  On known frames (mask = 1) x̂₀ is the context itself, so context frames come back exactly.
- The keyframe model predicts ε and the interpolation model predicts v, so both output kinds of the
  contract are exercised.
- The upsampler is pointwise in space and time: x̂₀ = nearest-4×(lowres / α_γ) clipped to [−1,1].
  Running it on tiles therefore gives exactly the untiled result.
- The decoder's temporal receptive field is ±1 frame (one kernel-3 temporal convolution), so decoding
  in windows with an overlap ≥ 1 equals decoding all frames at once.
- Pixels are tanh-bounded; latents are 2·tanh-bounded.
"""

import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import contract as C
from .ortcheck import write_cases
from .layers import from_frames, frames_to_video, timestep_embedding, to_frames, video_to_frames

LATENT_C = 4
F_DOWN = 4
LATENT_SCALE = 0.5
HID = 16
UPSCALE_FRAMES = 16  # the upsampler is pointwise, so its "trained" window is the manifest's upscale window
KEYFRAME_WINDOW = 5  # short windows: a 3-segment test video needs only ~5 s
INTERP_INTERVALS = 2


class Encoder(nn.Module):
    """4×4 patches → 4 channels: mean R, G, B and luminance of the patch plus a small random term."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, LATENT_C, F_DOWN, stride=F_DOWN)
        with torch.no_grad():
            w = self.patch.weight.mul_(0.05)
            for c in range(3):
                w[c, c] += 1.0 / (F_DOWN * F_DOWN)
            w[3] += 1.0 / (3 * F_DOWN * F_DOWN)
            self.patch.bias.mul_(0.05)

    def forward(self, pixels):
        return from_frames(2.0 * torch.tanh(self.patch(to_frames(pixels))), pixels)


class Decoder(nn.Module):
    """Blocky colour back-projection plus a ±1-frame temporal convolution (receptive field 3 frames)."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Conv2d(LATENT_C, HID, 3, padding=1)
        self.temporal = nn.Conv3d(HID, HID, (3, 1, 1), padding=(1, 0, 0))
        self.out = nn.Conv2d(HID, 3 * F_DOWN * F_DOWN, 1)
        with torch.no_grad():
            self.temporal.weight.mul_(0.3)
            self.out.weight.mul_(0.2)
            # Carry the encoder's colour channels straight through so decoded frames resemble inputs.
            self.skip = nn.Parameter(torch.zeros(3 * F_DOWN * F_DOWN, LATENT_C, 1, 1), requires_grad=False)
            for c in range(3):
                self.skip[c * F_DOWN * F_DOWN : (c + 1) * F_DOWN * F_DOWN, c] = 1.0

    def forward(self, latents):
        z = to_frames(latents)
        h = F.silu(self.inp(z))
        h = h + video_to_frames(self.temporal(frames_to_video(h, latents)))
        y = self.out(h) + F.conv2d(z, self.skip)
        return from_frames(torch.tanh(F.pixel_shuffle(y, F_DOWN)), latents)


class Denoiser(nn.Module):
    """Analytic latent denoiser: predicts a bounded x̂₀ from all inputs, returns ε or v for it."""

    def __init__(self, schedule, prediction, with_rate, temporal=True):
        super().__init__()
        self.prediction, self.with_rate, self.temporal_on = prediction, with_rate, temporal
        self.register_buffer("alpha", schedule.alpha.clone())
        self.register_buffer("sigma", schedule.sigma.clone())
        self.inp = nn.Conv2d(2 * LATENT_C + 1, HID, 3, padding=1)
        self.t_proj = nn.Linear(HID, HID)
        self.label_proj = nn.Linear(len(C.LABELS), HID)
        self.rate_vec = nn.Parameter(torch.randn(HID) * 0.3)
        self.down = nn.Conv2d(HID, HID, 3, padding=1)
        self.temporal = nn.Conv3d(HID, HID, (3, 1, 1), padding=(1, 0, 0))
        self.out = nn.Conv2d(HID, LATENT_C, 1)

    def forward(self, x, t, context, mask, labels, rate=None):
        a = C.gather_time(self.alpha, t)[:, None, None, None, None]
        s = C.gather_time(self.sigma, t)[:, None, None, None, None]
        # Bring x to unit scale before it meets the weights (x_t has variance ≈ 1 at every t).
        h = self.inp(to_frames(torch.cat([x, context, mask], dim=2)))
        cond = self.t_proj(timestep_embedding(t / C.TRAIN_STEPS * 100.0, HID)) + self.label_proj(labels)
        if self.with_rate:
            cond = cond + rate[:, None] * self.rate_vec[None]
        h = from_frames(h, x) + cond[:, None, :, None, None]
        h = F.silu(to_frames(h))
        # One 2× down/up path: spatial sizes must be multiples of 2 (vldm.spatial_multiple).
        h = h + F.interpolate(self.down(F.avg_pool2d(h, 2)), scale_factor=2.0, mode="nearest")
        if self.temporal_on:
            h = h + 0.5 * video_to_frames(self.temporal(frames_to_video(h, x)))
        x0 = from_frames(1.5 * torch.tanh(self.out(h)), x)
        x0 = mask * context + (1 - mask) * x0
        if self.prediction == "eps":
            return (x - a * x0) / s
        return (a * x - x0) / s


class KeyframeDenoiser(Denoiser):
    def forward(self, x, t, context, mask, labels):
        return super().forward(x, t, context, mask, labels)


class Upsampler(nn.Module):
    """Pointwise 4× upsampler: x̂₀ = clip(nearest-4×(lowres / α_γ)), ε = (x − α_t·x̂₀)/σ_t."""

    def __init__(self, schedule):
        super().__init__()
        self.register_buffer("alpha", schedule.alpha.clone())
        self.register_buffer("sigma", schedule.sigma.clone())

    def forward(self, x, t, lowres, noise_level):
        a = C.gather_time(self.alpha, t)[:, None, None, None, None]
        s = C.gather_time(self.sigma, t)[:, None, None, None, None]
        a_gamma = C.gather_time(self.alpha, noise_level)[:, None, None, None, None]
        low = to_frames(lowres / a_gamma)
        x0 = from_frames(torch.clamp(F.interpolate(low, scale_factor=4.0, mode="nearest"), -1, 1), x)
        return (x - a * x0) / s


# The reference pack's shapes, windows and sampling (models/reference/vldm-pack.json), for `--shapes reference`.
REFERENCE_SHAPES = {
    "latent_scale": 0.8428,
    "upscale_frames": 8,
    "keyframe_window": 8,
    "manifest": {
        "video": {"height": 256, "width": 512, "fps": 24},
        "base": {"height": 64, "width": 128},
        "latent": {"channels": LATENT_C, "height": 16, "width": 32, "scale": 0.8428, "downsample": F_DOWN},
        "sampling": {
            "keyframe": {"steps": 20, "eta": 0, "contextGuidance": 1.5, "labelGuidance": 1.0},
            "interpolation": {"steps": 4, "eta": 0, "contextGuidance": 1.5, "labelGuidance": 1.0},
            "upsampler": {"steps": 2, "eta": 0, "noiseAugmentation": 20},
        },
        "windows": {
            "keyframe": {"frames": 8},
            "interpolation": {"intervals": 2},
            "decode": {"frames": 16, "overlap": 4},
            "upscale": {"frames": 8, "overlapFrames": 2, "tileHeight": 64, "tileWidth": 72, "overlap": 16},
        },
    },
}


def reference_shapes_manifest(files):
    m = manifest(files)
    m.update(REFERENCE_SHAPES["manifest"])
    m["name"] = "vldm-bench"
    m["description"] = (
        "The contract test pack's untrained, analytic models at the reference pack's shapes, windows, latent "
        "scale and sampling steps, made by `python3 -m vldm_train.contract_pack --shapes reference`. Only for "
        "`vldm bench`: its model calls have the reference pack's count and tensor sizes, and the benchmark "
        "holds each on an emulated accelerator for a calibrated time. Generates no meaningful video."
    )
    return m


def manifest(files):
    return {
        "contract": C.CONTRACT_VERSION,
        "name": "vldm-contract-test",
        "description": (
            "Contract test pack: untrained, analytic models with deterministic weights from a fixed seed, "
            "made by `python3 -m vldm_train.contract_pack`. Only for the orchestrator's tests: it follows "
            "docs/model-contract.md exactly and runs fast on CPU, but generates no meaningful video. "
            "The upsampler is pointwise (tiling is exact) and the decoder sees ±1 frame."
        ),
        "video": {"height": 128, "width": 256, "fps": 24},
        "base": {"height": 32, "width": 64},
        "latent": {"channels": LATENT_C, "height": 8, "width": 16, "scale": LATENT_SCALE, "downsample": F_DOWN},
        "labels": list(C.LABELS),
        "models": {role: {"file": f} for role, f in files.items()},
        "sampling": {
            "keyframe": {"steps": 4, "eta": 0, "contextGuidance": 1.5, "labelGuidance": 1.0},
            "interpolation": {"steps": 3, "eta": 0, "contextGuidance": 1.0, "labelGuidance": 1.0},
            "upsampler": {"steps": 3, "eta": 0, "noiseAugmentation": 0},
        },
        "windows": {
            "keyframe": {"frames": KEYFRAME_WINDOW},
            "interpolation": {"intervals": INTERP_INTERVALS},
            "decode": {"frames": 16, "overlap": 2},
            "upscale": {"frames": UPSCALE_FRAMES, "overlapFrames": 4, "tileHeight": 32, "tileWidth": 40, "overlap": 8},
        },
    }


ROLES = ("encoder", "decoder", "keyframe", "keyframe_image", "interpolation", "upsampler", "upsampler_image")


def build(seed):
    torch.manual_seed(seed)
    sched = C.Schedule("scaled_linear", 0.00085, 0.012)
    return sched, {
        "encoder": Encoder(),
        "decoder": Decoder(),
        "keyframe": KeyframeDenoiser(sched, "eps", with_rate=False),
        "keyframe_image": KeyframeDenoiser(sched, "eps", with_rate=False, temporal=False),
        "interpolation": Denoiser(sched, "v", with_rate=True),
        "upsampler": Upsampler(sched),
        "upsampler_image": Upsampler(sched),
    }


def example_inputs(role, b=1):
    g = torch.Generator().manual_seed(1)
    lat = lambda t: torch.randn(b, t, LATENT_C, 8, 16, generator=g)  # noqa: E731
    labels = torch.tensor([[1.0, 0.0, 1.0, 0.0]] * b)
    if role == "encoder":
        return [torch.rand(b, 2, 3, 32, 64, generator=g) * 2 - 1]
    if role == "decoder":
        return [lat(3)]
    if role.startswith("keyframe"):
        m = torch.zeros(b, KEYFRAME_WINDOW, 1, 8, 16)
        m[:, :2] = 1
        return [lat(KEYFRAME_WINDOW), torch.full((b,), 500.0), lat(KEYFRAME_WINDOW) * m, m, labels]
    if role == "interpolation":
        n = 4 * INTERP_INTERVALS + 1
        m = torch.zeros(b, n, 1, 8, 16)
        m[:, 0::4] = 1
        return [lat(n), torch.full((b,), 500.0), lat(n) * m, m, labels, torch.zeros(b)]
    return [torch.randn(b, 4, 3, 32, 64, generator=g), torch.full((b,), 500.0),
            torch.randn(b, 4, 3, 8, 16, generator=g), torch.zeros(b)]


def check_cases():
    """Golden cases for scripts/ort_check.cjs: default shapes, then other B, T and spatial sizes."""
    g = torch.Generator().manual_seed(2)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    labels2 = torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    cases = [(role, "default", example_inputs(role)) for role in ROLES]
    cases += [
        ("encoder", "b2t3-48x96", [torch.rand(2, 3, 3, 48, 96, generator=g) * 2 - 1]),
        ("decoder", "b2t5-6x10", [r(2, 5, LATENT_C, 6, 10)]),
        ("keyframe", "first-frame", [r(2, 1, LATENT_C, 8, 16), torch.tensor([999.0, 3.0]),
                                     torch.zeros(2, 1, LATENT_C, 8, 16), torch.zeros(2, 1, 1, 8, 16), labels2]),
        ("interpolation", "rate1-b2", [r(2, 5, LATENT_C, 4, 6), torch.tensor([10.0, 900.0]),
                                       r(2, 5, LATENT_C, 4, 6), torch.ones(2, 5, 1, 4, 6), labels2,
                                       torch.ones(2)]),
        ("upsampler", "tile-b2t3", [r(2, 3, 3, 16, 24), torch.tensor([0.0, 999.0]), r(2, 3, 3, 4, 6),
                                    torch.tensor([0.0, 250.0])]),
    ]
    return cases


def _self_check(models):
    """Assert the properties the module docstring promises, in torch, before exporting."""
    with torch.no_grad():
        up = models["upsampler"]
        x, t, low, g = example_inputs("upsampler")
        full = up(x, t, low, g)
        tile = up(x[..., 8:24, 16:48], t, low[..., 2:6, 4:12], g)
        assert torch.allclose(full[..., 8:24, 16:48], tile, atol=1e-6), "upsampler is not pointwise"
        dec = models["decoder"]
        z = torch.randn(1, 10, LATENT_C, 8, 16)
        whole = dec(z)
        part = dec(z[:, 3:8])
        assert torch.allclose(whole[:, 4:7], part[:, 1:4], atol=1e-5), "decoder sees more than ±1 frame"
        kf = models["keyframe"]
        inp = example_inputs("keyframe")
        eps = kf(*inp)
        a, s = kf.alpha[500], kf.sigma[500]
        x0 = (inp[0] - s * eps) / a
        assert torch.allclose(x0[:, :2], inp[2][:, :2], atol=1e-4), "context frames not reproduced"
        assert x0[:, 2:].abs().max() <= 1.5 + 1e-4, "keyframe x0 unbounded"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder for the pack")
    p.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    p.add_argument("--cases", help="also write golden cases for scripts/ort_check.cjs to this folder")
    p.add_argument("--shapes", choices=["contract", "reference"], default="contract",
                   help="contract: the test pack's small shapes (default); reference: the reference pack's (vldm bench)")
    args = p.parse_args(argv)
    global LATENT_SCALE, UPSCALE_FRAMES, KEYFRAME_WINDOW
    if args.shapes == "reference":
        LATENT_SCALE = REFERENCE_SHAPES["latent_scale"]
        UPSCALE_FRAMES = REFERENCE_SHAPES["upscale_frames"]
        KEYFRAME_WINDOW = REFERENCE_SHAPES["keyframe_window"]
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    sched, models = build(args.seed)
    _self_check(models)
    files = {}
    for role, module in models.items():
        variant = "image" if role.endswith("_image") else "video"
        window = {"encoder": 1, "decoder": 16, "interpolation": 4 * INTERP_INTERVALS + 1, "upsampler": UPSCALE_FRAMES,
                  "upsampler_image": UPSCALE_FRAMES}.get(role, KEYFRAME_WINDOW)
        multiple = {"encoder": F_DOWN, "decoder": 1, "upsampler": 4, "upsampler_image": 4}.get(role, 2)
        prediction = "v" if role == "interpolation" else "eps"
        meta = C.role_metadata(
            role,
            variant=variant,
            latent_channels=LATENT_C,
            latent_scale=LATENT_SCALE,
            downsample=F_DOWN,
            window=window,
            spatial_multiple=multiple,
            schedule=sched,
            prediction=prediction,
        )
        files[role] = f"{role}.onnx"
        C.export_role(module, role, example_inputs(role), os.path.join(args.out, files[role]), meta)
    path = C.write_manifest(args.out, (reference_shapes_manifest if args.shapes == "reference" else manifest)(files))
    if args.cases:
        write_cases(models, check_cases(), args.cases)
    print(json.dumps({"manifest": path, "files": sorted(files.values())}))


if __name__ == "__main__":
    main()
