/**
 * Starts, reuses, stops and reports the local servers of the embedded default and `vldm dev up/down`:
 * a Temporal dev server, MinIO and nats-server, on loopback, detached from the calling process, with a
 * pid file, a record (`<kind>.json`), a log and data under one state folder:
 *
 *   <stateDir>/temporal.{pid,json,log,db}  minio.{pid,json,log} minio/  nats.{pid,json,log} nats/
 *
 * A server whose recorded pid is alive is reused; anything else on its port is an error, never
 * silently shared.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { requireTool } from './tools';
import {
  isRunning,
  portIsFree,
  spawnDetached,
  stopProcess,
  tcpAnswers,
  waitUntilReady,
  withDirLock,
} from './process';
import { ListenPort, SERVER_SPECS, ServerSpec, SpecContext } from './server-specs';
import {
  DevServerAddresses,
  DevServerOptions,
  DevServerPorts,
  DevServerStatus,
  SERVER_KINDS,
  ServerKind,
  resolvePorts,
  validateKinds,
  validateSearchAttributes,
} from './server-types';

export * from './server-types';
export { minioCredentials } from './server-specs';

const DEFAULT_READY_TIMEOUT_MS = 90_000;

/** What `<stateDir>/<kind>.json` holds about a server we started. */
interface ServerRecord {
  kind: ServerKind;
  pid: number;
  binary: string;
  args: string[];
  ports: ListenPort[];
  addresses: NonNullable<DevServerAddresses[ServerKind]>;
  startedAt: string;
  logFile: string;
}

const files = (stateDir: string, kind: ServerKind) => ({
  pid: path.join(stateDir, `${kind}.pid`),
  record: path.join(stateDir, `${kind}.json`),
  log: path.join(stateDir, `${kind}.log`),
});

