/**
 * The optimistic view: the server's copy with the still-pending mutations applied on top, so
 * the screen shows the clerk's work at once, offline included. Pure functions; the server stays
 * the judge — when a result or a pull arrives, the server's state replaces the guess.
 *
 * Each entity touched by a pending mutation carries `pending: [mutation ids]`; an app can grey
 * those fields or show a "waiting to sync" badge.
 *
 * @module optimistic
 */

import { readQrToken, readShortCode } from './qr.js';

/**
 * The task a mutation is about, when it can be known on the phone.
 * @param {import('./types.js').Mutation} mutation
 */
export function taskIdOf(mutation) {
  const { args } = mutation;
  if (args.task_id) return args.task_id;
  if (args.qr_token) return readQrToken(args.qr_token)?.taskId ?? null;
  if (args.short_code) return readShortCode(args.short_code)?.taskId ?? null;
  return null;
}

const TASK_EDITS = {
  claim_task(task, mutation, user) {
    if (!task.claimants.some((claimant) => claimant.username === user.username)) {
      if (task.claimants.length >= (task.max_claimants ?? 1) || !['open', 'claimed'].includes(task.status)) return;
      task.claimants.push({ username: user.username, display_name: user.display_name, claimed_at: mutation.client_time });
    }
    if (task.status === 'open') task.status = 'claimed';
  },
  unclaim_task(task, mutation, user) {
    task.claimants = task.claimants.filter((claimant) => claimant.username !== user.username);
    if (!task.claimants.length && ['claimed', 'in_progress'].includes(task.status)) task.status = 'open';
  },
  start_task(task) {
    if (task.status === 'claimed') task.status = 'in_progress';
  },
  set_checklist_item(task, { args, client_time }, user) {
    const item = task.checklist?.[args.item_id];
    if (item) task.checklist[args.item_id] = { ...item, done: Boolean(args.done), by: user.username, at: client_time };
  },
  record_sale(task, { args }) {
    task.sales = { ...task.sales, [args.sku]: (task.sales?.[args.sku] ?? 0) + args.quantity };
  },
  add_note(task, { args, client_time }, user) {
    task.notes = [...(task.notes ?? []), { text: args.text, by: user.username, at: null, client_time }];
  },
  attach_photo(task, { args }, user) {
    if (!task.photos.some((photo) => photo.sha256 === args.sha256)) {
      task.photos = [...task.photos, { sha256: args.sha256, by: user.username, at: null }];
    }
  },
  submit_task(task, { args, client_time }) {
    if (['claimed', 'in_progress'].includes(task.status)) {
      task.status = 'submitted';
      task.submitted_at = client_time;
    }
    if (args.observed_prices) task.observed_prices = { ...task.observed_prices, ...args.observed_prices };
    if (args.quantity !== undefined && args.quantity !== null) task.quantity = args.quantity;
  },
};

/**
 * Tasks and notifications as the clerk expects them once the queue is through.
 * @param {{task: Object[], notification: Object[]}} server  the local copy of the server's state
 * @param {import('./types.js').Mutation[]} pending  mutations the server has not applied yet
 * @param {{username: string, display_name?: string}} user
 * @returns {{task: Object[], notification: Object[]}}
 */
export function optimisticView(server, pending, user) {
  const tasks = new Map(server.task.map((task) => [task.id, structuredClone(task)]));
  const notifications = new Map(server.notification.map((item) => [item.id, structuredClone(item)]));
  const mark = (entity, id) => { entity.pending = [...(entity.pending ?? []), id]; };
  for (const mutation of pending) {
    if (mutation.name === 'mark_read') {
      const notification = notifications.get(mutation.args.notification_id);
      if (notification) {
        notification.read_at ??= mutation.client_time;
        mark(notification, mutation.id);
      }
      continue;
    }
    const edit = TASK_EDITS[mutation.name];
    const task = edit && tasks.get(taskIdOf(mutation));
    if (task) {
      edit(task, mutation, user);
      mark(task, mutation.id);
    }
  }
  return { task: [...tasks.values()], notification: [...notifications.values()] };
}
