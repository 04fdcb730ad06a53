/**
 * Security entry points the rest of vldm uses: the payload codec the environment configures (workers
 * and clients plug it into their Temporal data converter) and the codec server for the Web UI.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { repoRoot } from '../host/paths';
import { AesGcmPayloadCodec } from './codec';
import { keyringFromEnv } from './keys';

export {
  AesGcmPayloadCodec,
  PayloadDecryptionError,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  isEncrypted,
} from './codec';
export { CODEC_ENV, keyringFromEnv, parseKeyEntries, readKeyFile, type Keyring, type CodecKey } from './keys';

/** The AES-256-GCM codec when `VLDM_CODEC_KEYS` or `VLDM_CODEC_KEY_FILE` is set, else undefined. */
export function payloadCodecFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadCodec | undefined {
  const ring = keyringFromEnv(env);
  return ring ? new AesGcmPayloadCodec(ring) : undefined;
}

const FAILURE_CONVERTER_MODULE = 'failure-converter';

/**
 * Path of the module exporting the encoding failure converter (./failure-converter.ts). The SDK
 * `require`s it outside the workflow sandbox, which needs JavaScript: the compiled file next to this one
 * when vldm runs from dist/, else the one in dist/ (tests run the sources but `require` plain Node).
 * The workflow bundler takes either; the .ts source is the last resort when nothing is built.
 */
export function failureConverterPath(): string {
  const candidates = [
    path.join(__dirname, `${FAILURE_CONVERTER_MODULE}.js`),
    path.join(repoRoot(), 'dist', 'src', 'security', `${FAILURE_CONVERTER_MODULE}.js`),
  ];
  return candidates.find((f) => existsSync(f)) ?? path.join(__dirname, `${FAILURE_CONVERTER_MODULE}.ts`);
}

/**
 * The Temporal data converter with `codec` (the SDK's default converter when there is none). With a
 * codec, failure messages and stack traces are encoded into a payload too, so they are encrypted in
 * the history like everything else. Workers must bundle their workflows with the same
 * `failureConverterPath` (src/worker/workers.ts does), or workflow failures would stay plain text.
 */
export function dataConverterWith(codec: PayloadCodec | undefined): DataConverter | undefined {
  return codec ? { payloadCodecs: [codec], failureConverterPath: failureConverterPath() } : undefined;
}
