//! Limits, entitlements and reservations (API.md "Limits, entitlements and
//! reservations"), driven through the customer's machine over its in-memory store as the
//! worker's object drives it, against a plain model written here from API.md that never
//! calls the code under test:
//!
//! - a period's quantity is a fold over the model's live events (sum of values, count,
//!   distinct values of `u`), filters applied here;
//! - an event (in request order, a batch's earlier events counted) or a hold that would
//!   take a hard-limited quantity plus the live holds above `max` is refused; one that adds
//!   nothing always fits; soft limits never refuse;
//! - a hold lives until `expires_at` (time moves between calls), a commit records one
//!   event with the reservation's key with its own hold set aside, a repeated commit
//!   answers the first result, committing a released or expired one is a 409 with its code.
//!
//! Any interleaving of batches, limit changes, reservations, commits, releases, time,
//! event voids, restarts (a new machine over the same store) and storage failures (the
//! call's writes rolled back). After every step the machine's entitlements and its list
//! of held reservations must be the model's, and a hard `max` is never passed unless it
//! was set below what was already used.
//!
//! ## Mutations this file catches
//!
//! `python3 scripts/mutations.py` puts each one-line bug in `core` and runs this file
//! (see the list there, "limits"): a hold never expires; the hard check ignores the holds;
//! a commit keeps its own hold while its event is decided.

use edgemeter_core::book::Fate;
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::event::EventRecord;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::limit::{LimitInput, LimitMode, ReservationInput, ReservationStatus};
use edgemeter_core::machine::customer::{self as m, CustomerMachine, MemoryObject};
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::period::{Interval, Schedule};
use edgemeter_core::time::{Timestamp, DAY_MS};
use edgemeter_core::{ApiError, ErrorCode};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const CUSTOMER: &str = "cus_0000000000000000000limits";

fn midnight(y: i32, mo: u32, d: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

/// The start of the monthly period (anchored on the 1st) containing `t`, by definition.
fn period_of(t: i64) -> i64 {
    use chrono::Datelike;
    let d = Timestamp(t).to_datetime();
    midnight(d.year(), d.month(), 1)
}

fn customer() -> Customer {
    let anchor = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    Customer {
        id: CUSTOMER.into(),
        name: "Limits".into(),
        email: "l@example.com".into(),
        external_id: None,
        currency: Currency::parse("USD").unwrap(),
        created_at: Timestamp(midnight(2026, 1, 1)),
        invoice_schedule: Schedule { interval: Interval::Month, anchor, pre_generate_days: 3, grace_hours: 24 },
        auto_send: false,
        contract_id: None,
    }
}

fn metric(code: &str, aggregation: Aggregation, field: Option<&str>, only_x: bool) -> MetricDef {
    let mut filters = BTreeMap::new();
    if only_x {
        filters.insert("r".to_owned(), vec!["x".to_owned()]);
    }
    MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: "llm".into(),
        aggregation,
        field: field.map(str::to_owned),
        filters,
    }
}

fn metrics() -> Vec<MetricDef> {
    vec![
        metric("tokens", Aggregation::Sum, None, false),
        metric("tokens_x", Aggregation::Sum, None, true),
        metric("calls", Aggregation::Count, None, false),
        metric("users", Aggregation::UniqueCount, Some("u"), false),
    ]
}

fn uuid(k: u32) -> String {
    format!("00000000-0000-7000-8000-{k:012}")
}

// ---------------------------------------------------------------------------------------
// Scenarios.

#[derive(Clone, Debug)]
struct Draw {
    key: u8,
    value: u8,
    /// Sent this long before "now" (an hour back may land in the period before).
    back_hours: u8,
    r_x: bool,
    u: u8,
}

