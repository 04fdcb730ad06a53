/**
 * An onnxruntime session as ModelSession (runtime.ts) uses it, wherever it runs: on the calling thread
 * (`openInline`) or on model threads (model-threads.ts, whose threads open theirs with `openInline`
 * too, so a call does the same arithmetic in either place and gives the same bytes).
 */
import * as ort from 'onnxruntime-node';

/** A float32 tensor as the host code holds it: row-major data and its shape. */
export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** A model output as onnxruntime gives it (its type is checked by the caller). */
export interface OutputTensor {
  type: string;
  dims: readonly number[];
  data: unknown;
}

/** A session's inputs and outputs as onnxruntime reports them. */
export interface SessionIo {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
}

export interface SessionHandle extends SessionIo {
  /** Threads its calls run on now (0: the calling thread). */
  readonly threads: number;
  /** Runs the model on float32 `feeds` and returns the output named `output`. */
  run(feeds: Readonly<Record<string, TensorData>>, output: string): Promise<OutputTensor>;
  /** Releases onnxruntime's resources (and threads) of this session. */
  release(): Promise<void>;
}

/**
 * A session on this thread. onnxruntime-node runs a model synchronously on the calling thread (1.30
 * wraps the native call in `setImmediate`), so the thread's event loop waits for the whole call.
 */
export async function openInline(
  path: string,
  options: ort.InferenceSession.SessionOptions,
): Promise<SessionHandle> {
  const session = await ort.InferenceSession.create(path, options);
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
    threads: 0,
    async run(feeds, output) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, { shape, data }] of Object.entries(feeds)) {
        tensors[name] = new ort.Tensor('float32', data, shape);
      }
      const out = (await session.run(tensors, [output]))[output];
      return { type: out.type, dims: out.dims, data: out.data };
    },
    release: () => session.release(),
  };
}
