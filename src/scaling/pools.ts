/**
 * The scaler's pools file: which worker Deployments exist, what each costs, how fast it starts and
 * which task queues it serves, plus the global price cap and damping settings. Parsed and validated
 * once, at the edge, into a fully-resolved `PoolsConfig` that the decision function trusts. The
 * format is documented in docs/scaling.md (the Helm chart renders it into a ConfigMap).
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../common/errors';
import { QUEUE_ROLES, type QueueRole } from '../common/names';

/** One worker pool: a Deployment of identical pods on one node class, serving some task queues. */
export interface PoolConfig {
  /** Unique pool name, used in reasons, Events and logs. A DNS-1123 label. */
  name: string;
  /** The worker Deployment whose replica count this pool is (in the scaler's namespace). */
  deployment: string;
  /** Task-queue roles its workers poll (keys of TASK_QUEUES, as `vldm worker --queues` takes them). */
  queues: QueueRole[];
  /** GPUs per pod (`nvidia.com/gpu`); 0 for a CPU pool. Only GPU pools count in "GPU cost". */
  gpusPerPod: number;
  /** Spot/preemptible nodes: cheaper, can be preempted or stay unschedulable when capacity runs out. */
  spot: boolean;
  /** Price of one pod for one hour, in the same currency as `maxPricePerHour`. */
  pricePerHour: number;
  /** Seconds from asking for a pod to its worker polling: node provisioning, image pull, model load. */
  coldStartSeconds: number;
  /** @default 0 */
  minReplicas: number;
  maxReplicas: number;
  /** Throughput of one pod relative to the node class `secondsPerActivity` was measured on. @default 1 */
  speedFactor: number;
  /** Activities one pod runs at once (the worker's concurrency on these queues). @default 1 */
  activitiesPerPod: number;
}

export interface DampingConfig {
  /**
   * How long a pool's replica count stays at the highest recommendation of the recent past before it
   * may go down (a scale-down stabilisation window, like the HPA's). Unset: each pool uses its own
   * `coldStartSeconds`, the rent-or-buy break-even: keeping an idle pod that long costs as much as
   * the cold start that a too-early scale-down would cost when work comes back. Seconds.
   */
  scaleDownDelaySeconds?: number;
  /**
   * A spot pod still unschedulable after this long means the spot class has no capacity: new
   * capacity goes to the next pool serving the same queues (on-demand) instead. Set it above the
   * cluster's normal node-provisioning time. Seconds. @default 180
   */
  spotPendingTimeoutSeconds: number;
  /** After a spot pool was found without capacity, it is not asked for new pods for this long. Seconds. @default 900 */
  spotRetrySeconds: number;
}

export interface PoolsConfig {
  /** Hard cap on the summed price per hour of all pools' replicas; never exceeded (minReplicas included). */
  maxPricePerHour: number;
  /**
   * Pod-seconds one activity of each queue takes on a `speedFactor` 1 pod (measured: `vldm scaler
   * measure`). Every queue a pool serves needs a value.
   */
  secondsPerActivity: Partial<Record<QueueRole, number>>;
  /**
   * Jobs without a deadline in their memo are planned to finish this long after they started, so they
   * still get capacity, at the pace that costs least. Seconds. @default 3600
   */
  defaultDeadlineSeconds: number;
  /** Time kept in hand before each deadline, for the estimate's error. Seconds. @default 120 */
  deadlineMarginSeconds: number;
  /**
   * Queued work is drained within this many cold starts of the pool new pods come from, deadline or
   * not: a new pod is asked for only when it will work at least this many times as long as it took
   * to start (cold starts are at most 1/(1+n) of its bill), and work is not left waiting in a FIFO
   * queue where it holds up later jobs. @default 3
   */
  drainColdStarts: number;
  /**
   * When on-demand pods are bought, and only ever for deadlines that can still be met:
   * "spot-shortage": when a spot pool serving the queue has pods unschedulable past
   * `damping.spotPendingTimeoutSeconds` (no spot capacity); "deadlines": also when the spot pools are
   * at their maxReplicas. Queues no spot pool serves use their pools as they are. @default "spot-shortage"
   */
  onDemandFor: 'spot-shortage' | 'deadlines';
  damping: DampingConfig;
  pools: PoolConfig[];
}

