// The API client (`em.customers`, `em.items`, `em.metrics`, `em.usage`, `em.invoices`,
// `em.tokens`): the seed's flow against a real `wrangler dev`, the server's errors as
// `EdgemeterError`s, pagination, and (with a stub fetch) camelCase conversion and retries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, Edgemeter, EdgemeterError, INGEST_KEY, NEEDS_SERVER, SECRET_KEY } from './helpers.mjs';

const suffix = () => Math.random().toString(36).slice(2, 10);

function secretClient() {
  return new Edgemeter({ apiKey: SECRET_KEY, baseUrl: BASE_URL });
}

/** The `EdgemeterError` a promise rejects with, as `[code, field, status]`. */
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof EdgemeterError, `not an EdgemeterError: ${e?.stack ?? e}`);
    assert.ok(e.message.length > 0);
    return [e.code, e.field, e.status];
  }
  assert.fail('no error');
}

/** Runs invoicing as the cron trigger would at `ms` (the Rust suite's `run_cron_at`). */
async function runInvoicingAt(ms) {
  const res = await fetch(`${BASE_URL}/cdn-cgi/handler/scheduled?cron=0+*+*+*+*&time=${ms}`);
  assert.ok(res.ok, `the scheduled handler answered ${res.status}`);
  await res.text();
}

