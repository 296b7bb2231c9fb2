// Types of the API client of @edgemeter/sdk (hand-written; the implementation is
// api.js). The API's objects (API.md) with camelCase keys; every amount and quantity is
// a decimal string, exactly as the server sends it, and every time an RFC 3339 string in
// UTC (`…Z`).

/** A decimal number as a string, e.g. `"85.7"` or `"0.0025"`: never a binary float. */
export type Decimal = string;
/** An RFC 3339 time in UTC, e.g. `"2026-11-01T00:00:00Z"`. */
export type Timestamp = string;

/** A page of a list, and the cursor to pass for the next one (`null` on the last). */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** `limit` (1 to 500, default 50) and the `cursor` of the previous page. */
export interface ListParams {
  limit?: number;
  cursor?: string;
}

/** Options of one `POST`. */
export interface RequestOptions {
  /**
   * The `Idempotency-Key` header, kept across the call's retries (1 to 255 characters).
   * Default: a new random UUID per call. Pass a key of your own (a user's id, say) to
   * make a create safe to repeat after a restart: the same key and body get the first
   * answer back for 24 hours.
   */
  idempotencyKey?: string;
}

// Customers

export type Interval = 'week' | 'month' | 'quarter' | 'year';

/** How a customer's service periods are cut: `[start, end)` in UTC. */
export interface InvoiceSchedule {
  interval: Interval;
  /** A date (`"2026-11-01"`) on which a period starts. */
  anchor: string;
  /** A draft invoice exists from `periodEnd − preGenerateDays` (0 to 31). */
  preGenerateDays: number;
  /** The invoice is finalized at `periodEnd + graceHours` (0 to 720). */
  graceHours: number;
}

export interface Customer {
  /** `cus_…` */
  id: string;
  name: string;
  email: string;
  externalId: string | null;
  /** ISO 4217, e.g. `"USD"`. */
  currency: string;
  invoiceSchedule: InvoiceSchedule;
  /** Finalized invoices are sent at once, without approval. */
  autoSend: boolean;
  createdAt: Timestamp;
}

export interface CustomerCreate {
  /** 1 to 256 characters. */
  name: string;
  email: string;
  /** Your own id for the customer, 1 to 128 characters. */
  externalId?: string;
  /** ISO 4217. Default `"USD"`. */
  currency?: string;
  /** Default: monthly from the 1st of the creation month, 3 days, 24 hours. */
  invoiceSchedule?: Partial<InvoiceSchedule>;
  /** Default false: finalized invoices wait for `invoices.approve()`. */
  autoSend?: boolean;
}

/** The fields to change. */
export type CustomerUpdate = Partial<CustomerCreate>;

export interface CustomersResource {
  create(input: CustomerCreate, options?: RequestOptions): Promise<Customer>;
  /** Rejects with `not_found` (404) for an unknown id. */
  get(customerId: string): Promise<Customer>;
  list(params?: ListParams): Promise<Page<Customer>>;
  /** Every customer, fetching pages of `limit` as the loop goes: `for await (const c of …)`. */
  listAll(params?: ListParams): AsyncGenerator<Customer, void, undefined>;
  update(customerId: string, patch: CustomerUpdate): Promise<Customer>;
}

// Billable metrics

export type Aggregation = 'sum' | 'count' | 'max' | 'unique_count' | 'latest';

export interface MetricCreate {
  /** `[a-z0-9_.-]{1,64}`, unique. */
  code: string;
  name: string;
  /** The events it reads (several metrics may read one event name). */
  eventName: string;
  aggregation: Aggregation;
  /** The property `unique_count` counts the distinct values of (only for it). */
  field?: string;
  /** Only events whose property has one of the values count: `{ region: ['eu'] }`. Keys are kept as given. */
  filters?: Record<string, string[]>;
}

export interface Metric {
  /** `met_…` */
  id: string;
  code: string;
  name: string;
  eventName: string;
  aggregation: Aggregation;
  field?: string;
  filters?: Record<string, string[]>;
  createdAt: Timestamp;
}

