"""Small building blocks shared by the contract-test and reference models.

Layout helpers move between the contract's video layout [B,T,C,H,W], the spatial layers' frame
batch (B·T,C,H,W) and the temporal layers' (B,C,T,H,W). They read sizes from tensor shapes (never
Python ints) so that traced ONNX graphs keep B, T, H and W dynamic.
"""

import math

import torch
import torch.nn as nn


def to_frames(x):
    """[B,T,C,H,W] → (B·T,C,H,W)."""
    return x.reshape((-1,) + tuple(x.shape[2:]))


def from_frames(y, like):
    """(B·T,C,H,W) → [B,T,C,H,W] with B and T taken from `like`."""
    return y.reshape((like.shape[0], like.shape[1]) + tuple(y.shape[1:]))


def frames_to_video(y, like):
    """(B·T,C,H,W) → (B,C,T,H,W) for temporal layers."""
    return from_frames(y, like).transpose(1, 2)


def video_to_frames(v):
    """(B,C,T,H,W) → (B·T,C,H,W)."""
    return to_frames(v.transpose(1, 2))


def timestep_embedding(t, dim, max_period=10000.0):
    """Sinusoidal embedding of float times `t` [N] → [N, dim] (DDPM/Transformer style)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def frame_positions(n_frames_like, dim):
    """Sinusoidal frame-position embedding [T, dim] for the T of a (B,C,T,H,W) tensor."""
    t = torch.arange(n_frames_like.shape[2], dtype=torch.float32, device=n_frames_like.device)
    return timestep_embedding(t, dim, max_period=100.0)


class MixGate(nn.Module):
    """The paper's learned mixing α·z + (1−α)·z', α = sigmoid(logit) ∈ [0,1]; `image` forces α = 1."""

    def __init__(self, init_alpha=0.5):
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(math.log(init_alpha / (1 - init_alpha))))

    @property
    def alpha(self):
        return torch.sigmoid(self.logit)

    def forward(self, z, z_temporal):
        a = self.alpha
        return a * z + (1 - a) * z_temporal
