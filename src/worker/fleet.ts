/**
 * The check that only the right workers serve a job: an activity interceptor that compares the fleet
 * a task's job was submitted with (JobSpec.fleet, in every activity's input) with this worker's own
 * store and pack, and refuses a mismatch at once, before the activity reads or writes anything.
 * The refusal is a non-retryable ApplicationFailure of type VldmWrongFleet, so the job fails within
 * one task instead of running to its end and failing late with "artifact … not found".
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { FAILURE_TYPES } from '../common/errors';
import { fleetMismatch, wrongFleetMessage, type JobFleet } from '../common/fleet';
import type { JobSpec } from '../planning/spec';

/** What this worker serves: its store's identity, and the digest of its pack at a location once loaded. */
export interface OwnFleet {
  store: string;
  packDigest(location: string): string | undefined;
}

/**
 * The job spec of an activity's input: `prepareJob` takes the spec itself, every other activity a
 * StageContext (`{ spec, pack, labels, … }`). Undefined for anything else.
 */
export function specOfArgs(args: readonly unknown[]): Pick<JobSpec, 'jobId' | 'pack' | 'fleet'> | undefined {
  const first = args[0];
  if (typeof first !== 'object' || first === null) return undefined;
  const nested = (first as { spec?: unknown }).spec;
  const spec = typeof nested === 'object' && nested !== null ? nested : first;
  const { jobId, pack, fleet } = spec as { jobId?: unknown; pack?: unknown; fleet?: unknown };
  if (typeof jobId !== 'string' || typeof pack !== 'string') return undefined;
  return { jobId, pack, ...(isFleet(fleet) ? { fleet } : {}) };
}

function isFleet(x: unknown): x is JobFleet {
  if (typeof x !== 'object' || x === null) return false;
  const { store, pack } = x as { store?: unknown; pack?: unknown };
  return typeof pack === 'string' && (store === undefined || typeof store === 'string');
}

/** Throws the VldmWrongFleet refusal when a job's fleet is not this worker's; jobs without one pass. */
export function checkFleet(args: readonly unknown[], own: OwnFleet): void {
  const spec = specOfArgs(args);
  if (!spec?.fleet) return; // a job from before fleets, or an input without a spec: served as before
  const mine = { store: own.store, pack: own.packDigest(spec.pack) };
  if (fleetMismatch(spec.fleet, mine) === undefined) return;
  throw ApplicationFailure.create({
    type: FAILURE_TYPES.wrongFleet,
    nonRetryable: true,
    message: wrongFleetMessage(spec.jobId, spec.fleet, mine),
  });
}

/**
 * The interceptor, innermost on every activity worker (the metrics and tracing interceptors see the
 * refusal as a failed attempt); it runs before the activity, so a refused task writes nothing.
 */
export function fleetInterceptor(own: OwnFleet): ActivityInterceptorsFactory {
  return () => ({
    inbound: {
      async execute(input, next) {
        checkFleet(input.args, own);
        return next(input);
      },
    },
  });
}
