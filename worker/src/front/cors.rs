//! Cross-origin access (CORS), so a browser app on another origin can report usage with a
//! customer token (`ct_…`, API.md "Customer tokens") and read the answers.
//!
//! It applies to every route, as Stripe's API does, not only to ingest: the API
//! authenticates by bearer key alone and never by cookie, so a cross-origin page gets no
//! ambient authority from it; what a request may do is still decided by its key (a
//! `ct_…` token can only ingest its customer's events). Limiting CORS to ingest would
//! not keep secret keys out of browsers, only make errors on the other routes
//! unreadable. Hence `Access-Control-Allow-Origin: *` and no
//! `Access-Control-Allow-Credentials`.

use worker::{Headers, Response, Result};

/// The methods the API serves.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers beyond the CORS-safelisted ones that the API reads.
const ALLOWED_HEADERS: &str = "authorization, content-type, content-encoding, idempotency-key";
/// Response headers a script may read beyond the safelisted ones (`content-type`, …).
const EXPOSED_HEADERS: &str = "retry-after, x-edgemeter-do-calls, x-request-id";
/// How long (s) a browser may cache a preflight answer (Chromium caps it at 2 hours).
const MAX_AGE: &str = "86400";

/// The answer to a preflight `OPTIONS` request, for any path: 204 with the methods and
/// headers every route accepts (an unknown route answers 404 to the real request).
pub fn preflight() -> Result<Response> {
    let headers = Headers::new();
    headers.set("access-control-allow-origin", "*")?;
    headers.set("access-control-allow-methods", METHODS)?;
    headers.set("access-control-allow-headers", ALLOWED_HEADERS)?;
    headers.set("access-control-max-age", MAX_AGE)?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Adds the headers a cross-origin script needs to read `response` (errors included).
pub fn allow(mut response: Response) -> Result<Response> {
    let headers = response.headers_mut();
    headers.set("access-control-allow-origin", "*")?;
    headers.set("access-control-expose-headers", EXPOSED_HEADERS)?;
    Ok(response)
}
