/**
 * Builds tiny ONNX models from scratch (protobuf bytes, float32 tensors only) so tests can make
 * models that break the contract in one precise way: a wrong output shape, NaN outputs, a decoder
 * out of range, a fixed dimension. Field numbers are onnx/onnx.proto3's.
 */

import { protobuf } from '../../src/models/onnx-proto';

const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;

export interface GraphValue {
  name: string;
  /** Numbers are fixed sizes, strings symbolic (dynamic) dimensions. */
  dims: (number | string)[];
}

export interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
  /** Integer attributes (e.g. Concat's axis). */
  ints?: Record<string, number>;
}

export interface GraphConstant {
  name: string;
  dims: number[];
  /** int64 values (non-negative) or float32 values. */
  int64?: number[];
  float?: number[];
}

export interface GraphModel {
  inputs: GraphValue[];
  outputs: GraphValue[];
  nodes: GraphNode[];
  constants?: GraphConstant[];
  metadata?: Record<string, string>;
  /** @default 17 */
  opset?: number;
}

function valueInfo(v: GraphValue): number[] {
  const shape: number[] = [];
  for (const d of v.dims) {
    const dim: number[] = [];
    if (typeof d === 'number') protobuf.varint(1, d, dim);
    else protobuf.string(2, d, dim);
    protobuf.bytes(1, dim, shape);
  }
  const tensorType: number[] = [];
  protobuf.varint(1, FLOAT, tensorType);
  protobuf.bytes(2, shape, tensorType);
  const type: number[] = [];
  protobuf.bytes(1, tensorType, type);
  const out: number[] = [];
  protobuf.string(1, v.name, out);
  protobuf.bytes(2, type, out);
  return out;
}

function constantTensor(c: GraphConstant): number[] {
  const out: number[] = [];
  for (const d of c.dims) protobuf.varint(1, d, out);
  let raw: Uint8Array;
  if (c.int64) {
    protobuf.varint(2, INT64, out);
    const view = new DataView(new ArrayBuffer(8 * c.int64.length));
    c.int64.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
    raw = new Uint8Array(view.buffer);
  } else {
    protobuf.varint(2, FLOAT, out);
    raw = new Uint8Array(Float32Array.from(c.float ?? []).buffer);
  }
  protobuf.string(8, c.name, out);
  protobuf.bytes(9, raw, out);
  return out;
}

function node(n: GraphNode, index: number): number[] {
  const out: number[] = [];
  for (const i of n.inputs) protobuf.string(1, i, out);
  for (const o of n.outputs) protobuf.string(2, o, out);
  protobuf.string(3, `${n.op.toLowerCase()}_${index}`, out);
  protobuf.string(4, n.op, out);
  for (const [name, value] of Object.entries(n.ints ?? {})) {
    const attr: number[] = [];
    protobuf.string(1, name, attr);
    protobuf.varint(3, value, attr);
    protobuf.varint(20, ATTR_INT, attr);
    protobuf.bytes(5, attr, out);
  }
  return out;
}

/** Serialize a ModelProto (IR version 8) for the graph. */
export function buildOnnxModel(m: GraphModel): Uint8Array {
  const graph: number[] = [];
  m.nodes.forEach((n, i) => protobuf.bytes(1, node(n, i), graph));
  protobuf.string(2, 'test_graph', graph);
  for (const c of m.constants ?? []) protobuf.bytes(5, constantTensor(c), graph);
  for (const v of m.inputs) protobuf.bytes(11, valueInfo(v), graph);
  for (const v of m.outputs) protobuf.bytes(12, valueInfo(v), graph);

  const model: number[] = [];
  protobuf.varint(1, 8, model);
  protobuf.string(2, 'vldm-test', model);
  protobuf.bytes(7, graph, model);
  const opset: number[] = [];
  protobuf.string(1, '', opset);
  protobuf.varint(2, m.opset ?? 17, opset);
  protobuf.bytes(8, opset, model);
  for (const [key, value] of Object.entries(m.metadata ?? {})) {
    const entry: number[] = [];
    protobuf.string(1, key, entry);
    protobuf.string(2, value, entry);
    protobuf.bytes(14, entry, model);
  }
  return Uint8Array.from(model);
}