export const POOLS_DEFAULTS = {
  defaultDeadlineSeconds: 3600,
  deadlineMarginSeconds: 120,
  drainColdStarts: 3,
  onDemandFor: 'spot-shortage' as const,
  spotPendingTimeoutSeconds: 180,
  spotRetrySeconds: 900,
  minReplicas: 0,
  speedFactor: 1,
  activitiesPerPod: 1,
} as const;

/** Kubernetes object names (DNS-1123 labels): what Deployment and pool names must look like. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const POOL_KEYS = [
  'name',
  'deployment',
  'queues',
  'gpusPerPod',
  'spot',
  'pricePerHour',
  'coldStartSeconds',
  'minReplicas',
  'maxReplicas',
  'speedFactor',
  'activitiesPerPod',
];
const TOP_KEYS = [
  'maxPricePerHour',
  'secondsPerActivity',
  'defaultDeadlineSeconds',
  'deadlineMarginSeconds',
  'drainColdStarts',
  'onDemandFor',
  'damping',
  'pools',
];
const DAMPING_KEYS = ['scaleDownDelaySeconds', 'spotPendingTimeoutSeconds', 'spotRetrySeconds'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects every problem of a file, so a user fixes them in one go. */
class Problems {
  readonly list: string[] = [];
  add(msg: string): void {
    this.list.push(msg);
  }
  unknownKeys(where: string, obj: Record<string, unknown>, known: string[]): void {
    for (const k of Object.keys(obj))
      if (!known.includes(k)) this.add(`${where}: unknown key "${k}" (known: ${known.join(', ')})`);
  }
  number(where: string, v: unknown, opts: { min?: number; int?: boolean; positive?: boolean }): number {
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (!opts.int || Number.isInteger(v)) &&
      (opts.min === undefined || v >= opts.min) &&
      (!opts.positive || v > 0);
    if (!ok) {
      const kind = opts.int ? 'an integer' : 'a number';
      const range = opts.positive ? ' > 0' : opts.min !== undefined ? ` ≥ ${opts.min}` : '';
      this.add(`${where} must be ${kind}${range}, got ${JSON.stringify(v)}`);
      return NaN;
    }
    return v as number;
  }
}

