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
  /** The contract (`ctr_…`) whose acceptance created the customer, else `null`. */
  contractId: string | null;
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
  /** The invoice a period would have produced under other items; changes nothing. */
  simulate(customerId: string, input: SimulationInput, options?: RequestOptions): Promise<SimulatedInvoice>;
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

/** One UTC day of a metric's usage. */
export interface DayUsage {
  /** `"2026-12-01"` */
  date: string;
  /** The metric's aggregation over that day's events alone. */
  quantity: Decimal;
  eventCount: number;
}

/** One metric's usage, day by day. */
export interface DailyMetric {
  code: string;
  eventName: string;
  aggregation: Aggregation;
  /** Every UTC day of the period, in order; days still to come have zero. */
  days: DayUsage[];
}

/** A service period's usage by UTC day, one series per metric the customer's items use. */
export interface DailyUsage {
  customerId: string;
  period: Period;
  metrics: DailyMetric[];
}

export interface UsageResource {
  /** The service period containing `at`, and what was recorded in it. */
  get(customerId: string, params?: UsageParams): Promise<Usage>;
  /** The service period containing `at` (default now), day by day. */
  daily(customerId: string, params?: UsageParams): Promise<DailyUsage>;
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
  /** Hex SHA-256 over the sorted content hashes of the events counted (final and draft invoices). */
  eventsDigest?: string;
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
  voidedAt: Timestamp | null;
  /** Hex SHA-256 over the usage lines' `eventsDigest`s, in line order. */
  usageDigest?: string;
}

/** The current period's invoice as it stands: no id, number or dates yet. */
export interface UpcomingInvoice
  extends Omit<Invoice, 'id' | 'number' | 'status' | 'createdAt' | 'finalizedAt' | 'sentAt' | 'voidedAt'> {
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
  /** One page of the events the invoice counted, in idempotency-key order. */
  events(invoiceId: string, params?: ListParams): Promise<Page<InvoiceEvent>>;
  /** Every event the invoice counted: `for await (const e of …)`. */
  eventsAll(invoiceId: string, params?: ListParams): AsyncGenerator<InvoiceEvent, void, undefined>;
}

// Checking an invoice

/** An event an invoice counted, as stored. */
export interface InvoiceEvent {
  idempotencyKey: string;
  eventName: string;
  value: Decimal;
  timestamp: Timestamp;
  /** Whether the client sent the timestamp (a server-chosen one is not hashed). */
  timestampGiven: boolean;
  properties: Record<string, string | number | boolean>;
  /** 32 hex digits: XXH3-128 of the event's content (docs/api.md). */
  contentHash: string;
}

export interface SimulationInput {
  items: ItemCreate[];
  /** A time in the period to simulate; default: the current period. */
  periodStart?: Timestamp | Date;
}

