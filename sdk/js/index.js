// @edgemeter/sdk: track usage events, validated locally by the server's own rules (the
// `core` crate compiled to wasm), queued, batched and delivered to `POST
// /v1/usage/ingest` with retries that can never count an event twice (API.md, "Usage
// ingestion"). Types: index.d.ts.

import initWasm, { validateEvent } from './edgemeter_sdk.js';
import { EVENT_KEYS, EdgemeterError, fromApiError } from './errors.js';
import { createApi } from './api.js';

export { EdgemeterError } from './errors.js';

// Loaded from a file (Node, Deno, Bun): read the bytes, since Node's fetch cannot read
// `file:` URLs. Otherwise (a browser, a CDN): fetch, which lets the browser compile while
// downloading. The specifier is hidden from bundlers, which would otherwise try to
// bundle `node:fs` for the browser.
const wasmUrl = new URL('./edgemeter_sdk_bg.wasm', import.meta.url);
if (wasmUrl.protocol === 'file:') {
  const fs = 'node:fs/promises';
  const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fs);
  await initWasm({ module_or_path: await readFile(wasmUrl) });
} else {
  await initWasm({ module_or_path: fetch(wasmUrl) });
}

// Node 18 has Web Crypto but not as a global.
const webCrypto = globalThis.crypto?.getRandomValues
  ? globalThis.crypto
  : (await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:' + 'crypto')).webcrypto;

/** Most events in one request (API.md). */
const MAX_BATCH_EVENTS = 1000;
/** Largest request body, in bytes (API.md). */
const MAX_BODY_BYTES = 1024 * 1024;
const ENVELOPE_BYTES = '{"events":[]}'.length;

/** A client that queues events and delivers them in batches. */
export class Edgemeter {
  #o;
  #queue = [];
  #inFlight = 0;
  #seq = 0;
  #settledSeq = 0;
  #flushTarget = 0;
  #waiters = [];
  #timer = null;
  #draining = null;
  #closed = false;

  constructor(options) {
    const o = { ...options };
    if (typeof o.apiKey !== 'string' || o.apiKey === '') throw optionError('apiKey', 'a non-empty string');
    if (typeof o.baseUrl !== 'string' || !/^https?:\/\//.test(o.baseUrl)) {
      throw optionError('baseUrl', 'an http(s) URL such as "https://api.edgemeter.example"');
    }
    o.flushAt = count(o, 'flushAt', 100, 1, MAX_BATCH_EVENTS);
    o.flushIntervalMs = count(o, 'flushIntervalMs', 10_000, 1);
    o.maxQueueSize = count(o, 'maxQueueSize', 10_000, 1);
    o.maxRetries = count(o, 'maxRetries', 5, 0);
    o.retryBaseMs = count(o, 'retryBaseMs', 500, 0);
    o.retryMaxMs = count(o, 'retryMaxMs', 30_000, 0);
    o.timeoutMs = count(o, 'timeoutMs', 30_000, 1);
    o.fetch ??= globalThis.fetch?.bind(globalThis);
    if (typeof o.fetch !== 'function') throw optionError('fetch', 'a fetch function (this runtime has none)');
    if (o.onError !== undefined && typeof o.onError !== 'function') throw optionError('onError', 'a function');
    o.url = `${o.baseUrl.replace(/\/+$/, '')}/v1/usage/ingest`;
    this.#o = o;
    // The typed client for the rest of the API: customers, items, metrics, usage,
    // invoices, tokens (api.js).
    Object.assign(this, createApi(o));
  }

  /** Events tracked and not yet settled (queued or in a request). */
  get pending() {
    return this.#queue.length + this.#inFlight;
  }

  /**
   * Validates an event, fills its timestamp and idempotency key, queues it and returns
   * its (canonical) key. Throws an `EdgemeterError` for an invalid event (nothing is
   * queued), a full queue (`queue_full`) or a closed client (`closed`).
   */
  track(event) {
    if (this.#closed) throw this.#report(new EdgemeterError('closed', 'track() after shutdown()'));
    if (this.pending >= this.#o.maxQueueSize) {
      throw this.#report(
        new EdgemeterError('queue_full', `the queue holds ${this.#o.maxQueueSize} events (maxQueueSize); flush or wait`),
      );
    }
    const now = Date.now();
    const json = JSON.stringify(toWire(event, now));
    let key;
    try {
      key = validateEvent(json, now);
    } catch (e) {
      throw fromApiError(e, {});
    }
    const bytes = utf8Length(json);
    if (bytes + ENVELOPE_BYTES > MAX_BODY_BYTES) {
      throw new EdgemeterError('payload_too_large', `the event takes ${bytes} bytes; a request holds at most ${MAX_BODY_BYTES}`);
    }
    this.#queue.push({ seq: ++this.#seq, key, json, bytes });
    if (this.#queue.length >= this.#o.flushAt) this.#kick();
    else this.#arm();
    return key;
  }

  /**
   * Sends everything tracked so far and resolves once each of those events is delivered
   * or has failed for good, with what became of the batches settled meanwhile.
   */
  flush() {
    const result = { accepted: 0, duplicates: 0, rejected: [], failed: [] };
    if (this.#seq <= this.#settledSeq) return Promise.resolve(result);
    return new Promise((resolve) => {
      this.#waiters.push({ target: this.#seq, result, resolve });
      this.#flushTarget = this.#seq;
      this.#kick();
    });
  }

  /** Flushes, then stops the timer; `track()` afterwards throws `closed`. */
  async shutdown() {
    this.#closed = true;
    const result = await this.flush();
    this.#disarm();
    return result;
  }

  #report(error) {
    try {
      this.#o.onError?.(error);
    } catch {
      // A throwing onError must not stop delivery.
    }
    return error;
  }

  #arm() {
    if (this.#timer !== null || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#flushTarget = this.#seq;
      this.#kick();
    }, this.#o.flushIntervalMs);
  }

  #disarm() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #kick() {
    if (this.#draining) return;
    this.#disarm();
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
      // Work may have become due between the loop's last check and now.
      if (this.#due()) this.#kick();
      else if (!this.#closed) this.#arm();
    });
  }

  /** A full batch is queued, or a flush covers the oldest queued event. */
  #due() {
    const q = this.#queue;
    return q.length > 0 && (q.length >= this.#o.flushAt || q[0].seq <= this.#flushTarget);
  }

  /** Sends batches one at a time, oldest first, while a full batch or a flush is due. */
  async #drain() {
    while (this.#due()) {
      const batch = takeBatch(this.#queue);
      this.#inFlight += batch.length;
      let outcome;
      try {
        outcome = await this.#deliver(batch);
      } catch (e) {
        outcome = failAll(batch, new EdgemeterError('internal_error', `unexpected: ${e}`, { cause: e }));
      }
      this.#inFlight -= batch.length;
      this.#settle(batch, outcome);
    }
  }

  #settle(batch, outcome) {
    this.#settledSeq = batch[batch.length - 1].seq;
    for (const r of outcome.rejected) this.#report(r.error);
    if (outcome.failed.length > 0) this.#report(outcome.failed[0].error);
    this.#waiters = this.#waiters.filter((w) => {
      w.result.accepted += outcome.accepted;
      w.result.duplicates += outcome.duplicates;
      w.result.rejected.push(...outcome.rejected);
      w.result.failed.push(...outcome.failed);
      if (w.target > this.#settledSeq) return true;
      w.resolve(w.result);
      return false;
    });
  }

  /**
   * One batch, retried on network errors, 408, 429 and 5xx under one `Idempotency-Key`,
   * so a retry of a request the server did process is answered from its replay cache
   * (and its events would be duplicates anyway).
   */
  async #deliver(batch) {
    const o = this.#o;
    const body = `{"events":[${batch.map((e) => e.json).join(',')}]}`;
    const headers = {
      authorization: `Bearer ${o.apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': uuidv7(),
    };
    const keys = batch.map((e) => e.key);
    for (let attempt = 0; ; attempt++) {
      let error;
      let retryAfterMs = null;
      const abort = new AbortController();
      const timeout = setTimeout(() => abort.abort(), o.timeoutMs);
      try {
        const res = await o.fetch(o.url, { method: 'POST', headers, body, signal: abort.signal });
        const text = await res.text();
        if (res.status === 200) {
          const answer = parseJson(text);
          if (answer && Array.isArray(answer.results)) return outcomeOf(answer);
          error = new EdgemeterError('invalid_response', 'the server answered 200 without ingest results', {
            status: 200,
            idempotencyKeys: keys,
          });
        } else {
          error = fromApiError(parseJson(text)?.error, { status: res.status, idempotencyKeys: keys });
          retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
          if (!retryable(res.status)) return failAll(batch, error);
        }
      } catch (e) {
        const timedOut = abort.signal.aborted;
        error = new EdgemeterError(
          timedOut ? 'timeout' : 'network_error',
          timedOut ? `no answer within ${o.timeoutMs} ms` : `request failed: ${e?.message ?? e}`,
          { idempotencyKeys: keys, cause: e },
        );
      } finally {
        clearTimeout(timeout);
      }
      if (attempt >= o.maxRetries) return failAll(batch, error);
      // Full jitter (AWS): uniform in [0, min(cap, base * 2^attempt)].
      const backoff = Math.random() * Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** attempt);
      await sleep(retryAfterMs ?? backoff);
    }
  }
}

function optionError(name, what) {
  return new EdgemeterError('invalid_option', `option \`${name}\` must be ${what}`, { field: name });
}

