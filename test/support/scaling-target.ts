/**
 * A two-pool scaler setup for unit tests of the control loop and its metrics: the pools config (a
 * spot GPU pool for upscaling, an on-demand CPU pool for media) and a ScaleTarget kept in memory that
 * records Events, can refuse a deployment, and keeps one Lease.
 */
import type { LeaseRecord, PodInfo, ScaleInfo, ScaleTarget } from '../../src/scaling/kube';
import { ScalerLoop } from '../../src/scaling/loop';
import { parsePoolsConfig } from '../../src/scaling/pools';
import type { TemporalObservation } from '../../src/scaling/temporal';

export const config = parsePoolsConfig({
  maxPricePerHour: 10,
  secondsPerActivity: { upscale: 30, media: 5 },
  drainColdStarts: 1000,
  pools: [
    {
      name: 'up',
      deployment: 'w-up',
      queues: ['upscale'],
      gpusPerPod: 1,
      spot: true,
      pricePerHour: 1,
      coldStartSeconds: 100,
      maxReplicas: 5,
    },
    {
      name: 'media',
      deployment: 'w-media',
      queues: ['media'],
      gpusPerPod: 0,
      spot: false,
      pricePerHour: 0.1,
      coldStartSeconds: 10,
      maxReplicas: 2,
    },
  ],
});

export class MemoryTarget implements ScaleTarget {
  scales = new Map<string, number>([
    ['w-up', 0],
    ['w-media', 0],
  ]);
  events: Array<{ deployment: string; reason: string; message: string; type?: string }> = [];
  refuse = new Set<string>();
  lease?: LeaseRecord;
  async getScale(d: string): Promise<ScaleInfo> {
    return { replicas: this.scales.get(d) ?? 0, selector: `app=${d}` };
  }
  async setScale(d: string, n: number): Promise<void> {
    if (this.refuse.has(d)) throw new Error(`deployments.apps "${d}" is forbidden`);
    this.scales.set(d, n);
  }
  async listPods(): Promise<PodInfo[]> {
    return [];
  }
  async recordEvent(
    deployment: string,
    e: { reason: string; message: string; type?: 'Normal' | 'Warning' },
  ): Promise<void> {
    this.events.push({ deployment, ...e });
  }
  async getLease(): Promise<LeaseRecord | undefined> {
    return this.lease;
  }
  async createLease(_n: string, l: LeaseRecord): Promise<boolean> {
    if (this.lease) return false;
    this.lease = { ...l, version: '1' };
    return true;
  }
  async updateLease(_n: string, l: LeaseRecord): Promise<boolean> {
    if (l.version !== this.lease?.version) return false;
    this.lease = { ...l, version: String(Number(l.version) + 1) };
    return true;
  }
}

/** A control loop over `config` and `target` that observes with `observe` and logs nothing. */
export function quietLoop(target: MemoryTarget, observe: () => Promise<TemporalObservation>): ScalerLoop {
  return new ScalerLoop({ config, target, observe, log: () => undefined });
}