function parsePool(raw: unknown, i: number, p: Problems): PoolConfig | undefined {
  const at = `pools[${i}]`;
  if (!isObject(raw)) {
    p.add(`${at} must be an object`);
    return undefined;
  }
  p.unknownKeys(at, raw, POOL_KEYS);
  const where = typeof raw.name === 'string' ? `pool "${raw.name}"` : at;
  if (typeof raw.name !== 'string' || !DNS_LABEL.test(raw.name)) {
    p.add(
      `${at}.name must be a DNS-1123 label (lowercase letters, digits, "-", at most 63), got ${JSON.stringify(raw.name)}`,
    );
  }
  if (typeof raw.deployment !== 'string' || !DNS_LABEL.test(raw.deployment)) {
    p.add(
      `${where}: deployment must be a Deployment name (DNS-1123 label), got ${JSON.stringify(raw.deployment)}`,
    );
  }
  const queues: QueueRole[] = [];
  if (!Array.isArray(raw.queues) || raw.queues.length === 0) {
    p.add(`${where}: queues must be a non-empty list of ${QUEUE_ROLES.join(', ')}`);
  } else {
    for (const q of raw.queues) {
      if (typeof q !== 'string' || !(QUEUE_ROLES as string[]).includes(q)) {
        p.add(`${where}: unknown queue ${JSON.stringify(q)} (allowed: ${QUEUE_ROLES.join(', ')})`);
      } else if (queues.includes(q as QueueRole)) {
        p.add(`${where}: queue "${q}" is listed twice`);
      } else queues.push(q as QueueRole);
    }
  }
  if (typeof raw.spot !== 'boolean')
    p.add(`${where}: spot must be true or false, got ${JSON.stringify(raw.spot)}`);
  const gpusPerPod = p.number(`${where}: gpusPerPod`, raw.gpusPerPod, { min: 0, int: true });
  const pricePerHour = p.number(`${where}: pricePerHour`, raw.pricePerHour, { min: 0 });
  const coldStartSeconds = p.number(`${where}: coldStartSeconds`, raw.coldStartSeconds, { min: 0 });
  const minReplicas = p.number(`${where}: minReplicas`, raw.minReplicas ?? POOLS_DEFAULTS.minReplicas, {
    min: 0,
    int: true,
  });
  const maxReplicas = p.number(`${where}: maxReplicas`, raw.maxReplicas, { min: 0, int: true });
  const speedFactor = p.number(`${where}: speedFactor`, raw.speedFactor ?? POOLS_DEFAULTS.speedFactor, {
    positive: true,
  });
  const activitiesPerPod = p.number(
    `${where}: activitiesPerPod`,
    raw.activitiesPerPod ?? POOLS_DEFAULTS.activitiesPerPod,
    { min: 1, int: true },
  );
  if (minReplicas > maxReplicas)
    p.add(`${where}: minReplicas (${minReplicas}) must not exceed maxReplicas (${maxReplicas})`);
  return {
    name: raw.name as string,
    deployment: raw.deployment as string,
    queues,
    gpusPerPod,
    spot: raw.spot as boolean,
    pricePerHour,
    coldStartSeconds,
    minReplicas,
    maxReplicas,
    speedFactor,
    activitiesPerPod,
  };
}

/**
 * Validate a parsed pools file. `source` names it in messages. Throws a UserError listing every
 * problem found.
 */