/** The UTC date of the next midnight: an anchor whose weekly period ends then. */
function nextMidnightDate() {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

test('the seed flow through the typed client: customer, metric, items, usage, token, invoice', NEEDS_SERVER, async () => {
  const em = secretClient();

  // 1. A customer whose weekly period ends at the next midnight and is final at once
  //    (graceHours 0), so invoicing can be run for it at that time. No other customer's
  //    period is final then: every other test keeps the default 24 hours of grace.
  const anchor = nextMidnightDate();
  const externalId = `ext_${suffix()}`;
  const customer = await em.customers.create({
    name: 'Acme Corp',
    email: 'ap@acme.test',
    externalId,
    invoiceSchedule: { interval: 'week', anchor, graceHours: 0 },
  });
  assert.match(customer.id, /^cus_/);
  assert.deepEqual(
    { ...customer, id: undefined, createdAt: undefined },
    {
      id: undefined,
      name: 'Acme Corp',
      email: 'ap@acme.test',
      externalId,
      currency: 'USD',
      invoiceSchedule: { interval: 'week', anchor, preGenerateDays: 3, graceHours: 0 },
      autoSend: false,
      contractId: null,
      createdAt: undefined,
    },
  );
  assert.deepEqual(await em.customers.get(customer.id), customer);

  // 2. A metric with a filter: its key is a property name, kept as it is (snake_case).
  const code = `ocr_${suffix()}`;
  const eventName = `invoices_${suffix()}`;
  const metric = await em.metrics.create({
    code,
    name: 'Invoices processed',
    eventName,
    aggregation: 'sum',
    filters: { plan_tier: ['pro'] },
  });
  assert.match(metric.id, /^met_/);
  assert.deepEqual(metric.filters, { plan_tier: ['pro'] });
  assert.deepEqual(await em.metrics.get(code), metric);

  // 3. Items: per unit on the metric, and a fixed fee.
  const ocr = await em.items.create(customer.id, {
    name: 'OCR invoices',
    kind: 'usage',
    metricCode: code,
    price: { model: 'per_unit', unitAmount: '0.05' },
  });
  assert.deepEqual(
    [ocr.customerId, ocr.kind, ocr.metricCode, ocr.eventName, ocr.price, ocr.minimum],
    [customer.id, 'usage', code, eventName, { model: 'per_unit', unitAmount: '0.05' }, null],
  );
  const platform = await em.items.create(customer.id, {
    name: 'Platform',
    kind: 'fixed',
    price: { model: 'fixed', amount: '99.00' },
  });
  const items = await em.items.list(customer.id);
  assert.deepEqual(items, { data: [ocr, platform], nextCursor: null });

  // 4. Usage, tracked by the same client: two counted events and one the filter skips.
  const counted = [
    em.track({ customerId: customer.id, eventName, value: '50', properties: { plan_tier: 'pro' } }),
    em.track({ customerId: customer.id, eventName, value: 35.7, properties: { plan_tier: 'pro' } }),
  ];
  em.track({ customerId: customer.id, eventName, value: 1000, properties: { plan_tier: 'free' } });
  const flushed = await em.flush();
  assert.deepEqual([flushed.accepted, flushed.rejected, flushed.failed], [3, [], []]);

  const usage = await em.usage.get(customer.id, { at: new Date() });
  assert.equal(usage.customerId, customer.id);
  assert.equal(usage.period.end, `${anchor}T00:00:00Z`);
  assert.deepEqual(usage.metrics.find((m) => m.code === code), {
    code,
    eventName,
    aggregation: 'sum',
    quantity: '85.7',
    eventCount: 2,
  });
  assert.deepEqual(usage.items.find((i) => i.itemId === ocr.id), {
    itemId: ocr.id,
    name: 'OCR invoices',
    kind: 'usage',
    metricCode: code,
    quantity: '85.7',
    amount: '4.28',
  });

  const upcoming = await em.usage.upcoming(customer.id);
  assert.equal(upcoming.status, 'upcoming');
  assert.equal(upcoming.id, undefined);
  assert.deepEqual([upcoming.subtotal, upcoming.total], ['103.28', '103.28']);
  assert.deepEqual(
    upcoming.lines.map((l) => [l.itemId, l.model, l.quantity, l.unitAmount, l.amount, l.usage?.eventCount ?? null]),
    [
      [ocr.id, 'per_unit', '85.7', '0.05', '4.28', 2],
      [platform.id, 'fixed', '1', '99.00', '99.00', null],
    ],
  );

  // 5. A customer token: it ingests for its customer, and only for it.
  const before = Date.now();
  const token = await em.tokens.create({ customerId: customer.id, ttlSeconds: 600 });
  assert.match(token.token, /^ct_/);
  assert.equal(token.customerId, customer.id);
  const ttl = Date.parse(token.expiresAt) - before;
  assert.ok(ttl > 590_000 && ttl <= 600_000, `expires in ${ttl} ms`);
  const stranger = await em.customers.create({ name: 'Other Corp', email: 'ap@other.test' });
  const browser = new Edgemeter({ apiKey: token.token, baseUrl: BASE_URL });
  const own = browser.track({ customerId: customer.id, eventName, value: '0.3', properties: { plan_tier: 'pro' } });
  const foreign = browser.track({ customerId: stranger.id, eventName, value: 1, properties: { plan_tier: 'pro' } });
  const viaToken = await browser.shutdown();
  assert.equal(viaToken.accepted, 1);
  assert.deepEqual(
    [...viaToken.rejected, ...viaToken.failed].map((r) => [r.idempotencyKey, r.error.code]),
    [[foreign, 'forbidden_customer']],
  );
  assert.notEqual(own, foreign);

  // 6. Void one event: it stops counting; voiding it again is harmless.
  assert.deepEqual(await em.usage.void({ idempotencyKey: counted[1], customerId: customer.id }), {
    idempotencyKey: counted[1],
    customerId: customer.id,
    status: 'voided',
  });
  assert.equal((await em.usage.void({ idempotencyKey: counted[1], customerId: customer.id })).status, 'already_voided');
  const after = await em.usage.get(customer.id);
  assert.deepEqual(
    after.metrics.filter((m) => m.code === code).map((m) => [m.quantity, m.eventCount]),
    [['50.3', 2]],
  );

  // 7. The period ends: its invoice is final and waits for approval; approve, then void.
  await runInvoicingAt(Date.parse(usage.period.end) + 60_000);
  const listed = await em.invoices.list({ customerId: customer.id });
  assert.equal(listed.data.length, 1);
  assert.equal(listed.nextCursor, null);
  const [invoice] = listed.data;
  assert.match(invoice.id, /^inv_/);
  assert.match(invoice.number, /^INV-\d{6,}$/);
  assert.deepEqual(
    [invoice.customerId, invoice.status, invoice.periodEnd, invoice.currency, invoice.total, invoice.sentAt],
    [customer.id, 'pending_approval', usage.period.end, 'USD', '101.52', null],
  );
  assert.deepEqual(invoice.lines[0].usage.metricCode, code);
  assert.deepEqual(await em.invoices.get(invoice.id), invoice);
  const pending = [];
  for await (const inv of em.invoices.listAll({ status: 'pending_approval', limit: 1 })) pending.push(inv.id);
  assert.ok(pending.includes(invoice.id));

  const sent = await em.invoices.approve(invoice.id);
  assert.equal(sent.status, 'sent');
  assert.ok(Date.parse(sent.sentAt) > 0);
  assert.deepEqual(await failure(em.invoices.approve(invoice.id)), ['invalid_invoice_state', 'status', 409]);
  assert.equal((await em.invoices.void(invoice.id)).status, 'void');
  assert.deepEqual(await failure(em.invoices.void(invoice.id)), ['invalid_invoice_state', 'status', 409]);
  assert.deepEqual(
    (await em.invoices.list({ customerId: customer.id, status: 'void' })).data.map((i) => i.id),
    [invoice.id],
  );

  // 8. A patch changes what it names.
  const patched = await em.customers.update(customer.id, { autoSend: true, externalId: `${externalId}_2` });
  assert.deepEqual(patched, { ...customer, autoSend: true, externalId: `${externalId}_2` });
  await em.shutdown();
});

test("the server's errors reject with its code, the field in camelCase and the status", NEEDS_SERVER, async () => {
  const em = secretClient();
  const customer = await em.customers.create({ name: 'Acme Corp', email: 'ap@acme.test' });
  assert.deepEqual(await failure(em.customers.create({ name: 'Acme', email: 'not an address' })), [
    'invalid_field',
    'email',
    400,
  ]);
  assert.deepEqual(await failure(em.customers.update(customer.id, { currency: 'dollars' })), [
    'invalid_field',
    'currency',
    400,
  ]);
  const item = { name: 'OCR', kind: 'usage', metricCode: `nobody_${suffix()}`, price: { model: 'per_unit', unitAmount: '1' } };
  const [code, field, status] = await failure(em.items.create(customer.id, item));
  assert.deepEqual([code, field], ['unknown_metric', 'metricCode']);
  assert.ok(status === 400 || status === 404, `status ${status}`);
  assert.deepEqual(await failure(em.customers.list({ limit: 0 })), ['invalid_field', 'limit', 400]);
  // The worker answers `unknown_customer`, with the field for a well-formed id and without
  // it for a malformed one; the code and the status are what hold.
  assert.deepEqual((await failure(em.customers.get('cus_00000000000000000000000000'))).filter((_, i) => i !== 1), [
    'unknown_customer',
    404,
  ]);
  assert.deepEqual(await failure(em.invoices.get('inv_00000000000000000000000000')), ['not_found', undefined, 404]);
  assert.deepEqual(await failure(em.metrics.get(`nobody_${suffix()}`)), ['not_found', undefined, 404]);
  const metric = { code: `dup_${suffix()}`, name: 'Dup', eventName: `ev_${suffix()}`, aggregation: 'sum' };
  await em.metrics.create(metric);
  assert.deepEqual(await failure(em.metrics.create({ ...metric, aggregation: 'max' })), ['duplicate_metric_code', 'code', 409]);
  assert.deepEqual(await failure(em.usage.void({ idempotencyKey: '0192f0c1-0000-7000-8000-00000000dead', customerId: customer.id })), [
    'event_not_found',
    'idempotencyKey',
    404,
  ]);
  // The same Idempotency-Key and body: the first answer again, not a second customer.
  const input = { name: 'Once Corp', email: 'ap@once.test' };
  const once = await em.customers.create(input, { idempotencyKey: `signup-${suffix()}` });
  const key = { idempotencyKey: `signup-${suffix()}` };
  const [first, again] = [await em.customers.create(input, key), await em.customers.create(input, key)];
  assert.deepEqual(again, first);
  assert.notEqual(first.id, once.id);
  assert.deepEqual(await failure(em.customers.create({ ...input, name: 'Other' }, key)), [
    'idempotency_key_reused',
    'Idempotency-Key',
    422,
  ]);
  // An ingest key may not read; a snake_case key is refused before any request.
  const ingestOnly = new Edgemeter({ apiKey: INGEST_KEY, baseUrl: BASE_URL });
  assert.deepEqual(await failure(ingestOnly.customers.list()), ['forbidden', undefined, 403]);
  assert.deepEqual(await failure(em.customers.create({ name: 'Acme', email: 'ap@acme.test', external_id: 'x' })), [
    'unknown_field',
    'external_id',
    undefined,
  ]);
  await Promise.all([em.shutdown(), ingestOnly.shutdown()]);
});

test('list pages follow nextCursor, and listAll walks every page', NEEDS_SERVER, async () => {
  const em = secretClient();
  const created = [];
  for (let i = 0; i < 5; i++) created.push((await em.customers.create({ name: `Page ${i}`, email: `p${i}@acme.test` })).id);
  const first = await em.customers.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.equal(typeof first.nextCursor, 'string');
  const second = await em.customers.list({ limit: 2, cursor: first.nextCursor });
  assert.equal(second.data.length, 2);
  assert.ok(!second.data.some((c) => first.data.some((d) => d.id === c.id)), 'pages do not overlap');

  const seen = [];
  for await (const c of em.customers.listAll({ limit: 2 })) seen.push(c.id);
  assert.equal(new Set(seen).size, seen.length, 'each customer once');
  for (const id of created) assert.ok(seen.includes(id), `${id} listed`);

  const codes = [];
  for (let i = 0; i < 3; i++) {
    codes.push((await em.metrics.create({ code: `pg_${suffix()}`, name: 'P', eventName: `ev_${suffix()}`, aggregation: 'count' })).code);
  }
  const metricCodes = [];
  for await (const m of em.metrics.listAll({ limit: 1 })) metricCodes.push(m.code);
  assert.equal(new Set(metricCodes).size, metricCodes.length);
  for (const c of codes) assert.ok(metricCodes.includes(c), `${c} listed`);
  await em.shutdown();
});

// Without a server: a scripted fetch.

/**
 * A fetch that plays `script(call, n)` for call n: it returns `{ status, body, headers }`,
 * or throws (a network error). `calls[i]` has `method`, `url`, `headers` and `body`
 * (parsed, or undefined for a GET).
 */
function scripted(script) {
  const calls = [];
  const fetch = async (url, init) => {
    const call = { method: init.method, url, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) };
    calls.push(call);
    const r = await script(call, calls.length - 1);
    return new Response(typeof r.body === 'string' ? r.body : JSON.stringify(r.body), {
      status: r.status ?? 200,
      headers: r.headers ?? {},
    });
  };
  return { fetch, calls };
}

