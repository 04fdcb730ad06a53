/**
 * Temporal Worker Versioning of a worker process (docs/deploy.md "Rolling out a new version"): the
 * Worker Deployment it belongs to and its build id, from VLDM_WORKER_DEPLOYMENT and VLDM_BUILD_ID
 * (the chart sets both). With them, every Worker of the process polls as that deployment version and
 * every workflow it starts is PINNED: a job and its segment and chapter children run to the end on the
 * version they started on, so an upgrade never puts new workflow code under an old history. Without
 * them a worker is unversioned, as before.
 */
import { UserError } from '../common/errors';
import { quote } from '../common/quote';

export const WORKER_DEPLOYMENT_ENV = 'VLDM_WORKER_DEPLOYMENT';
export const BUILD_ID_ENV = 'VLDM_BUILD_ID';

/** A deployment version, as Temporal names it: `<deploymentName>.<buildId>`. */
export interface WorkerDeployment {
  deploymentName: string;
  buildId: string;
}

/**
 * Temporal's limits: a build id and a deployment name are at most 255 characters; a deployment name
 * may not contain "." (the separator of `<deployment>.<buildId>`), and neither may be blank. Kept to
 * characters that survive labels, logs and the CLI unquoted.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;
const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}$/;

/** Checks a deployment name and build id; a UserError names the bad one. */
export function checkWorkerDeployment(
  d: WorkerDeployment,
  where = 'the worker deployment',
): WorkerDeployment {
  if (!NAME.test(d.deploymentName))
    throw new UserError(
      `${where}: deployment name ${quote(d.deploymentName)} must be 1-255 letters, digits, "-" or "_" (no ".")`,
    );
  if (!BUILD_ID.test(d.buildId))
    throw new UserError(
      `${where}: build id ${quote(d.buildId)} must be 1-255 letters, digits, ".", "-", "_" or "+", starting with a letter or digit`,
    );
  return d;
}

/** The process's deployment version from the environment; undefined when neither variable is set. */
export function workerDeploymentFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerDeployment | undefined {
  const deploymentName = env[WORKER_DEPLOYMENT_ENV]?.trim() ?? '';
  const buildId = env[BUILD_ID_ENV]?.trim() ?? '';
  if (!deploymentName && !buildId) return undefined;
  if (!deploymentName || !buildId)
    throw new UserError(
      `${WORKER_DEPLOYMENT_ENV} and ${BUILD_ID_ENV} go together (Worker Versioning): set both or neither, got only ${deploymentName ? WORKER_DEPLOYMENT_ENV : BUILD_ID_ENV}`,
    );
  return checkWorkerDeployment({ deploymentName, buildId }, `${WORKER_DEPLOYMENT_ENV}/${BUILD_ID_ENV}`);
}
