// Credit grants, the live balance and alerts through the API client (`em.creditGrants`,
// `em.balance`, `em.alerts`): against a real `wrangler dev` (API.md, "Credits and the live
// balance", "Alerts"), with the keys that may use each; and, with a scripted fetch, what
// the client sends and how it recovers a retried void.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, Edgemeter, EdgemeterError, INGEST_KEY, NEEDS_SERVER, SECRET_KEY, customer } from './helpers.mjs';

const secret = () => new Edgemeter({ apiKey: SECRET_KEY, baseUrl: BASE_URL });
const suffix = () => Math.random().toString(36).slice(2, 10);

/** The `EdgemeterError` a promise rejects with, as `[code, field, status]`. */
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof EdgemeterError, `not an EdgemeterError: ${e?.stack ?? e}`);
    return [e.code, e.field, e.status];
  }
  assert.fail('no error');
}

/** A customer with a per-unit item on a fresh sum metric: `{ cus, eventName, code }`. */
async function pricedCustomer(em, unitAmount) {
  const cus = await customer();
  const code = `cr_${suffix()}`;
  const eventName = `ev_${suffix()}`;
  await em.metrics.create({ code, name: code, eventName, aggregation: 'sum' });
  await em.items.create(cus, { name: 'Pages', kind: 'usage', metricCode: code, price: { model: 'per_unit', unitAmount } });
  return { cus, eventName, code };
}

// Against a real server.

test('a grant is created, listed, read and voided once', NEEDS_SERVER, async () => {
  const em = secret();
  const cus = await customer();
  const expiresAt = new Date(Date.now() + 90 * 86_400_000);
  const grant = await em.creditGrants.create(cus, { amount: '100.00', name: 'Prepaid', priority: 10, expiresAt });
  assert.match(grant.id, /^cg_/);
  assert.deepEqual(
    [grant.customerId, grant.name, grant.amount, grant.remaining, grant.priority, grant.status, grant.voidedAt],
    [cus, 'Prepaid', '100.00', '100.00', 10, 'active', null],
  );
  assert.ok(Math.abs(Date.parse(grant.expiresAt) - expiresAt.getTime()) < 1000, grant.expiresAt);
  assert.match(grant.expiresAt, /Z$/);
  assert.deepEqual(await em.creditGrants.get(cus, grant.id), grant);

  const promo = await em.creditGrants.create(cus, { amount: '5', name: 'Promo' });
  const listed = await em.creditGrants.list(cus);
  assert.deepEqual(listed.data.map((g) => g.id).sort(), [grant.id, promo.id].sort());
  const all = [];
  for await (const g of em.creditGrants.listAll(cus, { limit: 1 })) all.push(g.id);
  assert.deepEqual(all.sort(), [grant.id, promo.id].sort());

  const voided = await em.creditGrants.void(cus, promo.id);
  assert.equal(voided.status, 'voided');
  assert.ok(voided.voidedAt);
  assert.deepEqual((await failure(em.creditGrants.void(cus, promo.id))).slice(2), [409]);
  assert.equal((await failure(em.creditGrants.get(cus, 'cg_00000000000000000000000000')))[2], 404);
});

test('bad grants are refused with their field; a number is refused before it is sent', NEEDS_SERVER, async () => {
  const em = secret();
  const cus = await customer();
  assert.deepEqual(await failure(em.creditGrants.create(cus, { amount: '1.005', name: 'x' })), ['invalid_amount', 'amount', 400]);
  assert.deepEqual((await failure(em.creditGrants.create(cus, { amount: '0', name: 'x' }))).slice(1), ['amount', 400]);
  assert.deepEqual(
    (await failure(em.creditGrants.create(cus, { amount: '1', name: 'x', effectiveAt: '2027-01-02T00:00:00Z', expiresAt: '2027-01-01T00:00:00Z' }))).slice(1),
    ['expiresAt', 400],
  );
  assert.deepEqual(await failure(em.creditGrants.create(cus, { amount: 0.1 + 0.2, name: 'x' })), ['invalid_request', 'amount', undefined]);
  assert.equal((await failure(em.creditGrants.create('cus_00000000000000000000000000', { amount: '1', name: 'x' })))[2], 404);
});

