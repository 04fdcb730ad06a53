"""The model contract (docs/model-contract.md) in Python: tensor names, metadata keys, noise
schedules, ONNX export with metadata and the pack manifest with checksums.

Every pack this package writes goes through `export_role` and `write_manifest`, so the contract is
encoded once here and nowhere else.
"""

import hashlib
import json
import math
import os

import numpy as np
import onnx
import torch

CONTRACT_VERSION = 1
TRAIN_STEPS = 1000
LABELS = ("day", "night", "clear", "crowded")
OPSET = 17

# Input and output names per role, in the order the graphs take them.
ROLE_INPUTS = {
    "encoder": ("pixels",),
    "decoder": ("latents",),
    "keyframe": ("x", "t", "context", "mask", "labels"),
    "interpolation": ("x", "t", "context", "mask", "labels", "rate"),
    "upsampler": ("x", "t", "lowres", "noise_level"),
}
ROLE_INPUTS["keyframe_image"] = ROLE_INPUTS["keyframe"]
ROLE_INPUTS["upsampler_image"] = ROLE_INPUTS["upsampler"]
ROLE_OUTPUT = {
    "encoder": "latents",
    "decoder": "pixels",
    "keyframe": "out",
    "interpolation": "out",
    "upsampler": "out",
    "keyframe_image": "out",
    "upsampler_image": "out",
}
DENOISERS = ("keyframe", "interpolation", "upsampler", "keyframe_image", "upsampler_image")
LABELLED = ("keyframe", "interpolation", "keyframe_image")
REQUIRED_ROLES = ("encoder", "decoder", "keyframe", "interpolation", "upsampler")

# Dynamic axis names for export. Video tensors are [B,T,C,H,W]; the upsampler's `x` is high-res
# (H, W) and its `lowres` is (H/4, W/4), named differently so that ONNX keeps them apart.
_VIDEO_AXES = {0: "B", 1: "T", 3: "h", 4: "w"}
_DYNAMIC_AXES = {
    "pixels": {0: "B", 1: "T", 3: "H", 4: "W"},
    "latents": {0: "B", 1: "T", 3: "h", 4: "w"},
    "x": _VIDEO_AXES,
    "t": {0: "B"},
    "context": _VIDEO_AXES,
    "mask": _VIDEO_AXES,
    "labels": {0: "B"},
    "rate": {0: "B"},
    "lowres": _VIDEO_AXES,
    "noise_level": {0: "B"},
    "out": _VIDEO_AXES,
}
_UPSAMPLER_AXES = {
    "x": {0: "B", 1: "T", 3: "H", 4: "W"},
    "out": {0: "B", 1: "T", 3: "H", 4: "W"},
}


def alphas_cumprod(schedule, beta_start, beta_end, steps=TRAIN_STEPS):
    """ᾱ_t for t = 0..steps-1, float64, exactly as docs/model-contract.md defines each schedule."""
    if schedule == "linear":
        betas = np.linspace(beta_start, beta_end, steps, dtype=np.float64)
    elif schedule == "scaled_linear":
        betas = np.linspace(math.sqrt(beta_start), math.sqrt(beta_end), steps, dtype=np.float64) ** 2
    elif schedule == "cosine":

        def f(t):
            return math.cos(((t / steps) + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(steps)], dtype=np.float64)
    else:
        raise ValueError(f"schedule must be linear, scaled_linear or cosine, got {schedule!r}")
    return np.cumprod(1.0 - betas)


class Schedule:
    """A variance-preserving schedule: α_t = √ᾱ_t, σ_t = √(1−ᾱ_t), as float32 torch tables."""

    def __init__(self, kind="scaled_linear", beta_start=0.00085, beta_end=0.012, steps=TRAIN_STEPS):
        self.kind, self.beta_start, self.beta_end, self.steps = kind, beta_start, beta_end, steps
        abar = alphas_cumprod(kind, beta_start, beta_end, steps)
        self.abar = torch.tensor(abar, dtype=torch.float32)
        self.alpha = torch.tensor(np.sqrt(abar), dtype=torch.float32)
        self.sigma = torch.tensor(np.sqrt(1.0 - abar), dtype=torch.float32)

    def metadata(self):
        return {
            "vldm.schedule": self.kind,
            "vldm.beta_start": repr(self.beta_start),
            "vldm.beta_end": repr(self.beta_end),
            "vldm.train_steps": str(self.steps),
        }


