"""Export a trained run as a contract model pack (ONNX files + vldm-pack.json with sha256s).

    PYTHONPATH=training /usr/bin/python3 -m vldm_train.export --run training/runs/ref --out models/reference \\
        [--cases DIR]

Roles come from the latest checkpoints of the run: encoder from `ae`; decoder from `tdec` (the
temporal decoder); keyframe = `ldm` spatial layers + the `pred` temporal stack; interpolation = the
same spatial layers + the `interp` stack; upsampler = `up_image` spatial layers + the `up_video`
stack; the image-only variants `keyframe_image` and `upsampler_image` skip the temporal layers
(α = 1). A stage that has not been trained yet is an error, not a silent fallback.
With `--cases`, golden torch outputs are written for scripts/ort_check.cjs.
"""

import argparse
import json
import os

import torch

from . import contract as C
from .models import DecoderExport, EncoderExport, InterpolationExport, KeyframeExport, UpsamplerExport
from .ortcheck import write_cases
from .train import LATENT_SCHEDULE, PIXEL_SCHEDULE, build_ae, build_ldm, build_up, ckpt_path, load_ckpt, load_meta

BASE = (64, 128)
LATENT = (16, 32)
VIDEO = (256, 512)
KEY_WINDOW = 8
INTERVALS = 2
DECODER_WINDOW = 8
UPSAMPLER_WINDOW = 8
DEFAULT_SAMPLING = {
    "keyframe": {"steps": 20, "eta": 0, "contextGuidance": 1.5, "labelGuidance": 1.0},
    # Chosen on validation drives (`python -m vldm_train.sweep`): 4 steps with context guidance 1.5 beat
    # 10 unguided steps by 0.7 dB at T→4T there, at 8 model calls per window instead of 10.
    "interpolation": {"steps": 4, "eta": 0, "contextGuidance": 1.5, "labelGuidance": 1.0},
    # 2 steps by default: the upsampler is most of a video's CPU time, and on validation tiles (sweep.py)
    # 2 steps gave the highest PSNR of 2/4/8 (EVAL.md shows the same on the held-out tiles).
    "upsampler": {"steps": 2, "eta": 0, "noiseAugmentation": 20},
}


def load_models(run, size=None, partial=False, fp16=True):
    """Torch modules of every role, in eval mode, from the run's checkpoints.

    With `partial`, roles whose stages are not trained yet are left out (for evaluating a run while it
    trains); the decoder then falls back to the image decoder of `ae`, said so in the returned meta."""
    meta = load_meta(run)
    size = size or meta.get("size", "full")
    have = lambda stage: os.path.exists(ckpt_path(run, stage))  # noqa: E731
    models = {}
    ae = build_ae(size, temporal=True)
    if have("tdec") or not partial:
        ae.load_state_dict(load_ckpt(run, "tdec")["model"])
    else:
        ae.load_state_dict(load_ckpt(run, "ae")["model"], strict=False)
        meta["decoder_fallback"] = True
    ldm = build_ldm(size, ("pred", "interp"))
    up = build_up(size, video=True)
    models["encoder"] = EncoderExport(ae)
    models["decoder"] = DecoderExport(ae, temporal=True)
    if have("pred") or not partial:
        ldm.load_state_dict(load_ckpt(run, "pred")["model"], strict=False)
        models["keyframe"] = KeyframeExport(ldm, "pred")
        models["keyframe_image"] = KeyframeExport(ldm, None)
    elif have("ldm"):
        ldm.load_state_dict(load_ckpt(run, "ldm")["model"], strict=False)
        models["keyframe_image"] = KeyframeExport(ldm, None)
    if have("interp") or not partial:
        interp = load_ckpt(run, "interp")["model"]
        ldm.load_state_dict({k: v for k, v in interp.items() if k.startswith("stacks.interp.")}, strict=False)
        models["interpolation"] = InterpolationExport(ldm, "interp")
    if have("up_video") or not partial:
        up.load_state_dict(load_ckpt(run, "up_video")["model"])
        models["upsampler"] = UpsamplerExport(up, "video", C.Schedule(*PIXEL_SCHEDULE))
        models["upsampler_image"] = UpsamplerExport(up, None, C.Schedule(*PIXEL_SCHEDULE))
    elif have("up_image"):
        up.load_state_dict(load_ckpt(run, "up_image")["model"], strict=False)
        models["upsampler_image"] = UpsamplerExport(up, None, C.Schedule(*PIXEL_SCHEDULE))
    # The image autoencoder as trained on frames (stage `ae`): the evaluation's baseline for the temporal
    # decoder, which may have fine-tuned the decoder's spatial layers too (`train tdec --train-decoder`).
    image_ae = build_ae(size)
    image_ae.load_state_dict(load_ckpt(run, "ae")["model"])
    for m in (ae, ldm, up, image_ae):
        m.eval()
        if fp16:
            # The pack stores large weights as float16 (contract.store_fp16); round them here so that the
            # export's golden cases and the evaluation use exactly the shipped weights.
            C.round_fp16_(m)
    return models, meta, {"ae": ae, "ldm": ldm, "up": up, "image_ae": image_ae}


