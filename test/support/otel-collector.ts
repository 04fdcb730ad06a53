/**
 * A real OpenTelemetry Collector for the trace test: `.tools/bin/otelcol-vldm` (built from
 * infra/otelcol by infra/setup.sh --test) with an OTLP/HTTP receiver on a free loopback port and the
 * file exporter, whose JSON lines (one OTLP export request each) are read back as flat spans.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../../src/dev/tools';
import { freePort, until } from './wait';

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  /** The resource of the process that sent it (service.name, process.pid, vldm.queues, ...). */
  resource: Record<string, unknown>;
  startNs: bigint;
  endNs: bigint;
}

export interface Collector {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT is set to. */
  endpoint: string;
  /** Every span the collector has written so far. */
  spans(): CollectedSpan[];
  log(): string;
  stop(): Promise<void>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}

function valueOf(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return undefined;
}

const attrs = (list: OtlpAttribute[] | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

export async function startCollector(): Promise<Collector> {
  const bin = requireTool('otelcol-vldm');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vldm-otelcol-'));
  const port = await freePort();
  const out = path.join(dir, 'spans.jsonl');
  const config = path.join(dir, 'config.yaml');
  // No telemetry server of its own (its default :8888 would clash with other processes here).
  writeFileSync(
    config,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${port}`,
      'exporters:',
      '  file:',
      `    path: ${out}`,
      '    flush_interval: 100ms',
      'service:',
      '  telemetry:',
      '    metrics:',
      '      level: none',
      '  pipelines:',
      '    traces:',
      '      receivers: [otlp]',
      '      exporters: [file]',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(bin, ['--config', `file:${config}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    await until(
      'the OpenTelemetry Collector to start',
      () => exited || /Everything is ready/.test(log),
      60_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}:\n${log}`, { cause: err });
  }
  if (exited) throw new Error(`the OpenTelemetry Collector exited at start:\n${log}`);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log: () => log,
    spans() {
      if (!existsSync(out)) return [];
      const spans: CollectedSpan[] = [];
      for (const line of readFileSync(out, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        const req = JSON.parse(line) as {
          resourceSpans?: Array<{
            resource?: { attributes?: OtlpAttribute[] };
            scopeSpans?: Array<{
              spans?: Array<{
                traceId: string;
                spanId: string;
                parentSpanId?: string;
                name: string;
                attributes?: OtlpAttribute[];
                startTimeUnixNano: string;
                endTimeUnixNano: string;
              }>;
            }>;
          }>;
        };
        for (const rs of req.resourceSpans ?? []) {
          const resource = attrs(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
                name: s.name,
                attributes: attrs(s.attributes),
                resource,
                startNs: BigInt(s.startTimeUnixNano),
                endNs: BigInt(s.endTimeUnixNano),
              });
        }
      }
      return spans;
    },
    async stop() {
      if (exited) return;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      await gone;
    },
  };
}
