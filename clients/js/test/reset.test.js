import assert from 'node:assert/strict';

import { liveTest, newClient, normal, serverTask, signedIn, STORAGES } from './helpers.js';

/** Every task of the user's scope as the server lists it, by id. */
async function scopeOnServer(client) {
  const page = await client.request('GET', '/api/v1/tasks?page_size=200');
  const ids = page.items.map((task) => task.id).sort((a, b) => a - b);
  return Promise.all(ids.map((id) => serverTask(client, id)));
}

liveTest('bootstrap pages by has_more and the local copy equals the server scope', async (kind, made) => {
  const phone = await signedIn('clerk', made.storage, { pullLimit: 4 });
  const { pages, reset } = await phone.pull();
  assert.ok(pages > 2, `a small limit makes several pages (${pages})`);
  assert.equal(reset, false);
  assert.deepEqual(normal(await phone.serverEntities('task')), normal(await scopeOnServer(phone)));
  const inbox = await phone.request('GET', '/api/v1/notifications?page_size=200');
  assert.deepEqual((await phone.serverEntities('notification')).map((n) => n.id).sort(),
    inbox.items.map((n) => n.id).sort());
  assert.equal((await phone.pull()).pages, 1, 'a delta pull with nothing new is one page');
});

liveTest('reset: a cursor of another scope replaces the whole local copy', async (kind, made) => {
  // another clerk's phone state (store S001) ends up in this storage, cursor included
  const other = STORAGES[kind]();
  const s001 = await signedIn('clerk', other.storage);
  await s001.pull();
  const foreignCursor = await other.storage.getMeta('cursor');
  const foreignTasks = await s001.serverEntities('task');

  const phone = await signedIn('clerk_other_store', made.storage);
  await made.storage.applyPage({
    changes: foreignTasks.map((task) => ({ entity: 'task', op: 'put', id: task.id, data: task })),
    replace: true, meta: { cursor: foreignCursor },
  });
  const changes = [];
  phone.on('change', (change) => changes.push(change));
  const { reset } = await phone.pull();
  assert.equal(reset, true);
  assert.deepEqual(changes.at(-1), { source: 'pull', reset: true });
  const local = await phone.serverEntities('task');
  assert.ok(local.every((task) => task.store === 'S002'), 'nothing of the foreign scope is left');
  assert.deepEqual(normal(local), normal(await scopeOnServer(phone)));
});

liveTest('a damaged cursor starts over with a fresh snapshot', async (kind, made) => {
  const phone = await signedIn('clerk_other_store', made.storage);
  await made.storage.setMeta({ cursor: 'c2.not-a-cursor' });
  await phone.pull();
  assert.notEqual(await made.storage.getMeta('cursor'), 'c2.not-a-cursor');
  assert.deepEqual(normal(await phone.serverEntities('task')), normal(await scopeOnServer(phone)));
  await newClient(made.storage).pull(); // and the new cursor works for deltas
});

liveTest('reset: a cursor of the server before the lock-free feed (c1.) gets a fresh snapshot', async (kind, made) => {
  const phone = await signedIn('clerk_other_store', made.storage);
  await phone.pull();
  await made.storage.applyPage({ changes: [{ entity: 'task', op: 'put', id: 999_999, data: { id: 999_999, title: 'stale' } }],
    replace: false, meta: {} });
  const legacy = `c1.${Buffer.from(JSON.stringify({ s: 1, k: '000000000000' })).toString('base64url')}`;
  await made.storage.setMeta({ cursor: legacy });
  const { reset } = await phone.pull();
  assert.equal(reset, true);
  assert.ok((await made.storage.getMeta('cursor')).startsWith('c2.'));
  assert.deepEqual(normal(await phone.serverEntities('task')), normal(await scopeOnServer(phone)), 'the stale task is gone');
});
