"""The reference pack's networks, built like the Video LDM paper's but small enough for two CPU cores.

- `Autoencoder`: encoder E (f = 4, 64×128 → 4×16×32) and decoder D; the decoder takes optional
  temporal layers (3D-conv residual blocks mixed in with a learned α) for the temporal decoder.
- `UNet`: a convolutional denoiser whose *spatial* layers are the image model (trained first, then
  frozen) and whose *temporal* layers (`TemporalStack`, one block after each spatial block) are
  trained on video: 3D-conv residual block + temporal self-attention over frames, sinusoidal frame
  positions, mask/context conditioning c_S = (m∘z, m), an optional rate input, and the learned mixing
  α·z + (1−α)·z'. A UNet can hold several temporal stacks (prediction and interpolation share one
  frozen backbone); `stack=None` is the image-only variant (α = 1, temporal layers skipped).
- The same UNet is the 4× pixel-space upsampler (`cond_channels = 3`: the bilinearly upsampled,
  noise-augmented low-res frames; `noise_level` embedded next to t).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .contract import gather_time
from .layers import MixGate, frame_positions, frames_to_video, from_frames, timestep_embedding, to_frames, video_to_frames


class ResBlock(nn.Module):
    """Spatial residual block with an additive embedding (time/labels) after the first conv."""

    def __init__(self, cin, cout, emb_dim=0):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout) if emb_dim else None
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb=None):
        h = self.conv1(F.silu(x))
        if self.emb is not None:
            h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


# ---------------------------------------------------------------- autoencoder


class TemporalConvBlock(nn.Module):
    """3D-conv residual block on (B,C,T,H,W), output zero-initialised, mixed with a learned α."""

    def __init__(self, ch, kernel=(3, 3, 3)):
        super().__init__()
        pad = tuple(k // 2 for k in kernel)
        self.conv1 = nn.Conv3d(ch, ch, kernel, padding=pad)
        self.conv2 = nn.Conv3d(ch, ch, kernel, padding=pad)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.mix = MixGate(0.5)

    def forward(self, h, like):
        v = frames_to_video(h, like)
        z2 = v + self.conv2(F.silu(self.conv1(F.silu(v))))
        return video_to_frames(self.mix(v, z2))


class Autoencoder(nn.Module):
    def __init__(self, ch=(32, 48, 64), latent=4):
        super().__init__()
        c1, c2, c3 = ch
        self.enc = nn.ModuleList([
            nn.Conv2d(3, c1, 3, padding=1),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            ResBlock(c2, c2),
            nn.Conv2d(c2, c3, 4, stride=2, padding=1),
            ResBlock(c3, c3),
        ])
        self.enc_out = nn.Conv2d(c3, latent, 1)
        self.dec_in = nn.Conv2d(latent, c3, 3, padding=1)
        self.dec_blocks = nn.ModuleList([ResBlock(c3, c3), ResBlock(c3, c3)])
        self.up1 = nn.Conv2d(c3, c2, 3, padding=1)
        self.dec_mid = ResBlock(c2, c2)
        self.up2 = nn.Conv2d(c2, c1, 3, padding=1)
        self.dec_last = ResBlock(c1, c1)
        self.dec_out = nn.Conv2d(c1, 3, 3, padding=1)
        # Temporal decoder layers, added by `add_temporal` (after the 16×32, 32×64 and 64×128 blocks).
        self.temporal = None

    def add_temporal(self):
        c1, c2, c3 = self.up2.out_channels, self.up1.out_channels, self.dec_in.out_channels
        # 3×3×3 at 16×32; purely temporal (3,1,1) at 32×64 and at full resolution, where a full 3D
        # kernel costs 9× the CPU. The full-resolution block sits after the last spatial block, so
        # flicker that the last layers add can still be smoothed.
        self.temporal = nn.ModuleList([
            TemporalConvBlock(c3), TemporalConvBlock(c2, (3, 1, 1)), TemporalConvBlock(c1, (3, 1, 1)),
        ])

    def encode_frames(self, x):
        h = self.enc[0](x)
        h = self.enc[2](self.enc[1](F.silu(h)))
        h = self.enc[4](self.enc[3](F.silu(h)))
        return self.enc_out(F.silu(h))

    def decode_frames(self, z, like=None, temporal=True):
        """Decode (N,c,h,w); `like` ([B,T,…]) gives the video shape for the temporal layers."""
        use_t = temporal and self.temporal is not None and like is not None
        h = self.dec_in(z)
        for b in self.dec_blocks:
            h = b(h)
        if use_t:
            h = self.temporal[0](h, like)
        h = self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.dec_mid(h)
        if use_t:
            h = self.temporal[1](h, like)
        h = self.up2(F.interpolate(F.silu(h), scale_factor=2.0, mode="nearest"))
        h = self.dec_last(h)
        if use_t and len(self.temporal) > 2:
            h = self.temporal[2](h, like)
        return torch.tanh(self.dec_out(F.silu(h)))


class EncoderExport(nn.Module):
    def __init__(self, ae):
        super().__init__()
        self.ae = ae

    def forward(self, pixels):
        return from_frames(self.ae.encode_frames(to_frames(pixels)), pixels)


class DecoderExport(nn.Module):
    def __init__(self, ae, temporal=True):
        super().__init__()
        self.ae, self.temporal = ae, temporal

    def forward(self, latents):
        return from_frames(self.ae.decode_frames(to_frames(latents), latents, self.temporal), latents)


class PatchDiscriminator3D(nn.Module):
    """The paper's 3D-conv patch discriminator for the temporal decoder: real/fake per space-time patch."""

    def __init__(self, ch=32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(3, ch, (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1)), nn.LeakyReLU(0.2),
            nn.Conv3d(ch, 2 * ch, (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1)), nn.LeakyReLU(0.2),
            nn.Conv3d(2 * ch, 1, 3, padding=1),
        )

    def forward(self, video):  # [B,T,3,H,W]
        return self.net(video.transpose(1, 2))


