import assert from 'node:assert/strict';

import { NetworkError } from '../src/index.js';
import { assertMatchesServer, fixture, liveTest, losingAnswers, newClient, serverTask, signedIn, taskOf } from './helpers.js';

liveTest('a push whose answer was lost is retried and answered from the stored results', async (kind, made) => {
  const task = taskOf('retry', kind);
  const online = await signedIn('clerk', made.storage);
  await online.sync();

  // the answer of the first push is lost; the client's own retry gets the stored results
  const network = losingAnswers('/api/v1/sync/push');
  const phone = newClient(made.storage, { fetch: network.fetch });
  await phone.claimTask({ qrToken: task.qr_token, taskId: task.id });
  await phone.recordSale(task.id, fixture.sku, 3);
  const first = await phone.sync();
  assert.equal(network.lost, 1);
  assert.deepEqual(first.results.map((r) => [r.id, r.status]), [[1, 'applied'], [2, 'applied']]);
  assert.deepEqual((await serverTask(online, task.id)).sales, { [fixture.sku]: 3 }, 'counted once');

  // no retries left: sync fails, the mutation stays queued although the server applied it
  const flaky = losingAnswers('/api/v1/sync/push');
  const impatient = newClient(made.storage, { fetch: flaky.fetch, retry: { attempts: 1 } });
  const sale = await impatient.recordSale(task.id, fixture.sku, 4);
  await assert.rejects(impatient.sync(), NetworkError);
  assert.deepEqual((await impatient.pending()).map((m) => m.id), [sale.id]);
  assert.deepEqual((await serverTask(online, task.id)).sales, { [fixture.sku]: 7 });
  // a pull brings the server's copy (with the sale) and its last_mutation_id: the queued sale
  // stays queued (no result yet) but the optimistic view must not add it a second time
  await impatient.pull();
  assert.deepEqual((await impatient.pending()).map((m) => m.id), [sale.id]);
  assert.deepEqual((await impatient.serverEntities('task')).find((t) => t.id === task.id).sales, { [fixture.sku]: 7 });
  const shown = await impatient.task(task.id);
  assert.deepEqual(shown.sales, { [fixture.sku]: 7 });
  assert.equal(shown.pending, undefined);

  // a later sync sends it again and gets the first attempt's result; nothing is re-applied
  const later = newClient(made.storage);
  const { results } = await later.sync();
  assert.deepEqual(results.map((r) => [r.id, r.status]), [[sale.id, 'applied']]);
  assert.deepEqual(await later.pending(), []);
  const local = await assertMatchesServer(later, task.id);
  assert.deepEqual(local.sales, { [fixture.sku]: 7 });
});

liveTest('5xx and 429 are retried with backoff, never sooner than Retry-After', async (kind, made) => {
  const online = await signedIn('clerk', made.storage);
  const answers = [
    new Response(JSON.stringify({ code: 503, error: 'unavailable', message: 'busy' }), { status: 503, headers: { 'Retry-After': '2' } }),
    new Response(JSON.stringify({ code: 429, error: 'rate_limited', message: 'slow down' }), { status: 429, headers: { 'Retry-After': '3' } }),
    new Response('bad gateway', { status: 502 }),
  ];
  const waits = [];
  let calls = 0;
  const phone = newClient(made.storage, {
    fetch: async (url, init) => { calls += 1; return answers.shift() ?? fetch(url, init); },
    sleep: async (ms) => { waits.push(ms); },
    retry: { attempts: 5, baseMs: 100, capMs: 1000 },
  });
  const pulled = await phone.pull();
  assert.equal(pulled.pages >= 1, true);
  assert.equal(calls, 4);
  assert.equal(waits.length, 3);
  assert.ok(waits[0] >= 2000, `waited ${waits[0]} ms after Retry-After: 2`);
  assert.ok(waits[1] >= 3000, `waited ${waits[1]} ms after Retry-After: 3`);
  assert.ok(waits[2] < 400, 'without Retry-After: jitter below base·2^attempt');
  assert.ok((await online.serverEntities('task')).length > 0);
});
