//! Limits, entitlements and reservations (API.md "Limits, entitlements and
//! reservations"): the calls and the machine's answers to them.
//!
//! The limits and the live holds sit in the book, loaded once with it and written
//! through to storage ([`super::LimitStore`]); every call that takes "now" first drops
//! the holds that have expired, so nothing ever counts an expired hold and no alarm is
//! needed. A commit records its event through the book's ingest decision, the same one a
//! batch of events goes through, with its own hold set aside.

use super::usage::ensure_metrics;
use super::{json, to_json, CustomerCall, CustomerMachine, CustomerStore, Handled};
use crate::book::Fate;
use crate::event::EventRecord;
use crate::ingest::parse_ingest;
use crate::input::Fields;
use crate::limit::{check_limitable, CommittedEvent, Entitlement, Limit, LimitInput, LimitView};
use crate::limit::{Reservation, ReservationInput, ReservationStatus, ReservationView};
use crate::machine::Ask;
use crate::metric::MetricDef;
use crate::page::Page;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// Limits, entitlements and reservations.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitCall {
    Put(PutLimit),
    List(ListLimits),
    Delete(DeleteLimit),
    Entitlements(Entitlements),
    Entitlement(GetEntitlement),
    ReadEntitlements(ReadEntitlements),
    Reserve(Reserve),
    Commit(Commit),
    Release(Release),
    Get(GetReservation),
    ListReservations(ListReservations),
}

/// Sets the limit on `metric` (which exists: the front read it from the catalog).
#[derive(Debug, Serialize, Deserialize)]
pub struct PutLimit {
    pub now: Timestamp,
    pub metric: MetricDef,
    pub input: LimitInput,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListLimits {}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteLimit {
    pub metric_code: String,
}

/// Every metric's entitlement in the period containing `now`: those of `metrics`, and
/// any other the customer has a limit on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entitlements {
    pub now: Timestamp,
    pub metrics: Vec<MetricDef>,
}

/// One metric's entitlement in the period containing `now`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GetEntitlement {
    pub now: Timestamp,
    pub metric: MetricDef,
}

/// Several entitlement reads in one call (the front coalesces the concurrent reads of a
/// customer in an isolate: `worker/src/front/entitlement_reads.rs`). Answered with each
/// read's answer, in order, each the JSON its own call answers: the reads are decided one
/// after another, each at its own `now`, as that many calls in a row would be. A read
/// that fails fails the call.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadEntitlements {
    pub reads: Vec<EntitlementRead>,
}

/// One read of [`ReadEntitlements`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntitlementRead {
    /// As [`Entitlements`] (answered with an [`EntitlementList`]).
    All(Entitlements),
    /// As [`GetEntitlement`] (answered with an [`Entitlement`]).
    One(GetEntitlement),
}

impl EntitlementRead {
    fn now(&self) -> Timestamp {
        match self {
            EntitlementRead::All(e) => e.now,
            EntitlementRead::One(e) => e.now,
        }
    }
}

/// Holds `input.quantity` of `metric` (which exists) under the new id `id`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reserve {
    pub now: Timestamp,
    pub id: String,
    pub metric: MetricDef,
    pub input: ReservationInput,
}

/// Commits a reservation with a `POST …/commit` body (`{"value"?, "timestamp"?,
/// "properties"?}`, empty for none). `metrics`: every metric definition, for the event.
#[derive(Debug, Serialize, Deserialize)]
pub struct Commit {
    pub now: Timestamp,
    pub id: String,
    pub body: String,
    pub metrics: Vec<MetricDef>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Release {
    pub now: Timestamp,
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GetReservation {
    pub now: Timestamp,
    pub id: String,
}

/// A page of reservations, newest first, of one status at `now` if given.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListReservations {
    pub now: Timestamp,
    pub status: Option<ReservationStatus>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// `DELETE …/limits/{metric_code}`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitDeleted {
    pub metric_code: String,
    pub deleted: bool,
}

/// `GET …/entitlements`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementList {
    pub period: super::PeriodOut,
    pub data: Vec<Entitlement>,
}

/// A commit's answer: the reservation, committed, and the event it recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub reservation: ReservationView,
    pub event: CommittedEvent,
}

