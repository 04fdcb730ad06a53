/**
 * Property-based fuzz of the CLI edge and the config loader (issue 13): random command lines, config
 * files and environments built from hostile pieces (control characters, ANSI escapes, long values,
 * loose numbers and booleans, FIFOs, secret-bearing URLs). Every case either succeeds or exits 2 with
 * exactly one line `vldm: …` holding no control character, no secret and no stack trace, within a
 * time bound; a refused case writes nothing and starts no server.
 *
 * Most cases run `vldm plan` in-process through `main` (the same parser, config loader and edge as
 * the binary, and fast enough for a few hundred runs); a sample also runs as real processes, with
 * `submit` against an address where nothing listens. The seed is fixed (FUZZ_SEED to change it,
 * FUZZ_RUNS for a longer run: see docs/reliability.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/host/paths';
import { runCli } from '../support/cli';
import { CONTRACT_PACK } from '../support/pipeline';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const PROCESS_RUNS = Number(process.env.FUZZ_PROCESS_RUNS ?? 12);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vldm-fuzz-'));
/** Where refused cases must not write: the state folder every case points at. */
const stateDir = path.join(tmp, 'state');
const fifo = path.join(tmp, 'pipe');
execFileSync('mkfifo', [fifo]);

/** Secrets the generated settings may carry; none may ever be printed. */
const SECRETS = ['hunt@r2-pw', 's3cr3t-tok', 'p:ss w0rd'];

const hostile = fc.constantFrom(
  '',
  ' ',
  '0',
  '-1',
  '1.5',
  '0x10',
  '1e3',
  'NaN',
  'true',
  'TRUE',
  'yes',
  'maybe',
  '99999',
  '2',
  'day',
  'night',
  'clear',
  'a\nvldm: forged',
  '\u001b[2J\u001b[H',
  '\u0007bell',
  '\u202eevil',
  'x'.repeat(5000),
  '[::1]:7233',
  '127.0.0.1:99999',
  '127.0.0.1:1',
  'localhost',
  's3://',
  's3://Bad_Bucket',
  '2024-02-30T00:00:00Z',
  '2099-01-01T00:00:00Z',
  '2020-01-01T00:00:00Z',
  'hello 2020',
  '../../etc/passwd',
  fifo,
  '/dev/zero',
  '/proc/x.mp4',
);
/** Values that carry a secret: only ever given where a secret belongs (NATS URL and token). */
const secretValue = fc.constantFrom(
  'nats://bob:hunt@r2-pw@127.0.0.1:4222',
  'nats://s3cr3t-tok@127.0.0.1:4222',
  'nats://u:p:ss w0rd@h:4222',
  'nats://u:p:ss w0rd@h:4222\n',
  's3cr3t-tok',
);
const SECRET_SLOTS = new Set(['--nats', 'VLDM_NATS_URL', 'VLDM_NATS_TOKEN', 'natsUrl']);
const value = fc.oneof(hostile, fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));

/** Each flag with values it accepts: half the values drawn are these, so successes are fuzzed too. */
const FLAGS: Record<string, string[]> = {
  '--seconds': ['2', '1', '0.5'],
  '--fps': ['24'],
  '--scene': ['day', 'night'],
  '--traffic': ['clear', 'crowded'],
  '--seed': ['0', '7', '4294967295'],
  '--name': ['ok-name', 'Night Drive'],
  '--job-id': ['job-1'],
  '--deadline': ['2099-01-01T00:00:00Z', '2099-06-30T12:00:00.5+02:00'],
  '--temporal-address': ['127.0.0.1:7233', '[::1]:7233', 'temporal.example.com:443'],
  '--namespace': ['default', 'prod.a2b3c'],
  '--temporal-ui': ['http://127.0.0.1:8233'],
  '--store': [path.join(tmp, 'store'), 's3://vldm-bucket/prefix'],
  '--nats': ['off', 'nats://127.0.0.1:4222'],
  '--threads': ['1', '4'],
};
const flagPair = fc
  .constantFrom(...Object.keys(FLAGS))
  .chain((flag) => fc.tuple(fc.constant(flag), fc.oneof(fc.constantFrom(...FLAGS[flag]), value)));

const ENV_KEYS = [
  'VLDM_THREADS',
  'VLDM_TEMPORAL_ADDRESS',
  'VLDM_TEMPORAL_NAMESPACE',
  'VLDM_TEMPORAL_TLS',
  'VLDM_TEMPORAL_TLS_CA_FILE',
  'VLDM_NATS_URL',
  'VLDM_NATS_CREDS_FILE',
  'VLDM_NATS_TOKEN',
  'VLDM_STORE',
  'VLDM_EXECUTION_PROVIDERS',
];
const ENV_OK: Record<string, string[]> = {
  VLDM_THREADS: ['2'],
  VLDM_TEMPORAL_ADDRESS: ['[::1]:7233'],
  VLDM_TEMPORAL_NAMESPACE: ['default'],
  VLDM_TEMPORAL_TLS: ['false', 'OFF', '0'],
  VLDM_NATS_URL: ['off'],
  VLDM_STORE: [path.join(tmp, 'store')],
  VLDM_EXECUTION_PROVIDERS: ['cpu'],
};
const envArb = fc
  .uniqueArray(
    fc
      .constantFrom(...ENV_KEYS)
      .chain((k) =>
        fc.tuple(
          fc.constant(k),
          fc.oneof(
            ENV_OK[k] ? fc.constantFrom(...ENV_OK[k]) : value,
            SECRET_SLOTS.has(k) ? secretValue : value,
            value,
          ),
        ),
      ),
    { selector: (p) => p[0], maxLength: 3 },
  )
  .map((pairs) => Object.fromEntries(pairs) as Record<string, string>);

