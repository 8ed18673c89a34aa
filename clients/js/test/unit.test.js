import assert from 'node:assert/strict';
import { test } from 'node:test';

import { backoffDelay, MemoryStorage, optimisticView, parseRetryAfter, readQrToken, readShortCode, SignedOutError, SyncClient } from '../src/index.js';

test('backoff: full jitter under an exponential ceiling, capped, never below Retry-After', () => {
  const policy = { attempts: 6, baseMs: 500, capMs: 30_000 };
  assert.equal(backoffDelay(0, policy, null, () => 0.999), 499);
  assert.equal(backoffDelay(3, policy, null, () => 0.5), 2000);
  assert.equal(backoffDelay(20, policy, null, () => 0.999), 29_970);
  assert.equal(backoffDelay(0, policy, 5000, () => 0.5), 5000);
  assert.equal(backoffDelay(2, policy, null, () => 0), 0);
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('7'), 7000);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const now = Date.parse('2026-11-11T00:00:00Z');
  assert.equal(parseRetryAfter('Wed, 11 Nov 2026 00:00:30 GMT', now), 30_000);
});

test('a QR token names its task; anything else is not one of ours', () => {
  // key 1, task 9, store 3, expiry minute 29_000_000, nonce 42, MAC zeros: the layout of qr/tokens.py
  const raw = new Uint8Array(33);
  const view = new DataView(raw.buffer);
  view.setUint8(0, 1);
  view.setBigUint64(1, 9n);
  view.setUint32(9, 3);
  view.setUint32(13, 29_000_000);
  view.setUint32(17, 42);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of raw) bits += byte.toString(2).padStart(8, '0');
  let text = '';
  for (let i = 0; i < bits.length; i += 5) text += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  const claims = readQrToken(`zd1:${text.toLowerCase()}`);
  assert.equal(claims.taskId, 9);
  assert.equal(claims.storeId, 3);
  assert.equal(claims.expiresAt.getTime(), 29_000_000 * 60_000);
  assert.equal(readQrToken('https://example.com'), null);
  assert.equal(readQrToken('ZD1:!!!'), null);
  assert.equal(readQrToken('ZD1:AAAA'), null);
});

test('a typed short code names its task (look-alikes forgiven); anything else is not one', () => {
  assert.deepEqual(readShortCode('3D2-K7M2Q'), { taskId: 3 * 1024 + 13 * 32 + 2 });
  assert.deepEqual(readShortCode(' 3d2 k7m2q '), { taskId: 3490 });
  assert.deepEqual(readShortCode('3D2-K7M2O'), { taskId: 3490 }, 'O reads as 0');
  assert.equal(readShortCode('K7M2Q'), null, 'no task part');
  assert.equal(readShortCode('3D2-K7M2U'), null, 'U is not Crockford');
  assert.equal(readShortCode(''), null);
});

test('the optimistic view applies pending mutations over the server copy, marking them', () => {
  const task = {
    id: 9, status: 'open', max_claimants: 1, claimants: [], sales: { A: 1 }, notes: [], photos: [],
    checklist: { shelf: { label: 'Shelf', done: false, by: null, at: null } }, observed_prices: {},
  };
  const notification = { id: 4, read_at: null, created_at: '2026-11-11T00:00:00Z' };
  const at = '2026-11-11T01:00:00.000Z';
  const pending = [
    { id: 1, name: 'claim_task', args: { task_id: 9, qr_token: 'x' }, client_time: at },
    { id: 2, name: 'start_task', args: { task_id: 9 }, client_time: at },
    { id: 3, name: 'set_checklist_item', args: { task_id: 9, item_id: 'shelf', done: true }, client_time: at },
    { id: 4, name: 'record_sale', args: { task_id: 9, sku: 'A', quantity: 2 }, client_time: at },
    { id: 5, name: 'add_note', args: { task_id: 9, text: 'hi' }, client_time: at },
    { id: 6, name: 'attach_photo', args: { task_id: 9, sha256: 'ab' }, client_time: at },
    { id: 7, name: 'submit_task', args: { task_id: 9, quantity: 3 }, client_time: at },
    { id: 8, name: 'mark_read', args: { notification_id: 4 }, client_time: at },
    { id: 9, name: 'record_sale', args: { task_id: 99, sku: 'A', quantity: 2 }, client_time: at },
  ];
  const view = optimisticView({ task: [task], notification: [notification] }, pending, { username: 'amy', display_name: 'Amy' });
  const [mine] = view.task;
  assert.equal(mine.status, 'submitted');
  assert.deepEqual(mine.claimants, [{ username: 'amy', display_name: 'Amy', claimed_at: at }]);
  assert.equal(mine.checklist.shelf.done, true);
  assert.deepEqual(mine.sales, { A: 3 });
  assert.deepEqual(mine.notes.map((n) => n.text), ['hi']);
  assert.deepEqual(mine.photos.map((p) => p.sha256), ['ab']);
  assert.equal(mine.quantity, 3);
  assert.deepEqual(mine.pending, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(view.notification[0].read_at, at);
  assert.equal(task.status, 'open', 'the server copy is untouched');

  const full = { ...task, claimants: [{ username: 'bob' }], status: 'claimed' };
  const [contested] = optimisticView({ task: [full], notification: [] }, pending.slice(0, 1), { username: 'amy' }).task;
  assert.deepEqual(contested.claimants, [{ username: 'bob' }], 'a full task is not claimed on the phone either');
});

test('enqueue refuses what would make the server refuse a whole push, and needs a sign-in', async () => {
  const storage = new MemoryStorage();
  const offline = async () => { throw new TypeError('offline'); };
  const client = new SyncClient({ storage, fetch: offline });
  await assert.rejects(client.addNote(1, 'x'), SignedOutError);
  await storage.setMeta({ auth: { access_token: 'a', refresh_token: 'r', user: { id: 1, username: 'amy' } } });
  await assert.rejects(client.enqueue('Bad Name', {}), TypeError);
  await assert.rejects(client.enqueue('add_note', [1]), TypeError);
  await assert.rejects(client.enqueue('add_note', { task_id: 1, text: 'x' }, { clientTime: 'yesterday' }), TypeError);
  await assert.rejects(client.scriptFeedback(3, 'liked'), TypeError);
  await assert.rejects(client.claimTask({}), TypeError);
  await assert.rejects(client.attachPhoto(1, new TextEncoder().encode('text')), TypeError);
  assert.deepEqual(await client.pending(), [], 'nothing refused was queued');
  const note = await client.addNote(1, 'x');
  assert.equal(note.id, 1);
  assert.match(note.client_time, /^\d{4}-\d{2}-\d{2}T.*Z$/);
  assert.match(await client.clientId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
