/**
 * Where an activity's host work goes, phase by phase (issue 10 item 5: noise, tensor I/O, checksums,
 * blending, encoding must not starve a GPU). The code around a model call marks its phases with
 * `phase`/`phaseAsync`; a probe (src/bench/host-probe.ts) turns a recorder on and reads the totals.
 * With no recorder on (every worker) a phase costs one check of a module variable, so the marks stay in
 * production code and the probe measures exactly the code that runs there.
 *
 * Times are exclusive: a phase inside another (a checksum inside a store read) counts for itself only.
 * The recorder keeps one stack, so it measures one activity at a time (the probe runs them in turn).
 */

/** The phases, in report order. */
export const HOST_PHASES = [
  'model', // model calls (onnxruntime)
  'noise', // Philox + Box–Muller noise (src/sampling/noise.ts)
  'read', // artifact store reads: files, sidecars, metadata (checksums apart)
  'decode', // tensor files → float32, gathering and slicing frames
  'checksum', // sha256 of artifacts (put, get, the commit's re-check)
  'sampler', // DDIM steps, guidance, model feeds, clamping
  'blend', // tile blending
  'encode', // float32 → tensor files (pixel8 quantisation)
  'write', // artifact store writes: temp files, fsync, renames (checksums apart)
] as const;
export type HostPhase = (typeof HOST_PHASES)[number];

/** Totals of one recording per phase, in milliseconds: wall time, and CPU time of the whole process. */
export class PhaseRecorder {
  readonly totals = zeros();
  readonly cpu = zeros();
  private readonly stack: Array<{ start: number; cpuStart: number; inner: number; innerCpu: number }> = [];

  enter(): void {
    this.stack.push({ start: performance.now(), cpuStart: cpuMs(), inner: 0, innerCpu: 0 });
  }

  exit(name: HostPhase): void {
    const frame = this.stack.pop();
    if (!frame) return;
    const elapsed = performance.now() - frame.start;
    const used = cpuMs() - frame.cpuStart;
    this.totals[name] += elapsed - frame.inner;
    this.cpu[name] += used - frame.innerCpu;
    const parent = this.stack[this.stack.length - 1];
    if (parent) {
      parent.inner += elapsed;
      parent.innerCpu += used;
    }
  }
}

function zeros(): Record<HostPhase, number> {
  return Object.fromEntries(HOST_PHASES.map((p) => [p, 0])) as Record<HostPhase, number>;
}

/** CPU time (user + system) of this process so far, in ms: all its threads, onnxruntime's and libuv's too. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

let active: PhaseRecorder | undefined;

/** Record phases into `recorder` from now on (undefined: stop recording). */
export function recordPhases(recorder: PhaseRecorder | undefined): void {
  active = recorder;
}

/** Runs `fn` as phase `name` of the activity being recorded. */
export function phase<T>(name: HostPhase, fn: () => T): T {
  const r = active;
  if (!r) return fn();
  r.enter();
  try {
    return fn();
  } finally {
    r.exit(name);
  }
}

/** `phase` for asynchronous work (a store read, a model call). */
export async function phaseAsync<T>(name: HostPhase, fn: () => Promise<T>): Promise<T> {
  const r = active;
  if (!r) return fn();
  r.enter();
  try {
    return await fn();
  } finally {
    r.exit(name);
  }
}
