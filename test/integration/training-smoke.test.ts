/**
 * CI smoke test of the training code (the reference pack is not retrained in CI): every stage trains a
 * few steps on tiny data, a full pack is exported, its ONNX files reproduce the PyTorch outputs in
 * onnxruntime-node, and `vldm models verify` accepts it. Keeps training/ honest against the contract.
 */
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/host/paths';
import { verifyPack } from '../../src/models/verify';

/** Debian's python3 has python3-torch (infra/setup.sh --test installs it). */
const PYTHON = '/usr/bin/python3';

describe('training smoke test', () => {
  it('trains every stage briefly, exports a pack that follows the contract', () => {
    expect(existsSync(PYTHON), `${PYTHON} is missing: run infra/setup.sh --test`).toBe(true);
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'vldm-smoke-')), 'pack');
    const root = repoRoot();
    const env = { ...process.env, PYTHONPATH: path.join(root, 'training') };
    const smoke = spawnSync(PYTHON, ['-m', 'vldm_train.smoke', '--out', out], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 600_000,
    });
    expect(smoke.status, `${smoke.stdout}\n${smoke.stderr}`).toBe(0);
    const check = spawnSync(
      process.execPath,
      [path.join(root, 'training/scripts/ort_check.cjs'), out, path.join(out, 'cases')],
      { cwd: root, encoding: 'utf8', timeout: 300_000 },
    );
    expect(check.status, `${check.stdout}\n${check.stderr}`).toBe(0);
    return verifyPack(out).then((report) => {
      expect(report.ok, JSON.stringify(report, null, 1).slice(0, 4000)).toBe(true);
    });
  }, 900_000);
});
