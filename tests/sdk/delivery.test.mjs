// Delivery against a real `wrangler dev`: usage counted exactly, per-event rejections
// reported, and retries through a flaky proxy that never count an event twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BASE_URL, Edgemeter, INGEST_KEY, NEEDS_SERVER, customer, forward, received, sumMetric, tenths, usage } from './helpers.mjs';

test('2,000 events for 3 customers, then flush: usage is exact', NEEDS_SERVER, async () => {
  const metric = await sumMetric();
  const customers = [await customer(), await customer(), await customer()];
  const m = new Edgemeter({ apiKey: INGEST_KEY, baseUrl: BASE_URL });
  const expected = customers.map(() => ({ tenths: 0, count: 0 }));
  for (let i = 0; i < 2000; i++) {
    const c = i % 3;
    // Values with a decimal, as strings and numbers: exact sums or nothing.
    const value = i % 2 ? `${i % 10}.5` : (i % 10) + 0.5;
    m.track({ customerId: customers[c], eventName: metric.eventName, value, properties: { n: i } });
    expected[c].tenths += (i % 10) * 10 + 5;
    expected[c].count += 1;
  }
  const result = await m.flush();
  assert.deepEqual([result.accepted, result.duplicates, result.rejected, result.failed], [2000, 0, [], []]);
  assert.equal(m.pending, 0);
  for (const [c, id] of customers.entries()) {
    assert.deepEqual(await usage(id, metric.code), { quantity: tenths(expected[c].tenths), eventCount: expected[c].count });
  }
  await m.shutdown();
});

test('events the server rejects come back in the flush result and through onError', NEEDS_SERVER, async () => {
  const metric = await sumMetric();
  const id = await customer();
  const errors = [];
  const m = new Edgemeter({ apiKey: INGEST_KEY, baseUrl: BASE_URL, onError: (e) => errors.push(e) });
  m.track({ customerId: id, eventName: metric.eventName, value: 2 });
  const unmetered = m.track({ customerId: id, eventName: `nobody_meters_${metric.code}` });
  // An id no customer has: the server rejects that event alone, keeping the others.
  const stranger = m.track({ customerId: 'cus_00000000000000000000000000', eventName: metric.eventName });
  const result = await m.shutdown();
  assert.equal(result.accepted, 1, JSON.stringify(result));
  const got = result.rejected.map((r) => [r.idempotencyKey, r.error.code, r.error.field]).sort();
  const want = [
    [unmetered, 'unknown_event_name', 'eventName'],
    [stranger, 'unknown_customer', 'customerId'],
  ].sort();
  assert.deepEqual(got, want);
  assert.deepEqual(errors.map((e) => [e.idempotencyKeys[0], e.code, e.field]).sort(), want);
  assert.deepEqual(await usage(id, metric.code), { quantity: '2', eventCount: 1 });
});

/**
 * A proxy to the server that plays `script` (one step per request, then passes
 * everything through): `503`, `429` (with `Retry-After: 1`), or `drop` (forwards the
 * request, lets the server process it, then closes the connection without answering).
 */
async function flakyProxy(script) {
  const seen = [];
  const server = http.createServer(async (req, res) => {
    const { raw, json } = await received(req);
    const step = script[seen.length] ?? 'pass';
    seen.push({ at: Date.now(), step, key: req.headers['idempotency-key'], events: json.events.length, gzipped: req.headers['content-encoding'] === 'gzip' });
    if (step === '503') return res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream unavailable');
    if (step === '429') {
      const body = JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } });
      return res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end(body);
    }
    const upstream = await forward(req, raw);
    const text = await upstream.text();
    if (step === 'drop') return req.socket.destroy();
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

test('503s, a 429 with Retry-After and a connection dropped after processing: usage still exact', NEEDS_SERVER, async () => {
  const metric = await sumMetric();
  const customers = [await customer(), await customer()];
  const proxy = await flakyProxy(['503', '503', '429', 'drop']);
  const errors = [];
  const m = new Edgemeter({
    apiKey: INGEST_KEY,
    baseUrl: proxy.url,
    flushAt: 250,
    retryBaseMs: 20,
    onError: (e) => errors.push(e),
  });
  for (let i = 0; i < 600; i++) m.track({ customerId: customers[i % 2], eventName: metric.eventName, value: 1 });
  const result = await m.shutdown();
  await proxy.close();

  assert.deepEqual(errors, []);
  assert.deepEqual([result.rejected, result.failed], [[], []]);
  assert.equal(result.accepted + result.duplicates, 600, JSON.stringify(result));
  for (const id of customers) assert.deepEqual(await usage(id, metric.code), { quantity: '300', eventCount: 300 });

  // The first batch took five attempts under one Idempotency-Key; the second, one.
  const steps = proxy.seen.map((s) => s.step);
  assert.deepEqual(steps, ['503', '503', '429', 'drop', 'pass', 'pass']);
  const first = proxy.seen.slice(0, 5);
  assert.equal(new Set(first.map((s) => s.key)).size, 1);
  assert.equal(new Set(proxy.seen.map((s) => s.key)).size, 2);
  // The flush sends all that is left in one batch.
  assert.deepEqual(proxy.seen.map((s) => s.events), [250, 250, 250, 250, 250, 350]);
  // Batches of real size travel gzipped (Node 18+ has CompressionStream), and the server takes them.
  assert.ok(proxy.seen.every((s) => s.gzipped), JSON.stringify(proxy.seen));
  assert.ok(first[3].at - first[2].at >= 950, `Retry-After honoured: ${first[3].at - first[2].at} ms`);
});
