//! The front: the Worker's `fetch` handler. Authenticates, reads the body, applies the
//! `Idempotency-Key` rules, and routes to the handlers in `api/`, which validate with
//! `core` and call the objects through `crate::protocol`.

pub mod api;
pub mod auth;
mod batcher;
mod body;
#[cfg(test)]
mod contract_tests;
mod cors;
mod dashboard;
mod entitlement_reads;
mod lane;
pub mod log;
mod metrics_cache;
pub mod replay;
pub mod token;

use crate::respond::Reply;
use auth::Principal;
use edgemeter_core::contract::MAX_DOCUMENT_BYTES;
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
    /// What the request's log line will say (`log.rs`).
    pub log: std::rc::Rc<log::Facts>,
}

/// Answers one HTTP request, and logs it (`log.rs`: one line each, its id in the
/// answer's `x-request-id`).
pub async fn fetch(req: Request, env: Env, worker: worker::Context) -> Result<Response> {
    let facts = std::rc::Rc::new(log::Facts::default());
    let method = req.inner().method();
    log::logged(&method, facts.clone(), answer(req, env, worker, facts)).await
}

async fn answer(
    mut req: Request,
    env: Env,
    worker: worker::Context,
    facts: std::rc::Rc<log::Facts>,
) -> Result<Response> {
    // A browser's preflight carries no credentials: answer it before authenticating.
    if req.method() == Method::Options {
        facts.route("preflight");
        return cors::preflight();
    }
    if dashboard::owns(&req.path()) {
        facts.route("dashboard");
        return dashboard::serve(&req, &env).await;
    }
    let faults = &*crate::settings::get(&env, "EDGEMETER_FAULT_INJECTION") == "1";
    let fault = if faults { req.headers().get("edgemeter-fault").ok().flatten() } else { None };
    let now = Timestamp(worker::Date::now().as_millis() as i64);
    let ctx = Ctx { env, worker, now, id_seed: Default::default(), fault, log: facts };
    // The method as sent: `worker::Method` reads any method it does not know as GET.
    let method = req.inner().method();
    let path = req.path();
    let segments = segments_of(&path);
    let resolved = resolve(&method, &segments);
    if let Resolved::Found(op, params) = &resolved {
        ctx.log.route(template_of(*op));
        if template_of(*op).starts_with("/v1/customers/{id}") {
            ctx.log.customer(params.first().copied().unwrap_or_default());
        }
    }
    // A wrong path or method asks for a key first, as every route but `GET /healthz` and
    // `GET /openapi.json` does (a route's handler authenticates its own request).
    let denied = match resolved {
        Resolved::Found(..) => None,
        _ => auth::authenticate(&req, &ctx.env, ctx.now).err(),
    };
    let (reply, allow) = match (resolved, denied) {
        (_, Some(e)) => (Reply::error(&e), None),
        (Resolved::Found(op, params), None) => {
            let reply = match handle(&mut req, &ctx, op, &params).await {
                Ok(r) => r,
                Err(e) => Reply::error(&e),
            };
            (reply, None)
        }
        (Resolved::NotAllowed(allowed), None) => {
            let e = ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed on /{}; use {}", segments.join("/"), allowed.join(" or ")),
            );
            (Reply::error(&e), Some(allowed.join(", ")))
        }
        (Resolved::NotFound, None) => {
            let e = ApiError::new(ErrorCode::NotFound, format!("no route {method} /{}", segments.join("/")));
            (Reply::error(&e), None)
        }
    };
    ctx.log.reply(&reply);
    let mut response = reply.into_response()?;
    if let Some(allow) = allow {
        // RFC 9110: a 405 names the methods the resource takes.
        response.headers_mut().set("allow", &allow)?;
    }
    cors::allow(response)
}

/// A path's segments: `/v1/customers/cus_1` is `["v1", "customers", "cus_1"]`.
fn segments_of(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// An operation of the API: what a request asks for once routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Health,
    OpenApi,
    Ingest,
    VoidEvent,
    CreateCustomer,
    ListCustomers,
    GetCustomer,
    PatchCustomer,
    CreateItem,
    ListItems,
    Usage,
    Upcoming,
    ListInvoices,
    GetInvoice,
    ApproveInvoice,
    VoidInvoice,
    CreateMetric,
    ListMetrics,
    GetMetric,
    CreateToken,
    CreateContract,
    ListContracts,
    GetContract,
    PatchContract,
    PutDocument,
    GetDocument,
    AcceptContract,
    CancelContract,
    DailyUsage,
    CustomerRejections,
    AccountRejections,
    CreateGrant,
    ListGrants,
    GetGrant,
    VoidGrant,
    Balance,
    CreateAlert,
    ListAlerts,
    DeleteAlert,
    PutLimit,
    ListLimits,
    DeleteLimit,
    Entitlements,
    Entitlement,
    CreateReservation,
    ListReservations,
    GetReservation,
    CommitReservation,
    ReleaseReservation,
    InvoiceEvents,
    Simulate,
}

