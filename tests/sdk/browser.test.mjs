// The client's browser lifecycle (sdk/js/browser.js) under Node, with a stand-in page
// (`document` and window events) and storage, and a stub fetch: what a hidden page sends
// with keepalive and what it puts back, the 64 KiB cap, and the `persist` round trip.
// The same in a real Chromium against a real server: tests/browser/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Edgemeter, stubFetch } from './helpers.mjs';

/** A page and its window, on globalThis while `fn` runs. */
async function inPage(fn) {
  const win = new EventTarget();
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  const saved = { addEventListener: globalThis.addEventListener, removeEventListener: globalThis.removeEventListener };
  globalThis.addEventListener = win.addEventListener.bind(win);
  globalThis.removeEventListener = win.removeEventListener.bind(win);
  globalThis.document = doc;
  const page = {
    hide() {
      doc.visibilityState = 'hidden';
      doc.dispatchEvent(new Event('visibilitychange'));
    },
    show() {
      doc.visibilityState = 'visible';
      doc.dispatchEvent(new Event('visibilitychange'));
    },
    pagehide() {
      win.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: false }));
    },
  };
  try {
    return await fn(page);
  } finally {
    delete globalThis.document;
    Object.assign(globalThis, saved);
    if (saved.addEventListener === undefined) delete globalThis.addEventListener;
    if (saved.removeEventListener === undefined) delete globalThis.removeEventListener;
  }
}

/** localStorage's interface over a Map, counting writes. */
function memoryStorage() {
  const m = new Map();
  return {
    writes: 0,
    get length() {
      return m.size;
    },
    key: (i) => [...m.keys()][i] ?? null,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem(k, v) {
      this.writes++;
      m.set(k, String(v));
    },
    removeItem: (k) => m.delete(k),
    keys: () => [...m.keys()],
  };
}

const event = (i, pad = 0) => ({
  customerId: 'cus_1',
  eventName: 'invoices',
  value: 1,
  properties: pad ? { n: i, pad: 'x'.repeat(pad) } : { n: i },
});
const NO_TIMER = { flushAt: 1000, flushIntervalMs: 600_000 };
/**
 * A page about to go away: its requests get no answer. Each gives up after 20 ms without
 * a retry, so no timer is left to keep the test process alive.
 */
const GOING = {
  fetch: (url, init) => new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted')))),
  timeoutMs: 20,
  maxRetries: 0,
};

test('outside a page nothing changes: no keepalive', async () => {
  const inits = [];
  const { fetch } = stubFetch();
  const spy = (url, init) => {
    inits.push(init);
    return fetch(url, init);
  };
  const m = new Edgemeter({ apiKey: 'pk_x', baseUrl: 'https://b.example', fetch: spy });
  m.track(event(1));
  await m.flush();
  assert.equal(inits.length, 1);
  assert.equal('keepalive' in inits[0], false);
  await m.shutdown();
});

test('a hidden page sends its queue with keepalive, each body under 64 KiB, the rest as usual', () =>
  inPage(async (page) => {
    const inits = [];
    const { fetch, calls } = stubFetch();
    const spy = (url, init) => {
      inits.push(init);
      return fetch(url, init);
    };
    const m = new Edgemeter({ apiKey: 'ct_x', baseUrl: 'https://b.example', fetch: spy, ...NO_TIMER });
    for (let i = 0; i < 400; i++) m.track(event(i, 300));
    assert.equal(calls.length, 0);
    page.hide();
    // Sent in the handler itself, before it returns: a page may be gone right after.
    assert.ok(inits.length >= 1);
    const keepalive = inits.filter((x) => x.keepalive === true);
    assert.ok(keepalive.length >= 1);
    const inFlight = keepalive.reduce((n, x) => n + Buffer.byteLength(x.body), 0);
    assert.ok(inFlight <= 60 * 1024, `${inFlight} bytes of keepalive bodies`);
    assert.ok(keepalive.every((x) => Buffer.byteLength(x.body) < 64 * 1024));
    const r = await m.flush();
    assert.equal(r.accepted, 400);
    assert.equal(m.pending, 0);
    // Each event sent once, in order.
    const sent = calls.flatMap((c) => c.body.events.map((e) => e.properties.n));
    assert.deepEqual(sent, Array.from({ length: 400 }, (_, i) => i));
    assert.ok(inits.some((x) => !x.keepalive), 'what did not fit went the usual way');
    await m.shutdown();
  }));

test('a keepalive batch that fails is retried like any batch, under the same Idempotency-Key', () =>
  inPage(async (page) => {
    let n = 0;
    const { fetch, calls } = stubFetch((call) => (n++ === 0 ? { status: 503, body: 'busy' } : undefined) ?? acceptAllOf(call));
    const m = new Edgemeter({ apiKey: 'ct_x', baseUrl: 'https://b.example', fetch, retryBaseMs: 1, ...NO_TIMER });
    m.track(event(1));
    m.track(event(2));
    page.hide();
    const r = await m.flush();
    assert.deepEqual([r.accepted, r.failed.length], [2, 0]);
    assert.equal(calls.length, 2);
    assert.equal(calls[0].headers['idempotency-key'], calls[1].headers['idempotency-key']);
    await m.shutdown();
  }));

