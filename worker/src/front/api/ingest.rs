//! API.md "Usage ingestion": `POST /v1/usage/ingest`.
//!
//! Validate every event with `core`, then each customer's events to that customer's
//! object through the isolate's batcher (`batcher.rs`), all customers in parallel; no
//! global object and no shared KV key is touched.

use crate::front::auth::Principal;
use crate::front::batcher;
use crate::front::lane::Ticker;
use crate::front::metrics_cache::metrics_for_ingest;
use crate::front::Ctx;
use crate::protocol::{account_log_stub, ask, customer, customer_stub};
use crate::respond::{internal, Reply};
use edgemeter_core::book::Fate;
use edgemeter_core::event::EventRecord;
use edgemeter_core::event::ValidEvent;
use edgemeter_core::ingest::{parse_ingest, Rejected};
use edgemeter_core::machine::customer::ingest_frame::EventBytes;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::rejection::{RejectedEvent, MAX_LOGGED_PER_REQUEST};
use edgemeter_core::{ApiError, ErrorCode};
use futures_util::future::join_all;
use serde::Serialize;
use std::collections::HashMap;

/// One event's fate in an ingest answer.
#[derive(Serialize)]
pub(crate) struct EventResult<'a> {
    pub(crate) idempotency_key: Option<&'a str>,
    pub(crate) status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ApiError>,
}

/// The answer to an ingest request whose envelope is valid.
#[derive(Serialize)]
pub(crate) struct IngestResponse<'a> {
    pub(crate) accepted: usize,
    pub(crate) duplicates: usize,
    pub(crate) rejected: usize,
    pub(crate) results: Vec<EventResult<'a>>,
}

/// Most customers' logs one request writes to (the rest of its rejections are not
/// logged): a batch of bad events for many customers costs a bounded number of calls.
const MAX_LOGS_PER_REQUEST: usize = 8;

/// Keeps the request's rejected events in the rejected-events logs (API.md "Usage
/// ingestion"): an event naming a customer that exists, in that customer's log; any
/// other (no customer, an unknown one, another than the token's), in the account's. At
/// most `MAX_LOGGED_PER_REQUEST` entries, written after the answer (`waitUntil`), once per
/// log: the log is for people, and must never slow or fail ingest.
fn log_rejections(ctx: &Ctx, events: &[Result<ValidEvent, Rejected>], outcomes: &[Option<Outcome>]) {
    let mut logs: Vec<(Option<String>, Vec<RejectedEvent>)> = Vec::new();
    let mut logged = 0;
    for (ev, outcome) in events.iter().zip(outcomes) {
        let Some(Outcome::Rejected(error)) = outcome else { continue };
        if logged == MAX_LOGGED_PER_REQUEST {
            break;
        }
        let sent = match ev {
            Err(r) => r.sent.as_deref().unwrap_or("{}").to_owned(),
            Ok(e) => sent_form(e),
        };
        let entry = RejectedEvent::new(ctx.now, error, &sent);
        let own_log = !matches!(
            error.code,
            ErrorCode::UnknownCustomer
                | ErrorCode::ForbiddenCustomer
                | ErrorCode::MissingCustomerId
                | ErrorCode::InvalidCustomerId
                | ErrorCode::InternalError
        );
        let log = entry.customer_id.clone().filter(|c| own_log && edgemeter_core::id::is_id(c, "cus"));
        match logs.iter().position(|(l, _)| *l == log) {
            Some(i) => logs[i].1.push(entry),
            None if logs.len() < MAX_LOGS_PER_REQUEST => logs.push((log, vec![entry])),
            None => continue,
        }
        logged += 1;
    }
    if logs.is_empty() {
        return;
    }
    let env = ctx.env.clone();
    ctx.worker.wait_until(async move {
        for (log, entries) in logs {
            let mut written = match &log {
                Some(id) => match customer_stub(&env, id) {
                    Ok(stub) => {
                        ask(&stub, customer::LogRejections { entries: entries.clone(), of_customer: true }).await
                    }
                    Err(e) => Err(e),
                },
                None => Err(ApiError::new(ErrorCode::UnknownCustomer, "no customer")),
            };
            // An event naming a customer that does not exist goes to the account's log.
            if written.as_ref().is_err_and(|e| e.code == ErrorCode::UnknownCustomer) {
                written = match account_log_stub(&env) {
                    Ok(stub) => ask(&stub, customer::LogRejections { entries, of_customer: false }).await,
                    Err(e) => Err(e),
                };
            }
            if let Err(e) = written {
                worker::console_error!("logging rejected events: {}", e.message);
            }
        }
    });
}

