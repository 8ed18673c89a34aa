/**
 * The phone's side of Zhida sync v1 (SPEC §5, docs/sync.md): a queue of mutations with
 * consecutive ids, written to storage before any network call; pushes that are safe to repeat
 * (the server answers a repeated id with its stored result); pulls that bootstrap, page, follow
 * deltas and start over on `reset`; rejections delivered with the server's state of the entity.
 *
 * @module client
 */

import { ApiError, SignedOutError, Transport } from './http.js';
import { newUuid, sha256Hex, sniffImageType } from './bytes.js';
import * as mutations from './mutations.js';
import { optimisticView } from './optimistic.js';
import { MemoryStorage } from './storage/memory.js';

const PUSH = '/api/v1/sync/push';
const PULL = '/api/v1/sync/pull';
/** Stay well below the server's 1 MiB per push (arguments are small; this is a guard). */
const MAX_PUSH_BYTES = 900_000;
/** Results kept after their mutation left the queue, for the app to show what happened. */
const KEEP_RESULTS = 200;

/** Thrown by logout() while mutations still wait to be pushed (pass discardPending to force). */
export class PendingMutationsError extends Error {
  constructor(count) {
    super(`${count} change(s) are not synced yet; sync first or sign out with discardPending.`);
    this.name = 'PendingMutationsError';
    this.count = count;
  }
}

const iso = (moment) => (moment instanceof Date ? moment.toISOString() : moment ?? null);

/**
 * One app install signed in as one user.
 *
 * Events (`on(type, listener)`): `change` {source: "queue"|"push"|"pull", reset?} whenever the
 * local view may differ; `rejected` {mutation, result} for each refused mutation (its entity is
 * already in the local copy); `signedout` {reason}; `photo-failed` {sha256, error}; `gap`
 * {from, to} when the queue was renumbered; `error` (errors of automatic syncs).
 */
export class SyncClient {
  /**
   * @param {Object} [options]
   * @param {string} [options.baseUrl]  server origin, "" for the page's own
   * @param {import('./types.js').Storage} [options.storage]  MemoryStorage by default
   * @param {typeof fetch} [options.fetch]
   * @param {Partial<import('./http.js').RetryPolicy>} [options.retry]
   * @param {(ms: number) => Promise<void>} [options.sleep]
   * @param {() => Date} [options.now]
   * @param {number} [options.pushBatch]  mutations per push (≤ 500)
   * @param {number} [options.pullLimit]  changes per pull page (≤ 1000)
   */
  constructor({ baseUrl = '', storage = new MemoryStorage(), fetch, retry, sleep, now, pushBatch = 100, pullLimit = 200 } = {}) {
    this.storage = storage;
    this.now = now ?? (() => new Date());
    this.pushBatch = Math.min(pushBatch, 500);
    this.pullLimit = pullLimit;
    this.transport = new Transport({
      baseUrl, storage, fetch, retry, sleep,
      onSignedOut: (reason) => this.#emit('signedout', { reason }),
    });
    /** @type {Map<string, Set<Function>>} */ this.listeners = new Map();
    this.chain = Promise.resolve();
    this.queuedSync = null;
    this.autoSync = null;
  }

  // ---- events ------------------------------------------------------------------------------

  /** Subscribe; returns the function that unsubscribes. */
  on(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(listener);
    return () => this.listeners.get(type).delete(listener);
  }

