/**
 * What the live tests share: the fixture pytest wrote (tests/clients/test_js_client.py), clients over
 * each storage, and fetch wrappers that imitate a bad network.
 */

import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { IndexedDBStorage, MemoryStorage, SyncClient } from '../src/index.js';

/** Base URL, logins, task ids and QR tokens of the seeded server; null outside pytest. */
export const fixture = process.env.ZHIDA_JS_FIXTURE
  ? JSON.parse(readFileSync(process.env.ZHIDA_JS_FIXTURE, 'utf8')) : null;

/** Storage makers: `reopen` imitates an app restart (same data, new connection). */
export const STORAGES = {
  memory() {
    const storage = new MemoryStorage();
    return { storage, reopen: async () => storage };
  },
  indexeddb() {
    const name = `zhida-test-${randomUUID()}`;
    const holder = { storage: new IndexedDBStorage(name) };
    holder.reopen = async () => {
      await holder.storage.close();
      holder.storage = new IndexedDBStorage(name);
      return holder.storage;
    };
    return holder;
  },
};

/**
 * A test against the live server, once per storage kind; skipped without the fixture.
 * @param {string} title @param {(kind: string, made: {storage: any, reopen: () => Promise<any>}) => Promise<void>} body
 */
export function liveTest(title, body) {
  for (const kind of Object.keys(STORAGES)) {
    test(`${title} [${kind}]`, { skip: fixture ? false : 'run through pytest tests/clients/test_js_client.py' },
      () => body(kind, STORAGES[kind]()));
  }
}

/** Fast retries so tests do not wait: the backoff itself is tested on its own. */
export const FAST_RETRY = { attempts: 4, baseMs: 2, capMs: 20 };

/** A client of the fixture's server over `storage`. */
export function newClient(storage, options = {}) {
  return new SyncClient({ baseUrl: fixture.base_url, storage, retry: FAST_RETRY, ...options });
}

/** A signed-in client; `who` is a key of fixture.users ("clerk", "clerk_same_store", …). */
export async function signedIn(who, storage, options = {}) {
  const client = newClient(storage, options);
  await client.login(fixture.users[who], fixture.password);
  return client;
}

/** The fixture task of a scenario for one storage kind: {id, qr_token}. */
export const taskOf = (scenario, kind) => fixture.tasks[`${scenario}/${kind}`];

/** A phone with no network: every request fails before reaching the server. */
export const offline = async () => { throw new TypeError('fetch failed: offline'); };

/**
 * A network that loses answers: the first `count` requests whose URL ends with `suffix` reach
 * the server and run, but the phone never hears back.
 */
export function losingAnswers(suffix, count = 1) {
  const state = { lost: 0, calls: 0 };
  state.fetch = async (url, init) => {
    state.calls += 1;
    const response = await fetch(url, init);
    if (url.endsWith(suffix) && state.lost < count) {
      state.lost += 1;
      await response.arrayBuffer();
      throw new TypeError('socket hang up');
    }
    return response;
  };
  return state;
}

/** The task as the server shows it to `client`'s user (GET /tasks/{id}). */
export const serverTask = (client, taskId) => client.request('GET', `/api/v1/tasks/${taskId}`);

/** JSON-normal form, so local copies and server answers compare field by field. */
export const normal = (value) => JSON.parse(JSON.stringify(value));

/** The local copy of one task equals what the server says now. */
export async function assertMatchesServer(client, taskId) {
  const local = (await client.serverEntities('task')).find((task) => task.id === taskId);
  assert.ok(local, `task ${taskId} is in the local copy`);
  assert.deepEqual(normal(local), normal(await serverTask(client, taskId)));
  return local;
}

export const png = () => Uint8Array.from(Buffer.from(fixture.png_base64, 'base64'));
