// A short end-to-end check of a running edgemeter, local or deployed (README "Deploy to
// Cloudflare"): `make smoke BASE_URL=… SECRET_KEY=… INGEST_KEY=…`. Plain Node 20 (fetch),
// nothing to install. `make test` runs it against `wrangler dev`
// (tests/tests/operations.rs), so it is known to work before anyone points it at
// production.
//
// What it leaves behind, since the API deletes nothing: one metric shared by every run
// (`edgemeter_smoke`, created once), and per run one customer (`edgemeter smoke …`,
// external_id `edgemeter-smoke`) with one item priced 0, whose events it voids at the end.
// The customer is billed yearly from the day of the run, so it adds one invoice a year, of
// 0.00, held for approval (void it from the dashboard).
//
// Keys come from the environment and are sent only as `Authorization` headers to
// BASE_URL; nothing here prints them, nor the customer token it mints.

import { randomUUID } from 'node:crypto';

const METRIC = 'edgemeter_smoke';
const base = (process.env.BASE_URL || '').replace(/\/+$/, '');
const secretKey = process.env.SECRET_KEY || '';
const ingestKey = process.env.INGEST_KEY || '';
// On Cloudflare a new metric reaches ingest through KV, eventually (up to about a minute).
const METRIC_WAIT_MS = Number(process.env.SMOKE_METRIC_WAIT_MS || 90_000);

if (!/^https?:\/\/./.test(base) || !secretKey || !ingestKey) {
  console.error('usage: make smoke BASE_URL=https://edgemeter.<you>.workers.dev SECRET_KEY=sk_… INGEST_KEY=pk_…');
  process.exit(2);
}

class Failed extends Error {}

/** One API call; answers `{status, body, headers}` (body parsed when JSON). */
async function api(method, path, { key, body, idempotencyKey } = {}) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  let res;
  try {
    res = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new Failed(`${method} ${path}: ${e.cause?.message || e.message}`);
  }
  const text = await res.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: reported below if a step needed it.
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** Fails the step unless `r` has `status`; shows the answer (never a key). */
function expect(r, status, what) {
  if (r.status !== status) {
    throw new Failed(`${what}: expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
  }
  return r.body;
}

function check(ok, message) {
  if (!ok) throw new Failed(message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let failures = 0;
async function step(name, run) {
  const started = Date.now();
  try {
    const note = await run();
    console.log(`ok    ${name} (${Date.now() - started} ms)${note ? `: ${note}` : ''}`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL  ${name}: ${e instanceof Failed ? e.message : e.stack}`);
    throw e;
  }
}

const today = new Date().toISOString().slice(0, 10);
const sk = { key: secretKey };
let customer;
const keys = [randomUUID(), randomUUID(), randomUUID()];
const event = (key, value) => ({ idempotency_key: key, customer_id: customer, event_name: METRIC, value });

