/**
 * The `vldm` command table. Each command is a plain async function in commands/ that returns its exit
 * code; they are loaded only when run, so `vldm --help` never loads onnxruntime, Temporal or the AWS
 * SDK. Exit codes (./exit-codes.ts): 0 success, 1 failure, 2 a user error, with one clear line and no
 * stack trace. Parsing is separate from running: `buildProgram` hands each parsed command line to a
 * dispatcher as a `CommandCall`, which `main` runs and test/unit/cli-table.test.ts only records.
 */
import { Command, CommanderError, Option } from 'commander';
import { UserError } from '../common/errors';
import type { VldmConfig } from '../config/config';
import type { JobFlags } from './edge';
import { EXIT } from './exit-codes';
import { vldmVersion } from './version';

export { EXIT };

/** One parsed command line: which command, its positional arguments and flags, and how to run it. */
export interface CommandCall {
  /** The command's path below `vldm`, e.g. `generate` or `models verify`. */
  command: string;
  args: string[];
  /** The flags as commander parsed them (strings; defaults filled in). */
  flags: Record<string, unknown>;
  run: () => Promise<number>;
}

/** Lazily load a command module (CommonJS require keeps --help fast). */
function lazy<M>(path: string): () => M {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return () => require(path) as M;
}

const load = {
  generate: lazy<typeof import('./commands/generate')>('./commands/generate'),
  submit: lazy<typeof import('./commands/submit')>('./commands/submit'),
  jobs: lazy<typeof import('./commands/jobs')>('./commands/jobs'),
  worker: lazy<typeof import('./commands/worker')>('./commands/worker'),
  plan: lazy<typeof import('./commands/plan')>('./commands/plan'),
  dev: lazy<typeof import('./commands/dev')>('./commands/dev'),
  codecServer: lazy<typeof import('./commands/codec-server')>('./commands/codec-server'),
  models: lazy<typeof import('./commands/models')>('./commands/models'),
  seams: lazy<typeof import('./commands/seams')>('./commands/seams'),
  bench: lazy<typeof import('./commands/bench')>('./commands/bench'),
  report: lazy<typeof import('./commands/report')>('./commands/report'),
  gc: lazy<typeof import('./commands/gc')>('./commands/gc'),
  config: lazy<typeof import('../config/config')>('../config/config'),
};

/** Options every command accepts (configuration; see docs/configuration.md). */
function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'JSON config file (default ./vldm.config.json when present; env VLDM_CONFIG)')
    .option(
      '--temporal-address <host:port>',
      'Temporal frontend (env VLDM_TEMPORAL_ADDRESS, default 127.0.0.1:7233)',
    )
    .option('--namespace <ns>', 'Temporal namespace (env VLDM_TEMPORAL_NAMESPACE, default "default")')
    .option(
      '--temporal-ui <url>',
      'Temporal Web UI base URL (env VLDM_TEMPORAL_UI, default http://127.0.0.1:8233)',
    )
    .option(
      '--store <url>',
      'artifact store: folder or s3://bucket/prefix (env VLDM_STORE, default <state-dir>/artifacts)',
    )
    .option(
      '--nats <url>',
      'NATS URL for progress events, or "off" (env VLDM_NATS_URL, default nats://127.0.0.1:4222)',
    )
    .option('--pack <dir>', 'model pack folder (env VLDM_PACK, default models/reference)')
    .option('--state-dir <dir>', "local servers' data and logs (env VLDM_STATE_DIR, default ./.vldm)")
    .option('--threads <n>', 'onnxruntime threads per model call (env VLDM_THREADS, default 1)');
}

function withJobOptions(cmd: Command): Command {
  return cmd
    .option('--seconds <s>', 'video length in seconds (default 10)')
    .option('--fps <n>', "frames per second (default: the pack's rate, 24)")
    .option('--scene <label>', 'lighting label: day or night (default day)')
    .option('--traffic <label>', 'traffic label: clear or crowded (default clear)')
    .option('--seed <n>', 'seed of every random draw, 0–4294967295 (default 0)')
    .option('--name <name>', 'job name, the readable prefix of the job id (default <scene>-<seed>)')
    .option('--job-id <id>', 'explicit job id (default <name>-<hash of the spec and pack>)')
    .option(
      '--deadline <time>',
      'when the job must be done, RFC 3339 (e.g. 2027-01-01T09:00:00Z); read by the scaler',
    )
    .option(
      '--init-image <file>',
      "PNG or JPEG to start the video from (frame 0), scaled and centre-cropped to the pack's base size",
    );
}

