/**
 * What planning needs to know about a model pack: sizes, labels, windows, sampling defaults and its
 * digest. A small, JSON-safe value that crosses the workflow boundary (the ONNX files never do).
 */

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
  windows: {
    keyframe: { frames: number };
    interpolation: { intervals: number };
    decode: { frames: number; overlap: number };
    upscale: {
      frames: number;
      overlapFrames: number;
      tileHeight: number;
      tileWidth: number;
      overlap: number;
    };
  };
}

/** Upscaling factor of the upsampler role (fixed by the contract). */
export const UPSCALE_FACTOR = 4;
/** Each interpolation pass puts 3 new frames between each pair: T → 4T. */
export const INTERPOLATION_RATE = 4;
/** Two passes: T → 4T → 16T. */
export const INTERPOLATION_PASSES = 2;
/** Output frames per keyframe interval. */
export const FRAMES_PER_KEYFRAME = INTERPOLATION_RATE ** INTERPOLATION_PASSES;
