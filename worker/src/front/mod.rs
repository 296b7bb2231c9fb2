//! The front: the Worker's `fetch` handler. Authenticates, reads the body, applies the
//! `Idempotency-Key` rules, and routes to the handlers in `api/`, which validate with
//! `core` and call the objects through `crate::protocol`.

pub mod api;
pub mod auth;
mod batcher;
mod cors;
mod metrics_cache;
pub mod replay;
pub mod token;

use crate::respond::Reply;
use auth::Principal;
use edgemeter_core::ingest::MAX_BODY_BYTES;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use replay::Replay;
use worker::{Env, Method, Request, Response, Result};

/// What every handler gets: the bindings and the request's arrival time.
pub struct Ctx {
    pub env: Env,
    /// The runtime's context of this request (`waitUntil`).
    pub worker: worker::Context,
    pub now: Timestamp,
    /// For a request with an `Idempotency-Key`: where its new ids come from, so that every
    /// copy that runs makes the same ones (`replay::IdSeed`).
    pub id_seed: std::cell::Cell<Option<replay::IdSeed>>,
    /// Tests only (`EDGEMETER_FAULT_INJECTION=1`): the `edgemeter-fault` header, naming a
    /// point where the handler fails on purpose.
    pub fault: Option<String>,
}

/// Answers one HTTP request.
pub async fn fetch(mut req: Request, env: Env, worker: worker::Context) -> Result<Response> {
    // A browser's preflight carries no credentials: answer it before authenticating.
    if req.method() == Method::Options {
        return cors::preflight();
    }
    let faults = env.var("EDGEMETER_FAULT_INJECTION").is_ok_and(|v| v.to_string() == "1");
    let fault = if faults { req.headers().get("edgemeter-fault").ok().flatten() } else { None };
    let ctx =
        Ctx { env, worker, now: Timestamp(worker::Date::now().as_millis() as i64), id_seed: Default::default(), fault };
    let reply = match handle(&mut req, &ctx).await {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
    };
    let status = reply.status;
    let mut response = reply.into_response()?;
    if status == 405 {
        // RFC 9110: a 405 names the methods the resource takes.
        if let Some(allowed) = methods_for(&segments_of(&req.path())) {
            response.headers_mut().set("allow", &allowed.join(", "))?;
        }
    }
    cors::allow(response)
}