function stubClient(fetch, extra = {}) {
  return new Edgemeter({ apiKey: 'sk_test', baseUrl: 'https://billing.example.com/', fetch, retryBaseMs: 1, ...extra });
}

const apiError = (status, code, field) => ({ status, body: { error: { code, message: `${code}!`, field } } });

test('keys are converted both ways; values and the keys inside filters and properties are not', async () => {
  const wireMetric = {
    id: 'met_1',
    code: 'ocr',
    name: 'OCR',
    event_name: 'invoices',
    aggregation: 'unique_count',
    field: 'doc_id',
    filters: { plan_tier: ['pro'], 'Region-Code': ['eu'] },
    created_at: '2026-11-25T10:00:00Z',
  };
  const { fetch, calls } = scripted((call) =>
    call.method === 'POST' ? { status: 201, body: wireMetric } : { body: { data: [wireMetric], next_cursor: 'ocr' } },
  );
  const em = stubClient(fetch);
  const metric = await em.metrics.create({
    code: 'ocr',
    name: 'OCR',
    eventName: 'invoices',
    aggregation: 'unique_count',
    field: 'doc_id',
    filters: { plan_tier: ['pro'], 'Region-Code': ['eu'] },
  });
  assert.deepEqual(calls[0].body, {
    code: 'ocr',
    name: 'OCR',
    event_name: 'invoices',
    aggregation: 'unique_count',
    field: 'doc_id',
    filters: { plan_tier: ['pro'], 'Region-Code': ['eu'] },
  });
  assert.equal(calls[0].url, 'https://billing.example.com/v1/billing/metrics');
  assert.equal(calls[0].headers.authorization, 'Bearer sk_test');
  assert.deepEqual(metric, {
    id: 'met_1',
    code: 'ocr',
    name: 'OCR',
    eventName: 'invoices',
    aggregation: 'unique_count',
    field: 'doc_id',
    filters: { plan_tier: ['pro'], 'Region-Code': ['eu'] },
    createdAt: '2026-11-25T10:00:00Z',
  });
  assert.deepEqual(await em.metrics.list({ limit: 1, cursor: 'a b' }), { data: [metric], nextCursor: 'ocr' });
  assert.equal(calls[1].url, 'https://billing.example.com/v1/billing/metrics?limit=1&cursor=a+b');
  assert.equal(calls[1].body, undefined);

  // Tiers: nested keys converted, decimal strings and numbers passed as given.
  const { fetch: f2, calls: c2 } = scripted(() => ({ status: 201, body: { id: 'item_1', price: { model: 'graduated', tiers: [{ up_to: '1000', unit_amount: '0.0025', flat_amount: '0' }] } } }));
  const item = await stubClient(f2).items.create('cus_1/x', {
    name: 'OCR',
    kind: 'usage',
    metricCode: 'ocr',
    price: { model: 'graduated', tiers: [{ upTo: 1000, unitAmount: '0.0025' }, { upTo: null, unitAmount: '0.00100' }] },
    minimum: '10.00',
  });
  assert.equal(c2[0].url, 'https://billing.example.com/v1/customers/cus_1%2Fx/items');
  assert.deepEqual(c2[0].body, {
    name: 'OCR',
    kind: 'usage',
    metric_code: 'ocr',
    price: { model: 'graduated', tiers: [{ up_to: 1000, unit_amount: '0.0025' }, { up_to: null, unit_amount: '0.00100' }] },
    minimum: '10.00',
  });
  assert.deepEqual(item.price.tiers, [{ upTo: '1000', unitAmount: '0.0025', flatAmount: '0' }]);

  // Query parameters too.
  const { fetch: f3, calls: c3 } = scripted(() => ({ body: { customer_id: 'cus_1' } }));
  const em3 = stubClient(f3);
  await em3.usage.get('cus_1', { at: new Date('2026-11-25T10:00:00+01:00') });
  await em3.invoices.list({ customerId: 'cus_1', status: 'sent' });
  assert.deepEqual(c3.map((c) => c.url), [
    'https://billing.example.com/v1/customers/cus_1/usage?at=2026-11-25T09%3A00%3A00.000Z',
    'https://billing.example.com/v1/invoices?customer_id=cus_1&status=sent',
  ]);
});

