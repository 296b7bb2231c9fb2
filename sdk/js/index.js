// @edgemeter/sdk: track usage events, validated locally by the server's own rules (the
// `core` crate compiled to wasm), queued, batched and delivered to `POST
// /v1/usage/ingest` with retries that can never count an event twice (API.md, "Usage
// ingestion"). Types: index.d.ts.

import { initSync, EventQueue, lastError } from './edgemeter_sdk.js';
import { EdgemeterError, fromApiError } from './errors.js';
import { createApi } from './api.js';
import { watchPage } from './browser.js';
import { wasmSource, webCrypto } from './platform.js';
import { parseJson, sendWithRetries } from './retry.js';
import { decodeUtf8, encodeUtf8Into } from './utf8.js';

export { EdgemeterError } from './errors.js';

/**
 * The wasm's exports, instantiated synchronously when the first client is made (from
 * bytes the package carries, or in a Worker from a module wrangler compiled), not when
 * the package is imported: no top-level await, and nothing to fetch from beside the
 * bundle, so CommonJS and every bundler's default settings load the package as it is.
 */
let wasm = null;

function newQueue() {
  wasm ??= initSync({ module: wasmSource() });
  return new EventQueue();
}

/** Most events in one request (API.md). */
const MAX_BATCH_EVENTS = 1000;
/** Largest request body, in bytes (API.md). */
const MAX_BODY_BYTES = 1024 * 1024;
/**
 * How long flush() and shutdown() wait at most when not told: a script or a serverless
 * function must end even when the API never answers.
 */
const DEFAULT_DEADLINE_MS = 10_000;
/** Each request's own limit, by default: two tries fit in the default deadline. */
const DEFAULT_REQUEST_TIMEOUT_MS = 4_000;

