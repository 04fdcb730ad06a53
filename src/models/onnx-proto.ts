/**
 * A tiny reader and writer for the one part of the ONNX protobuf that vldm needs outside
 * onnxruntime: the model's `metadata_props`. onnxruntime-node 1.30 exposes input/output metadata
 * but not the model's custom metadata map (microsoft/onnxruntime#16547 is still open), so we read
 * it from the file: `ModelProto` field 14 is `repeated StringStringEntryProto metadata_props`, and
 * an entry has `key = 1`, `value = 2` (onnx/onnx.proto3). Only the top level is scanned, seeking past
 * the graph, so a large model costs a few small reads.
 */

import { open, type FileHandle } from 'node:fs/promises';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** ModelProto field numbers used here (onnx.proto3). */
export const MODEL_PROTO_FIELDS = { irVersion: 1, graph: 7, opsetImport: 8, metadataProps: 14 } as const;

/** The file is not a readable ModelProto. */
export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

interface Varint {
  value: number;
  next: number;
}

/** Decode a base-128 varint at `pos`; values up to 2^53 are exact, which covers every length and tag here. */
function readVarint(buf: Uint8Array, pos: number, end = buf.length): Varint {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) throw new OnnxFormatError(`truncated varint at byte ${pos}`);
    const byte = buf[pos + i];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return { value, next: pos + i + 1 };
    scale *= 128;
  }
  throw new OnnxFormatError(`varint longer than 10 bytes at byte ${pos}`);
}

function writeVarint(value: number, out: number[]): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

interface FieldHeader {
  field: number;
  wire: number;
  /** Offset of the payload (after tag and, for length-delimited fields, the length). */
  start: number;
  /** Offset just past the payload. */
  end: number;
}

