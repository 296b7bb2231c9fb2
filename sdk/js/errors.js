// Errors of @edgemeter/sdk: one class with the server's stable codes (API.md) plus the
// SDK's own, shared by the tracking client (index.js) and the API client (api.js).

/** The API's snake_case names of event fields to the SDK's camelCase ones. */
const CAMEL_FIELDS = new Map([
  ['idempotency_key', 'idempotencyKey'],
  ['customer_id', 'customerId'],
  ['event_name', 'eventName'],
]);

/** An error with a stable machine-readable `code` (the server's codes, plus the SDK's). */
export class EdgemeterError extends Error {
  constructor(code, message, { field, status, idempotencyKeys = [], cause } = {}) {
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
  }
}

/** An `EdgemeterError` from an error body of the server or of the wasm validator. */
export function fromApiError(e, extra) {
  const code = String(e?.code ?? 'http_error');
  // The wasm's errors read `code: message`; the server's carry the message alone.
  let message = String(e?.message ?? 'the server refused the request');
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2);
  return new EdgemeterError(code, message, { field: e?.field, ...extra });
}