/// The route table, as data: every (method, path template, operation) the API serves.
/// `{name}` matches one non-empty segment. The router, the 405s' `Allow` header and the
/// test that holds `openapi.json` to the server all read this one table.
pub const ROUTES: &[(&str, &str, Op)] = &[
    ("GET", "/healthz", Op::Health),
    ("GET", "/openapi.json", Op::OpenApi),
    ("POST", "/v1/usage/ingest", Op::Ingest),
    ("POST", "/v1/usage/void", Op::VoidEvent),
    ("GET", "/v1/customers", Op::ListCustomers),
    ("POST", "/v1/customers", Op::CreateCustomer),
    ("GET", "/v1/customers/{id}", Op::GetCustomer),
    ("PATCH", "/v1/customers/{id}", Op::PatchCustomer),
    ("POST", "/v1/customers/{id}/items", Op::CreateItem),
    ("GET", "/v1/customers/{id}/usage", Op::Usage),
    ("GET", "/v1/customers/{id}/usage/daily", Op::DailyUsage),
    ("GET", "/v1/customers/{id}/rejections", Op::CustomerRejections),
    ("GET", "/v1/rejections", Op::AccountRejections),
    ("GET", "/v1/customers/{id}/invoices/upcoming", Op::Upcoming),
    ("GET", "/v1/items", Op::ListItems),
    ("GET", "/v1/invoices", Op::ListInvoices),
    ("GET", "/v1/invoices/{id}", Op::GetInvoice),
    ("POST", "/v1/invoices/{id}/approve", Op::ApproveInvoice),
    ("POST", "/v1/invoices/{id}/void", Op::VoidInvoice),
    ("GET", "/v1/invoices/{id}/events", Op::InvoiceEvents),
    ("POST", "/v1/customers/{id}/simulate", Op::Simulate),
    ("GET", "/v1/billing/metrics", Op::ListMetrics),
    ("POST", "/v1/billing/metrics", Op::CreateMetric),
    ("GET", "/v1/billing/metrics/{code}", Op::GetMetric),
    ("POST", "/v1/tokens", Op::CreateToken),
    ("GET", "/v1/contracts", Op::ListContracts),
    ("POST", "/v1/contracts", Op::CreateContract),
    ("GET", "/v1/contracts/{id}", Op::GetContract),
    ("PATCH", "/v1/contracts/{id}", Op::PatchContract),
    ("PUT", "/v1/contracts/{id}/document", Op::PutDocument),
    ("GET", "/v1/contracts/{id}/document", Op::GetDocument),
    ("POST", "/v1/contracts/{id}/accept", Op::AcceptContract),
    ("POST", "/v1/contracts/{id}/cancel", Op::CancelContract),
    ("POST", "/v1/customers/{id}/credit_grants", Op::CreateGrant),
    ("GET", "/v1/customers/{id}/credit_grants", Op::ListGrants),
    ("GET", "/v1/customers/{id}/credit_grants/{grant_id}", Op::GetGrant),
    ("POST", "/v1/customers/{id}/credit_grants/{grant_id}/void", Op::VoidGrant),
    ("GET", "/v1/customers/{id}/balance", Op::Balance),
    ("POST", "/v1/customers/{id}/alerts", Op::CreateAlert),
    ("GET", "/v1/customers/{id}/alerts", Op::ListAlerts),
    ("DELETE", "/v1/customers/{id}/alerts/{alert_id}", Op::DeleteAlert),
    ("GET", "/v1/customers/{id}/limits", Op::ListLimits),
    ("PUT", "/v1/customers/{id}/limits/{metric_code}", Op::PutLimit),
    ("DELETE", "/v1/customers/{id}/limits/{metric_code}", Op::DeleteLimit),
    ("GET", "/v1/customers/{id}/entitlements", Op::Entitlements),
    ("GET", "/v1/customers/{id}/entitlements/{metric_code}", Op::Entitlement),
    ("GET", "/v1/customers/{id}/reservations", Op::ListReservations),
    ("POST", "/v1/customers/{id}/reservations", Op::CreateReservation),
    ("GET", "/v1/customers/{id}/reservations/{rid}", Op::GetReservation),
    ("POST", "/v1/customers/{id}/reservations/{rid}/commit", Op::CommitReservation),
    ("POST", "/v1/customers/{id}/reservations/{rid}/release", Op::ReleaseReservation),
];