function count(o, name, fallback, min, max = Number.MAX_SAFE_INTEGER) {
  const v = o[name] ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw optionError(name, `an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
  }
  return v;
}

/** The event as the API takes it: snake_case, with a timestamp and a key. */
function toWire(event, now) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new EdgemeterError('invalid_request', 'an event must be an object');
  }
  const wire = {};
  for (const [k, v] of Object.entries(event)) {
    const name = EVENT_KEYS.get(k);
    if (name === undefined) {
      const e = new EdgemeterError('unknown_field', `unknown field \`${k}\``);
      e.field = k;
      throw e;
    }
    if (v !== undefined) wire[name] = v;
  }
  wire.idempotency_key ??= uuidv7();
  if (wire.timestamp instanceof Date) {
    if (Number.isNaN(wire.timestamp.getTime())) {
      throw new EdgemeterError('invalid_timestamp', '`timestamp` is an invalid Date', { field: 'timestamp' });
    }
    wire.timestamp = wire.timestamp.toISOString();
  }
  wire.timestamp ??= new Date(now).toISOString();
  return wire;
}

function takeBatch(queue) {
  let n = 0;
  let bytes = ENVELOPE_BYTES;
  while (n < queue.length && n < MAX_BATCH_EVENTS) {
    const add = queue[n].bytes + (n > 0 ? 1 : 0);
    if (bytes + add > MAX_BODY_BYTES) break;
    bytes += add;
    n++;
  }
  return queue.splice(0, n);
}

