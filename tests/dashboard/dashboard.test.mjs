// The dashboard in headless Chromium (Debian's, driven by playwright-core) against a real
// server, as a person uses it: sign in; create a contract with a graduated item, attach a
// PDF, fix the problems the form shows, accept it; see usage sent through the API on the
// customer page and in its chart; see an invalid event in the rejected-events logs; add a
// credit grant (after a refused amount) and see the live balance, void another; add an
// alert and see it fire, delete another; set a limit and see its bar with a reservation,
// release it, remove the limit; try another price beside the upcoming invoice; move the
// clock through the scheduled handler so the invoice is held, paid by the grant; approve
// it by clicking, through its confirmation step; check its state through the API.
//
// Run by `tests/tests/dashboard.rs`, which starts the server, makes the metric and passes
// both in EDGEMETER_DASHBOARD (JSON); it checks the invoice once more when this passes.
// Every page is saved at a laptop's (1366×768) and a phone's (390×844) width under the
// screenshot folder. Any console error or page error fails the run, except the API
// answers a step expects (Chromium logs each non-2xx fetch as a console error).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.env.EDGEMETER_DASHBOARD ?? 'null');
if (!cfg) {
  // Alone (`node --test tests/dashboard/`) there is no server: the Rust test runs this.
  test('the dashboard (run by `cargo test -p edgemeter-tests --test dashboard`)', { skip: 'EDGEMETER_DASHBOARD is not set' }, () => {});
} else {
  run(cfg);
}