function readRecord(stateDir: string, kind: ServerKind): ServerRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(files(stateDir, kind).record, 'utf8')) as ServerRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(stateDir: string, record: ServerRecord): void {
  const f = files(stateDir, record.kind);
  // The record carries the MinIO secret: readable by this user only.
  fs.writeFileSync(f.record, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  fs.writeFileSync(f.pid, `${record.pid}\n`);
}

function removeRecord(stateDir: string, kind: ServerKind): void {
  const f = files(stateDir, kind);
  fs.rmSync(f.record, { force: true });
  fs.rmSync(f.pid, { force: true });
}

function liveRecord(stateDir: string, kind: ServerKind): ServerRecord | undefined {
  const record = readRecord(stateDir, kind);
  return record && isRunning(record.pid, record.binary) ? record : undefined;
}

/** A reused server must be on the ports the caller named explicitly; defaulted ports accept any. */
function checkReusedPorts(record: ServerRecord, requested: Partial<DevServerPorts>, stateDir: string): void {
  for (const { key, port, role } of record.ports) {
    const asked = requested[key];
    if (asked !== undefined && asked !== port) {
      throw new UserError(
        `${record.kind} is already running from ${stateDir} (pid ${record.pid}) with its ${role} on port ${port}, ` +
          `not ${asked} as asked; stop it first (vldm dev down) or use another state dir`,
      );
    }
  }
}

/**
 * Starts the requested servers, or reuses those already running from `stateDir`, and waits until each
 * answers. A missing program fails before anything starts, naming infra/setup.sh.
 */
export async function devUp(opts: DevServerOptions): Promise<DevServerAddresses> {
  const kinds = validateKinds(opts.kinds);
  const ports = resolvePorts(opts.ports);
  const searchAttributes = validateSearchAttributes(opts.searchAttributes);
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const stateDir = path.resolve(opts.stateDir);
  fs.mkdirSync(stateDir, { recursive: true });
  const ctx: SpecContext = { stateDir, ports, searchAttributes, env: process.env };

  return withDirLock(stateDir, readyTimeoutMs + 30_000, async () => {
    const reused = new Map<ServerKind, ServerRecord>();
    for (const kind of kinds) {
      const record = liveRecord(stateDir, kind);
      if (record) {
        checkReusedPorts(record, opts.ports ?? {}, stateDir);
        reused.set(kind, record);
      } else {
        removeRecord(stateDir, kind);
      }
    }
    const toStart = kinds.filter((k) => !reused.has(k));
    const binaries = new Map(toStart.map((k) => [k, requireTool(SERVER_SPECS[k].tool)] as const));
    for (const kind of toStart) {
      for (const { role, port } of SERVER_SPECS[kind].listenPorts(ports)) {
        if (!(await portIsFree(port))) {
          throw new UserError(
            `${kind} ${role} port ${port} on 127.0.0.1 is already in use by another program (not a server ` +
              `started from ${stateDir}); stop that program or choose another port`,
          );
        }
      }
    }

    const started = new Map<ServerKind, ServerRecord>();
    for (const kind of toStart) {
      const spec: ServerSpec = SERVER_SPECS[kind];
      const binary = binaries.get(kind)!;
      const { args, env } = spec.command(ctx);
      const logFile = files(stateDir, kind).log;
      const pid = spawnDetached(binary, args, { cwd: stateDir, env, logFile });
      const record: ServerRecord = {
        kind,
        pid,
        binary,
        args,
        ports: spec.listenPorts(ports),
        addresses: spec.addresses(ctx),
        startedAt: new Date().toISOString(),
        logFile,
      };
      writeRecord(stateDir, record);
      started.set(kind, record);
    }

    const deadline = Date.now() + readyTimeoutMs;
    const all = [...reused.values(), ...started.values()];
    const results = await Promise.allSettled(
      all.map((r) =>
        waitUntilReady(
          { name: r.kind, pid: r.pid, binary: r.binary, logFile: r.logFile },
          () => (SERVER_SPECS[r.kind] as ServerSpec).probe(r.addresses, ctx),
          deadline,
        ),
      ),
    );
    const failures: unknown[] = [];
    for (const [i, result] of results.entries()) {
      if (result.status === 'fulfilled') continue;
      failures.push(result.reason);
      const record = all[i]!;
      // A server we just started and that never became ready is of no use to anyone: stop it.
      if (started.has(record.kind)) {
        await stopProcess(record.pid).catch(() => undefined);
        removeRecord(stateDir, record.kind);
      }
    }
    if (failures.length > 0) {
      const first = failures.find((f) => f instanceof UserError) ?? failures[0];
      if (failures.length === 1 || first instanceof UserError) throw first;
      throw new Error(failures.map((f) => (f instanceof Error ? f.message : String(f))).join('\n\n'));
    }

    const addresses: DevServerAddresses = {};
    for (const record of all) (addresses as Record<string, unknown>)[record.kind] = record.addresses;
    return addresses;
  });
}

/** Stops the servers recorded in `stateDir` (all kinds by default); returns the kinds it stopped. Data stays. */
export async function devDown(opts: { stateDir: string; kinds?: ServerKind[] }): Promise<ServerKind[]> {
  const kinds = validateKinds(opts.kinds ?? SERVER_KINDS);
  const stateDir = path.resolve(opts.stateDir);
  if (!fs.existsSync(stateDir)) return [];
  return withDirLock(stateDir, 60_000, async () => {
    const stopped: ServerKind[] = [];
    await Promise.all(
      kinds.map(async (kind) => {
        const record = liveRecord(stateDir, kind);
        if (record) {
          await stopProcess(record.pid);
          stopped.push(kind);
        }
        removeRecord(stateDir, kind);
      }),
    );
    return SERVER_KINDS.filter((k) => stopped.includes(k));
  });
}

/** What runs from `stateDir`: each kind's pid, whether its port answers, its addresses and log file. */
export async function devStatus(opts: { stateDir: string }): Promise<DevServerStatus[]> {
  const stateDir = path.resolve(opts.stateDir);
  return Promise.all(
    SERVER_KINDS.map(async (kind): Promise<DevServerStatus> => {
      const logFile = files(stateDir, kind).log;
      const record = liveRecord(stateDir, kind);
      if (!record) return { kind, state: 'stopped', logFile };
      const spec: ServerSpec = SERVER_SPECS[kind];
      const answers = await tcpAnswers(spec.mainPort(record.addresses));
      return {
        kind,
        state: answers ? 'running' : 'unresponsive',
        pid: record.pid,
        addresses: record.addresses,
        startedAt: record.startedAt,
        logFile,
      };
    }),
  );
}
