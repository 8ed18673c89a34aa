/**
 * Storage in the process's memory: for Node, tests and a browser tab that must not persist.
 * Values are copied in and out (structuredClone) so callers can never alias what is stored —
 * the same rules as IndexedDB. Reusing one instance in a new client imitates an app restart.
 *
 * @module storage/memory
 */

const copy = (value) => (value === undefined ? undefined : structuredClone(value));
const entityKey = (entity, id) => `${entity}:${id}`;

/** @implements {import('../types.js').Storage} */
export class MemoryStorage {
  constructor() {
    this.clear();
  }

  async clear() {
    /** @type {Map<string, any>} */ this.meta = new Map();
    /** @type {Map<number, import('../types.js').Mutation>} */ this.queue = new Map();
    /** @type {Map<number, import('../types.js').MutationResult>} */ this.results = new Map();
    /** @type {Map<string, {entity: string, id: number, data: Object}>} */ this.entities = new Map();
    /** @type {Map<string, import('../types.js').BlobRecord>} */ this.blobs = new Map();
  }

  async getMeta(key) {
    return copy(this.meta.get(key));
  }

  async setMeta(entries) {
    for (const [key, value] of Object.entries(entries)) this.meta.set(key, copy(value));
  }

  async appendMutation(draft, floor) {
    const id = Math.max(this.meta.get('next_id') ?? 1, floor);
    const mutation = { ...copy(draft), id };
    this.queue.set(id, mutation);
    this.meta.set('next_id', id + 1);
    return copy(mutation);
  }

  async queuedMutations(limit = Infinity) {
    return [...this.queue.keys()].sort((a, b) => a - b).slice(0, limit)
      .map((id) => copy(this.queue.get(id)));
  }

  async renumberQueue(firstId) {
    const old = await this.queuedMutations();
    this.queue.clear();
    old.forEach((mutation, index) => this.queue.set(firstId + index, { ...mutation, id: firstId + index }));
    this.meta.set('next_id', firstId + old.length);
    return this.queuedMutations();
  }

  async saveResults(results, entities) {
    for (const result of results) this.results.set(result.id, copy(result));
    for (const { entity, id, data } of entities) this.entities.set(entityKey(entity, id), copy({ entity, id, data }));
  }

  async dropConfirmed(lastMutationId) {
    const dropped = [...this.queue.keys()].filter((id) => id <= lastMutationId && this.results.has(id));
    for (const id of dropped) this.queue.delete(id);
    return dropped.sort((a, b) => a - b);
  }

  async getResult(id) {
    return copy(this.results.get(id));
  }

  async pruneResults(belowId) {
    for (const id of [...this.results.keys()]) if (id < belowId) this.results.delete(id);
  }

  async getEntity(entity, id) {
    return copy(this.entities.get(entityKey(entity, id))?.data);
  }

  async listEntities(entity) {
    return [...this.entities.values()].filter((row) => row.entity === entity)
      .sort((a, b) => a.id - b.id).map((row) => copy(row.data));
  }

  async applyPage({ changes, replace, meta }) {
    if (replace) this.entities.clear();
    for (const { entity, op, id, data } of changes) {
      if (op === 'delete') this.entities.delete(entityKey(entity, id));
      else this.entities.set(entityKey(entity, id), copy({ entity, id, data }));
    }
    await this.setMeta(meta);
  }

  async putBlob(record) {
    this.blobs.set(record.sha256, copy(record));
  }

  async getBlob(sha256) {
    return copy(this.blobs.get(sha256));
  }

  async deleteBlob(sha256) {
    this.blobs.delete(sha256);
  }
}
