/**
 * Workflow compatibility: recorded histories of representative jobs (test/fixtures/histories, see
 * test/support/record-histories.ts) are replayed against the current workflow code, bundled exactly as
 * workers bundle it. A change to workflows/ that would break jobs already running (a reordered
 * activity, a removed child workflow, a changed timer) fails here with a nondeterminism error; such a
 * change must be made behind `patched()` and the fixtures re-recorded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { workflowBundle } from '../../src/worker/workers';
import { WORKFLOW_TYPES } from '../../src/common/names';
import { historyFromJson, type History } from '../support/histories';
import { HISTORY_FIXTURES, RECORDED } from '../support/record-histories';

function load(file: string): History {
  return historyFromJson(JSON.parse(readFileSync(path.join(HISTORY_FIXTURES, file), 'utf8')));
}

function workflowTypeOf(h: History): string | null | undefined {
  return h.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
}

beforeAll(() => {
  try {
    // Replay workers log every state change at INFO; only problems matter here.
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // A runtime is already installed in this process: keep it.
  }
});

describe('recorded histories replay against the current workflow code', () => {
  it('every fixture replays without a nondeterminism error', async () => {
    const files = Object.keys(RECORDED) as Array<keyof typeof RECORDED>;
    const histories = files.map((file) => ({ workflowId: file, history: load(file) }));
    for (const { workflowId, history } of histories)
      expect(workflowTypeOf(history), workflowId).toBe(RECORDED[workflowId as keyof typeof RECORDED]);
    const results: Array<{ workflowId: string; error?: Error }> = [];
    for await (const r of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle(), replayName: 'vldm-fixtures' },
      histories,
    )) {
      results.push({ workflowId: r.workflowId, ...(r.error ? { error: r.error } : {}) });
    }
    expect(results.map((r) => r.workflowId).sort()).toEqual([...files].sort());
    for (const r of results) expect(r.error?.message, r.workflowId).toBeUndefined();
  });

  it('the check can fail: a history replayed against other workflow code is a nondeterminism error', async () => {
    // The segment child's history, claimed to be a job workflow: the job schedules prepareJob where the
    // history holds the segment's interpolate activity.
    const history = load('segment-render.json');
    const started = history.events![0].workflowExecutionStartedEventAttributes!;
    started.workflowType = { name: WORKFLOW_TYPES.job };
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(), replayName: 'vldm-mismatch' },
        history,
        'mismatch',
      ),
    ).rejects.toThrow(DeterminismViolationError);
  });
});