/** A client that queues events and delivers them in batches. */
export class Edgemeter {
  #o;
  /** The checked events waiting for a batch, in wasm memory (sdk/src/queue.rs), oldest first. */
  #queue = newQueue();
  /** How many: counted here, so that track() asks wasm nothing more. */
  #queued = 0;
  #inFlight = 0;
  #seq = 0;
  #settledSeq = 0;
  #flushTarget = 0;
  #waiters = [];
  #timer = null;
  #draining = null;
  #closed = false;
  /** Batches in a request: the drain loop's, and keepalive ones sent when a page hides. */
  #sending = new Set();
  #page = null;
  /** Aborted when shutdown() gives up: stops requests in flight and their retries. */
  #stop = new AbortController();
  /** shutdown() gave up: what was undelivered is reported, and nothing more is sent. */
  #gaveUp = false;
  /**
   * Batches the API refused for a configuration mistake (a wrong key or base URL: 401,
   * 403, 404), oldest first: kept, and sent again, before the queue, when the caller
   * flushes again.
   */
  #held = [];
  /** The configuration error that stopped sending, until the caller flushes again. */
  #blocked = null;
  /** Without onError, a configuration error is said once on the console. */
  #warned = false;

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
    o.timeoutMs = count(o, 'timeoutMs', DEFAULT_REQUEST_TIMEOUT_MS, 1);
    o.fetch ??= globalThis.fetch?.bind(globalThis);
    // A runtime without fetch (Jest's jsdom) may still make a client and track(); a send
    // fails then, as a configuration error naming `fetch` (retry.js).
    if (o.fetch !== undefined && typeof o.fetch !== 'function') throw optionError('fetch', 'a fetch function');
    if (o.onError !== undefined && typeof o.onError !== 'function') throw optionError('onError', 'a function');
    o.url = `${o.baseUrl.replace(/\/+$/, '')}/v1/usage/ingest`;
    this.#o = o;
    // The typed client for the rest of the API: customers, items, metrics, usage,
    // invoices, tokens, contracts, rejections (api.js).
    Object.assign(this, createApi(o));
    // In a browser page: a keepalive flush when the page is hidden, and the `persist`
    // option's saved queue (browser.js).
    this.#page = watchPage(o, {
      unsettled: () => {
        const parts = [...this.#held, ...this.#sending].map((b) => b.events());
        if (this.#queued > 0) parts.push(this.#queue.json());
        return parts;
      },
      // Nothing goes out while a configuration error stands: it would be refused again.
      takeBatch: (maxBytes) => (this.#blocked ? null : this.#take(maxBytes)),
      queued: () => this.#queued,
      send: (batch) => this.#send(batch, true),
      load: (events) => {
        const now = Date.now();
        for (const e of events) {
          try {
            // A snapshot larger than this client's queue (another tab's, or a bigger
            // maxQueueSize before) is refused past the limit, loudly, as track() would.
            if (this.#full()) {
              throw this.#queueFull(typeof e?.idempotency_key === 'string' ? [e.idempotency_key] : []);
            }
            encodeEvent(fromWire(e), now, this.#queue);
            this.#queued++;
            this.#seq++;
          } catch (error) {
            this.#report(error);
          }
        }
        this.#sendAll();
      },
      flush: () => this.#sendAll(),
      report: (e) => this.#report(e),
    });
  }

  /** Events tracked and not yet settled (queued, in a request, or held by a configuration error). */
  get pending() {
    return this.#queued + this.#inFlight + this.#heldCount();
  }

  #heldCount() {
    let n = 0;
    for (const b of this.#held) n += b.n;
    return n;
  }

  /**
   * Validates an event, fills its timestamp and idempotency key, queues it and returns
   * its (canonical) key. Throws an `EdgemeterError` for an invalid event (nothing is
   * queued), a full queue (`queue_full`) or a closed client (`closed`).
   */
  track(event) {
    // Thrown, not also reported to onError: the caller has it once, where it called.
    if (this.#closed) throw new EdgemeterError('closed', 'track() after shutdown(): make a new client');
    if (this.#full()) throw this.#report(this.#queueFull([]));
    // Validation bounds every string, so a valid event is far below a request's 1 MiB.
    const key = encodeEvent(event, Date.now(), this.#queue);
    this.#seq++;
    if (++this.#queued >= this.#o.flushAt) this.#kick();
    else this.#arm();
    return key;
  }

  /**
   * Sends everything tracked so far and resolves once each of those events is delivered
   * or has failed for good, with what became of the batches settled meanwhile. Resolves
   * by `timeoutMs` (default 10 s) at the latest: the events not settled yet are listed in
   * `pending` (they stay queued, and the client goes on sending them) and reported to
   * `onError` as one `flush_timeout` error. Rejects when the API refuses the client's
   * configuration (401, 403, 404): the events stay queued, and this flush() or the next
   * one sends them again.
   */
  flush(options) {
    let timeoutMs;
    try {
      timeoutMs = deadlineOf(options, 'flush');
    } catch (e) {
      return Promise.reject(e);
    }
    this.#blocked = null;
    return this.#flushWithin(timeoutMs).then((result) => {
      if (result.timedOut) {
        const n = result.pending.length;
        this.#report(
          new EdgemeterError('flush_timeout', `flush() gave up after ${timeoutMs} ms with ${n} event(s) not yet delivered; they stay queued`, {
            idempotencyKeys: result.pending,
          }),
        );
      }
      return result;
    });
  }

  /**
   * Flushes, then stops the timer; `track()` afterwards throws `closed`. With `timeoutMs`,
   * gives up by then at the latest: requests in flight are aborted, and every event not
   * delivered is in the result's `failed` (code `flush_timeout`) and reported to
   * `onError`; with `persist`, it also stays saved for the next client.
   */
  async shutdown(options) {
    const timeoutMs = deadlineOf(options, 'shutdown');
    this.#closed = true;
    this.#blocked = null;
    let result;
    try {
      result = await this.#flushWithin(timeoutMs);
    } catch (e) {
      // A configuration error: the events stay in memory (a later flush() sends them)
      // and, with `persist`, saved for the next client.
      this.#page?.save();
      this.#disarm();
      this.#page?.detach();
      throw e;
    }
    if (result.timedOut) this.#giveUp(result, timeoutMs);
    this.#disarm();
    this.#page?.detach();
    return result;
  }

  /** What the timer, the page's hooks and a full batch do: send what is queued, promising nothing. */
  #sendAll() {
    this.#flushTarget = this.#seq;
    this.#kick();
  }

  /**
   * flush() with a deadline: the result says whether it passed, and what was left;
   * rejects with the error of a configuration mistake.
   */
  #flushWithin(timeoutMs) {
    const result = { accepted: 0, duplicates: 0, rejected: [], failed: [], timedOut: false, pending: [] };
    if (this.#seq <= this.#settledSeq) return Promise.resolve(result);
    return new Promise((resolve, reject) => {
      const waiter = { target: this.#seq, result, resolve, reject, timer: null };
      this.#waiters.push(waiter);
      this.#flushTarget = this.#seq;
      waiter.timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        result.timedOut = true;
        result.pending = this.#unsettledKeys(waiter.target);
        resolve(result);
      }, timeoutMs);
      this.#kick();
    });
  }

