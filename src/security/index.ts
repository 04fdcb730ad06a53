/**
 * Security entry points the rest of vldm uses: the payload codec the environment configures (workers
 * and clients plug it into their Temporal data converter) and the codec server for the Web UI.
 */
import type { DataConverter, PayloadCodec } from '@temporalio/common';
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

/** The Temporal data converter with `codec` (the SDK's default converter when there is none). */
export function dataConverterWith(codec: PayloadCodec | undefined): DataConverter | undefined {
  return codec ? { payloadCodecs: [codec] } : undefined;
}
