/**
 * ONNX sessions for a model pack, through onnxruntime-node. A worker keeps one ModelRuntime per pack
 * and asks it for the roles it serves; each role's session is created once and shared. Every call is
 * checked before it reaches onnxruntime: input names against the names the session reports, shapes
 * against the contract's tensor table, so a host/model mismatch fails with a sentence, not a kernel
 * error deep inside a graph. With `modelThreads` the sessions run on worker threads (model-threads.ts),
 * so a model call does not stop the process's event loop.
 */

import { relative } from 'node:path';

import * as ort from 'onnxruntime-node';

import { ContractError, UserError } from '../common/errors';
import { threadScript } from '../host/thread-script';
import {
  ROLE_SPECS,
  bindInputShapes,
  expectedOutputShape,
  formatShape,
  metaSymbols,
  type ModelMeta,
  type Role,
} from './contract';
import { roleLabel, type ModelPack } from './pack';
import { MAX_MODEL_THREADS, openThreaded } from './model-threads';
import { openInline, type SessionHandle, type TensorData } from './session-handle';

export type { TensorData } from './session-handle';

export interface RuntimeOptions {
  /**
   * Threads one operator may use. Part of reproducibility: onnxruntime splits reductions by thread
   * count, so every worker that must produce the same bytes uses the same value.
   * @default 1
   */
  intraOpThreads?: number;
  /**
   * onnxruntime execution providers in order of preference, e.g. `['cuda', 'cpu']` on a GPU pod.
   * @default ['cpu']
   */
  executionProviders?: string[];
  /**
   * Threads each session runs its calls on (src/models/model-threads.ts); 0 runs them on the calling
   * thread. Not part of reproducibility: every thread opens the same session, so the bytes are the same.
   * @default 0
   */
  modelThreads?: number;
}

/** The options every session is created with, from the runtime options. */
export function sessionOptions(opts: RuntimeOptions = {}): ort.InferenceSession.SessionOptions {
  const intraOpThreads = opts.intraOpThreads ?? 1;
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) {
    throw new UserError(`intraOpThreads must be an integer ≥ 1, got ${intraOpThreads}`);
  }
  const providers = opts.executionProviders ?? ['cpu'];
  if (providers.length === 0)
    throw new UserError('executionProviders must name at least one provider, e.g. cpu');
  return {
    executionProviders: providers,
    // Fixed thread counts and sequential execution make every run do the same arithmetic in the same
    // order, so a retried activity in another process reproduces the same bytes (on the same kind of
    // machine and provider): the checkpoints rely on it.
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Errors only: onnxruntime's warnings (e.g. about unused initializers) are not ours to act on.
    logSeverityLevel: 3,
  };
}

/** The model thread count of `opts`, checked (0 = calls on the calling thread). */
function modelThreadsOf(opts: RuntimeOptions): number {
  const threads = opts.modelThreads ?? 0;
  if (!Number.isInteger(threads) || threads < 0 || threads > MAX_MODEL_THREADS)
    throw new UserError(`modelThreads must be an integer in [0, ${MAX_MODEL_THREADS}], got ${threads}`);
  return threads;
}

/** Execution providers this onnxruntime-node build can use. */
export function availableExecutionProviders(): string[] {
  return ort.listSupportedBackends().map((b) => b.name);
}

