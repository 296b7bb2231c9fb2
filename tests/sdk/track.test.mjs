// track(): local validation with the server's codes, the filled-in fields, the queue's
// bound and the client's options. No server: a stub fetch stands in for it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Edgemeter, EdgemeterError, signal, stubFetch } from './helpers.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function client(extra = {}) {
  return new Edgemeter({ apiKey: 'pk_test', baseUrl: 'http://127.0.0.1:1', flushAt: 1000, ...extra, fetch: extra.fetch ?? stubFetch().fetch });
}

function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof EdgemeterError, `not an EdgemeterError: ${e}`);
    assert.ok(e.message.length > 0);
    return [e.code, e.field];
  }
  assert.fail('no error thrown');
}

test('a malformed customer id says the shape, in the names JS uses', () => {
  const m = client();
  try {
    m.track({ customerId: 'cus_…', eventName: 'invoices' });
    assert.fail('no error thrown');
  } catch (e) {
    assert.equal(e.code, 'invalid_customer_id');
    assert.match(e.message, /^`customerId` must be a customer's id .*`cus_` then letters, digits/);
    assert.doesNotMatch(e.message, /customer_id/);
  }
});

test('invalid events throw the server codes with the field at fault, and nothing is queued', async () => {
  const m = client();
  const ok = { customerId: 'cus_1', eventName: 'invoices' };
  const future = new Date(Date.now() + 10 * 60_000).toISOString();
  const cases = [
    [{ eventName: 'invoices' }, 'missing_customer_id', 'customerId'],
    [{ customerId: 'cus_1' }, 'missing_event_name', 'eventName'],
    [{ ...ok, customerId: 'bad id' }, 'invalid_customer_id', 'customerId'],
    [{ ...ok, customerId: 'acct_1' }, 'invalid_customer_id', 'customerId'],
    [{ ...ok, customerId: 'user-42' }, 'invalid_customer_id', 'customerId'],
    [{ ...ok, eventName: '' }, 'invalid_event_name', 'eventName'],
    [{ ...ok, idempotencyKey: 'not-a-uuid' }, 'invalid_idempotency_key', 'idempotencyKey'],
    [{ ...ok, value: -1 }, 'invalid_value', 'value'],
    [{ ...ok, value: 'lots' }, 'invalid_value', 'value'],
    [{ ...ok, timestamp: '2026-01-01T00:00:00' }, 'invalid_timestamp', 'timestamp'],
    [{ ...ok, timestamp: new Date(Number.NaN) }, 'invalid_timestamp', 'timestamp'],
    [{ ...ok, timestamp: future }, 'timestamp_in_future', 'timestamp'],
    [{ ...ok, timestamp: '2020-01-01T00:00:00Z' }, 'timestamp_too_old', 'timestamp'],
    [{ ...ok, properties: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }, 'invalid_properties', 'properties'],
    [{ ...ok, properties: { region: 'x'.repeat(513) } }, 'invalid_properties', 'properties'],
    [{ ...ok, customer_id: 'cus_1' }, 'unknown_field', 'customer_id'],
    [{ ...ok, value: Number.NaN }, 'invalid_value', 'value'],
    [{ ...ok, value: Infinity }, 'invalid_value', 'value'],
    [{ ...ok, value: true }, 'invalid_value', 'value'],
    [{ ...ok, idempotencyKey: 42 }, 'invalid_idempotency_key', 'idempotencyKey'],
    [{ ...ok, eventName: 7 }, 'invalid_event_name', 'eventName'],
    [{ ...ok, timestamp: 1_795_600_000_000 }, 'invalid_timestamp', 'timestamp'],
    [{ ...ok, properties: 'eu' }, 'invalid_properties', 'properties'],
    [{ ...ok, properties: ['eu'] }, 'invalid_properties', 'properties'],
    [{ ...ok, properties: { nested: { a: 1 } } }, 'invalid_properties', 'properties'],
    [{ ...ok, properties: { at: new Date() } }, 'invalid_properties', 'properties'],
    [{ ...ok, properties: { none: null } }, 'invalid_properties', 'properties'],
    [{ ...ok, properties: { '': 1 } }, 'invalid_properties', 'properties'],
  ];
  for (const [event, code, field] of cases) {
    assert.deepEqual(codeOf(() => m.track(event)), [code, field], JSON.stringify(event));
  }
  assert.equal(m.pending, 0);
  await m.shutdown();
});

test('track fills a UUIDv7 key and an RFC 3339 timestamp, and keeps given ones', async () => {
  const stub = stubFetch();
  const m = client({ fetch: stub.fetch });
  const before = Date.now();
  const key = m.track({ customerId: 'cus_1', eventName: 'invoices', value: '2.5' });
  assert.match(key, UUID);
  const ms = parseInt(key.replace(/-/g, '').slice(0, 12), 16);
  assert.ok(ms >= before && ms <= Date.now(), 'the key starts with the time now');
  const given = m.track({
    customerId: 'cus_1',
    eventName: 'invoices',
    idempotencyKey: '0192F0C1-0000-7000-8000-00000000000A',
    timestamp: new Date('2026-11-25T10:00:00+01:00'),
  });
  assert.equal(given, '0192f0c1-0000-7000-8000-00000000000a', 'the canonical key');
  const result = await m.shutdown();
  assert.equal(result.accepted, 2);
  const [a, b] = stub.calls[0].body.events;
  assert.equal(a.idempotency_key, key);
  assert.ok(Date.parse(a.timestamp) >= before - 1 && a.timestamp.endsWith('Z'));
  assert.equal(a.value, '2.5');
  assert.equal(b.timestamp, '2026-11-25T09:00:00.000Z');
  assert.deepEqual(Object.keys(a).sort(), ['customer_id', 'event_name', 'idempotency_key', 'timestamp', 'value']);
});

test('a full queue makes track throw queue_full and call onError; it drains and accepts again', async () => {
  const release = signal();
  const stub = stubFetch(async (call) => {
    await release.promise;
    const results = call.body.events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
    return { body: { accepted: results.length, duplicates: 0, rejected: 0, results } };
  });
  const errors = [];
  const m = client({ fetch: stub.fetch, flushAt: 2, maxQueueSize: 5, onError: (e) => errors.push(e) });
  const ev = { customerId: 'cus_1', eventName: 'invoices' };
  for (let i = 0; i < 5; i++) m.track(ev);
  assert.equal(m.pending, 5, 'in flight and queued count together');
  assert.deepEqual(codeOf(() => m.track(ev)), ['queue_full', undefined]);
  assert.deepEqual(errors.map((e) => e.code), ['queue_full']);
  release.resolve();
  const result = await m.flush();
  assert.equal(m.pending, 0);
  assert.equal(stub.calls.reduce((n, c) => n + c.body.events.length, 0), 5, 'the refused event was never queued');
  assert.ok(result.accepted >= 3);
  m.track(ev);
  assert.equal((await m.shutdown()).accepted, 1);
});

test('batches hold at most 1,000 events and 1 MiB, each with its own Idempotency-Key', async () => {
  const stub = stubFetch();
  const m = client({ fetch: stub.fetch });
  for (let i = 0; i < 2500; i++) m.track({ customerId: 'cus_1', eventName: 'invoices', value: i });
  const big = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`key_${i}`, 'é'.repeat(500)]));
  const bigKeys = [];
  for (let i = 0; i < 100; i++) bigKeys.push(m.track({ customerId: 'cus_2', eventName: 'invoices', properties: big }));
  const result = await m.shutdown();
  assert.equal(result.accepted, 2600);
  assert.deepEqual(stub.calls.slice(0, 2).map((c) => c.body.events.length), [1000, 1000]);
  assert.ok(stub.calls.length >= 7, `50 KB events split by size: ${stub.calls.length} requests`);
  for (const c of stub.calls) assert.ok(c.bytes <= 1024 * 1024, `${c.bytes} bytes`);
  const sent = stub.calls.flatMap((c) => c.body.events.map((e) => e.idempotency_key));
  assert.equal(sent.length, 2600, 'each event once');
  assert.deepEqual(sent.slice(2500), bigKeys, 'in order');
  const headerKeys = stub.calls.map((c) => c.headers['idempotency-key']);
  assert.equal(new Set(headerKeys).size, stub.calls.length);
  for (const k of headerKeys) assert.match(k, UUID);
  assert.equal(stub.calls[0].headers.authorization, 'Bearer pk_test');
});

