/**
 * HTTP for the sync client: bearer tokens, refresh-token rotation, and retries with exponential
 * backoff and full jitter on network errors, 5xx and 429 (never sooner than Retry-After).
 *
 * @module http
 */

/** A request the server answered with an error (SPEC §9 body: code, error, message, …). */
export class ApiError extends Error {
  /** @param {number} status @param {Object} body */
  constructor(status, body) {
    super(`${status} ${body?.error ?? 'error'}: ${body?.message ?? ''}`.trim());
    this.name = 'ApiError';
    this.status = status;
    /** the stable machine code, e.g. "mutation_gap" */
    this.error = body?.error ?? `http_${status}`;
    this.body = body ?? {};
  }
}

/** No answer at all (offline, connection lost, DNS): the request may or may not have run. */
export class NetworkError extends Error {
  constructor(message, cause) {
    super(message, { cause });
    this.name = 'NetworkError';
  }
}

/** The session is over (spent, revoked or expired refresh token, or never signed in). */
export class SignedOutError extends ApiError {
  constructor(status, body) {
    super(status, body);
    this.name = 'SignedOutError';
  }
}

/** @typedef {{attempts: number, baseMs: number, capMs: number}} RetryPolicy */

/** @type {RetryPolicy} */
export const DEFAULT_RETRY = { attempts: 6, baseMs: 500, capMs: 30_000 };

/**
 * How long to wait before retry number `attempt` (0-based): full jitter below
 * min(cap, base·2^attempt), and never less than what the server asked for.
 * @param {number} attempt @param {RetryPolicy} policy @param {number|null} retryAfterMs
 * @param {() => number} [random]
 */
export function backoffDelay(attempt, policy, retryAfterMs, random = Math.random) {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  return Math.max(retryAfterMs ?? 0, Math.floor(random() * ceiling));
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable.
 * @param {string|null} value @param {number} [nowMs]
 */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

const sleepFor = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `task` under a Web Lock when the platform has them (browsers: one refresh across tabs),
 * else directly (Node).
 */
function withLock(name, task) {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(name, task) : task();
}

async function readBody(response, binary) {
  if (binary && response.ok) {
    return { contentType: response.headers.get('content-type'), bytes: new Uint8Array(await response.arrayBuffer()) };
  }
  if (response.status === 204) return null;
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { error: `http_${response.status}`, message: text.slice(0, 200) };
  }
}

/** Sends requests to one Zhida server for the user whose tokens `storage` holds (meta "auth"). */
export class Transport {
  /**
   * @param {Object} options
   * @param {string} options.baseUrl  e.g. "https://zhida.example.com" or "" for the page's origin
   * @param {import('./types.js').Storage} options.storage
   * @param {typeof fetch} [options.fetch]
   * @param {Partial<RetryPolicy>} [options.retry]
   * @param {(ms: number) => Promise<void>} [options.sleep]
   * @param {() => number} [options.random]
   * @param {(reason: string) => void} [options.onSignedOut]
   */
  constructor({ baseUrl, storage, fetch, retry, sleep, random, onSignedOut }) {
    this.baseUrl = (baseUrl ?? '').replace(/\/+$/, '');
    this.storage = storage;
    this.fetch = fetch ?? ((...args) => globalThis.fetch(...args));
    this.retry = { ...DEFAULT_RETRY, ...retry };
    this.sleep = sleep ?? sleepFor;
    this.random = random ?? Math.random;
    this.onSignedOut = onSignedOut ?? (() => {});
    /** @type {Promise<Object>|null} */ this.refreshing = null;
  }

  /**
   * One API call. JSON in and out (or raw bytes with `body`/`binary`); a 401 is retried once
   * after a refresh; network errors, 5xx and 429 are retried with backoff when `retry` is on.
   * Resolves with the parsed body; rejects with ApiError, SignedOutError or NetworkError.
   * @param {string} method @param {string} path  e.g. "/api/v1/sync/push"
   * @param {{json?: any, body?: BodyInit, contentType?: string, auth?: boolean,
   *          retry?: boolean, binary?: boolean}} [options]
   */
  async request(method, path, { json, body, contentType, auth = true, retry = true, binary = false } = {}) {
    const headers = { Accept: 'application/json' };
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (contentType) {
      headers['Content-Type'] = contentType;
    }
    let refreshed = false;
    for (let attempt = 0; ; attempt += 1) {
      let access = null;
      if (auth) {
        access = (await this.storage.getMeta('auth'))?.access_token;
        if (!access) throw new SignedOutError(401, { error: 'not_signed_in', message: 'Sign in first.' });
        headers.Authorization = `Bearer ${access}`;
      }
      const last = !retry || attempt + 1 >= this.retry.attempts;
      let response;
      try {
        response = await this.fetch(this.baseUrl + path, { method, headers, body });
      } catch (error) {
        if (last) throw new NetworkError(`${method} ${path}: no answer (${error?.message ?? error})`, error);
        await this.sleep(backoffDelay(attempt, this.retry, null, this.random));
        continue;
      }
      if (response.status === 401 && auth && !refreshed) {
        await response.body?.cancel?.();
        await this.refreshAfter(access);
        refreshed = true;
        attempt -= 1; // a refresh is not a failed attempt
        continue;
      }
      if ((response.status >= 500 || response.status === 429) && !last) {
        await response.body?.cancel?.();
        const wait = parseRetryAfter(response.headers.get('retry-after'));
        await this.sleep(backoffDelay(attempt, this.retry, wait, this.random));
        continue;
      }
      const parsed = await readBody(response, binary);
      if (!response.ok) throw new ApiError(response.status, parsed);
      return parsed;
    }
  }

  /** Sign in; stores the token pair and the user (meta "auth"). */
  async login(username, password) {
    const answer = await this.request('POST', '/api/v1/auth/login', { json: { username, password }, auth: false, retry: false });
    await this.storage.setMeta({ auth: answer });
    return answer;
  }

  /**
   * A fresh token pair after `staleAccess` was refused. One rotation at a time (in this client,
   * and across tabs with Web Locks): a refresh token is single-use, and presenting it twice
   * makes the server revoke the whole sign-in.
   * @param {string|null} staleAccess
   */
  refreshAfter(staleAccess) {
    if (!this.refreshing) {
      this.refreshing = withLock('zhida-token-refresh', () => this.#rotate(staleAccess))
        .finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  async #rotate(staleAccess) {
    const auth = await this.storage.getMeta('auth');
    if (!auth?.refresh_token) throw await this.#signedOut(401, { error: 'not_signed_in', message: 'Sign in first.' });
    if (auth.access_token !== staleAccess) return auth; // someone else rotated meanwhile
    let response;
    try {
      response = await this.fetch(`${this.baseUrl}/api/v1/auth/refresh`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token: auth.refresh_token }),
      });
    } catch (error) {
      throw new NetworkError(`POST /api/v1/auth/refresh: no answer (${error?.message ?? error})`, error);
    }
    const parsed = await readBody(response, false);
    if (response.ok) {
      await this.storage.setMeta({ auth: parsed });
      return parsed;
    }
    if (response.status === 401 || response.status === 403) throw await this.#signedOut(response.status, parsed);
    throw new ApiError(response.status, parsed);
  }

  async #signedOut(status, body) {
    await this.storage.setMeta({ auth: null });
    this.onSignedOut(body?.error ?? 'signed_out');
    return new SignedOutError(status, body);
  }
}
