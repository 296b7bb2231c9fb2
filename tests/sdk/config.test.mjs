// Configuration mistakes against a real `wrangler dev`: a wrong key (401) or a base URL
// ending in /v1 (404) loses nothing. The events stay queued, nothing more is sent until
// the caller flushes again, flush() and shutdown() reject, and without onError one
// console.warn says what happened, where, and what to fix. Once the mistake is fixed,
// everything arrives, once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BASE_URL, Edgemeter, INGEST_KEY, NEEDS_SERVER, customer, forward, memoryStorage, received, stubFetch, sumMetric, usage } from './helpers.mjs';

/** Runs `fn` with console.warn recorded instead of printed; returns what it said. */
async function capturingWarnings(fn) {
  const said = [];
  const warn = console.warn;
  console.warn = (...args) => said.push(args.join(' '));
  try {
    await fn(said);
  } finally {
    console.warn = warn;
  }
  return said;
}

/** A proxy to the server that answers `refusal()` (a status and JSON body) until `fix()`. */
async function misconfiguredProxy(refusal) {
  const seen = [];
  let fixed = false;
  const server = http.createServer(async (req, res) => {
    const { raw, json } = await received(req);
    seen.push(json.events.length);
    if (!fixed) {
      const { status, body } = refusal();
      return res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }
    const upstream = await forward(req, raw);
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    fix: () => {
      fixed = true;
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

test('a wrong key: flush() rejects with 401, the events stay queued, one console.warn names the URL and the fix', NEEDS_SERVER, async () => {
  const said = await capturingWarnings(async () => {
    const m = new Edgemeter({ apiKey: 'ik_not_a_key', baseUrl: BASE_URL });
    const keys = [1, 2, 3].map(() => m.track({ customerId: 'cus_00000000000000000000000000', eventName: 'invoices' }));
    const refused = await m.flush().then(
      () => assert.fail('flush() resolved'),
      (e) => e,
    );
    assert.equal(refused.code, 'unauthorized', refused.message);
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.idempotencyKeys, keys);
    assert.deepEqual(refused.result.pending, keys);
    assert.equal(m.pending, 3, 'nothing dropped');
    // A second try is a retry: refused again, said on the console no more.
    await assert.rejects(m.shutdown(), (e) => e.code === 'unauthorized');
    assert.equal(m.pending, 3);
  });
  assert.equal(said.length, 1, said.join('\n'));
  assert.match(said[0], new RegExp(`POST ${BASE_URL}/v1/usage/ingest answered 401`));
  assert.match(said[0], /apiKey/);
  assert.match(said[0], /3 event\(s\) are kept/);
});

test('a base URL ending in /v1: 404, kept, and the message says to drop the /v1', NEEDS_SERVER, async () => {
  const errors = [];
  const said = await capturingWarnings(async () => {
    const m = new Edgemeter({ apiKey: INGEST_KEY, baseUrl: `${BASE_URL}/v1`, onError: (e) => errors.push(e) });
    m.track({ customerId: 'cus_00000000000000000000000000', eventName: 'invoices' });
    await assert.rejects(m.shutdown(), (e) => e.status === 404 && e.code === 'not_found' && /without \/v1/.test(e.message));
    assert.equal(m.pending, 1);
  });
  assert.deepEqual(said, [], 'with onError, nothing on the console');
  assert.deepEqual(errors.map((e) => [e.code, e.status]), [['not_found', 404]]);
  assert.match(errors[0].message, new RegExp(`POST ${BASE_URL}/v1/v1/usage/ingest`));
});

test('refused, then fixed: nothing is sent meanwhile, and the next flush() delivers everything once', NEEDS_SERVER, async () => {
  const metric = await sumMetric();
  const id = await customer();
  const proxy = await misconfiguredProxy(() => ({ status: 401, body: { error: { code: 'unauthorized', message: 'bad key' } } }));
  const errors = [];
  const m = new Edgemeter({ apiKey: INGEST_KEY, baseUrl: proxy.url, flushAt: 4, flushIntervalMs: 10, onError: (e) => errors.push(e) });
  for (let i = 0; i < 4; i++) m.track({ customerId: id, eventName: metric.eventName, value: 1 });
  await assert.rejects(m.flush(), (e) => e.code === 'unauthorized' && e.idempotencyKeys.length === 4);
  // Tracking goes on; neither flushAt nor the timer sends while the error stands.
  for (let i = 0; i < 6; i++) m.track({ customerId: id, eventName: metric.eventName, value: 1 });
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(proxy.seen, [4]);
  assert.equal(m.pending, 10);

  proxy.fix();
  const result = await m.flush();
  assert.deepEqual([result.accepted, result.duplicates, result.rejected, result.failed], [10, 0, [], []]);
  assert.deepEqual(proxy.seen, [4, 4, 6]);
  assert.equal(m.pending, 0);
  await m.shutdown();
  await proxy.close();
  assert.deepEqual(errors.map((e) => e.code), ['unauthorized']);
  assert.deepEqual(await usage(id, metric.code), { quantity: '10', eventCount: 10 });
});

test('an event-level 403 or 404 is not a configuration error', async () => {
  // The server answers a single bare event's rejection with its status; such an error
  // names its field, and fails that batch alone instead of stopping the client.
  const fetch = async () =>
    new Response(JSON.stringify({ error: { code: 'unknown_customer', message: 'no customer', field: 'customer_id' } }), { status: 404 });
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch, onError: () => {} });
  m.track({ customerId: 'cus_00000000000000000000000000', eventName: 'invoices' });
  const r = await m.flush();
  assert.deepEqual(r.failed.map((f) => f.error.code), ['unknown_customer']);
  assert.equal(m.pending, 0);
});

test('with persist, what a configuration error held is saved at shutdown and delivered by the next client', async () => {
  const { storage, saved } = memoryStorage();
  const refuse = async () => new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'expired token' } }), { status: 401 });
  const a = new Edgemeter({ apiKey: 'ct_old', baseUrl: 'https://x.test', fetch: refuse, persist: { storage }, onError: () => {} });
  const keys = [a.track({ customerId: 'cus_00000000000000000000000000', eventName: 'invoices' })];
  await assert.rejects(a.shutdown(), (e) => e.code === 'unauthorized');
  assert.equal(saved.size, 1);

  const net = stubFetch();
  const b = new Edgemeter({ apiKey: 'ct_new', baseUrl: 'https://x.test', fetch: net.fetch, persist: { storage } });
  const done = await b.shutdown();
  assert.equal(done.accepted, 1);
  assert.deepEqual(net.calls.flatMap((c) => c.body.events.map((e) => e.idempotency_key)), keys);
});