test('the balance is live: an event acknowledged before the call is in it', NEEDS_SERVER, async () => {
  const em = secret();
  const { cus, eventName } = await pricedCustomer(em, '0.50');
  await em.creditGrants.create(cus, { amount: '100.00', name: 'Prepaid' });

  const before = await em.balance.get(cus);
  assert.deepEqual([before.customerId, before.currency], [cus, 'USD']);
  assert.deepEqual(before.credits, { remaining: '100.00', pendingDraw: '0.00', available: '100.00' });
  assert.ok(before.period.start < before.period.end);

  em.track({ customerId: cus, eventName, value: 9 });
  const sent = await em.flush();
  assert.equal(sent.accepted, 1);
  const after = await em.balance.get(cus);
  assert.deepEqual(after.credits, { remaining: '100.00', pendingDraw: '4.50', available: '95.50' });
  assert.equal(after.periodTotal, '4.50');
  assert.equal(after.amountDueSoFar, '0.00');
  assert.ok(after.asOf >= before.asOf);

  // The upcoming invoice shows what it would draw, in the SDK's names.
  const upcoming = await em.usage.upcoming(cus);
  assert.equal(upcoming.total, '4.50');
  assert.deepEqual(upcoming.creditsApplied.map((c) => c.amount), ['4.50']);
  assert.match(upcoming.creditsApplied[0].grantId, /^cg_/);
  assert.equal(upcoming.amountDue, '0.00');
  await em.shutdown();
});

test("an ingest key and the customer's own token read its balance, not another's; grants need a secret key", NEEDS_SERVER, async () => {
  const admin = secret();
  const mine = await customer();
  const theirs = await customer();
  await admin.creditGrants.create(mine, { amount: '20.00', name: 'Prepaid' });
  const { token } = await admin.tokens.create({ customerId: mine });
  const browser = new Edgemeter({ apiKey: token, baseUrl: BASE_URL });
  const server = new Edgemeter({ apiKey: INGEST_KEY, baseUrl: BASE_URL });

  assert.equal((await browser.balance.get(mine)).credits.available, '20.00');
  assert.equal((await server.balance.get(mine)).credits.remaining, '20.00');
  assert.equal((await failure(browser.balance.get(theirs)))[2], 403);

  assert.equal((await failure(browser.creditGrants.list(mine)))[2], 403);
  assert.equal((await failure(server.creditGrants.create(mine, { amount: '1', name: 'x' })))[2], 403);
  assert.equal((await failure(server.alerts.list(mine)))[2], 403);
});

test('alerts are created, listed and deleted', NEEDS_SERVER, async () => {
  const em = secret();
  const { cus, code } = await pricedCustomer(em, '1');
  const usageAlert = await em.alerts.create(cus, { name: '80% of plan', kind: 'usage', metricCode: code, threshold: 800 });
  assert.match(usageAlert.id, /^alr_/);
  assert.deepEqual(
    [usageAlert.kind, usageAlert.metricCode, usageAlert.threshold, usageAlert.lastTriggeredAt],
    ['usage', code, '800', null],
  );
  const low = await em.alerts.create(cus, { name: 'Credit low', kind: 'credit_balance', threshold: '10.00' });
  assert.equal(low.metricCode ?? null, null);
  const spend = await em.alerts.create(cus, { name: 'Big month', kind: 'spend', threshold: '1000' });

  const listed = (await em.alerts.list(cus)).data.map((a) => a.id);
  assert.deepEqual(listed.sort(), [usageAlert.id, low.id, spend.id].sort());
  const iterated = [];
  for await (const a of em.alerts.listAll(cus, { limit: 2 })) iterated.push(a.id);
  assert.deepEqual(iterated.sort(), listed);

  assert.equal(await em.alerts.delete(cus, low.id), undefined);
  assert.deepEqual((await em.alerts.list(cus)).data.map((a) => a.id).sort(), [usageAlert.id, spend.id].sort());
  assert.equal((await failure(em.alerts.delete(cus, low.id)))[2], 404);

  // A usage alert names its metric; an unknown kind is refused with its field.
  assert.deepEqual((await failure(em.alerts.create(cus, { name: 'x', kind: 'usage', threshold: '1' }))).slice(1), ['metricCode', 400]);
  assert.deepEqual((await failure(em.alerts.create(cus, { name: 'x', kind: 'weather', threshold: '1' }))).slice(1), ['kind', 400]);
});