# ---------------------------------------------------------------- denoisers


class TemporalBlock(nn.Module):
    """One temporal layer: z' = z + conv3d-res(z̃) + attn_T(z̃), z̃ = z + frame position + context + cond;
    output α·z + (1−α)·z'. Output convs start at zero so an untrained block is the identity."""

    def __init__(self, ch, cond_dim, ctx_channels, attention=True, kernel=(3, 3, 3)):
        super().__init__()
        self.ch = ch
        self.pos = nn.Linear(ch, ch)
        self.cond = nn.Linear(cond_dim, ch)
        self.ctx = nn.Conv2d(ctx_channels, ch, 3, padding=1)
        pad = tuple(k // 2 for k in kernel)
        self.conv1 = nn.Conv3d(ch, ch, kernel, padding=pad)
        self.conv2 = nn.Conv3d(ch, ch, kernel, padding=pad)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.attention = attention
        if attention:
            self.norm = nn.LayerNorm(ch)
            self.qkv = nn.Linear(ch, 3 * ch)
            self.proj = nn.Linear(ch, ch)
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)
        self.mix = MixGate(0.5)

    def forward(self, h, like, cond, ctx):
        """h (B·T,C,H,W); cond [B,cond_dim]; ctx (B·T,ctx_channels,H,W) at this resolution."""
        v = frames_to_video(h, like)  # B,C,T,H,W
        pos = self.pos(frame_positions(v, self.ch))  # T,C
        extra = self.cond(F.silu(cond))[:, :, None, None, None] + pos.t()[None, :, :, None, None]
        extra = extra + frames_to_video(self.ctx(ctx), like)
        u = v + extra
        r = self.conv2(F.silu(self.conv1(F.silu(u))))
        if self.attention:
            b, c, t, hh, ww = u.shape[0], u.shape[1], u.shape[2], u.shape[3], u.shape[4]
            tok = u.permute(0, 3, 4, 2, 1).reshape(-1, t, c)  # (B·H·W, T, C)
            q, k, val = self.qkv(self.norm(tok)).chunk(3, dim=-1)
            w = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(self.ch), dim=-1)
            a = self.proj(w @ val).reshape(b, hh, ww, t, c).permute(0, 4, 3, 1, 2)
            r = r + a
        return video_to_frames(self.mix(v, v + r))