function run(cfg) {
  // Flags from TOOLCHAIN.md: without the networking ones Chromium keeps dialling out.
  const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ];
  const LAPTOP = { width: 1366, height: 768 };
  const PHONE = { width: 390, height: 844 };
  const base = cfg.baseUrl;
  let browser;
  let page;
  /** Console and page errors nobody expected. */
  const problems = [];
  /** API failures the current step expects: `{ status, path }`, each allowed once. */
  let expected = [];

  before(async () => {
    await mkdir(cfg.screenshots, { recursive: true });
    // Playwright gives the browser a fresh profile of its own.
    browser = await chromium.launch({ executablePath: cfg.chromium, args: CHROMIUM_ARGS, timeout: 30_000 });
    const context = await browser.newContext({ viewport: LAPTOP, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const status = /status of (\d+)/.exec(m.text())?.[1];
      const url = m.location()?.url ?? '';
      const i = expected.findIndex((x) => String(x.status) === status && url.includes(x.path));
      if (i >= 0) expected.splice(i, 1);
      else problems.push(`console error: ${m.text()} (${url})`);
    });
  });

  after(async () => {
    await browser?.close();
  });

  /** Runs `fn` while the API answers listed are expected, and checks they came. */
  async function expecting(answers, fn) {
    expected = [...answers];
    await fn();
    await page.waitForTimeout(100);
    assert.deepEqual(expected, [], 'an expected API answer did not come');
  }

  /** Saves the page at both widths, and checks the phone's has no sideways scrolling. */
  async function shoot(name) {
    await page.evaluate(() => document.fonts?.ready);
    await page.screenshot({ path: join(cfg.screenshots, `${name}-laptop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(150); // the chart resizes itself to its box
    await page.screenshot({ path: join(cfg.screenshots, `${name}-phone.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${name}: the page is ${overflow}px wider than a phone`);
    await page.setViewportSize(LAPTOP);
  }

  /** The API, as a program (not the page) calls it. */
  async function api(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${cfg.secretKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    return { status: res.status, body: json };
  }

  const heading = (name) => page.getByRole('heading', { level: 1, name, exact: typeof name === 'string' });
  const nav = (name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });
  const state = {};

  test('signing in: a wrong key is refused, a secret key opens the customers', async () => {
    await page.goto(`${base}/`);
    assert.match(page.url(), /\/dashboard\/$/);
    await heading('Sign in').waitFor();
    await shoot('01-sign-in');
    await expecting([{ status: 401, path: '/v1/customers' }], async () => {
      await page.getByLabel('Secret key').fill('sk_not_a_key');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('This key is not valid here.').waitFor();
    });
    // From the keyboard: the key, then Enter.
    await page.getByLabel('Secret key').fill(cfg.secretKey);
    await page.getByLabel('Secret key').press('Enter');
    await heading('Customers').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('edgemeter.secretKey')), cfg.secretKey);
    await page.getByText(/No customers yet|customers/).first().waitFor();
    await shoot('02-customers');
  });

  test('a contract: the form shows each problem at its field, then saves, takes the PDF and is accepted', async () => {
    await page.getByRole('link', { name: 'New contract' }).click();
    await heading('New contract').waitFor();
    await page.getByLabel('Name', { exact: true }).first().fill(cfg.customerName);
    await page.getByLabel('Billing email').fill('billing-at-acme'); // not an address
    const item = page.locator('fieldset.item').first();
    await item.getByLabel('Name', { exact: true }).fill('OCR pages');
    await item.getByLabel('Metric').selectOption(cfg.metric);
    await item.getByLabel('Price model').selectOption('graduated');
    const tier = (n) => item.locator('fieldset.tier').nth(n);
    await tier(0).getByLabel('Up to (units)').fill('1000');
    await tier(0).getByLabel(/Unit amount/).fill('0,05'); // a comma: not a decimal
    await tier(1).getByLabel(/Unit amount/).fill('0.03');
    // The worked example: 1,500 units over the two tiers, exactly.
    await item.getByLabel('Example quantity').fill('1500');
    await item.getByText('Example: tier 1\'s unit amount is not a decimal.').waitFor();
    await tier(0).getByLabel(/Unit amount/).fill('0.05');
    await item.getByText('1500 units bill 65.00 USD.').waitFor();
    assert.equal(await tier(0).locator('output').textContent(), 'For 1500: 1000 units here, 50 USD');
    assert.equal(await tier(1).locator('output').textContent(), 'For 1500: 500 units here, 15 USD');
    await tier(0).getByLabel(/Unit amount/).fill('0,05'); // back to the mistake, for the server to find
    await page.getByLabel(/Attach/).setInputFiles({ name: 'msa.pdf', mimeType: 'application/pdf', buffer: pdf() });

    await expecting([{ status: 400, path: '/v1/contracts' }], async () => {
      await page.getByRole('button', { name: 'Save draft' }).click();
      await page.locator('#error-summary').waitFor();
    });
    const emailError = page.locator('#f-customer-email-error');
    const tierError = page.locator('#f-items-0-price-tiers-0-unit-amount-error');
    await emailError.waitFor();
    await tierError.waitFor();
    assert.equal(await page.getByLabel('Billing email').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.field), 'customer.email', 'focus moves to the first problem');
    await shoot('03-contract-form-errors');

    await page.getByLabel('Billing email').fill('billing@acme.test');
    await tier(0).getByLabel(/Unit amount/).fill('0.05');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved.').waitFor();
    state.contract = decodeURIComponent(/#\/contracts\/([^/?]+)/.exec(page.url())[1]);
    assert.match(state.contract, /^ctr_/);
    await page.getByText('msa.pdf').first().waitFor();
    const contract = await api('GET', `/v1/contracts/${state.contract}`);
    assert.equal(contract.body.status, 'draft');
    assert.equal(contract.body.document?.content_type, 'application/pdf');
    assert.equal(contract.body.document?.size, pdf().length);
    assert.deepEqual(contract.body.items[0].price.tiers.map((t) => t.unit_amount), ['0.05', '0.03']);
    await shoot('04-contract-draft');

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download' }).click();
    assert.equal((await download).suggestedFilename(), 'msa.pdf');

    await nav('Contracts').click();
    await heading('Contracts').waitFor();
    await page.getByRole('link', { name: state.contract }).waitFor();
    await shoot('05-contracts');
    await page.getByRole('link', { name: state.contract }).click();

    // Accepting asks first; Cancel keeps the draft.
    await page.getByRole('button', { name: 'Accept contract…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api('GET', `/v1/contracts/${state.contract}`)).body.status, 'draft');
    await page.getByRole('button', { name: 'Accept contract…' }).click();
    await shoot('06-contract-accept-dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Accept contract' }).click();
    await heading(cfg.customerName).waitFor();
    state.customer = decodeURIComponent(/#\/customers\/([^/?]+)/.exec(page.url())[1]);
    const accepted = await api('GET', `/v1/contracts/${state.contract}`);
    assert.equal(accepted.body.status, 'accepted');
    assert.equal(accepted.body.customer_id, state.customer);
  });

  test('usage sent through the API shows on the customer page and in its chart', async (t) => {
    if (!state.customer) return t.skip('needs the accepted contract');
    const events = [700, 500].map((value) => ({ idempotency_key: randomUUID(), customer_id: state.customer, event_name: cfg.eventName, value }));
    const r = await api('POST', '/v1/usage/ingest', { events });
    assert.equal(r.body.accepted, 2, JSON.stringify(r.body));
    await page.reload();
    const quantity = page.locator(`.quantity[data-metric="${cfg.metric}"]`);
    await quantity.waitFor();
    assert.equal(await quantity.textContent(), '1200');
    // The chart: uPlot's canvas, its legend, and the same numbers as a table.
    await page.locator('#usage .chart canvas').first().waitFor();
    await page.locator('#usage .u-legend').first().waitFor();
    await page.locator('#usage summary', { hasText: 'Show as a table' }).first().click();
    const today = new Date().toISOString().slice(0, 10);
    await page.locator('#usage .chart-table tr', { hasText: today }).getByText('1200 (2 events)').waitFor();
    await page.locator('#contract .badge-accepted').waitFor();
    await page.locator('#contract').getByText('msa.pdf').waitFor();
    // The signed document, previewed in the page (Chromium's PDF viewer in a blob: frame).
    await page.locator('#contract').getByRole('button', { name: 'Preview' }).click();
    await page.locator('#contract iframe.doc-frame').waitFor();
    await page.locator('#contract').getByRole('button', { name: 'Hide preview' }).click();
    await page.locator('#upcoming').getByText('OCR pages').waitFor();
  });

  test('an invalid event shows in the rejected-events logs with its code and field', async (t) => {
    if (!state.customer) return t.skip('needs the accepted contract');
    const future = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
    const r = await api('POST', '/v1/usage/ingest', { events: [
      { idempotency_key: randomUUID(), customer_id: state.customer, event_name: cfg.eventName, value: 3, timestamp: future },
      { idempotency_key: randomUUID(), customer_id: 'cus_nobody', event_name: cfg.eventName, value: 1 },
    ] });
    assert.equal(r.body.rejected, 2, JSON.stringify(r.body));
    await page.reload();
    const row = page.locator('#rejections tr', { hasText: 'timestamp_in_future' });
    await row.waitFor();
    await row.getByText('timestamp', { exact: true }).waitFor();
    await shoot('07-customer');
    await nav('Rejected events').click();
    await heading('Rejected events').waitFor();
    await page.locator('tr', { hasText: 'unknown_customer' }).first().waitFor();
    await shoot('08-rejections');
  });

  test('credit grants: the form shows a bad amount at its field, a grant pays the balance, another is voided', async (t) => {
    if (!state.customer) return t.skip('needs the accepted contract');
    await nav('Customers').click();
    await page.getByRole('link', { name: cfg.customerName }).click();
    await heading(cfg.customerName).waitFor();
    const credits = page.locator('#credits');
    const form = credits.getByRole('form', { name: 'Add a credit grant' });
    await form.waitFor();
    await expecting([{ status: 400, path: '/credit_grants' }], async () => {
      await form.getByLabel('Amount (USD)').fill('12.345'); // past the currency's cents
      await form.getByLabel('Name').fill('Prepaid');
      await form.getByRole('button', { name: 'Add grant' }).click();
      await form.locator('.field-error', { hasText: 'invalid_amount' }).waitFor();
    });
    assert.equal(await form.getByLabel('Amount (USD)').getAttribute('aria-invalid'), 'true');
    await form.getByLabel('Amount (USD)').fill('100.00');
    await form.getByRole('button', { name: 'Add grant' }).click();
    await credits.locator('tr', { hasText: 'Prepaid' }).locator('.grant-remaining', { hasText: '100.00 USD' }).waitFor();
    // 1,200 units so far bill 56.00: the open period would draw that from the grant.
    await page.locator('#balance .balance-available', { hasText: '44.00 USD' }).waitFor();
    await page.locator('#upcoming .amount-due', { hasText: '0.00 USD' }).waitFor();
    await page.locator('#upcoming .totals-credits', { hasText: 'Credit: Prepaid' }).getByText('− 56.00 USD').waitFor();

    await form.getByLabel('Amount (USD)').fill('10');
    await form.getByLabel('Name').fill('Promo');
    await form.getByLabel('Priority').fill('50');
    await form.getByRole('button', { name: 'Add grant' }).click();
    const promo = credits.locator('tr', { hasText: 'Promo' });
    await promo.waitFor();
    await page.locator('#balance .balance-available', { hasText: '54.00 USD' }).waitFor();
    await promo.getByRole('button', { name: 'Void Promo' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await promo.locator('.badge-active').waitFor();
    await promo.getByRole('button', { name: 'Void Promo' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Void grant' }).click();
    await promo.locator('.badge-voided').waitFor();
    await page.locator('#balance .balance-available', { hasText: '44.00 USD' }).waitFor();
    const grants = await api('GET', `/v1/customers/${state.customer}/credit_grants`);
    assert.deepEqual(grants.body.data.map((g) => [g.name, g.status]).sort(), [['Prepaid', 'active'], ['Promo', 'voided']]);
  });

  test('alerts: one added in the form fires when usage crosses it, another is deleted', async (t) => {
    if (!state.customer) return t.skip('needs the accepted contract');
    const alerts = page.locator('#alerts');
    const form = alerts.getByRole('form', { name: 'Add an alert' });
    await form.getByLabel('Name').fill('Past 1,300 pages');
    await form.getByLabel('When').selectOption('usage');
    await form.getByLabel('Metric').selectOption(cfg.metric);
    await form.getByLabel('Threshold').fill('1300');
    await form.getByRole('button', { name: 'Add alert' }).click();
    const pages = alerts.locator('tr', { hasText: 'Past 1,300 pages' });
    await pages.getByText('never').waitFor();
    // The metric field is for usage alerts only.
    await form.getByLabel('When').selectOption('credit_balance');
    assert.equal(await form.getByLabel('Metric').isVisible(), false);
    await form.getByLabel('Name').fill('Credit low');
    await form.getByLabel('Threshold').fill('5');
    await form.getByRole('button', { name: 'Add alert' }).click();
    const low = alerts.locator('tr', { hasText: 'Credit low' });
    await low.waitFor();

    const r = await api('POST', '/v1/usage/ingest', { events: [{ idempotency_key: randomUUID(), customer_id: state.customer, event_name: cfg.eventName, value: 200 }] });
    assert.equal(r.body.accepted, 1, JSON.stringify(r.body));
    await page.reload();
    await page.locator('#alerts tr', { hasText: 'Past 1,300 pages' }).locator('.alert-fired').waitFor();
    await page.locator('#alerts tr', { hasText: 'Credit low' }).getByRole('button', { name: 'Delete Credit low' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete alert' }).click();
    await page.locator('#alerts tr', { hasText: 'Credit low' }).waitFor({ state: 'detached' });
    const left = await api('GET', `/v1/customers/${state.customer}/alerts`);
    assert.deepEqual(left.body.data.map((a) => a.name), ['Past 1,300 pages']);
    assert.ok(left.body.data[0].last_triggered_at, 'the alert fired');
  });

  test('limits: set in the form, a bar per metric with what a reservation holds, released by clicking', async (t) => {
    if (!state.customer) return t.skip('needs the accepted contract');
    const limits = page.locator('#limits');
    const form = limits.getByRole('form', { name: 'Set a limit' });
    await form.getByLabel('Metric').selectOption(cfg.metric);
    await expecting([{ status: 400, path: '/limits/' }], async () => {
      await form.getByLabel('Most per period').fill('lots');
      await form.getByRole('button', { name: 'Set limit' }).click();
      await form.locator('.field-error').filter({ hasText: /\S/ }).waitFor();
    });
    await form.getByLabel('Most per period').fill('2000');
    await form.getByLabel('Mode').selectOption('hard');
    await form.getByRole('button', { name: 'Set limit' }).click();
    const bar = limits.locator(`.usage-bar[data-metric="${cfg.metric}"]`);
    await limits.getByText('1400 used of 2000; 600 left').waitFor();

    const held = await api('POST', `/v1/customers/${state.customer}/reservations`, { metric_code: cfg.metric, quantity: 250, idempotency_key: randomUUID() });
    assert.equal(held.status, 201, JSON.stringify(held.body));
    await page.reload();
    await page.locator('#limits').getByText('1400 used + 250 reserved of 2000; 350 left').waitFor();
    assert.match(await bar.getAttribute('aria-label'), /250 reserved/);
    const row = page.locator('#reservations tr', { hasText: held.body.id });
    await row.waitFor();
    await shoot('12-customer-money');
    await row.getByRole('button', { name: `Release ${held.body.id}` }).click();
    await page.locator('#reservations').getByText('No reservations held.').waitFor();
    await page.locator('#limits').getByText('1400 used of 2000; 600 left').waitFor();
    assert.equal((await api('GET', `/v1/customers/${state.customer}/entitlements/${cfg.metric}`)).body.reserved, '0');

    await page.locator('#limits').getByRole('button', { name: `Remove the limit on ${cfg.metric}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove limit' }).click();
    await page.locator('#limits').getByText('1400 used, no limit').waitFor();
  });

  test('try another price: the simulated invoice beside the upcoming one', async (t) => {
    if (!state.customer) return t.skip('needs the accepted contract');
    const sim = page.locator('#simulate');
    const item = sim.locator('fieldset.sim-item', { hasText: 'OCR pages' });
    await item.getByLabel('Price model').selectOption('per_unit');
    await item.getByLabel('Unit amount (USD)').fill('0.04');
    await sim.getByRole('button', { name: 'Simulate' }).click();
    // 1,400 units: 62.00 as billed (1,000 at 0.05, 400 at 0.03), 56.00 at 0.04 each.
    await sim.locator('#sim-actual .invoice-brief-total', { hasText: '62.00 USD' }).waitFor();
    await sim.locator('#sim-simulated .invoice-brief-total', { hasText: '56.00 USD' }).waitFor();
    await sim.getByText('Less than the real invoice by 6.00 USD.').waitFor();
    await shoot('13-customer-simulate');
    // Nothing changed: the item still bills its own price.
    const items = await api('GET', `/v1/items?customer_id=${state.customer}`);
    assert.equal(items.body.data[0].price.model, 'graduated');
  });

  test('the held invoice is approved by clicking, after a confirmation step', async (t) => {
    if (!state.customer) return t.skip('needs the accepted contract');
    // Past the period's end and its grace (24 hours by default): final, held for approval.
    const usage = await api('GET', `/v1/customers/${state.customer}/usage`);
    const end = Date.parse(usage.body.period.end);
    const cron = await fetch(`${base}/cdn-cgi/handler/scheduled?cron=0+*+*+*+*&time=${end + 25 * 3600 * 1000}`);
    assert.equal(cron.status, 200, await cron.text());

    await nav('Invoices').click();
    await heading('Invoices').waitFor();
    await page.getByRole('link', { name: /pending approval/i }).click();
    await heading(/Invoices: pending approval/i).waitFor();
    const row = page.locator(`tr:has(a[href="#/customers/${state.customer}"])`);
    await row.waitFor();
    await shoot('09-invoices');
    await row.getByRole('link', { name: /^INV-/ }).click();
    await heading(/^Invoice INV-/).waitFor();
    state.invoice = decodeURIComponent(/#\/invoices\/([^/?]+)/.exec(page.url())[1]);
    // 1,400 units: 1,000 at 0.05 and 400 at 0.03, paid by the 100.00 grant.
    await page.locator('tr.tier-row', { hasText: 'Tier 1' }).getByText('50.00 USD').waitFor();
    await page.locator('tr.tier-row', { hasText: 'Tier 2' }).getByText('12.00 USD').waitFor();
    await page.locator('.invoice-total').getByText('62.00 USD').waitFor();
    await page.getByText('3 events of').waitFor();
    await page.locator('tr.credit-row', { hasText: 'Credit: Prepaid' }).getByText('62.00 USD').waitFor();
    await page.locator('.invoice-due').getByText('0.00 USD').waitFor();
    await shoot('10-invoice-pending');

    await page.getByRole('button', { name: 'Approve and send…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api('GET', `/v1/invoices/${state.invoice}`)).body.status, 'pending_approval', 'Cancel approves nothing');
    await page.getByRole('button', { name: 'Approve and send…' }).click();
    await page.getByRole('dialog').getByText('62.00 USD').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Approve and send' }).click();
    await page.getByText(/^Approved: INV-\d+ is sent\.$/).waitFor();
    await page.locator('.history li.done', { hasText: 'Sent' }).waitFor();
    await shoot('11-invoice-sent');

    const inv = await api('GET', `/v1/invoices/${state.invoice}`);
    assert.equal(inv.body.status, 'sent');
    assert.ok(inv.body.sent_at, 'sent_at is set');
    assert.equal(inv.body.amount_due, '0.00');
    // The grant paid it: what is left shows on the customer's page.
    await page.getByRole('link', { name: cfg.customerName }).first().click();
    await page.locator('#credits tr', { hasText: 'Prepaid' }).locator('.grant-remaining', { hasText: '38.00 USD' }).waitFor();
    await writeFile(cfg.result, JSON.stringify(state));
  });

  test('signing out forgets the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('edgemeter.secretKey')), null);
    assert.deepEqual(problems, [], 'console or page errors');
  });
}

/** A small, valid one-page PDF. */
function pdf() {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const text = 'BT /F1 12 Tf 20 50 Td (Master services agreement) Tj ET';
  objects[3] = `<< /Length ${text.length} >>\nstream\n${text}\nendstream`;
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  out += offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
