// Errors of @edgemeter/sdk: one class with the server's stable codes (API.md) plus the
// SDK's own, shared by the tracking client (index.js) and the API client (api.js).

/** The API's snake_case names of event fields to the SDK's camelCase ones. */
const CAMEL_FIELDS = new Map([
  ['idempotency_key', 'idempotencyKey'],
  ['customer_id', 'customerId'],
  ['event_name', 'eventName'],
]);

/** A wire field's name, as a word in a message. */
const WIRE_FIELD = /\b(?:idempotency_key|customer_id|event_name)\b/g;

/** An error with a stable machine-readable `code` (the server's codes, plus the SDK's). */
export class EdgemeterError extends Error {
  constructor(code, message, { field, status, idempotencyKeys = [], errors, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'EdgemeterError';
    this.code = code;
    // The API names fields in snake_case and the SDK in camelCase; an unknown field is
    // named as the caller spelled it.
    if (field !== undefined && field !== null) {
      this.field = code === 'unknown_field' ? field : (CAMEL_FIELDS.get(field) ?? field);
    }
    if (status !== undefined) this.status = status;
    this.idempotencyKeys = idempotencyKeys;
    // Every problem of a document validated whole (`invalid_contract`), each with its
    // own `code`, `message` and `field`; `field` above is the first one's.
    if (errors !== undefined) this.errors = errors;
  }
}

/** An `EdgemeterError` from an error body of the server or of the wasm validator. */
export function fromApiError(e, extra) {
  const code = String(e?.code ?? 'http_error');
  // The wasm's errors read `code: message`; the server's carry the message alone.
  let message = String(e?.message ?? 'the server refused the request');
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  // The rules name the wire's fields (`customer_id`); a JS caller wrote `customerId`.
  message = message.replace(WIRE_FIELD, (name) => CAMEL_FIELDS.get(name));
  const errors = Array.isArray(e?.errors) ? e.errors.map(problem) : undefined;
  return new EdgemeterError(code, message, { field: e?.field, errors, ...extra });
}

/** One entry of an error's `errors` list, as plain data. */
function problem(p) {
  const out = { code: String(p?.code ?? 'invalid_field'), message: String(p?.message ?? '') };
  if (typeof p?.field === 'string') out.field = p.field;
  return out;
}
