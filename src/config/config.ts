/**
 * vldm's configuration, resolved in one place: command-line flags over environment variables over a
 * JSON config file over defaults. Every key is documented in docs/configuration.md.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../common/names';
import { UserError } from '../common/errors';
import { defaultStateDir } from '../host/paths';
import { repoRoot } from '../host/paths';
import { keyringFromEnv } from '../security/keys';
import { natsTarget } from '../events/auth';
import { escapeControls, quote, quoteRedacted } from '../common/quote';
import { readUserText } from '../host/files';
import { storeConfigFromUrl } from '../storage/config';
import { temporalTlsFromEnv } from './tls';
import { temporalConnectOptions, temporalConventions } from './temporal-env';
import { parseDuration, parseHostPort, parseHttpUrl, parseInteger, parseNamespace } from './values';
import { defaultNoiseThreads, MAX_NOISE_THREADS } from '../activity-runtime/noise-threads';
import { defaultModelThreads, MAX_MODEL_THREADS } from '../models/model-threads';

export interface VldmConfig {
  /** Temporal frontend, `host:port`. @default "127.0.0.1:7233" */
  temporalAddress: string;
  /** Temporal namespace. @default "default" */
  namespace: string;
  /** Temporal Web UI base URL, for links to jobs. @default "http://127.0.0.1:8233" */
  temporalUiUrl: string;
  /** Artifact store: a folder path, `file:///abs/dir`, or `s3://bucket/prefix`. @default "<stateDir>/artifacts" */
  store: string;
  /**
   * False when `store` is the default (no --store, VLDM_STORE or config key): `vldm submit` then names no
   * store in the job, and any store's workers serve it (src/common/fleet.ts).
   */
  storeGiven: boolean;
  /**
   * NATS URL for progress events; "off" disables them. May carry user info (`nats://user:pass@host:4222`);
   * it is never printed unredacted. @default "nats://127.0.0.1:4222"
   */
  natsUrl: string;
  /** Model pack folder. @default the reference pack shipped in models/reference */
  pack: string;
  /** Folder of the local dev servers' data, pid files and logs. @default "./.vldm" */
  stateDir: string;
  /** onnxruntime threads per model call (fixed, for reproducible bytes). @default 1 */
  intraOpThreads: number;
  /**
   * Threads per worker process that compute upscale tiles' noise fields, off the event loop
   * (src/activity-runtime/noise-threads.ts); 0 computes them on the activity's thread. The bytes are the same
   * for every value. @default the host's cores, at most 4
   */
  noiseThreads: number;
  /**
   * Threads per model session of a worker process that run its model calls, off the event loop
   * (src/models/model-threads.ts); 0 runs them on the activity's thread. The bytes are the same for
   * every value. @default the host's cores, at most 2
   */
  modelThreads: number;
  /** onnxruntime execution providers, in order of preference, e.g. "cuda,cpu" on GPU pods. @default "cpu" */
  executionProviders: string[];
  /**
   * How long a finished job's intermediate artifacts (decoded frames, upscaled tiles) are kept before
   * `vldm gc` and the media workers' sweep delete them, in ms; "off": never (docs/artifacts.md,
   * "Retention"). Written as e.g. "36h" or "7d". @default 7 days
   */
  retention: number | 'off';
}

/** The settings a person sets (flags, environment, config file); the rest is derived from them. */
type SettingKey = Exclude<keyof VldmConfig, 'storeGiven'>;

/** Environment variables, one per key. */
export const CONFIG_ENV: Record<SettingKey, string> = {
  temporalAddress: 'VLDM_TEMPORAL_ADDRESS',
  namespace: 'VLDM_TEMPORAL_NAMESPACE',
  temporalUiUrl: 'VLDM_TEMPORAL_UI',
  store: 'VLDM_STORE',
  natsUrl: 'VLDM_NATS_URL',
  pack: 'VLDM_PACK',
  stateDir: 'VLDM_STATE_DIR',
  intraOpThreads: 'VLDM_THREADS',
  noiseThreads: 'VLDM_NOISE_THREADS',
  modelThreads: 'VLDM_MODEL_THREADS',
  executionProviders: 'VLDM_EXECUTION_PROVIDERS',
  retention: 'VLDM_RETENTION',
};

/** Default of `retention`: a week, time to fetch a video and rerun it cheaply. */
export const DEFAULT_RETENTION = '7d';

export const CONFIG_FILE_ENV = 'VLDM_CONFIG';
export const DEFAULT_CONFIG_FILE = 'vldm.config.json';

/** The pack `vldm` uses when none is named: the reference pack, or the contract test pack if absent. */
export function defaultPack(): string {
  const root = repoRoot();
  const reference = path.join(root, 'models', 'reference');
  return existsSync(path.join(reference, 'vldm-pack.json'))
    ? reference
    : path.join(root, 'models', 'contract-test');
}

