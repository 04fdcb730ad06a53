/**
 * "Version B" of vldm's workflow code for the Worker Versioning test (test/integration/
 * worker-versioning.test.ts): the same workflows, except that the job and segment workflows first
 * start a one-second timer. The outputs are unchanged, but the first command differs, so replaying any
 * history of the project's workflows on this code is a nondeterminism error: it is incompatible with
 * the histories of jobs that version A started, as a real upgrade that skipped `patched()` would be.
 */
import { sleep } from '@temporalio/workflow';
import type { JobRunOptions } from '../../../src/common/boundary';
import type { JobSpec } from '../../../src/planning/spec';
import { videoJobWorkflow as jobOfA } from '../../../workflows/job';
import { segmentRenderWorkflow as segmentOfA } from '../../../workflows/segment';

export { jobProgressQuery } from '../../../workflows/job';
export { segmentProgressQuery } from '../../../workflows/segment';
export { chapterWorkflow } from '../../../workflows/chapter';

export async function videoJobWorkflow(
  spec: JobSpec,
  options: JobRunOptions = {},
): ReturnType<typeof jobOfA> {
  await sleep('1 second');
  return jobOfA(spec, options);
}

export async function segmentRenderWorkflow(
  input: Parameters<typeof segmentOfA>[0],
): ReturnType<typeof segmentOfA> {
  await sleep('1 second');
  return segmentOfA(input);
}