function acceptAllOf(call) {
  const results = call.body.events.map((e) => ({ idempotency_key: e.idempotency_key, status: 'accepted' }));
  return { body: { accepted: results.length, duplicates: 0, rejected: 0, results } };
}

test('persist saves the undelivered queue when hidden, never on track, and a new client sends it', async () => {
  const storage = memoryStorage();
  const persist = { key: 'q', storage };
  const keys = [];
  await inPage(async (page) => {
    const a = new Edgemeter({ apiKey: 'ct_x', baseUrl: 'https://b.example', persist, ...NO_TIMER, ...GOING });
    for (let i = 0; i < 300; i++) keys.push(a.track(event(i, 300)));
    assert.equal(storage.writes, 0);
    page.hide();
    page.pagehide();
    assert.equal(storage.keys().length, 1);
    assert.ok(storage.keys()[0].startsWith('q:'));
    // Its unanswered requests fail; shutdown waits for that, so that none of its timers
    // is still running when the next test counts them.
    await a.shutdown();
  });
  await inPage(async (page) => {
    // The next page.
    const { fetch, calls } = stubFetch();
    const b = new Edgemeter({ apiKey: 'ct_x', baseUrl: 'https://b.example', fetch, persist, ...NO_TIMER });
    assert.equal(b.pending, 300);
    assert.equal(storage.keys().length, 0, 'claimed');
    const r = await b.flush();
    assert.equal(r.accepted, 300);
    assert.deepEqual(calls.flatMap((c) => c.body.events.map((e) => e.idempotency_key)), keys);
    // Visible again, hidden again with nothing pending: nothing is saved.
    page.show();
    page.hide();
    assert.equal(storage.keys().length, 0);
    await b.shutdown();
  });
});

test('a hidden page whose whole queue left with keepalive keeps no flush timer running', () =>
  inPage(async (page) => {
    // Count only the timers armed while this test runs (the process's own count also
    // moves with earlier tests' timers expiring, which made this test flaky).
    const live = new Set();
    const [realSet, realClear] = [globalThis.setTimeout, globalThis.clearTimeout];
    globalThis.setTimeout = (fn, ms, ...args) => {
      const t = realSet(() => {
        live.delete(t);
        fn(...args);
      }, ms);
      live.add(t);
      return t;
    };
    globalThis.clearTimeout = (t) => {
      live.delete(t);
      realClear(t);
    };
    try {
      const { fetch } = stubFetch();
      const m = new Edgemeter({ apiKey: 'ct_x', baseUrl: 'https://b.example', fetch, ...NO_TIMER });
      m.track(event(1));
      assert.equal(live.size, 1, 'the flush timer, armed by track()');
      page.hide();
      // Not flush(), which stops the timer itself: wait for the keepalive batch to settle.
      while (m.pending > 0) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(live.size, 0, 'nothing queued, so no timer to keep a process alive');
      await m.shutdown();
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    }
  }));

test('persist: a saved queue larger than maxQueueSize loads up to it and reports the rest as queue_full', async () => {
  const storage = memoryStorage();
  const persist = { key: 'q', storage };
  const keys = [];
  await inPage(async (page) => {
    const a = new Edgemeter({ apiKey: 'ct_x', baseUrl: 'https://b.example', persist, ...NO_TIMER, ...GOING });
    for (let i = 0; i < 50; i++) keys.push(a.track(event(i, 50)));
    page.hide();
    page.pagehide();
    // Its unanswered keepalive requests fail; shutdown also stops its flush timer.
    await a.shutdown();
    assert.equal(storage.keys().length, 1);
  });
  await inPage(async () => {
    const { fetch, calls } = stubFetch();
    const errors = [];
    const b = new Edgemeter({
      apiKey: 'ct_x',
      baseUrl: 'https://b.example',
      fetch,
      persist,
      maxQueueSize: 30,
      onError: (e) => errors.push(e),
      ...NO_TIMER,
    });
    assert.equal(b.pending, 30);
    assert.deepEqual(
      errors.map((e) => [e.code, e.idempotencyKeys[0]]),
      keys.slice(30).map((k) => ['queue_full', k]),
    );
    await b.flush();
    assert.deepEqual(calls.flatMap((c) => c.body.events.map((e) => e.idempotency_key)), keys.slice(0, 30));
    await b.shutdown();
  });
});

test('persist: a page shown again drops its snapshot; a bad option is refused', () =>
  inPage(async (page) => {
    const storage = memoryStorage();
    const m = new Edgemeter({ apiKey: 'ct_x', baseUrl: 'https://b.example', persist: { storage }, ...NO_TIMER, ...GOING });
    m.track(event(1));
    page.hide();
    assert.equal(storage.keys().length, 1);
    assert.ok(storage.keys()[0].startsWith('edgemeter.queue:'));
    page.show();
    assert.equal(storage.keys().length, 0);
    await m.shutdown();
    for (const persist of ['yes', { key: '' }, { storage: {} }]) {
      assert.throws(() => new Edgemeter({ apiKey: 'k', baseUrl: 'https://b.example', persist }), { code: 'invalid_option', field: 'persist' });
    }
  }));
