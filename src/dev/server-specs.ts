/**
 * How each dev server is started and how we know it is ready: its command line, the loopback ports it
 * takes, the addresses clients use, and a readiness probe that speaks the server's own protocol
 * (Temporal gRPC, MinIO's health endpoint, the NATS INFO greeting) rather than trusting an open port.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { DEFAULTS } from '../common/names';
import { UserError } from '../common/errors';
import { TOOL_NAMES } from './tools';
import { LOOPBACK } from './process';
import {
  DevServerAddresses,
  DevServerPorts,
  INDEXED_VALUE_TYPES,
  MINIO_CREDENTIAL_ENV,
  MINIO_DEFAULT_CREDENTIALS,
  SearchAttributeType,
  ServerKind,
} from './server-types';

export interface SpecContext {
  stateDir: string;
  ports: DevServerPorts;
  searchAttributes: Record<string, SearchAttributeType>;
  env: NodeJS.ProcessEnv;
}

/** A port a server listens on, named for error messages ("temporal gRPC port 7233 is in use"). */
export interface ListenPort {
  role: string;
  port: number;
  /** The key of DevServerPorts this port comes from. */
  key: keyof DevServerPorts;
}

export interface ServerSpec<K extends ServerKind = ServerKind> {
  kind: K;
  tool: string;
  listenPorts(ports: DevServerPorts): ListenPort[];
  command(ctx: SpecContext): { args: string[]; env: NodeJS.ProcessEnv };
  addresses(ctx: SpecContext): NonNullable<DevServerAddresses[K]>;
  /**
   * Resolves once the server answers; rejects while it does not. A UserError means no amount of
   * waiting helps (e.g. a search attribute registered with another type).
   */
  probe(addresses: NonNullable<DevServerAddresses[K]>, ctx: SpecContext): Promise<void>;
  /** The port whose answering shows the process is serving (for status). */
  mainPort(addresses: NonNullable<DevServerAddresses[K]>): number;
}

const PROBE_TIMEOUT_MS = 3_000;

function portOfUrl(url: string): number {
  return Number(new URL(url).port);
}

function typeName(indexedValueType: number): string {
  const entry = Object.entries(INDEXED_VALUE_TYPES).find(([, n]) => n === indexedValueType);
  return entry ? entry[0] : `type #${indexedValueType}`;
}

/**
 * Dynamic config the local Temporal server runs with. `matching.useNewMatcher` makes Server 1.29 dispatch
 * by task priority (src/common/priority.ts); priority orders tasks within a task-queue partition, so
 * one partition per queue makes the order exact (a cluster's Temporal needs the matcher setting, and
 * orders approximately across its partitions: docs/deploy.md).
 */
export const TEMPORAL_DYNAMIC_CONFIG: Readonly<Record<string, string>> = {
  'matching.useNewMatcher': 'true',
  'matching.numTaskqueueReadPartitions': '1',
  'matching.numTaskqueueWritePartitions': '1',
};

const temporal: ServerSpec<'temporal'> = {
  kind: 'temporal',
  tool: TOOL_NAMES.temporal,
  listenPorts: (p) => [
    { role: 'gRPC', port: p.temporal, key: 'temporal' },
    { role: 'Web UI', port: p.temporalUi, key: 'temporalUi' },
  ],
  command: (ctx) => ({
    args: [
      'server',
      'start-dev',
      '--db-filename',
      path.join(ctx.stateDir, 'temporal.db'),
      '--ip',
      LOOPBACK,
      '--port',
      String(ctx.ports.temporal),
      '--ui-port',
      String(ctx.ports.temporalUi),
      '--log-level',
      'warn',
      // Task priorities (src/common/priority.ts) need the new matcher on Server 1.29.
      ...Object.entries(TEMPORAL_DYNAMIC_CONFIG).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${v}`]),
      ...Object.entries(ctx.searchAttributes).flatMap(([name, type]) => [
        '--search-attribute',
        `${name}=${type}`,
      ]),
    ],
    env: ctx.env,
  }),
  addresses: (ctx) => ({
    address: `${LOOPBACK}:${ctx.ports.temporal}`,
    uiUrl: `http://${LOOPBACK}:${ctx.ports.temporalUi}`,
    namespace: DEFAULTS.namespace,
  }),
  // Ready means the namespace answers and carries every requested search attribute. Missing ones are
  // added, so a server reused from an earlier run gains the attributes a newer job needs.
  async probe(addr, ctx) {
    const connection = await Connection.connect({ address: addr.address, connectTimeout: PROBE_TIMEOUT_MS });
    try {
      await connection.workflowService.describeNamespace({ namespace: addr.namespace });
      const wanted = Object.entries(ctx.searchAttributes);
      if (wanted.length === 0) return;
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: addr.namespace,
      });
      const missing: Record<string, number> = {};
      for (const [name, type] of wanted) {
        const have = customAttributes[name];
        const want = INDEXED_VALUE_TYPES[type];
        if (have === undefined || have === null) missing[name] = want;
        else if (have !== want) {
          throw new UserError(
            `search attribute ${name} is registered as ${typeName(have)} on the Temporal server at ` +
              `${addr.address}, but ${type} is needed; use a fresh state dir or another server`,
          );
        }
      }
      if (Object.keys(missing).length > 0) {
        await connection.operatorService.addSearchAttributes({
          namespace: addr.namespace,
          searchAttributes: missing,
        });
        throw new Error(`registering search attributes ${Object.keys(missing).join(', ')}`);
      }
    } finally {
      await connection.close();
    }
  },
  mainPort: (addr) => Number(addr.address.split(':').pop()),
};