test('a partial batch goes out after flushIntervalMs', async () => {
  const sent = signal();
  const stub = stubFetch(async (call) => {
    sent.resolve(call);
    const results = call.body.events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
    return { body: { accepted: 1, duplicates: 0, rejected: 0, results } };
  });
  const m = client({ fetch: stub.fetch, flushIntervalMs: 20 });
  const key = m.track({ customerId: 'cus_1', eventName: 'invoices' });
  const call = await sent.promise;
  assert.equal(call.body.events[0].idempotency_key, key);
  await m.shutdown();
  assert.deepEqual(codeOf(() => m.track({ customerId: 'cus_1', eventName: 'invoices' })), ['closed', undefined]);
});

test('a 4xx for the batch is not retried: its events fail, reported once to onError', async () => {
  // (401, 403 and 404 keep the events instead: config.test.mjs.)
  const stub = stubFetch(() => ({ status: 400, body: { error: { code: 'invalid_json', message: 'bad body' } } }));
  const errors = [];
  const m = client({ fetch: stub.fetch, retryBaseMs: 1, onError: (e) => errors.push(e) });
  const keys = [m.track({ customerId: 'cus_1', eventName: 'invoices' }), m.track({ customerId: 'cus_1', eventName: 'invoices' })];
  const result = await m.shutdown();
  assert.equal(stub.calls.length, 1);
  assert.deepEqual(result.failed.map((f) => [f.idempotencyKey, f.error.code, f.error.status]), keys.map((k) => [k, 'invalid_json', 400]));
  assert.equal(errors.length, 1);
  assert.deepEqual(errors[0].idempotencyKeys, keys);
});

