/** The workflows a vldm worker registers (bundled by the Temporal worker; deterministic code only). */
export { videoJobWorkflow, jobProgressQuery, type JobResult } from './job';
export {
  segmentRenderWorkflow,
  segmentProgressQuery,
  type SegmentRenderInput,
  type SegmentRenderResult,
} from './segment';
