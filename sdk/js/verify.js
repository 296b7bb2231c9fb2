// `@edgemeter/sdk/verify`: checking an invoice and quoting a price locally (API.md,
// "Checking an invoice"), with the same `core` the server bills with, compiled to its
// own wasm (sdk/src/wasm_checks.rs, `--features checks`): JSON, pricing and invoices
// take 5 times the tracking client's wasm, so only an application that checks loads it.
// Its errors are this entry's `EdgemeterError` (re-exported here).
//
// Both take what the API client returns (camelCase) or the API's own JSON (snake_case):
// keys are converted to the wire's names, deeply, except inside the caller's own maps
// (`filters`, `properties`, `metadata`), and the answer comes back in camelCase.
//
// A number property is hashed by the JSON text it was sent with. `JSON.parse` keeps
// only the number, so an event sent with `1.5e3` or `2.0` (not JavaScript's own
// spelling, `1500`, `2`) reads back with another text and verifies as changed; such
// events verify from the raw response text (pass the page's text as `events`).

import { EdgemeterError } from './errors.js';
import { checksSource } from './checks.js';
import { initSync, price as wasmPrice, verifyInvoice as wasmVerify } from './edgemeter_checks.js';

export { EdgemeterError } from './errors.js';

/** Maps whose keys are the caller's own names (as in api.js). */
const OPAQUE = new Set(['filters', 'properties', 'metadata', 'event']);

/** The checks' wasm, instantiated on first use (a second initSync is a no-op). */
function ready() {
  initSync({ module: checksSource() });
}

/**
 * Recomputes every line of `invoice` from `events` (`invoices.eventsAll()`, or a page's
 * raw JSON text), `items` (`items.list()`) and `metrics` (`metrics.listAll()`): quantity,
 * amount, usage and `eventsDigest`, the totals and `usageDigest`. Resolves nothing:
 * returns the differences (`[]` when the invoice checks out), each naming the line
 * (`itemId`, `name`) or the event (`idempotencyKey`), the `field` (a path in camelCase:
 * `amount`, `usage.eventsDigest`, `contentHash`, `usageDigest`), what the events make
 * (`expected`) and what the invoice says (`found`).
 */
export function verifyInvoice(invoice, events, items, metrics) {
  ready();
  const text = (v) => (typeof v === 'string' ? v : JSON.stringify(toWire(listOf(v))));
  const diffs = call(() => fromWire(JSON.parse(wasmVerify(text(invoice), text(events), text(items), text(metrics)))));
  // A field path in the SDK's names, as an error's `field` is (`usage.eventsDigest`).
  return diffs.map((d) => ({ ...d, field: camel(d.field) }));
}

/**
 * Prices `quantity` (a decimal string, or a number: its shortest decimal text) with `price` (an item's price,
 * as items.create takes it), tier by tier and rounded once to `currency`'s minor unit
 * (default USD), with an item's `minimum`: exactly the line an invoice would show
 * (`model`, `quantity`, `unitAmount`, `tiers`, `subtotalExact`, `minimum`,
 * `minimumApplied`, `amount`).
 */
export function price(price, quantity, options = {}) {
  ready();
  const { currency, minimum } = options ?? {};
  return call(() =>
    fromWire(
      JSON.parse(
        wasmPrice(
          JSON.stringify(toWire(price)),
          JSON.stringify(decimalText(quantity)),
          currency ?? undefined,
          minimum === undefined || minimum === null ? undefined : JSON.stringify(decimalText(minimum)),
        ),
      ),
    ),
  );
}

/** A number as its shortest decimal text (`85.7`); anything else as given, for the wasm to check. */
function decimalText(v) {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
}

/** An async iterable's items are not a list: collect a plain array or page only. */
function listOf(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Array.isArray(v.data) ? v.data : v;
}

/** The wasm's errors as the SDK's, with camelCase fields. */
function call(f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e.code === 'string') {
      const message = String(e.message ?? '').replace(/^[a-z_]+: /, '');
      throw new EdgemeterError(e.code, message, { field: typeof e.field === 'string' ? camel(e.field) : undefined });
    }
    throw e;
  }
}

function toWire(value) {
  if (Array.isArray(value)) return value.map(toWire);
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const name = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    out[name] = OPAQUE.has(name) ? v : toWire(v);
  }
  return out;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[camel(k)] = OPAQUE.has(k) ? v : fromWire(v);
  return out;
}

function camel(k) {
  return k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
