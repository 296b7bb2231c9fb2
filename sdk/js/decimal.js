// Decimal inputs of the API client (quantities, limits, thresholds): the API takes them
// as decimal strings. A JS number is sent as its shortest decimal text (`String(2.5)` is
// "2.5"), which is the number the caller wrote; one JS can only print in exponent form
// (1e21, 1e-7) is refused here, since the server takes no exponents. Money (`amount`) is
// never taken as a number: a float that is not the amount meant (0.1 + 0.2) would be sent
// as it is.

import { EdgemeterError } from './errors.js';

/** `value` for the wire: a number as decimal text, anything else as it is (the server checks it). */
export function decimalInput(value, field) {
  if (typeof value !== 'number') return value;
  const text = String(value);
  if (!Number.isFinite(value) || /e/i.test(text)) {
    throw new EdgemeterError('invalid_request', `\`${field}\` must be a finite decimal, such as "2.5", not ${text}`, { field });
  }
  return text;
}

/** Refuses a number (or bigint) where only a decimal string is money. */
export function moneyInput(value, field) {
  if (typeof value === 'number' || typeof value === 'bigint') {
    throw new EdgemeterError('invalid_request', `\`${field}\` must be a decimal string such as "100.00", not a number`, {
      field,
    });
  }
  return value;
}