def gather_time(table, t):
    """Look a per-step table up at float times `t` [B] (rounded, clamped): exported as ONNX Gather."""
    idx = torch.clamp(torch.round(t), 0, table.shape[0] - 1).long()
    return table[idx]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def role_metadata(
    role,
    *,
    variant,
    latent_channels,
    latent_scale,
    downsample,
    window,
    spatial_multiple,
    schedule=None,
    prediction=None,
):
    """The `metadata_props` a file of `role` carries (see the contract's per-role key table)."""
    meta = {
        "vldm.contract": str(CONTRACT_VERSION),
        "vldm.role": role,
        "vldm.variant": variant,
        "vldm.latent_channels": str(latent_channels),
        "vldm.latent_scale": repr(float(latent_scale)),
        "vldm.downsample": str(downsample),
        "vldm.window": str(window),
        "vldm.spatial_multiple": str(spatial_multiple),
    }
    if role in DENOISERS:
        if schedule is None or prediction not in ("eps", "v"):
            raise ValueError(f"denoiser role {role} needs a schedule and prediction eps|v")
        meta.update(schedule.metadata())
        meta["vldm.prediction"] = prediction
    if role in LABELLED:
        meta["vldm.labels"] = ",".join(LABELS)
    return meta


FP16_MIN_ELEMENTS = 4096


def round_fp16_(module):
    """Round the module's large parameters to float16 values in place (see `store_fp16`)."""
    with torch.no_grad():
        for p in module.parameters():
            if p.numel() >= FP16_MIN_ELEMENTS:
                p.copy_(p.half().float())


def store_fp16(model):
    """Store large float32 initializers as float16 followed by a Cast to float32.

    Halves the file; the graph still computes in float32 and its inputs and outputs are float32 as the
    contract requires. Weights are rounded in torch first (`round_fp16_`), so this loses nothing more
    and the evaluation measures exactly the shipped weights. Small tensors (schedule tables, biases)
    stay float32."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for init in model.graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= FP16_MIN_ELEMENTS:
            arr = numpy_helper.to_array(init)
            name = init.name
            init.CopyFrom(numpy_helper.from_array(arr.astype(np.float16), name + "__fp16"))
            casts.append(helper.make_node("Cast", [name + "__fp16"], [name], to=TensorProto.FLOAT,
                                          name=name + "__cast"))
    for node in reversed(casts):
        model.graph.node.insert(0, node)


def export_role(module, role, example_inputs, path, metadata, fp16_weights=False):
    """Export `module` as the ONNX file of `role` with the contract's names, dynamic axes and metadata."""
    names = ROLE_INPUTS[role]
    if len(example_inputs) != len(names):
        raise ValueError(f"{role} takes {len(names)} inputs {names}, got {len(example_inputs)}")
    out_name = ROLE_OUTPUT[role]
    axes = dict(_DYNAMIC_AXES)
    if role.startswith("upsampler"):
        axes.update(_UPSAMPLER_AXES)
    dynamic = {n: axes[n] for n in names + (out_name,)}
    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            tuple(example_inputs),
            path,
            input_names=list(names),
            output_names=[out_name],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    model = onnx.load(path)
    got = [i.name for i in model.graph.input]
    if got != list(names):
        # onnx drops inputs that the graph never reads; the contract needs all of them.
        raise RuntimeError(f"{role}: exported inputs {got} differ from the contract's {list(names)}")
    del model.metadata_props[:]
    for k, v in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    model.producer_name = "vldm_train"
    if fp16_weights:
        store_fp16(model)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def write_manifest(out_dir, manifest):
    """Fill in each model's sha256 and write `vldm-pack.json` (keys in the contract's order)."""
    for role, entry in manifest["models"].items():
        entry["sha256"] = sha256_file(os.path.join(out_dir, entry["file"]))
    path = os.path.join(out_dir, "vldm-pack.json")
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return path
