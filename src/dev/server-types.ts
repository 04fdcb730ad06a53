/**
 * Types, defaults and option checks of the local dev servers (Temporal, MinIO, NATS) that the embedded
 * default and `vldm dev up` run on loopback. Kept apart from the process handling in servers.ts so the
 * CLI can read defaults without loading the Temporal client.
 */
import { DEFAULTS } from '../common/names';
import { UserError } from '../common/errors';

export type ServerKind = 'temporal' | 'minio' | 'nats';
export const SERVER_KINDS: readonly ServerKind[] = ['temporal', 'minio', 'nats'];

/** Search attribute types, spelled as `temporal server start-dev --search-attribute Name=Type` takes them. */
export type SearchAttributeType = 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'Text' | 'KeywordList';

/**
 * temporal.api.enums.v1.IndexedValueType numbers of each type: the operator API lists and registers
 * search attributes by these.
 */
export const INDEXED_VALUE_TYPES: Record<SearchAttributeType, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

/** TCP ports on 127.0.0.1. */
export interface DevServerPorts {
  /** Temporal frontend gRPC. @default 7233 */
  temporal: number;
  /** Temporal Web UI. @default the gRPC port + 1000 (8233) */
  temporalUi: number;
  /** MinIO S3 API. @default 9000 */
  minio: number;
  /** MinIO web console. @default the S3 port + 1 (9001) */
  minioConsole: number;
  /** NATS client port. @default 4222 */
  nats: number;
}

export interface DevServerOptions {
  /** Folder holding pid files, logs and server data. @default `defaultStateDir()` (`./.vldm`) */
  stateDir: string;
  /** Which servers to start (or reuse). */
  kinds: ServerKind[];
  /** Ports to listen on; an omitted port takes its default. */
  ports?: Partial<DevServerPorts>;
  /** Custom search attributes registered on the Temporal namespace (at start, or added when reusing). */
  searchAttributes?: Record<string, SearchAttributeType>;
  /** How long to wait for each server to answer, in milliseconds. @default 90000 */
  readyTimeoutMs?: number;
}

export interface TemporalAddress {
  /** gRPC `host:port` for `Connection.connect({ address })`. */
  address: string;
  /** Web UI, e.g. `http://127.0.0.1:8233`. */
  uiUrl: string;
  namespace: string;
}

export interface MinioAddress {
  /** S3 endpoint URL, e.g. `http://127.0.0.1:9000` (use path-style addressing). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  consoleUrl: string;
}

export interface NatsAddress {
  /** e.g. `nats://127.0.0.1:4222` */
  url: string;
}

export interface DevServerAddresses {
  temporal?: TemporalAddress;
  minio?: MinioAddress;
  nats?: NatsAddress;
}

export interface DevServerStatus {
  kind: ServerKind;
  /** running: process alive and its port answers; unresponsive: alive but silent; stopped: no process. */
  state: 'running' | 'unresponsive' | 'stopped';
  pid?: number;
  addresses?: DevServerAddresses[ServerKind];
  startedAt?: string;
  logFile: string;
}

/** MinIO reads its root credentials from these variables; the dev server passes them through. */
export const MINIO_CREDENTIAL_ENV = {
  accessKeyId: 'MINIO_ROOT_USER',
  secretAccessKey: 'MINIO_ROOT_PASSWORD',
} as const;

/** MinIO's own well-known local defaults, used when the variables above are unset. Loopback only. */
export const MINIO_DEFAULT_CREDENTIALS = {
  accessKeyId: 'minioadmin',
  secretAccessKey: 'minioadmin',
} as const;

function portOf(address: string): number {
  const match = /:(\d+)\/?$/.exec(address);
  if (!match) throw new Error(`no port in ${address}`);
  return Number(match[1]);
}

/** Default ports, derived from the addresses in src/common/names.ts DEFAULTS. */
export const DEV_DEFAULT_PORTS: DevServerPorts = {
  temporal: portOf(DEFAULTS.temporalAddress),
  temporalUi: DEFAULTS.temporalUiPort,
  minio: portOf(DEFAULTS.s3Endpoint),
  minioConsole: portOf(DEFAULTS.s3Endpoint) + 1,
  nats: portOf(DEFAULTS.natsUrl),
};

/** Fills omitted ports (a UI/console port follows its server's port) and rejects impossible ones. */
export function resolvePorts(requested: Partial<DevServerPorts> = {}): DevServerPorts {
  for (const [name, port] of Object.entries(requested)) {
    if (port === undefined) continue;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UserError(`port ${name} must be an integer from 1 to 65535, got ${port}`);
    }
  }
  const temporal = requested.temporal ?? DEV_DEFAULT_PORTS.temporal;
  const minio = requested.minio ?? DEV_DEFAULT_PORTS.minio;
  const ports: DevServerPorts = {
    temporal,
    temporalUi:
      requested.temporalUi ??
      (requested.temporal !== undefined ? temporal + 1000 : DEV_DEFAULT_PORTS.temporalUi),
    minio,
    minioConsole: requested.minioConsole ?? minio + 1,
    nats: requested.nats ?? DEV_DEFAULT_PORTS.nats,
  };
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(ports)) {
    const other = seen.get(port);
    if (other !== undefined) throw new UserError(`ports ${other} and ${name} must differ, both are ${port}`);
    seen.set(port, name);
  }
  for (const [name, port] of Object.entries(ports)) {
    if (port > 65535)
      throw new UserError(`port ${name} must be at most 65535, got ${port} (derived from its server's port)`);
  }
  return ports;
}

export function validateKinds(kinds: readonly string[]): ServerKind[] {
  const out: ServerKind[] = [];
  for (const kind of kinds) {
    if (!(SERVER_KINDS as readonly string[]).includes(kind)) {
      throw new UserError(
        `server kind must be one of ${SERVER_KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
      );
    }
    if (!out.includes(kind as ServerKind)) out.push(kind as ServerKind);
  }
  return out;
}

const SEARCH_ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateSearchAttributes(
  attrs: Record<string, string> = {},
): Record<string, SearchAttributeType> {
  const types = Object.keys(INDEXED_VALUE_TYPES);
  for (const [name, type] of Object.entries(attrs)) {
    if (!SEARCH_ATTRIBUTE_NAME.test(name)) {
      throw new UserError(
        `search attribute name must be an identifier (letters, digits, _), got ${JSON.stringify(name)}`,
      );
    }
    if (!types.includes(type)) {
      throw new UserError(
        `search attribute ${name} type must be one of ${types.join(', ')}, got ${JSON.stringify(type)}`,
      );
    }
  }
  return attrs as Record<string, SearchAttributeType>;
}
