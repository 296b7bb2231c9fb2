// Shared by the SDK's Node tests: the server under test (from the environment the Rust
// test `tests/tests/sdk_node.rs` sets), admin calls over HTTP, and a scripted fetch.
//
// Tests that need no server use a stub `fetch`; the others skip when run without one
// (`node --test tests/sdk/` alone), and run under `cargo test -p edgemeter-tests --test sdk_node`.

import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

// The Node build (the package's `node` export condition): the suite runs on Node 18 too.
export { Edgemeter, EdgemeterError } from '../../sdk/pkg/node.js';

export const BASE_URL = process.env.EDGEMETER_BASE_URL ?? '';
export const SECRET_KEY = process.env.EDGEMETER_SECRET_KEY ?? '';
export const INGEST_KEY = process.env.EDGEMETER_INGEST_KEY ?? '';
/**
 * For `test(name, NEEDS_SERVER, fn)`. A test that hangs fails after 3 minutes, with its
 * name, instead of holding the whole run (Node 18 has no `--test-timeout`).
 */
export const NEEDS_SERVER = {
  skip: BASE_URL ? false : 'no server: run through `cargo test --test sdk_node`',
  timeout: 180_000,
};

/**
 * One admin call. Each try gets 15 s and a call is tried up to three times: `wrangler dev`
 * sometimes leaves a connection unanswered on a loaded machine, and a test must then
 * go on (or fail), not wait forever. A POST keeps one Idempotency-Key across its tries.
 */
async function admin(method, path, body) {
  const headers = { authorization: `Bearer ${SECRET_KEY}`, 'content-type': 'application/json' };
  if (method === 'POST') headers['idempotency-key'] = randomUUID();
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(`${BASE_URL}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (e) {
      if (attempt < 3) continue;
      throw new Error(`${method} ${path}: no answer after ${attempt} tries: ${e}`);
    }
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return JSON.parse(text);
  }
}

const suffix = () => Math.random().toString(36).slice(2, 10);

/** A new customer's id. */
export async function customer() {
  return (await admin('POST', '/v1/customers', { name: 'Acme Corp', email: 'billing@acme.test' })).id;
}

/** A `sum` metric on a fresh event name: `{ code, eventName }`. */
export async function sumMetric() {
  const code = `sdk_${suffix()}`;
  const eventName = `ev_${suffix()}`;
  await admin('POST', '/v1/billing/metrics', { code, name: code, event_name: eventName, aggregation: 'sum' });
  return { code, eventName };
}

/** One metric's `{ quantity, eventCount }` in the customer's current period. */
export async function usage(customerId, code) {
  const body = await admin('GET', `/v1/customers/${customerId}/usage`);
  const m = body.metrics.find((x) => x.code === code);
  return m ? { quantity: m.quantity, eventCount: m.event_count } : { quantity: '0', eventCount: 0 };
}

/** A decimal string without trailing zeros for an integer count of tenths. */
export function tenths(n) {
  return n % 10 === 0 ? String(n / 10) : `${Math.floor(n / 10)}.${n % 10}`;
}

/**
 * A stub `fetch` that records each call and answers with `answer(call)` (default: every
 * event accepted). `calls[i]` has `url`, `headers`, `body` (parsed) and `bytes`.
 */
export function stubFetch(answer) {
  const calls = [];
  const fetch = async (url, init) => {
    const call = { url, headers: init.headers, body: JSON.parse(bodyText(init)), bytes: Buffer.byteLength(init.body) };
    calls.push(call);
    const r = answer ? await answer(call) : acceptAll(call);
    return new Response(typeof r.body === 'string' ? r.body : JSON.stringify(r.body), {
      status: r.status ?? 200,
      headers: r.headers ?? {},
    });
  };
  return { fetch, calls };
}

/** The answer a server gives when it accepts every event of a batch. */
export function acceptAll(call) {
  const results = call.body.events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
  return { body: { accepted: results.length, duplicates: 0, rejected: 0, results } };
}

/** A promise and its resolver, to wait for a stub to be called without sleeping. */
export function signal() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A request body a stub fetch was given, as text: the API client sends text, the client
 * its batches as UTF-8 bytes (a Uint8Array), gzipped from 1 KiB (`content-encoding`).
 */
export function bodyText(init) {
  if (typeof init.body === 'string') return init.body;
  const gzipped = init.headers?.['content-encoding'] === 'gzip';
  return new TextDecoder().decode(gzipped ? gunzipSync(init.body) : init.body);
}

/** What an http.Server got: `{ raw, json }`, the raw bytes as sent, the JSON inflated if gzipped. */
export async function received(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks);
  const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
  return { raw, json: JSON.parse(text) };
}

/** A Web Storage in memory (what `persist` takes), and the map behind it. */
export function memoryStorage() {
  const saved = new Map();
  const storage = {
    get length() {
      return saved.size;
    },
    key: (i) => [...saved.keys()][i] ?? null,
    getItem: (k) => (saved.has(k) ? saved.get(k) : null),
    setItem: (k, v) => saved.set(k, String(v)),
    removeItem: (k) => saved.delete(k),
  };
  return { storage, saved };
}

/** A proxy's request (`req` of an http.Server, its body `raw` as received) sent on to the server under test. */
export function forward(req, raw) {
  return fetch(`${BASE_URL}${req.url}`, {
    method: req.method,
    headers: {
      authorization: req.headers.authorization,
      'content-type': 'application/json',
      'idempotency-key': req.headers['idempotency-key'],
      ...(req.headers['content-encoding'] && { 'content-encoding': req.headers['content-encoding'] }),
    },
    body: raw,
  });
}
