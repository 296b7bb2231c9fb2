// The API, on this origin only, with the secret key the person signed in with.
//
// The key is kept in sessionStorage: it lives as long as the tab, is not shared with other
// tabs, and is never written to a cookie, so the browser never sends it anywhere by
// itself. Every request here is a relative URL, so the key goes only to this origin (the
// page's CSP, `connect-src 'self'`, enforces the same).

const KEY = 'edgemeter.secretKey';

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => sessionStorage.removeItem(KEY);

/** An error the API answered: HTTP status, `code`, `field`, and `errors` for `invalid_contract`. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error ?? {};
    super(e.message ?? `the server answered ${status}`);
    this.status = status;
    this.code = e.code ?? null;
    this.field = e.field ?? null;
    this.errors = Array.isArray(e.errors) ? e.errors : [];
  }
}

/** Called when the key stops working (401): the app signs the person out. */
let onUnauthorized = () => {};
export const whenUnauthorized = (fn) => { onUnauthorized = fn; };

/**
 * Calls the API. `body` is sent as JSON unless it is a Blob/ArrayBuffer (sent raw);
 * `as: 'blob'` reads the answer as a Blob. Rejects with an ApiError on any non-2xx.
 */
export async function api(path, { method = 'GET', body, as = 'json', key = getKey(), query } = {}) {
  if (!path.startsWith('/v1/')) throw new Error(`not an API path: ${path}`);
  const headers = { authorization: `Bearer ${key}` };
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    if (body.type) headers['content-type'] = body.type;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const qs = query ? `?${new URLSearchParams(Object.entries(query).filter(([, v]) => v != null && v !== ''))}` : '';
  let res;
  try {
    res = await fetch(path + (qs === '?' ? '' : qs), { method, headers, body: payload, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw Object.assign(new Error('The server could not be reached.'), { code: 'network_error' });
  }
  if (!res.ok) {
    const err = new ApiError(res.status, await res.json().catch(() => null));
    if (res.status === 401 && key === getKey()) onUnauthorized(err);
    throw err;
  }
  if (as === 'blob') return res.blob();
  return res.status === 204 ? null : res.json();
}

/** Every page of a list (up to `max` records), following `next_cursor`. */
export async function listAll(path, query = {}, max = 5000) {
  const out = [];
  let cursor = null;
  do {
    const page = await api(path, { query: { ...query, limit: 500, cursor } });
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

/** Customers by id, loaded once per sign-in and on demand (for names in lists). */
let customersCache = null;
export function customers({ fresh = false } = {}) {
  if (fresh || !customersCache) {
    customersCache = listAll('/v1/customers').catch((e) => { customersCache = null; throw e; });
  }
  return customersCache;
}
export const forgetCustomers = () => { customersCache = null; };
