/**
 * The Grafana dashboard the chart ships (charts/vldm/dashboards/vldm.json) against the metrics the
 * code registers (src/observability/metrics.ts, read from the prom-client registry, not a list kept
 * by hand): every PromQL expression of every panel and template variable names only metrics that
 * exist, with a histogram's _bucket/_sum/_count series, and every exported vldm metric is on a panel.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allMetrics } from '../../src/observability/metrics';
import { repoRoot } from '../../src/host/paths';

const dashboard = JSON.parse(
  readFileSync(path.join(repoRoot(), 'charts', 'vldm', 'dashboards', 'vldm.json'), 'utf8'),
) as {
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; query?: unknown; definition?: string }> };
};

/** PromQL functions, aggregations and keywords: names in an expression that are not metrics. */
const PROMQL_WORDS = new Set([
  ...['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'group'],
  ...[
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'offset',
    'bool',
  ],
  ...['rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'abs', 'clamp_min'],
  ...['clamp_max', 'label_values', 'label_replace', 'vector', 'scalar', 'time', 'absent', 'changes'],
  ...['avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'round', 'ceil', 'floor'],
]);

/** The metric names an expression reads. */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1') // grouping labels
    .replace(/label_values\(([^,()]+),[^)]*\)/g, '$1'); // Grafana's label_values(metric, label)
  const names = [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]);
  return names.filter((n) => !PROMQL_WORDS.has(n) && !/^\d/.test(n));
}

async function exportedSeries(): Promise<Map<string, string>> {
  const series = new Map<string, string>();
  for (const m of await allMetrics().getMetricsAsJSON()) {
    series.set(m.name, m.name);
    if (String(m.type) === 'histogram' || String(m.type) === 'summary')
      for (const suffix of ['_bucket', '_sum', '_count']) series.set(`${m.name}${suffix}`, m.name);
  }
  return series;
}

const expressions = (): Array<{ where: string; expr: string }> => [
  ...dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
  ),
  ...dashboard.templating.list
    .filter((v) => v.definition)
    .map((v) => ({ where: `variable ${v.name}`, expr: v.definition as string })),
];

describe('the Grafana dashboard', () => {
  it('reads PromQL names correctly (the parser the next test relies on)', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, stage) (rate(vldm_activity_seconds_bucket{namespace=~"$ns",outcome="x"}[5m])))',
      ),
    ).toEqual(['vldm_activity_seconds_bucket']);
    expect(metricNamesIn('max(a_metric and on(pod) b_metric == 1)')).toEqual(['a_metric', 'b_metric']);
    expect(metricNamesIn('label_values(vldm_worker_models_loaded, namespace)')).toEqual([
      'vldm_worker_models_loaded',
    ]);
  });

  it('names only metrics the code registers, in every panel and variable', async () => {
    const series = await exportedSeries();
    const exprs = expressions();
    expect(exprs.length).toBeGreaterThan(20);
    for (const { where, expr } of exprs) {
      const names = metricNamesIn(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const n of names) expect(series.has(n), `${where} names ${n}, which nothing registers`).toBe(true);
    }
  });

  it('shows every vldm metric the code registers somewhere', async () => {
    const series = await exportedSeries();
    const shown = new Set(expressions().flatMap(({ expr }) => metricNamesIn(expr).map((n) => series.get(n))));
    const vldm = allMetrics()
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((n) => n.startsWith('vldm_'));
    expect(vldm.filter((n) => !shown.has(n))).toEqual([]);
  });
});
