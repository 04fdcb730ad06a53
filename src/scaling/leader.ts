/**
 * Leader election over a coordination.k8s.io/v1 Lease, so the scaler can run as two replicas and only
 * one acts. The rules are client-go's: a replica takes the Lease when it is free or its holder has not
 * renewed it for `leaseDurationSeconds` as measured on this replica's own clock (from when it last saw
 * the record change, so clocks need not agree); every write is a compare-and-swap on the
 * resourceVersion, so two candidates cannot both win; and a leader that has not renewed within
 * `renewDeadlineSeconds` (shorter than the lease) stops acting before anyone else may start.
 */
import type { LeaseRecord, ScaleTarget } from './kube';

export interface LeaderOptions {
  /** The Lease's name. */
  name: string;
  /** This replica's identity (its pod name). */
  identity: string;
  /** How long a Lease not renewed stays its holder's. Seconds. @default 15 */
  leaseDurationSeconds?: number;
  /** A leader that could not renew for this long stops acting. Seconds, below the lease. @default 10 */
  renewDeadlineSeconds?: number;
  /** The clock (tests move it by hand). @default () => new Date() */
  clock?: () => Date;
}

export class LeaderElector {
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  #clock: () => Date;
  #observed?: LeaseRecord;
  #observedAt = 0;
  #renewedAt = -Infinity;

  constructor(
    private readonly leases: Pick<ScaleTarget, 'getLease' | 'createLease' | 'updateLease'>,
    opts: LeaderOptions,
  ) {
    this.name = opts.name;
    this.identity = opts.identity;
    this.leaseDurationSeconds = opts.leaseDurationSeconds ?? 15;
    this.renewDeadlineSeconds = opts.renewDeadlineSeconds ?? 10;
    if (!(this.renewDeadlineSeconds < this.leaseDurationSeconds)) {
      throw new Error(
        `renewDeadlineSeconds (${this.renewDeadlineSeconds}) must be below leaseDurationSeconds (${this.leaseDurationSeconds})`,
      );
    }
    this.#clock = opts.clock ?? (() => new Date());
  }

  /** Whether this replica may act now: it renewed the Lease within the renew deadline. */
  isLeader(): boolean {
    return this.#clock().getTime() - this.#renewedAt < this.renewDeadlineSeconds * 1000;
  }

  /** The holder as last seen (for logs). */
  get holder(): string | undefined {
    return this.#observed?.holder;
  }

  /** One round: take the Lease if it is free or expired, renew it if it is ours. Returns isLeader(). */
  async tick(): Promise<boolean> {
    const now = this.#clock();
    const current = await this.leases.getLease(this.name);
    if (!current) {
      const mine: LeaseRecord = {
        holder: this.identity,
        acquireTime: now,
        renewTime: now,
        leaseDurationSeconds: this.leaseDurationSeconds,
        transitions: 0,
      };
      if (await this.leases.createLease(this.name, mine)) this.#won(mine, now);
      return this.isLeader();
    }
    if (!this.#observed || this.#observed.version !== current.version) {
      this.#observed = current;
      this.#observedAt = now.getTime();
    }
    const ours = current.holder === this.identity;
    const expired =
      !current.holder || now.getTime() - this.#observedAt >= current.leaseDurationSeconds * 1000;
    if (!ours && !expired) return this.isLeader();
    const next: LeaseRecord = {
      holder: this.identity,
      acquireTime: ours && current.acquireTime ? current.acquireTime : now,
      renewTime: now,
      leaseDurationSeconds: this.leaseDurationSeconds,
      transitions: ours ? current.transitions : current.transitions + 1,
      ...(current.version ? { version: current.version } : {}),
    };
    if (await this.leases.updateLease(this.name, next)) this.#won(next, now);
    return this.isLeader();
  }

  /** Give the Lease up (on shutdown), so the other replica takes over at once instead of after it expires. */
  async release(): Promise<void> {
    if (!this.isLeader()) return;
    const current = await this.leases.getLease(this.name);
    if (!current || current.holder !== this.identity) return;
    this.#renewedAt = -Infinity;
    await this.leases.updateLease(this.name, {
      ...current,
      holder: '',
      leaseDurationSeconds: 1,
      renewTime: this.#clock(),
    });
  }

  #won(record: LeaseRecord, now: Date): void {
    // The version changed with our write; re-reading it next round counts as seeing our own renewal.
    this.#observed = { ...record, version: undefined };
    this.#observedAt = now.getTime();
    this.#renewedAt = now.getTime();
  }
}
