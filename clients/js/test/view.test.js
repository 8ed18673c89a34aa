import assert from 'node:assert/strict';

import { readQrToken, readShortCode } from '../src/index.js';
import { fixture, liveTest, newClient, normal, offline, signedIn, taskOf } from './helpers.js';

liveTest('the optimistic view shows queued work at once and gives way to the server', async (kind, made) => {
  const task = taskOf('view', kind);
  assert.equal(readQrToken(task.qr_token).taskId, task.id, 'the app reads the task id from the scan');
  assert.equal(readShortCode(task.short_code).taskId, task.id, 'and from a typed short code');
  const online = await signedIn('clerk', made.storage);
  await online.sync();
  const before = normal(await online.serverEntities('task'));

  const phone = newClient(made.storage, { fetch: offline });
  const changes = [];
  phone.on('change', (change) => changes.push(change.source));
  await phone.claimTask({ qrToken: task.qr_token, taskId: task.id });
  await phone.startTask(task.id);
  await phone.setChecklistItem(task.id, 'poster', true);
  await phone.recordSale(task.id, fixture.sku, 4);
  await phone.addNote(task.id, 'queued offline');
  assert.deepEqual(changes, ['queue', 'queue', 'queue', 'queue', 'queue']);

  const shown = await phone.task(task.id);
  assert.equal(shown.status, 'in_progress');
  assert.deepEqual(shown.claimants.map((c) => c.username), [fixture.users.clerk]);
  assert.equal(shown.checklist.poster.done, true);
  assert.deepEqual(shown.sales, { [fixture.sku]: 4 });
  assert.deepEqual(shown.notes.map((n) => n.text), ['queued offline']);
  assert.deepEqual(shown.pending, [1, 2, 3, 4, 5]);
  assert.deepEqual(normal(await phone.serverEntities('task')), before, 'the server copy waits for the server');

  const back = newClient(made.storage);
  await back.sync();
  const after = await back.task(task.id);
  assert.equal(after.pending, undefined);
  assert.equal(after.status, 'in_progress');
  assert.deepEqual(after.sales, { [fixture.sku]: 4 });
  assert.equal(after.notes[0].by, fixture.users.clerk);
  assert.ok(after.notes[0].at, 'the server stamped it');
});