interface ConfigFlags {
  config?: string;
  temporalAddress?: string;
  namespace?: string;
  temporalUi?: string;
  store?: string;
  nats?: string | boolean;
  pack?: string;
  stateDir?: string;
  threads?: string;
}

/** Every flag any command takes, as commander parses them. */
interface AllFlags extends ConfigFlags, JobFlags {
  json?: boolean;
  out?: string;
  queues?: string;
  graceSeconds?: string;
  workerPack?: string;
}

/** The configuration keys the flags set (the rest comes from the environment, the file, defaults). */
export function configOverrides(flags: ConfigFlags): Partial<VldmConfig> & { config?: string } {
  return {
    ...(flags.config !== undefined ? { config: flags.config } : {}),
    ...(flags.temporalAddress !== undefined ? { temporalAddress: flags.temporalAddress } : {}),
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    ...(flags.temporalUi !== undefined ? { temporalUiUrl: flags.temporalUi } : {}),
    ...(flags.store !== undefined ? { store: flags.store } : {}),
    ...(typeof flags.nats === 'string' ? { natsUrl: flags.nats } : {}),
    ...(flags.pack !== undefined ? { pack: flags.pack } : {}),
    ...(flags.stateDir !== undefined ? { stateDir: flags.stateDir } : {}),
    ...(flags.threads !== undefined ? { intraOpThreads: flags.threads as unknown as number } : {}),
  };
}

function configOf(flags: ConfigFlags): VldmConfig {
  return load.config().resolveConfig(configOverrides(flags));
}