/// The path template [`ROUTES`] gives an operation.
fn template_of(op: Op) -> &'static str {
    ROUTES.iter().find(|(_, _, o)| *o == op).map_or("", |(_, template, _)| template)
}

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved<'p> {
    /// An operation, with the path's `{…}` segments in order.
    Found(Op, Vec<&'p str>),
    /// A known path that does not take this method: 405, with the methods it takes.
    NotAllowed(Vec<&'static str>),
    /// No such path: 404.
    NotFound,
}

/// Routes a method (exactly as sent) and a path's segments through [`ROUTES`]. `HEAD` is
/// `GET` without the body (RFC 9110 §9.3.2): it goes wherever `GET` goes (the runtime
/// sends its answer's status and headers, never the body), and a path that takes `GET`
/// names `HEAD` too in its 405s.
pub fn resolve<'p>(method: &str, segments: &[&'p str]) -> Resolved<'p> {
    let wanted = if method == "HEAD" { "GET" } else { method };
    let mut allowed = Vec::new();
    for (m, template, op) in ROUTES {
        let Some(params) = match_template(template, segments) else { continue };
        if *m == wanted {
            return Resolved::Found(*op, params);
        }
        allowed.push(*m);
        if *m == "GET" {
            allowed.push("HEAD");
        }
    }
    if allowed.is_empty() {
        Resolved::NotFound
    } else {
        Resolved::NotAllowed(allowed)
    }
}

/// The `{…}` segments of `segments` if they fit `template`.
fn match_template<'p>(template: &str, segments: &[&'p str]) -> Option<Vec<&'p str>> {
    let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if segment.is_empty() {
                return None;
            }
            params.push(*segment);
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

async fn handle(req: &mut Request, ctx: &Ctx, op: Op, params: &[&str]) -> std::result::Result<Reply, ApiError> {
    if matches!(op, Op::Health | Op::OpenApi) {
        return public(op);
    }
    let path = req.path();
    let principal = auth::authenticate(req, &ctx.env, ctx.now)?;
    if let Some(customer) = principal.only_customer() {
        ctx.log.customer(customer);
    }
    let query = query_pairs(req);
    let method = req.method();
    let is_ingest = op == Op::Ingest;
    // Before the body is read: a key that may not use the route never sends 10 MiB.
    // A customer's balance, entitlements and reservations are also an ingest key's and a
    // customer token's (their handlers check whose).
    if !is_ingest && !open_to_customer_keys(op) {
        principal.require_secret()?;
    }
    // A contract's document is a raw file of up to 10 MiB; every other body is JSON of
    // up to 1 MiB.
    let limit = if op == Op::PutDocument { MAX_DOCUMENT_BYTES } else { MAX_BODY_BYTES };
    let body = if matches!(method, Method::Post | Method::Patch | Method::Put) {
        body::read(req, limit, is_ingest).await?
    } else {
        Vec::new()
    };

    let replay = if method == Method::Post { Replay::from_request(req, &path, &body)? } else { None };
    let Some(replay) = replay else {
        return route(ctx, &principal, op, params, &query, &body).await;
    };
    // Where a key's answer is kept (replay.rs says why): in KV for ingest, in the key's own
    // object for every other POST. The answer is the client's whatever happens to its
    // copies, so a failure to keep it is logged, not turned into a 500 that would make
    // the client run the request again.
    if is_ingest {
        if let Some(stored) = replay.lookup(&ctx.env).await? {
            return Ok(stored);
        }
        let reply = route(ctx, &principal, op, params, &query, &body).await?;
        if let Err(e) = replay.store(&ctx.env, reply.status, &reply.body).await {
            worker::console_error!("caching the answer of {path} in KV: {}", e.message);
        }
        return Ok(reply);
    }
    match replay.claim(&ctx.env).await? {
        replay::Claimed::Answered(answered) => return Ok(answered),
        replay::Claimed::Run(seed) => ctx.id_seed.set(Some(seed)),
    }
    let reply = route(ctx, &principal, op, params, &query, &body).await.unwrap_or_else(|e| Reply::error(&e));
    if let Err(e) = replay.finish(&ctx.env, reply.status, &reply.body).await {
        worker::console_error!("keeping the answer of {path}: {}", e.message);
    }
    Ok(reply)
}

/// The operations an ingest key or a customer's own token may use besides ingest: the
/// customer's balance, entitlements and reservations (a browser showing a user their
/// quota, a server holding tokens for a stream). Their handlers refuse another
/// customer's token ([`auth::Principal::require_customer`]).
fn open_to_customer_keys(op: Op) -> bool {
    matches!(
        op,
        Op::Balance
            | Op::Entitlements
            | Op::Entitlement
            | Op::CreateReservation
            | Op::ListReservations
            | Op::GetReservation
            | Op::CommitReservation
            | Op::ReleaseReservation
    )
}

/// The operations that need no key.
fn public(op: Op) -> std::result::Result<Reply, ApiError> {
    match op {
        Op::OpenApi => Ok(Reply::new(200, OPENAPI.to_vec())),
        _ => Reply::json(200, &serde_json::json!({"status": "ok"})),
    }
}