export function parsePoolsConfig(raw: unknown, source = 'pools file'): PoolsConfig {
  const p = new Problems();
  if (!isObject(raw))
    throw new UserError(`${source} must hold a JSON object with "pools" and "maxPricePerHour"`);
  p.unknownKeys(source, raw, TOP_KEYS);
  const maxPricePerHour = p.number('maxPricePerHour', raw.maxPricePerHour, { positive: true });
  const defaultDeadlineSeconds = p.number(
    'defaultDeadlineSeconds',
    raw.defaultDeadlineSeconds ?? POOLS_DEFAULTS.defaultDeadlineSeconds,
    {
      positive: true,
    },
  );
  const deadlineMarginSeconds = p.number(
    'deadlineMarginSeconds',
    raw.deadlineMarginSeconds ?? POOLS_DEFAULTS.deadlineMarginSeconds,
    { min: 0 },
  );
  const drainColdStarts = p.number('drainColdStarts', raw.drainColdStarts ?? POOLS_DEFAULTS.drainColdStarts, {
    positive: true,
  });
  const onDemandFor = raw.onDemandFor ?? POOLS_DEFAULTS.onDemandFor;
  if (onDemandFor !== 'spot-shortage' && onDemandFor !== 'deadlines') {
    p.add(`onDemandFor must be "spot-shortage" or "deadlines", got ${JSON.stringify(onDemandFor)}`);
  }

  const dampingRaw = raw.damping ?? {};
  let damping: DampingConfig = {
    spotPendingTimeoutSeconds: POOLS_DEFAULTS.spotPendingTimeoutSeconds,
    spotRetrySeconds: POOLS_DEFAULTS.spotRetrySeconds,
  };
  if (!isObject(dampingRaw)) p.add('damping must be an object');
  else {
    p.unknownKeys('damping', dampingRaw, DAMPING_KEYS);
    damping = {
      ...(dampingRaw.scaleDownDelaySeconds !== undefined
        ? {
            scaleDownDelaySeconds: p.number(
              'damping.scaleDownDelaySeconds',
              dampingRaw.scaleDownDelaySeconds,
              { min: 0 },
            ),
          }
        : {}),
      spotPendingTimeoutSeconds: p.number(
        'damping.spotPendingTimeoutSeconds',
        dampingRaw.spotPendingTimeoutSeconds ?? POOLS_DEFAULTS.spotPendingTimeoutSeconds,
        { positive: true },
      ),
      spotRetrySeconds: p.number(
        'damping.spotRetrySeconds',
        dampingRaw.spotRetrySeconds ?? POOLS_DEFAULTS.spotRetrySeconds,
        { min: 0 },
      ),
    };
  }

  const secondsPerActivity: Partial<Record<QueueRole, number>> = {};
  if (!isObject(raw.secondsPerActivity))
    p.add(`secondsPerActivity must be an object mapping queues (${QUEUE_ROLES.join(', ')}) to seconds`);
  else {
    for (const [q, v] of Object.entries(raw.secondsPerActivity)) {
      if (!(QUEUE_ROLES as string[]).includes(q))
        p.add(`secondsPerActivity: unknown queue "${q}" (allowed: ${QUEUE_ROLES.join(', ')})`);
      else secondsPerActivity[q as QueueRole] = p.number(`secondsPerActivity.${q}`, v, { positive: true });
    }
  }

  const pools: PoolConfig[] = [];
  if (!Array.isArray(raw.pools) || raw.pools.length === 0) p.add('pools must be a non-empty list');
  else
    raw.pools.forEach((r, i) => {
      const pool = parsePool(r, i, p);
      if (pool) pools.push(pool);
    });
  const seen = new Map<string, string>();
  for (const pool of pools) {
    if (seen.has(`n:${pool.name}`)) p.add(`pool name "${pool.name}" is used twice`);
    seen.set(`n:${pool.name}`, pool.name);
    const other = seen.get(`d:${pool.deployment}`);
    if (other !== undefined)
      p.add(
        `pools "${other}" and "${pool.name}" name the same deployment "${pool.deployment}"; one Deployment is one pool`,
      );
    seen.set(`d:${pool.deployment}`, pool.name);
    for (const q of pool.queues) {
      if (secondsPerActivity[q] === undefined && isObject(raw.secondsPerActivity)) {
        p.add(
          `pool "${pool.name}" serves "${q}" but secondsPerActivity.${q} is not set (measure it with "vldm scaler measure")`,
        );
      }
    }
  }
  if (pools.length && p.list.length === 0) {
    const floor = pools.reduce((a, x) => a + x.minReplicas * x.pricePerHour, 0);
    if (floor > maxPricePerHour) {
      p.add(
        `the pools' minReplicas alone cost ${floor.toFixed(2)} per hour, above maxPricePerHour ${maxPricePerHour}; lower minReplicas or raise the cap`,
      );
    }
  }
  if (p.list.length) throw new UserError(`${source}: ${p.list.join('; ')}`);
  return {
    maxPricePerHour,
    secondsPerActivity,
    defaultDeadlineSeconds,
    deadlineMarginSeconds,
    drainColdStarts,
    onDemandFor: onDemandFor as PoolsConfig['onDemandFor'],
    damping,
    pools,
  };
}

/** Read and validate a pools file. */
export function loadPoolsConfig(file: string): PoolsConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(
      `cannot read pools file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`pools file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parsePoolsConfig(json, `pools file ${file}`);
}

/** The scale-down stabilisation window of a pool (seconds): the configured one, else its cold start. */
export function scaleDownDelay(cfg: PoolsConfig, pool: PoolConfig): number {
  return cfg.damping.scaleDownDelaySeconds ?? pool.coldStartSeconds;
}
