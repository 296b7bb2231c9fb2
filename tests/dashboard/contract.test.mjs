// The contract form's request body and where it shows the server's problems
// (dashboard/src/pages/contract.js), without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractBody, placeErrors, stateFrom } from '../../dashboard/src/pages/contract.js';

function filled() {
  const s = stateFrom(null);
  Object.assign(s.customer, { name: 'Acme', email: ' ap@acme.test ', currency: 'eur' });
  Object.assign(s.items[0], { name: 'OCR', metric_code: 'ocr_pages', model: 'graduated' });
  s.items[0].tiers = [{ up_to: '1000', unit_amount: '0.05', flat_amount: '' }, { up_to: '', unit_amount: '0.03', flat_amount: '5' }];
  s.starts_at = '2026-12-01T00:00';
  return s;
}

test('the body sends what was typed, trimmed; empty optional fields are left out', () => {
  const body = JSON.parse(JSON.stringify(contractBody(filled())));
  assert.deepEqual(body, {
    customer: { name: 'Acme', email: 'ap@acme.test', currency: 'EUR' },
    items: [{ name: 'OCR', kind: 'usage', metric_code: 'ocr_pages', price: { model: 'graduated', tiers: [
      { up_to: '1000', unit_amount: '0.05' }, { up_to: null, unit_amount: '0.03', flat_amount: '5' }] } }],
    invoice_schedule: { interval: 'month', pre_generate_days: 3, grace_hours: 24 },
    auto_send: false,
    starts_at: '2026-12-01T00:00:00Z',
  });
});

test('whole numbers go as numbers, anything else as typed for the server to judge', () => {
  const s = filled();
  Object.assign(s.items[0], { model: 'package', package_size: '100', package_amount: '5.00' });
  s.schedule.grace_hours = '1.5';
  const body = contractBody(s);
  assert.deepEqual(body.items[0].price, { model: 'package', package_size: 100, package_amount: '5.00' });
  assert.equal(body.invoice_schedule.grace_hours, '1.5');
  const fixed = filled();
  Object.assign(fixed.items[0], { kind: 'fixed', model: 'fixed', amount: '99' });
  assert.deepEqual(contractBody(fixed).items[0], { name: 'OCR', kind: 'fixed', metric_code: undefined, price: { model: 'fixed', amount: '99' }, minimum: undefined });
});

test('a problem lands on its field, or on the nearest group the form has', () => {
  const at = placeErrors([
    { field: 'customer.email', message: 'a' },
    { field: 'items[0].price.tiers[1].unit_amount', message: 'b' },
    { field: 'items[0].price.tiers[1].something_new', message: 'c' },
    { field: 'items[3].name', message: 'd' },
    { field: null, message: 'e' },
  ], filled());
  assert.deepEqual([...at.keys()], ['customer.email', 'items[0].price.tiers[1].unit_amount', 'items[0].price.tiers[1]', 'items', '']);
});

test('a loaded draft sends its times only when they were changed, and null when cleared', () => {
  const s = stateFrom({
    customer: { name: 'Acme', email: 'ap@acme.test', external_id: null, currency: 'USD' },
    items: [{ name: 'Fee', kind: 'fixed', metric_code: null, price: { model: 'fixed', amount: '99.00' }, minimum: null }],
    invoice_schedule: { interval: 'month', anchor: '2026-12-01', pre_generate_days: 3, grace_hours: 24 },
    auto_send: false, starts_at: '2026-12-03T11:14:37.120Z', expires_at: '2027-01-01T00:00:00Z',
  });
  let body = contractBody(s);
  assert.equal('starts_at' in body && body.starts_at !== undefined, false);
  assert.equal(body.expires_at, undefined);
  assert.deepEqual(body.items[0].price, { model: 'fixed', amount: '99.00' });
  s.starts_at = '2026-12-05T00:00';
  s.expires_at = '';
  body = contractBody(s);
  assert.equal(body.starts_at, '2026-12-05T00:00:00Z');
  assert.equal(body.expires_at, null);
});