  #emit(type, detail) {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        listener(detail);
      } catch (error) {
        if (type !== 'error') this.#emit('error', error);
      }
    }
  }

  // ---- identity ----------------------------------------------------------------------------

  /** This install's id (a UUID made on first use, kept until sign-out). */
  async clientId() {
    let id = await this.storage.getMeta('client_id');
    if (!id) {
      id = newUuid();
      await this.storage.setMeta({ client_id: id });
    }
    return id;
  }

  /** The signed-in user ({id, username, display_name, role, store, locale, …}) or null. */
  async user() {
    return (await this.storage.getMeta('auth'))?.user ?? null;
  }

  /**
   * Sign in. Another user than the last one on this install starts from an empty store with a
   * new client id (a client id belongs to the first user who synced with it).
   */
  async login(username, password) {
    const owner = await this.storage.getMeta('owner');
    const answer = await this.transport.login(username, password);
    if (owner !== undefined && owner !== answer.user.id) {
      await this.storage.clear();
      await this.storage.setMeta({ auth: answer });
    }
    await this.storage.setMeta({ owner: answer.user.id });
    return answer.user;
  }

  /**
   * Sign out: forget the device's push address and the refresh-token family on the server, then
   * everything local. Refuses while changes wait to be pushed, unless `discardPending`.
   */
  async logout({ discardPending = false } = {}) {
    const pending = (await this.storage.queuedMutations()).length;
    if (pending && !discardPending) throw new PendingMutationsError(pending);
    const auth = await this.storage.getMeta('auth');
    if (auth) {
      const clientId = await this.clientId();
      await this.transport.request('DELETE', `/api/v1/devices/${encodeURIComponent(clientId)}`, { retry: false })
        .catch(() => {}); // never registered, or offline: the server drops dead tokens anyway
      await this.transport.request('POST', '/api/v1/auth/logout', { json: { refresh_token: auth.refresh_token }, retry: false })
        .catch(() => {});
    }
    await this.storage.clear();
    this.#emit('signedout', { reason: 'logout' });
  }

  /**
   * Register this install for pushes (and again whenever the push token changes).
   * @param {{pushToken?: string|null, locale?: "zh-CN"|"en", appVersion?: string, platform?: "web"|"android"|"ios"}} [device]
   */
  async registerDevice({ pushToken = null, locale, appVersion, platform = 'web' } = {}) {
    const body = { client_id: await this.clientId(), platform, push_token: pushToken };
    if (locale) body.locale = locale;
    if (appVersion) body.app_version = appVersion;
    return this.transport.request('POST', '/api/v1/devices', { json: body });
  }

  /**
   * Any authenticated call of the API (inbox pages, scripts, pairings…), with the same token
   * refresh and retries as sync.
   * @param {string} method @param {string} path @param {Object} [options] see Transport.request
   */
  request(method, path, options) {
    return this.transport.request(method, path, options);
  }

  // ---- the queue -----------------------------------------------------------------------------

  /**
   * Queue a mutation. It is in storage, with its id, before this resolves; nothing touches the
   * network here. Call sync() (or startAutoSync) to send it.
   * @param {string} name @param {Object} args @param {{clientTime?: Date|string}} [options]
   * @returns {Promise<import('./types.js').Mutation>}
   */
  async enqueue(name, args, { clientTime } = {}) {
    // a malformed envelope would make the server refuse the whole push, again and again
    if (!/^[a-z_]{1,40}$/.test(name)) throw new TypeError(`not a mutation name: ${name}`);
    if (!args || typeof args !== 'object' || Array.isArray(args)) throw new TypeError('args must be an object');
    const time = clientTime ?? this.now();
    if (Number.isNaN(new Date(time).getTime())) throw new TypeError(`not a time: ${clientTime}`);
    if (!(await this.user())) throw new SignedOutError(401, { error: 'not_signed_in', message: 'Sign in first.' });
    // never reuse an id the server already holds, even if this storage lost its counter
    const floor = ((await this.storage.getMeta('server_last_id')) ?? 0) + 1;
    const mutation = await this.storage.appendMutation({ name, args, client_time: iso(time) }, floor);
    this.#emit('change', { source: 'queue', mutation });
    if (this.autoSync) this.sync().catch((error) => this.#emit('error', error));
    return mutation;
  }

  /** Queue a mutation made by a builder of mutations.js. */
  #queue({ name, args, clientTime }) {
    return this.enqueue(name, args, { clientTime });
  }

  /** Claim by a scanned QR token or a typed short code; `taskId` is optional. */
  async claimTask(claim) { return this.#queue(mutations.claimTask(claim, this.now())); }

  async unclaimTask(taskId) { return this.#queue(mutations.unclaimTask(taskId)); }

  async startTask(taskId) { return this.#queue(mutations.startTask(taskId)); }

  async setChecklistItem(taskId, itemId, done) { return this.#queue(mutations.setChecklistItem(taskId, itemId, done)); }

  async recordSale(taskId, sku, quantity) { return this.#queue(mutations.recordSale(taskId, sku, quantity)); }

  async addNote(taskId, text) { return this.#queue(mutations.addNote(taskId, text)); }

  /** @param {number} taskId @param {{observedPrices?: Object<string, number>, quantity?: number}} [proof] */
  async submitTask(taskId, proof) { return this.#queue(mutations.submitTask(taskId, proof)); }

  async markRead(notificationId) { return this.#queue(mutations.markRead(notificationId)); }

  /** @param {number} scriptId @param {"used"|"converted"|"dismissed"} outcome */
  async scriptFeedback(scriptId, outcome) { return this.#queue(mutations.scriptFeedback(scriptId, outcome)); }

  /**
   * Keep the photo in storage (so it survives offline and restarts), then queue attach_photo;
   * the next push uploads the bytes with PUT /blobs/{sha256} before sending the mutation.
   * @param {number} taskId @param {Blob|ArrayBuffer|Uint8Array} photo
   * @param {string} [contentType] read from the bytes when omitted
   */
  async attachPhoto(taskId, photo, contentType) {
    if (!taskId || !photo) throw new TypeError('taskId and photo are required');
    let bytes;
    if (photo instanceof Uint8Array) bytes = photo;
    else if (photo instanceof ArrayBuffer) bytes = new Uint8Array(photo);
    else bytes = new Uint8Array(await photo.arrayBuffer());
    const type = contentType ?? sniffImageType(bytes) ?? photo.type;
    if (!type) throw new TypeError('Photos must be JPEG, PNG or WebP');
    const sha256 = await sha256Hex(bytes);
    if (!(await this.storage.getBlob(sha256))) {
      await this.storage.putBlob({ sha256, contentType: type, bytes, uploaded: false, failed: null });
    }
    return this.#queue(mutations.attachPhoto(taskId, sha256));
  }

  /** Mutations not yet confirmed by the server, oldest first. */
  pending() {
    return this.storage.queuedMutations();
  }

  /** The server's result of a mutation, once known (kept for the last 200 after confirmation). */
  result(mutationId) {
    return this.storage.getResult(mutationId);
  }

  // ---- sync ----------------------------------------------------------------------------------

  /** Runs network work one piece at a time: pages and push answers never overtake each other. */
  #serial(work) {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Push the queue, then pull until caught up. Calls made while one waits share it. */
  sync() {
    if (!this.queuedSync) {
      this.queuedSync = this.#serial(async () => {
        this.queuedSync = null;
        const results = await this.#push();
        const pulled = await this.#pull();
        return { results, ...pulled };
      });
    }
    return this.queuedSync;
  }

  /** Send every queued mutation; resolves with their results (in order). */
  push() {
    return this.#serial(() => this.#push());
  }

  /** Pull until `has_more` is false; resolves with {pages, reset}. */
  pull() {
    return this.#serial(() => this.#pull());
  }

  async #nextBatch() {
    const batch = [];
    let bytes = 200;
    for (const mutation of await this.storage.queuedMutations(this.pushBatch)) {
      bytes += JSON.stringify(mutation).length * 3; // worst case UTF-8 width
      if (batch.length && bytes > MAX_PUSH_BYTES) break;
      batch.push(mutation);
    }
    return batch;
  }

  async #push() {
    const all = [];
    let previousHead = null;
    for (;;) {
      let batch = await this.#nextBatch();
      if (!batch.length || batch[0].id === previousHead) return all;
      previousHead = batch[0].id;
      await this.#uploadPhotos(batch);
      let answer;
      try {
        answer = await this.#send(batch);
      } catch (error) {
        if (!(error instanceof ApiError) || error.error !== 'mutation_gap') throw error;
        batch = await this.#closeGap(batch, error.body.last_mutation_id);
        answer = await this.#send(batch);
      }
      await this.#takeResults(batch, answer);
      all.push(...answer.results);
    }
  }

  async #send(batch) {
    return this.transport.request('POST', PUSH, {
      json: { client_id: await this.clientId(), schema_version: 1, mutations: batch },
    });
  }

  /**
   * The server has fewer mutations than the queue starts after (the phone lost some, e.g. a
   * restored backup): renumber the queue to follow the server's last id, and send again.
   */
  async #closeGap(batch, lastMutationId) {
    if (!Number.isInteger(lastMutationId) || batch[0].id <= lastMutationId + 1) {
      throw new ApiError(409, { error: 'mutation_gap', message: 'The queue cannot be renumbered.' });
    }
    await this.storage.renumberQueue(lastMutationId + 1);
    this.#emit('gap', { from: batch[0].id, to: lastMutationId + 1 });
    return this.#nextBatch();
  }

  /** Upload the bytes of queued photos before the mutations that attach them. */
  async #uploadPhotos(batch) {
    for (const mutation of batch) {
      if (mutation.name !== 'attach_photo') continue;
      const record = await this.storage.getBlob(mutation.args.sha256);
      if (!record || record.uploaded || record.failed) continue;
      try {
        await this.transport.request('PUT', `/api/v1/blobs/${record.sha256}`,
          { body: record.bytes, contentType: record.contentType });
        await this.storage.putBlob({ ...record, uploaded: true });
      } catch (error) {
        if (!(error instanceof ApiError) || error instanceof SignedOutError) throw error;
        // refused for good (not an image, too large…): the mutation goes on and the server's
        // rejection (unknown_photo) reaches the app with the task's state
        await this.storage.putBlob({ ...record, failed: error.error });
        this.#emit('photo-failed', { sha256: record.sha256, error });
      }
    }
  }

  async #takeResults(batch, answer) {
    const entities = answer.results.filter((result) => result.entity)
      .map((result) => ({ entity: 'task', op: 'put', id: result.entity.id, data: result.entity }));
    await this.storage.saveResults(answer.results, entities);
    await this.#confirmed(answer.last_mutation_id);
    const byId = new Map(batch.map((mutation) => [mutation.id, mutation]));
    for (const result of answer.results) {
      const mutation = byId.get(result.id);
      if (mutation?.name === 'attach_photo') await this.#forgetPhoto(mutation.args.sha256);
      if (result.status === 'rejected') this.#emit('rejected', { mutation, result });
    }
    this.#emit('change', { source: 'push' });
  }

  /** Bytes of an attached photo are dropped once its mutation has a result and no other needs them. */
  async #forgetPhoto(sha256) {
    const stillQueued = (await this.storage.queuedMutations())
      .some((mutation) => mutation.name === 'attach_photo' && mutation.args.sha256 === sha256);
    if (!stillQueued) await this.storage.deleteBlob(sha256);
  }

  /** The server applied everything up to `lastMutationId`: drop what we hold results for. */
  async #confirmed(lastMutationId) {
    const known = (await this.storage.getMeta('server_last_id')) ?? 0;
    if (lastMutationId > known) await this.storage.setMeta({ server_last_id: lastMutationId });
    await this.storage.dropConfirmed(lastMutationId);
    const oldestQueued = (await this.storage.queuedMutations(1))[0]?.id ?? lastMutationId + 1;
    await this.storage.pruneResults(Math.min(oldestQueued, lastMutationId + 1) - KEEP_RESULTS);
  }

  async #pull() {
    let pages = 0;
    let reset = false;
    for (;;) {
      const cursor = (await this.storage.getMeta('cursor')) ?? null;
      let answer;
      try {
        answer = await this.transport.request('POST', PULL, {
          json: { client_id: await this.clientId(), cursor, schema_version: 1, limit: this.pullLimit },
        });
      } catch (error) {
        if (error instanceof ApiError && error.error === 'invalid_cursor' && cursor !== null) {
          await this.storage.setMeta({ cursor: null }); // start over with a fresh snapshot
          continue;
        }
        throw error;
      }
      reset ||= answer.reset;
      // a bootstrap or a reset replaces the whole local copy, starting with this page
      await this.storage.applyPage({ changes: answer.changes, replace: answer.reset || cursor === null, meta: { cursor: answer.cursor } });
      await this.#confirmed(answer.last_mutation_id);
      pages += 1;
      if (!answer.has_more) break;
    }
    this.#emit('change', { source: 'pull', reset });
    return { pages, reset };
  }

  /**
   * Sync now, every `intervalMs`, when the browser comes back online, and after each enqueue.
   * Errors go to the `error` event. @param {{intervalMs?: number}} [options]
   */
  startAutoSync({ intervalMs = 15_000 } = {}) {
    this.stopAutoSync();
    const tick = () => { this.sync().catch((error) => this.#emit('error', error)); };
    this.autoSync = { timer: setInterval(tick, intervalMs), tick };
    globalThis.addEventListener?.('online', tick);
    tick();
  }

  stopAutoSync() {
    if (!this.autoSync) return;
    clearInterval(this.autoSync.timer);
    globalThis.removeEventListener?.('online', this.autoSync.tick);
    this.autoSync = null;
  }

  // ---- what the screen shows ------------------------------------------------------------------

  /** The local copy of the server's state of an entity kind ("task" or "notification"). */
  serverEntities(entity = 'task') {
    return this.storage.listEntities(entity);
  }

  /** Tasks and notifications with the pending mutations applied on top (see optimistic.js). */
  async view() {
    const [task, notification, queued, serverLast, user] = await Promise.all([
      this.storage.listEntities('task'), this.storage.listEntities('notification'),
      this.storage.queuedMutations(), this.storage.getMeta('server_last_id'), this.user()]);
    // a mutation at or below server_last_id is already in the server's copy (read-your-writes)
    const pending = queued.filter((mutation) => mutation.id > (serverLast ?? 0));
    return optimisticView({ task, notification }, pending, user ?? { username: '' });
  }

  /** The optimistic tasks. */
  async tasks() {
    return (await this.view()).task;
  }

  /** One optimistic task, or undefined. */
  async task(taskId) {
    return (await this.tasks()).find((task) => task.id === taskId);
  }

  /** The optimistic inbox, newest first. */
  async notifications() {
    return (await this.view()).notification.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  }

  /**
   * A photo's bytes: from storage while it waits to be uploaded, else GET /blobs/{sha256}.
   * @returns {Promise<{contentType: string, bytes: Uint8Array}>}
   */
  async photo(sha256) {
    const local = await this.storage.getBlob(sha256);
    if (local) return { contentType: local.contentType, bytes: local.bytes };
    return this.transport.request('GET', `/api/v1/blobs/${sha256}`, { binary: true });
  }
}
