"""Training stages of the reference pack, each resumable from its own checkpoint.

    PYTHONPATH=training /usr/bin/python3 -m vldm_train.train STAGE --run training/runs/ref \\
        [--steps N] [--minutes M] [--resume] [--seed S] [--threads K]

Stages, in dependency order (the paper's recipe):

| stage | trains | needs |
|---|---|---|
| `ae` | autoencoder E, D on frames (f = 4) | data |
| `latents` | encodes the key/vid sets with the frozen E, picks `latent_scale` = 1/std | `ae` |
| `tdec` | temporal layers of the decoder on 24 fps clips (E and spatial D frozen), 3D patch GAN | `ae` |
| `ldm` | image LDM: U-Net on single latent frames, labels with dropout | `latents` |
| `pred` | prediction temporal layers (spatial frozen), T = 8 keyframes, S ∈ {0,1,2}, T = 1 too | `ldm` |
| `interp` | interpolation temporal layers, 3 new frames per interval, rate 0 and 1 | `ldm` |
| `up_image` | 4× pixel-space upsampler, spatial layers, 64×64 patches, noise augmentation | data |
| `up_video` | the upsampler's temporal layers (spatial frozen) on 8-frame patch clips | `up_image` |

A stage stops after `--steps` total steps or `--minutes` of wall time, whichever comes first, and
checkpoints every `--every` steps and at the end (`<run>/<stage>.pt`, written atomically). With
`--resume` it continues from its checkpoint (weights, optimiser, step and RNG states), so
`--steps` is the total to reach; a weights-only checkpoint (`vldm_train.weights`) resumes with a
fresh optimiser. The learning rate decays over the last 30 % of the run, measured by steps or by
minutes, whichever budget is nearer its end. Everything is a function of `--seed`; on `--device cuda`
(see `scripts/gpu_train.sh`) results are reproducible only up to GPU arithmetic.
"""

import argparse
import json
import os
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from . import weights
from .contract import Schedule
from .models import Autoencoder, PatchDiscriminator3D, UNet

LATENT_SCHEDULE = ("scaled_linear", 0.00085, 0.012)
PIXEL_SCHEDULE = ("linear", 0.0001, 0.02)
UPSAMPLER_MAX_AUG = 300  # noise-augmentation times γ are drawn from [0, 300]

# Model sizes; `--size tiny` (smoke tests) shrinks every network.
SIZES = {
    "full": {"ae": (16, 32, 64), "ldm": (32, 64, 96), "up": (16, 32, 48)},
    "tiny": {"ae": (8, 8, 8), "ldm": (8, 16, 16), "up": (8, 8, 8)},
}


# ---------------------------------------------------------------- model construction (also used by export)


def build_ae(size, temporal=False):
    ae = Autoencoder(SIZES[size]["ae"])
    if temporal:
        ae.add_temporal()
    return ae


def build_ldm(size, stacks=()):
    u = UNet(4, 4, SIZES[size]["ldm"], n_labels=4)
    for name in stacks:
        u.add_stack(name, ctx_channels=5, rate=(name == "interp"), light_full_res=True)
    return u


def build_up(size, video=False):
    u = UNet(3, 3, SIZES[size]["up"], cond_channels=3, noise_level=True)
    if video:
        u.add_stack("video", ctx_channels=4, attention_from=1, light_full_res=True)
    return u


# ---------------------------------------------------------------- checkpoints


def ckpt_path(run, stage):
    return os.path.join(run, f"{stage}.pt")


def save_ckpt(run, stage, state):
    p = ckpt_path(run, stage)
    torch.save(state, p + ".tmp")
    os.replace(p + ".tmp", p)


def load_ckpt(run, stage):
    p = ckpt_path(run, stage)
    if not os.path.exists(p):
        raise SystemExit(f"stage needs {p}; train that stage first")
    # weights_only=False: checkpoints hold numpy RNG states (newer torch defaults to weights_only=True).
    return torch.load(p, map_location="cpu", weights_only=False)