test('GETs are retried after network errors, 429 and 5xx, honouring Retry-After, up to maxRetries', async () => {
  const steps = [
    () => {
      throw new TypeError('fetch failed');
    },
    () => ({ status: 429, body: '', headers: { 'retry-after': '0' } }),
    () => apiError(503, 'internal_error'),
    () => ({ body: { id: 'cus_1', auto_send: true } }),
  ];
  const { fetch, calls } = scripted((_, n) => steps[n]());
  assert.deepEqual(await stubClient(fetch).customers.get('cus_1'), { id: 'cus_1', autoSend: true });
  assert.equal(calls.length, 4);

  const down = scripted(() => ({ status: 502, body: 'bad gateway' }));
  assert.deepEqual(await failure(stubClient(down.fetch, { maxRetries: 2 }).customers.get('cus_1')), ['http_error', undefined, 502]);
  assert.equal(down.calls.length, 3);

  const slow = (_url, init) =>
    new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  assert.deepEqual(await failure(stubClient(slow, { maxRetries: 1, timeoutMs: 5 }).invoices.list()), ['timeout', undefined, undefined]);
});

test('a Retry-After longer than retryMaxMs waits retryMaxMs, not the hour the server asked for', { timeout: 20_000 }, async () => {
  const steps = [() => ({ status: 429, body: '', headers: { 'retry-after': '3600' } }), () => ({ body: { id: 'cus_1' } })];
  const { fetch, calls } = scripted((_, n) => steps[n]());
  assert.deepEqual(await stubClient(fetch, { retryMaxMs: 50 }).customers.get('cus_1'), { id: 'cus_1' });
  assert.equal(calls.length, 2);
});

