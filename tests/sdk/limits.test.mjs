// Limits, entitlements and reservations through the API client (`em.limits`,
// `em.entitlements`, `em.reservations`): against a real `wrangler dev` (API.md, "Limits,
// entitlements and reservations"), with the keys that may use each; and, with a scripted
// fetch, what `withReservation` sends when the work succeeds, fails or is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BASE_URL, Edgemeter, EdgemeterError, INGEST_KEY, NEEDS_SERVER, SECRET_KEY, customer, sumMetric, usage } from './helpers.mjs';

const secret = () => new Edgemeter({ apiKey: SECRET_KEY, baseUrl: BASE_URL });
const ingest = () => new Edgemeter({ apiKey: INGEST_KEY, baseUrl: BASE_URL });

/** The `EdgemeterError` a promise rejects with, as `[code, status]`. */
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof EdgemeterError, `not an EdgemeterError: ${e?.stack ?? e}`);
    return [e.code, e.status];
  }
  assert.fail('no error');
}

// Against a real server.

test('a hard limit is set, listed, read as an entitlement and removed', NEEDS_SERVER, async () => {
  const em = secret();
  const cus = await customer();
  const { code, eventName } = await sumMetric();

  const limit = await em.limits.put(cus, code, { max: 10, mode: 'hard' });
  assert.deepEqual([limit.metricCode, limit.max, limit.mode], [code, '10', 'hard']);
  // A PUT again is harmless; the max changes.
  assert.equal((await em.limits.put(cus, code, { max: '12', mode: 'hard' })).max, '12');
  const listed = await em.limits.list(cus);
  assert.deepEqual(listed.data.map((l) => [l.metricCode, l.max, l.mode]), [[code, '12', 'hard']]);

  em.track({ customerId: cus, eventName, value: 5 });
  await em.flush();
  const one = await em.entitlements.get(cus, code);
  assert.deepEqual(
    { ...one },
    { metricCode: code, max: '12', mode: 'hard', used: '5', reserved: '0', remaining: '7', allowed: true },
  );
  const all = await em.entitlements.get(cus);
  assert.ok(all.period.start < all.period.end);
  assert.deepEqual(all.data.find((e) => e.metricCode === code), one);

  // Past the limit: the event is refused, not counted.
  em.track({ customerId: cus, eventName, value: 8 });
  const result = await em.flush();
  assert.deepEqual(result.rejected.map((r) => [r.error.code, r.error.field]), [['limit_exceeded', 'value']]);
  assert.equal((await usage(cus, code)).quantity, '5');

  await em.limits.delete(cus, code);
  assert.deepEqual((await em.limits.list(cus)).data, []);
  assert.deepEqual(await failure(em.limits.delete(cus, code)), ['unknown_limit', 404]);
  const free = await em.entitlements.get(cus, code);
  assert.deepEqual([free.max, free.allowed], [null, true]);
  await em.shutdown();
});

test('bad limits are refused with their code and field', NEEDS_SERVER, async () => {
  const em = secret();
  const cus = await customer();
  const { code } = await sumMetric();
  const refused = async (p) => {
    try {
      await p;
    } catch (e) {
      return [e.code, e.field, e.status];
    }
    assert.fail('accepted');
  };
  assert.deepEqual((await refused(em.limits.put(cus, code, { max: '-1', mode: 'hard' }))).slice(1), ['max', 400]);
  assert.deepEqual((await refused(em.limits.put(cus, code, { max: '1', mode: 'firm' }))).slice(1), ['mode', 400]);
  assert.deepEqual(await refused(em.limits.put(cus, code, { max: Infinity, mode: 'hard' })), ['invalid_request', 'max', undefined]);
  assert.equal((await refused(em.limits.put(cus, 'no_such_metric', { max: '1', mode: 'hard' })))[2], 404);
  assert.equal((await refused(em.entitlements.get(cus, 'no_such_metric')))[2], 404);
});

