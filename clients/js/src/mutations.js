/**
 * The mutations of SPEC §5 as the queue stores them: each builder checks what the phone can
 * check and returns {name, args, clientTime?}. Pure; the server still validates everything.
 *
 * @module mutations
 */

export const SCRIPT_OUTCOMES = ['used', 'converted', 'dismissed'];

const iso = (moment) => (moment instanceof Date ? moment.toISOString() : moment ?? null);

function required(values) {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === '') throw new TypeError(`${name} is required`);
  }
}

/**
 * Claim by a scanned QR token or a typed short code (the code names its task: `taskId` is
 * optional). The scan time is the mutation's client time.
 * @param {{qrToken?: string, shortCode?: string, taskId?: number, scannedAt?: Date|string}} claim
 * @param {Date} now
 */
export function claimTask({ qrToken, shortCode, taskId, scannedAt } = {}, now = new Date()) {
  if (!qrToken && !shortCode) throw new TypeError('qrToken or shortCode is required');
  const scanned = scannedAt ?? now;
  const args = { scanned_at: iso(scanned) };
  if (qrToken) args.qr_token = qrToken;
  if (shortCode) args.short_code = shortCode;
  if (taskId) args.task_id = taskId;
  return { name: 'claim_task', args, clientTime: scanned };
}

export function unclaimTask(taskId) {
  required({ taskId });
  return { name: 'unclaim_task', args: { task_id: taskId } };
}

export function startTask(taskId) {
  required({ taskId });
  return { name: 'start_task', args: { task_id: taskId } };
}

export function setChecklistItem(taskId, itemId, done) {
  required({ taskId, itemId });
  return { name: 'set_checklist_item', args: { task_id: taskId, item_id: itemId, done: Boolean(done) } };
}

export function recordSale(taskId, sku, quantity) {
  required({ taskId, sku, quantity });
  return { name: 'record_sale', args: { task_id: taskId, sku, quantity } };
}

export function addNote(taskId, text) {
  required({ taskId, text });
  return { name: 'add_note', args: { task_id: taskId, text } };
}

export function attachPhoto(taskId, sha256) {
  required({ taskId, sha256 });
  return { name: 'attach_photo', args: { task_id: taskId, sha256 } };
}

/** @param {number} taskId @param {{observedPrices?: Object<string, number>, quantity?: number}} [proof] */
export function submitTask(taskId, { observedPrices, quantity } = {}) {
  required({ taskId });
  const args = { task_id: taskId };
  if (observedPrices) args.observed_prices = observedPrices;
  if (quantity !== undefined && quantity !== null) args.quantity = quantity;
  return { name: 'submit_task', args };
}

export function markRead(notificationId) {
  required({ notificationId });
  return { name: 'mark_read', args: { notification_id: notificationId } };
}

/** @param {number} scriptId @param {"used"|"converted"|"dismissed"} outcome */
export function scriptFeedback(scriptId, outcome) {
  required({ scriptId });
  if (!SCRIPT_OUTCOMES.includes(outcome)) throw new TypeError(`outcome must be one of ${SCRIPT_OUTCOMES.join(', ')}`);
  return { name: 'script_feedback', args: { script_id: scriptId, outcome } };
}