test('a 409 idempotency_key_in_use (an earlier copy still running) is retried under the same key; another 409 is not', async () => {
  const steps = [() => apiError(409, 'idempotency_key_in_use', 'Idempotency-Key'), () => ({ status: 201, body: { id: 'cus_1' } })];
  const { fetch, calls } = scripted((_, n) => steps[n]());
  assert.deepEqual(await stubClient(fetch).customers.create({ name: 'Acme', email: 'ap@acme.test' }), { id: 'cus_1' });
  assert.equal(calls.length, 2);
  assert.equal(calls[0].headers['idempotency-key'], calls[1].headers['idempotency-key']);

  const conflict = scripted(() => apiError(409, 'duplicate_metric_code', 'code'));
  const metric = { code: 'ocr', name: 'OCR', eventName: 'ocr', aggregation: 'count' };
  assert.deepEqual((await failure(stubClient(conflict.fetch).metrics.create(metric))).slice(0, 1), ['duplicate_metric_code']);
  assert.equal(conflict.calls.length, 1);
});

test('a POST keeps one Idempotency-Key across its retries; a 4xx is not retried', async () => {
  const steps = [() => apiError(500, 'internal_error'), () => ({ status: 201, body: { id: 'cus_1' } })];
  const { fetch, calls } = scripted((_, n) => steps[n]());
  const em = stubClient(fetch);
  await em.customers.create({ name: 'Acme', email: 'ap@acme.test', autoSend: true });
  assert.equal(calls.length, 2);
  const [a, b] = calls.map((c) => c.headers['idempotency-key']);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(a, b);
  assert.deepEqual(calls[0].body, { name: 'Acme', email: 'ap@acme.test', auto_send: true });

  const own = scripted(() => ({ status: 201, body: { id: 'cus_2' } }));
  await stubClient(own.fetch).customers.create({ name: 'Acme', email: 'ap@acme.test' }, { idempotencyKey: 'signup-user-42' });
  assert.equal(own.calls[0].headers['idempotency-key'], 'signup-user-42');

  const refused = scripted(() => apiError(400, 'invalid_field', 'invoice_schedule.pre_generate_days'));
  const err = await failure(
    stubClient(refused.fetch).customers.create({ name: 'Acme', email: 'ap@acme.test', invoiceSchedule: { preGenerateDays: 99 } }),
  );
  assert.deepEqual(err, ['invalid_field', 'invoiceSchedule.preGenerateDays', 400]);
  assert.equal(refused.calls.length, 1);
});