export interface MetricsResource {
  /** Rejects with `duplicate_metric_code` (409) when the code is taken by another definition. */
  create(input: MetricCreate, options?: RequestOptions): Promise<Metric>;
  /** Rejects with `not_found` (404) for an unknown code. */
  get(code: string): Promise<Metric>;
  list(params?: ListParams): Promise<Page<Metric>>;
  listAll(params?: ListParams): AsyncGenerator<Metric, void, undefined>;
}

// Items and prices

/** A tier as the server returns it. */
export interface Tier {
  /** The tier's inclusive upper bound; `null` for the open last tier. */
  upTo: Decimal | null;
  unitAmount: Decimal;
  flatAmount: Decimal;
}

/** A tier as you give it. */
export interface TierInput {
  upTo: number | Decimal | null;
  unitAmount: Decimal;
  /** Default `"0"`. */
  flatAmount?: Decimal;
}

export interface PerUnitPrice {
  model: 'per_unit';
  unitAmount: Decimal;
}

/** Whole packages, rounded up: 101 units at 100 per package bill 2. */
export interface PackagePrice {
  model: 'package';
  packageSize: number;
  packageAmount: Decimal;
}

/** Each unit priced by the tier it falls in. */
export interface GraduatedPrice<T = Tier> {
  model: 'graduated';
  tiers: T[];
}

/** All units priced by the one tier the total falls in. */
export interface VolumePrice<T = Tier> {
  model: 'volume';
  tiers: T[];
}

/** Billed once per period (an item of kind `fixed`). */
export interface FixedPrice {
  model: 'fixed';
  amount: Decimal;
}

/** A usage item's price, discriminated by `model`. */
export type UsagePrice<T = Tier> = PerUnitPrice | PackagePrice | GraduatedPrice<T> | VolumePrice<T>;
/** Any price, discriminated by `model`. */
export type Price<T = Tier> = UsagePrice<T> | FixedPrice;
export type PriceModel = Price['model'];

export type ItemKind = 'usage' | 'fixed';

/** A usage item: priced by a metric's quantity. */
export interface UsageItemCreate {
  name: string;
  kind: 'usage';
  metricCode: string;
  price: UsagePrice<TierInput>;
  /** The least the line bills per period. */
  minimum?: Decimal;
}

/** A fixed fee per period. */
export interface FixedItemCreate {
  name: string;
  kind: 'fixed';
  price: FixedPrice;
  minimum?: Decimal;
}

export type ItemCreate = UsageItemCreate | FixedItemCreate;

export interface Item {
  /** `item_…` */
  id: string;
  customerId: string;
  name: string;
  kind: ItemKind;
  metricCode: string | null;
  /** The event name that feeds it (what a client may send), `null` for a fixed item. */
  eventName: string | null;
  price: Price;
  minimum: Decimal | null;
  createdAt: Timestamp;
}

export interface ItemsResource {
  /** Rejects with `unknown_metric` (field `metricCode`) when no metric has the code. */
  create(customerId: string, input: ItemCreate, options?: RequestOptions): Promise<Item>;
  /** All the customer's items (one page: `nextCursor` is null). */
  list(customerId: string): Promise<Page<Item>>;
}

// Usage

export interface Period {
  start: Timestamp;
  end: Timestamp;
}

export interface UsageMetric {
  code: string;
  eventName: string;
  aggregation: Aggregation;
  quantity: Decimal;
  eventCount: number;
}

export interface UsageItem {
  itemId: string;
  name: string;
  kind: ItemKind;
  metricCode: string | null;
  quantity: Decimal;
  /** What the item would bill for this quantity, rounded to the currency. */
  amount: Decimal;
}

/** What was recorded in one service period. */
export interface Usage {
  customerId: string;
  currency: string;
  period: Period;
  /** Every metric of the account, with its quantity for this customer. */
  metrics: UsageMetric[];
  items: UsageItem[];
}

export interface UsageParams {
  /** A time in the period to read. Default: now. */
  at?: Date | string;
}

export interface VoidEvent {
  /** The key of the event to retract. */
  idempotencyKey: string;
  /** Its customer: events are stored per customer. */
  customerId: string;
}

