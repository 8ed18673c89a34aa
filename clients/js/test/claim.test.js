import assert from 'node:assert/strict';

import { assertMatchesServer, fixture, liveTest, losingAnswers, newClient, offline, signedIn, STORAGES, taskOf } from './helpers.js';

liveTest('a scanned token alone claims its task, offline too', async (kind, made) => {
  const task = taskOf('claim', kind);
  const phone = await signedIn('clerk', made.storage);
  await phone.pull();
  const offlinePhone = newClient(made.storage, { fetch: offline });
  // the protocol: a claim_task with the scanned token and nothing else
  const claim = await offlinePhone.enqueue('claim_task', { qr_token: task.qr_token, scanned_at: new Date().toISOString() });
  assert.equal((await offlinePhone.task(task.id)).status, 'claimed', 'the phone read the task from the token');
  // the helper adds the task id it reads from the code (so a refusal comes back with the task)
  assert.equal((await offlinePhone.claimTask({ qrToken: task.qr_token })).args.task_id, task.id);

  const { results } = await phone.sync();
  // the re-scan is the same claim; the task comes back once, with the last lifecycle result
  assert.deepEqual(results.map((r) => [r.id, r.status, r.entity?.id ?? null]),
    [[claim.id, 'applied', null], [claim.id + 1, 'applied', task.id]]);
  const local = await assertMatchesServer(phone, task.id);
  assert.deepEqual(local.claimants.map((c) => c.username), [fixture.users.clerk]);

  // a task id that disagrees with the token is refused as a forged code
  const other = taskOf('view', kind);
  const wrong = await phone.claimTask({ qrToken: task.qr_token, taskId: other.id });
  const [refused] = (await phone.sync()).results;
  assert.deepEqual([refused.id, refused.status, refused.error], [wrong.id, 'rejected', 'invalid_qr']);
});

liveTest('a typed short code claims its task; a colleague after that is told who holds it', async (kind, made) => {
  const task = taskOf('claim', kind);
  const colleague = await signedIn('clerk_same_store', made.storage);
  const typed = task.short_code.toLowerCase().replace(/-/g, ' ');
  const claim = await colleague.claimTask({ shortCode: typed });
  const rejected = [];
  colleague.on('rejected', ({ result }) => rejected.push(result));
  const { results } = await colleague.sync();
  assert.deepEqual(results.map((r) => [r.id, r.status, r.error]), [[claim.id, 'rejected', 'task_already_claimed']]);
  assert.deepEqual(rejected[0].details.held_by.map((holder) => holder.username), [fixture.users.clerk]);
  assert.deepEqual(rejected[0].entity.claimants.map((c) => c.username), [fixture.users.clerk]);

  const holder = await signedIn('clerk', STORAGES[kind]().storage);
  const again = await holder.claimTask({ shortCode: task.short_code });
  const [rescan] = (await holder.sync()).results;
  assert.deepEqual([rescan.id, rescan.status], [again.id, 'applied'], 'the holder typing it again is the same claim');
  const bogus = await holder.claimTask({ shortCode: 'ZZZZ-ZZZZZ' });
  const both = await holder.enqueue('claim_task', { qr_token: task.qr_token, short_code: task.short_code });
  const neither = await holder.enqueue('claim_task', { task_id: task.id });
  const answers = (await holder.sync()).results.map((r) => [r.id, r.error]);
  assert.deepEqual(answers, [[bogus.id, 'invalid_qr'], [both.id, 'invalid_args'], [neither.id, 'invalid_args']]);
});

liveTest('script feedback counts exactly once, even when the answer is lost', async (kind, made) => {
  const before = await scriptCounts(await signedIn('clerk', STORAGES[kind]().storage));
  const network = losingAnswers('/api/v1/sync/push');
  const phone = await signedIn('clerk', made.storage, { fetch: network.fetch });
  await phone.scriptFeedback(fixture.script_id, 'used');
  await phone.scriptFeedback(fixture.script_id, 'converted');
  const { results } = await phone.sync();
  assert.equal(network.lost, 1);
  assert.deepEqual(results.map((r) => r.status), ['applied', 'applied']);
  const after = await scriptCounts(phone);
  assert.deepEqual(after, { uses: before.uses + 1, conversions: before.conversions + 1 });

  const unknown = await phone.scriptFeedback(999_999, 'used');
  const [refused] = (await phone.sync()).results;
  assert.deepEqual([refused.id, refused.status], [unknown.id, 'rejected']);
  assert.equal(refused.entity ?? null, null);
});

async function scriptCounts(client) {
  const ranked = await client.request('GET', `/api/v1/scripts?sku=${fixture.sku}`);
  const script = (ranked.items ?? ranked).find((item) => item.id === fixture.script_id);
  return { uses: script.uses, conversions: script.conversions };
}
