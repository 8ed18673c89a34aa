/**
 * Shared JSDoc types of the sync client. Nothing runs here.
 *
 * A Storage keeps five things and must make each method atomic (a crash in the middle leaves
 * either all of its writes or none): `meta` (client id, tokens, cursor, the mutation id counter),
 * the mutation `queue`, the `results` the server returned, the local copy of the server's
 * `entities` (task, notification) and photo `blobs` not yet uploaded. `MemoryStorage` and
 * `IndexedDBStorage` implement it; an app may bring its own (SQLite on a native shell, say).
 *
 * @module types
 */

/**
 * @typedef {Object} Mutation
 * @property {number} id           consecutive per client_id, starting at 1
 * @property {string} name         e.g. "record_sale"
 * @property {Object} args         the mutation's arguments (SPEC §5)
 * @property {string|null} client_time  ISO 8601 with timezone: when it happened on the phone
 */

/**
 * @typedef {Object} MutationResult
 * @property {number} id
 * @property {"applied"|"rejected"} status
 * @property {string} [error]      stable code, e.g. "task_already_claimed"
 * @property {string} [message]    a sentence for people
 * @property {Object} [details]
 * @property {Object|null} [entity]  the task as the server holds it after the push
 */

/**
 * @typedef {Object} Change
 * @property {"task"|"notification"} entity
 * @property {"put"|"delete"} op
 * @property {number} id
 * @property {Object} data
 */

/**
 * @typedef {Object} BlobRecord
 * @property {string} sha256       lowercase hex
 * @property {string} contentType  image/jpeg, image/png or image/webp
 * @property {Uint8Array} bytes
 * @property {boolean} uploaded
 * @property {string|null} [failed]  the server's error code if the upload was refused for good
 */

/**
 * @typedef {Object} Storage
 * @property {(key: string) => Promise<any>} getMeta
 * @property {(entries: Object<string, any>) => Promise<void>} setMeta  several keys at once
 * @property {(draft: {name: string, args: Object, client_time: string|null}, floor: number) => Promise<Mutation>} appendMutation
 *   gives the draft the id max(next_id, floor), stores it and next_id = id + 1 in one transaction
 * @property {(limit?: number) => Promise<Mutation[]>} queuedMutations  oldest first
 * @property {(firstId: number) => Promise<Mutation[]>} renumberQueue  ids firstId, firstId+1, …; next_id follows
 * @property {(results: MutationResult[], entities: Change[]) => Promise<void>} saveResults
 *   stores results and puts entities, together
 * @property {(lastMutationId: number) => Promise<number[]>} dropConfirmed
 *   deletes queued mutations with id <= lastMutationId whose result is held; returns their ids
 * @property {(id: number) => Promise<MutationResult|undefined>} getResult
 * @property {(belowId: number) => Promise<void>} pruneResults  forget results of ids < belowId
 * @property {(entity: string, id: number) => Promise<Object|undefined>} getEntity
 * @property {(entity: string) => Promise<Object[]>} listEntities
 * @property {(page: {changes: Change[], replace: boolean, meta: Object<string, any>}) => Promise<void>} applyPage
 *   one pull page: clears every entity first if `replace`, applies the changes, sets meta (cursor)
 * @property {(record: BlobRecord) => Promise<void>} putBlob
 * @property {(sha256: string) => Promise<BlobRecord|undefined>} getBlob
 * @property {(sha256: string) => Promise<void>} deleteBlob
 * @property {() => Promise<void>} clear  forget everything (sign-out, another user)
 */

export {};
