// `@edgemeter/sdk/verify`: checking an invoice and quoting a price locally, with the
// server's own core in wasm (API.md, "Checking an invoice").

import type { Decimal, Invoice, InvoiceEvent, InvoiceLine, Item, Metric, Page, Price, Tier, TierInput } from './api.js';

export { EdgemeterError } from './index.js';

/** What `verifyInvoice` found that is not as the events and prices make it. */
export interface Difference {
  /** The line's item, when the difference is on a line. */
  itemId?: string;
  name?: string;
  /** The event, when the difference is on an event (`contentHash`, `timestamp`). */
  idempotencyKey?: string;
  /** A path in camelCase: `amount`, `quantity`, `usage.eventsDigest`, `total`, `usageDigest`, `contentHash`. */
  field: string;
  expected: unknown;
  found: unknown;
}

/** A price applied to a quantity, exactly as an invoice line shows it. */
export type Quote = Omit<InvoiceLine, 'itemId' | 'name' | 'kind' | 'usage'>;

export interface QuoteOptions {
  /** ISO 4217; default USD. */
  currency?: string;
  /** An item's minimum for the period. */
  minimum?: Decimal;
}

/**
 * Recomputes the invoice's lines from its events with the server's own pricing and
 * aggregation (in wasm), returning what differs (`[]` when it checks out).
 */
export function verifyInvoice(
  invoice: Invoice,
  events: InvoiceEvent[] | Page<InvoiceEvent> | string,
  items: Item[] | Page<Item>,
  metrics: Metric[] | Page<Metric>,
): Difference[];

/** Prices a quantity locally, tier by tier, exactly as an invoice line. */
export function price(price: Price<Tier | TierInput>, quantity: Decimal | number, options?: QuoteOptions): Quote;
