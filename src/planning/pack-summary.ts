/**
 * What planning needs to know about a model pack: sizes, labels, windows, sampling defaults and its
 * digest. A small, JSON-safe value that crosses the workflow boundary (the ONNX files never do).
 */
import type { PackWindows } from '../models/manifest';
import { INTERPOLATION_RATE } from '../models/contract';

export interface SamplingSettings {
  /** DDIM steps. */
  steps: number;
  /** DDIM η (0 = deterministic DDIM). */
  eta: number;
  /** Context guidance scale s (1 = off). */
  contextGuidance?: number;
  /** Label guidance scale (1 = off). */
  labelGuidance?: number;
  /** Noise-augmentation time γ of the low-res conditioning (upsampler only). */
  noiseAugmentation?: number;
}

export interface PackSummary {
  /** Pack location as the workers see it. */
  location: string;
  name: string;
  /** sha256 over the pack's model hashes: identifies the pack in artifact keys. */
  digest: string;
  video: { height: number; width: number; fps: number };
  base: { height: number; width: number };
  latent: { channels: number; height: number; width: number; scale: number; downsample: number };
  labels: string[];
  sampling: { keyframe: SamplingSettings; interpolation: SamplingSettings; upsampler: SamplingSettings };
  windows: PackWindows;
}

/** A denoising stage, named as its sampling settings (and its model role). */
export type SamplingStage = keyof PackSummary['sampling'];

/**
 * A stage's sampling settings with every optional one resolved: a guidance scale left out is 1 (off)
 * and a noise augmentation left out is 0 (none). Sampling and the speed probes read these; artifact
 * keys hash the settings as the pack gives them.
 */
export function stageSampling(
  pack: Pick<PackSummary, 'sampling'>,
  stage: SamplingStage,
): Required<SamplingSettings> {
  const s = pack.sampling[stage];
  return {
    steps: s.steps,
    eta: s.eta,
    contextGuidance: s.contextGuidance ?? 1,
    labelGuidance: s.labelGuidance ?? 1,
    noiseAugmentation: s.noiseAugmentation ?? 0,
  };
}

// Contract facts planning uses; the contract (src/models/contract.ts) is their one home.
export { UPSCALE_FACTOR, INTERPOLATION_RATE, interpolationFrames } from '../models/contract';
/** Two passes: T → 4T → 16T. */
export const INTERPOLATION_PASSES = 2;
/** Output frames per keyframe interval. */
export const FRAMES_PER_KEYFRAME = INTERPOLATION_RATE ** INTERPOLATION_PASSES;
