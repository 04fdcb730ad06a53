/**
 * The run report as one self-contained HTML page (`vldm report <jobId> --out report.html`): no
 * script, style sheet, font or image is fetched from anywhere, so it can be mailed or archived. A
 * Gantt chart (SVG) has one bar per activity, a row per worker lane, coloured by stage, with the
 * critical path's bars outlined and joined; tables give the critical path, time per stage, queue
 * waits, retries, workers and cost; the report's JSON is embedded too.
 */
import type { RunReport } from './report';

const STAGE_COLOURS: Record<string, string> = {
  prepare: '#8e8e8e',
  keyframe: '#d62728',
  interpolation: '#ff7f0e',
  decode: '#2ca02c',
  upscale: '#1f77b4',
  encode: '#9467bd',
  stitch: '#8c564b',
  measure: '#bcbd22',
};

function esc(v: unknown): string {
  return String(v).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** Outline of the critical path's bars and the links between them (one colour, in the legend too). */
const CRITICAL_COLOUR = '#000';

const sec = (x: number | undefined) => (x === undefined ? '' : `${x.toFixed(1)} s`);

function table(head: string[], rows: Array<Array<string | number>>, id: string): string {
  return `<table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function gantt(r: RunReport): string {
  const lanes: Array<{ worker: string; lane: number }> = [];
  for (const w of r.workers)
    for (let l = 0; l < Math.max(1, w.lanes); l++) lanes.push({ worker: w.worker, lane: l });
  const rowH = 16;
  const left = 230;
  const width = 1000;
  const span = Math.max(1, r.wallSeconds, ...r.activities.map((a) => a.ended ?? a.started ?? 0));
  const x = (t: number) => left + (t / span) * (width - left - 10);
  const laneIndex = new Map(lanes.map((l, i) => [`${l.worker}\u0000${l.lane}`, i]));
  const height = lanes.length * rowH + 30;
  const laneOf = (a: { worker?: string; lane?: number }) =>
    laneIndex.get(`${a.worker}\u0000${a.lane ?? 0}`) ?? 0;
  const stepOf = new Map(
    (r.criticalPath?.steps ?? []).map((st, i) => [`${st.workflowId}\u0000${st.activityId}`, i]),
  );
  const pathRows: Array<{ x0: number; x1: number; y: number }> = [];
  const bars = r.activities
    .filter((a) => a.worker !== undefined && a.started !== undefined)
    .map((a) => {
      const i = laneOf(a);
      const x0 = x(a.started!);
      const w = Math.max(1, x(a.ended ?? a.started!) - x0);
      const colour = STAGE_COLOURS[a.stage] ?? '#444';
      const step = stepOf.get(`${a.workflowId}\u0000${a.activityId}`);
      if (step !== undefined) pathRows[step] = { x0, x1: x0 + w, y: i * rowH + rowH / 2 + 2 };
      const title = `${a.type} (${a.stage}) ${a.workflowId} #${a.activityId}\n${a.worker}\nstarted ${sec(a.started)}, ran ${sec(a.runSeconds)}, waited ${sec(a.waitSeconds)}, attempt ${a.attempt}, ${a.outcome}${step !== undefined ? `\ncritical path step ${step + 1}` : ''}`;
      const outline =
        step !== undefined
          ? ` stroke="${CRITICAL_COLOUR}" stroke-width="2" data-critical="${step}"`
          : a.outcome === 'failed' || a.outcome === 'timed-out'
            ? ' stroke="#000" stroke-dasharray="2"'
            : '';
      return `<rect class="bar" data-stage="${esc(a.stage)}" data-outcome="${esc(a.outcome)}" data-start="${a.started}" data-end="${a.ended ?? a.started}" x="${x0.toFixed(1)}" y="${i * rowH + 4}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${colour}"${outline}><title>${esc(title)}</title></rect>`;
    });
  // The path's steps joined end to start, across lanes: where the wait between two steps is.
  const links = pathRows
    .slice(1)
    .map((b, k) => ({ a: pathRows[k], b }))
    .filter(({ a, b }) => a && b)
    .map(
      ({ a, b }) =>
        `<line class="path-link" x1="${a.x1.toFixed(1)}" y1="${a.y}" x2="${b.x0.toFixed(1)}" y2="${b.y}" stroke="${CRITICAL_COLOUR}" stroke-width="1"/>`,
    );
  const labels = lanes.map(
    (l, i) =>
      `<text x="4" y="${i * rowH + 15}" class="lane">${esc(l.worker)}${l.lane ? ` #${l.lane + 1}` : ''}</text>`,
  );
  const ticks: string[] = [];
  // At most a dozen ticks, at round numbers of seconds.
  const step = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600].find((t) => span / t <= 12) ?? 7200;
  for (let t = 0; t <= span; t += step)
    ticks.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="0" y2="${height - 22}" class="tick"/><text x="${x(t)}" y="${height - 8}" class="tick">${t.toFixed(0)} s</text>`,
    );
  return `<svg id="gantt" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${ticks.join('')}${labels.join('')}${bars.join('')}${links.join('')}</svg>`;
}

export function reportHtml(r: RunReport): string {
  const legend = Object.entries(STAGE_COLOURS)
    .filter(([s]) => r.stages.some((x) => x.stage === s))
    .map(([s, c]) => `<span class="key"><i style="background:${c}"></i>${esc(s)}</span>`)
    .join(' ')
    .concat(
      r.criticalPath
        ? ` <span class="key"><i style="background:#fff;border:2px solid ${CRITICAL_COLOUR}"></i>critical path</span>`
        : '',
    );
  const c = r.criticalPath;
  const critical = c
    ? `<p id="critical-summary">${c.steps.length} activities, ${esc(sec(c.totalSeconds))} from the job's start to the last activity's end: running ${esc(sec(c.runSeconds))}, idle ${esc(sec(c.idleSeconds))} (scheduling, queue waits, workflow tasks), ${r.closeTime ? `then ${esc(sec(c.tailSeconds))} to the job's close` : 'the job still runs'}.</p>