const CONFIG_KEYS = ['store', 'intraOpThreads', 'namespace', 'temporalAddress', 'temporal', 'pack'];
const jsonValue = fc.oneof(
  value,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
);
/** A config file: none, JSON with random keys and values, or raw bytes. */
const configArb = fc.option(
  fc.oneof(
    fc
      .record(
        {
          natsUrl: secretValue,
          rest: fc.dictionary(fc.constantFrom(...CONFIG_KEYS), jsonValue, { maxKeys: 3 }),
        },
        { requiredKeys: ['rest'] },
      )
      .map(({ natsUrl, rest }) => JSON.stringify(natsUrl === undefined ? rest : { ...rest, natsUrl })),
    fc.string({ unit: 'binary', maxLength: 40 }),
  ),
);

const caseArb = fc.record({
  flags: fc.uniqueArray(flagPair, { selector: (p) => p[0], maxLength: 4 }),
  env: envArb,
  config: configArb,
});
type FuzzCase = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** Every VLDM_* variable of this process, so each case sees only its own. */
const ownEnv = Object.keys(process.env).filter((k) => k.startsWith('VLDM_') && k !== 'VLDM_TEST_PORT_OFFSET');

/**
 * The built CLI's `main` (what bin/vldm.js runs): its commands load lazily with `require`, which
 * finds the compiled modules only (npm run build first, as for every test that runs `vldm`).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { main } = require(
  path.join(process.env.FUZZ_CLI_ROOT ?? repoRoot(), 'dist', 'src', 'cli', 'main.js'),
) as typeof import('../../src/cli/main');

let caseNo = 0;
function argvOf(c: FuzzCase, command: string[]): string[] {
  const argv = [...command, '--pack', CONTRACT_PACK, '--state-dir', stateDir];
  for (const [flag, v] of c.flags) argv.push(flag, v);
  if (c.config !== null) {
    const file = path.join(tmp, 'configs', `c${caseNo++}.json`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, c.config);
    argv.push('--config', file);
  }
  return argv;
}

/** The contract of one refused or accepted run. */
function checkOutcome(c: FuzzCase, code: number, stderr: string): void {
  const ctx = JSON.stringify(c).slice(0, 400);
  expect([0, 2], `${ctx}\n${stderr}`).toContain(code);
  if (code === 2) {
    // Exactly one line, starting "vldm: ", with no control character (and so no ANSI escape).
    expect(stderr, ctx).toMatch(/^vldm: [^\n]*\n$/);
    // eslint-disable-next-line no-control-regex
    expect(stderr, ctx).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    expect(stderr, ctx).not.toMatch(/\n\s+at |Error: /);
    expect(stderr.length, ctx).toBeLessThan(1500);
  }
  for (const s of SECRETS) expect(stderr, ctx).not.toContain(s);
  // Nothing written, no server started: the state folder was never made.
  expect(readdirSync(tmp).includes('state'), ctx).toBe(false);
}

describe('fuzzing the CLI edge and the config loader', () => {
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const k of ownEnv) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
  });
  afterAll(() => Object.assign(process.env, saved));

  it(`plan, in-process: ${RUNS} cases succeed or refuse cleanly (seed ${SEED})`, async () => {
    const codes: number[] = [];
    const write = { out: process.stdout.write, err: process.stderr.write };
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        let stderr = '';
        for (const [k, v] of Object.entries(c.env)) process.env[k] = v;
        process.stdout.write = (() => true) as typeof process.stdout.write;
        process.stderr.write = ((chunk: string | Uint8Array) => {
          stderr += chunk.toString();
          return true;
        }) as typeof process.stderr.write;
        const t0 = Date.now();
        let code: number;
        try {
          code = await main(['node', 'vldm', ...argvOf(c, ['plan', '--json'])]);
        } finally {
          process.stdout.write = write.out;
          process.stderr.write = write.err;
          for (const k of Object.keys(c.env)) delete process.env[k];
        }
        expect(Date.now() - t0, JSON.stringify(c).slice(0, 300)).toBeLessThan(5000);
        checkOutcome(c, code, stderr);
        codes.push(code);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // Both outcomes are exercised: the generator reaches accepted command lines, not only refusals.
    const ok = codes.filter((c) => c === 0).length;
    expect(ok, `${ok} of ${codes.length} accepted`).toBeGreaterThanOrEqual(Math.ceil(RUNS * 0.03));
    expect(codes.length - ok).toBeGreaterThanOrEqual(Math.ceil(RUNS * 0.3));
  }, 60_000);

  it(`submit, as real processes: ${PROCESS_RUNS} cases refuse cleanly (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const t0 = Date.now();
        // Nothing listens on port 1: every case is refused, at the edge or when connecting.
        const argv = [...argvOf(c, ['submit']), '--temporal-address', '127.0.0.1:1'];
        const r = await runCli(argv, { ...c.env, ...Object.fromEntries(ownEnv.map((k) => [k, ''])) }, 20_000);
        expect(Date.now() - t0).toBeLessThan(20_000);
        expect(r.code, r.stderr).toBe(2);
        checkOutcome(c, r.code ?? -1, r.stderr);
      }),
      { seed: SEED, numRuns: PROCESS_RUNS, endOnFailure: true },
    );
  }, 120_000);
});
