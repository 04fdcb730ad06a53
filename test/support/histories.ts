/**
 * Workflow histories as JSON files, in the protobuf JSON form of `temporal workflow show --output json`.
 * The SDK's own helpers (@temporalio/common/lib/proto-utils historyToJSON/historyFromJSON) fail with
 * "type must be a Type" when npm installs separate copies of protobufjs for @temporalio/common and
 * @temporalio/proto, as it does here; these use the protobufjs copy that @temporalio/proto itself
 * loads, so types and JSON codec always agree.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Proto from '@temporalio/proto';
import { repoRoot } from '../../src/host/paths';

export type History = Proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const fromRepo = createRequire(path.join(repoRoot(), 'package.json'));
const protoDir = path.dirname(fromRepo.resolve('@temporalio/proto/package.json'));
// Plain require (no ESM interop wrapper): patchProtobufRoot walks the module's own namespaces.
const proto = fromRepo('@temporalio/proto') as typeof Proto;
const { patchProtobufRoot } = fromRepo(
  '@temporalio/proto/lib/patch-protobuf-root',
) as typeof import('@temporalio/proto/lib/patch-protobuf-root');
const protojson = fromRepo(fromRepo.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

/** Pretty JSON text of a history (as fetched with `handle.fetchHistory()`). */
export function historyToJson(history: History): string {
  return (
    JSON.stringify(
      protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)),
      null,
      1,
    ) + '\n'
  );
}

/** A history object from the JSON that historyToJson (or the Temporal CLI) wrote. */
export function historyFromJson(json: unknown): History {
  const h = protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History | null;
  if (!h?.events?.length) throw new TypeError('not a workflow history: no events');
  return h;
}
