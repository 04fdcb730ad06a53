"""Evaluation of the reference pack on held-out drives with fixed seeds; writes EVAL.md and PNGs.

    PYTHONPATH=training /usr/bin/python3 -m vldm_train.evaluate --pack models/reference \\
        [--run training/runs/ref] [--speed speed.json] [--quick]

The networks are the run's checkpoints that the pack was exported from (the export is checked
against them under onnxruntime-node by scripts/ort_check.cjs; its timings are passed with
--speed). Sampling uses vldm_train.sampler, which mirrors the orchestrator's DDIM and guidance,
with the pack manifest's sampling settings. Held-out drives use seeds ≥ 1 000 000 (data.py).
Every number in EVAL.md says how it was obtained; targets come from issue 3 and are not adjusted.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import data as D
from .contract import Schedule
from .export import load_models
from .png import grid, write_png
from .sampler import sample_latents, sample_upsampler
from .train import LATENT_SCHEDULE, PIXEL_SCHEDULE, area_down

LABEL_ROWS = {
    "day, clear": [1, 0, 1, 0],
    "day, crowded": [1, 0, 0, 1],
    "night, clear": [0, 1, 1, 0],
    "night, crowded": [0, 1, 0, 1],
}


def psnr(a, b):
    """PSNR in dB for images in [-1, 1] (peak-to-peak 2), averaged over frames."""
    mse = ((a - b) ** 2).flatten(start_dim=-3).mean(-1).clamp_min(1e-10)
    return float((10 * torch.log10(4.0 / mse)).mean())


def mad(a, b):
    """Mean absolute difference in [0, 255] units."""
    return float((a - b).abs().mean() * 127.5)


def consec(x):
    """Mean absolute difference between consecutive frames of [B,T,3,H,W] (0–255 units)."""
    return mad(x[:, 1:], x[:, :-1])


def temporal_error(y, x):
    """Mean |(y_{t+1} − y_t) − (x_{t+1} − x_t)| (0–255 units): flicker/motion error against the truth."""
    return float(((y[:, 1:] - y[:, :-1]) - (x[:, 1:] - x[:, :-1])).abs().mean() * 127.5)


class LabelNet(nn.Module):
    """Small classifier of day/night and clear/crowded on 64×128 frames (two logits).

    Average and max pooling side by side: darkness is a global average, cars are local objects whose
    presence a max over positions picks up."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 24, 3, padding=1), nn.SiLU(),
            nn.Conv2d(24, 32, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(32, 48, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(48, 48, 3, padding=1), nn.SiLU(),
        )
        self.head = nn.Linear(96, 2)

    def forward(self, x):
        h = self.net(x)
        return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))


def train_classifier(steps=800, seed=0, small=False):
    key, labels = D.load("key", "train", small)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = LabelNet()
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    for _ in range(steps):
        i, j = rng.integers(0, key.shape[0], 32), rng.integers(0, key.shape[1], 32)
        x = torch.from_numpy(D.to_float(np.stack([key[a, b] for a, b in zip(i, j)])))
        y = torch.from_numpy(labels[i][:, [1, 3]])  # night, crowded
        loss = F.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net


def classify(net, frames):
    with torch.no_grad():
        return (net(frames.reshape(-1, *frames.shape[-3:])) > 0).float()


def accuracy(net, frames, labels_per_clip):
    """frames [B,T,3,H,W], labels [B,4] → (day/night acc, clear/crowded acc)."""
    pred = classify(net, frames)
    want = torch.as_tensor(labels_per_clip)[:, [1, 3]].repeat_interleave(frames.shape[1], 0)
    return tuple(float((pred[:, k] == want[:, k]).float().mean()) for k in (0, 1))


