/**
 * vldm's configuration, resolved in one place: command-line flags over environment variables over a
 * JSON config file over defaults. Every key is documented in docs/configuration.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../common/names';
import { UserError } from '../common/errors';
import { defaultStateDir } from '../host/paths';
import { repoRoot } from '../host/paths';
import { keyringFromEnv } from '../security/keys';
import { natsTarget, redactNatsUrl } from '../events/auth';

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
  /** onnxruntime execution providers, in order of preference, e.g. "cuda,cpu" on GPU pods. @default "cpu" */
  executionProviders: string[];
}

/** Environment variables, one per key. */
export const CONFIG_ENV: Record<keyof VldmConfig, string> = {
  temporalAddress: 'VLDM_TEMPORAL_ADDRESS',
  namespace: 'VLDM_TEMPORAL_NAMESPACE',
  temporalUiUrl: 'VLDM_TEMPORAL_UI',
  store: 'VLDM_STORE',
  natsUrl: 'VLDM_NATS_URL',
  pack: 'VLDM_PACK',
  stateDir: 'VLDM_STATE_DIR',
  intraOpThreads: 'VLDM_THREADS',
  executionProviders: 'VLDM_EXECUTION_PROVIDERS',
};

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

function readConfigFile(file: string | undefined, cwd: string): Partial<VldmConfig> {
  const explicit = file !== undefined;
  const p = path.resolve(cwd, file ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(p)) {
    if (explicit) throw new UserError(`config file ${p} does not exist`);
    return {};
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(p, 'utf8'));
  } catch (err) {
    throw new UserError(`config file ${p} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UserError(`config file ${p} must hold a JSON object`);
  const known = Object.keys(CONFIG_ENV);
  for (const k of Object.keys(json)) {
    if (!known.includes(k))
      throw new UserError(`config file ${p}: unknown key "${k}" (known: ${known.join(', ')})`);
  }
  return json as Partial<VldmConfig>;
}

/** Resolve the configuration. `flags` holds only the options given on the command line. */
export function resolveConfig(
  flags: Partial<VldmConfig> & { config?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): VldmConfig {
  const file = readConfigFile(flags.config ?? env[CONFIG_FILE_ENV], cwd);
  const fromEnv: Partial<Record<keyof VldmConfig, string>> = {};
  for (const [k, name] of Object.entries(CONFIG_ENV) as Array<[keyof VldmConfig, string]>) {
    if (env[name] !== undefined && env[name] !== '') fromEnv[k] = env[name];
  }
  const pick = <K extends keyof VldmConfig>(k: K): VldmConfig[K] | string | undefined =>
    flags[k] ?? fromEnv[k] ?? file[k];
  const stateDir = path.resolve(cwd, String(pick('stateDir') ?? defaultStateDir(cwd)));
  const threadsRaw = pick('intraOpThreads') ?? 1;
  const intraOpThreads = Number(threadsRaw);
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1 || intraOpThreads > 256) {
    throw new UserError(
      `intraOpThreads (${CONFIG_ENV.intraOpThreads}) must be an integer in [1, 256], got ${String(threadsRaw)}`,
    );
  }
  const temporalAddress = String(pick('temporalAddress') ?? DEFAULTS.temporalAddress);
  if (!/^[^\s:/]+:\d{1,5}$/.test(temporalAddress)) {
    throw new UserError(`temporal address must be host:port, got "${temporalAddress}"`);
  }
  const natsUrl = String(pick('natsUrl') ?? DEFAULTS.natsUrl);
  if (natsUrl !== 'off' && !/^(nats|tls):\/\/[^\s]+$/.test(natsUrl)) {
    throw new UserError(
      `NATS URL must look like nats://host:port (or be "off"), got "${redactNatsUrl(natsUrl)}"`,
    );
  }
  // NATS credentials (VLDM_NATS_USER/PASSWORD, VLDM_NATS_TOKEN, VLDM_NATS_CREDS_FILE or the URL's user
  // info) are secrets too: environment only, checked here so a bad setting fails before anything starts.
  if (natsUrl !== 'off') natsTarget(natsUrl, env);
  // Payload keys are secrets, so they come only from the environment (VLDM_CODEC_KEYS) or a mounted
  // file (VLDM_CODEC_KEY_FILE), never from the config file; checked here so a bad key fails before
  // anything starts. Workers and clients load them again where they connect (src/security).
  keyringFromEnv(env, cwd);
  const storeRaw = pick('store');
  const packRaw = pick('pack');
  return {
    temporalAddress,
    namespace: String(pick('namespace') ?? DEFAULTS.namespace),
    temporalUiUrl: String(pick('temporalUiUrl') ?? `http://127.0.0.1:${DEFAULTS.temporalUiPort}`).replace(
      /\/+$/,
      '',
    ),
    store: storeRaw === undefined ? path.join(stateDir, 'artifacts') : resolveIfPath(String(storeRaw), cwd),
    natsUrl,
    pack: packRaw === undefined ? defaultPack() : resolveIfPath(String(packRaw), cwd),
    stateDir,
    intraOpThreads,
    executionProviders: executionProvidersOf(pick('executionProviders')),
  };
}

const KNOWN_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'dml', 'coreml', 'webgpu'];

function executionProvidersOf(v: unknown): string[] {
  if (v === undefined) return ['cpu'];
  const list = (Array.isArray(v) ? v.map(String) : String(v).split(',')).map((p) => p.trim()).filter(Boolean);
  const bad = list.filter((p) => !KNOWN_PROVIDERS.includes(p));
  if (list.length === 0 || bad.length) {
    throw new UserError(
      `execution providers (${CONFIG_ENV.executionProviders}) must be a comma list of ${KNOWN_PROVIDERS.join(', ')}, got "${String(v)}"`,
    );
  }
  return list;
}

function resolveIfPath(v: string, cwd: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : path.resolve(cwd, v);
}

/** Link to a job in the Temporal Web UI. */
export function jobUiUrl(cfg: Pick<VldmConfig, 'temporalUiUrl' | 'namespace'>, workflowId: string): string {
  return `${cfg.temporalUiUrl}/namespaces/${encodeURIComponent(cfg.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
