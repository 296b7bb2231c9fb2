//! The review dashboard's files (`dashboard/`, built into Workers static assets): `GET /`
//! redirects to `/dashboard/`, and `/dashboard/…` is served from the `ASSETS` binding
//! with the prefix taken off.
//!
//! The files are public (they hold no data); the app reads the API with the secret key a
//! person signs in with. The headers keep that key where it belongs: a content security
//! policy that lets scripts come only from this origin and lets them talk only to it
//! (`connect-src 'self'`), no framing, no referrer.

use worker::{Env, Headers, Method, Request, RequestInit, Response, Result};

/// Where the dashboard lives.
pub const PREFIX: &str = "/dashboard";

/// Whether a path is the dashboard's rather than the API's.
pub fn owns(path: &str) -> bool {
    path == "/" || path == PREFIX || path.starts_with("/dashboard/")
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; frame-src blob:; \
frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Answers a dashboard path (only `GET` and `HEAD`; anything else is 405).
pub async fn serve(req: &Request, env: &Env) -> Result<Response> {
    let method = req.method();
    if !matches!(method, Method::Get | Method::Head) {
        let headers = Headers::new();
        headers.set("allow", "GET, HEAD")?;
        let body =
            serde_json::json!({"error": {"code": "method_not_allowed", "message": "the dashboard's files take GET"}});
        return Ok(Response::from_json(&body)?.with_status(405).with_headers(headers));
    }
    let path = req.path();
    if path == "/" || path == PREFIX {
        let mut url = req.url()?;
        url.set_path("/dashboard/");
        url.set_query(None);
        return Response::redirect_with_status(url, 302);
    }
    let mut url = req.url()?;
    let inner = path.strip_prefix(PREFIX).unwrap_or("/");
    url.set_path(if inner.is_empty() { "/" } else { inner });
    let headers = Headers::new();
    if let Some(tag) = req.headers().get("if-none-match")? {
        headers.set("if-none-match", &tag)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method.clone()).with_headers(headers);
    let mut answer = env.assets("ASSETS")?.fetch(url.to_string(), Some(init)).await?;
    let status = answer.status_code();
    let out = Headers::new();
    for name in ["content-type", "etag", "cache-control"] {
        if let Some(v) = answer.headers().get(name)? {
            out.set(name, &v)?;
        }
    }
    out.set("content-security-policy", CSP)?;
    out.set("x-content-type-options", "nosniff")?;
    out.set("referrer-policy", "no-referrer")?;
    out.set("x-frame-options", "DENY")?;
    let body = if status == 304 || method == Method::Head { Vec::new() } else { answer.bytes().await? };
    Ok(Response::from_bytes(body)?.with_status(status).with_headers(out))
}