def load_meta(run):
    with open(os.path.join(run, "meta.json")) as f:
        return json.load(f)


# ---------------------------------------------------------------- helpers


def schedule_on(kind, device):
    """A `Schedule` whose tables live on `device` (training indexes them with device tensors)."""
    sched = Schedule(*kind)
    sched.abar, sched.alpha, sched.sigma = (x.to(device) for x in (sched.abar, sched.alpha, sched.sigma))
    return sched


def to_float_t(x, device):
    """uint8 numpy [..., H, W, 3] → float32 torch [..., 3, H, W] in [-1, 1] on `device` (converted there)."""
    t = torch.from_numpy(np.array(x, copy=True)).to(device)  # a copy: memmap slices are read-only
    return (t.float() / 127.5 - 1.0).movedim(-1, -3)


def timesteps(rng, n, device):
    return torch.from_numpy(rng.integers(0, 1000, n)).to(device)


def v_target(sched, x0, eps, t):
    a = sched.alpha[t].view(-1, *([1] * (x0.dim() - 1)))
    s = sched.sigma[t].view(-1, *([1] * (x0.dim() - 1)))
    return a * x0 + s * eps, a * eps - s * x0


def frames_batch(arr, rng, n, crop_hw=None, device="cpu"):
    """n random frames of a [N, F, H, W, 3] uint8 set as float [n,1,3,h,w], optional aligned crop."""
    i = rng.integers(0, arr.shape[0], n)
    j = rng.integers(0, arr.shape[1], n)
    x = np.stack([arr[a, b] for a, b in zip(i, j)])
    if crop_hw:
        h, w = crop_hw
        y0 = 4 * rng.integers(0, (x.shape[1] - h) // 4 + 1)
        x0 = 4 * rng.integers(0, (x.shape[2] - w) // 4 + 1)
        x = x[:, y0 : y0 + h, x0 : x0 + w]
    return to_float_t(x, device)[:, None]


def area_down(x, f=4):
    """[B,T,3,H,W] → box-filter downsample by f (matches world.downsample up to uint8 rounding)."""
    b, t = x.shape[:2]
    return F.avg_pool2d(x.reshape(-1, *x.shape[2:]), f).reshape(b, t, 3, x.shape[3] // f, x.shape[4] // f)


class Stage:
    """Common loop: optimiser, step/minute budget, checkpointing, resume, logging."""

    def __init__(self, args, name, params, lr):
        lr = args.lr or lr
        self.args, self.name = args, name
        self.opt = torch.optim.Adam(params, lr=lr)
        self.lr = lr
        self.step = 0
        self.rng = np.random.default_rng([args.seed, zlib.crc32(name.encode())])
        torch.manual_seed(args.seed)
        self.t0 = time.time()
        self.step0 = 0  # the step this invocation started from (set by resume)
        self.losses = []

    def resume(self, modules, strict=True):
        """Continue from `<run>/<stage>.pt`. `strict=False` lets a stage whose architecture grew
        (new zero-initialised layers) start from an older checkpoint; the new keys are listed."""
        if not (self.args.resume and os.path.exists(ckpt_path(self.args.run, self.name))):
            return
        st = load_ckpt(self.args.run, self.name)
        grown = False
        for k, m in modules.items():
            res = m.load_state_dict(st[k], strict=strict)
            if res.missing_keys or res.unexpected_keys:
                grown = True
                print(f"[{self.name}] {k}: new {res.missing_keys}, dropped {res.unexpected_keys}", flush=True)
        self.step = st["step"]
        same_params = "opt" in st and len(st["opt"]["param_groups"][0]["params"]) == sum(
            len(g["params"]) for g in self.opt.param_groups)
        if same_params and not grown:
            self.opt.load_state_dict(st["opt"])
            self.rng.bit_generator.state = st["rng"]
            torch.set_rng_state(st["torch_rng"])
        else:
            # A weights-only checkpoint (or a grown model): fresh optimiser, data order from seed+step.
            self.rng = np.random.default_rng([self.args.seed, zlib.crc32(self.name.encode()), self.step])
        print(f"[{self.name}] resumed at step {self.step}", flush=True)
        self.step0 = self.step

    def progress(self):
        """Fraction of this invocation's budget used: steps or wall time, whichever is further along."""
        by_steps = (self.step - self.step0) / max(1, self.args.steps - self.step0)
        return max(by_steps, (time.time() - self.t0) / (60 * self.args.minutes))

    def done(self):
        return self.step >= self.args.steps or (time.time() - self.t0) > 60 * self.args.minutes

    def set_lr(self):
        # Constant, then linear decay to 20 % over the last 30 % of the budget.
        frac = self.progress()
        lr = self.lr * (1.0 if frac < 0.7 else max(0.2, 1 - (frac - 0.7) / 0.3 * 0.8))
        for g in self.opt.param_groups:
            g["lr"] = lr

    def update(self, loss, params=None):
        self.set_lr()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if params is not None:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        self.opt.step()
        self.step += 1
        # Kept as tensors and read only when logging, so that a GPU is not synchronised every step.
        self.losses.append(loss.detach())
        if self.step % self.args.log == 0:
            el = time.time() - self.t0
            mean = float(torch.stack(self.losses).mean())
            self.losses = []
            print(f"[{self.name}] step {self.step} loss {mean:.5f} {el / 60:.1f} min", flush=True)

    def maybe_save(self, modules, force=False):
        if force or self.step % self.args.every == 0:
            sd = {k: m.state_dict() for k, m in modules.items()}
            st = dict(sd, opt=self.opt.state_dict(), step=self.step, rng=self.rng.bit_generator.state,
                      torch_rng=torch.get_rng_state(), size=self.args.size, seed=self.args.seed)
            save_ckpt(self.args.run, self.name, st)
            if self.args.weights_out:
                # Weights only: what `vldm_train.weights merge` brings into a run.
                os.makedirs(self.args.weights_out, exist_ok=True)
                weights.write(os.path.join(self.args.weights_out, f"{self.name}.pt"), sd, self.step,
                              self.args.size, self.args.seed)


# ---------------------------------------------------------------- stages


def stage_ae(args):
    key, _ = D.load("key", "train", args.small, scale=args.data_scale)
    ae = build_ae(args.size).to(args.dev)
    st = Stage(args, "ae", ae.parameters(), 1e-3)
    st.resume({"model": ae})
    while not st.done():
        x = frames_batch(key, st.rng, args.batch, crop_hw=(32, 64), device=args.dev)[:, 0]
        z = ae.encode_frames(x)
        y = ae.decode_frames(z)
        loss = F.mse_loss(y, x) + 0.3 * F.l1_loss(y, x) + 1e-5 * z.pow(2).mean()
        st.update(loss)
        st.maybe_save({"model": ae})
    st.maybe_save({"model": ae}, force=True)


def encode_set(ae, arr, batch=64, device="cpu"):
    out = np.empty(arr.shape[:2] + (4, arr.shape[2] // 4, arr.shape[3] // 4), dtype=np.float32)
    with torch.no_grad():
        flat = arr.reshape(-1, *arr.shape[2:])
        of = out.reshape(-1, *out.shape[2:])
        for i in range(0, flat.shape[0], batch):
            of[i : i + batch] = ae.encode_frames(to_float_t(flat[i : i + batch], device)).cpu().numpy()
    return out


def stage_latents(args):
    ae = build_ae(args.size).to(args.dev)
    ae.load_state_dict(load_ckpt(args.run, "ae")["model"])
    ae.eval()
    stats = []
    for kind in ("key", "vid"):
        arr, labels = D.load(kind, "train", args.small, scale=args.data_scale)
        z = encode_set(ae, np.asarray(arr), batch=64 if args.dev.type == "cpu" else 1024, device=args.dev)
        np.save(os.path.join(args.run, f"latents-{kind}.npy"), z.astype(np.float16))
        np.save(os.path.join(args.run, f"latents-{kind}-labels.npy"), labels)
        stats.append(z.reshape(-1))
        print(f"[latents] {kind}: {z.shape} std {z.std():.4f} mean {z.mean():.4f}", flush=True)
    std = float(np.concatenate(stats).std())
    scale = float(f"{1.0 / std:.4g}")
    meta = {"latent_scale": scale, "latent_std": std, "size": args.size}
    if args.keep_scale:
        # Stages trained on the latents (ldm and everything on it) fixed the scale: new or more data
        # must not change it. The std of this set is printed for comparison.
        old = load_meta(args.run)
        print(f"[latents] keeping latent_scale {old['latent_scale']} (this set alone: {scale})", flush=True)
        meta, scale = old, old["latent_scale"]
    with open(os.path.join(args.run, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"[latents] latent_scale {scale}", flush=True)


def stage_tdec(args):
    vid, _ = D.load("vid", "train", args.small, scale=args.data_scale)
    ae = build_ae(args.size, temporal=True).to(args.dev)
    ae.load_state_dict(load_ckpt(args.run, "ae")["model"], strict=False)
    for p in ae.parameters():
        p.requires_grad_(False)
    tparams = list(ae.temporal.parameters())
    if args.train_decoder:
        # The paper fine-tunes the decoder on video; only the encoder (the latent space) must stay.
        tparams += [p for n, p in ae.named_parameters() if n.startswith(DECODER_PREFIXES)]
    for p in tparams:
        p.requires_grad_(True)
    disc = PatchDiscriminator3D(16 if args.size == "full" else 4).to(args.dev)
    dopt = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.9))
    st = Stage(args, "tdec", tparams, 5e-4)
    st.resume({"model": ae, "disc": disc}, strict=False)
    T = 8
    while not st.done():
        i = st.rng.integers(0, vid.shape[0], args.batch)
        o = st.rng.integers(0, vid.shape[1] - T + 1, args.batch)
        y0 = 4 * st.rng.integers(0, (vid.shape[2] - 32) // 4 + 1)
        x0 = 4 * st.rng.integers(0, (vid.shape[3] - 64) // 4 + 1)
        clip = np.stack([vid[a, b : b + T, y0 : y0 + 32, x0 : x0 + 64] for a, b in zip(i, o)])
        x = to_float_t(clip, args.dev)  # B,T,3,H,W
        with torch.no_grad():
            z = ae.encode_frames(x.reshape(-1, *x.shape[2:]))
        y = ae.decode_frames(z, x).reshape(x.shape)
        dy, dx = y[:, 1:] - y[:, :-1], x[:, 1:] - x[:, :-1]
        # The L1 term on frame differences is the evaluation's temporal error itself.
        loss = F.mse_loss(y, x) + 0.3 * F.l1_loss(y, x) + F.mse_loss(dy, dx) + args.diff_weight * F.l1_loss(dy, dx)
        use_gan = args.gan_weight > 0 and st.progress() >= 1 / 3
        if use_gan:
            loss = loss + args.gan_weight * F.relu(1.0 - disc(y)).mean()  # hinge generator loss, small weight
        st.update(loss, tparams)
        if use_gan:
            dl = F.relu(1.0 - disc(x)).mean() + F.relu(1.0 + disc(y.detach())).mean()
            dopt.zero_grad(set_to_none=True)
            dl.backward()
            dopt.step()
        st.maybe_save({"model": ae, "disc": disc})
    st.maybe_save({"model": ae, "disc": disc}, force=True)


DECODER_PREFIXES = ("dec_in.", "dec_blocks.", "up1.", "dec_mid.", "up2.", "dec_last.", "dec_out.")


def load_latents(args, kind):
    meta = load_meta(args.run)
    z = np.load(os.path.join(args.run, f"latents-{kind}.npy"), mmap_mode="r")
    labels = np.load(os.path.join(args.run, f"latents-{kind}-labels.npy"))
    return z, labels, meta["latent_scale"]


def drop_labels(labels, rng, p=0.15):
    keep = (rng.random(labels.shape[0]) >= p).astype(np.float32)[:, None]
    return torch.from_numpy(labels * keep)


def stage_ldm(args):
    zk, lk, scale = load_latents(args, "key")
    zv, lv, _ = load_latents(args, "vid")
    sched = schedule_on(LATENT_SCHEDULE, args.dev)
    net = build_ldm(args.size).to(args.dev)
    st = Stage(args, "ldm", net.parameters(), 5e-4)
    st.resume({"model": net})
    while not st.done():
        n = args.batch
        if st.rng.random() < 0.6:
            i, j = st.rng.integers(0, zk.shape[0], n), st.rng.integers(0, zk.shape[1], n)
            z, lab = np.stack([zk[a, b] for a, b in zip(i, j)]), lk[i]
        else:
            i, j = st.rng.integers(0, zv.shape[0], n), st.rng.integers(0, zv.shape[1], n)
            z, lab = np.stack([zv[a, b] for a, b in zip(i, j)]), lv[i]
        x0 = torch.from_numpy(z.astype(np.float32) * scale)[:, None].to(args.dev)
        t = timesteps(st.rng, n, args.dev)
        eps = torch.randn_like(x0)
        xt, v = v_target(sched, x0, eps, t)
        out = net(xt, t.float(), labels=drop_labels(lab, st.rng).to(args.dev))
        loss = F.mse_loss(out, v)
        st.update(loss, list(net.parameters()))
        st.maybe_save({"model": net})
    st.maybe_save({"model": net}, force=True)


def _temporal_stage(args, name, stack, sample):
    """Shared loop of `pred` and `interp`: frozen spatial layers, one trainable temporal stack."""
    sched = schedule_on(LATENT_SCHEDULE, args.dev)
    stacks = [s for s in ("pred", "interp") if s == stack]
    net = build_ldm(args.size, stacks).to(args.dev)
    base = load_ckpt(args.run, "ldm")["model"]
    net.load_state_dict(base, strict=False)
    for p in net.spatial_parameters():
        p.requires_grad_(False)
    params = list(net.stacks[stack].parameters())
    st = Stage(args, name, params, 5e-4)
    st.resume({"model": net})
    net.load_state_dict(base, strict=False)  # the frozen layers are always the image model's
    while not st.done():
        x0, mask, labels, rate = sample(st.rng)
        x0, mask = x0.to(args.dev), mask.to(args.dev)
        rate = rate.to(args.dev) if rate is not None else None
        b = x0.shape[0]
        t = timesteps(st.rng, b, args.dev)
        eps = torch.randn_like(x0)
        xt, v = v_target(sched, x0, eps, t)
        out = net(xt, t.float(), labels=drop_labels(labels, st.rng).to(args.dev), stack=stack, context=x0 * mask,
                  mask=mask, rate=rate)
        w = 1.0 - mask  # loss on the frames to generate
        loss = ((out - v) ** 2 * w).sum() / (w.sum() * x0.shape[2] + 1e-8)  # w is [B,T,1,h,w]
        st.update(loss, params)
        st.maybe_save({"model": net})
    st.maybe_save({"model": net}, force=True)


def stage_pred(args):
    zk, lk, scale = load_latents(args, "key")
    T = 8

    def sample(rng):
        if rng.random() < 0.15:  # T = 1, no context: the first frame of a video
            n, tt = args.batch * T, 1
        else:
            n, tt = args.batch, T
        i = rng.integers(0, zk.shape[0], n)
        o = rng.integers(0, zk.shape[1] - tt + 1, n)
        x0 = torch.from_numpy(np.stack([zk[a, b : b + tt] for a, b in zip(i, o)]).astype(np.float32) * scale)
        mask = torch.zeros(n, tt, 1, x0.shape[3], x0.shape[4])
        if tt > 1:
            s = rng.choice(3, size=n, p=[0.2, 0.4, 0.4])
            s[rng.random(n) < 0.15] = 0  # context dropout, so that context guidance has an unconditional model
            for r in range(n):
                mask[r, : s[r]] = 1
        return x0, mask, lk[i], None

    _temporal_stage(args, "pred", "pred", sample)


def stage_interp(args):
    zv, lv, scale = load_latents(args, "vid")
    T = 9

    def sample(rng):
        n = args.batch
        i = rng.integers(0, zv.shape[0], n)
        rate = (rng.random(n) < 0.5).astype(np.float32)
        clips = []
        for a, r in zip(i, rate):
            if r == 0:  # T → 4T: frames 4 video frames apart, known every 16
                clips.append(zv[a, 0 : 4 * (T - 1) + 1 : 4])
            else:  # 4T → 16T: consecutive frames, known every 4
                o = rng.integers(0, zv.shape[1] - T + 1)
                clips.append(zv[a, o : o + T])
        x0 = torch.from_numpy(np.stack(clips).astype(np.float32) * scale)
        mask = torch.zeros(n, T, 1, x0.shape[3], x0.shape[4])
        mask[:, 0::4] = 1
        mask[torch.from_numpy(rng.random(n) < 0.1)] = 0  # context dropout
        return x0, mask, lv[i], torch.from_numpy(rate)

    _temporal_stage(args, "interp", "interp", sample)


def _up_batch(hi, rng, n, T, sched, crop=64, device="cpu"):
    i = rng.integers(0, hi.shape[0], n)
    o = rng.integers(0, hi.shape[1] - T + 1, n)
    y0 = 4 * rng.integers(0, (hi.shape[2] - crop) // 4 + 1)
    x0_ = 4 * rng.integers(0, (hi.shape[3] - crop) // 4 + 1)
    clip = np.stack([hi[a, b : b + T, y0 : y0 + crop, x0_ : x0_ + crop] for a, b in zip(i, o)])
    x0 = to_float_t(clip, device)
    low = area_down(x0)
    g = torch.from_numpy(rng.integers(0, UPSAMPLER_MAX_AUG + 1, n)).to(device)
    ag = sched.alpha[g].view(-1, 1, 1, 1, 1)
    sg = sched.sigma[g].view(-1, 1, 1, 1, 1)
    low_aug = ag * low + sg * torch.randn_like(low)
    return x0, low_aug, g


def stage_up_image(args):
    from .models import UpsamplerExport

    hi, _ = D.load("hi", "train", args.small, scale=args.data_scale)
    sched = schedule_on(PIXEL_SCHEDULE, args.dev)
    net = build_up(args.size).to(args.dev)
    wrap = UpsamplerExport(net, None, sched).to(args.dev)
    st = Stage(args, "up_image", net.parameters(), 5e-4)
    st.resume({"model": net})
    while not st.done():
        x0, low, g = _up_batch(hi, st.rng, args.batch, 1, sched, device=args.dev)
        t = timesteps(st.rng, x0.shape[0], args.dev)
        xt, _ = v_target(sched, x0, torch.randn_like(x0), t)
        # x̂₀-loss: the network is parametrised by x̂₀ (see UpsamplerExport); the export returns v.
        loss = F.mse_loss(wrap.x0(xt, t.float(), low, g.float()), x0)
        st.update(loss, list(net.parameters()))
        st.maybe_save({"model": net})
    st.maybe_save({"model": net}, force=True)


def stage_up_video(args):
    from .models import UpsamplerExport

    hi, _ = D.load("hi", "train", args.small, scale=args.data_scale)
    sched = schedule_on(PIXEL_SCHEDULE, args.dev)
    net = build_up(args.size, video=True).to(args.dev)
    base = load_ckpt(args.run, "up_image")["model"]
    net.load_state_dict(base, strict=False)
    for p in net.spatial_parameters():
        p.requires_grad_(False)
    params = list(net.stacks["video"].parameters())
    wrap = UpsamplerExport(net, "video", sched).to(args.dev)
    st = Stage(args, "up_video", params, 5e-4)
    st.resume({"model": net})
    net.load_state_dict(base, strict=False)  # the frozen layers are always up_image's (it may have trained on)
    T = 8
    while not st.done():
        x0, low, g = _up_batch(hi, st.rng, args.batch, T, sched, crop=48, device=args.dev)
        t = timesteps(st.rng, x0.shape[0], args.dev)
        xt, _ = v_target(sched, x0, torch.randn_like(x0), t)
        y = wrap.x0(xt, t.float(), low, g.float())
        # x̂₀ loss plus its frame differences: the temporal layers are there to make the detail consistent.
        loss = F.mse_loss(y, x0) + F.mse_loss(y[:, 1:] - y[:, :-1], x0[:, 1:] - x0[:, :-1])
        st.update(loss, params)
        st.maybe_save({"model": net})
    st.maybe_save({"model": net}, force=True)


STAGES = {
    "ae": (stage_ae, 8),
    "latents": (stage_latents, 0),
    "tdec": (stage_tdec, 2),
    "ldm": (stage_ldm, 16),
    "pred": (stage_pred, 2),
    "interp": (stage_interp, 2),
    "up_image": (stage_up_image, 8),
    "up_video": (stage_up_video, 2),
}


def main(argv=None):
    p = argparse.ArgumentParser(description="train one stage of the reference pack")
    p.add_argument("stage", choices=list(STAGES))
    p.add_argument("--run", default=os.path.join(os.path.dirname(D.CACHE), "runs", "ref"))
    p.add_argument("--steps", type=int, default=2000, help="total steps to reach (default 2000)")
    p.add_argument("--minutes", type=float, default=1e9, help="wall-time budget for this invocation")
    p.add_argument("--batch", type=int, help="batch size (default per stage)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--every", type=int, default=100, help="checkpoint every N steps")
    p.add_argument("--log", type=int, default=25, help="log every N steps")
    p.add_argument("--size", choices=list(SIZES), default="full")
    p.add_argument("--small", action="store_true", help="use the small (smoke) datasets")
    p.add_argument("--data-scale", type=int, default=1, help="training sets with K× the drives (data.py --scale)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default cpu)")
    p.add_argument("--keep-scale", action="store_true", help="latents: keep meta.json's latent_scale")
    p.add_argument("--diff-weight", type=float, default=1.0, help="tdec: weight of the L1 frame-difference loss")
    p.add_argument("--train-decoder", action="store_true", help="tdec: fine-tune the decoder's spatial layers too")
    p.add_argument("--gan-weight", type=float, default=0.02, help="tdec: weight of the 3D patch GAN loss (0: off)")
    p.add_argument("--lr", type=float, help="learning rate (default per stage)")
    p.add_argument("--weights-out", help="also write weights-only checkpoints here (for vldm_train.weights merge)")
    args = p.parse_args(argv)
    fn, batch = STAGES[args.stage]
    args.batch = args.batch or batch
    args.dev = torch.device(args.device)
    if args.dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    print(f"[{args.stage}] start {json.dumps({k: v for k, v in vars(args).items() if k != 'dev'})}", flush=True)
    fn(args)
    with open(os.path.join(args.run, f"{args.stage}.done"), "w") as f:
        f.write(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    print(f"[{args.stage}] done", flush=True)


if __name__ == "__main__":
    main()