def example_inputs(role, b=1, latent=LATENT, base=BASE, frames=None):
    g = torch.Generator().manual_seed(3)
    h, w = latent
    labels = torch.tensor([[1.0, 0.0, 1.0, 0.0]] * b)
    if role == "encoder":
        return [torch.rand(b, frames or KEY_WINDOW, 3, base[0], base[1], generator=g) * 2 - 1]
    if role == "decoder":
        return [torch.randn(b, frames or 16, 4, h, w, generator=g)]
    if role.startswith("keyframe"):
        n = frames or KEY_WINDOW
        m = torch.zeros(b, n, 1, h, w)
        m[:, :2] = 1
        z = torch.randn(b, n, 4, h, w, generator=g)
        return [torch.randn(b, n, 4, h, w, generator=g), torch.full((b,), 500.0), z * m, m, labels]
    if role == "interpolation":
        n = frames or 4 * INTERVALS + 1
        m = torch.zeros(b, n, 1, h, w)
        m[:, 0::4] = 1
        z = torch.randn(b, n, 4, h, w, generator=g)
        return [torch.randn(b, n, 4, h, w, generator=g), torch.full((b,), 500.0), z * m, m, labels, torch.ones(b)]
    n = frames or UPSAMPLER_WINDOW
    lh, lw = 32, 64  # a low-res tile of the manifest's size
    return [torch.randn(b, n, 3, 4 * lh, 4 * lw, generator=g), torch.full((b,), 500.0),
            torch.rand(b, n, 3, lh, lw, generator=g) * 2 - 1, torch.full((b,), 50.0)]


def check_cases():
    """Default shapes, the T = 1 first frame, another B/T/size, and an upsampler tile."""
    g = torch.Generator().manual_seed(4)
    cases = [(r, "default", example_inputs(r)) for r in ROLES]
    z = torch.randn(2, 1, 4, 16, 32, generator=g)
    cases += [
        ("encoder", "full-frame-b2", example_inputs("encoder", b=2, frames=3)),
        ("decoder", "3-frames", example_inputs("decoder", frames=3)),
        ("keyframe", "first-frame", [z, torch.tensor([999.0, 10.0]), torch.zeros_like(z),
                                     torch.zeros(2, 1, 1, 16, 32), torch.tensor([[0.0, 1, 0, 1], [0, 0, 0, 0]])]),
        ("interpolation", "b2-rate0", example_inputs("interpolation", b=2, latent=(8, 16))),
        ("upsampler", "4-frames", example_inputs("upsampler", frames=4)),
    ]
    return cases


ROLES = ("encoder", "decoder", "keyframe", "keyframe_image", "interpolation", "upsampler", "upsampler_image")


def manifest(meta, files, description):
    return {
        "contract": C.CONTRACT_VERSION,
        "name": "vldm-reference-driving",
        "description": description,
        "video": {"height": VIDEO[0], "width": VIDEO[1], "fps": 24},
        "base": {"height": BASE[0], "width": BASE[1]},
        "latent": {"channels": 4, "height": LATENT[0], "width": LATENT[1], "scale": meta["latent_scale"],
                   "downsample": 4},
        "labels": list(C.LABELS),
        "models": {r: {"file": f} for r, f in files.items()},
        "sampling": meta.get("sampling", DEFAULT_SAMPLING),
        "windows": {
            "keyframe": {"frames": KEY_WINDOW},
            "interpolation": {"intervals": INTERVALS},
            "decode": {"frames": 16, "overlap": 4},
            "upscale": {"frames": UPSAMPLER_WINDOW, "overlapFrames": 2, "tileHeight": 64, "tileWidth": 72, "overlap": 16},
        },
    }


DESCRIPTION = (
    "Reference Video LDM trained by the project on its procedural driving world (training/vldm_train): "
    "autoencoder f=4 with a temporally fine-tuned decoder, a label-conditioned (day/night, clear/crowded) image "
    "LDM whose frozen spatial layers carry two sets of temporal layers (prediction with 0/1/2 context frames; "
    "interpolation T->4T->16T with a rate input), and a 4x pixel-space video upsampler trained on 64x64 patches "
    "with noise augmentation. Keyframes at 1.5 fps, 16x interpolation to 24 fps. v-prediction. Large weights are "
    "stored as float16 and cast to float32 in the graph. See EVAL.md."
)


def export_pack(run, out, cases=None, size=None, description=DESCRIPTION, sampling=None):
    models, meta, _ = load_models(run, size)
    if sampling:
        meta["sampling"] = sampling
    os.makedirs(out, exist_ok=True)
    lat = C.Schedule(*LATENT_SCHEDULE)
    pix = C.Schedule(*PIXEL_SCHEDULE)
    files = {}
    for role in ROLES:
        common = dict(latent_channels=4, latent_scale=meta["latent_scale"], downsample=4, prediction="v",
                      variant="image" if role.endswith("_image") else "video")
        if role == "encoder":
            md = C.role_metadata(role, window=1, spatial_multiple=4, **common)
        elif role == "decoder":
            md = C.role_metadata(role, window=DECODER_WINDOW, spatial_multiple=1, **common)
        elif role.startswith("keyframe"):
            md = C.role_metadata(role, window=KEY_WINDOW, spatial_multiple=4, schedule=lat, **common)
        elif role == "interpolation":
            md = C.role_metadata(role, window=4 * INTERVALS + 1, spatial_multiple=4, schedule=lat, **common)
        else:
            md = C.role_metadata(role, window=UPSAMPLER_WINDOW, spatial_multiple=4, schedule=pix, **common)
        files[role] = f"{role}.onnx"
        C.export_role(models[role], role, example_inputs(role), os.path.join(out, files[role]), md,
                      fp16_weights=True)
    path = C.write_manifest(out, manifest(meta, files, description))
    if cases:
        write_cases(models, check_cases(), cases)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description="export a trained run as a model pack")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cases", help="also write golden cases for scripts/ort_check.cjs")
    p.add_argument("--sampling", help="JSON file with the manifest's sampling defaults")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    sampling = None
    if args.sampling:
        with open(args.sampling) as f:
            sampling = json.load(f)
    path = export_pack(args.run, args.out, args.cases, sampling=sampling)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out) if f.endswith(".onnx"))
    print(json.dumps({"manifest": path, "onnx_bytes": total}))


if __name__ == "__main__":
    main()
