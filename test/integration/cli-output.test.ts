/**
 * Every command's stdout is complete through a pipe, whatever its size: the CLI used to exit before
 * the pipe took its writes, which cut `vldm plan --json | …` at 64 KiB. Runs the built CLI as a
 * separate process with stdout on a pipe, the way a shell pipeline does. And the first words a new
 * user reads: `vldm --version` (also through `npx`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/host/paths';
import { CONTRACT_PACK } from '../support/pipeline';
import { VLDM_BIN, runCli } from '../support/cli';

const PIPE_BUFFER = 64 * 1024;

describe('stdout through a pipe', () => {
  it('is one whole JSON document for a plan far larger than a pipe buffer', async () => {
    const r = await runCli(['plan', '--seconds', '3600', '--json', '--pack', CONTRACT_PACK]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(10 * PIPE_BUFFER);
    const plan = JSON.parse(r.stdout) as { spec: { seconds: number } };
    expect(plan.spec.seconds).toBe(3600);
  });

  it('exits 0 without a stack trace when the reader closes the pipe early', () => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${VLDM_BIN}" plan --seconds 3600 --json --pack "${CONTRACT_PACK}" | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stdout.trim()).toBe('0');
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
  });
});

describe('vldm --version', () => {
  const { version } = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };

  it('prints the package version and exits 0', () => {
    for (const flag of ['--version', '-V']) {
      const r = spawnSync(process.execPath, [VLDM_BIN, flag], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('through npx, prints exactly the version on stdout', () => {
    const r = spawnSync('npx', ['--no-install', 'vldm', '--version'], {
      cwd: repoRoot(),
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', npm_config_update_notifier: 'false' },
    });
    expect(r.status, r.stderr).toBe(0);
    // npm itself may warn on stderr about the project's .npmrc key (see docs/setup.md); vldm's stdout is clean.
    expect(r.stdout).toBe(`${version}\n`);
  });
});
