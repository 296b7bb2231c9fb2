// flush({ timeoutMs }) and shutdown({ timeoutMs }): bounded whatever the network does,
// and never silent about what they leave undelivered. A stub fetch stands in for a
// server that never answers (or refuses to connect); no server is needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Edgemeter, EdgemeterError, acceptAll, bodyText, memoryStorage, signal, stubFetch } from './helpers.mjs';

const event = { customerId: 'cus_1', eventName: 'invoices', value: 1 };

/** A fetch that answers nothing until `open()`; `honourAbort`: an aborted call rejects. */
function gatedFetch({ honourAbort }) {
  const gate = signal();
  const aborted = [];
  let calls = 0;
  const fetch = (url, init) =>
    new Promise((resolve, reject) => {
      calls++;
      if (honourAbort) {
        init.signal.addEventListener('abort', () => {
          aborted.push(true);
          reject(new Error('aborted'));
        });
      }
      gate.promise.then(() => {
        const body = JSON.parse(bodyText(init));
        resolve(new Response(JSON.stringify(acceptAll({ body }).body), { status: 200 }));
      });
    });
  return { fetch, open: () => gate.resolve(), aborted, calls: () => calls };
}

test('flush({ timeoutMs }) gives up waiting, lists what is pending, reports it, and keeps sending it', async () => {
  const net = gatedFetch({ honourAbort: true });
  const errors = [];
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch: net.fetch, onError: (e) => errors.push(e), timeoutMs: 600_000 });
  const keys = [m.track(event), m.track(event), m.track(event)];
  const r = await m.flush({ timeoutMs: 20 });
  assert.equal(r.timedOut, true);
  assert.deepEqual(r.pending, keys);
  assert.equal(r.accepted, 0);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof EdgemeterError);
  assert.equal(errors[0].code, 'flush_timeout');
  assert.deepEqual(errors[0].idempotencyKeys, keys);
  assert.equal(m.pending, 3, 'still the client\'s to send');

  net.open();
  const later = await m.flush();
  assert.equal(later.timedOut, false);
  assert.deepEqual(later.pending, []);
  assert.equal(later.accepted, 3);
  await m.shutdown();
});

test('shutdown({ timeoutMs }) against a server that never answers: every event is failed and reported', async () => {
  // A fetch that ignores its abort signal too: shutdown must not wait for it.
  const net = gatedFetch({ honourAbort: false });
  const errors = [];
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch: net.fetch, onError: (e) => errors.push(e), flushAt: 2, timeoutMs: 600_000 });
  const keys = [];
  for (let i = 0; i < 5; i++) keys.push(m.track(event));
  const r = await m.shutdown({ timeoutMs: 30 });
  assert.equal(r.timedOut, true);
  assert.deepEqual(r.pending, []);
  assert.deepEqual(r.failed.map((f) => f.idempotencyKey).sort(), [...keys].sort());
  assert.ok(r.failed.every((f) => f.error.code === 'flush_timeout'));
  const reported = errors.filter((e) => e.code === 'flush_timeout');
  assert.equal(reported.length, 1);
  assert.deepEqual([...reported[0].idempotencyKeys].sort(), [...keys].sort());
  assert.equal(m.pending, 0);
  assert.throws(() => m.track(event), (e) => e.code === 'closed');
  // The request it gave up on settling later reports nothing more.
  net.open();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(errors.filter((e) => e.code !== 'closed').length, 1);
});

test('shutdown({ timeoutMs }) against a refused connection stops retrying and aborts the request in flight', async () => {
  let calls = 0;
  const refuse = async () => {
    calls++;
    throw new TypeError('fetch failed: ECONNREFUSED');
  };
  const errors = [];
  // Backoff far beyond the deadline: without the bound, shutdown would wait for minutes.
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch: refuse, onError: (e) => errors.push(e), retryBaseMs: 600_000, retryMaxMs: 600_000 });
  const key = m.track(event);
  const r = await m.shutdown({ timeoutMs: 30 });
  assert.equal(r.timedOut, true);
  assert.deepEqual(r.failed.map((f) => [f.idempotencyKey, f.error.code]), [[key, 'flush_timeout']]);
  assert.deepEqual(errors.map((e) => e.code), ['flush_timeout']);
  assert.equal(calls, 1);

  const net = gatedFetch({ honourAbort: true });
  const n = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch: net.fetch, timeoutMs: 600_000 });
  n.track(event);
  await n.shutdown({ timeoutMs: 20 });
  assert.deepEqual(net.aborted, [true]);
});

