/**
 * A worker's model packs: each pack is loaded and verified once, its ONNX sessions created on first
 * use and kept warm for the worker's lifetime (a GPU pool serves one set of roles and never reloads).
 */
import { loadPack, type ModelPack } from '../models/pack';
import { ModelRuntime, type ModelSession, type RuntimeOptions } from '../models/runtime';
import { modelCallSeconds } from '../observability/metrics';
import { inSpan } from '../observability/tracing';
import { phaseAsync } from '../observability/host-phases';
import type { Role } from '../models/contract';
import type { PackSummary } from '../planning/pack-summary';
import type { EmulatedAccelerators } from '../bench/accelerator';

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

/**
 * Times every model call of `runtime`'s sessions (vldm_model_call_seconds by role, and a span when
 * tracing is on). Every stage calls its models through `runtime.session(role).run`, so this one place
 * sees them all; it is also where a benchmark worker puts each call on an EMULATED accelerator
 * (src/bench/accelerator.ts).
 */
function timedRuntime(runtime: ModelRuntime, accelerators?: EmulatedAccelerators): ModelRuntime {
  const open = runtime.session.bind(runtime);
  const timed = new WeakSet<ModelSession>();
  runtime.session = async (role: Role) => {
    const session = await open(role);
    if (!timed.has(session)) {
      timed.add(session);
      const run = session.run.bind(session);
      const histogram = modelCallSeconds.labels({ role });
      // With tracing on, each call is also a `model.run` span under the activity's.
      session.run = (inputs) =>
        inSpan('model.run', { 'vldm.model.role': role }, async () => {
          const end = histogram.startTimer();
          try {
            return await phaseAsync('model', () =>
              accelerators ? accelerators.call(role, () => run(inputs)) : run(inputs),
            );
          } finally {
            end();
          }
        });
    }
    return session;
  };
  return runtime;
}

export class ModelCache {
  private readonly packs = new Map<string, Promise<LoadedPack>>();
  /** Digests of the packs loaded so far, by location: what a task's check can read without waiting. */
  private readonly digests = new Map<string, string>();

  constructor(
    private readonly opts: RuntimeOptions = {},
    /** Only in benchmark workers: every model call held on an emulated accelerator. */
    private readonly accelerators?: EmulatedAccelerators,
  ) {}

  get(location: string): Promise<LoadedPack> {
    let loaded = this.packs.get(location);
    if (!loaded) {
      loaded = loadPack(location).then((pack) => ({
        pack,
        runtime: timedRuntime(new ModelRuntime(pack, this.opts), this.accelerators),
        summary: summarisePack(pack, location),
      }));
      this.packs.set(location, loaded);
      loaded.then(
        (l) => this.digests.set(location, l.summary.digest),
        () => this.packs.delete(location),
      );
    }
    return loaded;
  }

  /** The digest of the pack at `location` if it is loaded, else undefined (nothing is loaded here). */
  loadedDigest(location: string): string | undefined {
    return this.digests.get(location);
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
    this.digests.clear();
  }
}
