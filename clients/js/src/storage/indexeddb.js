/**
 * Storage in IndexedDB (the browser, a PWA offline), through Jake Archibald's `idb` wrapper.
 * Every method is one IndexedDB transaction, so it is atomic and shared safely between tabs:
 * two tabs appending mutations get distinct, consecutive ids.
 *
 * @module storage/indexeddb
 */

import { openDB } from 'idb';

const VERSION = 1;
const STORES = ['meta', 'queue', 'results', 'entities', 'blobs'];

/** All keys of one entity kind: [entity, -∞] … [entity, +∞] (ids are numbers). */
const entityRange = (entity) => IDBKeyRange.bound([entity, -Infinity], [entity, Infinity]);

/** @implements {import('../types.js').Storage} */
export class IndexedDBStorage {
  /** @param {string} [name] the database name; one per app (and per test) */
  constructor(name = 'zhida-sync') {
    this.name = name;
    this.db = openDB(name, VERSION, {
      upgrade(db) {
        db.createObjectStore('meta');
        db.createObjectStore('queue', { keyPath: 'id' });
        db.createObjectStore('results', { keyPath: 'id' });
        db.createObjectStore('entities', { keyPath: ['entity', 'id'] });
        db.createObjectStore('blobs', { keyPath: 'sha256' });
      },
    });
  }

  /** Close the connection (a test imitating an app restart opens a new instance). */
  async close() {
    (await this.db).close();
  }

  async clear() {
    const tx = (await this.db).transaction(STORES, 'readwrite');
    await Promise.all([...STORES.map((store) => tx.objectStore(store).clear()), tx.done]);
  }

  async getMeta(key) {
    return (await this.db).get('meta', key);
  }

  async setMeta(entries) {
    const tx = (await this.db).transaction('meta', 'readwrite');
    await Promise.all([...Object.entries(entries).map(([key, value]) => tx.store.put(value, key)), tx.done]);
  }

  async appendMutation(draft, floor) {
    const tx = (await this.db).transaction(['meta', 'queue'], 'readwrite');
    const meta = tx.objectStore('meta');
    const id = Math.max((await meta.get('next_id')) ?? 1, floor);
    const mutation = { ...draft, id };
    await Promise.all([tx.objectStore('queue').add(mutation), meta.put(id + 1, 'next_id'), tx.done]);
    return mutation;
  }

  async queuedMutations(limit = Infinity) {
    return (await this.db).getAll('queue', null, Number.isFinite(limit) ? limit : undefined);
  }

  async renumberQueue(firstId) {
    const tx = (await this.db).transaction(['meta', 'queue'], 'readwrite');
    const queue = tx.objectStore('queue');
    const old = await queue.getAll();
    await queue.clear();
    const renumbered = old.map((mutation, index) => ({ ...mutation, id: firstId + index }));
    await Promise.all([...renumbered.map((mutation) => queue.put(mutation)),
      tx.objectStore('meta').put(firstId + old.length, 'next_id'), tx.done]);
    return renumbered;
  }

  async saveResults(results, entities) {
    const tx = (await this.db).transaction(['results', 'entities'], 'readwrite');
    await Promise.all([
      ...results.map((result) => tx.objectStore('results').put(result)),
      ...entities.map(({ entity, id, data }) => tx.objectStore('entities').put({ entity, id, data })),
      tx.done]);
  }

  async dropConfirmed(lastMutationId) {
    const tx = (await this.db).transaction(['queue', 'results'], 'readwrite');
    const queue = tx.objectStore('queue');
    const ids = await queue.getAllKeys(IDBKeyRange.upperBound(lastMutationId));
    const held = await Promise.all(ids.map((id) => tx.objectStore('results').getKey(id)));
    const dropped = ids.filter((id, index) => held[index] !== undefined);
    await Promise.all([...dropped.map((id) => queue.delete(id)), tx.done]);
    return dropped;
  }

  async getResult(id) {
    return (await this.db).get('results', id);
  }

  async pruneResults(belowId) {
    if (belowId <= 1) return;
    await (await this.db).delete('results', IDBKeyRange.upperBound(belowId, true));
  }

  async getEntity(entity, id) {
    return (await (await this.db).get('entities', [entity, id]))?.data;
  }

  async listEntities(entity) {
    return (await (await this.db).getAll('entities', entityRange(entity))).map((row) => row.data);
  }

  async applyPage({ changes, replace, meta }) {
    const tx = (await this.db).transaction(['entities', 'meta'], 'readwrite');
    const entities = tx.objectStore('entities');
    if (replace) await entities.clear();
    await Promise.all([
      ...changes.map(({ entity, op, id, data }) => (op === 'delete'
        ? entities.delete([entity, id]) : entities.put({ entity, id, data }))),
      ...Object.entries(meta).map(([key, value]) => tx.objectStore('meta').put(value, key)),
      tx.done]);
  }

  async putBlob(record) {
    await (await this.db).put('blobs', record);
  }

  async getBlob(sha256) {
    return (await this.db).get('blobs', sha256);
  }

  async deleteBlob(sha256) {
    await (await this.db).delete('blobs', sha256);
  }
}