#[derive(Clone, Debug)]
enum Op {
    Batch(Vec<Draw>),
    PutLimit { metric: usize, max: u8, hard: bool },
    DeleteLimit(usize),
    Reserve { metric: usize, quantity: u8, ttl: u16, key: u8 },
    Commit { pick: u8, value: Option<u8>, r_x: bool, u: u8 },
    Release(u8),
    Advance(i64),
    Void(u8),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let draw = (0u8..24, 0u8..6, prop_oneof![4 => Just(0u8), 1 => Just(1u8)], any::<bool>(), 0u8..4)
        .prop_map(|(key, value, back_hours, r_x, u)| Draw { key, value, back_hours, r_x, u });
    prop_oneof![
        6 => prop::collection::vec(draw, 1..8).prop_map(Op::Batch),
        3 => (0usize..4, 0u8..30, prop_oneof![3 => Just(true), 1 => Just(false)])
            .prop_map(|(metric, max, hard)| Op::PutLimit { metric, max, hard }),
        1 => (0usize..4).prop_map(Op::DeleteLimit),
        4 => (0usize..4, 1u8..10, prop_oneof![Just(1u16), Just(60), Just(300), Just(3600)], 0u8..12)
            .prop_map(|(metric, quantity, ttl, key)| Op::Reserve { metric, quantity, ttl, key }),
        3 => (0u8..12, prop::option::of(0u8..15), any::<bool>(), 0u8..4)
            .prop_map(|(pick, value, r_x, u)| Op::Commit { pick, value, r_x, u }),
        2 => (0u8..12).prop_map(Op::Release),
        3 => prop_oneof![Just(1_000i64), Just(59_999), Just(60_000), Just(300_000), Just(3_600_000), Just(9 * DAY_MS)]
            .prop_map(Op::Advance),
        1 => (0u8..24).prop_map(Op::Void),
        1 => Just(Op::Restart),
    ]
}

// ---------------------------------------------------------------------------------------
// The model.

/// An event's content: what tells a retry from a reused key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Content {
    value: Decimal,
    /// `None`: not sent (a commit's), so not part of the content.
    ts: Option<i64>,
    r_x: bool,
    u: u8,
}

#[derive(Clone, Debug)]
struct ModelEvent {
    content: Content,
    /// When it happened (the server's time for a commit's).
    at: i64,
    voided: bool,
}

