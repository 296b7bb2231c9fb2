// The typed client for the rest of the API (API.md): customers, items, metrics, usage,
// invoices, tokens, contracts and rejected events. `createApi(options)` returns the resources that `Edgemeter`
// exposes as properties (`em.customers.create(…)`). Types: api.d.ts.
//
// Names. The SDK speaks camelCase and the API snake_case (API.md, "Conventions"), as the
// tracking client does for events: object keys are converted both ways, deeply, and
// nothing else is. Values are never touched, so money and quantities stay the decimal
// strings the server sends, and the keys inside the maps that hold the caller's own names
// (`filters`, `properties`, `metadata`) pass through as they are. A snake_case key in
// input is refused (`unknown_field`), as `track()` refuses one; the `field` of an error
// is camelCased the same way (`metric_code` → `metricCode`, `price.tiers[0].up_to` →
// `price.tiers[0].upTo`).
//
// Retries. Every request is retried on network errors, timeouts, 408, 429 and 5xx, with
// the tracking client's backoff (full jitter, `Retry-After` honoured, `maxRetries`), and
// is safe to retry:
// - GET, PATCH and PUT are idempotent: a patch sets the same fields again, a document
//   uploaded again replaces itself.
// - Every POST carries an `Idempotency-Key` header, kept across its retries (the
//   caller's `idempotencyKey` option, else a random UUID per call). The server keeps a
//   POST's successful answer for 24 hours before it answers, and replays it for the same
//   key and body, so a retry of a create whose answer was lost returns the first result
//   instead of creating a second customer or item.
// - The replay store (Workers KV) is eventually consistent, so a retry could miss it; the
//   POSTs that are idempotent by nature then recover by reading the state: a retried
//   approve or void that gets 409 `invalid_invoice_state` returns the invoice if it
//   already has the wanted status; a retried metric create that gets 409
//   `duplicate_metric_code` returns the metric if its definition is the one sent;
//   `usage.void` answers `already_voided`; minting a token changes nothing; a retried
//   contract accept or cancel that gets 409 `contract_not_draft` returns the contract
//   (and, for accept, its customer) if it already has the wanted status. For
//   `customers.create` and `items.create` that small window remains; pass your own
//   `idempotencyKey` (say, your user's id) to also cover a restart of your process.

import { EdgemeterError, fromApiError } from './errors.js';
import { webCrypto } from './platform.js';
import { parseJson, sendWithRetries } from './retry.js';


/**
 * Maps whose keys are the caller's own names, passed through without conversion; and a
 * rejected event's `event`, shown as it was sent (its keys are the wire's).
 */
const OPAQUE = new Set(['filters', 'properties', 'metadata', 'event']);

/** The largest contract document the server takes (10 MiB). */
const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

