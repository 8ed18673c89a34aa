import assert from 'node:assert/strict';

import { assertMatchesServer, fixture, liveTest, signedIn, taskOf } from './helpers.js';

liveTest('mutation_gap: a queue that skipped ids is renumbered after the server and pushed', async (kind, made) => {
  const task = taskOf('gap', kind);
  const phone = await signedIn('clerk', made.storage);
  await phone.claimTask({ qrToken: task.qr_token, taskId: task.id });
  await phone.startTask(task.id);
  await phone.sync(); // the server holds ids 1 and 2

  // the phone's counter jumped (a restored backup, a bug): its next ids skip 3..9
  await made.storage.setMeta({ next_id: 10 });
  await phone.recordSale(task.id, fixture.sku, 1);
  await phone.addNote(task.id, 'after the jump');
  assert.deepEqual((await phone.pending()).map((m) => m.id), [10, 11]);
  const gaps = [];
  phone.on('gap', (gap) => gaps.push(gap));
  const { results } = await phone.sync();
  assert.deepEqual(gaps, [{ from: 10, to: 3 }]);
  assert.deepEqual(results.map((r) => [r.id, r.status]), [[3, 'applied'], [4, 'applied']]);
  assert.deepEqual(await phone.pending(), []);
  assert.equal((await phone.recordSale(task.id, fixture.sku, 1)).id, 5, 'ids go on from the renumbered queue');
  await phone.sync();
  const local = await assertMatchesServer(phone, task.id);
  assert.deepEqual(local.sales, { [fixture.sku]: 2 });
});

liveTest('a counter that went backwards never reuses an id the server holds', async (kind, made) => {
  const task = taskOf('gap', kind);
  const phone = await signedIn('clerk_same_store', made.storage);
  await phone.addNote(task.id, 'one');
  await phone.addNote(task.id, 'two');
  await phone.sync(); // ids 1 and 2 are the server's; the pull told the phone so

  await made.storage.setMeta({ next_id: 1 });
  const third = await phone.addNote(task.id, 'three');
  assert.equal(third.id, 3, 'the id floor is the server\'s last_mutation_id + 1');
  const { results } = await phone.sync();
  assert.deepEqual(results.map((r) => [r.id, r.status]), [[3, 'applied']]);
  const notes = (await assertMatchesServer(phone, task.id)).notes.filter((n) => n.by === fixture.users.clerk_same_store);
  assert.deepEqual(notes.map((n) => n.text), ['one', 'two', 'three']);
});