/** A model call that breaks the contract; `problems` lists each reason without the file label. */
export class ModelCallError extends ContractError {
  override name = 'ModelCallError';
  constructor(
    label: string,
    readonly problems: string[],
  ) {
    super(
      problems.length === 1
        ? `${label}: ${problems[0]}`
        : `${label}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

function product(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** One role's loaded ONNX session, with the contract checks around `run`. */
export class ModelSession {
  /** Input names as the session reports them (never assumed from the contract). */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  private readonly label: string;

  private constructor(
    readonly role: Role,
    readonly path: string,
    /** The file's parsed contract metadata; undefined when it could not be parsed (verify only). */
    readonly meta: ModelMeta | undefined,
    private readonly session: SessionHandle,
    /** Milliseconds onnxruntime took to create the session. */
    readonly loadMs: number,
    label: string,
  ) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.inputMetadata = session.inputMetadata;
    this.outputMetadata = session.outputMetadata;
    this.label = label;
  }

  /**
   * Create a session for the file at `path`. `label` names the file in errors (`role (file)`).
   * Throws a ContractError when onnxruntime cannot load it.
   */
  static async open(
    role: Role,
    path: string,
    meta: ModelMeta | undefined,
    opts: RuntimeOptions = {},
    label = roleLabel(role, path),
  ): Promise<ModelSession> {
    const options = sessionOptions(opts);
    const threads = modelThreadsOf(opts);
    const script = threads > 0 ? threadScript(__dirname, 'src/models', 'model-thread.js') : undefined;
    const started = performance.now();
    let session: SessionHandle;
    try {
      session = script ? await openThreaded(script, path, options, threads) : await openInline(path, options);
    } catch (err) {
      const providers = (options.executionProviders ?? []).join(', ');
      throw new ContractError(
        `${label}: onnxruntime cannot load it with execution providers [${providers}] ` +
          `(available here: ${availableExecutionProviders().join(', ')}): ${(err as Error).message}`,
      );
    }
    return new ModelSession(role, path, meta, session, performance.now() - started, label);
  }

  /** Model threads this session's calls run on now (0: the calling thread; more start as calls need them). */
  get threads(): number {
    return this.session.threads;
  }

  /** Every reason `inputs` cannot be fed to this model (empty when they can). */
  checkInputs(inputs: Readonly<Record<string, TensorData>>): string[] {
    const problems: string[] = [];
    const takes = `the model takes ${this.inputNames.join(', ')}`;
    for (const name of this.inputNames) {
      if (!(name in inputs)) problems.push(`input ${name} is missing (${takes})`);
    }
    for (const name of Object.keys(inputs)) {
      if (!this.inputNames.includes(name))
        problems.push(`input ${name} is not an input of this model (${takes})`);
    }
    const shapes: Record<string, number[]> = {};
    for (const [name, tensor] of Object.entries(inputs)) {
      if (!this.inputNames.includes(name)) continue;
      const { shape, data } = tensor;
      if (!shape.every((d) => Number.isInteger(d) && d >= 1)) {
        problems.push(
          `input ${name} has shape ${formatShape(shape)}; every dimension must be an integer ≥ 1`,
        );
      } else if (!(data instanceof Float32Array)) {
        problems.push(`input ${name} must be a Float32Array (contract tensors are float32)`);
      } else if (data.length !== product(shape)) {
        problems.push(
          `input ${name} has ${data.length} values, but shape ${formatShape(shape)} holds ${product(shape)}`,
        );
      } else shapes[name] = shape;
    }
    const spec = ROLE_SPECS[this.role];
    const bound = bindInputShapes(spec, shapes, this.meta ? metaSymbols(this.meta) : {});
    problems.push(...bound.problems);
    const main = shapes[spec.inputs[0].name];
    if (this.meta && main && main.length === 5) {
      const m = this.meta.spatialMultiple;
      const [h, w] = [main[3], main[4]];
      if (h % m !== 0 || w % m !== 0) {
        problems.push(
          `input ${spec.inputs[0].name} ${formatShape(main)}: height and width must be multiples of vldm.spatial_multiple = ${m}`,
        );
      }
    }
    return problems;
  }

  /**
   * Run the model on float32 inputs named as the session's inputs; returns the contract's output.
   * Throws a ContractError before calling onnxruntime when names or shapes are wrong, and after it
   * when the output's shape is not what the contract derives from the inputs.
   */
  async run(inputs: Readonly<Record<string, TensorData>>): Promise<TensorData> {
    const problems = this.checkInputs(inputs);
    if (problems.length > 0) throw this.error(problems);
    const spec = ROLE_SPECS[this.role];
    const outputName = spec.output.name;
    if (!this.outputNames.includes(outputName)) {
      throw this.error([`has no output ${outputName} (its outputs: ${this.outputNames.join(', ')})`]);
    }
    const feeds: Record<string, TensorData> = {};
    for (const name of this.inputNames) feeds[name] = inputs[name];
    const out = await this.session.run(feeds, outputName);
    if (out.type !== 'float32')
      throw this.error([`output ${outputName} is ${out.type}, the contract requires float32`]);
    const shape = [...out.dims];
    const shapes = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, t.shape]));
    const env = bindInputShapes(spec, shapes, this.meta ? metaSymbols(this.meta) : {}).env;
    const expected = expectedOutputShape(spec, env);
    if (expected && formatShape(expected) !== formatShape(shape)) {
      throw this.error([
        `output ${outputName} has shape ${formatShape(shape)}, the contract requires ${formatShape(expected)} (${spec.output.dims.join(',')})`,
      ]);
    }
    return { shape, data: out.data as Float32Array };
  }

  private error(problems: string[]): ModelCallError {
    return new ModelCallError(this.label, problems);
  }

  /** Release onnxruntime's resources for this session. */
  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The sessions of one pack. `session(role)` loads a role's model on first use and caches it;
 * concurrent callers share the one load.
 */
export class ModelRuntime {
  private readonly sessions = new Map<Role, Promise<ModelSession>>();
  private closed = false;

  constructor(
    readonly pack: ModelPack,
    private readonly opts: RuntimeOptions = {},
  ) {
    // Reject bad options at construction, not at the first model call.
    sessionOptions(opts);
    modelThreadsOf(opts);
  }

  session(role: Role): Promise<ModelSession> {
    if (this.closed) return Promise.reject(new Error(`the model runtime of ${this.pack.root} is closed`));
    const cached = this.sessions.get(role);
    if (cached) return cached;
    const path = this.pack.files[role];
    const meta = this.pack.meta[role];
    if (path === undefined || meta === undefined) {
      const listed = Object.keys(this.pack.files).join(', ');
      return Promise.reject(
        new ContractError(`model pack ${this.pack.root} has no ${role} model (it has ${listed})`),
      );
    }
    const label = roleLabel(role, relative(this.pack.root, path));
    const loading = ModelSession.open(role, path, meta, this.opts, label);
    this.sessions.set(role, loading);
    // A failed load is not cached: the next caller tries again (and gets the same error if it persists).
    loading.catch(() => {
      if (this.sessions.get(role) === loading) this.sessions.delete(role);
    });
    return loading;
  }

  /** Release every session; later `session()` calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    const loads = [...this.sessions.values()];
    this.sessions.clear();
    for (const result of await Promise.allSettled(loads)) {
      if (result.status === 'fulfilled') await result.value.close();
    }
  }
}