test('retries give up after maxRetries and report the events as failed', async () => {
  const stub = stubFetch(() => ({ status: 503, body: 'unavailable' }));
  const m = client({ fetch: stub.fetch, maxRetries: 2, retryBaseMs: 1 });
  const key = m.track({ customerId: 'cus_1', eventName: 'invoices' });
  const result = await m.shutdown();
  assert.equal(stub.calls.length, 3);
  assert.equal(new Set(stub.calls.map((c) => c.headers['idempotency-key'])).size, 1, 'one key across retries');
  assert.deepEqual(result.failed.map((f) => [f.idempotencyKey, f.error.code, f.error.status]), [[key, 'http_error', 503]]);
});

test('bad options throw invalid_option', () => {
  assert.deepEqual(codeOf(() => new Edgemeter({ baseUrl: 'http://x' })), ['invalid_option', 'apiKey']);
  assert.deepEqual(codeOf(() => new Edgemeter({ apiKey: 'k', baseUrl: 'ftp://x' })), ['invalid_option', 'baseUrl']);
  assert.deepEqual(codeOf(() => new Edgemeter({ apiKey: 'k', baseUrl: 'http://x', flushAt: 1001 })), ['invalid_option', 'flushAt']);
});

test('generated keys are version 7, variant 10 and unique across random-pool refills', async () => {
  const stub = stubFetch();
  const m = client({ fetch: stub.fetch, maxQueueSize: 5000 });
  const keys = Array.from({ length: 3000 }, () => m.track({ customerId: 'cus_1', eventName: 'invoices' }));
  assert.equal(new Set(keys).size, keys.length);
  for (const k of keys) {
    assert.match(k, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
  await m.shutdown();
});

test('the queued event is the event as tracked: later changes to the caller\'s objects do not reach it', async () => {
  const stub = stubFetch();
  const m = client({ fetch: stub.fetch });
  const properties = { region: 'eu', pages: 3, ok: true, skipped: undefined };
  const event = { customerId: 'cus_1', eventName: 'invoices', value: 1.5, properties };
  m.track(event);
  properties.region = 'us';
  properties.extra = 'late';
  event.value = 99;
  const result = await m.shutdown();
  assert.equal(result.accepted, 1);
  const [sent] = stub.calls[0].body.events;
  assert.equal(sent.value, 1.5);
  assert.deepEqual(sent.properties, { region: 'eu', pages: 3, ok: true });
});

test('non-ASCII names and properties are sent intact, and batches measure their UTF-8 bytes', async () => {
  const stub = stubFetch();
  const m = client({ fetch: stub.fetch });
  const name = 'facturas_procesadas_€_日本';
  const region = 'Zürich "Süd" \\ 🚀'.repeat(20);
  for (let i = 0; i < 3000; i++) m.track({ customerId: 'cus_1', eventName: name, properties: { region, 'clé': 'ü' } });
  await m.shutdown();
  for (const call of stub.calls) assert.ok(call.bytes <= 1024 * 1024, `a batch of ${call.bytes} bytes`);
  const events = stub.calls.flatMap((c) => c.body.events);
  assert.equal(events.length, 3000);
  assert.equal(events[0].event_name, name);
  assert.deepEqual(events[2999].properties, { region, 'clé': 'ü' });
  assert.ok(stub.calls.length >= 2, 'the byte limit split the batches');
});
