// Retrying requests, shared by the tracking client (index.js) and the API client
// (api.js): which answers are worth another try, how long to wait before it (full
// jitter, or the server's `Retry-After`), and reading an answer's JSON.

/** Network errors aside, the statuses worth retrying: 408, 429 and 5xx. */
export function retryable(status) {
  return status === 408 || status === 429 || status >= 500;
}

/** `Retry-After` in seconds or as an HTTP date, in ms; null when absent or unreadable. */
export function parseRetryAfter(value) {
  if (value === null || value === undefined || value.trim() === '') return null;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * The wait before retry number `attempt + 1`: full jitter (AWS), uniform in
 * [0, min(retryMaxMs, retryBaseMs * 2^attempt)], so clients that failed together do not
 * come back together.
 */
export function backoffMs(o, attempt) {
  return Math.random() * Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** attempt);
}

/** The answer's JSON, or null when it is not JSON. */
export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
