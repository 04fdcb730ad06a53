/**
 * A worker's model packs: each pack is loaded and verified once, its ONNX sessions created on first
 * use and kept warm for the worker's lifetime (a GPU pool serves one set of roles and never reloads).
 */
import { loadPack, type ModelPack } from '../models/pack';
import { ModelRuntime, type RuntimeOptions } from '../models/runtime';
import type { Role } from '../models/contract';
import type { PackSummary } from '../planning/pack-summary';

export interface LoadedPack {
  pack: ModelPack;
  runtime: ModelRuntime;
  summary: PackSummary;
}

/** The small, JSON-safe view of a pack that planning and workflows use. */
export function summarisePack(pack: ModelPack, location: string): PackSummary {
  const m = pack.manifest;
  return {
    location,
    name: m.name,
    digest: pack.digest,
    video: { ...m.video },
    base: { ...m.base },
    latent: { ...m.latent },
    labels: [...m.labels],
    sampling: {
      keyframe: { ...m.sampling.keyframe },
      interpolation: { ...m.sampling.interpolation },
      upsampler: { ...m.sampling.upsampler },
    },
    windows: JSON.parse(JSON.stringify(m.windows)) as PackSummary['windows'],
  };
}

export class ModelCache {
  private readonly packs = new Map<string, Promise<LoadedPack>>();

  constructor(private readonly opts: RuntimeOptions = {}) {}

  get(location: string): Promise<LoadedPack> {
    let loaded = this.packs.get(location);
    if (!loaded) {
      loaded = loadPack(location).then((pack) => ({
        pack,
        runtime: new ModelRuntime(pack, this.opts),
        summary: summarisePack(pack, location),
      }));
      this.packs.set(location, loaded);
      loaded.catch(() => this.packs.delete(location));
    }
    return loaded;
  }

  /** Load a pack and open the sessions of `roles` now, so the first activity does not pay for it. */
  async warm(location: string, roles: Role[]): Promise<void> {
    const { runtime } = await this.get(location);
    await Promise.all(roles.map((r) => runtime.session(r)));
  }

  async close(): Promise<void> {
    for (const p of await Promise.allSettled([...this.packs.values()])) {
      if (p.status === 'fulfilled') await p.value.runtime.close();
    }
    this.packs.clear();
  }
}