/** `vldm` and the commands above `cmd`, e.g. `models verify`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function buildProgram(dispatch: (call: CommandCall) => void): Command {
  /** A commander action that hands the parsed arguments and flags to the dispatcher, `start` as its run. */
  function act<F>(start: (args: string[], flags: F) => Promise<number>) {
    return (...params: unknown[]): void => {
      // commander calls an action with (...arguments, flags, command).
      const self = params[params.length - 1] as Command;
      const args = (self.processedArgs as unknown[]).filter((a) => a !== undefined).map(String);
      const flags = self.opts<F & Record<string, unknown>>();
      dispatch({ command: commandPath(self), args, flags, run: () => start(args, flags) });
    };
  }
  const program = new Command('vldm')
    .description('Video LDM long-video generation, orchestrated by Temporal (see README.md)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .version(vldmVersion(), '-V, --version', 'print the version of vldm and exit')
    .option('--log-format <format>', 'log lines as text or json (env VLDM_LOG_FORMAT, default text)')
    // Set before any command module loads; src/observability/log.ts reads it (and checks it).
    .hook('preAction', (self) => {
      const f = self.opts<{ logFormat?: string }>().logFormat;
      if (f !== undefined && f !== 'text' && f !== 'json')
        throw new UserError(`--log-format must be text or json, got "${f}"`);
      if (f !== undefined) process.env.VLDM_LOG_FORMAT = f;
    });

  withJobOptions(withConfigOptions(program.command('generate')))
    .description(
      'run a whole job on this machine (local Temporal dev server, in-process workers) and write the MP4',
    )
    .option('--out <file.mp4>', 'where to write the video')
    .option('--json', 'print one JSON object when done instead of progress bars')
    .action(act((_args: string[], o: AllFlags) => load.generate().generate(o, configOf(o))));

  withJobOptions(withConfigOptions(program.command('submit')))
    .description('validate a job and start it on a Temporal server (workers run elsewhere)')
    .option('--json', 'print the job id etc. as JSON')
    .option(
      '--worker-pack <path>',
      "where the workers find the pack, when not at --pack's path (e.g. /opt/vldm/models/reference in the images)",
    )
    .action(act((_args: string[], o: AllFlags) => load.submit().submit(o, configOf(o))));

  withJobOptions(withConfigOptions(program.command('plan')))
    .description('print the plan of a job (segments, windows, tiles, activity counts) without running it')
    .option('--json', 'print the whole plan as JSON')
    .action(act((_args: string[], o: AllFlags) => load.plan().plan(o, configOf(o))));

  withConfigOptions(program.command('worker'))
    .description('run workers for some task queues until SIGTERM/SIGINT')
    .option(
      '--queues <list>',
      'all, or a comma list of orchestration,keyframe,interpolation,decode,upscale,media',
      'all',
    )
    .option('--grace-seconds <s>', 'time running activities get to finish on shutdown', '30')
    .action(act((_args: string[], o: AllFlags) => load.worker().worker(o, configOf(o))));

  withConfigOptions(program.command('codec-server'))
    .description(
      'decode encrypted payloads for the Temporal Web UI (remote codec protocol; keys from VLDM_CODEC_KEYS or VLDM_CODEC_KEY_FILE)',
    )
    .option('--port <n>', 'TCP port (0 picks a free one)', '8888')
    .option('--host <addr>', 'interface to listen on', '127.0.0.1')
    .option(
      '--ui-origin <url...>',
      "Web UI origin(s) allowed by CORS (default: the configured Temporal UI's)",
    )
    .action(
      act((_args: string[], o: ConfigFlags & { port?: string; host?: string; uiOrigin?: string[] }) =>
        load.codecServer().codecServer(o, configOf(o)),
      ),
    );
  for (const [name, desc] of [
    ['watch', "draw a job's progress until it ends"],
    ['status', "show a job's state and progress"],
  ] as const) {
    withConfigOptions(program.command(`${name} <jobId>`))
      .description(desc)
      .option('--json', 'JSON output')
      .action(
        act(([id]: string[], o: ConfigFlags & { json?: boolean }) => load.jobs()[name](id, o, configOf(o))),
      );
  }
  withConfigOptions(program.command('list'))
    .description('list jobs, newest first')
    .option('--json', 'JSON output')
    .option('--limit <n>', 'at most this many', '50')
    .action(
      act((_args: string[], o: ConfigFlags & { json?: boolean; limit?: string }) =>
        load.jobs().list(o, configOf(o)),
      ),
    );
  withConfigOptions(program.command('cancel <jobId>'))
    .description('cancel a job (its segments and running activities stop)')
    .action(act(([id]: string[], o: ConfigFlags) => load.jobs().cancel(id, o, configOf(o))));
  withConfigOptions(program.command('fetch <jobId>'))
    .description("copy a finished job's MP4 from the artifact store")
    .option('--out <file.mp4>', 'where to write the video')
    .option(
      '--preview',
      'the early preview instead: the frames decoded so far, at base resolution (running jobs too)',
    )
    .option('--json', 'JSON output')
    .action(
      act(([id]: string[], o: ConfigFlags & { out?: string; json?: boolean; preview?: boolean }) =>
        load.jobs().fetch(id, o, configOf(o)),
      ),
    );

  withConfigOptions(program.command('report <jobId>'))
    .description(
      'what a job did, from its Temporal histories: workers, time per stage, queue waits, retries, cost (works on a running job too)',
    )
    .option('--json', 'print the whole report as JSON')
    .option('--out <file.html>', 'also write a self-contained HTML page (Gantt chart and tables)')
    .option('--pools <file>', "price the run with the scaler's pools file (docs/scaling.md)")
    .action(
      act(([id]: string[], o: ConfigFlags & import('./commands/report').ReportFlags) =>
        load.report().report(id, o, configOf(o)),
      ),
    );

  withConfigOptions(program.command('gc'))
    .description(
      "delete finished jobs' intermediate artifacts (decoded frames, upscaled tiles) once they are old enough; keeps outputs, clips, keyframes and latents",
    )
    .option(
      '--older-than <duration>',
      'only jobs finished at least this long ago, e.g. 36h or 7d (env VLDM_RETENTION, default 7d)',
    )
    .option('--job <id>', 'only this job')
    .option('--dry-run', 'report what would be deleted; delete nothing')
    .option('--json', 'print one JSON report')
    .action(
      act((_args: string[], o: ConfigFlags & import('./commands/gc').GcFlags) =>
        load.gc().gc(
          o,
          load.config().resolveConfig({
            ...configOverrides(o),
            ...(o.olderThan !== undefined ? { retention: o.olderThan as unknown as number } : {}),
          }),
        ),
      ),
    );

  withJobOptions(withConfigOptions(program.command('seams <video>')))
    .description(
      "frame change at the job's segment boundaries and clip joins ÷ the change around them (exit 1 above --max-ratio)",
    )
    .option('--at <frames>', 'comma list of frames to check instead of the plan of the job flags')
    .option('--max-ratio <r>', 'the most a boundary may be, as a multiple of the change around it', '1.5')
    .option('--json', 'JSON report')
    .action(
      act(([video]: string[], o: AllFlags & import('./commands/seams').SeamFlags) =>
        load.seams().seams(video, o, configOf(o)),
      ),
    );

  withJobOptions(withConfigOptions(program.command('bench')))
    .description(
      'the orchestration at fleet scale on EMULATED accelerators: makespan against its lower bound (docs/performance.md)',
    )
    .option('--gpus <list>', 'emulated accelerator slots, one run per value, e.g. 8,32,64', '8')
    .option('--processes <n>', 'GPU worker processes the slots are spread over (default min(G, 4))')
    .option('--dilation <x>', 'stretch every emulated call ×x, so the host is not the bottleneck', '1')
    .option(
      '--gpu-nice <n>',
      'niceness 0–19 of the GPU worker processes, so orchestration and Temporal are not starved (default 10)',
    )
    .option(
      '--gpu-factor <f>',
      'default speed table: reference CPU speeds × f (default 0.05, stated, not measured)',
    )
    .option('--speed-table <file>', 'JSON speed table (ms per call per role) instead of the default')
    .option(
      '--schedule <s>',
      'dataflow (today), barrier (version 1, a barrier after each stage) or both',
      'dataflow',
    )
    .option('--bench-store <kind>', 'artifact store of the bench: folder or minio', 'folder')
    .option('--kills <n>', 'chaos: kill a random worker n times during each job (SIGKILL or SIGTERM)')
    .option('--kill-every <s>', 'chaos: about every s seconds (±50%, seeded; default 8)')
    .option('--kill-seed <n>', 'chaos: seed of the kill moments, victims and signals (default 1)')
    .option('--json', 'one JSON object with every run')
    .action(
      act((_args: string[], o: AllFlags & import('./commands/bench').BenchFlags) =>
        load.bench().bench(o, configOf(o)),
      ),
    );

  const models = program.command('models').description('model packs');
  withConfigOptions(models.command('verify [pack]'))
    .description(
      'check a model pack (default: the configured one) against the model contract (docs/model-contract.md)',
    )
    .option('--json', 'JSON report')
    .action(
      act(([pack]: string[], o: ConfigFlags & { json?: boolean }) =>
        load.models().modelsVerify(pack, o, configOf(o)),
      ),
    );

  const dev = program.command('dev').description('local servers (Temporal, MinIO, NATS) in the background');
  withConfigOptions(dev.command('up'))
    .description('start (or reuse) the local servers and print their addresses')
    .option('--only <kinds>', 'comma list of temporal,minio,nats')
    .option('--json', 'JSON output')
    .action(
      act((_args: string[], o: ConfigFlags & { only?: string; json?: boolean }) =>
        load.dev().devUpCommand(o, configOf(o)),
      ),
    );
  withConfigOptions(dev.command('down'))
    .description('stop the local servers')
    .option('--only <kinds>', 'comma list of temporal,minio,nats')
    .action(
      act((_args: string[], o: ConfigFlags & { only?: string }) => load.dev().devDownCommand(o, configOf(o))),
    );
  withConfigOptions(dev.command('status'))
    .description('show the local servers')
    .option('--json', 'JSON output')
    .action(
      act((_args: string[], o: ConfigFlags & { json?: boolean }) =>
        load.dev().devStatusCommand(o, configOf(o)),
      ),
    );

  // The cost-aware scaler (docs/scaling.md).
  {
    const scaler = lazy<typeof import('./commands/scaler')>('./commands/scaler');
    type RunFlags = ConfigFlags & import('./commands/scaler').ScalerRunFlags;
    const cmd = program
      .command('scaler')
      .description('the cost-aware scaler of the worker pools (docs/scaling.md)');
    withConfigOptions(cmd.command('run'))
      .description(
        "decide every pool's replicas from Temporal's backlog and the jobs' deadlines, and apply them (leader-elected)",
      )
      .option('--pools <file>', 'the pools file (docs/scaling.md)')
      .option('--interval <s>', 'seconds between decisions', '15')
      .option('--lease <name>', 'leader-election Lease name', 'vldm-scaler')
      .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)')
      .option(
        '--kube-namespace <ns>',
        'Kubernetes namespace of the pools (default $POD_NAMESPACE, else "default")',
      )
      .option(
        '--identity <name>',
        "this replica's name in the Lease and Events (default $POD_NAME, else host-pid)",
      )
      .option('--once', 'decide and apply one round, without leader election, then exit')
      .option('--dry-run', 'decide one round and print it; change nothing')
      .option('--json', 'with --once/--dry-run: print the round as JSON')
      .action(act((_args: string[], o: RunFlags) => scaler().scalerRun(o, configOf(o))));
    cmd
      .command('simulate')
      .description(
        'compare static, backlog-proportional (KEDA-like) and our scaling on a simulated cluster and job trace',
      )
      .option('--trace <file>', 'trace file (default: the one shipped in src/scaling/traces/default.json)')
      .option('--seed <n>', "replace the trace's seed")
      .option('--json', 'print the whole comparison as JSON')
      .action(
        act((_args: string[], o: { trace?: string; seed?: string; json?: boolean }) =>
          scaler().scalerSimulate(o),
        ),
      );
    withConfigOptions(cmd.command('measure <jobId>'))
      .description('seconds per activity of a finished job, from its Temporal history (for the pools file)')
      .option('--json', 'JSON output')
      .action(
        act(([id]: string[], o: ConfigFlags & { json?: boolean }) =>
          scaler().scalerMeasure(id, o, configOf(o)),
        ),
      );
  }

  program.addOption(new Option('--debug', 'print stack traces of errors').hideHelp());
  refuseRepeatedFlags(program);
  return program;
}

