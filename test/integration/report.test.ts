/**
 * `vldm report` on a real job (src/observability/report.ts): a small contract-pack job runs on real
 * Temporal, MinIO and NATS; the report read back from its histories has one row per activity with
 * its worker, times and outcome, per-stage counts equal to the plan, a cost from a pools file; the
 * HTML page loads in a real headless Chromium (Debian's `chromium`) with its script run and no
 * console error, one Gantt bar per activity, the critical path's bars marked as a chain that ends at
 * the job's last activity, and the tables' content. The screenshot it takes of
 * the page is the one in docs/ when VLDM_REPORT_SCREENSHOT names where to write it.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJob } from '../../src/cli/edge';
import { startJob, waitForJob } from '../../src/client/jobs';
import type { RunReport } from '../../src/observability/report';
import { runCli } from '../support/cli';
import { CONTRACT_PACK, startDeployment, type TestDeployment } from '../support/pipeline';
import { findTool } from '../../src/dev/tools';

const run = promisify(execFile);
let d: TestDeployment;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-report-'));

beforeAll(async () => {
  d = await startDeployment('vldm-report');
}, 120_000);
afterAll(async () => {
  await d?.close();
});

const chromium = findTool('chromium');

function temporalFlags(): string[] {
  const t = d.servers.temporal!;
  return ['--temporal-address', t.address, '--namespace', t.namespace];
}

describe('vldm report', () => {
  it('reports a real job from its histories, as text, JSON and an HTML page that Chromium shows', async () => {
    const flags = {
      seconds: '2',
      scene: 'night',
      traffic: 'clear',
      seed: '9',
      name: `report-${process.pid}`,
    };
    const { spec, plan } = await compileJob(flags, CONTRACT_PACK);
    await startJob(d.client, spec);
    await waitForJob(d.client, spec.jobId);

    const pools = path.join(tmp, 'pools.json');
    writeFileSync(
      pools,
      JSON.stringify({
        maxPricePerHour: 10,
        secondsPerActivity: { upscale: 30, media: 5 },
        pools: [
          {
            name: 'up',
            deployment: 'w-up',
            queues: ['upscale'],
            gpusPerPod: 1,
            spot: true,
            pricePerHour: 3.6,
            coldStartSeconds: 100,
            maxReplicas: 5,
            activitiesPerPod: 2,
          },
          {
            name: 'media',
            deployment: 'w-media',
            queues: ['media'],
            gpusPerPod: 0,
            spot: false,
            pricePerHour: 0.36,
            coldStartSeconds: 10,
            maxReplicas: 2,
          },
        ],
      }),
    );
    const html = path.join(tmp, 'report.html');
    const res = await runCli([
      'report',
      spec.jobId,
      ...temporalFlags(),
      '--json',
      '--out',
      html,
      '--pools',
      pools,
    ]);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as RunReport & { html: string };
    expect(r).toMatchObject({ jobId: spec.jobId, status: 'COMPLETED', html });
    expect(r.workflows).toBe(1 + plan.segments.length);
    // One row per planned activity (and each GPU stage's speed probe), every one run by a worker.
    const planned = r.activities.filter((a) => a.stage !== 'measure');
    expect(planned.length).toBe(plan.counts.total);
    for (const s of r.stages.filter((x) => x.stage !== 'measure'))
      expect(s.activities, s.stage).toBe(plan.counts[s.stage as keyof typeof plan.counts]);
    for (const a of r.activities) {
      expect(a.outcome).toBe('completed');
      expect(a.worker).toMatch(/^\d+@/);
      expect(a.started! >= a.scheduled && a.ended! >= a.started!).toBe(true);
      expect(a.runSeconds).toBeCloseTo(a.ended! - a.started!, 2);
    }
    expect(r.totals.runSeconds).toBeGreaterThan(0);
    expect(r.totals.retries).toBe(0);
    // Cost: upscale at 3.6/h over 2 slots, media at 0.36/h; no pool serves the other queues.
    const upscaleRun = r.activities
      .filter((a) => a.queue === 'vldm-upscale')
      .reduce((x, a) => x + a.runSeconds!, 0);
    expect(r.cost!.byQueue.upscale.cost).toBeCloseTo((upscaleRun / 3600) * 1.8, 3);
    expect(r.cost!.byQueue.upscale.pool).toBe('up');
    expect(Object.keys(r.cost!.byQueue).sort()).toEqual(['media', 'upscale']);

    // Text: the overview and a line per stage.
    const text = await runCli(['report', spec.jobId, ...temporalFlags()]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^job ${spec.jobId}: COMPLETED, `));
    for (const stage of ['keyframe', 'interpolation', 'decode', 'upscale', 'encode', 'stitch'])
      expect(text.stdout).toMatch(new RegExp(`^${stage} +\\d+ `, 'm'));

    // The page is self-contained: nothing it loads comes from elsewhere.
    const page = readFileSync(html, 'utf8');
    expect(page).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);

    if (!chromium) throw new Error('Debian chromium is missing: infra/setup.sh --test installs it');
    const url = `file://${html}`;
    const dom = await run(
      chromium,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--enable-logging=stderr',
        '--v=0',
        '--dump-dom',
        url,
      ],
      { maxBuffer: 64 << 20, timeout: 120_000 },
    );
    // Its script ran (the attributes it sets), with one bar per activity.
    const started = r.activities.length;
    expect(dom.stdout).toContain(`data-bars="${started}"`);
    expect(dom.stdout).toContain(`data-started="${started}"`);
    expect((dom.stdout.match(/<rect class="bar"/g) ?? []).length).toBe(started);
    expect(dom.stdout).toContain(`<span id="job-id">${spec.jobId}</span>`);
    expect(dom.stdout).toMatch(/<table id="stages">.*<td>upscale<\/td>/s);
    expect(dom.stdout).toMatch(/<table id="cost">/);
    // The critical path: its bars are marked, form a chain (each starts once the previous one ended)
    // and end at the job's last activity, the stitch; the page's own script agrees.
    const critical = r.criticalPath!;
    const bars = [...dom.stdout.matchAll(/<rect class="bar"[^>]*>/g)].map((m) => m[0]);
    const attr = (tag: string, name: string) => tag.match(new RegExp(` ${name}="([^"]*)"`))?.[1];
    const marked = bars
      .filter((b) => attr(b, 'data-critical') !== undefined)
      .map((b) => ({
        step: Number(attr(b, 'data-critical')),
        stage: attr(b, 'data-stage'),
        start: Number(attr(b, 'data-start')),
        end: Number(attr(b, 'data-end')),
      }))
      .sort((a, b) => a.step - b.step);
    expect(marked.length).toBe(critical.steps.length);
    expect(marked.length).toBeGreaterThan(5);
    expect(marked.map((b) => b.step)).toEqual(critical.steps.map((_, i) => i));
    for (let i = 1; i < marked.length; i++) expect(marked[i].start).toBeGreaterThanOrEqual(marked[i - 1].end);
    const lastEnd = Math.max(...r.activities.map((a) => a.ended!));
    expect(marked[marked.length - 1]).toMatchObject({ stage: 'stitch', end: lastEnd });
    // It runs through the dependency chain: the keyframes, then a segment's windows, tiles and clip.
    expect(critical.steps.filter((s) => s.via === 'artifact').length).toBeGreaterThan(3);
    const stages = critical.steps.map((s) => s.stage);
    expect(stages.slice(-5)).toEqual(['interpolation', 'decode', 'upscale', 'encode', 'stitch']);
    // Before the windows: the keyframe chain, or the speed probe the segment's child waited for.
    let first = stages.length - 5;
    while (stages[first - 1] === 'interpolation') first--;
    expect(['keyframe', 'measure']).toContain(stages[first - 1]);
    expect(critical.totalSeconds).toBeCloseTo(critical.runSeconds + critical.idleSeconds, 2);
    expect(dom.stdout).toContain(`data-critical-bars="${critical.steps.length}"`);
    expect(dom.stdout).toContain('data-critical-chain="yes"');
    expect(dom.stdout).toMatch(/<table id="critical-path">/);
    expect(text.stdout).toMatch(new RegExp(`^critical path: ${critical.steps.length} activities, `, 'm'));
    // No console error or uncaught exception (Chromium logs the page's console on stderr).
    expect(dom.stderr).not.toMatch(/CONSOLE.*(Uncaught|Error)|Uncaught /);

    const shot = path.join(tmp, 'report.png');
    await run(
      chromium,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        '--window-size=1100,1000',
        `--screenshot=${shot}`,
        url,
      ],
      { timeout: 120_000 },
    );
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    if (process.env.VLDM_REPORT_SCREENSHOT) copyFileSync(shot, process.env.VLDM_REPORT_SCREENSHOT);
  }, 600_000);

  it('refuses bad input with one line and exit 2', async () => {
    const missing = await runCli(['report', 'no-such-job-0000', ...temporalFlags()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^vldm: no job "no-such-job-0000" on this Temporal server/);
    const notHtml = await runCli([
      'report',
      'some-job',
      ...temporalFlags(),
      '--out',
      path.join(tmp, 'r.txt'),
    ]);
    expect(notHtml.code).toBe(2);
    expect(notHtml.stderr.trim()).toMatch(/^vldm: --out must name an \.html file, got ".*r\.txt"$/);
  }, 120_000);
});