/** Read one field's header at `pos` from `buf` (which holds at least the header), payload bounds included. */
function readFieldHeader(buf: Uint8Array, pos: number, bufEnd: number, base: number): FieldHeader {
  const tag = readVarint(buf, pos, bufEnd);
  const field = Math.floor(tag.value / 8);
  const wire = tag.value % 8;
  if (field === 0) throw new OnnxFormatError(`field number 0 at byte ${base + pos}`);
  switch (wire) {
    case WIRE_VARINT: {
      const v = readVarint(buf, tag.next, bufEnd);
      return { field, wire, start: base + tag.next, end: base + v.next };
    }
    case WIRE_FIXED64:
      return { field, wire, start: base + tag.next, end: base + tag.next + 8 };
    case WIRE_FIXED32:
      return { field, wire, start: base + tag.next, end: base + tag.next + 4 };
    case WIRE_LEN: {
      const len = readVarint(buf, tag.next, bufEnd);
      return { field, wire, start: base + len.next, end: base + len.next + len.value };
    }
    default:
      throw new OnnxFormatError(`unsupported protobuf wire type ${wire} at byte ${base + pos}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode one StringStringEntryProto. */
function readEntry(buf: Uint8Array): [string, string] {
  let key = '';
  let value = '';
  let pos = 0;
  while (pos < buf.length) {
    const h = readFieldHeader(buf, pos, buf.length, 0);
    if (h.end > buf.length) throw new OnnxFormatError('truncated metadata_props entry');
    if (h.wire === WIRE_LEN && (h.field === 1 || h.field === 2)) {
      const text = utf8.decode(buf.subarray(h.start, h.end));
      if (h.field === 1) key = text;
      else value = text;
    }
    pos = h.end;
  }
  return [key, value];
}

/** What a top-level scan found. */
export interface OnnxTopLevel {
  metadata: Record<string, string>;
  irVersion?: number;
  hasGraph: boolean;
}

/** A source of bytes at positions: a buffer in memory or an open file. */
interface ByteSource {
  size: number;
  read(pos: number, len: number): Promise<Uint8Array>;
}

/** Longest field header: a 10-byte tag varint plus a 10-byte length varint. */
const MAX_HEADER = 20;

async function scanTopLevel(src: ByteSource): Promise<OnnxTopLevel> {
  const result: OnnxTopLevel = { metadata: {}, hasGraph: false };
  let pos = 0;
  while (pos < src.size) {
    const head = await src.read(pos, Math.min(MAX_HEADER, src.size - pos));
    const h = readFieldHeader(head, 0, head.length, pos);
    if (h.end > src.size) {
      throw new OnnxFormatError(
        `field ${h.field} at byte ${pos} runs past the end of the file (${src.size} bytes)`,
      );
    }
    if (h.field === MODEL_PROTO_FIELDS.metadataProps && h.wire === WIRE_LEN) {
      const [key, value] = readEntry(await src.read(h.start, h.end - h.start));
      result.metadata[key] = value;
    } else if (h.field === MODEL_PROTO_FIELDS.irVersion && h.wire === WIRE_VARINT) {
      result.irVersion = readVarint(head, h.start - pos).value;
    } else if (h.field === MODEL_PROTO_FIELDS.graph && h.wire === WIRE_LEN) {
      result.hasGraph = true;
    }
    pos = h.end;
  }
  if (result.irVersion === undefined || !result.hasGraph) {
    throw new OnnxFormatError(
      `no ModelProto ${result.irVersion === undefined ? 'ir_version' : 'graph'} field: not an ONNX model`,
    );
  }
  return result;
}

/** Scan an ONNX model held in memory. Throws OnnxFormatError when the bytes are not a ModelProto. */
export async function readOnnxTopLevel(bytes: Uint8Array): Promise<OnnxTopLevel> {
  return scanTopLevel({ size: bytes.length, read: async (p, n) => bytes.subarray(p, p + n) });
}

/** The `metadata_props` of an ONNX model in memory. */
export async function readOnnxMetadata(bytes: Uint8Array): Promise<Record<string, string>> {
  return (await readOnnxTopLevel(bytes)).metadata;
}

/**
 * The `metadata_props` of an ONNX file, read with positional reads (the graph is skipped, not read).
 * Throws OnnxFormatError when the file is not a ModelProto.
 */
export async function readOnnxFileMetadata(path: string): Promise<Record<string, string>> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const handle = fh;
    const { size } = await handle.stat();
    const src: ByteSource = {
      size,
      read: async (p, n) => {
        const buf = new Uint8Array(n);
        const { bytesRead } = await handle.read(buf, 0, n, p);
        return buf.subarray(0, bytesRead);
      },
    };
    return (await scanTopLevel(src)).metadata;
  } finally {
    await fh?.close();
  }
}

function lengthDelimited(field: number, payload: Uint8Array, out: number[]): void {
  writeVarint(field * 8 + WIRE_LEN, out);
  writeVarint(payload.length, out);
  for (const b of payload) out.push(b);
}

/**
 * A copy of an ONNX model whose `metadata_props` are exactly `metadata` (every other top-level field
 * is kept byte for byte). Used to stamp or repair metadata without re-exporting a model.
 */
export function withOnnxMetadata(bytes: Uint8Array, metadata: Record<string, string>): Uint8Array {
  const kept: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const h = readFieldHeader(bytes, pos, bytes.length, 0);
    if (h.end > bytes.length) throw new OnnxFormatError(`field ${h.field} at byte ${pos} runs past the end`);
    if (h.field !== MODEL_PROTO_FIELDS.metadataProps) kept.push(bytes.subarray(pos, h.end));
    pos = h.end;
  }
  const enc = new TextEncoder();
  const tail: number[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    const entry: number[] = [];
    lengthDelimited(1, enc.encode(key), entry);
    lengthDelimited(2, enc.encode(value), entry);
    lengthDelimited(MODEL_PROTO_FIELDS.metadataProps, Uint8Array.from(entry), tail);
  }
  const total = kept.reduce((n, k) => n + k.length, 0) + tail.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const k of kept) {
    out.set(k, at);
    at += k.length;
  }
  out.set(tail, at);
  return out;
}

/** Protobuf encoding helpers shared with code that builds small ONNX graphs (tests, tools). */
export const protobuf = {
  varint(field: number, value: number, out: number[]): void {
    writeVarint(field * 8 + WIRE_VARINT, out);
    writeVarint(value, out);
  },
  bytes(field: number, payload: Uint8Array | number[], out: number[]): void {
    lengthDelimited(field, payload instanceof Uint8Array ? payload : Uint8Array.from(payload), out);
  },
  string(field: number, text: string, out: number[]): void {
    lengthDelimited(field, new TextEncoder().encode(text), out);
  },
};