test('a retried approve or metric create whose first attempt went through returns what it made', async () => {
  const sent = { id: 'inv_1', status: 'sent', sent_at: '2026-11-25T10:00:00Z' };
  const steps = [
    () => {
      throw new TypeError('socket hang up'); // the server approved it, the answer was lost
    },
    () => apiError(409, 'invalid_invoice_state', 'status'),
    () => ({ body: sent }),
  ];
  const { fetch, calls } = scripted((_, n) => steps[n]());
  const invoice = await stubClient(fetch).invoices.approve('inv_1');
  assert.deepEqual(invoice, { id: 'inv_1', status: 'sent', sentAt: '2026-11-25T10:00:00Z' });
  assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), [
    'POST https://billing.example.com/v1/invoices/inv_1/approve',
    'POST https://billing.example.com/v1/invoices/inv_1/approve',
    'GET https://billing.example.com/v1/invoices/inv_1',
  ]);

  // A retried metric create that finds its own definition under the code returns it.
  const wire = { id: 'met_1', code: 'ocr', name: 'OCR', event_name: 'invoices', aggregation: 'sum', created_at: '2026-11-25T10:00:00Z' };
  const metricSteps = [() => apiError(503, 'internal_error'), () => apiError(409, 'duplicate_metric_code', 'code'), () => ({ body: wire })];
  const m = scripted((_, n) => metricSteps[n]());
  const created = await stubClient(m.fetch).metrics.create({ code: 'ocr', name: 'OCR', eventName: 'invoices', aggregation: 'sum' });
  assert.equal(created.id, 'met_1');
  const other = scripted((_, n) => metricSteps[n]());
  const another = stubClient(other.fetch).metrics.create({ code: 'ocr', name: 'OCR', eventName: 'invoices', aggregation: 'max' });
  assert.deepEqual(await failure(another), ['duplicate_metric_code', 'code', 409]);

  // Without a retry, the conflict is the answer.
  const once = scripted(() => apiError(409, 'invalid_invoice_state', 'status'));
  assert.deepEqual(await failure(stubClient(once.fetch).invoices.approve('inv_1')), ['invalid_invoice_state', 'status', 409]);
  assert.equal(once.calls.length, 1);
});