test('a reservation holds against the limit until it is committed or released', NEEDS_SERVER, async () => {
  const admin = secret();
  const cus = await customer();
  const { code } = await sumMetric();
  await admin.limits.put(cus, code, { max: '100', mode: 'hard' });
  // An ingest key may reserve, commit, release and read entitlements.
  const em = ingest();

  const held = await em.reservations.create(cus, { metricCode: code, quantity: 60, ttlSeconds: 120 });
  assert.match(held.id, /^rsv_/);
  assert.deepEqual([held.status, held.metricCode, held.quantity], ['held', code, '60']);
  assert.ok(Date.parse(held.expiresAt) > Date.now());
  assert.match(held.idempotencyKey, /^[0-9a-f-]{36}$/);
  const e1 = await em.entitlements.get(cus, code);
  assert.deepEqual([e1.used, e1.reserved, e1.remaining], ['0', '60', '40']);

  // No room for another 60: nothing held.
  assert.deepEqual(await failure(em.reservations.create(cus, { metricCode: code, quantity: '60' })), ['limit_exceeded', 409]);

  const committed = await em.reservations.commit(cus, held.id, { value: '42.5', properties: { model: 'small' } });
  assert.equal(committed.reservation.status, 'committed');
  assert.deepEqual(committed.event, { idempotencyKey: held.idempotencyKey, status: 'accepted' });
  // A repeated commit answers the first result and records nothing more.
  assert.deepEqual(await em.reservations.commit(cus, held.id, { value: '42.5', properties: { model: 'small' } }), committed);
  assert.deepEqual(await usage(cus, code), { quantity: '42.5', eventCount: 1 });

  const other = await em.reservations.create(cus, { metricCode: code, quantity: '50' });
  assert.deepEqual((await em.reservations.list(cus, { status: 'held' })).data.map((r) => r.id), [other.id]);
  const released = await em.reservations.release(cus, other.id);
  assert.equal(released.status, 'released');
  assert.deepEqual(await em.reservations.get(cus, other.id), released);
  assert.deepEqual((await em.reservations.list(cus, { status: 'held' })).data, []);
  const every = [];
  for await (const r of em.reservations.listAll(cus, { limit: 1 })) every.push([r.id, r.status]);
  assert.deepEqual(every.sort(), [[held.id, 'committed'], [other.id, 'released']].sort());
  // Released: it can no longer be committed; releasing it again changes nothing.
  assert.deepEqual(await failure(em.reservations.commit(cus, other.id)), ['reservation_released', 409]);
  assert.deepEqual(await em.reservations.release(cus, other.id), released);
  assert.deepEqual(await failure(em.reservations.release(cus, held.id)), ['reservation_committed', 409]);
  assert.deepEqual(await failure(em.reservations.get(cus, 'rsv_00000000000000000000000000')), ['unknown_reservation', 404]);
  const e2 = await em.entitlements.get(cus, code);
  assert.deepEqual([e2.used, e2.reserved, e2.remaining], ['42.5', '0', '57.5']);
});

test('the same idempotency key holds once', NEEDS_SERVER, async () => {
  const em = secret();
  const cus = await customer();
  const { code } = await sumMetric();
  await em.limits.put(cus, code, { max: '10', mode: 'hard' });
  const key = randomUUID();
  const a = await em.reservations.create(cus, { metricCode: code, quantity: '6', idempotencyKey: key });
  const b = await em.reservations.create(cus, { metricCode: code, quantity: '6', idempotencyKey: key });
  assert.equal(b.id, a.id);
  assert.equal((await em.entitlements.get(cus, code)).reserved, '6');
});

test('withReservation commits what the work reports', NEEDS_SERVER, async () => {
  const em = ingest();
  const cus = await customer();
  const { code } = await sumMetric();
  await secret().limits.put(cus, code, { max: '4000', mode: 'hard' });

  let seen;
  const committed = await em.reservations.withReservation(cus, { metricCode: code, quantity: 4000, ttlSeconds: 60 }, async (r) => {
    seen = r;
    // While the work runs, the hold counts against the limit.
    assert.equal((await em.entitlements.get(cus, code)).reserved, '4000');
    return 1234;
  });
  assert.equal(committed.reservation.id, seen.id);
  assert.equal(committed.reservation.status, 'committed');
  assert.deepEqual(await usage(cus, code), { quantity: '1234', eventCount: 1 });
  const after = await em.entitlements.get(cus, code);
  assert.deepEqual([after.used, after.reserved, after.remaining], ['1234', '0', '2766']);

  // Nothing reported: the quantity held is committed.
  await em.reservations.withReservation(cus, { metricCode: code, quantity: '10' }, async () => undefined);
  assert.deepEqual(await usage(cus, code), { quantity: '1244', eventCount: 2 });
});

