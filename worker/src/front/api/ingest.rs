//! API.md "Usage ingestion": `POST /v1/usage/ingest`.
//!
//! Validate every event with `core`, then each customer's events to that customer's
//! object through the isolate's batcher (`batcher.rs`), all customers in parallel; no
//! global object and no shared KV key is touched.

use crate::front::auth::Principal;
use crate::front::batcher;
use crate::front::metrics_cache::metrics_for_ingest;
use crate::front::Ctx;
use crate::respond::{internal, Reply};
use edgemeter_core::book::Fate;
use edgemeter_core::event::EventRecord;
use edgemeter_core::event::ValidEvent;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::{ApiError, ErrorCode};
use futures_util::future::join_all;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Serialize)]
struct EventResult<'a> {
    idempotency_key: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

#[derive(Serialize)]
struct IngestResponse<'a> {
    accepted: usize,
    duplicates: usize,
    rejected: usize,
    results: Vec<EventResult<'a>>,
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
    if envelope.events.iter().flatten().any(|e| !known(&metrics, &e.event_name)) {
        metrics = metrics_for_ingest(&ctx.env, ctx.now, true).await?;
    }

    // Group the valid events by customer, keeping request order within each group.
    let mut groups: Vec<(&str, Vec<(usize, &ValidEvent)>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (i, ev) in envelope.events.iter().enumerate() {
        match ev {
            Err(r) => outcomes[i] = Some(Outcome::Rejected(r.error.clone())),
            Ok(e) if principal.only_customer().is_some_and(|c| c != e.customer_id) => {
                outcomes[i] = Some(Outcome::Rejected(
                    ApiError::new(ErrorCode::ForbiddenCustomer, "this customer token may only report its own customer")
                        .field("customer_id"),
                ))
            }
            Ok(e) if !known(&metrics, &e.event_name) => {
                outcomes[i] = Some(Outcome::Rejected(
                    ApiError::new(
                        ErrorCode::UnknownEventName,
                        format!("no billable metric reads event name `{}`", e.event_name),
                    )
                    .field("event_name"),
                ))
            }
            Ok(e) => {
                let g = *group_of.entry(&e.customer_id).or_insert_with(|| {
                    groups.push((&e.customer_id, Vec::new()));
                    groups.len() - 1
                });
                groups[g].1.push((i, e));
            }
        }
    }

    // One part per customer, written as JSON here (plain data), sent through the
    // isolate's batcher: it rides along with other requests' events for the same customer.
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let sends = groups.iter().map(|(customer_id, idx)| {
        let mut events_json = Vec::with_capacity(idx.len() * 256);
        let mut names: Vec<&str> = Vec::new();
        for (j, (_, e)) in idx.iter().enumerate() {
            if j > 0 {
                events_json.push(b',');
            }
            // An event of validated strings and numbers always serializes.
            let _ = serde_json::to_writer(&mut events_json, &EventRecord::from_valid(e));
            if !names.contains(&e.event_name.as_ref()) {
                names.push(&e.event_name);
            }
        }
        let metrics: Vec<MetricDef> =
            metrics.iter().filter(|m| names.contains(&m.event_name.as_str())).cloned().collect();
        let part = batcher::Part { events_json, count: idx.len(), metrics, calls: calls.clone() };
        batcher::send(&ctx.env, &ctx.worker, customer_id, ctx.now, part)
    });
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

    let mut resp = IngestResponse { accepted: 0, duplicates: 0, rejected: 0, results: Vec::with_capacity(n) };
    for (ev, outcome) in envelope.events.iter().zip(outcomes) {
        let key = match ev {
            Ok(e) => Some(e.idempotency_key.as_ref()),
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
