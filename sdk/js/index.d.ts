// Types of @edgemeter/sdk (hand-written; the implementation is index.js).

import type {
  AlertsResource,
  BalanceResource,
  CreditGrantsResource,
  EntitlementsResource,
  LimitsResource,
  ReservationsResource,
  ContractsResource,
  CustomersResource,
  InvoicesResource,
  ItemsResource,
  MetricsResource,
  RejectionsResource,
  TokensResource,
  UsageResource,
} from './api.js';

/** The API client's types: Customer, Item, Price, Invoice, … */
export * from './api.js';

/** Stable error codes: the server's (API.md) and the SDK's own. */
export type ErrorCode =
  // Event validation, as the server answers it.
  | 'missing_idempotency_key'
  | 'invalid_idempotency_key'
  | 'missing_customer_id'
  | 'invalid_customer_id'
  | 'missing_event_name'
  | 'invalid_event_name'
  | 'invalid_value'
  | 'invalid_timestamp'
  | 'timestamp_in_future'
  | 'timestamp_too_old'
  | 'invalid_properties'
  | 'unknown_field'
  | 'unknown_customer'
  | 'unknown_event_name'
  | 'period_closed'
  | 'unique_count_limit'
  | 'idempotency_key_reused'
  | 'forbidden_customer'
  // An earlier copy of a request with this Idempotency-Key is still running (409; the
  // clients retry it).
  | 'idempotency_key_in_use'
  // Request level, as the server answers it.
  | 'invalid_json'
  | 'invalid_request'
  | 'payload_too_large'
  | 'too_many_events'
  | 'unauthorized'
  | 'forbidden'
  | 'internal_error'
  // The API client's resources, as the server answers them.
  | 'missing_field'
  | 'invalid_field'
  | 'not_found'
  | 'method_not_allowed'
  | 'unknown_metric'
  | 'duplicate_metric_code'
  | 'event_not_found'
  | 'invalid_invoice_state'
  /** A contract with problems: each is in the error's `errors`. */
  | 'invalid_contract'
  /** A contract no longer `draft` (accepted or canceled) cannot change or be accepted. */
  | 'contract_not_draft'
  /** A draft past its `expiresAt` cannot be accepted. */
  | 'contract_expired'
  /** A document that is not a PDF, PNG, JPEG, GIF or WebP. */
  | 'unsupported_media_type'
  /** An amount with more decimals than the currency's minor unit, or not above 0. */
  | 'invalid_amount'
  /** A limit on a metric whose aggregation cannot be limited (only `sum`, `count`, `unique_count`). */
  | 'unsupported_aggregation'
  /** An event or a hold that would take the period past a hard limit. */
  | 'limit_exceeded'
  /** A grant voided already cannot be voided again. */
  | 'grant_voided'
  /** A commit or release of a reservation past its `expiresAt`. */
  | 'reservation_expired'
  /** A reservation committed already cannot be released (a repeated commit answers the first result). */
  | 'reservation_committed'
  /** A reservation released already cannot be committed. */
  | 'reservation_released'
  /** No such reservation for this customer. */
  | 'unknown_reservation'
  /** No limit on this metric for this customer. */
  | 'unknown_limit'
  // The SDK's own.
  /** `track()` while `maxQueueSize` events are pending; the event was not queued. */
  | 'queue_full'
  /** `track()` after `shutdown()`. */
  | 'closed'
  /** The request failed before an answer (connection refused or dropped). */
  | 'network_error'
  /** No answer within `timeoutMs`. */
  | 'timeout'
  /** `flush()` or `shutdown()` passed its `timeoutMs` with these events undelivered. */
  | 'flush_timeout'
  /** A 200 answer that is not an ingest result. */
  | 'invalid_response'
  /** An error answer without an error body. */
  | 'http_error'
  /** A constructor option is missing or out of range. */
  | 'invalid_option'
  /** `persist`: the storage refused a read or a write (blocked, or over its quota). */
  | 'storage_error';

/** A property value: a string of at most 512 characters, a number or a boolean. */
export type PropertyValue = string | number | boolean;

/** A usage event as `track()` takes it (the wire format in camelCase). */
export interface Event {
  /** The customer's id (`cus_…`). */
  customerId: string;
  /** An event name that at least one billable metric reads. */
  eventName: string;
  /** A finite, non-negative decimal; a string keeps every digit exact. Default 1. */
  value?: number | string;
  /** RFC 3339 with an offset, or a Date. Default: when `track()` is called. */
  timestamp?: Date | string;
  /** A UUID that identifies this event across retries. Default: a new UUIDv7. */
  idempotencyKey?: string;
  /** At most 50 keys of at most 64 characters. */
  properties?: Record<string, PropertyValue>;
}