export interface VoidedEvent {
  idempotencyKey: string;
  customerId: string;
  /** `already_voided` when it was retracted before: voiding twice is harmless. */
  status: 'voided' | 'already_voided';
}

export interface UsageResource {
  /** The service period containing `at`, and what was recorded in it. */
  get(customerId: string, params?: UsageParams): Promise<Usage>;
  /** The invoice the current period would produce from the usage recorded so far. */
  upcoming(customerId: string): Promise<UpcomingInvoice>;
  /**
   * Retracts an accepted event whose period is not final. Rejects with `event_not_found`
   * (404) or `period_closed`.
   */
  void(input: VoidEvent, options?: RequestOptions): Promise<VoidedEvent>;
}

// Invoices

export type InvoiceStatus = 'draft' | 'pending_approval' | 'sent' | 'void';

/** What one tier contributed to a line (exact, unrounded amounts). */
export interface InvoiceLineTier {
  upTo: Decimal | null;
  units: Decimal;
  unitAmount: Decimal;
  flatAmount: Decimal;
  subtotal: Decimal;
}

/** The usage behind a usage line. */
export interface LineUsage {
  metricCode: string;
  eventCount: number;
  firstEventAt: Timestamp | null;
  lastEventAt: Timestamp | null;
}

export interface InvoiceLine {
  itemId: string;
  name: string;
  kind: ItemKind;
  model: PriceModel;
  quantity: Decimal;
  /** The one rate applied; `null` for graduated prices. */
  unitAmount: Decimal | null;
  /** Package prices only. */
  packageSize?: number;
  /** Package prices only: packages billed, rounded up. */
  packages?: Decimal;
  tiers: InvoiceLineTier[];
  /** The price of the quantity before the minimum, unrounded. */
  subtotalExact: Decimal;
  minimum: Decimal | null;
  minimumApplied: boolean;
  /** Rounded half-even to the currency's minor unit: the line's only rounding. */
  amount: Decimal;
  /** `null` for a fixed item. */
  usage: LineUsage | null;
}

export interface Invoice {
  /** `inv_…` */
  id: string;
  /** Sequential: `INV-000001`. */
  number: string | null;
  customerId: string;
  periodStart: Timestamp;
  periodEnd: Timestamp;
  currency: string;
  status: InvoiceStatus;
  lines: InvoiceLine[];
  subtotal: Decimal;
  total: Decimal;
  createdAt: Timestamp | null;
  finalizedAt: Timestamp | null;
  sentAt: Timestamp | null;
}

/** The current period's invoice as it stands: no id, number or dates yet. */
export interface UpcomingInvoice
  extends Omit<Invoice, 'id' | 'number' | 'status' | 'createdAt' | 'finalizedAt' | 'sentAt'> {
  status: 'upcoming';
}

export interface InvoiceListParams extends ListParams {
  /** One customer's invoices (all of them in one page). */
  customerId?: string;
  status?: InvoiceStatus;
}

export interface InvoicesResource {
  list(params?: InvoiceListParams): Promise<Page<Invoice>>;
  listAll(params?: InvoiceListParams): AsyncGenerator<Invoice, void, undefined>;
  /** Rejects with `not_found` (404) for an unknown id. */
  get(invoiceId: string): Promise<Invoice>;
  /** Sends a `pending_approval` invoice; else rejects with `invalid_invoice_state` (409). */
  approve(invoiceId: string, options?: RequestOptions): Promise<Invoice>;
  /** Voids an invoice in any status but `void` (then `invalid_invoice_state`, 409). */
  void(invoiceId: string, options?: RequestOptions): Promise<Invoice>;
}

// Customer tokens

export interface TokenCreate {
  customerId: string;
  /** 1 to 86400. Default 3600. */
  ttlSeconds?: number;
}

/** A `ct_…` key that may only ingest this customer's events, until `expiresAt`. */
export interface CustomerToken {
  token: string;
  customerId: string;
  expiresAt: Timestamp;
}

export interface TokensResource {
  /** Needs a secret key; the customer must exist. */
  create(input: TokenCreate, options?: RequestOptions): Promise<CustomerToken>;
}