/**
 * `--seconds 2 --seconds 4` is refused rather than silently taking the last: commander emits
 * `option:<name>` for each occurrence, so count them per parse. Variadic flags (`--ui-origin a b`)
 * may repeat.
 */
function refuseRepeatedFlags(root: Command): void {
  const walk = (cmd: Command) => {
    const seen = new Set<string>();
    for (const opt of cmd.options) {
      if (opt.variadic) continue;
      cmd.on(`option:${opt.name()}`, () => {
        if (seen.has(opt.long ?? opt.name()))
          throw new UserError(`${opt.long ?? opt.name()} is given more than once; give it once`);
        seen.add(opt.long ?? opt.name());
      });
    }
    cmd.commands.forEach(walk);
  };
  walk(root);
}

/** Print an error the way the exit-code contract says, and return the code. */
export function reportError(err: unknown, debug = false): number {
  if (err instanceof UserError) {
    process.stderr.write(`vldm: ${err.message}\n`);
    return EXIT.usage;
  }
  const { describeFailure } = require('../client/jobs') as typeof import('../client/jobs'); // eslint-disable-line @typescript-eslint/no-require-imports
  process.stderr.write(`vldm: ${describeFailure(err)}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return EXIT.failed;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  let pending: Promise<number> | undefined;
  const debug = argv.includes('--debug');
  const program = buildProgram((call) => {
    // Traces, when an OTLP endpoint is configured: this process is `vldm-<command>` (src/observability/tracing.ts).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when a command runs, not for --help
    (require('../observability/tracing') as typeof import('../observability/tracing')).startTracing(
      `vldm-${call.command.replace(/ /g, '-')}`,
      typeof call.flags.queues === 'string' ? { 'vldm.queues': call.flags.queues } : {},
    );
    pending = call.run();
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportError(err, debug);
  }
  if (!pending) return EXIT.ok;
  try {
    return await pending;
  } catch (err) {
    return reportError(err, debug);
  } finally {
    // Spans still buffered (a traced client's) are sent before the process exits.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the command, not before
    const tracing = require('../observability/tracing') as typeof import('../observability/tracing');
    await tracing.shutdownTracing();
  }
}
