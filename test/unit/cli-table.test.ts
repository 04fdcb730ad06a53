/**
 * The `vldm` command table, argv → (command, arguments, flags), over the real program that `main`
 * runs, without running anything: the dispatcher only records each call. Every command must have a
 * row here, so adding a command or a flag without saying how it parses fails this test.
 */
import { CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, configOverrides, type CommandCall } from '../../src/cli/main';

type Parsed = Pick<CommandCall, 'command' | 'args' | 'flags'>;

function parse(line: string): Parsed {
  const calls: CommandCall[] = [];
  const program = buildProgram((call) => calls.push(call));
  program.parse(['node', 'vldm', ...line.split(' ').filter(Boolean)]);
  expect(calls).toHaveLength(1);
  const [{ command, args, flags }] = calls as [CommandCall];
  return { command, args, flags };
}

/** Every runnable command below `vldm`, as "parent child". */
function leafCommands(): string[] {
  const out: string[] = [];
  const walk = (cmd: ReturnType<typeof buildProgram>, prefix: string): void => {
    for (const sub of cmd.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.commands.length > 0) walk(sub, `${name} `);
      else out.push(name);
    }
  };
  walk(
    buildProgram(() => undefined),
    '',
  );
  return out;
}

const TABLE: Array<[argv: string, expected: Parsed]> = [
  ['generate', { command: 'generate', args: [], flags: {} }],
  [
    'generate --seconds 2 --scene night --seed 5 --out out.mp4',
    { command: 'generate', args: [], flags: { seconds: '2', scene: 'night', seed: '5', out: 'out.mp4' } },
  ],
  [
    'generate --json --fps 12 --traffic crowded --name n --job-id j-1 --deadline 2027-01-01T00:00:00Z --init-image a.png',
    {
      command: 'generate',
      args: [],
      flags: {
        json: true,
        fps: '12',
        traffic: 'crowded',
        name: 'n',
        jobId: 'j-1',
        deadline: '2027-01-01T00:00:00Z',
        initImage: 'a.png',
      },
    },
  ],
  [
    'submit --worker-pack /opt/vldm/models/reference --temporal-address temporal:7233 --namespace video',
    {
      command: 'submit',
      args: [],
      flags: {
        workerPack: '/opt/vldm/models/reference',
        temporalAddress: 'temporal:7233',
        namespace: 'video',
      },
    },
  ],
  [
    'plan --seconds 3600 --json --pack models/contract-test',
    { command: 'plan', args: [], flags: { seconds: '3600', json: true, pack: 'models/contract-test' } },
  ],
  ['worker', { command: 'worker', args: [], flags: { queues: 'all', graceSeconds: '30' } }],
  [
    'worker --queues upscale,decode --grace-seconds 5 --threads 4 --store s3://bucket/prefix',
    {
      command: 'worker',
      args: [],
      flags: { queues: 'upscale,decode', graceSeconds: '5', threads: '4', store: 's3://bucket/prefix' },
    },
  ],
  ['codec-server', { command: 'codec-server', args: [], flags: { port: '8888', host: '127.0.0.1' } }],
  [
    'codec-server --port 0 --ui-origin http://a:8233 http://b:8233',
    {
      command: 'codec-server',
      args: [],
      flags: { port: '0', host: '127.0.0.1', uiOrigin: ['http://a:8233', 'http://b:8233'] },
    },
  ],
  ['watch day-7-abc', { command: 'watch', args: ['day-7-abc'], flags: {} }],
  ['status day-7-abc --json', { command: 'status', args: ['day-7-abc'], flags: { json: true } }],
  ['list', { command: 'list', args: [], flags: { limit: '50' } }],
  [
    'list --limit 5 --temporal-ui http://ui:8233',
    { command: 'list', args: [], flags: { limit: '5', temporalUi: 'http://ui:8233' } },
  ],
  ['cancel day-7-abc --nats off', { command: 'cancel', args: ['day-7-abc'], flags: { nats: 'off' } }],
  [
    'fetch day-7-abc --out x.mp4 --state-dir /tmp/s',
    { command: 'fetch', args: ['day-7-abc'], flags: { out: 'x.mp4', stateDir: '/tmp/s' } },
  ],
  ['report day-7-abc', { command: 'report', args: ['day-7-abc'], flags: {} }],
  [
    'report day-7-abc --json --out r.html --pools pools.json',
    { command: 'report', args: ['day-7-abc'], flags: { json: true, out: 'r.html', pools: 'pools.json' } },
  ],
  [
    'fetch day-7-abc --preview --out p.mp4 --json',
    { command: 'fetch', args: ['day-7-abc'], flags: { preview: true, out: 'p.mp4', json: true } },
  ],
  ['gc', { command: 'gc', args: [], flags: {} }],
  [
    'gc --older-than 36h --job day-7-abc --dry-run --json --store s3://bucket/prefix',
    {
      command: 'gc',
      args: [],
      flags: { olderThan: '36h', job: 'day-7-abc', dryRun: true, json: true, store: 's3://bucket/prefix' },
    },
  ],
  ['seams out.mp4', { command: 'seams', args: ['out.mp4'], flags: { maxRatio: '1.5' } }],
  [
    'seams out.mp4 --seconds 10 --seed 7 --at 112,208 --max-ratio 2 --json',
    {
      command: 'seams',
      args: ['out.mp4'],
      flags: { seconds: '10', seed: '7', at: '112,208', maxRatio: '2', json: true },
    },
  ],
  [
    'bench',
    {
      command: 'bench',
      args: [],
      flags: { gpus: '8', dilation: '1', schedule: 'dataflow', benchStore: 'folder' },
    },
  ],
  [
    'bench --seconds 300 --gpus 8,32,64 --processes 4 --dilation 40 --gpu-nice 0 --schedule both --bench-store minio --gpu-factor 0.1 --json',
    {
      command: 'bench',
      args: [],
      flags: {
        seconds: '300',
        gpus: '8,32,64',
        processes: '4',
        dilation: '40',
        gpuNice: '0',
        schedule: 'both',
        benchStore: 'minio',
        gpuFactor: '0.1',
        json: true,
      },
    },
  ],
  [
    'bench --seconds 30 --gpus 32 --kills 50 --kill-every 6 --kill-seed 3',
    {
      command: 'bench',
      args: [],
      flags: {
        seconds: '30',
        gpus: '32',
        kills: '50',
        killEvery: '6',
        killSeed: '3',
        dilation: '1',
        schedule: 'dataflow',
        benchStore: 'folder',
      },
    },
  ],
  ['models verify', { command: 'models verify', args: [], flags: {} }],
  [
    'models verify models/contract-test --threads 2 --json --config c.json',
    {
      command: 'models verify',
      args: ['models/contract-test'],
      flags: { threads: '2', json: true, config: 'c.json' },
    },
  ],
  [
    'dev up --only temporal,nats --json',
    { command: 'dev up', args: [], flags: { only: 'temporal,nats', json: true } },
  ],
  ['dev down', { command: 'dev down', args: [], flags: {} }],
  ['dev status --json', { command: 'dev status', args: [], flags: { json: true } }],
  ['scaler run', { command: 'scaler run', args: [], flags: { interval: '15', lease: 'vldm-scaler' } }],
  [
    'scaler run --once --dry-run --json --pools p.json --kube-namespace ns --identity me --kubeconfig k.yaml',
    {
      command: 'scaler run',
      args: [],
      flags: {
        interval: '15',
        lease: 'vldm-scaler',
        once: true,
        dryRun: true,
        json: true,
        pools: 'p.json',
        kubeNamespace: 'ns',
        identity: 'me',
        kubeconfig: 'k.yaml',
      },
    },
  ],
  [
    'scaler simulate --seed 3 --trace t.json',
    { command: 'scaler simulate', args: [], flags: { seed: '3', trace: 't.json' } },
  ],
  [
    'scaler measure day-7-abc --json',
    { command: 'scaler measure', args: ['day-7-abc'], flags: { json: true } },
  ],
];

