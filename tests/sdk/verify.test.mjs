// Checking an invoice with the JS SDK (API.md, "Checking an invoice"): a real final
// invoice and its events fetched with the typed client and verified by `verifyInvoice`
// (the server's own core, in wasm); one changed event is named with its lines; a
// simulation bills the same lines; and `price()` quotes equal the server's lines for
// random prices and quantities (one simulation pricing 100 random items).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, Edgemeter, NEEDS_SERVER, SECRET_KEY } from './helpers.mjs';
import { EdgemeterError as CheckError, price, verifyInvoice } from '../../sdk/pkg/verify.js';

const suffix = () => Math.random().toString(36).slice(2, 10);

function secretClient() {
  return new Edgemeter({ apiKey: SECRET_KEY, baseUrl: BASE_URL });
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

async function collect(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}

test('a final invoice verifies from its events, and a changed event is named', NEEDS_SERVER, async () => {
  const em = secretClient();
  // Final at its period's end (graceHours 0), as in api.test.mjs: no other test's
  // customer has a period final then.
  const customer = await em.customers.create({
    name: 'Checker',
    email: 'ap@checker.test',
    invoiceSchedule: { interval: 'week', anchor: nextMidnightDate(), graceHours: 0 },
  });
  const eventName = `calls_${suffix()}`;
  const sum = await em.metrics.create({ code: `calls_${suffix()}`, name: 'Calls', eventName, aggregation: 'sum' });
  const eu = await em.metrics.create({
    code: `eu_${suffix()}`,
    name: 'EU calls',
    eventName,
    aggregation: 'count',
    filters: { region: ['eu'] },
  });
  const specs = [
    { name: 'Calls', kind: 'usage', metricCode: sum.code, price: { model: 'per_unit', unitAmount: '0.0025' } },
    {
      name: 'EU calls',
      kind: 'usage',
      metricCode: eu.code,
      minimum: '2.00',
      price: { model: 'graduated', tiers: [{ upTo: 2, unitAmount: '1.10', flatAmount: '0.50' }, { upTo: null, unitAmount: '0.333' }] },
    },
    { name: 'Platform', kind: 'fixed', price: { model: 'fixed', amount: '10.00' } },
  ];
  for (const spec of specs) await em.items.create(customer.id, spec);

  const keys = [
    em.track({ customerId: customer.id, eventName, value: '12.5', properties: { region: 'eu', user: 'ada' } }),
    em.track({ customerId: customer.id, eventName, value: 3, properties: { region: 'us', attempt: 2 } }),
    em.track({ customerId: customer.id, eventName, value: '0.125', properties: { region: 'eu', ok: true }, timestamp: new Date(Date.now() - 60_000) }),
    em.track({ customerId: customer.id, eventName, value: 7, properties: { region: 'eu' } }),
  ];
  const flushed = await em.flush();
  assert.deepEqual([flushed.accepted, flushed.rejected, flushed.failed], [4, [], []]);
  await em.usage.void({ idempotencyKey: keys[3], customerId: customer.id });

  const current = await em.usage.get(customer.id);
  await runInvoicingAt(Date.parse(current.period.end) + 60_000);
  const [invoice] = (await em.invoices.list({ customerId: customer.id })).data;
  assert.equal(invoice.status, 'pending_approval');
  assert.match(invoice.usageDigest, /^[0-9a-f]{64}$/);
  assert.match(invoice.lines[0].usage.eventsDigest, /^[0-9a-f]{64}$/);

  // The README's check: the invoice, its events, the items and the metrics.
  const events = await collect(em.invoices.eventsAll(invoice.id));
  const items = await em.items.list(customer.id);
  const metrics = await collect(em.metrics.listAll());
  assert.deepEqual(events.map((e) => e.idempotencyKey).sort(), keys.slice(0, 3).sort());
  assert.match(events[0].contentHash, /^[0-9a-f]{32}$/);
  assert.deepEqual(verifyInvoice(invoice, events, items, metrics), []);

  const page = await em.invoices.events(invoice.id, { limit: 1 });
  assert.equal(page.data.length, 1);
  assert.equal(typeof page.nextCursor, 'string');

  // One EU call's value changed: the event, both lines that counted it and the digest.
  const changed = events.map((e) => ({ ...e }));
  const i = changed.findIndex((e) => e.properties.region === 'eu');
  changed[i].value = '99';
  const diffs = verifyInvoice(invoice, changed, items, metrics);
  const named = (name, field) => diffs.some((d) => d.name === name && d.field === field);
  assert.ok(diffs.some((d) => d.idempotencyKey === changed[i].idempotencyKey && d.field === 'contentHash'), JSON.stringify(diffs));
  assert.ok(named('Calls', 'quantity') && named('Calls', 'amount') && named('Calls', 'usage.eventsDigest'), JSON.stringify(diffs));
  assert.ok(named('EU calls', 'usage.eventsDigest'), JSON.stringify(diffs));
  assert.ok(!diffs.some((d) => d.name === 'Platform'));
  assert.ok(diffs.some((d) => d.field === 'usageDigest'));

  // A simulation under the same items bills the same lines and digests.
  const sim = await em.customers.simulate(customer.id, { items: specs, periodStart: invoice.periodStart });
  assert.equal(sim.status, 'simulated');
  assert.equal(sim.total, invoice.total);
  assert.equal(sim.usageDigest, invoice.usageDigest);
  assert.deepEqual(
    sim.lines.map(({ itemId, ...rest }) => rest),
    invoice.lines.map(({ itemId, ...rest }) => rest),
  );
});

test('price() quotes tier by tier and rounds once, half-even, to the currency', () => {
  assert.equal(price({ model: 'per_unit', unitAmount: '0.05' }, '85.7').amount, '4.28');
  assert.equal(price({ model: 'per_unit', unitAmount: '0.05' }, 85, { currency: 'JPY' }).amount, '4');
  assert.equal(price({ model: 'per_unit', unitAmount: '0.05' }, 85.7).quantity, '85.7');
  const graduated = price(
    { model: 'graduated', tiers: [{ upTo: 1000, unitAmount: '0.05' }, { upTo: null, unitAmount: '0.03', flatAmount: '1' }] },
    '1500',
  );
  assert.deepEqual(
    graduated.tiers.map((t) => [t.upTo, t.units, t.subtotal]),
    [['1000', '1000', '50.00'], [null, '500', '16.00']],
  );
  assert.equal(graduated.amount, '66.00');
  const min = price({ model: 'package', packageSize: 100, packageAmount: '5' }, '101', { minimum: '12.5' });
  assert.deepEqual([min.packages, min.subtotalExact, min.minimumApplied, min.amount], ['2', '10.00', true, '12.50']);
  assert.throws(
    () => price({ model: 'per_unit', unitAmount: '-1' }, '1'),
    (e) => e instanceof CheckError && e.code === 'invalid_field' && e.field === 'price.unitAmount',
  );
  assert.throws(() => price({ model: 'per_unit', unitAmount: '1' }, '-1'), (e) => e.code === 'invalid_field' && e.field === 'quantity');
});

/** A seeded generator (mulberry32), so a failure can be replayed with its seed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('price() equals the server\'s line for random prices and quantities', NEEDS_SERVER, async () => {
  const seed = Number(process.env.EDGEMETER_QUOTE_SEED ?? Date.now() % 2 ** 31);
  const r = rng(seed);
  const below = (n) => Math.floor(r() * n);
  const decimal = (digits, scale) => {
    const s = below(scale + 1);
    const n = BigInt(below(10 ** Math.min(digits + s, 15)));
    const text = (n / 10n ** BigInt(s)).toString() + (s ? `.${(n % 10n ** BigInt(s)).toString().padStart(s, '0')}` : '');
    return s ? text.replace(/\.?0+$/, '') || '0' : text;
  };
  const tiers = () => {
    const n = 1 + below(4);
    let up = 0;
    return Array.from({ length: n }, (_, i) => {
      up += 1 + below(500);
      return { upTo: i + 1 < n ? up : null, unitAmount: decimal(2, 6), ...(below(2) ? { flatAmount: decimal(2, 2) } : {}) };
    });
  };
  const randomPrice = () =>
    [
      () => ({ model: 'per_unit', unitAmount: decimal(3, 12) }),
      () => ({ model: 'package', packageSize: 1 + below(1000), packageAmount: decimal(3, 4) }),
      () => ({ model: 'graduated', tiers: tiers() }),
      () => ({ model: 'volume', tiers: tiers() }),
    ][below(4)]();

  const em = secretClient();
  const currency = ['USD', 'JPY', 'KWD'][below(3)];
  // A yearly schedule: no cron run of another test finalizes this customer's period.
  const customer = await em.customers.create({ name: 'Quotes', email: 'q@quotes.test', currency, invoiceSchedule: { interval: 'year' } });
  const metrics = [];
  for (let m = 0; m < 5; m++) {
    const eventName = `q_${suffix()}`;
    const metric = await em.metrics.create({ code: `q_${suffix()}`, name: 'q', eventName, aggregation: 'sum' });
    const quantity = below(5) ? decimal(6, 9) : '0';
    em.track({ customerId: customer.id, eventName, value: quantity });
    metrics.push({ code: metric.code, quantity });
  }
  assert.equal((await em.flush()).accepted, 5);
  const cases = Array.from({ length: 100 }, () => ({
    m: below(5),
    price: randomPrice(),
    minimum: below(3) ? undefined : decimal(3, 2),
  }));
  const items = cases.map((c, i) => ({
    name: `q${i}`,
    kind: 'usage',
    metricCode: metrics[c.m].code,
    price: c.price,
    ...(c.minimum ? { minimum: c.minimum } : {}),
  }));
  const sim = await em.customers.simulate(customer.id, { items });
  cases.forEach((c, i) => {
    const { itemId, name, kind, usage, ...line } = sim.lines[i];
    const quote = price(c.price, metrics[c.m].quantity, { currency, minimum: c.minimum });
    assert.deepEqual(quote, line, `seed ${seed}: ${JSON.stringify(c)} × ${metrics[c.m].quantity} ${currency}`);
  });
});
