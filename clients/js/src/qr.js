/**
 * Reading a scanned Zhida QR token on the phone. The token is public (signed, not encrypted):
 * "ZD1:" + base32 of key id (1 byte) | task id (8, big-endian) | store id (4) | expiry (4,
 * unix minutes) | nonce (4) | MAC (12). Only the server can tell whether it is valid; the app
 * reads the task id to show the task at once and to apply an offline claim to its local copy.
 *
 * @module qr
 */

const PREFIX = 'ZD1:';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** @param {string} text RFC 4648 base32, padding optional @returns {Uint8Array|null} */
function base32Decode(text) {
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const char of text.replace(/=+$/, '')) {
    const index = ALPHABET.indexOf(char);
    if (index < 0) return null;
    value = ((value << 5) | index) & 0xffff; // only the last few bits are ever pending
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Uint8Array.from(bytes);
}

/**
 * What a scanned token says, unverified: {taskId, storeId, expiresAt}; null when it is not a
 * Zhida token at all (so the app can say "not one of our codes" before any network call).
 * @param {string} token
 * @returns {{taskId: number, storeId: number, expiresAt: Date}|null}
 */
export function readQrToken(token) {
  const text = typeof token === 'string' ? token.trim().toUpperCase() : '';
  if (!text.startsWith(PREFIX)) return null;
  const bytes = base32Decode(text.slice(PREFIX.length));
  if (!bytes || bytes.length < 33) return null;
  const view = new DataView(bytes.buffer);
  return {
    taskId: Number(view.getBigUint64(1)),
    storeId: view.getUint32(9),
    expiresAt: new Date(view.getUint32(13) * 60_000),
  };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SHORT_MAC_CHARS = 5;

/**
 * The task a typed short code names, unverified: the code printed under each QR is the task id in
 * Crockford base32 followed by 5 check characters (qr/tokens.py); case, spaces, hyphens and the
 * look-alikes O/I/L are forgiven as on the server. Null when it cannot be a short code.
 * @param {string} text
 * @returns {{taskId: number}|null}
 */
export function readShortCode(text) {
  const raw = String(text ?? '').toUpperCase().replace(/[\s-]/g, '')
    .replace(/O/g, '0').replace(/[IL]/g, '1');
  if (raw.length <= SHORT_MAC_CHARS || raw.length > SHORT_MAC_CHARS + 13) return null;
  let taskId = 0;
  for (const char of raw.slice(0, -SHORT_MAC_CHARS)) {
    const digit = CROCKFORD.indexOf(char);
    if (digit < 0) return null;
    taskId = taskId * 32 + digit;
  }
  if (!raw.slice(-SHORT_MAC_CHARS).split('').every((char) => CROCKFORD.includes(char))) return null;
  return Number.isSafeInteger(taskId) && taskId > 0 ? { taskId } : null;
}
