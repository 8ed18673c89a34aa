import assert from 'node:assert/strict';

import { ApiError, PendingMutationsError, SignedOutError } from '../src/index.js';
import { fixture, liveTest, newClient, signedIn, taskOf } from './helpers.js';

/** A fetch that counts the refreshes it forwards. */
function countingRefreshes() {
  const state = { refreshes: 0 };
  state.fetch = (url, init) => {
    if (url.endsWith('/api/v1/auth/refresh')) state.refreshes += 1;
    return fetch(url, init);
  };
  return state;
}

liveTest('sign-in, then a refused access token is refreshed once and the call retried', async (kind, made) => {
  const wrong = newClient(made.storage);
  await assert.rejects(wrong.login(fixture.users.clerk, 'not the password'),
    (error) => error instanceof ApiError && error.status === 401 && error.error === 'invalid_credentials');
  await assert.rejects(wrong.sync(), SignedOutError, 'nothing is sent without a sign-in');

  const network = countingRefreshes();
  const phone = newClient(made.storage, { fetch: network.fetch });
  const user = await phone.login(fixture.users.clerk, fixture.password);
  assert.equal(user.username, fixture.users.clerk);
  assert.equal((await phone.user()).username, fixture.users.clerk);
  const first = await made.storage.getMeta('auth');

  // the access token is refused (expired, say): three calls at once share one rotation
  await made.storage.setMeta({ auth: { ...first, access_token: 'expired.access.token' } });
  const answers = await Promise.all([
    phone.request('GET', '/api/v1/auth/me'), phone.pull(), phone.request('GET', '/api/v1/auth/me')]);
  assert.equal(answers[0].username, fixture.users.clerk);
  assert.equal(network.refreshes, 1);
  const second = await made.storage.getMeta('auth');
  assert.notEqual(second.refresh_token, first.refresh_token, 'refresh tokens rotate');
});

liveTest('a spent refresh token revokes the sign-in: the client signs out and keeps its queue', async (kind, made) => {
  const task = taskOf('auth', kind);
  const phone = await signedIn('clerk', made.storage);
  const signedOut = [];
  phone.on('signedout', (event) => signedOut.push(event.reason));
  const stolen = (await made.storage.getMeta('auth')).refresh_token;

  await made.storage.setMeta({ auth: { ...(await made.storage.getMeta('auth')), access_token: 'expired' } });
  await phone.request('GET', '/api/v1/auth/me'); // rotates: `stolen` is now spent
  // someone replays the spent token: the server revokes the whole family
  const replay = await fetch(`${fixture.base_url}/api/v1/auth/refresh`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: stolen }) });
  assert.equal((await replay.json()).error, 'refresh_token_reused');

  const note = await phone.addNote(task.id, 'written before the sign-out');
  await made.storage.setMeta({ auth: { ...(await made.storage.getMeta('auth')), access_token: 'expired' } });
  await assert.rejects(phone.sync(), SignedOutError);
  assert.deepEqual(signedOut, ['session_ended'], 'the phone\'s own (unspent) token died with its family');
  assert.equal(await phone.user(), null);
  await assert.rejects(phone.addNote(task.id, 'no'), SignedOutError);

  // the same clerk signs in again: the queue is still there and goes through
  await phone.login(fixture.users.clerk, fixture.password);
  assert.deepEqual((await phone.pending()).map((m) => m.id), [note.id]);
  const { results } = await phone.sync();
  assert.deepEqual(results.map((r) => r.status), ['applied']);
});

liveTest('device registration, sign-out and another user on the same install', async (kind, made) => {
  const phone = await signedIn('clerk', made.storage);
  const clientId = await phone.clientId();
  const device = await phone.registerDevice({ pushToken: null, locale: 'en', appVersion: 'web-test-1.2.3' });
  assert.equal(device.client_id, clientId);
  assert.equal(device.platform, 'web');
  assert.equal(device.has_push_token, false);
  assert.equal(device.locale, 'en');
  assert.equal(device.app_version, 'web-test-1.2.3');
  const token = 'fcm-registration-token-of-this-browser-0123456789';
  assert.equal((await phone.registerDevice({ pushToken: token, appVersion: 'web-test-1.2.4' })).has_push_token, true);

  await phone.pull();
  await phone.addNote(taskOf('auth', kind).id, 'unsynced');
  await assert.rejects(phone.logout(), PendingMutationsError);
  await phone.sync();
  const refresh = (await made.storage.getMeta('auth')).refresh_token;
  await phone.logout();
  assert.equal(await phone.user(), null);
  assert.deepEqual(await phone.serverEntities('task'), []);
  const reuse = await fetch(`${fixture.base_url}/api/v1/auth/refresh`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: refresh }) });
  assert.equal(reuse.status, 401, 'the sign-in was revoked on the server');

  // the first user signs in, syncs, then a colleague signs in on the same phone
  await phone.login(fixture.users.clerk, fixture.password);
  await phone.sync();
  const firstId = await phone.clientId();
  await phone.login(fixture.users.clerk_same_store, fixture.password);
  assert.notEqual(await phone.clientId(), firstId, 'a client id belongs to one user');
  assert.deepEqual(await phone.serverEntities('task'), []);
  await phone.sync();
  assert.ok((await phone.serverEntities('task')).length > 0);
  assert.equal((await phone.user()).username, fixture.users.clerk_same_store);
});
