import assert from 'node:assert/strict';

import { NetworkError } from '../src/index.js';
import { assertMatchesServer, fixture, liveTest, newClient, offline, serverTask, signedIn, taskOf } from './helpers.js';

liveTest('the queue is stored before any network call and survives a restart', async (kind, made) => {
  const task = taskOf('queue', kind);
  const online = await signedIn('clerk', made.storage);
  await online.sync();

  // offline: every change is queued with consecutive ids, and sync fails without losing any
  const phone = newClient(made.storage, { fetch: offline });
  await phone.claimTask({ qrToken: task.qr_token, taskId: task.id });
  await phone.startTask(task.id);
  await phone.setChecklistItem(task.id, 'shelf', true);
  await phone.recordSale(task.id, fixture.sku, 2);
  await assert.rejects(phone.sync(), NetworkError);
  assert.deepEqual((await phone.pending()).map((m) => m.id), [1, 2, 3, 4]);
  assert.equal((await serverTask(online, task.id)).status, 'open', 'nothing reached the server');

  // the app restarts (new client, same storage): ids continue, the queue is pushed
  const clientId = await online.clientId();
  const storage = await made.reopen(); // the old clients' storage connection is gone now
  const restarted = newClient(storage);
  assert.equal(await restarted.clientId(), clientId);
  const note = await restarted.addNote(task.id, 'Poster was missing, hung a spare');
  assert.equal(note.id, 5);
  const { results } = await restarted.sync();
  assert.deepEqual(results.map((r) => [r.id, r.status]), [1, 2, 3, 4, 5].map((id) => [id, 'applied']));
  assert.deepEqual(await restarted.pending(), []);

  const local = await assertMatchesServer(restarted, task.id);
  assert.equal(local.status, 'in_progress');
  assert.deepEqual(local.sales, { [fixture.sku]: 2 });
  assert.equal(local.checklist.shelf.done, true);
  assert.deepEqual(local.notes.map((n) => n.text), ['Poster was missing, hung a spare']);
  assert.equal((await restarted.result(4)).status, 'applied');
});