const minio: ServerSpec<'minio'> = {
  kind: 'minio',
  tool: TOOL_NAMES.minio,
  listenPorts: (p) => [
    { role: 'S3 API', port: p.minio, key: 'minio' },
    { role: 'console', port: p.minioConsole, key: 'minioConsole' },
  ],
  command: (ctx) => {
    const { accessKeyId, secretAccessKey } = minioCredentials(ctx.env);
    return {
      args: [
        'server',
        path.join(ctx.stateDir, 'minio'),
        '--address',
        `${LOOPBACK}:${ctx.ports.minio}`,
        '--console-address',
        `${LOOPBACK}:${ctx.ports.minioConsole}`,
      ],
      env: {
        ...ctx.env,
        [MINIO_CREDENTIAL_ENV.accessKeyId]: accessKeyId,
        [MINIO_CREDENTIAL_ENV.secretAccessKey]: secretAccessKey,
        // No network here and no use for it on a dev box: skip the update check.
        MINIO_UPDATE: 'off',
      },
    };
  },
  addresses: (ctx) => ({
    endpoint: `http://${LOOPBACK}:${ctx.ports.minio}`,
    ...minioCredentials(ctx.env),
    consoleUrl: `http://${LOOPBACK}:${ctx.ports.minioConsole}`,
  }),
  // live: the process serves HTTP; ready: the drive is initialised and S3 requests will succeed.
  async probe(addr) {
    for (const check of ['live', 'ready']) {
      const res = await fetch(`${addr.endpoint}/minio/health/${check}`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      if (res.status !== 200) throw new Error(`MinIO /minio/health/${check} answered ${res.status}`);
    }
  },
  mainPort: (addr) => portOfUrl(addr.endpoint),
};

const nats: ServerSpec<'nats'> = {
  kind: 'nats',
  tool: TOOL_NAMES.natsServer,
  listenPorts: (p) => [{ role: 'client', port: p.nats, key: 'nats' }],
  command: (ctx) => ({
    args: ['-js', '-a', LOOPBACK, '-p', String(ctx.ports.nats), '-sd', path.join(ctx.stateDir, 'nats')],
    env: ctx.env,
  }),
  addresses: (ctx) => ({ url: `nats://${LOOPBACK}:${ctx.ports.nats}` }),
  // A NATS server greets every client with an INFO line before anything else.
  probe: (addr) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ port: portOfUrl(addr.url), host: LOOPBACK });
      let received = '';
      const finish = (err?: Error) => {
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      socket.setTimeout(PROBE_TIMEOUT_MS, () => finish(new Error('no INFO greeting from nats-server')));
      socket.on('data', (chunk) => {
        received += chunk.toString('utf8');
        if (received.startsWith('INFO ')) finish();
        else if (received.length >= 5)
          finish(new Error(`unexpected greeting ${JSON.stringify(received.slice(0, 40))}`));
      });
      socket.once('error', (err) => finish(err));
    }),
  mainPort: (addr) => portOfUrl(addr.url),
};

export const SERVER_SPECS: { [K in ServerKind]: ServerSpec<K> } = { temporal, minio, nats };

/** MinIO root credentials: $MINIO_ROOT_USER / $MINIO_ROOT_PASSWORD, else MinIO's local defaults. */
export function minioCredentials(env: NodeJS.ProcessEnv = process.env): {
  accessKeyId: string;
  secretAccessKey: string;
} {
  return {
    accessKeyId: env[MINIO_CREDENTIAL_ENV.accessKeyId] || MINIO_DEFAULT_CREDENTIALS.accessKeyId,
    secretAccessKey: env[MINIO_CREDENTIAL_ENV.secretAccessKey] || MINIO_DEFAULT_CREDENTIALS.secretAccessKey,
  };
}
