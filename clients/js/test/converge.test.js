import assert from 'node:assert/strict';

import { fixture, liveTest, newClient, normal, offline, serverTask, signedIn, STORAGES, taskOf } from './helpers.js';

const minutes = (n) => new Date(Date.now() - (60 - n) * 60_000);

liveTest('two phones editing one task offline converge on the server\'s state', async (kind, made) => {
  const task = taskOf('converge', kind);
  const storageB = STORAGES[kind]().storage;
  const a = await signedIn('clerk', made.storage);
  const b = await signedIn('clerk_same_store', storageB);
  await Promise.all([a.sync(), b.sync()]);

  // both go offline and work on the same task (it takes two claimants)
  const offA = newClient(made.storage, { fetch: offline });
  const offB = newClient(storageB, { fetch: offline });
  // phone clocks: each edit's time is clamped to no earlier than that phone's previous one
  await offA.claimTask({ qrToken: task.qr_token, taskId: task.id, scannedAt: minutes(0) });
  await offB.claimTask({ qrToken: task.qr_token, taskId: task.id, scannedAt: minutes(0) });
  await offA.enqueue('set_checklist_item', { task_id: task.id, item_id: 'shelf', done: true }, { clientTime: minutes(1) });
  await offB.enqueue('set_checklist_item', { task_id: task.id, item_id: 'shelf', done: false }, { clientTime: minutes(2) });
  await offB.setChecklistItem(task.id, 'poster', true);
  await offA.recordSale(task.id, fixture.sku, 2);
  await offB.recordSale(task.id, fixture.sku, 3);
  await offA.addNote(task.id, 'A was here');
  await offB.addNote(task.id, 'B was here');
  const [notification] = await a.notifications();
  await offA.markRead(notification.id);
  assert.ok((await offA.notifications()).find((n) => n.id === notification.id).read_at, 'read at once on the phone');

  // B syncs first, then A; A's older tick loses to B's later untick (and is told so)
  const superseded = [];
  a.on('rejected', ({ result }) => superseded.push(result));
  await b.sync();
  await a.sync();
  await b.sync();
  assert.deepEqual(superseded.map((r) => [r.error, r.details.item_id]), [['superseded', 'shelf']]);

  const truth = await serverTask(a, task.id);
  assert.deepEqual(truth.sales, { [fixture.sku]: 5 });
  assert.equal(truth.checklist.shelf.done, false);
  assert.equal(truth.checklist.poster.done, true);
  assert.deepEqual(truth.claimants.map((c) => c.username).sort(), [fixture.users.clerk, fixture.users.clerk_same_store].sort());
  assert.deepEqual(truth.notes.map((n) => n.text).sort(), ['A was here', 'B was here']);

  // every task of the store: A's copy == B's copy == the server; nothing pending anywhere
  const tasksA = normal(await a.serverEntities('task'));
  const tasksB = normal(await b.serverEntities('task'));
  assert.deepEqual(tasksA, tasksB);
  assert.deepEqual(tasksA.find((t) => t.id === task.id), normal(truth));
  assert.deepEqual(normal(await a.tasks()), tasksA, 'the optimistic view has nothing left to add');
  assert.deepEqual(await a.pending(), []);
  assert.deepEqual(await b.pending(), []);
  const inbox = await a.request('GET', '/api/v1/notifications?page_size=200');
  const readOnServer = inbox.items.find((n) => n.id === notification.id).read_at;
  assert.ok(readOnServer);
  assert.equal((await a.serverEntities('notification')).find((n) => n.id === notification.id).read_at, readOnServer);
});
