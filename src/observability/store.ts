/**
 * An artifact store that counts the bytes it moves (vldm_artifact_bytes_total): the workers wrap
 * their store once, so every activity's reads and writes are counted without touching the activities.
 */
import { stat } from 'node:fs/promises';
import type { ArtifactStore } from '../storage';
import { artifactBytesTotal } from './metrics';

export function meteredStore(store: ArtifactStore): ArtifactStore {
  const read = artifactBytesTotal.labels({ direction: 'read' });
  const written = artifactBytesTotal.labels({ direction: 'written' });
  return {
    get description() {
      return store.description;
    },
    async put(key, body, opts) {
      const info = await store.put(key, body, opts);
      written.inc(body.byteLength);
      return info;
    },
    async get(key) {
      const bytes = await store.get(key);
      read.inc(bytes.byteLength);
      return bytes;
    },
    async getVerified(key) {
      const bytes = await store.getVerified(key);
      if (bytes) read.inc(bytes.byteLength);
      return bytes;
    },
    stat: (key) => store.stat(key),
    exists: (key) => store.exists(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    async putFile(key, path, opts) {
      const info = await store.putFile(key, path, opts);
      written.inc(info.size);
      return info;
    },
    async getToFile(key, path) {
      await store.getToFile(key, path);
      read.inc((await stat(path)).size);
    },
    ...(store.close ? { close: () => store.close!() } : {}),
  };
}
