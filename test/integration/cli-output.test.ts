/**
 * Every command's stdout is complete through a pipe, whatever its size: the CLI used to exit before
 * the pipe took its writes, which cut `vldm plan --json | …` at 64 KiB. Runs the built CLI as a
 * separate process with stdout on a pipe, the way a shell pipeline does.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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
