/**
 * An artifact store that counts the bytes it moves (vldm_artifact_bytes_total) and, when tracing is
 * on, records each read and write as a span under the activity's (`store.put`, `store.get`, ...,
 * with the key and bytes): the workers wrap their store once, so no activity has to do either.
 */
import { stat } from 'node:fs/promises';
import type { ArtifactStore } from '../storage';
import { artifactBytesTotal } from './metrics';
import { annotateActiveSpan, inSpan } from './tracing';

const KEY = 'vldm.store.key';
const BYTES = 'vldm.store.bytes';

export function meteredStore(store: ArtifactStore): ArtifactStore {
  const read = artifactBytesTotal.labels({ direction: 'read' });
  const written = artifactBytesTotal.labels({ direction: 'written' });
  return {
    get description() {
      return store.description;
    },
    get identity() {
      return store.identity;
    },
    put: (key, body, opts) =>
      inSpan('store.put', { [KEY]: key, [BYTES]: body.byteLength }, async () => {
        const info = await store.put(key, body, opts);
        written.inc(body.byteLength);
        return info;
      }),
    get: (key) =>
      inSpan('store.get', { [KEY]: key }, async () => {
        const bytes = await store.get(key);
        read.inc(bytes.byteLength);
        annotateActiveSpan({ [BYTES]: bytes.byteLength });
        return bytes;
      }),
    getVerified: (key) =>
      inSpan('store.getVerified', { [KEY]: key }, async () => {
        const bytes = await store.getVerified(key);
        if (bytes) read.inc(bytes.byteLength);
        annotateActiveSpan({ [BYTES]: bytes?.byteLength ?? 0, 'vldm.store.found': bytes !== undefined });
        return bytes;
      }),
    stat: (key) => store.stat(key),
    exists: (key) => store.exists(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    putFile: (key, path, opts) =>
      inSpan('store.putFile', { [KEY]: key }, async () => {
        const info = await store.putFile(key, path, opts);
        written.inc(info.size);
        annotateActiveSpan({ [BYTES]: info.size });
        return info;
      }),
    getToFile: (key, path) =>
      inSpan('store.getToFile', { [KEY]: key }, async () => {
        await store.getToFile(key, path);
        const { size } = await stat(path);
        read.inc(size);
        annotateActiveSpan({ [BYTES]: size });
      }),
    ...(store.close ? { close: () => store.close!() } : {}),
  };
}
