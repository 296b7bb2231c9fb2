// The API client's contracts (`em.contracts`), usage by day (`em.usage.daily`) and the
// logs of rejected events (`em.rejections`): against a real `wrangler dev`, and (with a
// stub fetch) the wire format of a document's upload and download, the `errors` of an
// invalid contract, and a retried accept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { BASE_URL, Edgemeter, EdgemeterError, INGEST_KEY, NEEDS_SERVER, SECRET_KEY } from './helpers.mjs';

const suffix = () => Math.random().toString(36).slice(2, 10);

function secretClient() {
  return new Edgemeter({ apiKey: SECRET_KEY, baseUrl: BASE_URL });
}

/** The `EdgemeterError` a promise rejects with. */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof EdgemeterError, `not an EdgemeterError: ${e?.stack ?? e}`);
    return e;
  }
  assert.fail('no error');
}

/** As `[code, status]`. */
async function failure(promise) {
  const e = await rejection(promise);
  return [e.code, e.status];
}

/** A small but well-formed PDF. */
const PDF = new TextEncoder().encode(
  '%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n' +
    'trailer << /Root 1 0 R >>\n%%EOF\n',
);

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** An RFC 3339 time `ms` from now, in whole seconds. */
const fromNow = (ms) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, 'Z');

const GRADUATED = {
  model: 'graduated',
  tiers: [
    { upTo: 1000, unitAmount: '0.05' },
    { upTo: null, unitAmount: '0.03' },
  ],
};