class TemporalStack(nn.Module):
    """The temporal layers of one model (prediction, interpolation or upsampler video layers)."""

    def __init__(self, block_channels, cond_dim, ctx_channels, attention_from=1, rate=False, light_full_res=False):
        super().__init__()
        # With `light_full_res` the blocks at full resolution (first and last) use a purely temporal
        # (3,1,1) convolution and no attention: at 64×64 pixels a 3×3×3 conv costs 9× more CPU.
        full = (0, len(block_channels) - 1) if light_full_res else ()
        self.blocks = nn.ModuleList([
            TemporalBlock(c, cond_dim, ctx_channels, attention=i >= attention_from and i not in full,
                          kernel=(3, 1, 1) if i in full else (3, 3, 3))
            for i, c in enumerate(block_channels)
        ])
        self.rate = nn.Linear(1, cond_dim) if rate else None


class UNet(nn.Module):
    """Small conv U-Net on [B,T,C,H,W]: levels `ch` (2× down between), one ResBlock per level each way.

    The spatial layers see (B·T,C,H,W); after every ResBlock a temporal block of the selected stack
    (if any) sees (B,C,T,H,W). Conditioning: time t (and `noise_level` for the upsampler) and labels
    enter the spatial layers; context/mask and rate enter only the temporal layers, as in the paper.
    """

    def __init__(self, in_ch, out_ch, ch=(48, 96, 128), n_labels=0, cond_channels=0, noise_level=False):
        super().__init__()
        self.ch, self.in_ch, self.out_ch = ch, in_ch, out_ch
        self.n_labels, self.cond_channels = n_labels, cond_channels
        emb = 4 * ch[0]
        self.emb_dim = emb
        self.t_mlp = nn.Sequential(nn.Linear(ch[0], emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label_emb = nn.Linear(n_labels, emb, bias=False) if n_labels else None
        self.nl_mlp = nn.Sequential(nn.Linear(ch[0], emb), nn.SiLU(), nn.Linear(emb, emb)) if noise_level else None
        self.inp = nn.Conv2d(in_ch + cond_channels, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, c in enumerate(ch):
            cin = ch[i - 1] if i else ch[0]
            self.down_blocks.append(ResBlock(cin, c, emb))
            if i < len(ch) - 1:
                self.downs.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = ResBlock(ch[-1], ch[-1], emb)
        self.up_blocks = nn.ModuleList()
        for i in reversed(range(len(ch))):
            cin = ch[i] * 2 if i == len(ch) - 1 else ch[i] + ch[i + 1]
            self.up_blocks.append(ResBlock(cin, ch[i], emb))
        self.out = nn.Conv2d(ch[0], out_ch, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        # Channels after each ResBlock, in call order: where the temporal blocks sit.
        self.block_channels = list(ch) + [ch[-1]] + list(reversed(ch))
        self.stacks = nn.ModuleDict()

    @property
    def spatial_multiple(self):
        return 2 ** (len(self.ch) - 1)

    def add_stack(self, name, ctx_channels, rate=False, attention_from=1, light_full_res=False):
        self.stacks[name] = TemporalStack(self.block_channels, self.emb_dim, ctx_channels, attention_from, rate,
                                          light_full_res)
        return self.stacks[name]

    def spatial_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("stacks.")]

    def forward(self, x, t, labels=None, cond=None, noise_level=None, stack=None, context=None, mask=None,
                rate=None):
        """x [B,T,C,H,W] → out [B,T,out_ch,H,W]. `stack`: name of the temporal stack or None (image)."""
        like = x
        emb = self.t_mlp(timestep_embedding(t, self.ch[0]))
        if self.label_emb is not None:
            emb = emb + self.label_emb(labels)
        if self.nl_mlp is not None:
            emb = emb + self.nl_mlp(timestep_embedding(noise_level, self.ch[0]))
        ts = self.stacks[stack] if stack is not None else None
        t_cond = emb
        if ts is not None and ts.rate is not None:
            t_cond = emb + ts.rate(rate[:, None])
        # Per-frame embedding for the spatial layers: repeat each row's embedding over its T frames.
        n_t = x.shape[1]
        emb_f = emb[:, None, :].expand(-1, n_t, -1).reshape(-1, emb.shape[1])
        inp = x if cond is None else torch.cat([x, cond], dim=2)
        h = self.inp(to_frames(inp))
        ctx = None
        if ts is not None:
            ctx = to_frames(torch.cat([context, mask], dim=2))
        i_blk = 0

        def temporal(h, i_blk, level_ctx):
            if ts is None:
                return h
            return ts.blocks[i_blk](h, like, t_cond, level_ctx)

        skips = []
        level_ctx = ctx
        for i, blk in enumerate(self.down_blocks):
            h = blk(h, emb_f)
            h = temporal(h, i_blk, level_ctx)
            i_blk += 1
            skips.append(h)
            if i < len(self.downs):
                h = self.downs[i](h)
                level_ctx = F.avg_pool2d(level_ctx, 2) if level_ctx is not None else None
        h = self.mid(h, emb_f)
        h = temporal(h, i_blk, level_ctx)
        i_blk += 1
        ctxs = [ctx]
        for _ in range(len(self.ch) - 1):
            ctxs.append(F.avg_pool2d(ctxs[-1], 2) if ctxs[-1] is not None else None)
        for j, blk in enumerate(self.up_blocks):
            level = len(self.ch) - 1 - j
            if j > 0:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = blk(torch.cat([h, skips[level]], dim=1), emb_f)
            h = temporal(h, i_blk, ctxs[level])
            i_blk += 1
        return from_frames(self.out(F.silu(h)), like)


# ---------------------------------------------------------------- contract wrappers


class KeyframeExport(nn.Module):
    """Contract `keyframe`/`keyframe_image`: (x, t, context, mask, labels) → v."""

    def __init__(self, unet, stack):
        super().__init__()
        self.unet, self.stack = unet, stack

    def forward(self, x, t, context, mask, labels):
        if self.stack is None:
            # α = 1: the temporal layers (and with them context and mask) are skipped. The contract
            # still lists these inputs, so they enter the graph as an exact zero.
            x = x + 0.0 * (context.sum() + mask.sum())
        return self.unet(x, t, labels=labels, stack=self.stack, context=context, mask=mask)


class InterpolationExport(nn.Module):
    def __init__(self, unet, stack):
        super().__init__()
        self.unet, self.stack = unet, stack

    def forward(self, x, t, context, mask, labels, rate):
        return self.unet(x, t, labels=labels, stack=self.stack, context=context, mask=mask, rate=rate)


def upsample_lowres(lowres):
    """[B,T,3,h,w] → [B,T,3,4h,4w] bilinear: the upsampler's conditioning channels."""
    return from_frames(F.interpolate(to_frames(lowres), scale_factor=4.0, mode="bilinear", align_corners=False),
                       lowres)


class UpsamplerExport(nn.Module):
    """Contract `upsampler`/`upsampler_image`: (x, t, lowres, noise_level) → v.

    The network is parametrised by x̂₀ = bilinear(lowres) + U-Net residual (so an untrained network is
    a bilinear upscaler and training learns the detail), and the output is converted exactly to
    v = (α_t·x − x̂₀)/σ_t, from which the host's DDIM recovers x̂₀ = α_t·x − σ_t·v."""

    def __init__(self, unet, stack, schedule):
        super().__init__()
        self.unet, self.stack = unet, stack
        self.register_buffer("alpha", schedule.alpha.clone())
        self.register_buffer("sigma", schedule.sigma.clone())

    def x0(self, x, t, lowres, noise_level):
        cond = upsample_lowres(lowres)
        if self.stack is None:
            r = self.unet(x, t, cond=cond, noise_level=noise_level)
        else:
            zeros = torch.zeros_like(x[:, :, :1])
            r = self.unet(x, t, cond=cond, noise_level=noise_level, stack=self.stack, context=cond, mask=zeros)
        return cond + r

    def forward(self, x, t, lowres, noise_level):
        a = gather_time(self.alpha, t)[:, None, None, None, None]
        s = gather_time(self.sigma, t)[:, None, None, None, None]
        return (a * x - self.x0(x, t, lowres, noise_level)) / s