macro_rules! limit_asks {
    ($($call:ident => $variant:ident => $answer:ty,)*) => {$(
        impl Ask for $call {
            type Answer = $answer;
        }
        impl From<$call> for CustomerCall<'_> {
            fn from(c: $call) -> Self {
                CustomerCall::Limits(LimitCall::$variant(c))
            }
        }
    )*};
}

limit_asks! {
    PutLimit => Put => LimitView,
    ListLimits => List => Page<LimitView>,
    DeleteLimit => Delete => LimitDeleted,
    Entitlements => Entitlements => EntitlementList,
    GetEntitlement => Entitlement => Entitlement,
    ReadEntitlements => ReadEntitlements => Vec<Box<serde_json::value::RawValue>>,
    Reserve => Reserve => ReservationView,
    Commit => Commit => Committed,
    Release => Release => ReservationView,
    GetReservation => Get => ReservationView,
    ListReservations => ListReservations => Page<ReservationView>,
}

fn unknown_reservation() -> ApiError {
    ApiError::new(ErrorCode::UnknownReservation, "no reservation with this id for this customer")
}

fn limit_exceeded(field: &'static str) -> ApiError {
    ApiError::new(ErrorCode::LimitExceeded, "this would take the metric's usage in this period above its hard limit")
        .field(field)
}

impl CustomerMachine {
    pub(super) fn limits_call(&mut self, call: LimitCall, store: &mut impl CustomerStore) -> Result<Handled, ApiError> {
        let book = self.book(store)?;
        let now = match &call {
            LimitCall::Put(c) => Some(c.now),
            LimitCall::Entitlements(c) => Some(c.now),
            LimitCall::Entitlement(c) => Some(c.now),
            LimitCall::Reserve(c) => Some(c.now),
            LimitCall::Commit(c) => Some(c.now),
            LimitCall::Release(c) => Some(c.now),
            LimitCall::Get(c) => Some(c.now),
            LimitCall::ListReservations(c) => Some(c.now),
            // Each read expires the holds at its own "now", below.
            LimitCall::List(_) | LimitCall::Delete(_) | LimitCall::ReadEntitlements(_) => None,
        };
        if let Some(now) = now {
            book.limits_mut().expire(now);
        }
        match call {
            LimitCall::Put(p) => {
                check_limitable(&p.metric)?;
                ensure_metrics(book, std::slice::from_ref(&p.metric), store)?;
                let limit = Limit { metric: p.metric, max: p.input.max, mode: p.input.mode, updated_at: p.now };
                store.put_limit(&limit)?;
                let view = limit.view();
                book.limits_mut().put(limit);
                json(200, &view)
            }
            LimitCall::List(_) => {
                let data: Vec<LimitView> = book.limits().all().map(Limit::view).collect();
                json(200, &Page { data, next_cursor: None })
            }
            LimitCall::Delete(d) => {
                if book.limits().get(&d.metric_code).is_none() {
                    return Err(ApiError::new(ErrorCode::UnknownLimit, "this customer has no limit on this metric"));
                }
                store.delete_limit(&d.metric_code)?;
                book.limits_mut().remove(&d.metric_code);
                json(200, &LimitDeleted { metric_code: d.metric_code, deleted: true })
            }
            LimitCall::Entitlements(e) => json(200, &entitlement_list(book, e, store)?),
            LimitCall::Entitlement(e) => json(200, &one_entitlement(book, &e, store)?),
            LimitCall::ReadEntitlements(r) => {
                let mut answers = Vec::with_capacity(r.reads.len());
                for read in r.reads {
                    book.limits_mut().expire(read.now());
                    let answer = match read {
                        EntitlementRead::All(e) => to_json(&entitlement_list(book, e, store)?)?,
                        EntitlementRead::One(e) => to_json(&one_entitlement(book, &e, store)?)?,
                    };
                    let raw = serde_json::value::RawValue::from_string(answer)
                        .map_err(|e| ApiError::new(ErrorCode::InternalError, format!("rendering an answer: {e}")))?;
                    answers.push(raw);
                }
                json(200, &answers)
            }
            LimitCall::Reserve(r) => {
                let input = r.input;
                // The reservation's key names it: the same request again finds it.
                if let Some(existing) = store.reservation_by_key(&input.idempotency_key)? {
                    if existing.metric_code == input.metric_code && existing.quantity == input.quantity {
                        return json(201, &existing.view(r.now));
                    }
                    return Err(ApiError::new(
                        ErrorCode::IdempotencyKeyReused,
                        "this idempotency_key already names another reservation",
                    )
                    .field("idempotency_key"));
                }
                ensure_metrics(book, std::slice::from_ref(&r.metric), store)?;
                let period = book.customer().invoice_schedule.period_containing(r.now);
                if !book.hold_fits(&r.metric.code, period.start, input.quantity) {
                    return Err(limit_exceeded("quantity"));
                }
                let ttl_ms = i64::try_from(input.ttl_seconds).unwrap_or(i64::MAX).saturating_mul(1000);
                let reservation = Reservation {
                    id: r.id,
                    metric_code: r.metric.code.clone(),
                    quantity: input.quantity,
                    period_start: period.start,
                    created_at: r.now,
                    expires_at: r.now.saturating_add_ms(ttl_ms),
                    idempotency_key: input.idempotency_key,
                    status: ReservationStatus::Held,
                    event: None,
                };
                store.put_reservation(&reservation)?;
                let view = reservation.view(r.now);
                book.limits_mut().hold(reservation);
                json(201, &view)
            }
            LimitCall::Commit(c) => self.commit(c, store),
            LimitCall::Release(r) => {
                let mut reservation = store.reservation(&r.id)?.ok_or_else(unknown_reservation)?;
                match reservation.status_at(r.now) {
                    ReservationStatus::Held => {
                        reservation.status = ReservationStatus::Released;
                        store.put_reservation(&reservation)?;
                        book.limits_mut().unhold(&reservation.id);
                    }
                    // Releasing what holds nothing any more changes nothing.
                    ReservationStatus::Released | ReservationStatus::Expired => {}
                    ReservationStatus::Committed => {
                        return Err(ApiError::new(
                            ErrorCode::ReservationCommitted,
                            "this reservation is committed; its event can be voided instead",
                        ))
                    }
                }
                json(200, &reservation.view(r.now))
            }
            LimitCall::Get(g) => {
                let reservation = store.reservation(&g.id)?.ok_or_else(unknown_reservation)?;
                json(200, &reservation.view(g.now))
            }
            LimitCall::ListReservations(l) => {
                let rows = store.reservations(l.status, l.now, l.cursor.as_deref(), l.limit.saturating_add(1))?;
                let views: Vec<ReservationView> = rows.iter().map(|r| r.view(l.now)).collect();
                json(200, &Page::from_rows(views, l.limit, |v| v.id.clone()))
            }
        }
    }

