import assert from 'node:assert/strict';

import { assertMatchesServer, fixture, liveTest, newClient, offline, signedIn, STORAGES, taskOf } from './helpers.js';

liveTest('a rejection carries the reason and the server state, which replaces the local guess', async (kind, made) => {
  const task = taskOf('reject', kind);
  const winner = await signedIn('clerk', STORAGES[kind]().storage);
  const loser = await signedIn('clerk_same_store', made.storage);
  await loser.sync();

  // the loser scans offline; the winner's claim reaches the server first
  const offlineLoser = newClient(made.storage, { fetch: offline });
  const claim = await offlineLoser.claimTask({ qrToken: task.qr_token, taskId: task.id });
  const sale = await offlineLoser.recordSale(task.id, fixture.sku, 5);
  assert.deepEqual((await offlineLoser.task(task.id)).claimants.map((c) => c.username), [fixture.users.clerk_same_store]);
  await winner.claimTask({ qrToken: task.qr_token, taskId: task.id });
  await winner.sync();

  const rejected = [];
  loser.on('rejected', (event) => rejected.push(event));
  const { results } = await loser.sync();
  assert.deepEqual(results.map((r) => [r.id, r.status, r.error]),
    [[claim.id, 'rejected', 'task_already_claimed'], [sale.id, 'rejected', 'not_claimant']]);
  assert.deepEqual(rejected.map((event) => [event.mutation.name, event.result.error]),
    [['claim_task', 'task_already_claimed'], ['record_sale', 'not_claimant']]);
  assert.match(rejected[0].result.message, /./);
  assert.deepEqual(rejected[0].result.entity.claimants.map((c) => c.username), [fixture.users.clerk]);

  // the local copy and the optimistic view both show the server's state: the winner holds it
  const local = await assertMatchesServer(loser, task.id);
  assert.deepEqual(local.claimants.map((c) => c.username), [fixture.users.clerk]);
  const shown = await loser.task(task.id);
  assert.equal(shown.pending, undefined);
  assert.deepEqual(shown.sales, {});
  assert.deepEqual(await loser.pending(), []);
  assert.equal((await loser.result(claim.id)).error, 'task_already_claimed');
});

liveTest('another store\'s task is rejected without leaking its state', async (kind, made) => {
  const phone = await signedIn('clerk', made.storage);
  const other = fixture.other_store_task;
  const note = await phone.addNote(other.id, 'not my store');
  const claim = await phone.claimTask({ qrToken: other.qr_token, taskId: other.id });
  const { results } = await phone.sync();
  const byId = new Map(results.map((r) => [r.id, r]));
  assert.equal(byId.get(note.id).status, 'rejected');
  assert.equal(byId.get(note.id).error, 'out_of_scope');
  assert.equal(byId.get(note.id).entity, null);
  assert.equal(byId.get(claim.id).error, 'wrong_store');
  assert.equal(byId.get(claim.id).entity, null);
  assert.equal((await phone.serverEntities('task')).some((task) => task.id === other.id), false);
});