class Evaluator:
    def __init__(self, pack, run, quick, small=False, partial=False, sets=None):
        """`sets` maps a held-out set name ("vid", "hifull", …) to (frames, labels) in place of the
        cached evaluation set (the sampling sweep passes validation drives)."""
        self.small = small
        self.sets = sets or {}
        with open(os.path.join(pack, "vldm-pack.json")) as f:
            self.manifest = json.load(f)
        self.models, self.meta, self.nets = load_models(run, partial=partial)
        self.scale = self.manifest["latent"]["scale"]
        self.lat = Schedule(*LATENT_SCHEDULE)
        self.pix = Schedule(*PIXEL_SCHEDULE)
        self.quick = quick
        self.pack = pack
        self.run = run
        self.results = {}
        self.notes = []
        self.train_steps = {}
        for stage in ("ae", "tdec", "ldm", "pred", "interp", "up_image", "up_video"):
            p = os.path.join(run, f"{stage}.pt")
            if os.path.exists(p):
                self.train_steps[stage] = torch.load(p, map_location="cpu")["step"]

    def held_out(self, kind):
        return self.sets[kind] if kind in self.sets else D.load(kind, "eval", self.small)

    def enc(self, x):
        with torch.no_grad():
            return self.models["encoder"](x) * self.scale

    def dec(self, z, temporal=True):
        with torch.no_grad():
            # temporal=False: the image autoencoder's decoder (stage `ae`), the baseline it is measured against.
            ae = self.nets["ae"] if temporal else self.nets["image_ae"]
            n = z / self.scale
            return ae.decode_frames(n.reshape(-1, *n.shape[2:]), n, temporal).reshape(
                *n.shape[:2], 3, n.shape[3] * 4, n.shape[4] * 4)

    # ------------------------------------------------------------ autoencoder
    def autoencoder(self):
        key, _ = self.held_out("key")
        vid, _ = self.held_out("vid")
        x = torch.from_numpy(D.to_float(np.asarray(key)))
        z = self.enc(x)
        y_img = self.dec(z, temporal=False)
        self.results["ae_psnr"] = psnr(y_img, x)
        v = torch.from_numpy(D.to_float(np.asarray(vid[:, :16])))
        zv = self.enc(v)
        y_i, y_t = self.dec(zv, temporal=False), self.dec(zv, temporal=True)
        te_i, te_t = temporal_error(y_i, v), temporal_error(y_t, v)
        self.results.update(te_image=te_i, te_temporal=te_t, te_reduction=1 - te_t / te_i,
                            tdec_psnr=psnr(y_t, v), idec_psnr_vid=psnr(y_i, v), n_ae=x.shape[0] * x.shape[1],
                            n_te=v.shape[0])
        rows = []
        for k in range(min(4, x.shape[0])):
            rows += [D.to_uint8(x[k, 0].numpy()), D.to_uint8(y_img[k, 0].numpy())]
        write_png(os.path.join(self.pack, "eval-autoencoder.png"), grid(rows, 4))

    # ------------------------------------------------------------ prediction
    def keyframes_from_context(self, model, ctx_z, labels, n_ctx, g):
        b, T = ctx_z.shape[0], self.manifest["windows"]["keyframe"]["frames"]
        ctx = torch.zeros(b, T, *ctx_z.shape[2:])
        ctx[:, :n_ctx] = ctx_z[:, :n_ctx]
        mask = torch.zeros(b, T, 1, *ctx_z.shape[3:])
        mask[:, :n_ctx] = 1
        s = self.manifest["sampling"]["keyframe"]
        return sample_latents(model, self.lat, ctx, mask, labels, s["steps"], g, s["contextGuidance"],
                              s["labelGuidance"])

    def prediction(self):
        key, labels = self.held_out("key")
        n = 8 if self.quick else 16
        x = torch.from_numpy(D.to_float(np.asarray(key[:n, :8])))
        lab = torch.from_numpy(labels[:n])
        z = self.enc(x)
        real = consec(x[:, 2:])  # the same six-frame span that is generated
        res = {}
        for name in ("keyframe", "keyframe_image"):
            g = torch.Generator().manual_seed(10)
            out = self.keyframes_from_context(self.models[name], z, lab, 2, g)
            px = self.dec(out)
            res[name] = px
        gen, img = res["keyframe"], res["keyframe_image"]
        real_dec = self.dec(z)
        self.results.update(
            real_consec=real,
            real_consec_decoded=consec(real_dec[:, 2:]),
            pred_consec=consec(gen[:, 2:]),
            image_consec=consec(img[:, 2:]),
            continuation=mad(gen[:, 2], real_dec[:, 1]),
            continuation_real=mad(x[:, 2], x[:, 1]),
            n_pred=n,
        )
        self.results["pred_ratio"] = self.results["pred_consec"] / real
        self.results["image_ratio"] = self.results["image_consec"] / real
        self.results["continuation_ratio"] = self.results["continuation"] / real
        sheet = []
        for k in range(min(4, x.shape[0])):
            sheet += [D.to_uint8(f.numpy()) for f in x[k]] + [D.to_uint8(f.numpy()) for f in gen[k]]
        write_png(os.path.join(self.pack, "eval-prediction.png"), grid(sheet, 8))

    def chain(self, labels_rows, segments, g):
        """Keyframe chain from nothing: T = 1 first frame, then 1 context frame, then 2 (the paper's)."""
        m = self.models["keyframe"]
        s = self.manifest["sampling"]["keyframe"]
        T = self.manifest["windows"]["keyframe"]["frames"]
        b = labels_rows.shape[0]
        h, w = self.manifest["latent"]["height"], self.manifest["latent"]["width"]
        first = sample_latents(m, self.lat, torch.zeros(b, 1, 4, h, w), torch.zeros(b, 1, 1, h, w), labels_rows,
                               s["steps"], g, s["contextGuidance"], s["labelGuidance"])
        frames = [first]
        have = first
        for seg in range(segments):
            n_ctx = 1 if seg == 0 else 2
            ctx_src = have[:, -n_ctx:]
            out = self.keyframes_from_context(m, torch.cat([ctx_src, torch.zeros(b, T - n_ctx, 4, h, w)], 1),
                                              labels_rows, n_ctx, g)
            frames.append(out[:, n_ctx:])
            have = torch.cat(frames, 1)
        return have

    def labels(self):
        net = train_classifier(small=self.small)
        key, labels = self.held_out("key")
        xr = torch.from_numpy(D.to_float(np.asarray(key)))
        self.results["cls_real"] = accuracy(net, xr, labels)
        per = 2 if self.quick else 6
        rows = torch.tensor([r for r in LABEL_ROWS.values() for _ in range(per)], dtype=torch.float32)
        g = torch.Generator().manual_seed(20)
        z = self.chain(rows, 1, g)  # 1 + 7 keyframes per sample
        px = self.dec(z)
        self.results["cls_gen"] = accuracy(net, px, rows.numpy())
        self.results["n_cls"] = px.shape[0] * px.shape[1]
        self.results["chain_consec"] = consec(px)
        sheet = []
        for k in range(4):
            sheet += [D.to_uint8(f.numpy()) for f in px[k * per]]
            sheet += [D.to_uint8(f.numpy()) for f in px[k * per + 1]]
        write_png(os.path.join(self.pack, "keyframes-contact-sheet.png"), grid(sheet, 8))
        self.sample_chain = (z[[0, per, 2 * per, 3 * per]], rows[[0, per, 2 * per, 3 * per]])

    # ------------------------------------------------------------ interpolation
    def interpolate(self, z, labels, rate, g):
        """z [B,9,…] with frames 0,4,8 known; returns all 9 frames."""
        mask = torch.zeros(z.shape[0], z.shape[1], 1, *z.shape[3:])
        mask[:, 0::4] = 1
        s = self.manifest["sampling"]["interpolation"]
        return sample_latents(self.models["interpolation"], self.lat, z * mask, mask, labels, s["steps"], g,
                              s["contextGuidance"], s["labelGuidance"], rate=torch.full((z.shape[0],), rate))

    def interpolation(self):
        vid, labels = self.held_out("vid")
        n = 6 if self.quick else 16
        lab = torch.from_numpy(labels[:n])
        for rate, idx in ((0, list(range(0, 33, 4))), (1, list(range(8, 17)))):
            x = torch.from_numpy(D.to_float(np.asarray(vid[:n][:, idx])))
            z = self.enc(x)
            g = torch.Generator().manual_seed(30 + rate)
            out = self.dec(self.interpolate(z, lab, float(rate), g))
            unknown = [i for i in range(9) if i % 4]
            blend = torch.stack([x[:, 4 * (i // 4)] * (1 - (i % 4) / 4) + x[:, 4 * (i // 4) + 4] * ((i % 4) / 4)
                                 for i in unknown], 1)
            zb = torch.stack([z[:, 4 * (i // 4)] * (1 - (i % 4) / 4) + z[:, 4 * (i // 4) + 4] * ((i % 4) / 4)
                              for i in unknown], 1)
            self.results[f"interp{rate}"] = {
                "model": psnr(out[:, unknown], x[:, unknown]),
                "blend": psnr(blend, x[:, unknown]),
                "latent_blend": psnr(self.dec(zb), x[:, unknown]),
                "recon": psnr(self.dec(z)[:, unknown], x[:, unknown]),
            }
            if rate == 0:
                sheet = [D.to_uint8(f.numpy()) for f in x[0]] + [D.to_uint8(f.numpy()) for f in out[0]]
                sheet += [D.to_uint8(f.numpy()) for f in x[1]] + [D.to_uint8(f.numpy()) for f in out[1]]
                write_png(os.path.join(self.pack, "eval-interpolation.png"), grid(sheet, 9))
        self.results["n_interp"] = n

    # ------------------------------------------------------------ upsampler
    def upsampler(self):
        hi, _ = self.held_out("hifull")
        n = 1 if self.quick else min(2, hi.shape[0])
        s = self.manifest["sampling"]["upsampler"]
        # One upscale tile of the manifest's size (32×64 low-res → 128×256) from the centre of each frame,
        # where the road, cars and markings are: whole frames would cost 4× more CPU time.
        th, tw = 4 * self.manifest["windows"]["upscale"]["tileHeight"], 4 * self.manifest["windows"]["upscale"]["tileWidth"]
        y0, x0_ = 4 * ((256 - th) // 8 + 6), 4 * ((512 - tw) // 8)
        x = torch.from_numpy(D.to_float(np.asarray(hi[:n, :, y0 : y0 + th, x0_ : x0_ + tw])))
        low = area_down(x)
        bic = F.interpolate(low.reshape(-1, *low.shape[2:]), scale_factor=4.0, mode="bicubic",
                            align_corners=False).clamp(-1, 1).reshape(x.shape)
        out = {}
        for name in ("upsampler", "upsampler_image"):
            g = torch.Generator().manual_seed(40)
            ys = [sample_upsampler(self.models[name], self.pix, low[i : i + 1], s["steps"], s["noiseAugmentation"], g)
                  for i in range(n)]
            out[name] = torch.cat(ys)
        self.results["up"] = {
            "video_psnr": psnr(out["upsampler"], x),
            "image_psnr": psnr(out["upsampler_image"], x),
            "bicubic_psnr": psnr(bic, x),
            "video_te": temporal_error(out["upsampler"], x),
            "image_te": temporal_error(out["upsampler_image"], x),
            "bicubic_te": temporal_error(bic, x),
            "n": n * x.shape[1],
        }
        # The same tiles at other step counts (video model): what the manifest's default was chosen by.
        by_steps = {s["steps"]: self.results["up"]["video_psnr"]}
        for k in (2, 4, 8):
            if k not in by_steps:
                g = torch.Generator().manual_seed(40)
                y = torch.cat([sample_upsampler(self.models["upsampler"], self.pix, low[i : i + 1], k,
                                                s["noiseAugmentation"], g) for i in range(n)])
                by_steps[k] = psnr(y, x)
        self.results["up"]["psnr_by_steps"] = {str(k): by_steps[k] for k in sorted(by_steps)}
        sheet = []
        for k in range(3):
            for im in (bic[0, k], out["upsampler_image"][0, k], out["upsampler"][0, k], x[0, k]):
                sheet.append(D.to_uint8(im.numpy()))
        write_png(os.path.join(self.pack, "eval-upsampler.png"), grid(sheet, 4))

    # ------------------------------------------------------------ a generated video's frames
    def video_frames(self):
        """Keyframes of the chain → both interpolation rates → temporal decoder → 4× upsampler."""
        z, rows = self.sample_chain
        g = torch.Generator().manual_seed(50)
        k = z[:1, :3]  # three keyframes of the day/clear sample → 9 → 33 frames
        lab = rows[:1]
        f4 = torch.zeros(1, 9, *k.shape[2:])
        f4[:, 0::4] = k
        f4 = self.interpolate(f4, lab, 0.0, g)
        seq = [f4[:, :1]]
        for j in range(0, 8, 2):  # windows of 2 intervals at 4T → 9 frames at 16T
            w = torch.zeros(1, 9, *k.shape[2:])
            w[:, 0::4] = f4[:, j : j + 3]
            seq.append(self.interpolate(w, lab, 1.0, g)[:, 1:])
        v = torch.cat(seq, 1)  # 33 latent frames at 24 fps
        px = self.dec(v)
        pick = px[:, 8:16]
        s = self.manifest["sampling"]["upsampler"]
        up = sample_upsampler(self.models["upsampler"], self.pix, pick, s["steps"], s["noiseAugmentation"], g)
        write_png(os.path.join(self.pack, "video-frames-base.png"),
                  grid([D.to_uint8(f.numpy()) for f in px[0, ::2]], 8))
        write_png(os.path.join(self.pack, "video-frames-256x512.png"),
                  grid([D.to_uint8(f.numpy()) for f in up[0, ::2]], 2))
        self.results["video_consec"] = consec(px)


def fmt(v):
    return f"{v:.2f}"


def write_report(ev, speed, path, seconds):
    r, m = ev.results, ev.manifest
    s = m["sampling"]

    def ok(cond):
        return "**met**" if cond else "**missed**"

    lines = [
        "# Reference pack evaluation",
        "",
        f"Pack `{m['name']}`: base {m['base']['height']}×{m['base']['width']}, video "
        f"{m['video']['height']}×{m['video']['width']} at {m['video']['fps']} fps, latents "
        f"{m['latent']['channels']}×{m['latent']['height']}×{m['latent']['width']} (scale {m['latent']['scale']}).",
        "",
        "Written by `PYTHONPATH=training /usr/bin/python3 -m vldm_train.evaluate --pack models/reference` "
        f"(run time {seconds / 60:.1f} min on this machine's CPUs). Held-out drives (seeds ≥ 1 000 000, never "
        "trained on), fixed sampling seeds. Sampling uses `vldm_train.sampler`, which mirrors the orchestrator's "
        "DDIM (leading timesteps, η = 0, v-prediction) and guidance rows, with the manifest's settings: "
        f"keyframe {s['keyframe']['steps']} steps, context guidance {s['keyframe']['contextGuidance']}, label "
        f"guidance {s['keyframe']['labelGuidance']}; interpolation {s['interpolation']['steps']} steps, context guidance "
        f"{s['interpolation']['contextGuidance']}; upsampler "
        f"{s['upsampler']['steps']} steps, noise augmentation γ = {s['upsampler']['noiseAugmentation']}. "
        "Differences are mean absolute differences in 0–255 pixel units on 64×128 frames; PSNR uses peak 255.",
        "",
        "| measurement | value | target | |",
        "|---|---|---|---|",
    ]
    if "ae_psnr" in r:
        lines += [
            f"| autoencoder PSNR, {r['n_ae']} held-out 64×128 keyframes (image decoder) | {fmt(r['ae_psnr'])} dB "
            f"| ≥ 27 dB | {ok(r['ae_psnr'] >= 27)} |",
            f"| temporal error, image decoder ({r['n_te']} clips × 16 frames at 24 fps) | {fmt(r['te_image'])} | | |",
            f"| temporal error, temporal decoder | {fmt(r['te_temporal'])} | | |",
            f"| temporal error reduction | {100 * r['te_reduction']:.1f} % | ≥ 30 % | {ok(r['te_reduction'] >= 0.3)} |",
        ]
    if "pred_consec" in r:
        lines += [
            f"| real consecutive keyframe difference ({r['n_pred']} clips, keyframes 3–8) | {fmt(r['real_consec'])} "
            "| | |",
            f"| generated (2 real context frames → 6 keyframes) | {fmt(r['pred_consec'])} "
            f"({100 * (r['pred_ratio'] - 1):+.0f} %) | within ±30 % | {ok(abs(r['pred_ratio'] - 1) <= 0.3)} |",
            f"| image-only variant (`keyframe_image`, same seeds) | {fmt(r['image_consec'])} "
            f"({r['image_ratio']:.2f}×) | ≥ 2× real | {ok(r['image_ratio'] >= 2)} |",
            f"| first generated frame vs last context frame | {fmt(r['continuation'])} ({r['continuation_ratio']:.2f}× "
            f"real consecutive) | ≤ 1.5× | {ok(r['continuation_ratio'] <= 1.5)} |",
        ]
    if "cls_gen" in r:
        dn, cc = r["cls_gen"]
        lines += [
            f"| classifier on real held-out keyframes: day/night, clear/crowded | {100 * r['cls_real'][0]:.1f} %, "
            f"{100 * r['cls_real'][1]:.1f} % | (sanity) | |",
            f"| classifier on {r['n_cls']} generated keyframes (chain from nothing): day/night | {100 * dn:.1f} % "
            f"| ≥ 90 % | {ok(dn >= 0.9)} |",
            f"| same: clear/crowded | {100 * cc:.1f} % | ≥ 75 % | {ok(cc >= 0.75)} |",
        ]
    for rate, name in ((0, "T→4T (rate 0)"), (1, "4T→16T (rate 1)")):
        k = f"interp{rate}"
        if k in r:
            d = r[k]
            lines.append(
                f"| interpolation {name}: PSNR of generated in-between frames | {fmt(d['model'])} dB vs linear "
                f"blend {fmt(d['blend'])} dB ({d['model'] - d['blend']:+.2f} dB) | ≥ +1 dB | "
                f"{ok(d['model'] - d['blend'] >= 1)} |")
    if "up" in r:
        u = r["up"]
        lines += [
            f"| upsampler PSNR vs true 256×512 ({u['n']} tiles of 128×256) | {fmt(u['video_psnr'])} dB vs bicubic "
            f"{fmt(u['bicubic_psnr'])} dB ({u['video_psnr'] - u['bicubic_psnr']:+.2f} dB) | ≥ +1 dB | "
            f"{ok(u['video_psnr'] - u['bicubic_psnr'] >= 1)} |",
            f"| upsampler temporal error: video vs image-only | {fmt(u['video_te'])} vs {fmt(u['image_te'])} | lower | "
            f"{ok(u['video_te'] < u['image_te'])} |",
        ]
    lines += ["", "## Details", ""]
    if "ae_psnr" in r:
        lines += [
            f"- Autoencoder: image decoder PSNR on the 24 fps clips {fmt(r['idec_psnr_vid'])} dB, temporal decoder "
            f"{fmt(r['tdec_psnr'])} dB. Temporal error = mean |(y_t+1 − y_t) − (x_t+1 − x_t)| over consecutive "
            "24 fps frames, reconstruction y against the real frames x. The image decoder is the `ae` stage's "
            "(trained on frames); the temporal decoder is the shipped `decoder` (stage `tdec`: temporal layers "
            "added, fine-tuned on clips, encoder and so the latent space unchanged).",
        ]
    if "pred_consec" in r:
        lines += [
            f"- Prediction: the real clips' consecutive difference after the autoencoder is "
            f"{fmt(r['real_consec_decoded'])}; the first generated frame is compared with the *decoded* last context "
            f"frame (the real pair differs by {fmt(r['continuation_real'])}). See `eval-prediction.png` "
            "(rows: real clip, then generated continuation of its first 2 frames).",
        ]
    if "cls_gen" in r:
        lines += [
            f"- Labels: `LabelNet` (4 conv layers, average + max pooling) trained 800 steps (batch 32) on real training keyframes; generated keyframes "
            "come from the chain the orchestrator runs: `keyframe` with T = 1 and an all-zero mask for the first "
            "frame, then one window with 1 context frame, for each of the four label rows. "
            f"Consecutive difference along these chains: {fmt(r['chain_consec'])}. `keyframes-contact-sheet.png`: "
            "two chains per label row (day clear, day crowded, night clear, night crowded).",
        ]
    for rate in (0, 1):
        k = f"interp{rate}"
        if k in r:
            d = r[k]
            lines.append(
                f"- Interpolation rate {rate} ({r['n_interp']} held-out windows of 9 frames, frames 0/4/8 known, "
                f"the 6 others generated): latents of the real known frames; the linear blend is of the real "
                f"neighbouring frames in pixels. Decoding the real latents of the in-between frames gives "
                f"{fmt(d['recon'])} dB (the autoencoder's ceiling); a blend of the known latents, decoded, "
                f"{fmt(d['latent_blend'])} dB.")
    if "up" in r:
        u = r["up"]
        lines.append(
            f"- Upsampler: the real 256×512 frames area-downsampled 4× are the low-res input; one 32×64 low-res tile "
            f"(the manifest's tile size) from the centre of each frame → 128×256, {u['n']} frames of 8-frame held-out "
            f"clips, 8 frames per model call (the manifest's upscale window); image-only variant PSNR "
            f"{fmt(u['image_psnr'])} dB; bicubic temporal error {fmt(u['bicubic_te'])}. `eval-upsampler.png`: "
            "bicubic | image-only | video | real (crops).")
        if "psnr_by_steps" in u:
            lines.append(
                "- Upsampler steps (video model, same tiles and seeds, γ unchanged): " + ", ".join(
                    f"{k} steps {fmt(v)} dB ({v - u['bicubic_psnr']:+.2f} vs bicubic)"
                    for k, v in u["psnr_by_steps"].items()) + ". Fewer steps stay nearer the mean of the "
                "possible detail, which PSNR rewards; the manifest's default is the best of these.")
    if "video_consec" in r:
        lines.append(
            "- `video-frames-base.png`: every 2nd frame of 33 generated 24 fps frames (3 chain keyframes → "
            "interpolation at both rates → temporal decoder); `video-frames-256x512.png`: frames 8–15 of it "
            "through the 4× upsampler.")
    if speed:
        lines += ["", "## Speed (onnxruntime-node, CPU, 1 intra-op thread, median of repeats)", "",
                  "| role | case | output shape | ms per call |", "|---|---|---|---|"]
        for e in speed:
            lines.append(f"| {e['role']} | {e['case']} | {'×'.join(map(str, e['shape']))} | {e['ms']:.1f} |")
        lines += ["", "Measured while other work shared the two cores; treat as upper bounds."]
    size = sum(os.path.getsize(os.path.join(ev.pack, e["file"])) for e in m["models"].values())
    lines += ["", f"Pack size: {size / 1e6:.1f} MB of ONNX files ({len(m['models'])} roles; weights stored as float16); "
              "`training/scripts/export_and_eval.sh` then stores the PNGs with a 256-colour palette and prints the whole "
              "pack's size (under 20 MB)."]
    lines += ["", "## Training behind this pack", "",
              "Steps reached per stage (checkpoints in the run folder; batch sizes in training/README.md); "
              "`--resume` continues any of them.", "",
              "| stage | steps |", "|---|---|"]
    for stage, step in ev.train_steps.items():
        lines.append(f"| `{stage}` | {step} |")
    history = os.path.join(ev.run, "HISTORY.md")
    if os.path.exists(history):
        # The run's own record of how it was trained (which machine, which commands), kept by hand.
        with open(history) as f:
            lines += ["", f.read().strip()]
    lines += ["", *ev.notes]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description="evaluate the reference pack on held-out data")
    p.add_argument("--pack", default="models/reference")
    p.add_argument("--run", default=os.path.join(os.path.dirname(D.CACHE), "runs", "ref"))
    p.add_argument("--speed", help="JSON written by scripts/ort_check.cjs --json")
    p.add_argument("--quick", action="store_true", help="fewer samples (for trying things out)")
    p.add_argument("--only", nargs="*", help="autoencoder prediction labels interpolation upsampler video")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--merge", action="store_true", help="start from the pack's eval.json (re-run some parts)")
    p.add_argument("--small", action="store_true", help="use the small (smoke) datasets")
    p.add_argument("--partial", action="store_true", help="evaluate a run whose later stages are not trained yet "
                   "(needs --only; the manifest is read from --pack)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    ev = Evaluator(args.pack, args.run, args.quick, args.small, args.partial)
    if args.merge and os.path.exists(os.path.join(args.pack, "eval.json")):
        with open(os.path.join(args.pack, "eval.json")) as f:
            ev.results.update(json.load(f))
    parts = args.only or ["autoencoder", "prediction", "labels", "interpolation", "upsampler", "video"]
    speed = None
    if args.speed:
        with open(args.speed) as f:
            speed = json.load(f)
    for part in parts:
        t = time.time()
        try:
            getattr(ev, {"video": "video_frames"}.get(part, part))()
        except Exception as e:  # one failing part must not lose the others' numbers
            ev.notes.append(f"- The `{part}` part failed: {type(e).__name__}: {e}")
        print(f"[eval] {part} {time.time() - t:.0f}s {json.dumps(ev.results, default=str)[:2000]}", flush=True)
        # Written after every part, so that a long evaluation leaves its numbers so far.
        write_report(ev, speed, os.path.join(args.pack, "EVAL.md"), time.time() - t0)
    with open(os.path.join(args.pack, "eval.json"), "w") as f:
        json.dump(ev.results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