/** Resources to assign onto an `Edgemeter`, sharing its validated options. */
export function createApi(options) {
  const o = { ...options, root: options.baseUrl.replace(/\/+$/, '') };
  const call = (method, path, init = {}) => request(o, method, path, init);
  const id = (value, name) => segment(value, name);

  const customers = {
    create: async (input, opts) => call('POST', '/v1/customers', { body: input, opts }),
    get: async (customerId) => call('GET', `/v1/customers/${id(customerId, 'customerId')}`),
    list: async (params) => call('GET', '/v1/customers', { query: listQuery(params) }),
    listAll: (params) => all(customers.list, params),
    update: async (customerId, patch) => call('PATCH', `/v1/customers/${id(customerId, 'customerId')}`, { body: patch }),
    // API.md "Checking an invoice": changes nothing, so a retry is harmless.
    simulate: async (customerId, input, opts) =>
      call('POST', `/v1/customers/${id(customerId, 'customerId')}/simulate`, { body: input, opts }),
  };

  const items = {
    create: async (customerId, input, opts) =>
      call('POST', `/v1/customers/${id(customerId, 'customerId')}/items`, { body: input, opts }),
    list: async (customerId) => call('GET', '/v1/items', { query: { customerId: id(customerId, 'customerId') } }),
  };

  const metrics = {
    create: async (input, opts) =>
      call('POST', '/v1/billing/metrics', {
        body: input,
        opts,
        // A retry whose first attempt created the metric: the same definition is success.
        recover: async (e) => {
          if (e.code !== 'duplicate_metric_code') return undefined;
          const m = await metrics.get(input.code);
          return sameMetric(m, input) ? m : undefined;
        },
      }),
    get: async (code) => call('GET', `/v1/billing/metrics/${id(code, 'code')}`),
    list: async (params) => call('GET', '/v1/billing/metrics', { query: listQuery(params) }),
    listAll: (params) => all(metrics.list, params),
  };

  const usage = {
    get: async (customerId, params = {}) =>
      call('GET', `/v1/customers/${id(customerId, 'customerId')}/usage`, { query: { at: time(params?.at) } }),
    daily: async (customerId, params = {}) =>
      call('GET', `/v1/customers/${id(customerId, 'customerId')}/usage/daily`, { query: { at: time(params?.at) } }),
    upcoming: async (customerId) => call('GET', `/v1/customers/${id(customerId, 'customerId')}/invoices/upcoming`),
    // Voiding twice answers `already_voided`: idempotent by nature.
    void: async (input, opts) => call('POST', '/v1/usage/void', { body: input, opts }),
  };

  /** Approve or void: a retry that finds the invoice already there is a success. */
  const transition = (invoiceId, op, target, opts) =>
    call('POST', `/v1/invoices/${id(invoiceId, 'invoiceId')}/${op}`, {
      body: undefined,
      opts,
      recover: async (e) => {
        if (e.code !== 'invalid_invoice_state') return undefined;
        const inv = await invoices.get(invoiceId);
        return inv.status === target ? inv : undefined;
      },
    });

  const invoices = {
    list: async (params = {}) => {
      const { customerId, status, ...rest } = params ?? {};
      return call('GET', '/v1/invoices', { query: { ...listQuery(rest), customerId, status } });
    },
    listAll: (params) => all(invoices.list, params),
    get: async (invoiceId) => call('GET', `/v1/invoices/${id(invoiceId, 'invoiceId')}`),
    approve: async (invoiceId, opts) => transition(invoiceId, 'approve', 'sent', opts),
    void: async (invoiceId, opts) => transition(invoiceId, 'void', 'void', opts),
    // API.md "Checking an invoice": the events it counted, in idempotency-key order.
    events: async (invoiceId, params) =>
      call('GET', `/v1/invoices/${id(invoiceId, 'invoiceId')}/events`, { query: listQuery(params) }),
    eventsAll: (invoiceId, params) => all((p) => invoices.events(invoiceId, p), params),
  };

  const tokens = {
    // A token is minted from the request alone and stored nowhere: retrying is harmless.
    create: async (input, opts) => call('POST', '/v1/tokens', { body: input, opts }),
  };

  /**
   * Accept or cancel: a retry whose first attempt went through gets 409
   * `contract_not_draft`; the contract in the wanted status is then a success.
   */
  const settleContract = (contractId, op, target, opts, done) =>
    call('POST', `/v1/contracts/${id(contractId, 'contractId')}/${op}`, {
      body: undefined,
      opts,
      recover: async (e) => {
        if (e.code !== 'contract_not_draft') return undefined;
        const contract = await contracts.get(contractId);
        return contract.status === target ? done(contract) : undefined;
      },
    });

  const contracts = {
    create: async (input, opts) => call('POST', '/v1/contracts', { body: input, opts }),
    get: async (contractId) => call('GET', `/v1/contracts/${id(contractId, 'contractId')}`),
    list: async (params = {}) => {
      const { status, ...rest } = params ?? {};
      return call('GET', '/v1/contracts', { query: { ...listQuery(rest), status } });
    },
    listAll: (params) => all(contracts.list, params),
    update: async (contractId, patch) => call('PATCH', `/v1/contracts/${id(contractId, 'contractId')}`, { body: patch }),
    accept: async (contractId, opts) =>
      settleContract(contractId, 'accept', 'accepted', opts, async (contract) => ({
        contract,
        customer: await customers.get(contract.customerId),
      })),
    cancel: async (contractId, opts) => settleContract(contractId, 'cancel', 'canceled', opts, (contract) => contract),
    uploadDocument: async (contractId, file, params = {}) => {
      const path = `/v1/contracts/${id(contractId, 'contractId')}/document`;
      const filename = params?.filename;
      if (filename !== undefined && (typeof filename !== 'string' || filename === '')) {
        throw new EdgemeterError('invalid_request', '`filename` must be a non-empty string', { field: 'filename' });
      }
      const raw = await documentBytes(file);
      if (raw.byteLength > MAX_DOCUMENT_BYTES) {
        throw new EdgemeterError('payload_too_large', `a document is at most ${MAX_DOCUMENT_BYTES} bytes, not ${raw.byteLength}`);
      }
      return call('PUT', path, { raw, query: { filename } });
    },
    downloadDocument: async (contractId) =>
      call('GET', `/v1/contracts/${id(contractId, 'contractId')}/document`, { download: true }),
  };

  const rejections = {
    // One customer's log, or the account's (events that named no customer it could use).
    list: async (params = {}) => {
      const { customerId, ...rest } = params ?? {};
      const path = customerId === undefined ? '/v1/rejections' : `/v1/customers/${id(customerId, 'customerId')}/rejections`;
      return call('GET', path, { query: listQuery(rest) });
    },
  };

  return { customers, items, metrics, usage, invoices, tokens, contracts, rejections };
}