#[derive(Clone, Debug)]
struct ModelLimit {
    max: Decimal,
    hard: bool,
    /// Set below what was already used and held: the one case where usage may sit above
    /// a hard `max`.
    lowered: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum RStatus {
    Held,
    Committed(&'static str),
    Released,
}

#[derive(Clone, Debug)]
struct ModelReservation {
    id: String,
    key: u32,
    metric: usize,
    quantity: Decimal,
    period: i64,
    expires_at: i64,
    status: RStatus,
}

#[derive(Default)]
struct Model {
    now: i64,
    events: BTreeMap<u32, ModelEvent>,
    limits: BTreeMap<usize, ModelLimit>,
    reservations: Vec<ModelReservation>,
}

impl Model {
    fn counts(m: &MetricDef, c: &Content) -> bool {
        m.filters.is_empty() || c.r_x
    }

    /// A metric's quantity in a period, folded from the live events.
    fn used(&self, metric: usize, period: i64) -> Decimal {
        let m = &metrics()[metric];
        let live = self.events.values().filter(|e| !e.voided && period_of(e.at) == period);
        let live: Vec<&ModelEvent> = live.filter(|e| Self::counts(m, &e.content)).collect();
        match m.aggregation {
            Aggregation::Sum => live.iter().map(|e| e.content.value).sum(),
            Aggregation::Count => Decimal::from(live.len()),
            _ => Decimal::from(live.iter().map(|e| e.content.u).collect::<BTreeSet<_>>().len()),
        }
    }

    fn live(&self, r: &ModelReservation) -> bool {
        r.status == RStatus::Held && self.now < r.expires_at
    }

    fn reserved(&self, metric: usize, period: i64) -> Decimal {
        self.reservations
            .iter()
            .filter(|r| self.live(r) && r.metric == metric && r.period == period)
            .map(|r| r.quantity)
            .sum()
    }

    /// What an event adds to a metric's quantity in its period.
    fn increment(&self, metric: usize, c: &Content, at: i64) -> Decimal {
        let m = &metrics()[metric];
        if !Self::counts(m, c) {
            return Decimal::ZERO;
        }
        match m.aggregation {
            Aggregation::Sum => c.value,
            Aggregation::Count => Decimal::ONE,
            _ => {
                let known = self.events.values().any(|e| {
                    !e.voided && period_of(e.at) == period_of(at) && Self::counts(m, &e.content) && e.content.u == c.u
                });
                if known {
                    Decimal::ZERO
                } else {
                    Decimal::ONE
                }
            }
        }
    }

    /// Whether a new event fits under every hard limit.
    fn fits(&self, c: &Content, at: i64) -> bool {
        self.limits.iter().filter(|(_, l)| l.hard).all(|(&i, l)| {
            let inc = self.increment(i, c, at);
            inc.is_zero() || self.used(i, period_of(at)) + self.reserved(i, period_of(at)) + inc <= l.max
        })
    }

    /// A batch: each event's fate, in order, the model's events updated.
    fn batch(&mut self, draws: &[Draw]) -> Vec<Fate> {
        let mut first: BTreeMap<u32, (Content, Fate)> = BTreeMap::new();
        let mut fates = Vec::new();
        for d in draws {
            let key = u32::from(d.key);
            let at = self.now - i64::from(d.back_hours) * 3_600_000;
            let c = Content { value: Decimal::from(d.value), ts: Some(at), r_x: d.r_x, u: d.u };
            if let Some((fc, same)) = first.get(&key) {
                fates.push(if *fc == c { *same } else { Fate::Reused });
                continue;
            }
            let fate = match self.events.get(&key) {
                Some(e) if e.content == c => Fate::Duplicate,
                Some(e) => {
                    first.insert(key, (e.content.clone(), Fate::Duplicate));
                    fates.push(Fate::Reused);
                    continue;
                }
                None if self.fits(&c, at) => {
                    self.events.insert(key, ModelEvent { content: c.clone(), at, voided: false });
                    Fate::Accepted
                }
                None => Fate::LimitExceeded,
            };
            let same = if fate == Fate::Accepted { Fate::Duplicate } else { fate };
            first.insert(key, (c, same));
            fates.push(fate);
        }
        fates
    }
}

// ---------------------------------------------------------------------------------------
// The shell: what the worker's object does, over the in-memory store.

fn record(key: u32, c: &Content, now: i64) -> EventRecord<'static> {
    let ts = c.ts.map(|t| format!(r#","timestamp":"{}""#, Timestamp(t).to_rfc3339())).unwrap_or_default();
    let body = format!(
        r#"{{"idempotency_key":"{}","customer_id":"{CUSTOMER}","event_name":"llm","value":{}{ts},"properties":{{"r":"{}","u":"{}"}}}}"#,
        uuid(key),
        c.value,
        if c.r_x { "x" } else { "y" },
        c.u
    );
    let env = parse_ingest(body.as_bytes(), Timestamp(now)).expect("a well-formed body");
    EventRecord::from_valid(&env.events.into_iter().next().expect("one").expect("valid")).into_owned()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a decimal string, not {v}"))
}

/// The machine's entitlements and held reservations are the model's, and no hard `max`
/// is passed that was not set below the usage already there.
fn check(model: &Model, object: &mut MemoryObject) -> Result<(), TestCaseError> {
    let now = Timestamp(model.now);
    let answer = object.call(m::Entitlements { now, metrics: metrics() }).expect("entitlements");
    let period = period_of(model.now);
    for (i, metric) in metrics().iter().enumerate() {
        let e = answer["data"].as_array().unwrap().iter().find(|e| e["metric_code"] == metric.code.as_str()).unwrap();
        let (used, reserved) = (model.used(i, period), model.reserved(i, period));
        prop_assert_eq!(dec(&e["used"]), used, "used of {}", metric.code);
        prop_assert_eq!(dec(&e["reserved"]), reserved, "reserved of {}", metric.code);
        match model.limits.get(&i) {
            None => prop_assert!(e["max"].is_null() && e["allowed"] == true),
            Some(l) => {
                let remaining = (l.max - used - reserved).max(Decimal::ZERO);
                prop_assert_eq!(dec(&e["max"]), l.max);
                prop_assert_eq!(dec(&e["remaining"]), remaining);
                prop_assert_eq!(e["allowed"].as_bool(), Some(!l.hard || remaining > Decimal::ZERO));
                if l.hard && !l.lowered {
                    prop_assert!(used + reserved <= l.max, "{} used {used} + held {reserved} > {}", metric.code, l.max);
                }
            }
        }
    }
    let held = object
        .call(m::ListReservations { now, status: Some(ReservationStatus::Held), limit: 500, cursor: None })
        .expect("list");
    let got: BTreeSet<String> =
        held["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    let want: BTreeSet<String> = model.reservations.iter().filter(|r| model.live(r)).map(|r| r.id.clone()).collect();
    prop_assert_eq!(got, want);
    // Each commit recorded its one event, once.
    for r in &model.reservations {
        let stored = object.store.events.contains_key(&uuid(r.key));
        prop_assert_eq!(stored, matches!(r.status, RStatus::Committed(_)), "event of {}", r.id);
    }
    Ok(())
}

fn code(e: &ApiError) -> ErrorCode {
    e.code
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_machine_enforces_limits_as_the_model_does(
        ops in prop::collection::vec((op(), prop::option::of(0u32..4)), 1..40)
    ) {
        let mut object = MemoryObject::new(CustomerMachine::new(false));
        object.call(m::Create { customer: customer() }).expect("created");
        let mut model = Model { now: midnight(2026, 1, 20), ..Model::default() };
        let all = metrics();
        for (op, fault) in ops {
            object.fail_next = fault;
            let now = Timestamp(model.now);
            let failed = |r: &Result<Value, ApiError>| matches!(r, Err(e) if e.code == ErrorCode::InternalError);
            match op {
                Op::Batch(draws) => {
                    let events: Vec<EventRecord> = draws.iter().map(|d| {
                        let at = model.now - i64::from(d.back_hours) * 3_600_000;
                        let c = Content { value: Decimal::from(d.value), ts: Some(at), r_x: d.r_x, u: d.u };
                        record(u32::from(d.key), &c, model.now)
                    }).collect();
                    let got = object.call(m::Ingest { now, metrics: all.clone(), events, received: None });
                    if failed(&got) { continue; }
                    let fates = serde_json::from_value::<m::Fates>(got.expect("ingest")).unwrap().fates;
                    prop_assert_eq!(fates, model.batch(&draws));
                }
                Op::PutLimit { metric, max, hard } => {
                    let mode = if hard { LimitMode::Hard } else { LimitMode::Soft };
                    let input = LimitInput { max: Decimal::from(max), mode };
                    let got = object.call(m::PutLimit { now, metric: all[metric].clone(), input });
                    if failed(&got) { continue; }
                    prop_assert_eq!(dec(&got.expect("put")["max"]), Decimal::from(max));
                    let p = period_of(model.now);
                    let lowered = model.limits.get(&metric).is_some_and(|l| l.lowered)
                        || model.used(metric, p) + model.reserved(metric, p) > Decimal::from(max);
                    model.limits.insert(metric, ModelLimit { max: Decimal::from(max), hard, lowered });
                }
                Op::DeleteLimit(metric) => {
                    let got = object.call(m::DeleteLimit { metric_code: all[metric].code.clone() });
                    if failed(&got) { continue; }
                    match model.limits.remove(&metric) {
                        Some(_) => prop_assert!(got.is_ok()),
                        None => prop_assert_eq!(got.map_err(|e| code(&e)), Err(ErrorCode::UnknownLimit)),
                    }
                }
                Op::Reserve { metric, quantity, ttl, key } => {
                    let key = 1000 + u32::from(key);
                    let id = format!("rsv_{:08}", model.reservations.len());
                    let quantity = Decimal::from(quantity);
                    let input = ReservationInput {
                        metric_code: all[metric].code.clone(),
                        quantity,
                        ttl_seconds: u64::from(ttl),
                        idempotency_key: uuid(key),
                    };
                    let got = object.call(m::Reserve { now, id: id.clone(), metric: all[metric].clone(), input });
                    if failed(&got) { continue; }
                    let p = period_of(model.now);
                    let expected = match model.reservations.iter().find(|r| r.key == key) {
                        Some(r) if r.metric == metric && r.quantity == quantity => Ok(r.id.clone()),
                        Some(_) => Err(ErrorCode::IdempotencyKeyReused),
                        None => {
                            let fits = match model.limits.get(&metric) {
                                Some(l) if l.hard => model.used(metric, p) + model.reserved(metric, p) + quantity <= l.max,
                                _ => true,
                            };
                            if fits {
                                model.reservations.push(ModelReservation {
                                    id: id.clone(), key, metric, quantity, period: p,
                                    expires_at: model.now + i64::from(ttl) * 1000, status: RStatus::Held,
                                });
                                Ok(id)
                            } else {
                                Err(ErrorCode::LimitExceeded)
                            }
                        }
                    };
                    prop_assert_eq!(got.map(|v| v["id"].as_str().unwrap().to_owned()).map_err(|e| code(&e)), expected);
                }
                Op::Commit { pick, value, r_x, u } => {
                    let Some(i) = pick_reservation(&model, pick) else { continue };
                    let r = model.reservations[i].clone();
                    let body = match value {
                        Some(v) => format!(r#"{{"value":{v},"properties":{{"r":"{}","u":"{u}"}}}}"#, if r_x { "x" } else { "y" }),
                        None => format!(r#"{{"properties":{{"r":"{}","u":"{u}"}}}}"#, if r_x { "x" } else { "y" }),
                    };
                    let got = object.call(m::Commit { now, id: r.id.clone(), body, metrics: all.clone() });
                    if failed(&got) { continue; }
                    let expected: Result<&str, ErrorCode> = match r.status {
                        RStatus::Committed(s) => Ok(s),
                        RStatus::Released => Err(ErrorCode::ReservationReleased),
                        RStatus::Held if model.now >= r.expires_at => Err(ErrorCode::ReservationExpired),
                        RStatus::Held => {
                            let c = Content { value: value.map_or(r.quantity, Decimal::from), ts: None, r_x, u };
                            // The hold makes way for its event.
                            model.reservations[i].status = RStatus::Released;
                            let fits = model.fits(&c, model.now);
                            if fits {
                                model.events.insert(r.key, ModelEvent { content: c, at: model.now, voided: false });
                                model.reservations[i].status = RStatus::Committed("accepted");
                                Ok("accepted")
                            } else {
                                model.reservations[i].status = RStatus::Held;
                                Err(ErrorCode::LimitExceeded)
                            }
                        }
                    };
                    let got = got.map_err(|e| code(&e));
                    if let Ok(v) = &got {
                        prop_assert_eq!(v["reservation"]["status"].as_str(), Some("committed"));
                    }
                    prop_assert_eq!(got.map(|v| v["event"]["status"].as_str().unwrap().to_owned()), expected.map(str::to_owned));
                }
                Op::Release(pick) => {
                    let Some(i) = pick_reservation(&model, pick) else { continue };
                    let r = model.reservations[i].clone();
                    let got = object.call(m::Release { now, id: r.id.clone() });
                    if failed(&got) { continue; }
                    let expected = match r.status {
                        RStatus::Committed(_) => Err(ErrorCode::ReservationCommitted),
                        RStatus::Released => Ok("released"),
                        RStatus::Held if model.now >= r.expires_at => Ok("expired"),
                        RStatus::Held => {
                            model.reservations[i].status = RStatus::Released;
                            Ok("released")
                        }
                    };
                    prop_assert_eq!(got.map(|v| v["status"].as_str().unwrap().to_owned()).map_err(|e| code(&e)), expected.map(str::to_owned));
                }
                Op::Advance(ms) => {
                    model.now += ms;
                    object.fail_next = None;
                }
                Op::Void(key) => {
                    let key = u32::from(key);
                    let got = object.call(m::Void { now, key: uuid(key), metrics: all.clone() });
                    if failed(&got) { continue; }
                    let expected = match model.events.get_mut(&key) {
                        None => Err(ErrorCode::EventNotFound),
                        Some(e) if e.voided => Ok("already_voided"),
                        Some(e) => {
                            e.voided = true;
                            Ok("voided")
                        }
                    };
                    prop_assert_eq!(got.map(|v| v["status"].as_str().unwrap().to_owned()).map_err(|e| code(&e)), expected.map(str::to_owned));
                }
                Op::Restart => {
                    object.machine = CustomerMachine::new(false);
                    object.fail_next = None;
                }
            }
            object.fail_next = None;
            check(&model, &mut object)?;
        }
    }
}

/// One of the reservations made so far, if any.
fn pick_reservation(model: &Model, pick: u8) -> Option<usize> {
    (!model.reservations.is_empty()).then(|| usize::from(pick) % model.reservations.len())
}

/// The two concurrency facts of the issue, as the machine decides them one call at a
/// time: 100 single events against a hard limit of 50 accept exactly 50, and 20 holds of
/// 10 against 45 remaining hold exactly 4.
#[test]
fn a_hard_limit_is_exact_for_events_and_holds() {
    let mut object = MemoryObject::new(CustomerMachine::new(false));
    object.call(m::Create { customer: customer() }).expect("created");
    let now = Timestamp(midnight(2026, 1, 20));
    let calls = metric("calls", Aggregation::Count, None, false);
    let hard = |max| LimitInput { max: Decimal::from(max), mode: LimitMode::Hard };
    object.call(m::PutLimit { now, metric: calls.clone(), input: hard(50) }).expect("limit");
    let mut accepted = 0;
    for k in 0..100 {
        let c = Content { value: Decimal::ONE, ts: Some(now.millis()), r_x: false, u: 0 };
        let got = object.call(m::Ingest {
            now,
            metrics: vec![calls.clone()],
            events: vec![record(k, &c, now.millis())],
            received: None,
        });
        let fates = serde_json::from_value::<m::Fates>(got.unwrap()).unwrap().fates;
        accepted += usize::from(fates == [Fate::Accepted]);
    }
    assert_eq!(accepted, 50);
    // (The events above are not `r: x`, so this filtered metric has counted none.)
    let tokens = metric("tokens_x", Aggregation::Sum, None, true);
    object.call(m::PutLimit { now, metric: tokens.clone(), input: hard(45) }).expect("limit");
    let mut held = 0;
    for k in 0..20 {
        let input = ReservationInput {
            metric_code: "tokens_x".into(),
            quantity: Decimal::from(10),
            ttl_seconds: 300,
            idempotency_key: uuid(500 + k),
        };
        let id = format!("rsv_{k:08}");
        held += usize::from(object.call(m::Reserve { now, id, metric: tokens.clone(), input }).is_ok());
    }
    assert_eq!(held, 4);
    // Past the TTL the holds free themselves, with nobody calling in between.
    let later = Timestamp(now.millis() + 300_000);
    let e = object.call(m::GetEntitlement { now: later, metric: tokens }).unwrap();
    assert_eq!((e["reserved"].as_str(), e["remaining"].as_str()), (Some("0"), Some("45")));
}

/// A customer with a hard limit on `calls` (30 of 50 used) and four holds of 10 on
/// `tokens_x` (45 max) that expire at `now` + 300 s; its metrics and `now`.
fn limited_object() -> (MemoryObject, MetricDef, MetricDef, Timestamp) {
    let mut object = MemoryObject::new(CustomerMachine::new(false));
    object.call(m::Create { customer: customer() }).expect("created");
    let now = Timestamp(midnight(2026, 1, 20));
    let calls = metric("calls", Aggregation::Count, None, false);
    let tokens = metric("tokens_x", Aggregation::Sum, None, true);
    let hard = |max| LimitInput { max: Decimal::from(max), mode: LimitMode::Hard };
    object.call(m::PutLimit { now, metric: calls.clone(), input: hard(50) }).expect("limit");
    object.call(m::PutLimit { now, metric: tokens.clone(), input: hard(45) }).expect("limit");
    for k in 0..30 {
        let c = Content { value: Decimal::ONE, ts: Some(now.millis()), r_x: false, u: 0 };
        object
            .call(m::Ingest {
                now,
                metrics: vec![calls.clone()],
                events: vec![record(k, &c, now.millis())],
                received: None,
            })
            .expect("ingest");
    }
    for k in 0..4 {
        let input = ReservationInput {
            metric_code: "tokens_x".into(),
            quantity: Decimal::from(10),
            ttl_seconds: 300,
            idempotency_key: uuid(500 + k),
        };
        object.call(m::Reserve { now, id: format!("rsv_{k:08}"), metric: tokens.clone(), input }).expect("hold");
    }
    (object, calls, tokens, now)
}

/// Several reads in one call (the front's coalesced checks) answer each read with the
/// very text its own call answers, in order, each at its own "now" (a read past the
/// holds' expiry frees them for the reads after it, as calls in a row would); a metric
/// the book has not seen yet is back-filled as its own call would.
#[test]
fn coalesced_entitlement_reads_answer_as_their_own_calls_would() {
    let (mut batched, calls, tokens, now) = limited_object();
    let (mut single, ..) = limited_object();
    let later = Timestamp(now.millis() + 300_000);
    let unseen = metric("units", Aggregation::Sum, None, false);
    let one = |at, metric: &MetricDef| m::EntitlementRead::One(m::GetEntitlement { now: at, metric: metric.clone() });
    let all = |at| m::EntitlementRead::All(m::Entitlements { now: at, metrics: metrics() });
    let reads = vec![
        one(now, &tokens),
        all(now),
        one(now, &calls),
        one(now, &unseen),
        one(later, &tokens),
        all(later),
        one(now, &tokens),
    ];
    let text = batched.call_text(m::ReadEntitlements { reads: reads.clone() }).expect("reads");
    let answers: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(&text).expect("a list");
    let want: Vec<String> = reads
        .into_iter()
        .map(|r| match r {
            m::EntitlementRead::One(e) => single.call_text(e),
            m::EntitlementRead::All(e) => single.call_text(e),
        })
        .collect::<Result<_, _>>()
        .expect("single reads");
    let got: Vec<&str> = answers.iter().map(|a| a.get()).collect();
    assert_eq!(got, want);
    assert!(got[0].contains(r#""reserved":"40""#) && got[4].contains(r#""reserved":"0""#), "{got:?}");
    assert!(got[6].contains(r#""reserved":"0""#), "{got:?}");
    // No customer: the call fails as each read's own call would.
    let mut none = MemoryObject::new(CustomerMachine::new(false));
    let e = none.call_text(m::ReadEntitlements { reads: vec![one(now, &calls)] }).unwrap_err();
    let single = none.call_text(m::GetEntitlement { now, metric: calls }).unwrap_err();
    assert_eq!((e.code, e.message.clone()), (single.code, single.message.clone()));
}