/** The JSON type each config-file key must have (checked before any value is used). */
const FILE_TYPES: Record<SettingKey, 'string' | 'integer' | 'string-list'> = {
  temporalAddress: 'string',
  namespace: 'string',
  temporalUiUrl: 'string',
  store: 'string',
  natsUrl: 'string',
  pack: 'string',
  stateDir: 'string',
  intraOpThreads: 'integer',
  noiseThreads: 'integer',
  modelThreads: 'integer',
  executionProviders: 'string-list',
  retention: 'string',
};

/** Largest config file read: it is a handful of settings. */
const MAX_CONFIG_FILE_BYTES = 64 * 1024;

function readConfigFile(file: string | undefined, cwd: string): Partial<VldmConfig> {
  const explicit = file !== undefined;
  const p = path.resolve(cwd, file ?? DEFAULT_CONFIG_FILE);
  if (!explicit && !existsSync(p)) return {};
  const text = readUserText(p, { what: 'config file', maxBytes: MAX_CONFIG_FILE_BYTES, cwd });
  const where = `config file ${quote(p)}`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${where} is not valid JSON: ${escapeControls((err as Error).message)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UserError(`${where} must hold a JSON object`);
  const known = Object.keys(CONFIG_ENV);
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (!known.includes(k))
      throw new UserError(`${where}: unknown key ${quote(k)} (known: ${known.join(', ')})`);
    const type = FILE_TYPES[k as SettingKey];
    const ok =
      type === 'string'
        ? typeof v === 'string'
        : type === 'integer'
          ? typeof v === 'number' && Number.isInteger(v)
          : typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    if (!ok) {
      const want =
        type === 'string' ? 'a string' : type === 'integer' ? 'an integer' : 'a string or a list of strings';
      const got = v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`;
      throw new UserError(`${where}: "${k}" must be ${want}, got ${got}`);
    }
  }
  return json as Partial<VldmConfig>;
}

/** Where a key's value came from, for messages: the flag, the variable or the file. */
type Source = 'flag' | 'env' | 'file' | 'default';

/** Resolve the configuration. `flags` holds only the options given on the command line. */
export function resolveConfig(
  flags: Partial<VldmConfig> & { config?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): VldmConfig {
  const file = readConfigFile(flags.config ?? emptyIsUnset(env[CONFIG_FILE_ENV]), cwd);
  const fromEnv: Partial<Record<SettingKey, string>> = {};
  for (const [k, name] of Object.entries(CONFIG_ENV) as Array<[SettingKey, string]>) {
    if (env[name] !== undefined && env[name] !== '') fromEnv[k] = env[name];
  }
  const pick = <K extends SettingKey>(k: K): { value: unknown; where: string; from: Source } => {
    if (flags[k] !== undefined) return { value: flags[k], where: `${FLAG_OF[k]}`, from: 'flag' };
    if (fromEnv[k] !== undefined) return { value: fromEnv[k], where: CONFIG_ENV[k], from: 'env' };
    if (file[k] !== undefined) return { value: file[k], where: `config key "${k}"`, from: 'file' };
    return { value: undefined, where: k, from: 'default' };
  };
  const str = <K extends SettingKey>(k: K): string | undefined => {
    const { value } = pick(k);
    return value === undefined ? undefined : String(value);
  };
  const stateDir = path.resolve(cwd, str('stateDir') ?? defaultStateDir(cwd));
  const threads = pick('intraOpThreads');
  const intraOpThreads =
    threads.value === undefined
      ? 1
      : parseInteger(`intraOpThreads (${threads.where})`, threads.value, 1, 256);
  const noise = pick('noiseThreads');
  const noiseThreads =
    noise.value === undefined
      ? defaultNoiseThreads()
      : parseInteger(`noiseThreads (${noise.where})`, noise.value, 0, MAX_NOISE_THREADS);
  const model = pick('modelThreads');
  const modelThreads =
    model.value === undefined
      ? defaultModelThreads()
      : parseInteger(`modelThreads (${model.where})`, model.value, 0, MAX_MODEL_THREADS);
  // Temporal's conventions (TEMPORAL_* over a TOML profile) fill what vldm's own settings leave unset.
  const conventions = temporalConventions(env);
  const address = pick('temporalAddress');
  const addressFrom =
    address.value === undefined ? conventions.address : { value: address.value, where: address.where };
  const temporalAddress =
    addressFrom === undefined
      ? DEFAULTS.temporalAddress
      : parseHostPort(`temporal address (${addressFrom.where})`, addressFrom.value);
  const ns = pick('namespace');
  const nsFrom = ns.value === undefined ? conventions.namespace : { value: ns.value, where: ns.where };
  const namespace =
    nsFrom === undefined ? DEFAULTS.namespace : parseNamespace(`namespace (${nsFrom.where})`, nsFrom.value);
  const ui = pick('temporalUiUrl');
  const temporalUiUrl =
    ui.value === undefined
      ? `http://127.0.0.1:${DEFAULTS.temporalUiPort}`
      : parseHttpUrl(`Temporal UI URL (${ui.where})`, ui.value);
  const natsUrl = str('natsUrl') ?? DEFAULTS.natsUrl;
  if (natsUrl !== 'off' && !/^(nats|tls):\/\/[^\s]+$/.test(natsUrl)) {
    throw new UserError(
      `NATS URL must look like nats://host:port (or be "off"), got ${
        // A value with no scheme may be a password pasted in the wrong place: its length only.
        /^[a-z][a-z0-9+.-]*:\/\//i.test(natsUrl)
          ? quoteRedacted(natsUrl)
          : `a value that is not a URL (${[...natsUrl].length} characters, not shown: it may be a secret)`
      }`,
    );
  }
  // NATS credentials (VLDM_NATS_USER/PASSWORD, VLDM_NATS_TOKEN, VLDM_NATS_CREDS_FILE or the URL's user
  // info) are secrets too: environment only, checked here so a bad setting fails before anything starts.
  if (natsUrl !== 'off') natsTarget(natsUrl, env);
  // Payload keys are secrets, so they come only from the environment (VLDM_CODEC_KEYS) or a mounted
  // file (VLDM_CODEC_KEY_FILE), never from the config file; checked here so a bad key fails before
  // anything starts. Workers and clients load them again where they connect (src/security).
  keyringFromEnv(env, cwd);
  // The Temporal TLS switch and files, and the API key, checked (and the files read) here too, before
  // anything starts.
  temporalTlsFromEnv(env);
  temporalConnectOptions(env);
  const storeRaw = str('store');
  const packRaw = str('pack');
  const store = storeRaw === undefined ? path.join(stateDir, 'artifacts') : resolveIfPath(storeRaw, cwd);
  // Parsed (not connected) here, so `s3://` without a bucket or an unknown scheme fails at the edge.
  storeConfigFromUrl(store, env);
  return {
    temporalAddress,
    namespace,
    temporalUiUrl,
    store,
    storeGiven: storeRaw !== undefined,
    natsUrl,
    pack: packRaw === undefined ? defaultPack() : resolveIfPath(packRaw, cwd),
    stateDir,
    intraOpThreads,
    noiseThreads,
    modelThreads,
    executionProviders: executionProvidersOf(pick('executionProviders').value),
    retention: retentionOf(pick('retention')),
  };
}

/** The command-line flag of each key (for messages). */
const FLAG_OF: Record<SettingKey, string> = {
  temporalAddress: '--temporal-address',
  namespace: '--namespace',
  temporalUiUrl: '--temporal-ui',
  store: '--store',
  natsUrl: '--nats',
  pack: '--pack',
  stateDir: '--state-dir',
  intraOpThreads: '--threads',
  noiseThreads: 'VLDM_NOISE_THREADS',
  modelThreads: 'VLDM_MODEL_THREADS',
  executionProviders: 'VLDM_EXECUTION_PROVIDERS',
  retention: '--older-than',
};

const emptyIsUnset = (v: string | undefined) => (v === '' ? undefined : v);

const KNOWN_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'dml', 'coreml', 'webgpu'];

function executionProvidersOf(v: unknown): string[] {
  if (v === undefined) return ['cpu'];
  const list = (Array.isArray(v) ? v.map(String) : String(v).split(',')).map((p) => p.trim()).filter(Boolean);
  const bad = list.filter((p) => !KNOWN_PROVIDERS.includes(p));
  if (list.length === 0 || bad.length) {
    throw new UserError(
      `execution providers (${CONFIG_ENV.executionProviders}) must be a comma list of ${KNOWN_PROVIDERS.join(', ')}, got ${quote(Array.isArray(v) ? v.join(',') : v)}`,
    );
  }
  return list;
}

function retentionOf({ value, where }: { value: unknown; where: string }): number | 'off' {
  const v = value ?? DEFAULT_RETENTION;
  if (typeof v === 'string' && v.trim().toLowerCase() === 'off') return 'off';
  return parseDuration(`retention (${where})`, v);
}

function resolveIfPath(v: string, cwd: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : path.resolve(cwd, v);
}

/** Link to a job in the Temporal Web UI. */
export function jobUiUrl(cfg: Pick<VldmConfig, 'temporalUiUrl' | 'namespace'>, workflowId: string): string {
  return `${cfg.temporalUiUrl}/namespaces/${encodeURIComponent(cfg.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