/// The OpenAPI document served at `GET /openapi.json`.
pub const OPENAPI: &[u8] = include_bytes!("../../../openapi.json");

async fn route(
    ctx: &Ctx,
    principal: &Principal,
    op: Op,
    params: &[&str],
    query: &[(String, String)],
    body: &[u8],
) -> std::result::Result<Reply, ApiError> {
    // `resolve` gave as many parameters as the operation's template has.
    let id = params.first().copied().unwrap_or_default();
    let second = params.get(1).copied().unwrap_or_default();
    match op {
        Op::Health | Op::OpenApi => public(op),
        Op::Ingest => api::ingest::ingest(ctx, principal, body).await,
        Op::VoidEvent => api::usage::void(ctx, body).await,
        Op::CreateCustomer => api::customers::create(ctx, body).await,
        Op::CreateToken => api::tokens::create(ctx, body).await,
        Op::ListCustomers => api::customers::list(ctx, query).await,
        Op::GetCustomer => api::customers::get(ctx, id).await,
        Op::PatchCustomer => api::customers::patch(ctx, id, body).await,
        Op::CreateItem => api::items::create(ctx, id, body).await,
        Op::Usage => api::usage::usage(ctx, id, query, false).await,
        Op::DailyUsage => api::usage::usage(ctx, id, query, true).await,
        Op::CustomerRejections => api::usage::rejections(ctx, Some(id), query).await,
        Op::AccountRejections => api::usage::rejections(ctx, None, query).await,
        Op::CreateContract => api::contracts::create(ctx, body).await,
        Op::ListContracts => api::contracts::list(ctx, query).await,
        Op::GetContract => api::contracts::get(ctx, id).await,
        Op::PatchContract => api::contracts::patch(ctx, id, body).await,
        Op::PutDocument => api::contracts::put_document(ctx, id, query, body).await,
        Op::GetDocument => api::contracts::get_document(ctx, id).await,
        Op::AcceptContract => api::contracts::accept(ctx, id).await,
        Op::CancelContract => api::contracts::cancel(ctx, id).await,
        Op::ListItems => api::items::list(ctx, query).await,
        Op::Upcoming => api::invoices::upcoming(ctx, id).await,
        Op::ListInvoices => api::invoices::list(ctx, query).await,
        Op::GetInvoice => api::invoices::get(ctx, id).await,
        Op::ApproveInvoice => api::invoices::transition(ctx, id, true).await,
        Op::VoidInvoice => api::invoices::transition(ctx, id, false).await,
        Op::InvoiceEvents => api::checking::events(ctx, id, query).await,
        Op::Simulate => api::checking::simulate(ctx, id, body).await,
        Op::CreateMetric => api::metrics::create(ctx, body).await,
        Op::ListMetrics => api::metrics::list(ctx, query).await,
        Op::GetMetric => api::metrics::get(ctx, id).await,
        Op::CreateGrant => api::credits::create(ctx, id, body).await,
        Op::ListGrants => api::credits::list(ctx, id, query).await,
        Op::GetGrant => api::credits::get(ctx, id, params.get(1).copied().unwrap_or_default()).await,
        Op::VoidGrant => api::credits::void(ctx, id, params.get(1).copied().unwrap_or_default()).await,
        Op::Balance => api::credits::balance(ctx, principal, id).await,
        Op::CreateAlert => api::alerts::create(ctx, id, body).await,
        Op::ListAlerts => api::alerts::list(ctx, id, query).await,
        Op::DeleteAlert => api::alerts::delete(ctx, id, params.get(1).copied().unwrap_or_default()).await,
        Op::PutLimit => api::limits::put(ctx, id, second, body).await,
        Op::ListLimits => api::limits::list(ctx, id).await,
        Op::DeleteLimit => api::limits::delete(ctx, id, second).await,
        Op::Entitlements => api::limits::entitlements(ctx, principal, id, None).await,
        Op::Entitlement => api::limits::entitlements(ctx, principal, id, Some(second)).await,
        Op::CreateReservation => api::reservations::create(ctx, principal, id, body).await,
        Op::ListReservations => api::reservations::list(ctx, principal, id, query).await,
        Op::GetReservation => api::reservations::get(ctx, principal, id, second).await,
        Op::CommitReservation => api::reservations::commit(ctx, principal, id, second, body).await,
        Op::ReleaseReservation => api::reservations::release(ctx, principal, id, second).await,
    }
}

/// The query's pairs; the URL is parsed only when it has a query (most requests, ingest
/// among them, have none).
fn query_pairs(req: &Request) -> Vec<(String, String)> {
    if !req.inner().url().contains('?') {
        return Vec::new();
    }
    req.url().map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()).unwrap_or_default()
}
