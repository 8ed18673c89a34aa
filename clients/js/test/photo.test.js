import assert from 'node:assert/strict';

import { NetworkError } from '../src/index.js';
import { assertMatchesServer, liveTest, newClient, offline, png, signedIn, taskOf } from './helpers.js';

const hex = async (bytes) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)),
  (byte) => byte.toString(16).padStart(2, '0')).join('');

liveTest('a photo taken offline is kept, uploaded before attach_photo, and fetched back', async (kind, made) => {
  const task = taskOf('photo', kind);
  const online = await signedIn('clerk', made.storage);
  await online.claimTask({ qrToken: task.qr_token, taskId: task.id });
  await online.sync();

  const phone = newClient(made.storage, { fetch: offline });
  const bytes = png();
  const sha256 = await hex(bytes);
  const attach = await phone.attachPhoto(task.id, new Blob([bytes], { type: 'image/png' }));
  assert.deepEqual(attach.args, { task_id: task.id, sha256 });
  await phone.setChecklistItem(task.id, 'shelf', true);
  await phone.setChecklistItem(task.id, 'poster', true);
  await phone.submitTask(task.id);
  await assert.rejects(phone.sync(), NetworkError);
  const kept = await made.storage.getBlob(sha256);
  assert.equal(kept.uploaded, false);
  assert.deepEqual(Array.from(kept.bytes), Array.from(bytes));
  assert.deepEqual(Array.from((await phone.photo(sha256)).bytes), Array.from(bytes), 'shown from storage offline');
  assert.equal((await phone.task(task.id)).status, 'submitted');

  const storage = await made.reopen();
  const back = newClient(storage);
  const { results } = await back.sync();
  assert.ok(results.every((r) => r.status === 'applied'), JSON.stringify(results.filter((r) => r.status !== 'applied')));
  assert.equal(await storage.getBlob(sha256), undefined, 'the bytes leave the phone once the server has them');
  const local = await assertMatchesServer(back, task.id);
  assert.equal(local.status, 'submitted');
  assert.deepEqual(local.photos.map((p) => p.sha256), [sha256]);
  const fetched = await back.photo(sha256);
  assert.equal(fetched.contentType, 'image/png');
  assert.deepEqual(Array.from(fetched.bytes), Array.from(bytes));
});

liveTest('a photo the server refuses surfaces as photo-failed and an unknown_photo rejection', async (kind, made) => {
  const task = taskOf('bad-photo', kind);
  const phone = await signedIn('clerk', made.storage);
  await phone.claimTask({ qrToken: task.qr_token, taskId: task.id });
  const failed = [];
  phone.on('photo-failed', (event) => failed.push(event.error.error));
  const fake = new TextEncoder().encode('not an image at all');
  await phone.attachPhoto(task.id, fake, 'image/png');
  const { results } = await phone.sync();
  assert.deepEqual(failed, ['invalid_image']);
  assert.deepEqual(results.map((r) => [r.status, r.error]), [['applied', undefined], ['rejected', 'unknown_photo']]);
  assert.deepEqual(results[1].entity.photos, [], 'with the task as the server holds it');
});
