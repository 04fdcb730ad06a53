/**
 * `vldm report <jobId> [--json] [--out report.html] [--pools pools.yaml]`: what a job did, from its
 * Temporal histories (src/observability/report.ts): which worker ran what and when, time per stage,
 * queue waits, retries and what they cost, and the run's cost when a pools file gives prices. Text by
 * default, one JSON object with --json, and with --out one self-contained HTML page (Gantt chart and
 * tables). Works on a running job too: what happened so far.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { VldmConfig } from '../../config/config';
import { UserError } from '../../common/errors';
import { quote } from '../../common/quote';
import { checkJobIdArg } from '../edge';
import { makeOut } from '../io';

export interface ReportFlags {
  json?: boolean;
  out?: string;
  pools?: string;
}

/** The HTML file must be `<name>.html` in a folder that exists (checked before Temporal is asked). */
function checkHtmlPath(out: string): string {
  const abs = path.resolve(out);
  if (!/\.html?$/i.test(abs) || /^\.html?$/i.test(path.basename(abs)))
    throw new UserError(`--out must name an .html file, got ${quote(out)}`);
  const dir = path.dirname(abs);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UserError(`--out: folder ${quote(dir)} does not exist`);
  if (existsSync(abs) && !statSync(abs).isFile())
    throw new UserError(`--out ${quote(abs)} exists and is not a regular file`);
  return abs;
}

export async function report(id: string, flags: ReportFlags, cfg: VldmConfig): Promise<number> {
  const jobId = checkJobIdArg(id);
  const outFile = flags.out !== undefined ? checkHtmlPath(flags.out) : undefined;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when run, as in main.ts */
  const pools = flags.pools
    ? (require('../../scaling/pools') as typeof import('../../scaling/pools')).loadPoolsConfig(flags.pools)
    : undefined;
  const { connectTemporal } = require('../../client/jobs') as typeof import('../../client/jobs');
  const { buildRunReport, reportText } =
    require('../../observability/report') as typeof import('../../observability/report');
  const { reportHtml } =
    require('../../observability/report-html') as typeof import('../../observability/report-html');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const client = await connectTemporal(cfg.temporalAddress, cfg.namespace);
  try {
    const r = await buildRunReport(client, jobId, pools);
    const out = makeOut(Boolean(flags.json));
    if (outFile) writeFileSync(outFile, reportHtml(r));
    if (flags.json) out.result({ ...r, ...(outFile ? { html: outFile } : {}) });
    else {
      for (const line of reportText(r)) out.info(line);
      if (outFile) out.info(`wrote ${outFile}`);
    }
    return 0;
  } finally {
    await client.connection.close();
  }
}