/**
 * The runtime's `AbortSignal` (from the DOM or Node's types), written so that these
 * declarations also compile in a project that has neither.
 */
export type AbortSignalOf<G = typeof globalThis> = G extends { AbortSignal: { prototype: infer S } }
  ? S
  : { readonly aborted: boolean };

/**
 * The bytes of a batch's body: a `Uint8Array` over an `ArrayBuffer` (never a
 * `SharedArrayBuffer`). Written as what `slice()` returns, which is
 * `Uint8Array<ArrayBuffer>` from TypeScript 5.7 (whose DOM `fetch` takes no other) and
 * plain `Uint8Array` before (when it was not generic).
 */
export type BodyBytes = ReturnType<Uint8Array['slice']>;

/** What `fetch` is called with. */
export interface FetchInit {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  headers: Record<string, string>;
  /**
   * The JSON body: UTF-8 bytes for a batch of events (the queue writes them, in wasm
   * memory), text for the API client's requests; a document's own bytes for
   * `contracts.uploadDocument()`; absent on a GET.
   */
  body?: string | BodyBytes;
  signal: AbortSignalOf;
  /** Set on the batches sent when a browser page is hidden, so they outlive the page. */
  keepalive?: boolean;
}

/** The part of a `fetch` response the client reads. */
export interface FetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  /** Only `contracts.downloadDocument()` reads it (a file's bytes). */
  arrayBuffer?(): Promise<ArrayBuffer>;
}

/** A `fetch`-compatible function (the global `fetch` is one). */
export type FetchFunction = (url: string, init: FetchInit) => Promise<FetchResponse>;

export interface Options {
  /** A secret (`sk_…`), ingest (`pk_…`) or customer (`ct_…`) key. */
  apiKey: string;
  /** The API's origin, e.g. `https://billing.example.com`. */
  baseUrl: string;
  /** Send a batch once this many events are queued (1 to 1000). Default 100. */
  flushAt?: number;
  /** Send what is queued at most this long after it was tracked. Default 10000. */
  flushIntervalMs?: number;
  /** Most events pending (queued or being sent); beyond, `track()` throws `queue_full`. Default 10000. */
  maxQueueSize?: number;
  /** Retries of a batch, or of an API call, after network errors, 408, 429 and 5xx. Default 5. */
  maxRetries?: number;
  /** Backoff before retry n is uniform in [0, min(retryMaxMs, retryBaseMs × 2^n)], unless the server sent `Retry-After`. Default 500. */
  retryBaseMs?: number;
  /** The longest wait before a retry, a server's `Retry-After` included. Default 30000. */
  retryMaxMs?: number;
  /** An attempt with no answer by then is aborted and retried. Default 4000 (two tries fit in flush()'s default 10 s). */
  timeoutMs?: number;
  /**
   * Called for each event the server rejected, for each batch that failed for good, for
   * `queue_full`, and when the API refuses the client's key or address (401, 403, 404:
   * the events are kept). Delivery goes on whatever it does. Without it, a refused key
   * or address is said once with `console.warn`.
   */
  onError?: (error: EdgemeterError) => void;
  /** Default: the global `fetch`. */
  fetch?: FetchFunction;
  /**
   * In a browser: keep undelivered events across reloads. When the page is hidden the
   * client saves what is not yet delivered to `localStorage` (under `<key>:<its own
   * id>`), and a client created later with `persist` on the same origin loads every
   * saved event and sends it first (the server counts an event sent twice once). Past
   * its `maxQueueSize`, a saved event is reported to `onError` as `queue_full`.
   * `true` uses localStorage and the key `edgemeter.queue`. Default: off.
   */
  persist?: boolean | PersistOptions;
}

/** Where `persist` saves the queue. */
export interface PersistOptions {
  /** The storage keys' prefix; clients that should not share saved events use different ones. Default `edgemeter.queue`. */
  key?: string;
  /** Default: `globalThis.localStorage`. */
  storage?: PersistStorage;
}

/** The part of the Web Storage API that `persist` uses (`localStorage` is one). */
export interface PersistStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** An event the server refused, with why. */
export interface RejectedEvent {
  idempotencyKey: string;
  error: EdgemeterError;
}

/** An event that could not be delivered (retries exhausted, or a 4xx for the whole batch). */
export interface FailedEvent {
  idempotencyKey: string;
  error: EdgemeterError;
}

