"""Golden cases that prove an exported pack computes what the torch modules compute, under
onnxruntime-node (the runtime the orchestrator uses), at several shapes (dynamic B, T, H, W).

`write_cases(models, role_inputs, out_dir)` runs each torch module on given inputs and writes the
inputs and the expected output as raw little-endian float32 files plus `cases.json`; then

    node training/scripts/ort_check.cjs <pack-dir> <cases-dir> [--repeat N]

loads every ONNX file of the pack, checks its input/output names and metadata against the
contract, runs each case and compares (max abs error ≤ 1e-3 · max(1, max|expected|)), and
reports milliseconds per call.
"""

import json
import os

import numpy as np
import torch

from . import contract as C


def write_cases(models, cases, out_dir):
    """`cases`: list of (role, name, [input tensors]). Writes the files and cases.json."""
    os.makedirs(out_dir, exist_ok=True)
    index = []
    with torch.no_grad():
        for role, name, inputs in cases:
            out = models[role](*inputs)
            entry = {"role": role, "name": name, "inputs": {}, "output": None}
            for iname, tensor in zip(C.ROLE_INPUTS[role], inputs):
                fn = f"{role}.{name}.{iname}.f32"
                tensor.detach().numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
                entry["inputs"][iname] = {"file": fn, "shape": list(tensor.shape)}
            fn = f"{role}.{name}.{C.ROLE_OUTPUT[role]}.f32"
            out.detach().numpy().astype("<f4").tofile(os.path.join(out_dir, fn))
            entry["output"] = {"name": C.ROLE_OUTPUT[role], "file": fn, "shape": list(out.shape)}
            index.append(entry)
    contract = {"inputs": C.ROLE_INPUTS, "outputs": C.ROLE_OUTPUT, "required": C.REQUIRED_ROLES}
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump({"contract": contract, "cases": index}, f, indent=1)
    return os.path.join(out_dir, "cases.json")