test('a contract: drafted, checked whole, patched, given a document, accepted once, listed by status', NEEDS_SERVER, async () => {
  const em = secretClient();
  const code = `pages_${suffix()}`;
  await em.metrics.create({ code, name: 'OCR pages', eventName: `ocr_${suffix()}`, aggregation: 'sum' });
  const input = {
    customer: { name: 'Acme Corp', email: 'ap@acme.test' },
    items: [
      { name: 'OCR pages', kind: 'usage', metricCode: code, price: GRADUATED },
      { name: 'Platform fee', kind: 'fixed', price: { model: 'fixed', amount: '99.00' } },
    ],
    expiresAt: fromNow(7 * 86_400_000),
  };

  // 1. A draft, read back.
  const draft = await em.contracts.create(input);
  assert.match(draft.id, /^ctr_/);
  assert.deepEqual(
    [draft.status, draft.customerId, draft.document, draft.autoSend, draft.expiresAt, draft.acceptedAt, draft.canceledAt],
    ['draft', null, null, false, input.expiresAt, null, null],
  );
  assert.deepEqual(draft.customer, { name: 'Acme Corp', email: 'ap@acme.test', externalId: null, currency: 'USD' });
  assert.deepEqual(
    draft.items.map((i) => [i.name, i.kind, i.metricCode, i.price.model, i.minimum]),
    [
      ['OCR pages', 'usage', code, 'graduated', null],
      ['Platform fee', 'fixed', null, 'fixed', null],
    ],
  );
  assert.deepEqual(
    draft.items[0].price.tiers.map((t) => [String(t.upTo), t.unitAmount]),
    [
      ['1000', '0.05'],
      ['null', '0.03'],
    ],
  );
  // The schedule defaults to months from the 1st of the start's month.
  assert.deepEqual(draft.invoiceSchedule, { interval: 'month', anchor: `${draft.startsAt.slice(0, 7)}-01`, preGenerateDays: 3, graceHours: 24 });
  assert.deepEqual(await em.contracts.get(draft.id), draft);

  // 2. Every problem at once, each with its field path in camelCase.
  const invalid = await rejection(
    em.contracts.create({
      customer: { name: 'Acme Corp' },
      items: [
        { name: 'OCR pages', kind: 'usage', metricCode: `nobody_${suffix()}`, price: GRADUATED },
        {
          name: 'More pages',
          kind: 'usage',
          metricCode: code,
          price: { model: 'graduated', tiers: [{ upTo: 1000, unitAmount: 'cheap' }, { upTo: null, unitAmount: '0.03' }] },
        },
      ],
    }),
  );
  assert.deepEqual([invalid.code, invalid.status], ['invalid_contract', 400]);
  assert.ok(Array.isArray(invalid.errors) && invalid.errors.length === 3, JSON.stringify(invalid.errors));
  assert.equal(invalid.field, invalid.errors[0].field);
  assert.deepEqual(
    invalid.errors.map((p) => [p.field, p.code]).sort(),
    [
      ['customer.email', 'missing_field'],
      ['items[0].metricCode', 'unknown_metric'],
      ['items[1].price.tiers[0].unitAmount', 'invalid_field'],
    ],
  );
  assert.ok(invalid.errors.every((p) => typeof p.message === 'string' && p.message.length > 0));

  // 3. A patch replaces the fields it names, and the result is checked whole.
  const externalId = `ext_${suffix()}`;
  const patched = await em.contracts.update(draft.id, {
    autoSend: true,
    customer: { name: 'Acme Inc', email: 'ap@acme.test', externalId },
  });
  assert.deepEqual(
    [patched.autoSend, patched.customer, patched.items],
    [true, { name: 'Acme Inc', email: 'ap@acme.test', externalId, currency: 'USD' }, draft.items],
  );
  assert.ok(patched.updatedAt >= draft.updatedAt);
  const badPatch = await rejection(em.contracts.update(draft.id, { items: [] }));
  assert.deepEqual([badPatch.code, badPatch.status, badPatch.errors.map((p) => p.field)], ['invalid_contract', 400, ['items']]);

  // 4. A document: refused unless it is a known type, read back byte for byte, replaced.
  assert.deepEqual(await failure(em.contracts.uploadDocument(draft.id, new TextEncoder().encode('just text'))), [
    'unsupported_media_type',
    415,
  ]);
  const withDoc = await em.contracts.uploadDocument(draft.id, PDF, { filename: 'msa.pdf' });
  assert.deepEqual(
    { ...withDoc.document, uploadedAt: undefined },
    { name: 'msa.pdf', contentType: 'application/pdf', size: PDF.length, sha256: sha256(PDF), uploadedAt: undefined },
  );
  assert.ok(Date.parse(withDoc.document.uploadedAt) > 0);
  assert.deepEqual(await em.contracts.downloadDocument(draft.id), {
    contentType: 'application/pdf',
    filename: 'msa.pdf',
    bytes: PDF,
  });
  // A Blob (and no file name: the server names it) replaces it.
  const signed = new Uint8Array([...PDF, ...new TextEncoder().encode('% signed\n')]);
  const replaced = await em.contracts.uploadDocument(draft.id, new Blob([signed]));
  assert.deepEqual([replaced.document.name, replaced.document.size, replaced.document.sha256], ['document.pdf', signed.length, sha256(signed)]);
  assert.deepEqual((await em.contracts.downloadDocument(draft.id)).bytes, signed);

  // 5. Accepted: the customer exists, with the contract's id and items.
  const { contract, customer } = await em.contracts.accept(draft.id);
  assert.deepEqual([contract.id, contract.status, contract.customerId], [draft.id, 'accepted', customer.id]);
  assert.ok(Date.parse(contract.acceptedAt) > 0);
  assert.match(customer.id, /^cus_/);
  assert.deepEqual(
    [customer.name, customer.email, customer.externalId, customer.autoSend, customer.contractId],
    ['Acme Inc', 'ap@acme.test', externalId, true, draft.id],
  );
  assert.deepEqual(await em.customers.get(customer.id), customer);
  const items = (await em.items.list(customer.id)).data;
  assert.deepEqual(
    items.map((i) => [i.customerId, i.name, i.kind, i.metricCode, i.price.model]),
    [
      [customer.id, 'OCR pages', 'usage', code, 'graduated'],
      [customer.id, 'Platform fee', 'fixed', null, 'fixed'],
    ],
  );

  // 6. Only once: a contract no longer draft neither changes nor is accepted again.
  assert.deepEqual(await failure(em.contracts.accept(draft.id)), ['contract_not_draft', 409]);
  assert.deepEqual(await failure(em.contracts.update(draft.id, { autoSend: false })), ['contract_not_draft', 409]);
  assert.deepEqual(await failure(em.contracts.uploadDocument(draft.id, PDF)), ['contract_not_draft', 409]);
  assert.deepEqual(await failure(em.contracts.cancel(draft.id)), ['contract_not_draft', 409]);
  assert.deepEqual((await em.contracts.downloadDocument(draft.id)).bytes, signed, 'the document stays');

  // 7. A second contract, canceled; without a document.
  const other = await em.contracts.create(input);
  assert.deepEqual(await failure(em.contracts.downloadDocument(other.id)), ['not_found', 404]);
  const canceled = await em.contracts.cancel(other.id);
  assert.equal(canceled.status, 'canceled');
  assert.ok(Date.parse(canceled.canceledAt) > 0);
  assert.deepEqual(await failure(em.contracts.accept(other.id)), ['contract_not_draft', 409]);
  assert.deepEqual(await failure(em.contracts.get(`ctr_${'0'.repeat(26)}`)), ['not_found', 404]);

  // 8. A draft past its expiry is `expired` and cannot be accepted; a patch clearing
  //    `expiresAt` makes it a draft again.
  const soon = await em.contracts.create({ ...input, expiresAt: fromNow(3_000) });
  const deadline = Date.now() + 20_000;
  while ((await em.contracts.get(soon.id)).status !== 'expired') {
    assert.ok(Date.now() < deadline, 'the contract never expired');
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(await failure(em.contracts.accept(soon.id)), ['contract_expired', 409]);
  assert.ok((await em.contracts.list({ status: 'expired', limit: 500 })).data.some((c) => c.id === soon.id));
  const renewed = await em.contracts.update(soon.id, { expiresAt: null });
  assert.deepEqual([renewed.status, renewed.expiresAt], ['draft', null]);
  assert.equal((await em.contracts.accept(soon.id)).contract.status, 'accepted');

  // 9. Lists by status, oldest first, page by page.
  const ids = async (status) => {
    const out = [];
    for await (const c of em.contracts.listAll({ status, limit: 1 })) out.push(c.id);
    return out;
  };
  const [accepted, canceledIds, drafts] = [await ids('accepted'), await ids('canceled'), await ids('draft')];
  assert.ok(accepted.includes(draft.id) && !accepted.includes(other.id));
  assert.ok(canceledIds.includes(other.id) && !canceledIds.includes(draft.id));
  assert.ok(!drafts.includes(draft.id) && !drafts.includes(other.id));
  const page = await em.contracts.list({ status: 'canceled', limit: 500 });
  assert.equal(page.nextCursor, null);
  assert.ok(page.data.every((c) => c.status === 'canceled'));
  const all = await em.contracts.list({ limit: 500 });
  const order = all.data.map((c) => c.id);
  assert.ok(order.indexOf(draft.id) < order.indexOf(other.id), 'oldest first');
  await em.shutdown();
});

test('usage by day, and the logs of the events ingest refused', NEEDS_SERVER, async () => {
  const em = secretClient();
  const code = `daily_${suffix()}`;
  const eventName = `ev_${suffix()}`;
  await em.metrics.create({ code, name: 'Daily', eventName, aggregation: 'sum' });
  const customer = await em.customers.create({ name: 'Daily Corp', email: 'ap@daily.test' });
  await em.items.create(customer.id, { name: 'Pages', kind: 'usage', metricCode: code, price: { model: 'per_unit', unitAmount: '0.01' } });
  em.track({ customerId: customer.id, eventName, value: '12' });
  em.track({ customerId: customer.id, eventName, value: 0.5 });
  const flushed = await em.flush();
  assert.deepEqual([flushed.accepted, flushed.rejected, flushed.failed], [2, [], []]);

  // One point per UTC day of the period, today's holding the two events.
  const daily = await em.usage.daily(customer.id);
  assert.equal(daily.customerId, customer.id);
  const series = daily.metrics.find((m) => m.code === code);
  assert.deepEqual([series.eventName, series.aggregation], [eventName, 'sum']);
  const start = Date.parse(daily.period.start);
  const days = (Date.parse(daily.period.end) - start) / 86_400_000;
  assert.deepEqual(
    series.days.map((d) => d.date),
    Array.from({ length: days }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10)),
  );
  const today = new Date().toISOString().slice(0, 10);
  for (const d of series.days) {
    assert.deepEqual([d.quantity, d.eventCount], d.date === today ? ['12.5', 2] : ['0', 0], d.date);
  }
  assert.deepEqual(await em.usage.daily(customer.id, { at: new Date(start) }), daily);

  // Refused events, sent past the SDK's own checks: one in the future for this customer,
  // one for a customer that does not exist (the account's log).
  const future = { idempotency_key: randomUUID(), customer_id: customer.id, event_name: eventName, value: 1, timestamp: fromNow(3_600_000) };
  const stranger = { idempotency_key: randomUUID(), customer_id: `cus_${'0'.repeat(26)}`, event_name: eventName };
  const res = await fetch(`${BASE_URL}/v1/usage/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${INGEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ events: [future, stranger] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await res.json()).rejected, 2);

  const mine = await em.rejections.list({ customerId: customer.id });
  assert.equal(mine.nextCursor, null);
  assert.equal(mine.data.length, 1);
  const [r] = mine.data;
  assert.ok(Date.parse(r.receivedAt) > 0);
  assert.deepEqual(
    { ...r, receivedAt: undefined, message: undefined },
    {
      receivedAt: undefined,
      idempotencyKey: future.idempotency_key,
      customerId: customer.id,
      eventName,
      code: 'timestamp_in_future',
      message: undefined,
      field: 'timestamp',
      // As sent: the wire's names, not converted.
      event: future,
    },
  );
  const account = await em.rejections.list({ limit: 100 });
  const theirs = account.data.find((x) => x.idempotencyKey === stranger.idempotency_key);
  assert.deepEqual([theirs?.code, theirs?.customerId], ['unknown_customer', stranger.customer_id]);
  // (The server keeps this one's event as it read it, with `value` and `properties` filled
  // in, rather than as sent; its identifying fields are the ones sent.)
  const { idempotency_key, customer_id, event_name } = theirs.event;
  assert.deepEqual({ idempotency_key, customer_id, event_name }, stranger);
  assert.ok(!account.data.some((x) => x.idempotencyKey === future.idempotency_key), 'a known customer’s are its own');
  await em.shutdown();
});

// Without a server: a scripted fetch that keeps bodies as bytes.

/**
 * A fetch that plays `script(call, n)`: it returns `{ status, body, headers }` (a body of
 * bytes is sent as they are) or throws. `calls[i]` has `method`, `url`, `headers` and
 * `body` (a string, the bytes sent, or undefined).
 */
function scripted(script) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ method: init.method, url, headers: init.headers, body: init.body });
    const r = await script(calls.at(-1), calls.length - 1);
    const body = r.body instanceof Uint8Array || typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    return new Response(body, { status: r.status ?? 200, headers: r.headers ?? {} });
  };
  return { fetch, calls };
}

function stubClient(fetch) {
  return new Edgemeter({ apiKey: 'sk_test', baseUrl: 'https://billing.example.com', fetch, retryBaseMs: 1 });
}

const wireContract = (status = 'draft', extra = {}) => ({
  id: 'ctr_1',
  status,
  customer: { name: 'Acme', email: 'ap@acme.test', external_id: null, currency: 'USD' },
  items: [{ name: 'Fee', kind: 'fixed', metric_code: null, price: { model: 'fixed', amount: '9' }, minimum: null }],
  document: null,
  customer_id: null,
  ...extra,
});

test('a document is PUT as its raw bytes, from a Uint8Array, an ArrayBuffer, a Buffer or a Blob', async () => {
  const { fetch, calls } = scripted(() => ({ body: wireContract('draft', { document: { name: 'msa.pdf', content_type: 'application/pdf', size: 3, sha256: 'ab', uploaded_at: 'T' } }) }));
  const em = stubClient(fetch);
  const bytes = new Uint8Array([0x25, 0x50, 0x44]);
  const contract = await em.contracts.uploadDocument('ctr_1', bytes, { filename: 'my msa.pdf' });
  assert.deepEqual(contract.document, { name: 'msa.pdf', contentType: 'application/pdf', size: 3, sha256: 'ab', uploadedAt: 'T' });
  await em.contracts.uploadDocument('ctr_1', bytes.buffer);
  await em.contracts.uploadDocument('ctr_1', Buffer.from(bytes));
  await em.contracts.uploadDocument('ctr_1', new Blob([bytes]));
  // A view on part of a larger buffer sends its own bytes only.
  await em.contracts.uploadDocument('ctr_1', new Uint8Array([9, 0x25, 0x50, 0x44, 9]).subarray(1, 4));
  assert.deepEqual(calls.map((c) => [c.method, c.url]), [
    ['PUT', 'https://billing.example.com/v1/contracts/ctr_1/document?filename=my+msa.pdf'],
    ...Array(4).fill(['PUT', 'https://billing.example.com/v1/contracts/ctr_1/document']),
  ]);
  for (const c of calls) {
    assert.deepEqual(c.body, bytes);
    assert.equal(c.headers['content-type'], 'application/octet-stream');
    assert.equal(c.headers['idempotency-key'], undefined, 'a PUT is idempotent by nature');
  }
  // A copy is sent: changing the caller's array afterwards changes nothing.
  assert.notEqual(calls[0].body, bytes);

  // Refused before any request: not bytes, over 10 MiB, an empty file name.
  const none = scripted(() => assert.fail('no request expected'));
  const local = stubClient(none.fetch);
  assert.deepEqual(await failure(local.contracts.uploadDocument('ctr_1', 'a string')), ['invalid_request', undefined]);
  assert.deepEqual(await failure(local.contracts.uploadDocument('ctr_1', new Uint8Array(10 * 1024 * 1024 + 1))), [
    'payload_too_large',
    undefined,
  ]);
  assert.deepEqual(await failure(local.contracts.uploadDocument('ctr_1', bytes, { filename: '' })), ['invalid_request', undefined]);
});

test('a download gives the bytes, their type and the file name; its errors are JSON as usual', async () => {
  const bytes = new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x00, 0xff]);
  const answers = [
    { body: bytes, headers: { 'content-type': 'application/pdf', 'content-disposition': 'attachment; filename="msa.pdf"' } },
    { body: bytes, headers: { 'content-type': 'image/png', 'content-disposition': `attachment; filename="x.png"; filename*=UTF-8''%C3%A9t%C3%A9.png` } },
    { status: 404, body: { error: { code: 'not_found', message: 'no document' } } },
  ];
  const { fetch, calls } = scripted((_, n) => answers[n]);
  const em = stubClient(fetch);
  assert.deepEqual(await em.contracts.downloadDocument('ctr_1'), { contentType: 'application/pdf', filename: 'msa.pdf', bytes });
  assert.equal((await em.contracts.downloadDocument('ctr_1')).filename, 'été.png');
  assert.deepEqual(await failure(em.contracts.downloadDocument('ctr_1')), ['not_found', 404]);
  assert.deepEqual(calls.map((c) => [c.method, c.url, c.body]), Array(3).fill(['GET', 'https://billing.example.com/v1/contracts/ctr_1/document', undefined]));
});

test("an invalid contract's errors are listed with their field paths in camelCase", async () => {
  const problems = [
    { code: 'invalid_field', message: 'not a decimal', field: 'items[0].price.tiers[1].unit_amount' },
    { code: 'missing_field', message: '`email` is required', field: 'customer.email' },
    { code: 'unknown_metric', message: 'no metric', field: 'items[1].metric_code' },
    { code: 'invalid_field', message: 'in the past', field: 'invoice_schedule.anchor' },
  ];
  const { fetch, calls } = scripted(() => ({
    status: 400,
    body: { error: { code: 'invalid_contract', message: '4 problems in the contract', field: problems[0].field, errors: problems } },
  }));
  const e = await rejection(
    stubClient(fetch).contracts.create({ customer: { name: 'Acme', externalId: 'x' }, items: [], invoiceSchedule: { anchor: '2020-01-01' } }),
  );
  assert.deepEqual([e.code, e.status, e.field, e.message], ['invalid_contract', 400, 'items[0].price.tiers[1].unitAmount', '4 problems in the contract']);
  assert.deepEqual(e.errors, [
    { code: 'invalid_field', message: 'not a decimal', field: 'items[0].price.tiers[1].unitAmount' },
    { code: 'missing_field', message: '`email` is required', field: 'customer.email' },
    { code: 'unknown_metric', message: 'no metric', field: 'items[1].metricCode' },
    { code: 'invalid_field', message: 'in the past', field: 'invoiceSchedule.anchor' },
  ]);
  assert.deepEqual(JSON.parse(calls[0].body), { customer: { name: 'Acme', external_id: 'x' }, items: [], invoice_schedule: { anchor: '2020-01-01' } });
  assert.equal(calls.length, 1, 'a 400 is not retried');
  // Other errors have no list.
  const plain = scripted(() => ({ status: 409, body: { error: { code: 'contract_not_draft', message: 'accepted' } } }));
  assert.equal((await rejection(stubClient(plain.fetch).contracts.update('ctr_1', { autoSend: true }))).errors, undefined);
});

test('a retried accept whose first attempt went through returns the contract and its customer', async () => {
  const accepted = wireContract('accepted', { customer_id: 'cus_1' });
  const steps = [
    () => {
      throw new TypeError('socket hang up'); // accepted by the server, the answer lost
    },
    () => ({ status: 409, body: { error: { code: 'contract_not_draft', message: 'accepted' } } }),
    () => ({ body: accepted }),
    () => ({ body: { id: 'cus_1', contract_id: 'ctr_1' } }),
  ];
  const { fetch, calls } = scripted((_, n) => steps[n]());
  const result = await stubClient(fetch).contracts.accept('ctr_1', { idempotencyKey: 'accept-ctr_1' });
  assert.deepEqual([result.contract.status, result.contract.customerId, result.customer], ['accepted', 'cus_1', { id: 'cus_1', contractId: 'ctr_1' }]);
  assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), [
    'POST https://billing.example.com/v1/contracts/ctr_1/accept',
    'POST https://billing.example.com/v1/contracts/ctr_1/accept',
    'GET https://billing.example.com/v1/contracts/ctr_1',
    'GET https://billing.example.com/v1/customers/cus_1',
  ]);
  assert.deepEqual([calls[0].headers['idempotency-key'], calls[1].headers['idempotency-key']], ['accept-ctr_1', 'accept-ctr_1']);

  // A retried cancel that finds the contract accepted is still a conflict.
  const cancelSteps = [() => ({ status: 503, body: '' }), steps[1], () => ({ body: accepted })];
  const c = scripted((_, n) => cancelSteps[n]());
  assert.deepEqual(await failure(stubClient(c.fetch).contracts.cancel('ctr_1')), ['contract_not_draft', 409]);
});

test('the read routes: contracts by status, usage by day, a customer’s and the account’s rejections', async () => {
  const rejected = {
    received_at: 'T',
    idempotency_key: 'k',
    customer_id: null,
    event_name: 'ev',
    code: 'unknown_customer',
    message: 'm',
    field: 'customer_id',
    event: { idempotency_key: 'k', customer_id: 'cus_x', event_name: 'ev', properties: { plan_tier: 'pro' } },
  };
  const { fetch, calls } = scripted(() => ({ body: { data: [rejected], next_cursor: null } }));
  const em = stubClient(fetch);
  const page = await em.rejections.list({ limit: 10 });
  assert.deepEqual(page.data[0], {
    receivedAt: 'T',
    idempotencyKey: 'k',
    customerId: null,
    eventName: 'ev',
    code: 'unknown_customer',
    message: 'm',
    field: 'customer_id',
    event: rejected.event,
  });
  await em.rejections.list({ customerId: 'cus_1', cursor: 'c2' });
  await em.usage.daily('cus_1', { at: new Date('2026-12-05T10:00:00+01:00') });
  await em.usage.daily('cus_1');
  await em.contracts.list({ status: 'accepted', limit: 2 });
  assert.deepEqual(calls.map((c) => c.url), [
    'https://billing.example.com/v1/rejections?limit=10',
    'https://billing.example.com/v1/customers/cus_1/rejections?cursor=c2',
    'https://billing.example.com/v1/customers/cus_1/usage/daily?at=2026-12-05T09%3A00%3A00.000Z',
    'https://billing.example.com/v1/customers/cus_1/usage/daily',
    'https://billing.example.com/v1/contracts?limit=2&status=accepted',
  ]);
});