test('withReservation releases the hold and rethrows when the work fails', NEEDS_SERVER, async () => {
  const em = ingest();
  const cus = await customer();
  const { code } = await sumMetric();
  await secret().limits.put(cus, code, { max: '100', mode: 'hard' });

  const boom = new Error('the model timed out');
  let held;
  await assert.rejects(
    em.reservations.withReservation(cus, { metricCode: code, quantity: '80' }, async (r) => {
      held = r;
      throw boom;
    }),
    (e) => e === boom,
  );
  const e = await em.entitlements.get(cus, code);
  assert.deepEqual([e.used, e.reserved, e.remaining], ['0', '0', '100']);
  // Released: it can no longer be committed.
  assert.deepEqual(await failure(em.reservations.commit(cus, held.id)), ['reservation_released', 409]);

  // A hold that does not fit: the work never runs.
  let ran = false;
  assert.deepEqual(
    await failure(em.reservations.withReservation(cus, { metricCode: code, quantity: '101' }, () => { ran = true; })),
    ['limit_exceeded', 409],
  );
  assert.equal(ran, false);
  assert.deepEqual(await usage(cus, code), { quantity: '0', eventCount: 0 });
});

test("a customer token reads and reserves its own customer's quota, not another's", NEEDS_SERVER, async () => {
  const admin = secret();
  const mine = await customer();
  const theirs = await customer();
  const { code } = await sumMetric();
  await admin.limits.put(mine, code, { max: '10', mode: 'hard' });
  await admin.limits.put(theirs, code, { max: '10', mode: 'hard' });
  const { token } = await admin.tokens.create({ customerId: mine });
  const browser = new Edgemeter({ apiKey: token, baseUrl: BASE_URL });

  assert.equal((await browser.entitlements.get(mine, code)).remaining, '10');
  assert.equal((await browser.entitlements.get(mine)).data.find((e) => e.metricCode === code)?.max, '10');
  const committed = await browser.reservations.withReservation(mine, { metricCode: code, quantity: '3' }, () => '2');
  assert.equal(committed.reservation.status, 'committed');
  assert.equal((await browser.entitlements.get(mine, code)).used, '2');

  assert.equal((await failure(browser.entitlements.get(theirs, code)))[1], 403);
  assert.equal((await failure(browser.entitlements.get(theirs)))[1], 403);
  assert.equal((await failure(browser.reservations.create(theirs, { metricCode: code, quantity: '1' })))[1], 403);
  // Limits are a secret key's.
  assert.equal((await failure(browser.limits.put(mine, code, { max: '1000', mode: 'hard' })))[1], 403);
  assert.equal((await failure(ingest().limits.list(mine)))[1], 403);
});

// Without a server: a scripted fetch.

/** A fetch that plays `script(call, n)`; `calls[i]` has `method`, `path`, `headers` and `body` (parsed). */
function scripted(script) {
  const calls = [];
  const fetch = async (url, init) => {
    const call = { method: init.method, path: new URL(url).pathname, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) };
    calls.push(call);
    const r = await script(call, calls.length - 1);
    const body = r.body === undefined ? null : JSON.stringify(r.body);
    return new Response(body, { status: r.status ?? 200, headers: r.headers ?? {} });
  };
  return { fetch, calls };
}

function stubClient(fetch, extra = {}) {
  return new Edgemeter({ apiKey: 'pk_test', baseUrl: 'https://billing.example.com', fetch, retryBaseMs: 1, ...extra });
}

const HELD = { id: 'rsv_1', status: 'held', metric_code: 'tokens', quantity: '4000', expires_at: '2026-12-07T10:05:00Z', idempotency_key: 'k' };

/** A server for one reservation: create, commit, release. */
function reservationServer({ commitStatus = 200 } = {}) {
  return scripted((call) => {
    if (call.path.endsWith('/reservations')) return { status: 201, body: { ...HELD, idempotency_key: call.body.idempotency_key } };
    if (call.path.endsWith('/commit')) {
      if (commitStatus !== 200) return { status: commitStatus, body: { error: { code: 'limit_exceeded', message: 'no room', field: 'value' } } };
      return { body: { reservation: { ...HELD, status: 'committed' }, event: { idempotency_key: 'k', status: 'accepted' } } };
    }
    if (call.path.endsWith('/release')) return { body: { ...HELD, status: 'released' } };
    return { status: 404, body: { error: { code: 'not_found', message: 'no' } } };
  });
}