/**
 * One API call: the camelCase body to the wire, retries under one `Idempotency-Key`, the
 * answer back to camelCase, or an `EdgemeterError` with the server's `code`, `field`,
 * `status` (and `errors`, when it lists several problems). `raw` is a body of bytes sent
 * as they are; `download` reads a success as a file rather than JSON. `recover(error)`
 * may turn the final error of a retried call into a result.
 */
async function request(o, method, path, { query, body, raw, download, opts, recover } = {}) {
  let url = `${o.root}${path}`;
  const qs = queryString(query);
  if (qs) url += `?${qs}`;
  const headers = { authorization: `Bearer ${o.apiKey}` };
  const init = { method, headers };
  if (raw !== undefined) {
    // The server reads the type from the bytes themselves.
    headers['content-type'] = 'application/octet-stream';
    init.body = raw;
  } else if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    init.body = body === undefined ? '{}' : JSON.stringify(toWire(body));
  }
  if (method === 'POST') {
    const key = opts?.idempotencyKey ?? randomUuid();
    if (typeof key !== 'string' || key === '' || key.length > 255) {
      throw new EdgemeterError('invalid_option', '`idempotencyKey` must be a string of 1 to 255 characters', {
        field: 'idempotencyKey',
      });
    }
    headers['idempotency-key'] = key;
  }

  const ok = (status) => status >= 200 && status < 300;
  const settle = (status, text, resHeaders) => {
    if (download && ok(status)) return { value: downloaded(text, resHeaders) };
    const answer = parseJson(text);
    if (ok(status)) {
      if (answer !== null && typeof answer === 'object') return { value: fromWire(answer) };
      return { error: new EdgemeterError('invalid_response', `the server answered ${status} without a JSON object`, { status }) };
    }
    const e = answer?.error;
    const errors = Array.isArray(e?.errors) ? e.errors.map((p) => ({ ...p, field: camelField(p?.field) })) : undefined;
    return { error: fromApiError(e && { ...e, field: camelField(e.field), errors }, { status }) };
  };
  // A file's bytes are read as bytes; its errors (JSON) as text.
  const read = download ? async (res) => (ok(res.status) ? responseBytes(res) : res.text()) : undefined;
  const sent = await sendWithRetries(o, url, init, settle, {}, undefined, read);
  if ('value' in sent) return sent.value;
  if (sent.final && sent.attempt > 0 && recover) {
    const recovered = await recover(sent.error);
    if (recovered !== undefined) return recovered;
  }
  throw sent.error;
}

/** Every element of every page, fetching the next page only when the last is used up. */
async function* all(list, params = {}) {
  let cursor = params?.cursor;
  do {
    const page = await list({ ...params, cursor });
    yield* page.data;
    cursor = page.nextCursor;
  } while (cursor);
}