const REFUSED: Array<[argv: string, code: string]> = [
  ['generate --bogus', 'commander.unknownOption'],
  ['generate --seconds', 'commander.optionMissingArgument'],
  ['status', 'commander.missingArgument'],
  ['report', 'commander.missingArgument'],
  ['plan extra', 'commander.excessArguments'],
  ['frobnicate', 'commander.unknownCommand'],
  ['gc --older-than', 'commander.optionMissingArgument'],
  ['gc extra', 'commander.excessArguments'],
];

describe('vldm command table', () => {
  // commander prints its own one-line error for refused lines; the table only checks the outcome.
  beforeEach(() => vi.spyOn(process.stderr, 'write').mockImplementation(() => true));
  afterEach(() => vi.restoreAllMocks());

  it.each(TABLE)('%s', (argv, expected) => {
    expect(parse(argv)).toEqual(expected);
  });

  it.each(REFUSED)('refuses %s (%s)', (argv, code) => {
    expect(() => parse(argv)).toThrow(CommanderError);
    expect(() => parse(argv)).toThrow(expect.objectContaining({ code }));
  });

  it('has a row for every command', () => {
    const covered = new Set(TABLE.map(([, e]) => e.command));
    expect(leafCommands().filter((c) => !covered.has(c))).toEqual([]);
  });

  it('maps the configuration flags onto configuration keys', () => {
    const flags = parse(
      'worker --config c.json --temporal-address t:7233 --namespace ns --temporal-ui http://ui:8233 --store /s --nats off --pack p --state-dir /d --threads 3',
    ).flags;
    expect(configOverrides(flags)).toEqual({
      config: 'c.json',
      temporalAddress: 't:7233',
      namespace: 'ns',
      temporalUiUrl: 'http://ui:8233',
      store: '/s',
      natsUrl: 'off',
      pack: 'p',
      stateDir: '/d',
      intraOpThreads: '3',
    });
  });
});