test('withReservation holds, runs the work, and commits its value (no server)', async () => {
  const { fetch, calls } = reservationServer();
  const em = stubClient(fetch);
  const committed = await em.reservations.withReservation('cus_1', { metricCode: 'tokens', quantity: 4000, ttlSeconds: 60 }, async (r) => {
    assert.equal(r.id, 'rsv_1');
    return { value: 1234, properties: { model: 'small' } };
  });
  assert.deepEqual(committed.event, { idempotencyKey: 'k', status: 'accepted' });
  assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), [
    'POST /v1/customers/cus_1/reservations',
    'POST /v1/customers/cus_1/reservations/rsv_1/commit',
  ]);
  // Decimal text on the wire; the event's key is also the request's Idempotency-Key.
  const [create, commit] = calls;
  assert.deepEqual({ ...create.body, idempotency_key: undefined }, { metric_code: 'tokens', quantity: '4000', ttl_seconds: 60, idempotency_key: undefined });
  assert.match(create.body.idempotency_key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(create.headers['idempotency-key'], create.body.idempotency_key);
  assert.deepEqual(commit.body, { value: '1234', properties: { model: 'small' } });
});

test('withReservation releases and rethrows when the work throws (no server)', async () => {
  const { fetch, calls } = reservationServer();
  const boom = new TypeError('boom');
  await assert.rejects(
    stubClient(fetch).reservations.withReservation('cus_1', { metricCode: 'tokens', quantity: '1' }, () => {
      throw boom;
    }),
    (e) => e === boom,
  );
  assert.deepEqual(calls.map((c) => c.path.split('/').pop()), ['reservations', 'release']);
});

test('withReservation releases when the commit is refused, and rethrows the refusal (no server)', async () => {
  const { fetch, calls } = reservationServer({ commitStatus: 409 });
  const e = await failure(stubClient(fetch).reservations.withReservation('cus_1', { metricCode: 'tokens', quantity: '1' }, () => '5'));
  assert.deepEqual(e, ['limit_exceeded', 409]);
  assert.deepEqual(calls.map((c) => c.path.split('/').pop()), ['reservations', 'commit', 'release']);
});

test('a release that fails too leaves the first error thrown (no server)', async () => {
  const { fetch, calls } = scripted((call) =>
    call.path.endsWith('/reservations')
      ? { status: 201, body: HELD }
      : { status: 400, body: { error: { code: 'invalid_request', message: 'no' } } },
  );
  const boom = new Error('work failed');
  await assert.rejects(stubClient(fetch).reservations.withReservation('cus_1', { metricCode: 'tokens', quantity: '1' }, () => Promise.reject(boom)), (e) => e === boom);
  assert.equal(calls.length, 2);
});

test('inputs are checked before anything is sent (no server)', async () => {
  const { fetch, calls } = reservationServer();
  const em = stubClient(fetch);
  assert.deepEqual(await failure(em.reservations.withReservation('cus_1', { metricCode: 't', quantity: '1' })), ['invalid_request', undefined]);
  assert.deepEqual(await failure(em.reservations.create('cus_1', { metricCode: 't', quantity: 1e21 })), ['invalid_request', undefined]);
  assert.deepEqual(await failure(em.limits.put('cus_1', 't', { max: NaN, mode: 'hard' })), ['invalid_request', undefined]);
  assert.deepEqual(await failure(em.entitlements.get('', 't')), ['invalid_request', undefined]);
  // A callback reporting something that is not a quantity: nothing committed, the hold released.
  assert.deepEqual(await failure(em.reservations.withReservation('cus_1', { metricCode: 't', quantity: '1' }, () => [1])), ['invalid_request', undefined]);
  assert.deepEqual(calls.map((c) => c.path.split('/').pop()), ['reservations', 'release']);
});

test('a deleted limit answered 204 resolves, and a retry that finds it gone is done (no server)', async () => {
  let n = 0;
  const { fetch, calls } = scripted(() => (n++ === 0 ? { status: 503, body: { error: { code: 'internal_error', message: 'x' } } } : { status: 404, body: { error: { code: 'unknown_limit', message: 'gone' } } }));
  assert.equal(await stubClient(fetch).limits.delete('cus_1', 'ocr'), undefined);
  assert.deepEqual(calls.map((c) => c.method), ['DELETE', 'DELETE']);
  const ok = scripted(() => ({ status: 204 }));
  assert.equal(await stubClient(ok.fetch).limits.delete('cus_1', 'ocr'), undefined);
  // Not retried: a 404 is the answer.
  const gone = scripted(() => ({ status: 404, body: { error: { code: 'unknown_limit', message: 'gone' } } }));
  assert.deepEqual(await failure(stubClient(gone.fetch).limits.delete('cus_1', 'ocr')), ['unknown_limit', 404]);
});