    /// Records the reservation's one event, exactly once: a repeated commit answers the
    /// first one's result.
    fn commit(&mut self, c: Commit, store: &mut impl CustomerStore) -> Result<Handled, ApiError> {
        let book = self.book(store)?;
        let mut reservation = store.reservation(&c.id)?.ok_or_else(unknown_reservation)?;
        match reservation.status_at(c.now) {
            ReservationStatus::Held => {}
            ReservationStatus::Committed => {
                let event = reservation.event.clone().ok_or_else(|| {
                    ApiError::new(ErrorCode::InternalError, "a committed reservation without its event")
                })?;
                return json(200, &Committed { reservation: reservation.view(c.now), event });
            }
            ReservationStatus::Released => {
                return Err(ApiError::new(ErrorCode::ReservationReleased, "this reservation was released"))
            }
            ReservationStatus::Expired => {
                return Err(ApiError::new(ErrorCode::ReservationExpired, "this reservation expired and holds nothing"))
            }
        }
        let metric = book
            .seen_metric(&reservation.metric_code)
            .cloned()
            .or_else(|| c.metrics.iter().find(|m| m.code == reservation.metric_code).cloned())
            .ok_or_else(|| ApiError::new(ErrorCode::InternalError, "a reservation's metric is unknown"))?;
        // The event as a client would send it, read by the same parser and rules.
        let body = event_body(&c.body, &reservation, &metric, &book.customer().id)?;
        let envelope = parse_ingest(body.as_bytes(), c.now)?;
        let event = match envelope.events.into_iter().next() {
            Some(Ok(e)) => e,
            Some(Err(r)) => return Err(r.error),
            None => return Err(ApiError::new(ErrorCode::InternalError, "a commit made no event")),
        };
        let mut metrics: Vec<MetricDef> =
            c.metrics.into_iter().filter(|m| m.event_name == metric.event_name && m.code != metric.code).collect();
        metrics.push(metric);
        ensure_metrics(book, &metrics, store)?;
        // The hold makes way for the event it stands for.
        book.limits_mut().unhold(&reservation.id);
        let key = event.idempotency_key().to_owned();
        let stored = store.stored_hashes(&[key.as_str()])?;
        let out = book.ingest(&metrics, std::slice::from_ref(&event), &stored);
        let status = match out.fates.first() {
            Some(Fate::Accepted) => "accepted",
            Some(Fate::Duplicate) => "duplicate",
            // Refused: the call fails, so the machine reloads the book, hold included.
            Some(Fate::LimitExceeded) => return Err(limit_exceeded("value")),
            Some(Fate::Reused) => {
                return Err(ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "the reservation's idempotency_key was already used for an event with different content",
                )
                .field("idempotency_key"))
            }
            Some(Fate::Closed) => {
                return Err(ApiError::new(ErrorCode::PeriodClosed, "the event's service period is already invoiced")
                    .field("timestamp"))
            }
            Some(Fate::Full) => {
                return Err(ApiError::new(
                    ErrorCode::UniqueCountLimit,
                    "a unique_count metric this event feeds holds its most distinct values",
                )
                .field("properties"))
            }
            None => return Err(ApiError::new(ErrorCode::InternalError, "a commit's event got no fate")),
        };
        let record = EventRecord::from_valid(&event);
        store.insert_events(std::slice::from_ref(&record), &out.new_events, c.now)?;
        store.write_states(&out.states)?;
        let committed = CommittedEvent { idempotency_key: key, status: status.to_owned() };
        reservation.status = ReservationStatus::Committed;
        reservation.event = Some(committed.clone());
        store.put_reservation(&reservation)?;
        // The committed event counts like any other: the alerts it crosses fire now.
        let accepted = !out.new_events.is_empty();
        let alerted = accepted && self.evaluate_alerts(store, c.now)?;
        let mut handled = json(200, &Committed { reservation: reservation.view(c.now), event: committed })?;
        handled.deliver = alerted.then_some(c.now);
        Ok(handled)
    }
}