async function main() {
  await step('health', async () => {
    const body = expect(await api('GET', '/healthz'), 200, 'GET /healthz');
    check(body?.status === 'ok', `GET /healthz answered ${JSON.stringify(body)}`);
  });

  await step('keys', async () => {
    expect(await api('GET', '/v1/customers?limit=1'), 401, 'no key');
    expect(await api('GET', '/v1/customers?limit=1', sk), 200, 'secret key');
    const r = await api('GET', '/v1/customers?limit=1', { key: ingestKey });
    check(r.status === 403, `the ingest key read customers (${r.status}): is INGEST_KEY a secret key?`);
  });

  await step('metric', async () => {
    const def = { code: METRIC, name: 'edgemeter smoke test', event_name: METRIC, aggregation: 'sum' };
    const r = await api('POST', '/v1/billing/metrics', { ...sk, body: def, idempotencyKey: randomUUID() });
    if (r.status === 201) return 'created';
    check(r.status === 409 && r.body?.error?.code === 'duplicate_metric_code', `create: ${r.status} ${r.text}`);
    const m = expect(await api('GET', `/v1/billing/metrics/${METRIC}`, sk), 200, 'get');
    check(m.event_name === METRIC && m.aggregation === 'sum', `${METRIC} exists with another definition`);
    return 'reused';
  });

  await step('customer', async () => {
    const body = {
      name: `edgemeter smoke ${new Date().toISOString()}`,
      email: 'smoke@example.com',
      external_id: 'edgemeter-smoke',
      invoice_schedule: { interval: 'year', anchor: today },
    };
    const c = expect(
      await api('POST', '/v1/customers', { ...sk, body, idempotencyKey: randomUUID() }),
      201,
      'POST /v1/customers',
    );
    check(/^cus_/.test(c.id), `customer id ${c.id}`);
    customer = c.id;
    return customer;
  });

  await step('item', async () => {
    const body = { name: 'Smoke events', kind: 'usage', metric_code: METRIC, price: { model: 'per_unit', unit_amount: '0' } };
    const item = expect(
      await api('POST', `/v1/customers/${customer}/items`, { ...sk, body, idempotencyKey: randomUUID() }),
      201,
      'POST …/items',
    );
    check(item.event_name === METRIC, `item ${JSON.stringify(item)}`);
  });

  await step('ingest with a duplicate', async () => {
    const batch = { events: [event(keys[0], '2.5'), event(keys[0], '2.5'), event(keys[1], '0.25')] };
    const deadline = Date.now() + METRIC_WAIT_MS;
    for (;;) {
      const r = await api('POST', '/v1/usage/ingest', { key: ingestKey, body: batch, idempotencyKey: randomUUID() });
      const b = expect(r, 200, 'POST /v1/usage/ingest');
      const unknown = b.results.every((e) => e.error?.code === 'unknown_event_name');
      if (unknown && Date.now() < deadline) {
        await sleep(3_000); // the metric has not reached this location's KV yet
        continue;
      }
      check(
        b.accepted === 2 && b.duplicates === 1 && b.rejected === 0,
        `expected 2 accepted, 1 duplicate: ${r.text.slice(0, 500)}`,
      );
      const again = expect(
        await api('POST', '/v1/usage/ingest', { key: ingestKey, body: batch, idempotencyKey: randomUUID() }),
        200,
        'the batch again',
      );
      check(again.accepted === 0 && again.duplicates === 3, `a retry was counted: ${JSON.stringify(again)}`);
      return `request ${r.headers.get('x-request-id')}`;
    }
  });

  await step('customer token', async () => {
    const t = expect(
      await api('POST', '/v1/tokens', { ...sk, body: { customer_id: customer, ttl_seconds: 300 }, idempotencyKey: randomUUID() }),
      201,
      'POST /v1/tokens',
    );
    check(/^ct_/.test(t.token) && t.customer_id === customer, 'a token for the customer');
    const other = 'cus_00000000000000000000000000';
    const batch = { events: [event(keys[2], 1), { ...event(randomUUID(), 1), customer_id: other }] };
    const b = expect(await api('POST', '/v1/usage/ingest', { key: t.token, body: batch }), 200, 'ingest with the token');
    check(
      b.accepted === 1 && b.results[1]?.error?.code === 'forbidden_customer',
      `the token: ${JSON.stringify({ accepted: b.accepted, second: b.results[1] })}`,
    );
  });

  await step('usage is exact', async () => {
    const u = expect(await api('GET', `/v1/customers/${customer}/usage`, sk), 200, 'GET …/usage');
    const m = u.metrics.find((x) => x.code === METRIC);
    check(m?.quantity === '3.75' && m.event_count === 3, `expected 3.75 over 3 events: ${JSON.stringify(m)}`);
  });

  await step('upcoming invoice', async () => {
    const inv = expect(await api('GET', `/v1/customers/${customer}/invoices/upcoming`, sk), 200, 'GET …/upcoming');
    const line = inv.lines?.find((l) => l.name === 'Smoke events');
    check(inv.status === 'upcoming' && line?.quantity === '3.75', `upcoming: ${JSON.stringify(inv).slice(0, 500)}`);
    check(inv.total === '0.00' || inv.total === '0', `the smoke item is free, total ${inv.total}`);
  });

  await step('clean-up: void the events', async () => {
    for (const key of keys) {
      const r = await api('POST', '/v1/usage/void', { ...sk, body: { idempotency_key: key, customer_id: customer } });
      check(expect(r, 200, 'POST /v1/usage/void').status === 'voided', `void ${key}: ${r.text}`);
    }
    const u = expect(await api('GET', `/v1/customers/${customer}/usage`, sk), 200, 'GET …/usage');
    const m = u.metrics.find((x) => x.code === METRIC);
    check(!m || (m.quantity === '0' && m.event_count === 0), `after the voids: ${JSON.stringify(m)}`);
  });
}

try {
  await main();
  console.log(`smoke passed against ${base}`);
} catch {
  console.log(`smoke FAILED against ${base} (${failures} step)`);
  process.exitCode = 1;
}
