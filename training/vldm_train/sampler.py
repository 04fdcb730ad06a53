"""DDIM sampling with context and label guidance, in torch, for the evaluation.

It mirrors the orchestrator's sampler (src/sampling/: ddim.ts, guidance.ts, masks.ts) and
docs/model-contract.md, so that the evaluation measures what `vldm generate` computes:

- timesteps: diffusers' "leading" spacing, t_i = i·⌊1000/steps⌋ for i = steps−1 … 0, and the step
  after t = 0 goes to the clean sample (ᾱ = 1);
- DDIM (Song et al. eq. 12), η = 0 by default; v-prediction: x̂₀ = α·x − σ·v̂, ε̂ = α·v̂ + σ·x;
- guidance: f̃ = f(c, y) + (s_c − 1)(f(c, y) − f(∅, y)) + (s_y − 1)(f(c, y) − f(c, ∅)), the dropped
  rows being a zero mask/context and an all-zero label row;
- known frames are put back after the last step (m∘z + (1−m)∘x).
"""

import torch


def ddim_timesteps(steps, train_steps=1000):
    ratio = train_steps // steps
    return [i * ratio for i in range(steps - 1, -1, -1)]


def x0_eps(out, x, a, s, prediction):
    if prediction == "v":
        return a * x - s * out, a * out + s * x
    return (x - s * out) / a, out


def ddim(model_fn, shape, sched, steps, generator, prediction="v", eta=0.0, x_init=None):
    """Generic DDIM loop. model_fn(x, t_tensor) → guided output. Returns x̂₀ of the last step."""
    x = torch.randn(shape, generator=generator) if x_init is None else x_init
    ts = ddim_timesteps(steps, sched.steps)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        a, s = sched.alpha[t], sched.sigma[t]
        ab_prev = sched.abar[t_prev] if t_prev >= 0 else torch.tensor(1.0)
        out = model_fn(x, torch.full((shape[0],), float(t)))
        x0, eps = x0_eps(out, x, a, s, prediction)
        ab = sched.abar[t]
        sig = eta * torch.sqrt((1 - ab_prev) / (1 - ab)) * torch.sqrt(1 - ab / ab_prev) if eta > 0 else 0.0
        x = torch.sqrt(ab_prev) * x0 + torch.sqrt(torch.clamp(1 - ab_prev - sig**2, min=0)) * eps
        if eta > 0:
            x = x + sig * torch.randn(shape, generator=generator)
    return x


def guided(fn, x, t, context, mask, labels, s_ctx=1.0, s_lab=1.0, **extra):
    """One guided evaluation: rows batched like src/sampling/guidance.ts (full, ∅ context, ∅ labels)."""
    has_ctx = bool(mask.sum() > 0)
    rows = [(context, mask, labels)]
    if has_ctx and s_ctx != 1:
        rows.append((torch.zeros_like(context), torch.zeros_like(mask), labels))
    if s_lab != 1:
        rows.append((context, mask, torch.zeros_like(labels)))
    b = x.shape[0]
    cat = lambda i: torch.cat([r[i] for r in rows])  # noqa: E731
    rep = len(rows)
    ex = {k: torch.cat([v] * rep) for k, v in extra.items()}
    out = fn(torch.cat([x] * rep), torch.cat([t] * rep), cat(0), cat(1), cat(2), **ex)
    outs = out.split(b)
    res = outs[0].clone()
    k = 1
    if has_ctx and s_ctx != 1:
        res = res + (s_ctx - 1) * (outs[0] - outs[k])
        k += 1
    if s_lab != 1:
        res = res + (s_lab - 1) * (outs[0] - outs[k])
    return res


def sample_latents(model, sched, context, mask, labels, steps, generator, s_ctx=1.0, s_lab=1.0, rate=None):
    """Keyframe/interpolation sampling with a contract-style module (x, t, context, mask, labels[, rate])."""
    extra = {} if rate is None else {"rate": rate}

    def fn(x, t):
        return guided(model, x, t, context, mask, labels, s_ctx, s_lab, **extra)

    with torch.no_grad():
        x = ddim(fn, tuple(context.shape), sched, steps, generator)
    return mask * context + (1 - mask) * x


def sample_upsampler(model, sched, lowres, steps, noise_aug, generator):
    """4× upsampling: lowres [B,T,3,h,w] in [-1,1] is noise-augmented at γ = noise_aug, then DDIM."""
    b, t, c, h, w = lowres.shape
    g = torch.full((b,), float(noise_aug))
    a_g, s_g = sched.alpha[int(noise_aug)], sched.sigma[int(noise_aug)]
    low = a_g * lowres + s_g * torch.randn(lowres.shape, generator=generator)

    def fn(x, tt):
        return model(x, tt, low, g)

    with torch.no_grad():
        return ddim(fn, (b, t, c, 4 * h, 4 * w), sched, steps, generator).clamp(-1, 1)
