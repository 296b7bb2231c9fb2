// Retrying requests, shared by the tracking client (index.js) and the API client
// (api.js): which answers are worth another try, how long to wait before it (full
// jitter, or the server's `Retry-After`), and reading an answer's JSON.

import { EdgemeterError } from './errors.js';

/** Network errors aside, the statuses worth retrying: 408, 429 and 5xx. */
export function retryable(status) {
  return status === 408 || status === 429 || status >= 500;
}

/** `Retry-After` in seconds or as an HTTP date, in ms; null when absent or unreadable. */
export function parseRetryAfter(value) {
  if (value === null || value === undefined || value.trim() === '') return null;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * The wait before retry number `attempt + 1`: full jitter (AWS), uniform in
 * [0, min(retryMaxMs, retryBaseMs * 2^attempt)], so clients that failed together do not
 * come back together.
 */
export function backoffMs(o, attempt) {
  return Math.random() * Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** attempt);
}

/** The answer's JSON, or null when it is not JSON. */
export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Waits `ms`, or less if `stop` (an AbortSignal) is aborted meanwhile. */
export function sleep(ms, stop) {
  return new Promise((resolve) => {
    if (stop?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop?.addEventListener('abort', done);
  });
}

/** What a request's answer is read as, by default: its text. */
const readText = (res) => res.text();

/**
 * Sends one request until it is settled, the one retry loop of both clients. Each try
 * gets `o.timeoutMs`; `settle(status, body, headers)` reads an answer into `{ value }`
 * (done) or `{ error }`, where `body` is what `read(res)` made of it (its text, unless
 * the caller reads it otherwise, as bytes say). A 2xx it cannot read, a network error, a timeout, 408, 429, 5xx and a 409
 * `idempotency_key_in_use` (an earlier copy still running) are tried again, up to
 * `o.maxRetries` times, after `Retry-After` (at most `o.retryMaxMs`) or the backoff; any
 * other error is final at once. `errorOptions` go into the network and timeout errors.
 * Aborting `stop` (an AbortSignal; shutdown() giving up) aborts the try in flight and
 * ends the loop at once. Resolves to `{ value }`, or `{ error, final, attempt }`
 * (`final`: refused, not given up).
 */
export async function sendWithRetries(o, url, init, settle, errorOptions = {}, stop = undefined, read = readText) {
  if (typeof o.fetch !== 'function') {
    const message =
      'option `fetch` must be a fetch function to send: this runtime has no global fetch (Jest with jsdom, say); pass one to new Edgemeter()';
    return { error: new EdgemeterError('invalid_option', message, { ...errorOptions, field: 'fetch' }), final: true, attempt: 0 };
  }
  for (let attempt = 0; ; attempt++) {
    let error;
    let retryAfterMs = null;
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), o.timeoutMs);
    const onStop = () => abort.abort();
    stop?.addEventListener('abort', onStop);
    try {
      const res = await o.fetch(url, { ...init, signal: abort.signal });
      const settled = settle(res.status, await read(res), res.headers);
      if ('value' in settled) return settled;
      error = settled.error;
      if (res.status < 200 || res.status >= 300) {
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        // 409 idempotency_key_in_use: an earlier copy of this request is still running.
        if (!retryable(res.status) && error?.code !== 'idempotency_key_in_use') return { error, final: true, attempt };
      }
    } catch (e) {
      const timedOut = abort.signal.aborted;
      const what = `${init.method ?? 'GET'} ${url}`;
      error = new EdgemeterError(
        timedOut ? 'timeout' : 'network_error',
        timedOut ? `${what}: no answer within ${o.timeoutMs} ms` : `${what} failed: ${describe(e)}`,
        { ...errorOptions, cause: e },
      );
    } finally {
      clearTimeout(timeout);
      stop?.removeEventListener('abort', onStop);
    }
    if (attempt >= o.maxRetries || stop?.aborted) return { error, final: false, attempt };
    // A server's Retry-After is honoured up to retryMaxMs: a day-long answer must not
    // hold flush() or shutdown() for a day (the retries stay bounded by maxRetries).
    await sleep(retryAfterMs === null ? backoffMs(o, attempt) : Math.min(retryAfterMs, o.retryMaxMs), stop);
    if (stop?.aborted) return { error, final: false, attempt };
  }
}

/**
 * Why a fetch failed, with its causes: Node's fetch says only "fetch failed", and keeps
 * the reason (`connect ECONNREFUSED 127.0.0.1:8787`, a DNS failure) in `cause`.
 */
function describe(e) {
  const parts = [];
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 4; c = c.cause, depth++) {
    const text = String(c?.message ?? c);
    if (text !== '' && !parts.includes(text)) parts.push(text);
  }
  return parts.join(': ') || 'unknown error';
}