function outcomeOf(answer) {
  const rejected = [];
  for (const r of answer.results) {
    if (r?.status === 'rejected') {
      const key = String(r.idempotency_key ?? '');
      rejected.push({ idempotencyKey: key, error: fromApiError(r.error, { idempotencyKeys: key ? [key] : [] }) });
    }
  }
  return { accepted: Number(answer.accepted) || 0, duplicates: Number(answer.duplicates) || 0, rejected, failed: [] };
}

function failAll(batch, error) {
  return { accepted: 0, duplicates: 0, rejected: [], failed: batch.map((e) => ({ idempotencyKey: e.key, error })) };
}

function retryable(status) {
  return status === 408 || status === 429 || status >= 500;
}

/** `Retry-After` in seconds or as an HTTP date, in ms; null when absent or unreadable. */
function parseRetryAfter(value) {
  if (value === null || value === undefined || value.trim() === '') return null;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      n += 1; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else if (c >= 0x800) n += 2;
    else if (c >= 0x80) n += 1;
  }
  return n;
}

/** Two hex digits per byte value, so a key is built without per-byte formatting. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn 4 KiB at a time: one getRandomValues call serves 409 keys. */
const POOL = new Uint8Array(4096);
let poolAt = POOL.length;

/** A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. */
function uuidv7() {
  if (poolAt + 10 > POOL.length) {
    webCrypto.getRandomValues(POOL);
    poolAt = 0;
  }
  const r = POOL.subarray(poolAt, poolAt + 10);
  poolAt += 10;
  const ms = Date.now();
  // 48-bit milliseconds: the high 16 bits and the low 32, without float division.
  const hi = Math.floor(ms / 0x100000000);
  const lo = ms >>> 0;
  const t =
    HEX[(hi >>> 8) & 0xff] + HEX[hi & 0xff] + HEX[lo >>> 24] + HEX[(lo >>> 16) & 0xff] + '-' +
    HEX[(lo >>> 8) & 0xff] + HEX[lo & 0xff];
  return (
    t + '-' + HEX[0x70 | (r[0] & 0x0f)] + HEX[r[1]] + '-' + HEX[0x80 | (r[2] & 0x3f)] + HEX[r[3]] + '-' +
    HEX[r[4]] + HEX[r[5]] + HEX[r[6]] + HEX[r[7]] + HEX[r[8]] + HEX[r[9]]
  );
}