/// A path's segments: `/v1/customers/cus_1` is `["v1", "customers", "cus_1"]`.
fn segments_of(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

async fn handle(req: &mut Request, ctx: &Ctx) -> std::result::Result<Reply, ApiError> {
    let path = req.path();
    let segments = segments_of(&path);
    let method = req.method();

    // Unauthenticated operations.
    match (&method, segments.as_slice()) {
        (Method::Get, ["healthz"]) => return Reply::json(200, &serde_json::json!({"status": "ok"})),
        (Method::Get, ["openapi.json"]) => {
            return Ok(Reply::new(200, include_bytes!("../../../openapi.json").to_vec()))
        }
        _ => {}
    }

    let principal = auth::authenticate(req, &ctx.env, ctx.now)?;
    let query = query_pairs(req);
    let body = if matches!(method, Method::Post | Method::Patch) { read_body(req).await? } else { Vec::new() };
    let is_ingest = matches!((&method, segments.as_slice()), (Method::Post, ["v1", "usage", "ingest"]));
    if !is_ingest {
        principal.require_secret()?;
    }

    let replay = if method == Method::Post { Replay::from_request(req, &path, &body)? } else { None };
    let Some(replay) = replay else {
        return route(ctx, &principal, &method, &segments, &query, &body).await;
    };
    // Where a key's answer is kept (replay.rs says why): in KV for ingest, in the key's own
    // object for every other POST. The answer is the client's whatever happens to its
    // copies, so a failure to keep it is logged, not turned into a 500 that would make
    // the client run the request again.
    if is_ingest {
        if let Some(stored) = replay.lookup(&ctx.env).await? {
            return Ok(stored);
        }
        let reply = route(ctx, &principal, &method, &segments, &query, &body).await?;
        if let Err(e) = replay.store(&ctx.env, reply.status, &reply.body).await {
            worker::console_error!("caching the answer of {path} in KV: {}", e.message);
        }
        return Ok(reply);
    }
    match replay.claim(&ctx.env, ctx.now).await? {
        replay::Claimed::Answered(answered) => return Ok(answered),
        replay::Claimed::Run(seed) => ctx.id_seed.set(Some(seed)),
    }
    let reply = route(ctx, &principal, &method, &segments, &query, &body).await.unwrap_or_else(|e| Reply::error(&e));
    if let Err(e) = replay.finish(&ctx.env, reply.status, &reply.body).await {
        worker::console_error!("keeping the answer of {path}: {}", e.message);
    }
    Ok(reply)
}

async fn route(
    ctx: &Ctx,
    principal: &Principal,
    method: &Method,
    segments: &[&str],
    query: &[(String, String)],
    body: &[u8],
) -> std::result::Result<Reply, ApiError> {
    use Method::*;
    match (method, segments) {
        (Post, ["v1", "usage", "ingest"]) => api::ingest::ingest(ctx, principal, body).await,
        (Post, ["v1", "usage", "void"]) => api::usage::void(ctx, body).await,
        (Post, ["v1", "customers"]) => api::customers::create(ctx, body).await,
        (Post, ["v1", "tokens"]) => api::tokens::create(ctx, body).await,
        (Get, ["v1", "customers"]) => api::customers::list(ctx, query).await,
        (Get, ["v1", "customers", id]) => api::customers::get(ctx, id).await,
        (Patch, ["v1", "customers", id]) => api::customers::patch(ctx, id, body).await,
        (Post, ["v1", "customers", id, "items"]) => api::items::create(ctx, id, body).await,
        (Get, ["v1", "customers", id, "usage"]) => api::usage::usage(ctx, id, query).await,
        (Get, ["v1", "items"]) => api::items::list(ctx, query).await,
        (Get, ["v1", "customers", id, "invoices", "upcoming"]) => api::invoices::upcoming(ctx, id).await,
        (Get, ["v1", "invoices"]) => api::invoices::list(ctx, query).await,
        (Get, ["v1", "invoices", id]) => api::invoices::get(ctx, id).await,
        (Post, ["v1", "invoices", id, "approve"]) => api::invoices::transition(ctx, id, true).await,
        (Post, ["v1", "invoices", id, "void"]) => api::invoices::transition(ctx, id, false).await,
        (Post, ["v1", "billing", "metrics"]) => api::metrics::create(ctx, body).await,
        (Get, ["v1", "billing", "metrics"]) => api::metrics::list(ctx, query).await,
        (Get, ["v1", "billing", "metrics", code]) => api::metrics::get(ctx, code).await,
        _ => match methods_for(segments) {
            Some(allowed) => Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed on /{}; use {}", segments.join("/"), allowed.join(" or ")),
            )),
            None => Err(ApiError::new(ErrorCode::NotFound, format!("no route {} /{}", method, segments.join("/")))),
        },
    }
}

/// The methods a known path takes, so a wrong method on it is a 405 (with an `Allow`
/// header) rather than a 404 that suggests the path itself is wrong. Kept beside
/// `route`, which it mirrors.
fn methods_for(segments: &[&str]) -> Option<&'static [&'static str]> {
    Some(match segments {
        ["v1", "usage", "ingest" | "void"] | ["v1", "tokens"] => &["POST"],
        ["v1", "customers", _, "items"] => &["POST"],
        ["v1", "invoices", _, "approve" | "void"] => &["POST"],
        ["v1", "customers"] | ["v1", "billing", "metrics"] => &["GET", "POST"],
        ["v1", "customers", _] => &["GET", "PATCH"],
        ["v1", "customers", _, "usage"] | ["v1", "customers", _, "invoices", "upcoming"] => &["GET"],
        ["v1", "items"] | ["v1", "invoices"] | ["v1", "invoices", _] | ["v1", "billing", "metrics", _] => &["GET"],
        _ => return None,
    })
}

/// Reads the body, refusing more than the API's 1 MiB before reading when the client
/// says how much it sends.
async fn read_body(req: &mut Request) -> std::result::Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new(ErrorCode::PayloadTooLarge, format!("body exceeds {MAX_BODY_BYTES} bytes"));
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = req
        .bytes()
        .await
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("could not read the body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.url().map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()).unwrap_or_default()
}
