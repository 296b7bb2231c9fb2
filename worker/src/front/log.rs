//! The operator's log: one JSON line per request and one per invoicing run, written with
//! `console.log`, which `wrangler tail` shows and Workers Logs indexes field by field
//! (`[observability]` in `wrangler.toml`; README "Operating it" lists the fields).
//!
//! A line's type fixes what it may hold: route templates, never paths or queries; error
//! codes, never messages; counts; a customer id only once checked to be one. So no key,
//! token, event property or text a client wrote can reach the log, whatever it sends.

use crate::object_calls;
use crate::protocol::PageReply;
use crate::respond::Reply;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use worker::{Headers, Response, Result};

/// The response header that carries the request's id, the `request_id` of its line.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What handling a request learns on the way, for its line. Handlers reach it through
/// `Ctx::log`.
#[derive(Default)]
pub struct Facts {
    route: Cell<Option<&'static str>>,
    customer_id: RefCell<Option<String>>,
    events: Cell<Option<EventCounts>>,
    error: Cell<Option<ErrorCode>>,
}

impl Facts {
    /// The route's template (`/v1/customers/{id}`), or a name for what is not the API's.
    pub fn route(&self, route: &'static str) {
        self.route.set(Some(route));
    }

    /// The customer the request is about; kept only if it is a well-formed customer id,
    /// so a path or token cannot smuggle other text into the log.
    pub fn customer(&self, id: &str) {
        if edgemeter_core::id::is_id(id, "cus") {
            *self.customer_id.borrow_mut() = Some(id.to_owned());
        }
    }

    /// An ingest answer's counts.
    pub fn events(&self, accepted: usize, duplicates: usize, rejected: usize) {
        self.events.set(Some(EventCounts { accepted, duplicates, rejected }));
    }

    /// Notes the error code of an answer that is an error (`{"error": {"code": …}}`).
    pub fn reply(&self, reply: &Reply) {
        #[derive(Deserialize)]
        struct Body {
            error: Code,
        }
        #[derive(Deserialize)]
        struct Code {
            code: ErrorCode,
        }
        if !reply.ok() {
            self.error.set(serde_json::from_slice::<Body>(&reply.body).ok().map(|b| b.error.code));
        }
    }
}

/// An ingest request's events by fate.
#[derive(Clone, Copy, Serialize)]
pub struct EventCounts {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

/// One request's line.
#[derive(Serialize)]
struct RequestLine<'a> {
    log: &'static str,
    request_id: &'a str,
    method: &'static str,
    route: Option<&'static str>,
    status: u16,
    customer_id: Option<String>,
    events: Option<EventCounts>,
    object_calls: usize,
    duration_ms: i64,
    error: Option<ErrorCode>,
}

/// Answers a request with `answer`, which reports into `facts` on the way, and writes the
/// request's line once the answer is ready. Every answer carries the line's id in
/// [`REQUEST_ID_HEADER`], so a client's report of a failure finds its line.
///
/// `duration_ms` is as the runtime's clock sees it: on Cloudflare it moves only across
/// I/O (a Spectre mitigation), so it is the time spent waiting on objects, KV and R2.
pub async fn logged(
    method: &str,
    facts: Rc<Facts>,
    answer: impl Future<Output = Result<Response>>,
) -> Result<Response> {
    let started = now();
    let method = method_name(method);
    let request_id = crate::ids::fresh("req", started).unwrap_or_else(|_| "req_unknown".to_owned());
    let (answer, object_calls) = object_calls::counting(answer).await;
    let status = match &answer {
        Ok(r) => r.status_code(),
        Err(_) => 500,
    };
    let line = RequestLine {
        log: "request",
        request_id: &request_id,
        method,
        route: facts.route.get(),
        status,
        customer_id: facts.customer_id.borrow_mut().take(),
        events: facts.events.get(),
        object_calls,
        duration_ms: now().millis() - started.millis(),
        error: facts.error.get().or((status >= 500).then_some(ErrorCode::InternalError)),
    };
    emit(&line);
    with_request_id(answer?, &request_id)
}

/// The response with [`REQUEST_ID_HEADER`] set. Some answers come with headers the runtime
/// made immutable (a redirect's): those are copied into fresh ones first.
fn with_request_id(mut response: Response, request_id: &str) -> Result<Response> {
    if response.headers_mut().set(REQUEST_ID_HEADER, request_id).is_ok() {
        return Ok(response);
    }
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.set(&name, &value)?;
    }
    headers.set(REQUEST_ID_HEADER, request_id)?;
    Ok(response.with_headers(headers))
}

/// An invoicing run's totals over its pages, and its line.
#[derive(Serialize)]
pub struct RunLine {
    log: &'static str,
    scheduled_time: Timestamp,
    pages: usize,
    customers_due: usize,
    drafts: usize,
    finalized: usize,
    failed: usize,
    /// Failed customer calls by error code.
    failures: BTreeMap<&'static str, usize>,
    /// False when the run stopped early (an error, or its page limit): the customers left
    /// are still due and the next run takes them.
    complete: bool,
    /// What stopped the run, when something did.
    error: Option<ErrorCode>,
    duration_ms: i64,
    #[serde(skip)]
    started: Timestamp,
}

impl RunLine {
    /// A run's line, before its first page.
    pub fn new(scheduled_time: Timestamp) -> RunLine {
        RunLine {
            log: "invoicing_run",
            scheduled_time,
            pages: 0,
            customers_due: 0,
            drafts: 0,
            finalized: 0,
            failed: 0,
            failures: BTreeMap::new(),
            complete: false,
            error: None,
            duration_ms: 0,
            started: now(),
        }
    }

    /// Adds one page's answer.
    pub fn page(&mut self, page: &PageReply) {
        self.pages += 1;
        self.customers_due += page.processed;
        self.drafts += page.drafts;
        self.finalized += page.finalized;
        self.failed += page.failed;
        for code in &page.failures {
            *self.failures.entry(code.as_str()).or_default() += 1;
        }
        self.complete = !page.more;
    }

    /// Writes the line, once the run is over: `result` is how it ended.
    pub fn finish(mut self, result: std::result::Result<(), ApiError>) {
        if let Err(e) = result {
            self.complete = false;
            self.error = Some(e.code);
        }
        self.duration_ms = now().millis() - self.started.millis();
        emit(&self);
    }
}

fn emit<T: Serialize>(line: &T) {
    match serde_json::to_string(line) {
        Ok(json) => crate::console::log(&json),
        Err(e) => worker::console_error!("writing a log line: {e}"),
    }
}

fn now() -> Timestamp {
    Timestamp(worker::Date::now().as_millis() as i64)
}

/// The method's name if it is one HTTP defines; any other token a client sends is
/// `other` (the log holds no text a client chose).
fn method_name(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}