${table(
  ['step', 'stage', 'activity', 'workflow', 'worker', 'idle before', 'start', 'end', 'run', 'after'],
  c.steps.map((st, i) => [
    i + 1,
    st.stage,
    `${st.type} #${st.activityId}`,
    st.workflowId,
    st.worker ?? '',
    sec(st.gapSeconds),
    sec(st.started),
    sec(st.ended),
    sec(st.runSeconds),
    st.via === 'start'
      ? 'job start'
      : st.via === 'artifact'
        ? 'its input'
        : st.via === 'probe'
          ? 'speed probe'
          : 'time order',
  ]),
  'critical-path',
)}`
    : '<p id="critical-summary">no activity has run yet</p>';
  const stageRows = r.stages.map((s) => [
    s.stage,
    s.activities,
    s.reused,
    sec(s.runSeconds),
    sec(s.medianRunSeconds),
    sec(s.queueWaitSeconds),
    sec(s.medianQueueWaitSeconds),
    s.retries,
    sec(s.retrySeconds),
    ...(r.cost ? [s.cost?.toFixed(4) ?? ''] : []),
  ]);
  const summary = r.summary ? `<pre id="spec">${esc(JSON.stringify(r.summary, null, 2))}</pre>` : '';
  // The embedded JSON is closed against `</script>` in any string it holds.
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vldm report: ${esc(r.jobId)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}svg text{font:11px sans-serif}text.tick{fill:#666}line.tick{stroke:#eee}
.key{margin-right:12px}.key i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle;box-sizing:border-box}
</style></head><body>
<h1>Run report: <span id="job-id">${esc(r.jobId)}</span></h1>
<p id="overview">${esc(r.status)} · ${esc(sec(r.wallSeconds))} wall · ${r.workflows} workflow(s) · <span id="activity-count">${r.totals.activities}</span> activities · activity time ${esc(sec(r.totals.runSeconds))} · queue waits ${esc(sec(r.totals.queueWaitSeconds))} · retries ${r.totals.retries} (${esc(sec(r.totals.retrySeconds))})${r.cost ? ` · cost ${r.cost.total.toFixed(4)}` : ''} · started ${esc(r.startTime)}${r.closeTime ? `, closed ${esc(r.closeTime)}` : ''}</p>
<h2>Activities by worker and slot</h2><p>${legend}</p>
${gantt(r)}
<h2>Critical path</h2>
${critical}
<h2>Time per stage</h2>
${table(['stage', 'activities', 'reused', 'run total', 'run median', 'queue wait total', 'queue wait median', 'retries', 'retry time', ...(r.cost ? ['cost'] : [])], stageRows, 'stages')}
<h2>Workers</h2>
${table(
  ['worker', 'activities', 'busy', 'lanes', 'first start', 'last end', 'stages'],
  r.workers.map((w) => [
    w.worker,
    w.activities,
    sec(w.busySeconds),
    w.lanes,
    sec(w.first),
    sec(w.last),
    w.stages.join(', '),
  ]),
  'workers',
)}
<h2>Retries</h2>
${
  r.retries.length
    ? table(
        ['workflow', 'activity', 'id', 'attempt', 'worker', 'time lost'],
        r.retries.map((x) => [
          x.workflowId,
          x.type,
          x.activityId,
          x.attempt,
          x.worker ?? '',
          sec(x.retrySeconds),
        ]),
        'retries',
      )
    : '<p id="retries">none</p>'
}
${
  r.cost
    ? `<h2>Cost</h2>${table(
        ['queue', 'pool', 'price per hour', 'cost'],
        Object.entries(r.cost.byQueue).map(([q, c]) => [q, c.pool, c.pricePerHour, c.cost.toFixed(4)]),
        'cost',
      )}<p>Busy activity time priced at the cheapest pool serving each queue (per activity slot); idle pods and cold starts are not counted.</p>`
    : ''
}
${summary ? `<h2>Job</h2>${summary}` : ''}
<script id="report-data" type="application/json">${data}</script>
<script>
// Checks the page against its own data: one bar per activity that started (the Chromium test reads this).
var report = JSON.parse(document.getElementById('report-data').textContent);
var started = report.activities.filter(function (a) { return a.worker !== undefined && a.started !== undefined; }).length;
document.body.setAttribute('data-bars', String(document.querySelectorAll('#gantt .bar').length));
document.body.setAttribute('data-started', String(started));
// And that the critical path's bars form a chain: each starts once the one before it has ended.
var marked = Array.prototype.slice.call(document.querySelectorAll('#gantt .bar[data-critical]'));
marked.sort(function (a, b) { return Number(a.getAttribute('data-critical')) - Number(b.getAttribute('data-critical')); });
var chained = marked.every(function (b, i) {
  return i === 0 || Number(b.getAttribute('data-start')) >= Number(marked[i - 1].getAttribute('data-end'));
});
document.body.setAttribute('data-critical-bars', String(marked.length));
document.body.setAttribute('data-critical-chain', chained ? 'yes' : 'no');
</script>
</body></html>
`;
}
