/** The workflows a vldm worker registers (bundled by the Temporal worker; deterministic code only). */
export { videoJobWorkflow, jobProgressQuery } from './job';
export { segmentRenderWorkflow, segmentProgressQuery } from './segment';
export { chapterWorkflow } from './chapter';
