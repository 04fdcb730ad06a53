/**
 * Prepare stage: loads and checks the model pack the job names (checksums, contract metadata) and
 * validates the spec against it, then records both under the job's prefix. Its output, the pack's
 * small summary, is what the workflow plans with.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { UserError } from '../src/common/errors';
import { compileSpec, type JobSpec } from '../src/planning/spec';
import { planJob } from '../src/planning/plan';
import { runStage, withHeartbeats } from '../src/pipeline/stage-runner';
import { stageKey } from '../src/pipeline/keys';
import type { ActivityDeps } from './deps';
import type { PrepareOutput } from './types';

export function createPrepareActivities(deps: ActivityDeps) {
  return {
    async prepareJob(spec: JobSpec): Promise<PrepareOutput> {
      let summary;
      try {
        summary = (await withHeartbeats(() => deps.models.get(spec.pack), { loading: spec.pack })).summary;
        // Validate again on the worker's side: the spec must fit the pack the workers have.
        compileSpec({ ...spec }, { labels: summary.labels, packFps: summary.video.fps, pack: spec.pack });
        planJob(spec, summary);
      } catch (err) {
        if (err instanceof UserError) {
          throw ApplicationFailure.create({ type: err.type, nonRetryable: true, message: err.message });
        }
        throw err;
      }
      const pack = summary;
      const key = stageKey(spec.jobId, 'job', 'spec', { spec, pack }, 'json');
      const out = await runStage(deps, key, { jobId: spec.jobId, stage: 'plan' }, async () =>
        Buffer.from(JSON.stringify({ spec, pack }, null, 2)),
      );
      return { ...out, pack };
    },
  };
}