test('with persist, what shutdown({ timeoutMs }) gave up on stays saved, and the next client delivers it', async () => {
  const { storage, saved: m } = memoryStorage();
  const net = gatedFetch({ honourAbort: true });
  const a = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch: net.fetch, persist: { storage }, flushAt: 2, timeoutMs: 600_000 });
  const keys = [a.track(event), a.track(event), a.track(event)];
  const r = await a.shutdown({ timeoutMs: 20 });
  assert.equal(r.failed.length, 3);
  assert.equal(m.size, 1, 'one snapshot saved');

  const net2 = stubFetch();
  const b = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch: net2.fetch, persist: { storage } });
  const done = await b.shutdown({ timeoutMs: 60_000 });
  assert.equal(done.timedOut, false);
  assert.equal(done.accepted, 3);
  assert.deepEqual(net2.calls.flatMap((c) => c.body.events.map((e) => e.idempotency_key)), keys);
  assert.equal(m.size, 0);
});

test('timeoutMs must be a whole number of milliseconds', async () => {
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch: async () => new Response('{}') });
  await assert.rejects(m.flush({ timeoutMs: -1 }), (e) => e.code === 'invalid_option' && e.field === 'timeoutMs');
  await assert.rejects(m.shutdown({ timeoutMs: 1.5 }), (e) => e.code === 'invalid_option');
  await m.shutdown({ timeoutMs: 0 });
});

test('shutdown() with no timeoutMs, against a server that accepts and never answers, returns within its default 10 s', async () => {
  const sockets = new Set();
  const server = http.createServer(() => {}); // reads the request, answers nothing
  server.on('connection', (s) => sockets.add(s));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const errors = [];
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: `http://127.0.0.1:${server.address().port}`, onError: (e) => errors.push(e) });
  const keys = [m.track(event), m.track(event)];
  const t0 = Date.now();
  const r = await m.shutdown();
  const took = Date.now() - t0;
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(took >= 9_900 && took < 11_500, `took ${took} ms`);
  assert.equal(r.timedOut, true);
  assert.deepEqual(r.failed.map((f) => f.idempotencyKey), keys);
  assert.deepEqual(errors.map((e) => e.code), ['flush_timeout']);
});

test('a network error names the request and its cause', async () => {
  // A port just freed: nothing listens there.
  const probe = http.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${probe.address().port}`;
  await new Promise((r) => probe.close(r));
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: base, maxRetries: 0, onError: () => {} });
  m.track(event);
  const r = await m.flush();
  assert.equal(r.failed[0].error.code, 'network_error');
  assert.equal(r.failed[0].error.message.startsWith(`POST ${base}/v1/usage/ingest failed: fetch failed: `), true, r.failed[0].error.message);
  assert.match(r.failed[0].error.message, /ECONNREFUSED/);
});

test('the SDK\'s timers keep no Node process alive once nothing is queued', async () => {
  const pkg = fileURLToPath(new URL('../../sdk/pkg/node.js', import.meta.url));
  // A client that delivered what it tracked (no shutdown()), and one that tracked nothing.
  const script = `
    import { Edgemeter } from ${JSON.stringify(pkg)};
    const fetch = async (url, init) => {
      const body = JSON.parse(new TextDecoder().decode(init.body));
      const results = body.events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
      return new Response(JSON.stringify({ accepted: results.length, duplicates: 0, rejected: 0, results }));
    };
    const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch });
    m.track({ customerId: 'cus_1', eventName: 'invoices' });
    console.log((await m.flush()).accepted);
    new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://x.test', fetch });
  `;
  const t0 = Date.now();
  const out = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], (e, stdout, stderr) => (e ? reject(e) : resolve(stdout + stderr))),
  );
  const took = Date.now() - t0;
  assert.equal(out.trim(), '1', 'the event was delivered');
  // The flush timer is 10 s: a process that outlives 8 s was held open by it.
  assert.ok(took < 8_000, `the process took ${took} ms to exit`);
});