/// Every metric's entitlement in the period containing `e.now` (`GET …/entitlements`).
fn entitlement_list(
    book: &mut crate::book::Book,
    e: Entitlements,
    store: &mut impl CustomerStore,
) -> Result<EntitlementList, ApiError> {
    let mut metrics = e.metrics;
    for l in book.limits().all() {
        if !metrics.iter().any(|m| m.code == l.metric.code) {
            metrics.push(l.metric.clone());
        }
    }
    metrics.sort_by(|a, b| a.code.cmp(&b.code));
    ensure_metrics(book, &metrics, store)?;
    let period = book.customer().invoice_schedule.period_containing(e.now);
    let data = metrics.iter().map(|m| book.entitlement(m, period.start)).collect();
    Ok(EntitlementList { period: super::PeriodOut { start: period.start, end: period.end }, data })
}

/// One metric's entitlement in the period containing `e.now`
/// (`GET …/entitlements/{metric_code}`).
fn one_entitlement(
    book: &mut crate::book::Book,
    e: &GetEntitlement,
    store: &mut impl CustomerStore,
) -> Result<Entitlement, ApiError> {
    ensure_metrics(book, std::slice::from_ref(&e.metric), store)?;
    let period = book.customer().invoice_schedule.period_containing(e.now);
    Ok(book.entitlement(&e.metric, period.start))
}

/// The commit's event as an ingest body: the reservation's key and metric's event name,
/// the value (default: the reserved quantity), and the body's timestamp and properties.
fn event_body(body: &str, r: &Reservation, metric: &MetricDef, customer_id: &str) -> Result<String, ApiError> {
    let mut event = serde_json::Map::new();
    if !body.trim().is_empty() {
        let mut f = Fields::parse(body.as_bytes())?;
        for key in ["value", "timestamp", "properties"] {
            if let Some(v) = f.take(key) {
                event.insert(key.to_owned(), v);
            }
        }
        f.finish()?;
    }
    event.entry("value").or_insert_with(|| crate::quantity::format(r.quantity).into());
    event.insert("idempotency_key".into(), r.idempotency_key.clone().into());
    event.insert("customer_id".into(), customer_id.into());
    event.insert("event_name".into(), metric.event_name.clone().into());
    serde_json::to_string(&event).map_err(|e| ApiError::new(ErrorCode::InternalError, format!("a commit's event: {e}")))
}
