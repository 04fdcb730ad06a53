/**
 * The chart's Worker Versioning values (docs/deploy.md "Rolling out a new version"), by `helm template`:
 * on, every worker pod gets the deployment name and build id that src/config/versioning.ts reads (and
 * accepts); two releases of two builds share the deployment name and no object name; off, nothing
 * changes; the schema refuses names Temporal would refuse.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BUILD_ID_ENV, WORKER_DEPLOYMENT_ENV, workerDeploymentFromEnv } from '../../src/config/versioning';
import { findTool } from '../../src/dev/tools';
import { repoRoot } from '../../src/host/paths';

const CHART = path.join(repoRoot(), 'charts', 'vldm');

interface Rendered {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
}

function template(release: string, sets: string[]): { status: number; objects: Rendered[]; stderr: string } {
  const helm = findTool('helm');
  if (!helm) throw new Error('helm is not installed: run infra/setup.sh');
  const r = spawnSync(
    helm,
    ['template', release, CHART, '--namespace', 'video', ...sets.flatMap((s) => ['--set', s])],
    { encoding: 'utf8' },
  );
  const objects = r.status === 0 ? parseAllDocuments(r.stdout).map((d) => d.toJS() as Rendered) : [];
  return { status: r.status ?? -1, objects: objects.filter(Boolean), stderr: r.stderr };
}

const envOf = (objects: Rendered[]) =>
  objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-env'))?.data ?? {};

describe('chart: Worker Versioning values', () => {
  it('on: the workers get the deployment and build id, which the worker accepts', () => {
    const { status, objects, stderr } = template('vldm-b7', [
      'versioning.enabled=true',
      'versioning.buildId=b7',
    ]);
    expect(status, stderr).toBe(0);
    const env = envOf(objects);
    expect(env[WORKER_DEPLOYMENT_ENV]).toBe('vldm');
    expect(env[BUILD_ID_ENV]).toBe('b7');
    expect(workerDeploymentFromEnv(env)).toEqual({ deploymentName: 'vldm', buildId: 'b7' });
  });

  it('the build id defaults to the CPU worker image tag, else the appVersion', () => {
    const tagged = envOf(
      template('r', ['versioning.enabled=true', 'images.workerCpu.tag=2.1.0-rc1']).objects,
    );
    expect(tagged[BUILD_ID_ENV]).toBe('2.1.0-rc1');
    const plain = envOf(template('r', ['versioning.enabled=true']).objects);
    expect(plain[BUILD_ID_ENV]).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('two builds as two releases: one deployment, no object name in common', () => {
    const a = template('vldm-b1', ['versioning.enabled=true', 'versioning.buildId=b1']).objects;
    const b = template('vldm-b2', ['versioning.enabled=true', 'versioning.buildId=b2']).objects;
    expect(envOf(a)[WORKER_DEPLOYMENT_ENV]).toBe(envOf(b)[WORKER_DEPLOYMENT_ENV]);
    const names = (objs: Rendered[]) => new Set(objs.map((o) => `${o.kind}/${o.metadata.name}`));
    const shared = [...names(a)].filter((n) => names(b).has(n));
    expect(shared).toEqual([]);
  });

  it('off: no versioning variables', () => {
    const env = envOf(template('r', []).objects);
    expect(env[WORKER_DEPLOYMENT_ENV]).toBeUndefined();
    expect(env[BUILD_ID_ENV]).toBeUndefined();
  });

  it.each([
    ['versioning.deploymentName=vl.dm', /deploymentName/],
    ['versioning.buildId=b 7', /buildId/],
  ])('refuses %s', (set, what) => {
    const r = template('r', ['versioning.enabled=true', set]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/schema/);
    expect(r.stderr).toMatch(what);
  });
});
