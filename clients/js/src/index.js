/**
 * @zhida/sync-client — Zhida's offline sync protocol v1 for browsers and Node (docs/mobile.md).
 *
 * @example
 * import { SyncClient, IndexedDBStorage } from '@zhida/sync-client';
 * const client = new SyncClient({ baseUrl: '', storage: new IndexedDBStorage() });
 * await client.login('clerk_s001_1', 'password');
 * await client.sync();                       // bootstrap: the store's tasks and the inbox
 * await client.recordSale(9, 'LIP-01', 2);   // queued and stored, works offline
 * await client.sync();                       // pushed, then pulled
 *
 * @module sync-client
 */

export { SyncClient, PendingMutationsError } from './client.js';
export { ApiError, NetworkError, SignedOutError, backoffDelay, parseRetryAfter, DEFAULT_RETRY } from './http.js';
export { MemoryStorage } from './storage/memory.js';
export { IndexedDBStorage } from './storage/indexeddb.js';
export { optimisticView } from './optimistic.js';
export { readQrToken, readShortCode } from './qr.js';