/** A time for a query: a Date as RFC 3339 in UTC, a string as given. */
function time(at) {
  return at instanceof Date ? at.toISOString() : at;
}

/**
 * A document's bytes, from a `Uint8Array` (a Node `Buffer` is one), any other view, an
 * `ArrayBuffer` or a `Blob`, as a copy the caller's later changes cannot reach (a retry
 * sends what the call was given).
 */
async function documentBytes(file) {
  if (file instanceof ArrayBuffer) return new Uint8Array(file.slice(0));
  if (ArrayBuffer.isView(file)) return new Uint8Array(file.buffer, file.byteOffset, file.byteLength).slice();
  if (typeof globalThis.Blob === 'function' && file instanceof globalThis.Blob) {
    return new Uint8Array(await file.arrayBuffer());
  }
  throw new EdgemeterError('invalid_request', 'a document must be a Uint8Array, an ArrayBuffer or a Blob', {
    field: 'document',
  });
}

/** An answer's body as bytes. */
async function responseBytes(res) {
  if (typeof res.arrayBuffer !== 'function') {
    throw new EdgemeterError('invalid_option', "the `fetch` option's responses have no arrayBuffer(), needed for a download", {
      field: 'fetch',
    });
  }
  return new Uint8Array(await res.arrayBuffer());
}

/** A downloaded file: its type, its name (from `content-disposition`) and its bytes. */
function downloaded(bytes, headers) {
  const contentType = headers?.get('content-type') ?? 'application/octet-stream';
  return { contentType, filename: dispositionFilename(headers?.get('content-disposition')), bytes };
}

/**
 * The file name of a `content-disposition` header: `filename*=UTF-8''…` (RFC 6266)
 * before `filename="…"`; null without either.
 */
function dispositionFilename(value) {
  if (typeof value !== 'string') return null;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(value);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // Not percent-encoding after all: fall back on the plain parameter.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(value);
  if (quoted) return quoted[1].replace(/\\(.)/g, '$1');
  const bare = /filename\s*=\s*([^;\s]+)/i.exec(value);
  return bare ? bare[1] : null;
}

function listQuery(params) {
  const { limit, cursor } = params ?? {};
  return { limit, cursor };
}

/** A path segment: a non-empty string, percent-encoded. */
function segment(value, name) {
  if (typeof value !== 'string' || value === '') {
    throw new EdgemeterError('invalid_request', `\`${name}\` must be a non-empty string`, { field: name });
  }
  return encodeURIComponent(value);
}

function queryString(query) {
  if (!query) return '';
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null) qs.set(snake(k), String(v));
  }
  return qs.toString();
}

/** A request body in the API's names. Refuses snake_case keys, as `track()` does. */
function toWire(value, path = '') {
  if (Array.isArray(value)) return value.map((v, i) => toWire(v, `${path}[${i}]`));
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const at = path ? `${path}.${k}` : k;
    if (k.includes('_')) {
      throw new EdgemeterError('unknown_field', `unknown field \`${at}\` (the SDK takes camelCase names)`, { field: at });
    }
    const name = snake(k);
    out[name] = OPAQUE.has(name) ? v : toWire(v, at);
  }
  return out;
}

/** An answer in the SDK's names. */
function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[camel(k)] = OPAQUE.has(k) ? v : fromWire(v);
  return out;
}

function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function snake(k) {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function camel(k) {
  return k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/** An error's `field` (a name or a path such as `price.tiers[0].up_to`) in camelCase. */
function camelField(field) {
  return typeof field === 'string' ? camel(field) : field;
}

/** Whether a metric read back is the one `input` asked for. */
function sameMetric(m, input) {
  const filters = (f) => JSON.stringify(Object.entries(f ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return (
    m.code === input.code &&
    m.name === input.name &&
    m.eventName === input.eventName &&
    m.aggregation === input.aggregation &&
    (m.field ?? null) === (input.field ?? null) &&
    filters(m.filters) === filters(input.filters)
  );
}

/** A random (version 4) UUID for an `Idempotency-Key`. */
function randomUuid() {
  if (typeof webCrypto.randomUUID === 'function') return webCrypto.randomUUID();
  const b = webCrypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
