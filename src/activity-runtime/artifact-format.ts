/**
 * How each kind of tensor artifact is stored (docs/tensor-format.md, "What each stage stores"):
 * pixel-space artifacts (decoded frames, upscaled tiles, the init frame) as pixel8, the 8-bit codes the
 * video gets anyway; latents and sampling checkpoints as exact float32 (latents are ~2% of a job's
 * bytes, and a resumed activity must continue from exactly the sample it saved).
 */
import { encodeTensor, type Tensor, type TensorDtype } from '../tensors';
import { phase } from '../observability/host-phases';

/** The stored dtype of pixel artifacts. It is part of their keys (see pixelKeyInputs). */
export const PIXEL_ARTIFACT_DTYPE: TensorDtype = 'pixel8';

/** A pixel-space tensor (values in [-1, 1]) as an artifact. */
export function encodePixels(t: Tensor): Buffer {
  return phase('encode', () => encodeTensor(t, { dtype: PIXEL_ARTIFACT_DTYPE }));
}

/** A latent tensor or a sampling checkpoint as an artifact: float32, exact. */
export function encodeLatents(t: Tensor): Buffer {
  return phase('encode', () => encodeTensor(t, { dtype: 'float32' }));
}

/**
 * The key-digest entry of a pixel artifact's stored form: a store that still holds float32 outputs of
 * the same inputs (written before pixel8) never mixes them into a new job's bytes, so a rerun gives
 * exactly the bytes of a fresh run.
 */
export const pixelKeyInputs = { stored: PIXEL_ARTIFACT_DTYPE } as const;
