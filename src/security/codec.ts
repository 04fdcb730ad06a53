/**
 * Payload encryption for Temporal: an AES-256-GCM `PayloadCodec`. With it on, every payload the
 * Temporal server stores (workflow and activity inputs and results, queries, memos, summaries) is
 * ciphertext; only processes holding a key (workers, clients, `vldm codec-server` for the Web UI)
 * can read it. Search attributes and workflow ids are not payloads and stay readable by the server.
 *
 * An encrypted payload is `{ metadata: { encoding: "binary/encrypted", "encryption-key-id": <id> },
 * data: iv(12) ‖ ciphertext ‖ tag(16) }`, where the plaintext is the whole original payload
 * (metadata and data) in protobuf JSON. GCM authenticates it, and the key id is bound in as
 * additional data, so a payload cannot be replayed under another key id. Each payload gets a fresh
 * random 96-bit IV (NIST SP 800-38D §8.2.2: random IVs are safe up to 2³² messages per key; rotate
 * keys well before that).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { payloadFromJson, payloadToJson } from './payload-json';
import type { Keyring } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
const AAD_PREFIX = 'vldm/aes-256-gcm/v1:';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A payload that cannot be decrypted: unknown key id, wrong key, or damaged bytes. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

function metadataString(p: Payload, key: string): string | undefined {
  const v = p.metadata?.[key];
  return v ? fromUtf8.decode(v) : undefined;
}

export function isEncrypted(p: Payload): boolean {
  return metadataString(p, METADATA_ENCODING_KEY) === ENCRYPTED_ENCODING;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(readonly keyring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encryptOne(p));
  }

  /**
   * Payloads that are not encrypted pass through unchanged, so a process that turns encryption on
   * can still read histories written before (and the Temporal server's own payloads).
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => (isEncrypted(p) ? this.decryptOne(p) : p));
  }

  encryptOne(p: Payload): Payload {
    const { id, key } = this.keyring.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(AAD_PREFIX + id, 'utf8'));
    const plaintext = Buffer.from(JSON.stringify(payloadToJson(p)), 'utf8');
    const body = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(id),
      },
      data: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    };
  }

  decryptOne(p: Payload): Payload {
    const id = metadataString(p, KEY_ID_METADATA);
    if (!id)
      throw new PayloadDecryptionError(
        `encrypted payload has no "${KEY_ID_METADATA}" metadata; it was not written by this codec`,
      );
    const key = this.keyring.byId.get(id);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload was encrypted with key id "${id}", which ${this.keyring.source} does not hold (known: ${[...this.keyring.byId.keys()].join(', ')}); ` +
          `add that key back (old keys must stay listed while histories encrypted with them are kept)`,
      );
    }
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError(
        `encrypted payload (key "${id}") is ${data.length} bytes, too short to hold an IV and a tag`,
      );
    const decipher = createDecipheriv(CIPHER, key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(AAD_PREFIX + id, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadDecryptionError(
        `encrypted payload failed authentication with key "${id}": the key under that id is not the one that encrypted it, or the payload is damaged`,
      );
    }
    return payloadFromJson(JSON.parse(plaintext.toString('utf8')));
  }
}