/// A checked event as its sender wrote it, near enough: the fields by their API names.
fn sent_form(e: &ValidEvent) -> String {
    let mut v = serde_json::json!({
        "idempotency_key": e.idempotency_key(),
        "customer_id": e.customer_id(),
        "event_name": e.event_name(),
        "value": edgemeter_core::quantity::format(e.value()),
        "properties": e.properties(),
    });
    if e.timestamp_given() {
        v["timestamp"] = serde_json::json!(e.timestamp());
    }
    v.to_string()
}

/// What happened to one event.
enum Outcome {
    Accepted,
    Duplicate,
    Rejected(ApiError),
}

pub async fn ingest(ctx: &Ctx, principal: &Principal, body: &[u8]) -> Result<Reply, ApiError> {
    let envelope = parse_ingest(body, ctx.now)?;
    let n = envelope.events.len();
    let mut outcomes: Vec<Option<Outcome>> = (0..n).map(|_| None).collect();

    // Which metrics each event name feeds. A name unknown to the cached catalog gets one
    // fresh read of the snapshot before the event is rejected.
    let mut metrics = metrics_for_ingest(&ctx.env, ctx.now, false).await?;
    let known = |ms: &[MetricDef], name: &str| ms.iter().any(|m| m.event_name == name);
    if envelope.events.iter().flatten().any(|e| !known(&metrics, e.event_name())) {
        metrics = metrics_for_ingest(&ctx.env, ctx.now, true).await?;
    }

    // Group the valid events by customer, keeping request order within each group.
    let mut groups: Vec<(&str, Vec<(usize, &ValidEvent)>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (i, ev) in envelope.events.iter().enumerate() {
        match ev {
            Err(r) => outcomes[i] = Some(Outcome::Rejected(r.error.clone())),
            Ok(e) if principal.only_customer().is_some_and(|c| c != e.customer_id()) => {
                outcomes[i] = Some(Outcome::Rejected(
                    ApiError::new(ErrorCode::ForbiddenCustomer, "this customer token may only report its own customer")
                        .field("customer_id"),
                ))
            }
            Ok(e) if !known(&metrics, e.event_name()) => {
                outcomes[i] = Some(Outcome::Rejected(
                    ApiError::new(
                        ErrorCode::UnknownEventName,
                        format!("no billable metric reads event name `{}`", e.event_name()),
                    )
                    .field("event_name"),
                ))
            }
            Ok(e) => {
                let g = *group_of.entry(e.customer_id()).or_insert_with(|| {
                    groups.push((e.customer_id(), Vec::new()));
                    groups.len() - 1
                });
                groups[g].1.push((i, e));
            }
        }
    }

    // One part per customer, its events written here in the form the object stores
    // (plain data), sent through the isolate's batcher: it rides along with other
    // requests' events for the same customer.
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut parts = Vec::with_capacity(groups.len());
    for (customer_id, idx) in &groups {
        let mut events = EventBytes { bytes: Vec::with_capacity(idx.len() * 64), count: 0 };
        let mut names: Vec<&str> = Vec::new();
        for (_, e) in idx {
            // A validated event's key is a canonical UUID: it always encodes.
            events.push(&EventRecord::from_valid(e)).map_err(|e| internal("encoding events", e))?;
            if !names.contains(&e.event_name()) {
                names.push(e.event_name());
            }
        }
        let metrics: Vec<MetricDef> =
            metrics.iter().filter(|m| names.contains(&m.event_name.as_str())).cloned().collect();
        parts.push((*customer_id, batcher::Part { events, metrics, calls: calls.clone() }));
    }
    let ticker = Ticker::default();
    let sends =
        parts.into_iter().map(|(customer_id, part)| batcher::send(&ctx.env, &ctx.worker, &ticker, customer_id, part));
    let replies = join_all(sends).await;
    let object_calls = calls.get();

    for ((_, idx), reply) in groups.iter().zip(replies) {
        // An id that cannot name a customer fails before any call: that customer's
        // events are rejected like those of a customer that does not exist.
        match reply {
            Ok(fates) if fates.len() == idx.len() => {
                for (&(i, _), fate) in idx.iter().zip(fates) {
                    outcomes[i] = Some(match fate {
                        Fate::Accepted => Outcome::Accepted,
                        Fate::Duplicate => Outcome::Duplicate,
                        Fate::Reused => Outcome::Rejected(
                            ApiError::new(
                                ErrorCode::IdempotencyKeyReused,
                                "this idempotency_key was already used for an event with different content",
                            )
                            .field("idempotency_key"),
                        ),
                        Fate::Full => Outcome::Rejected(
                            ApiError::new(
                                ErrorCode::UniqueCountLimit,
                                format!(
                                    "a unique_count metric this event feeds counts at most {} distinct values per period",
                                    edgemeter_core::aggregate::MAX_DISTINCT_VALUES
                                ),
                            )
                            .field("properties"),
                        ),
                        Fate::LimitExceeded => Outcome::Rejected(
                            ApiError::new(
                                ErrorCode::LimitExceeded,
                                "this event would take the metric's usage in its period above its hard limit",
                            )
                            .field("value"),
                        ),
                        Fate::Closed => Outcome::Rejected(
                            ApiError::new(ErrorCode::PeriodClosed, "the event's service period is already invoiced")
                                .field("timestamp"),
                        ),
                    });
                }
            }
            Ok(_) => return Err(internal("customer object answered", "a wrong number of fates")),
            Err(e) if e.code == ErrorCode::UnknownCustomer => {
                for &(i, _) in idx {
                    outcomes[i] = Some(Outcome::Rejected(e.clone()));
                }
            }
            // Storage failed for this customer: the whole request fails and is safe to
            // retry, since other customers' accepted events will answer `duplicate`.
            Err(e) => return Err(e),
        }
    }

    log_rejections(ctx, &envelope.events, &outcomes);
    if let [(customer_id, _)] = groups.as_slice() {
        ctx.log.customer(customer_id);
    }

    let mut resp = IngestResponse { accepted: 0, duplicates: 0, rejected: 0, results: Vec::with_capacity(n) };
    for (ev, outcome) in envelope.events.iter().zip(outcomes) {
        let key = match ev {
            Ok(e) => Some(e.idempotency_key()),
            Err(r) => r.idempotency_key.as_deref(),
        };
        let outcome =
            outcome.unwrap_or_else(|| Outcome::Rejected(internal("ingest", "an event was left without an outcome")));
        let (status, error) = match outcome {
            Outcome::Accepted => {
                resp.accepted += 1;
                ("accepted", None)
            }
            Outcome::Duplicate => {
                resp.duplicates += 1;
                ("duplicate", None)
            }
            Outcome::Rejected(e) => {
                resp.rejected += 1;
                ("rejected", Some(e))
            }
        };
        resp.results.push(EventResult { idempotency_key: key, status, error });
    }
    ctx.log.events(resp.accepted, resp.duplicates, resp.rejected);

    // A single event that was rejected answers with the error itself (API.md): 404 for
    // an unknown customer, 403 for a forbidden one, else 400.
    if !envelope.batch {
        if let Some(EventResult { error: Some(e), .. }) = resp.results.first() {
            let mut r = Reply::error(e);
            r.status = match e.code {
                ErrorCode::UnknownCustomer => 404,
                ErrorCode::ForbiddenCustomer => 403,
                ErrorCode::InternalError => 500,
                _ => 400,
            };
            return Ok(r);
        }
    }
    let mut reply = Reply::json(200, &resp)?;
    reply.object_calls = Some(object_calls);
    Ok(reply)
}