  /** The keys of the events up to number `target` that are neither delivered nor failed, oldest first. */
  #unsettledKeys(target) {
    const keys = [];
    for (const b of [...this.#held, ...this.#sending].sort((x, y) => x.first - y.first)) {
      if (b.first <= target) keys.push(...b.keys().slice(0, target - b.first + 1));
    }
    const head = this.#head();
    if (this.#queued > 0 && head <= target) {
      const queued = JSON.parse(`[${this.#queue.json()}]`);
      for (const e of queued.slice(0, target - head + 1)) keys.push(e.idempotency_key);
    }
    return keys;
  }

  /**
   * shutdown()'s deadline passed with `result.pending` undelivered: saves them (with
   * `persist`), stops every request and retry, empties the queue, and reports them as
   * failed. A request already sent may still reach the server; sending such an event
   * again (it keeps its key) is counted once.
   */
  #giveUp(result, timeoutMs) {
    this.#page?.save();
    const keys = result.pending;
    // Other flush() calls still waiting get their share of the failure.
    const waiting = this.#waiters.map((w) => [w, this.#unsettledKeys(w.target)]);
    this.#waiters = [];
    this.#gaveUp = true;
    this.#stop.abort();
    this.#held = [];
    while (this.#take(MAX_BODY_BYTES) !== null);
    this.#inFlight = 0;
    this.#sending.clear();
    this.#settledSeq = this.#seq;
    result.pending = [];
    const error = new EdgemeterError(
      'flush_timeout',
      `shutdown() gave up after ${timeoutMs} ms with ${keys.length} event(s) not delivered`,
      { idempotencyKeys: keys },
    );
    const failed = (ks) => ks.map((idempotencyKey) => ({ idempotencyKey, error }));
    result.failed.push(...failed(keys));
    if (keys.length > 0) this.#report(error);
    for (const [w, ks] of waiting) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.result.failed.push(...failed(ks));
      w.resolve(w.result);
    }
  }

  /** As many events pending as `maxQueueSize` allows: a new one is refused. */
  #full() {
    return this.pending >= this.#o.maxQueueSize;
  }

  #queueFull(idempotencyKeys) {
    const max = this.#o.maxQueueSize;
    return new EdgemeterError('queue_full', `the queue holds ${max} events (maxQueueSize); flush or wait`, {
      idempotencyKeys,
    });
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
    // Nothing queued, or nothing to send until the caller fixes its configuration: no
    // timer, so that none keeps a Node process alive for nothing.
    if (this.#timer !== null || this.#queued === 0 || this.#blocked) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#sendAll();
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

  /** The oldest queued event's number: the queue is first in, first out. */
  #head() {
    return this.#seq - this.#queued + 1;
  }

  /**
   * Not stopped by a configuration error, and: a batch held by one is to be sent again,
   * a full batch is queued, or a flush covers the oldest queued event.
   */
  #due() {
    if (this.#blocked || this.#gaveUp) return false;
    if (this.#held.length > 0) return true;
    const n = this.#queued;
    return n > 0 && (n >= this.#o.flushAt || this.#head() <= this.#flushTarget);
  }

  /** Sends batches one at a time, oldest first (held ones before the queue), while one is due. */
  async #drain() {
    while (this.#due()) {
      const batch = this.#held.shift() ?? this.#take(MAX_BODY_BYTES);
      if (batch === null) break; // cannot happen: a valid event is far below 1 MiB
      await this.#send(batch, false);
    }
  }

  /** The oldest events whose request body fits `maxBytes`, as a batch; null when none. */
  #take(maxBytes) {
    const first = this.#head();
    const n = this.#queue.take(MAX_BATCH_EVENTS, maxBytes);
    forgetTail(this.#queue);
    const lost = this.#queue.takeLost();
    if (lost > 0) {
      // Never short of an SDK bug; said, not dropped silently, and the count kept right.
      this.#queued -= lost;
      this.#report(new EdgemeterError('internal_error', `${lost} queued event(s) could not be read back to send`));
    }
    if (n === 0) return null;
    this.#queued -= n;
    // Nothing left for the timer to send (a hidden page's keepalive can empty the queue):
    // stop it, so that it keeps no Node process alive for nothing.
    if (this.#queued === 0) this.#disarm();
    return new Batch(this.#queue.takenBody(), n, first);
  }

  /** Delivers one batch and settles it: a step of the drain loop, or a keepalive batch. */
  async #send(batch, keepalive) {
    this.#inFlight += batch.n;
    this.#sending.add(batch);
    let outcome;
    try {
      outcome = await this.#deliver(batch, keepalive);
    } catch (e) {
      outcome = failAll(batch, new EdgemeterError('internal_error', `unexpected: ${e}`, { cause: e }));
    }
    // shutdown() gave up on this batch and reported its events already.
    if (this.#gaveUp) return;
    this.#inFlight -= batch.n;
    this.#sending.delete(batch);
    if (outcome.refusedConfig) this.#hold(batch, outcome.refusedConfig);
    else this.#settle(outcome);
  }

  /**
   * The API refused the client's key or address: keeps the batch (nothing is dropped),
   * stops sending until the caller flushes again, and says so loudly: to onError, or
   * once on the console, and as the rejection of every flush() waiting.
   */
  #hold(batch, refused) {
    this.#held.push(batch);
    this.#held.sort((x, y) => x.first - y.first);
    this.#disarm();
    const kept = this.pending;
    const fix =
      refused.status === 401
        ? 'check `apiKey` (an ingest or secret key, or an unexpired customer token)'
        : refused.status === 403
          ? 'check that `apiKey` may send usage (an ingest or secret key, or a customer token)'
          : `check \`baseUrl\`: it is the API's root, without /v1 (now "${this.#o.baseUrl}")`;
    const what =
      refused.status === undefined
        ? refused.message
        : `POST ${this.#o.url} answered ${refused.status} (${refused.code}: ${refused.message}): ${fix}`;
    const message = `${what}. ${kept} event(s) are kept and sent again when you call flush()`;
    const error = (keys) =>
      new EdgemeterError(refused.code, message, { field: refused.field, status: refused.status, idempotencyKeys: keys, cause: refused });
    this.#blocked = error(this.#unsettledKeys(this.#seq));
    if (this.#o.onError) this.#report(this.#blocked);
    else if (!this.#warned) {
      this.#warned = true;
      console.warn(`edgemeter: ${message} (pass onError to handle this yourself)`);
    }
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      clearTimeout(w.timer);
      w.result.pending = this.#unsettledKeys(w.target);
      const e = error(w.result.pending);
      e.result = w.result;
      w.reject(e);
    }
  }

  #settle(outcome) {
    // A keepalive batch can settle before an older one: settled is what comes before the
    // oldest event still queued, in a request or held.
    let oldest = this.#queued > 0 ? this.#head() : this.#seq + 1;
    for (const b of this.#sending) oldest = Math.min(oldest, b.first);
    for (const b of this.#held) oldest = Math.min(oldest, b.first);
    this.#settledSeq = oldest - 1;
    for (const r of outcome.rejected) this.#report(r.error);
    if (outcome.failed.length > 0) this.#report(outcome.failed[0].error);
    this.#waiters = this.#waiters.filter((w) => {
      w.result.accepted += outcome.accepted;
      w.result.duplicates += outcome.duplicates;
      w.result.rejected.push(...outcome.rejected);
      w.result.failed.push(...outcome.failed);
      if (w.target > this.#settledSeq) return true;
      clearTimeout(w.timer);
      w.resolve(w.result);
      return false;
    });
  }

  /**
   * One batch, retried on network errors, 408, 429 and 5xx under one `Idempotency-Key`,
   * so a retry of a request the server did process is answered from its replay cache
   * (and its events would be duplicates anyway).
   */
  async #deliver(batch, keepalive) {
    const o = this.#o;
    const headers = {
      authorization: `Bearer ${o.apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': uuidv7(),
    };
    // Gzipped where the runtime can (API.md: the server inflates it, its limit applying to
    // the inflated body). Not a keepalive batch: a page being hidden must send it now,
    // not after a stream's turns.
    const zipped = keepalive ? null : await gzip(batch.body);
    if (zipped !== null) headers['content-encoding'] = 'gzip';
    const init = { method: 'POST', headers, body: zipped ?? batch.body, ...(keepalive && { keepalive }) };
    // The events' keys, for errors only: read back from the body when one is made.
    const keyed = {
      get idempotencyKeys() {
        return batch.keys();
      },
    };
    const sent = await sendWithRetries(
      o,
      o.url,
      init,
      (status, text) => {
        const answer = parseJson(text);
        if (status === 200 && answer && Array.isArray(answer.results)) return { value: outcomeOf(answer) };
        if (status === 200) {
          const error = new EdgemeterError('invalid_response', 'the server answered 200 without ingest results', {
            status,
            idempotencyKeys: batch.keys(),
          });
          return { error };
        }
        return { error: fromApiError(answer?.error, { status, idempotencyKeys: batch.keys() }) };
      },
      keyed,
      this.#stop.signal,
    );
    if ('value' in sent) return sent.value;
    if (sent.final && isConfigError(sent.error)) return { refusedConfig: sent.error };
    return failAll(batch, sent.error);
  }
}

/** Smaller bodies go as they are: gzip's header and a stream's setup cost more than they save. */
const GZIP_FROM_BYTES = 1024;

/**
 * `bytes` gzipped by the runtime's CompressionStream (browsers, Node 18+, Workers), or
 * null where there is none (or it fails): the body then goes as it is.
 */
async function gzip(bytes) {
  if (bytes.length < GZIP_FROM_BYTES || typeof CompressionStream !== 'function') return null;
  try {
    const zipped = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(zipped).arrayBuffer());
  } catch {
    return null;
  }
}

/**
 * A refusal of the client's configuration rather than of its events: a wrong key (401),
 * a key that may not send usage (403), a wrong base URL (404). Event-level errors of
 * these statuses (`forbidden_customer`, `unknown_customer`) name a field; these do not.
 */
function isConfigError(e) {
  if (e.code === 'invalid_option') return true; // no fetch to send with
  return e.status === 401 || ((e.status === 403 || e.status === 404) && e.field === undefined);
}

function optionError(name, what) {
  return new EdgemeterError('invalid_option', `option \`${name}\` must be ${what}`, { field: name });
}

/** The `timeoutMs` option of flush() or shutdown(): an integer ≥ 0, 10 s when not given. */
function deadlineOf(options, method) {
  const t = options?.timeoutMs;
  if (t === undefined) return DEFAULT_DEADLINE_MS;
  if (!Number.isInteger(t) || t < 0) {
    throw new EdgemeterError('invalid_option', `${method}(): \`timeoutMs\` must be an integer from 0`, { field: 'timeoutMs' });
  }
  return t;
}

function count(o, name, fallback, min, max = Number.MAX_SAFE_INTEGER) {
  const v = o[name] ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw optionError(name, `an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
  }
  return v;
}

/**
 * Events taken from the queue for one request: its body (UTF-8 JSON, as the queue wrote
 * it), how many, and the first one's number in the client's order.
 */
class Batch {
  #keys = null;

  constructor(body, n, first) {
    this.body = body;
    this.n = n;
    this.first = first;
  }

  /** The events' JSON, comma-separated (what `persist` saves). */
  events() {
    return decodeUtf8(this.body.subarray(EVENTS_AT, this.body.length - 2));
  }

  /** The events' idempotency keys, read back from the body (only errors need them). */
  keys() {
    this.#keys ??= JSON.parse(decodeUtf8(this.body)).events.map((e) => e.idempotency_key);
    return this.#keys;
  }
}

/** Where the events start in a body: after `{"events":[`. */
const EVENTS_AT = '{"events":['.length;


/** An event saved by `persist` (the wire's field names) as track() takes it. */
function fromWire(e) {
  if (e === null || typeof e !== 'object') return e;
  return {
    idempotencyKey: e.idempotency_key,
    customerId: e.customer_id,
    eventName: e.event_name,
    value: e.value,
    timestamp: e.timestamp,
    properties: e.properties,
  };
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
  return { accepted: 0, duplicates: 0, rejected: [], failed: batch.keys().map((idempotencyKey) => ({ idempotencyKey, error })) };
}

/** The character codes of two hex digits per byte value. */
const HEX = new Uint16Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0');
  HEX[2 * i] = h.charCodeAt(0);
  HEX[2 * i + 1] = h.charCodeAt(1);
}
/** Random bytes drawn 4 KiB at a time: one getRandomValues call serves 409 keys. */
const POOL = new Uint8Array(4096);
let poolAt = POOL.length;
/** A key's 36 character codes, hyphens in place, rewritten for each key. */
const KEY = new Array(36).fill(0x2d);

function hex(at, byte) {
  KEY[at] = HEX[2 * byte];
  KEY[at + 1] = HEX[2 * byte + 1];
}

/** The milliseconds KEY's first 12 digits were last written for. */
let keyMs = -1;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Built as one flat
 * string from character codes (a flat string is what callers keep and compare). The
 * time digits are rewritten only when the millisecond changes: a burst of calls shares
 * them.
 */
function uuidv7(ms = Date.now()) {
  if (poolAt + 10 > POOL.length) {
    webCrypto.getRandomValues(POOL);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 10;
  if (ms !== keyMs) {
    keyMs = ms;
    // 48-bit milliseconds: the high 16 bits and the low 32, without float division.
    const hi = Math.floor(ms / 0x100000000);
    const lo = ms >>> 0;
    hex(0, (hi >>> 8) & 0xff);
    hex(2, hi & 0xff);
    hex(4, lo >>> 24);
    hex(6, (lo >>> 16) & 0xff);
    hex(9, (lo >>> 8) & 0xff);
    hex(11, lo & 0xff);
  }
  hex(14, 0x70 | (POOL[r] & 0x0f));
  hex(16, POOL[r + 1]);
  hex(19, 0x80 | (POOL[r + 2] & 0x3f));
  hex(21, POOL[r + 3]);
  hex(24, POOL[r + 4]);
  hex(26, POOL[r + 5]);
  hex(28, POOL[r + 6]);
  hex(30, POOL[r + 7]);
  hex(32, POOL[r + 8]);
  hex(34, POOL[r + 9]);
  return String.fromCharCode.apply(null, KEY);
}

// ---------------------------------------------------------------- one event: check and queue

// Tags of the compact format that carries an event into the wasm validator; the layout
// is documented in sdk/src/compact.rs, which reads it.
const ABSENT = 0;
const NULL = 1;
const STR = 2;
const NUMBER = 3;
const FALSE = 4;
const TRUE = 5;
const OTHER = 6;
const OBJECT = 7;
/** A queue record's header, before the event: its length and arrival time (sdk/src/queue.rs). */
const RECORD_HEADER = 12;
/** commit's answers (sdk/src/wasm.rs). */
const VALID_KEY_UPPER = 1;
const REFUSED = 2;


/**
 * Where the next event is written: the free space after the last record of the queue
 * `into` (sdk/src/queue.rs), in wasm memory. Its address and size, as last asked for
 * (`tail`), and a view of memory.
 */
let into = null;
let base = 0;
let cap = 0;
let mem = new Uint8Array(0);
/** Write position, from `base`. */
let pos = 0;
/** Free space asked for at a time, so that most events need no call for it. */
const TAIL_CHUNK = 64 * 1024;

/**
 * Makes room for `n` bytes in all; the space keeps its contents when it moves. Each
 * writer below takes `mem` into a local first: a store through the module's own binding
 * reloaded and rechecked the view on every byte (a quarter of track()'s time went to
 * two copy loops).
 */
function room(n) {
  if (n > cap) {
    cap = Math.max(n, TAIL_CHUNK);
    base = into.tail(cap);
    view();
  }
}

/**
 * Takes a new view of wasm memory if it has grown, which detaches the old view (it then
 * reads as empty). Memory grows only in a call into wasm: once per event, and after
 * `tail`.
 */
function view() {
  if (mem.length === 0) mem = new Uint8Array(wasm.memory.buffer);
}

/** The queue moved its records (a take): where it has free space must be asked again. */
function forgetTail(queue) {
  if (into === queue) cap = 0;
}

function tag(t) {
  room(pos + 1);
  mem[base + pos++] = t;
}

function u32At(m, at, n) {
  m[at] = n & 0xff;
  m[at + 1] = (n >>> 8) & 0xff;
  m[at + 2] = (n >>> 16) & 0xff;
  m[at + 3] = n >>> 24;
}

/** A string, tagged unless `t` is ABSENT: its UTF-8 length, then its bytes. */
function str(t, s) {
  const n = s.length;
  room(pos + 5 + n * 3);
  const m = mem;
  if (t !== ABSENT) m[base + pos++] = t;
  const start = base + pos + 4;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) break;
    m[start + i] = c;
  }
  let len = i;
  if (i < n) {
    len += encodeUtf8Into(s.slice(i), m.subarray(start + i, base + cap));
  }
  u32At(m, base + pos, len);
  pos += 4 + len;
}

/** A tagged string already in UTF-8 (a Uint8Array of its bytes). */
function bytes(t, b) {
  const n = b.length;
  room(pos + 5 + n);
  const m = mem;
  m[base + pos] = t;
  u32At(m, base + pos + 1, n);
  // A loop: for ids and keys (tens of bytes), faster than `set()` and its checks.
  const at = base + pos + 5;
  for (let i = 0; i < n; i++) m[at + i] = b[i];
  pos += 5 + n;
}

/** The key uuidv7() just made, from its character codes (all ASCII). */
function generatedKey() {
  room(pos + 41);
  const m = mem;
  m[base + pos] = STR;
  u32At(m, base + pos + 1, 36);
  const at = base + pos + 5;
  for (let i = 0; i < 36; i++) m[at + i] = KEY[i];
  pos += 41;
}

/**
 * The last string of a field whose values repeat from call to call (customer ids, event
 * names), with its UTF-8 bytes: the same string again is copied, not encoded.
 */
class Remembered {
  text = null;
  utf8 = null;
}
const lastCustomer = new Remembered();
const lastName = new Remembered();

function remembered(r, s) {
  if (s === r.text) return bytes(STR, r.utf8);
  const at = pos;
  str(STR, s);
  r.text = s;
  r.utf8 = mem.slice(base + at + 5, base + pos);
}

/**
 * A value as JSON would carry it: strings, finite numbers (as their JSON text, which is
 * `String(n)`), booleans and null; anything else (objects, NaN, Infinity) is OTHER,
 * refused by every field.
 */
function value(v) {
  switch (typeof v) {
    case 'string':
      return str(STR, v);
    case 'number':
      // NaN and Infinity would become null in JSON, and a null value means 1: refuse them.
      return Number.isFinite(v) ? str(NUMBER, String(v)) : tag(OTHER);
    case 'boolean':
      return tag(v ? TRUE : FALSE);
    case 'undefined':
      return tag(ABSENT);
    default:
      return tag(v === null ? NULL : OTHER);
  }
}

function isoOf(date) {
  if (Number.isNaN(date.getTime())) {
    throw new EdgemeterError('invalid_timestamp', '`timestamp` is an invalid Date', { field: 'timestamp' });
  }
  return date.toISOString();
}

/**
 * Writes an event in the compact format into `queue`'s free space, where the queue checks
 * it with the server's rules (in wasm) and keeps it. Returns its canonical key; throws an
 * `EdgemeterError` for an invalid event, which is not queued. The queue holds its own
 * copy: the caller may change its object once track() returns.
 */
function encodeEvent(event, now, queue) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new EdgemeterError('invalid_request', 'an event must be an object');
  }
  let { idempotencyKey: key, customerId, eventName, value: v, timestamp, properties } = event;
  let unknown;
  for (const k in event) {
    if (unknown === undefined && !isEventField(k) && Object.hasOwn(event, k)) unknown = k;
  }
  const generated = key === undefined || key === null;
  if (generated) key = uuidv7(now);
  if (timestamp instanceof Date) timestamp = isoOf(timestamp);

  if (into !== queue) {
    into = queue;
    cap = 0;
  }
  view();
  pos = 0;
  if (generated) generatedKey();
  else value(key);
  if (typeof customerId === 'string') remembered(lastCustomer, customerId);
  else value(customerId);
  if (typeof eventName === 'string') remembered(lastName, eventName);
  else value(eventName);
  value(v);
  value(timestamp);
  if (unknown === undefined) tag(ABSENT);
  else str(STR, unknown);
  // The properties as JSON.stringify sees them: own enumerable keys, those holding
  // undefined, a function or a symbol left out.
  if (properties !== null && typeof properties === 'object' && !Array.isArray(properties)) {
    tag(OBJECT);
    room(pos + 4);
    const countAt = pos;
    pos += 4;
    let n = 0;
    for (const k in properties) {
      if (!Object.hasOwn(properties, k)) continue;
      const x = properties[k];
      const t = typeof x;
      if (t === 'undefined' || t === 'function' || t === 'symbol') continue;
      str(ABSENT, k);
      value(x);
      n++;
    }
    u32At(mem, base + countAt, n);
  } else {
    tag(properties === undefined ? ABSENT : properties === null ? NULL : OTHER);
  }
  const status = queue.commit(pos, now);
  if (status === REFUSED) throw fromApiError(lastError(), {});
  // The next event goes after this one and its record header (sdk/src/queue.rs).
  base += pos + RECORD_HEADER;
  cap -= pos + RECORD_HEADER;
  return status === VALID_KEY_UPPER ? key.toLowerCase() : key;
}

/** An event field's name. A switch: a lookup in a prototype-less object was a hash probe per key. */
function isEventField(k) {
  switch (k) {
    case 'idempotencyKey':
    case 'customerId':
    case 'eventName':
    case 'value':
    case 'timestamp':
    case 'properties':
      return true;
    default:
      return false;
  }
}