/** A simulated invoice: items get ids `sim_1`, `sim_2`, … in request order. */
export interface SimulatedInvoice
  extends Omit<Invoice, 'id' | 'number' | 'status' | 'createdAt' | 'finalizedAt' | 'sentAt' | 'voidedAt'> {
  status: 'simulated';
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

// Contracts

/**
 * `draft` until accepted or canceled; `expired` is a draft past its `expiresAt`;
 * `accepting` an acceptance under way (short-lived: a retry of accept completes it).
 */
export type ContractStatus = 'draft' | 'accepting' | 'accepted' | 'canceled' | 'expired';

/** The customer a contract creates when it is accepted. */
export interface ContractCustomer {
  name: string;
  email: string;
  externalId: string | null;
  currency: string;
}

export interface ContractCustomerInput {
  /** 1 to 256 characters. */
  name: string;
  email: string;
  /** Your own id for the customer, 1 to 128 characters. */
  externalId?: string;
  /** ISO 4217. Default `"USD"`. */
  currency?: string;
}

/** An item the accepted contract gives its customer. */
export interface ContractItem {
  name: string;
  kind: ItemKind;
  metricCode: string | null;
  /** The event name that feeds the metric, `null` for a fixed item. */
  eventName: string | null;
  price: Price;
  minimum: Decimal | null;
}

/** The signed document attached to a contract. */
export interface ContractDocument {
  /** The file name given at upload (`"msa.pdf"`), else `document.<ext>`. */
  name: string;
  /** Read from the bytes: PDF, PNG, JPEG, GIF or WebP. */
  contentType: string;
  /** In bytes. */
  size: number;
  /** SHA-256 of the bytes, 64 lowercase hex digits. */
  sha256: string;
  uploadedAt: Timestamp;
}

export interface Contract {
  /** `ctr_…` */
  id: string;
  status: ContractStatus;
  customer: ContractCustomer;
  items: ContractItem[];
  invoiceSchedule: InvoiceSchedule;
  autoSend: boolean;
  startsAt: Timestamp;
  /** A draft past this time can no longer be accepted (`contract_expired`). */
  expiresAt: Timestamp | null;
  document: ContractDocument | null;
  /** The customer made on acceptance (`cus_…`), else `null`. */
  customerId: string | null;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  acceptedAt: Timestamp | null;
  canceledAt: Timestamp | null;
}

export interface ContractCreate {
  customer: ContractCustomerInput;
  /** 1 to 50 items. */
  items: ItemCreate[];
  /** Default: monthly from the 1st of `startsAt`'s month, 3 days, 24 hours. */
  invoiceSchedule?: Partial<InvoiceSchedule>;
  /** Default false. */
  autoSend?: boolean;
  /** Default: now. */
  startsAt?: Timestamp;
  /** After now and after `startsAt`. Default: never. */
  expiresAt?: Timestamp;
}

/** The fields to change: each one given replaces that field wholly (`items` the whole list). */
export interface ContractUpdate extends Partial<Omit<ContractCreate, 'expiresAt'>> {
  /** `null`: the contract never expires (an expired draft is a draft again). */
  expiresAt?: Timestamp | null;
}

export interface ContractListParams extends ListParams {
  status?: ContractStatus;
}

/** What accepting a contract made: the contract, now `accepted`, and its new customer. */
export interface ContractAcceptance {
  contract: Contract;
  customer: Customer;
}

/**
 * The runtime's `Blob` (from the DOM or Node's types), written so that these
 * declarations also compile in a project that has neither (there, no Blob is taken).
 */
export type BlobOf<G = typeof globalThis> = G extends { Blob: { prototype: infer B } } ? B : never;

/** A document's bytes: a `Uint8Array` (a Node `Buffer` is one), an `ArrayBuffer` or a `Blob`. */
export type DocumentBody = Uint8Array | ArrayBuffer | BlobOf;

export interface UploadOptions {
  /** The name to keep with the file (its `name`). Default `document.<ext>`. */
  filename?: string;
}

/** A contract's document as downloaded. */
export interface DownloadedDocument {
  /** As stored, e.g. `"application/pdf"`. */
  contentType: string;
  /** From the answer's `content-disposition`; `null` if it names none. */
  filename: string | null;
  bytes: Uint8Array;
}

export interface ContractsResource {
  /**
   * Rejects with `invalid_contract` (400) listing every problem in `error.errors`, each
   * with its `field` path (`customer.email`, `items[0].price.tiers[1].unitAmount`).
   */
  create(input: ContractCreate, options?: RequestOptions): Promise<Contract>;
  /** Rejects with `not_found` (404) for an unknown id. */
  get(contractId: string): Promise<Contract>;
  /** Oldest first. */
  list(params?: ContractListParams): Promise<Page<Contract>>;
  listAll(params?: ContractListParams): AsyncGenerator<Contract, void, undefined>;
  /** Only while `draft` (else `contract_not_draft`, 409); the result is validated whole. */
  update(contractId: string, patch: ContractUpdate): Promise<Contract>;
  /**
   * Creates the customer with the contract's items, once. Rejects with
   * `contract_not_draft` (409) for a contract accepted or canceled, `contract_expired`
   * (409) past `expiresAt`.
   */
  accept(contractId: string, options?: RequestOptions): Promise<ContractAcceptance>;
  /** Only while `draft` (else `contract_not_draft`, 409). */
  cancel(contractId: string, options?: RequestOptions): Promise<Contract>;
  /**
   * Attaches (or replaces) the contract's document, sent as raw bytes: PDF, PNG, JPEG,
   * GIF or WebP (else `unsupported_media_type`, 415), at most 10 MiB
   * (`payload_too_large`). Only while `draft`.
   */
  uploadDocument(contractId: string, document: DocumentBody, options?: UploadOptions): Promise<Contract>;
  /**
   * The document's bytes; rejects with `not_found` (404) when there is none. A custom
   * `fetch` must give responses with `arrayBuffer()`.
   */
  downloadDocument(contractId: string): Promise<DownloadedDocument>;
}

// Rejected events

/** An event ingest refused, as logged (the 100 most recent per log). */
export interface Rejection {
  receivedAt: Timestamp;
  idempotencyKey: string | null;
  customerId: string | null;
  eventName: string | null;
  /** Why, as in an ingest result (`timestamp_in_future`, `unknown_customer`, …). */
  code: string;
  message: string;
  /** The event's field at fault, as the wire names it (`customer_id`, `timestamp`). */
  field: string | null;
  /**
   * The event as it was sent, its keys as on the wire (snake_case); an event whose JSON
   * was over 4 KiB is `{ truncated: "<its first 4 KiB>" }`.
   */
  event: Record<string, unknown>;
}

export interface RejectionListParams extends ListParams {
  /**
   * One customer's log. Without it, the account's: events naming no existing customer,
   * or another customer than their token's.
   */
  customerId?: string;
}

export interface RejectionsResource {
  /** Newest first. */
  list(params?: RejectionListParams): Promise<Page<Rejection>>;
}