/** What became of the batches that settled while `flush()` waited. */
export interface FlushResult {
  /** Events stored and counted. */
  accepted: number;
  /** Events the server had already (a retry of an accepted event); counted once. */
  duplicates: number;
  rejected: RejectedEvent[];
  /** Events not delivered, for good (with `shutdown({ timeoutMs })`, those it gave up on). */
  failed: FailedEvent[];
  /** `timeoutMs` passed before every event was settled. */
  timedOut: boolean;
  /**
   * `flush({ timeoutMs })` only: the keys of the events it gave up waiting for, which
   * stay queued (or in a request) and are still sent. Empty otherwise.
   */
  pending: string[];
}

/** Options of `flush()` and `shutdown()`. */
export interface FlushOptions {
  /**
   * Resolve within this many milliseconds, whatever the network does. Default 10000
   * (each request within is also bounded by the client's `timeoutMs`).
   */
  timeoutMs?: number;
}

/** What `EdgemeterError`'s constructor takes besides its code and message. */
export interface EdgemeterErrorOptions {
  field?: string;
  status?: number;
  idempotencyKeys?: string[];
  errors?: ErrorDetail[];
  cause?: unknown;
}

/** One problem of a document validated whole (an `invalid_contract`'s `errors`). */
export interface ErrorDetail {
  code: ErrorCode;
  message: string;
  /** Its path in camelCase: `customer.email`, `items[0].price.tiers[1].unitAmount`. */
  field?: string;
}

export class EdgemeterError extends Error {
  constructor(code: ErrorCode, message: string, options?: EdgemeterErrorOptions);
  readonly name: 'EdgemeterError';
  readonly code: ErrorCode;
  /** The field at fault, in camelCase for the event's own fields (`customerId`). */
  readonly field?: string;
  /** The HTTP status, when the server answered with one. */
  readonly status?: number;
  /** The events concerned (empty for errors about no event in particular). */
  readonly idempotencyKeys: readonly string[];
  /**
   * Every problem, when the server reports several at once (`invalid_contract`); `field`
   * is then the first one's. Absent otherwise.
   */
  readonly errors?: readonly ErrorDetail[];
  /**
   * When `flush()` or `shutdown()` rejects because the API refused the client's key or
   * address (401, 403, 404): what became of the batches that settled meanwhile, with
   * the kept events' keys in `pending`. Absent otherwise.
   */
  readonly result?: FlushResult;
}

export class Edgemeter {
  /** Throws an `EdgemeterError` (`invalid_option`) for a bad option. */
  constructor(options: Options);
  /** Events tracked and not yet settled (queued, being sent, or kept after a refused key or address). */
  readonly pending: number;
  /**
   * Validates the event with the server's rules, fills `timestamp` and `idempotencyKey`
   * when absent, queues it and returns its idempotency key (canonical: lowercase).
   * Throws an `EdgemeterError` and queues nothing when the event is invalid, the queue is
   * full (`queue_full`) or the client is shut down (`closed`).
   */
  track(event: Event): string;
  /**
   * Sends everything tracked so far; resolves once all of it is delivered or failed for
   * good, or when `timeoutMs` (default 10 s) has passed: then `timedOut` is true and the
   * events not yet delivered are listed in `pending` (still queued: the client goes on
   * sending them) and reported to `onError` (`flush_timeout`). Rejects when the API
   * refuses the client's key or address (401, 403, 404, with the server's code): nothing
   * is dropped and nothing more is sent until the next `flush()` tries again.
   */
  flush(options?: FlushOptions): Promise<FlushResult>;
  /**
   * Flushes and stops the timer; later `track()` calls throw `closed`. By `timeoutMs`
   * (default 10 s) it gives up: requests in flight are aborted, and every event not
   * delivered is in `failed` (`flush_timeout`) and reported to `onError`; with
   * `persist`, it also stays saved for the next client on the page's origin. Rejects,
   * as `flush()` does, when the API refuses the key or address; the events stay in
   * memory (a later `flush()` sends them) and, with `persist`, saved.
   */
  shutdown(options?: FlushOptions): Promise<FlushResult>;
  // The API client (api.d.ts): needs a secret key (`sk_…`).
  readonly customers: CustomersResource;
  readonly items: ItemsResource;
  readonly metrics: MetricsResource;
  readonly usage: UsageResource;
  readonly invoices: InvoicesResource;
  readonly tokens: TokensResource;
  readonly contracts: ContractsResource;
  readonly rejections: RejectionsResource;
  // Credits, balance, alerts, limits, entitlements and reservations: the balance,
  // entitlements and reservations also take an ingest key or the customer's own token.
  readonly creditGrants: CreditGrantsResource;
  readonly balance: BalanceResource;
  readonly alerts: AlertsResource;
  readonly limits: LimitsResource;
  readonly entitlements: EntitlementsResource;
  readonly reservations: ReservationsResource;
}
