// The contract form's price example (dashboard/src/money.js) against cases whose answers
// the server gives (core/src/pricing.rs): exact decimals, half-even rounding once per line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { format, formatFixed, parse, priceExample, round } from '../../dashboard/src/money.js';

const price = (p, q, min = '', cur = 'USD') => priceExample(p, q, min, cur);

test('decimals parse and print without floats', () => {
  assert.equal(format(parse('0.10')), '0.1');
  assert.equal(format(parse('1000')), '1000');
  assert.equal(parse('1e3'), null);
  assert.equal(parse('-1'), null);
  assert.equal(format(parse('0.000000000001')), '0.000000000001');
  assert.equal(formatFixed(parse('999999999999.995'), 2), '1000000000000.00');
});

test('rounding is half to even, once', () => {
  assert.equal(formatFixed(round(parse('4.285'), 2), 2), '4.28');
  assert.equal(formatFixed(round(parse('4.275'), 2), 2), '4.28');
  assert.equal(formatFixed(round(parse('4.2851'), 2), 2), '4.29');
  assert.equal(formatFixed(parse('2.5'), 0), '2');
});

test('per unit: 85.7 at 0.05 is 4.28 (the README walk-through)', () => {
  const r = price({ model: 'per_unit', unit_amount: '0.05' }, '85.7');
  assert.deepEqual([r.subtotal, r.amount], ['4.285', '4.28']);
  // 0.1 + 0.2 in floats is not 0.3; here it is.
  assert.equal(price({ model: 'per_unit', unit_amount: '0.1' }, '3').amount, '0.30');
});

test('package: whole packages, rounded up', () => {
  const p = { model: 'package', package_size: '100', package_amount: '5.00' };
  assert.equal(price(p, '101').amount, '10.00');
  assert.equal(price(p, '100').amount, '5.00');
  assert.equal(price(p, '0').amount, '0.00');
});

test('graduated: each unit at its tier, flat amounts only for tiers with units', () => {
  const p = { model: 'graduated', tiers: [
    { up_to: '1000', unit_amount: '0.05', flat_amount: '10' },
    { up_to: '5000', unit_amount: '0.03', flat_amount: '0' },
    { up_to: null, unit_amount: '0.01', flat_amount: '7' },
  ] };
  const r = price(p, '1500');
  assert.deepEqual(r.tiers.map((t) => [t.units, t.subtotal]), [['1000', '60'], ['500', '15'], ['0', '0']]);
  assert.equal(r.amount, '75.00');
  assert.equal(price(p, '0').amount, '0.00');
  assert.equal(price(p, '6000.5').amount, '197.00'); // 60 + 120 + 17.005, half to even
});

test('volume: the tier holding the quantity (inclusive) prices every unit', () => {
  const p = { model: 'volume', tiers: [
    { up_to: '1000', unit_amount: '0.05', flat_amount: '0' },
    { up_to: null, unit_amount: '0.03', flat_amount: '2' },
  ] };
  assert.equal(price(p, '1000').amount, '50.00');
  assert.equal(price(p, '1001').amount, '32.03');
  assert.deepEqual(price(p, '1001').tiers.map((t) => t.units), ['0', '1001']);
});

test('minimum and currencies', () => {
  assert.deepEqual(
    [price({ model: 'per_unit', unit_amount: '0.05' }, '10', '20').amount, price({ model: 'per_unit', unit_amount: '0.05' }, '10', '20').minimumApplied],
    ['20.00', true],
  );
  assert.equal(price({ model: 'per_unit', unit_amount: '0.5' }, '5', '', 'JPY').amount, '2');
  assert.equal(price({ model: 'fixed', amount: '99' }, '0', '', 'KWD').amount, '99.000');
});

test('a field that is not a decimal is reported, not guessed', () => {
  const r = price({ model: 'graduated', tiers: [{ up_to: null, unit_amount: '0,05' }] }, '10');
  assert.equal(r.ok, false);
  assert.match(r.error, /tier 1/);
});
