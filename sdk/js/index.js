// @edgemeter/sdk: track usage events, validated locally by the server's own rules (the
// `core` crate compiled to wasm), queued, batched and delivered to `POST
// /v1/usage/ingest` with retries that can never count an event twice (API.md, "Usage
// ingestion"). Types: index.d.ts.

import initWasm, { checkEvent, lastError, scratch } from './edgemeter_sdk.js';
import { EdgemeterError, fromApiError } from './errors.js';
import { createApi } from './api.js';
import { watchPage } from './browser.js';
import { nodeModule, webCrypto } from './platform.js';
import { parseJson, sendWithRetries } from './retry.js';

export { EdgemeterError } from './errors.js';

// Loaded from a file (Node, Deno, Bun): read the bytes, since Node's fetch cannot read
// `file:` URLs. Otherwise (a browser, a CDN): fetch, which lets the browser compile while
// downloading.
const wasmUrl = new URL('./edgemeter_sdk_bg.wasm', import.meta.url);
let wasm;
if (wasmUrl.protocol === 'file:') {
  const { readFile } = await nodeModule('fs/promises');
  wasm = await initWasm({ module_or_path: await readFile(wasmUrl) });
} else {
  wasm = await initWasm({ module_or_path: fetch(wasmUrl) });
}

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
  /** Batches in a request: the drain loop's, and keepalive ones sent when a page hides. */
  #sending = new Set();
  #page = null;

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
    // In a browser page: a keepalive flush when the page is hidden, and the `persist`
    // option's saved queue (browser.js).
    this.#page = watchPage(o, {
      unsettled: () => [...this.#sending].flat().concat(this.#queue),
      take: () => this.#queue.splice(0),
      putBack: (entries) => {
        this.#queue = entries.concat(this.#queue);
      },
      send: (batch) => this.#send(batch, true),
      load: (entries) => {
        for (const e of entries) {
          e.seq = ++this.#seq;
          this.#queue.push(e);
        }
        this.flush();
      },
      flush: () => this.flush(),
      report: (e) => this.#report(e),
    });
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
    // Validation bounds every string, so a valid event is far below a request's 1 MiB.
    const entry = encodeEvent(event, now);
    entry.seq = ++this.#seq;
    this.#queue.push(entry);
    if (this.#queue.length >= this.#o.flushAt) this.#kick();
    else this.#arm();
    return entry.key;
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
    this.#page?.detach();
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
    while (this.#due()) await this.#send(takeBatch(this.#queue), false);
  }

  /** Delivers one batch and settles it: a step of the drain loop, or a keepalive batch. */
  async #send(batch, keepalive) {
    this.#inFlight += batch.length;
    this.#sending.add(batch);
    let outcome;
    try {
      outcome = await this.#deliver(batch, keepalive);
    } catch (e) {
      outcome = failAll(batch, new EdgemeterError('internal_error', `unexpected: ${e}`, { cause: e }));
    }
    this.#inFlight -= batch.length;
    this.#sending.delete(batch);
    this.#settle(outcome);
  }

  #settle(outcome) {
    // A keepalive batch can settle before an older one: settled is what comes before the
    // oldest event still queued or in a request.
    let oldest = this.#queue.length > 0 ? this.#queue[0].seq : this.#seq + 1;
    for (const b of this.#sending) oldest = Math.min(oldest, b[0].seq);
    this.#settledSeq = oldest - 1;
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
  async #deliver(batch, keepalive) {
    const o = this.#o;
    const body = `{"events":[${batch.map((e) => e.json).join(',')}]}`;
    const headers = {
      authorization: `Bearer ${o.apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': uuidv7(),
    };
    const keys = batch.map((e) => e.key);
    const init = { method: 'POST', headers, body, ...(keepalive && { keepalive }) };
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
            idempotencyKeys: keys,
          });
          return { error };
        }
        return { error: fromApiError(answer?.error, { status, idempotencyKeys: keys }) };
      },
      { idempotencyKeys: keys },
    );
    return 'value' in sent ? sent.value : failAll(batch, sent.error);
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

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Built as one flat
 * string from character codes: concatenating 20 pieces left a tree of strings per key
 * for the garbage collector to walk while the event waits in the queue (3 µs a key).
 */
function uuidv7(ms = Date.now()) {
  if (poolAt + 10 > POOL.length) {
    webCrypto.getRandomValues(POOL);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 10;
  // 48-bit milliseconds: the high 16 bits and the low 32, without float division.
  const hi = Math.floor(ms / 0x100000000);
  const lo = ms >>> 0;
  hex(0, (hi >>> 8) & 0xff);
  hex(2, hi & 0xff);
  hex(4, lo >>> 24);
  hex(6, (lo >>> 16) & 0xff);
  hex(9, (lo >>> 8) & 0xff);
  hex(11, lo & 0xff);
  hex(14, 0x70 | (POOL[r] & 0x0f));
  hex(16, POOL[r + 1]);
  hex(19, 0x80 | (POOL[r + 2] & 0x3f));
  hex(21, POOL[r + 3]);
  for (let i = 0; i < 6; i++) hex(24 + 2 * i, POOL[r + 4 + i]);
  return String.fromCharCode.apply(null, KEY);
}

// ---------------------------------------------------------------- one event: check and wire JSON

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
/** checkEvent's answers (sdk/src/wasm.rs). */
const VALID_KEY_UPPER = 1;
const REFUSED = 2;

const utf8 = new TextEncoder();
/** The scratch buffer in wasm memory: its address, its size, and a view of memory. */
let base = 0;
let cap = 0;
let mem = new Uint8Array(0);
/** Write position in the scratch buffer, and whether every string written was ASCII. */
let pos = 0;
let ascii = true;

/** Makes room for `n` bytes in all; the buffer keeps its contents when it moves. */
function room(n) {
  if (n > cap) {
    cap = Math.max(n, cap * 2, 4096);
    base = scratch(cap);
  }
  // Growing wasm memory detaches the old view, which then reads as empty.
  if (mem.length === 0) mem = new Uint8Array(wasm.memory.buffer);
}

function tag(t) {
  room(pos + 1);
  mem[base + pos++] = t;
}

function u32At(at, n) {
  mem[at] = n & 0xff;
  mem[at + 1] = (n >>> 8) & 0xff;
  mem[at + 2] = (n >>> 16) & 0xff;
  mem[at + 3] = n >>> 24;
}

/** A string, tagged unless `t` is ABSENT: its UTF-8 length, then its bytes. */
function str(t, s) {
  const n = s.length;
  room(pos + 5 + n * 3);
  if (t !== ABSENT) mem[base + pos++] = t;
  const start = base + pos + 4;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) break;
    mem[start + i] = c;
  }
  let len = i;
  if (i < n) {
    ascii = false;
    len += utf8.encodeInto(s.slice(i), mem.subarray(start + i, base + cap)).written;
  }
  u32At(base + pos, len);
  pos += 4 + len;
}

/** A tagged string already in UTF-8 (a Uint8Array of its bytes). */
function bytes(t, b, isAscii) {
  const n = b.length;
  room(pos + 5 + n);
  mem[base + pos] = t;
  u32At(base + pos + 1, n);
  // A loop: for ids and keys (tens of bytes), faster than `set()` and its checks.
  const at = base + pos + 5;
  for (let i = 0; i < n; i++) mem[at + i] = b[i];
  pos += 5 + n;
  if (!isAscii) ascii = false;
}

/** The key uuidv7() just made, from its character codes (all ASCII). */
function generatedKey() {
  room(pos + 41);
  mem[base + pos] = STR;
  u32At(base + pos + 1, 36);
  const at = base + pos + 5;
  for (let i = 0; i < 36; i++) mem[at + i] = KEY[i];
  pos += 41;
}

/**
 * The last string of a field whose values repeat from call to call (customer ids, event
 * names), with its UTF-8 bytes: the same string again is copied, not encoded.
 */
class Remembered {
  text = null;
  utf8 = null;
  ascii = true;
}
const lastCustomer = new Remembered();
const lastName = new Remembered();

function remembered(r, s) {
  if (s === r.text) return bytes(STR, r.utf8, r.ascii);
  const before = ascii;
  ascii = true;
  const at = pos;
  str(STR, s);
  r.text = s;
  r.utf8 = mem.slice(base + at + 5, base + pos);
  r.ascii = ascii;
  ascii = before && ascii;
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
 * Checks an event with the server's rules (in wasm) and returns it as a `Queued` entry
 * with its canonical key. Throws an `EdgemeterError` for an invalid event.
 */
function encodeEvent(event, now) {
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

  pos = 0;
  ascii = true;
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
  // The properties as JSON.stringify sees them (own enumerable keys; those holding
  // undefined, a function or a symbol left out), copied as they are checked: the caller
  // may change its object once track() returns.
  let props = null;
  if (properties !== null && typeof properties === 'object' && !Array.isArray(properties)) {
    tag(OBJECT);
    room(pos + 4);
    const countAt = pos;
    pos += 4;
    let n = 0;
    props = {};
    for (const k in properties) {
      if (!Object.hasOwn(properties, k)) continue;
      const x = properties[k];
      const t = typeof x;
      if (t === 'undefined' || t === 'function' || t === 'symbol') continue;
      str(ABSENT, k);
      value(x);
      props[k] = x;
      n++;
    }
    u32At(base + countAt, n);
    if (n === 0) props = null;
  } else {
    tag(properties === undefined ? ABSENT : properties === null ? NULL : OTHER);
  }
  const status = checkEvent(pos, now);
  if (status === REFUSED) throw fromApiError(lastError(), {});
  if (status === VALID_KEY_UPPER) key = key.toLowerCase();
  return new Queued(key, customerId, eventName, v ?? null, timestamp ?? now, props, ascii);
}

/**
 * A checked event in the queue, holding its own copy of the values. Its wire JSON is
 * built when a batch first needs it, off the caller's path: one flush builds a hundred
 * at once, and track() stays a check and a copy.
 */
class Queued {
  constructor(key, customerId, eventName, value, timestamp, props, ascii) {
    this.seq = 0;
    this.key = key;
    this.customerId = customerId;
    this.eventName = eventName;
    this.value = value;
    /** Milliseconds when defaulted to "now", else the caller's RFC 3339 text. */
    this.timestamp = timestamp;
    this.props = props;
    this.ascii = ascii;
    this.text = null;
  }

  /** The event as the API takes it (the key, a UUID, and the customer id, checked to be [A-Za-z0-9_-], need no escaping). */
  get json() {
    if (this.text !== null) return this.text;
    let json = `{"idempotency_key":"${this.key}","customer_id":"${this.customerId}","event_name":${JSON.stringify(this.eventName)}`;
    const v = this.value;
    if (v !== null) json += `,"value":${typeof v === 'number' ? String(v) : JSON.stringify(v)}`;
    json += `,"timestamp":${typeof this.timestamp === 'number' ? `"${isoAt(this.timestamp)}"` : JSON.stringify(this.timestamp)}`;
    json += this.props === null ? '}' : `,"properties":${JSON.stringify(this.props)}}`;
    this.text = json;
    return json;
  }

  /** The JSON's UTF-8 length: its length when every string in it was ASCII. */
  get bytes() {
    const json = this.json;
    return this.ascii ? json.length : utf8Length(json);
  }
}

/** The last default timestamp formatted: events of the same millisecond share it. */
let isoMs = -1;
let isoText = '';

function isoAt(ms) {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
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

function utf8Length(s) {
  return utf8.encode(s).length;
}
