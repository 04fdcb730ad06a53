/**
 * Temporal `Payload`s in protobuf JSON (`{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}`),
 * the form the remote codec protocol speaks and the plaintext the codec encrypts. Written here rather
 * than taken from @temporalio/common/lib/proto-utils, whose protobuf JSON helpers fail ("type must be
 * a Type") when npm installs two copies of protobufjs, as it does for SDK 1.24 in this project.
 */
import type { Payload } from '@temporalio/common';

export interface JsonPayload {
  /** Metadata values in base64. */
  metadata?: Record<string, string>;
  /** The bytes in base64. */
  data?: string;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function toBase64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}

function fromBase64(s: unknown, what: string): Uint8Array {
  if (typeof s !== 'string' || !BASE64.test(s)) throw new TypeError(`${what} must be a base64 string`);
  const b = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function payloadToJson(p: Payload): JsonPayload {
  const out: JsonPayload = {};
  if (p.metadata)
    out.metadata = Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, toBase64(v)]));
  if (p.data && p.data.length > 0) out.data = toBase64(p.data);
  return out;
}

/** Parses one payload; throws a TypeError that says which field is wrong. */
export function payloadFromJson(j: unknown): Payload {
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    throw new TypeError('a payload must be an object {metadata, data}');
  const { metadata, data } = j as Record<string, unknown>;
  if (
    metadata !== undefined &&
    metadata !== null &&
    (typeof metadata !== 'object' || Array.isArray(metadata))
  ) {
    throw new TypeError('payload metadata must be an object of base64 strings');
  }
  return {
    metadata: Object.fromEntries(
      Object.entries((metadata ?? {}) as Record<string, unknown>).map(([k, v]) => [
        k,
        fromBase64(v, `metadata "${k}"`),
      ]),
    ),
    data: data === undefined || data === null ? new Uint8Array() : fromBase64(data, 'payload data'),
  };
}