// Without a server: a scripted fetch.

function scripted(script) {
  const calls = [];
  const fetch = async (url, init) => {
    const call = { method: init.method, path: new URL(url).pathname, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) };
    calls.push(call);
    const r = await script(call, calls.length - 1);
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status ?? 200 });
  };
  return { fetch, calls };
}

const stubClient = (fetch) => new Edgemeter({ apiKey: 'sk_test', baseUrl: 'https://billing.example.com', fetch, retryBaseMs: 1 });

const GRANT = {
  id: 'cg_1', customer_id: 'cus_1', name: 'Prepaid', amount: '100.00', remaining: '100.00', priority: 100,
  effective_at: '2026-12-01T00:00:00Z', expires_at: null, status: 'active', created_at: '2026-12-01T00:00:00Z', voided_at: null,
};

test('a grant is sent in the API names, with dates as RFC 3339 and the amount as given (no server)', async () => {
  const { fetch, calls } = scripted(() => ({ status: 201, body: GRANT }));
  const grant = await stubClient(fetch).creditGrants.create(
    'cus_1',
    { amount: '100.00', name: 'Prepaid', effectiveAt: new Date('2026-12-01T00:00:00Z'), expiresAt: null },
    { idempotencyKey: 'payment-42' },
  );
  assert.deepEqual(calls[0].body, { amount: '100.00', name: 'Prepaid', effective_at: '2026-12-01T00:00:00.000Z', expires_at: null });
  assert.equal(calls[0].headers['idempotency-key'], 'payment-42');
  assert.equal(calls[0].path, '/v1/customers/cus_1/credit_grants');
  assert.deepEqual([grant.customerId, grant.effectiveAt, grant.voidedAt], ['cus_1', '2026-12-01T00:00:00Z', null]);
});

test('a retried void that finds the grant voided returns it; another 409 is the error (no server)', async () => {
  const voided = { ...GRANT, status: 'voided', voided_at: '2026-12-07T00:00:00Z' };
  let n = 0;
  const lost = scripted((call) => {
    if (call.method === 'GET') return { body: voided };
    return n++ === 0 ? { status: 502, body: 'bad gateway' } : { status: 409, body: { error: { code: 'grant_voided', message: 'voided' } } };
  });
  assert.equal((await stubClient(lost.fetch).creditGrants.void('cus_1', 'cg_1')).status, 'voided');
  assert.deepEqual(lost.calls.map((c) => c.method), ['POST', 'POST', 'GET']);

  // Not retried: the first answer was the 409, so the grant was voided before this call.
  const twice = scripted(() => ({ status: 409, body: { error: { code: 'grant_voided', message: 'voided' } } }));
  assert.deepEqual(await failure(stubClient(twice.fetch).creditGrants.void('cus_1', 'cg_1')), ['grant_voided', undefined, 409]);
});

test('a usage threshold may be a number, sent as decimal text; ids are checked (no server)', async () => {
  const { fetch, calls } = scripted(() => ({ status: 201, body: { id: 'alr_1' } }));
  const em = stubClient(fetch);
  await em.alerts.create('cus_1', { name: 'x', kind: 'usage', metricCode: 'ocr', threshold: 2.5 });
  assert.deepEqual(calls[0].body, { name: 'x', kind: 'usage', metric_code: 'ocr', threshold: '2.5' });
  assert.deepEqual(await failure(em.balance.get('')), ['invalid_request', 'customerId', undefined]);
  assert.deepEqual(await failure(em.alerts.delete('cus_1', undefined)), ['invalid_request', 'alertId', undefined]);
  assert.deepEqual(await failure(em.creditGrants.create('cus_1', { amount: 5n, name: 'x' })), ['invalid_request', 'amount', undefined]);
  assert.equal(calls.length, 1);
});
