//! The customer's machine, driven through its in-memory store exactly as the worker's
//! object drives it (one `handle` per call, in one transaction; webhooks sent when the
//! answer asks; the answer rendered after), against a model of our own that never calls
//! the code under test:
//!
//! - periods from the schedule's definition (monthly anchored on the 1st or the 31st,
//!   weekly), computed here with plain date arithmetic;
//! - each metric kind as a plain fold over the live events (sum, count, max,
//!   distinct values, the newest event's value);
//! - every price model and minimums, priced here tier by tier and rounded half-even;
//! - the lifecycle from API.md (draft from `end - pre_generate_days`, final from
//!   `end + grace_hours`, approve, void), with invoice numbers from a stand-in catalog
//!   that reserves them per period, as the real one does, and every number, id and
//!   webhook checked from the outside.
//!
//! Storage fails at random points (the call's writes are rolled back, the machine drops
//! its book) and the object restarts at random; events land exactly on period bounds and
//! runs fire exactly at draft and final points, late, twice and out of order.
//!
//! ## Mutations this file catches
//!
//! `python3 scripts/mutations.py` puts each of these one-line bugs into `core`, one at a
//! time, and runs this file; every one is caught by `the_machine_agrees_with_the_model`
//! (run at the commit that added this list). Run it again after changing the machine, and
//! add the bug a new test is written for.
//!
//! 1. `invoice.finalized` never queued (the mutation the book's old tests missed).
//! 2. An event at a period's exact end counted in that period.
//! 3. `sum` keeps the largest value instead of adding.
//! 4. `latest` keeps the oldest event.
//! 5. Finalized at the period's end, without the grace hours.
//! 6. The draft appears a day late.
//! 7. A volume price's flat amount charged at zero units.
//! 8. An item's minimum ignored.
//! 9. A final invoice given the next period's number.
//! 10. A failed call keeps the book in memory (it runs ahead of storage).
//! 11. A void's recomputed aggregates kept in memory but not written.
//! 12. No back-fill of a metric new to the book.
//! 13. Every period's invoice made with the same id.
//! 14. `invoice.sent` not queued when a person approves.
//! 15. Events compacted as soon as their period is final, without the late window.

use chrono::{Datelike, NaiveDate};
use edgemeter_core::book::Fate;
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::event::EventRecord;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::item::{Item, ItemKind};
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::machine::customer::ingest_frame::{self, EventBytes};
use edgemeter_core::machine::customer::{self as m, CustomerCall, CustomerMachine, MemoryObject, MemoryStore};
use edgemeter_core::machine::transact;
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::period::{Interval, Schedule};
use edgemeter_core::pricing::{Price, Tier};
use edgemeter_core::time::{Timestamp, DAY_MS, HOUR_MS};
use edgemeter_core::{ApiError, ErrorCode};
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const CUSTOMER: &str = "cus_0000000000000000000000book";
/// How long after a period ends its events are kept (API.md: events up to 35 days old
/// are accepted).
const LATE_WINDOW_MS: i64 = 35 * DAY_MS;
/// How many periods the scenarios use.
const PERIODS: usize = 4;

// ---------------------------------------------------------------------------------------
// Scenarios.

/// Which schedule a scenario's customer has.
#[derive(Clone, Copy, Debug)]
enum Sched {
    /// Monthly from 2026-01-01, drafts 3 days before the end, final 24 hours after.
    MonthlyFirst,
    /// Monthly from 2026-01-31: Jan 31, Feb 28, Mar 31, Apr 30 (clamped to the month).
    MonthlyThirtyFirst,
    /// Weekly from Monday 2026-01-05, drafts 1 day before, final 2 hours after.
    Weekly,
}

impl Sched {
    fn schedule(self) -> Schedule {
        let (interval, anchor, pre, grace) = match self {
            Sched::MonthlyFirst => (Interval::Month, date(2026, 1, 1), 3, 24),
            Sched::MonthlyThirtyFirst => (Interval::Month, date(2026, 1, 31), 2, 6),
            Sched::Weekly => (Interval::Week, date(2026, 1, 5), 1, 2),
        };
        Schedule { interval, anchor, pre_generate_days: pre, grace_hours: grace }
    }

    /// The starts of periods 0..=PERIODS + 1 (period i is `[b[i], b[i+1])`), by definition.
    fn bounds(self) -> Vec<i64> {
        let s = self.schedule();
        (0..=PERIODS as i64 + 1)
            .map(|k| match s.interval {
                Interval::Week => midnight(s.anchor) + k * 7 * DAY_MS,
                _ => {
                    let (y, mo) = (2026 + (k / 12) as i32, 1 + (k % 12) as u32);
                    let last = (28..=31).rev().find(|d| NaiveDate::from_ymd_opt(y, mo, *d).is_some()).unwrap();
                    midnight(date(y, mo, s.anchor.day().min(last)))
                }
            })
            .collect()
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

fn customer(sched: Sched, auto_send: bool) -> Customer {
    let schedule = sched.schedule();
    Customer {
        id: CUSTOMER.into(),
        name: "Book".into(),
        email: "b@example.com".into(),
        external_id: None,
        currency: Currency::parse("USD").unwrap(),
        created_at: Timestamp(midnight(schedule.anchor)),
        invoice_schedule: schedule,
        auto_send,
        contract_id: None,
    }
}

fn metric(code: &str, event_name: &str, aggregation: Aggregation, field: Option<&str>, only_x: bool) -> MetricDef {
    let mut filters = BTreeMap::new();
    if only_x {
        filters.insert("r".to_owned(), vec!["x".to_owned()]);
    }
    MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: event_name.into(),
        aggregation,
        field: field.map(str::to_owned),
        filters,
    }
}

fn all_metrics() -> Vec<MetricDef> {
    vec![
        metric("a_sum", "a", Aggregation::Sum, None, false),
        metric("a_count", "a", Aggregation::Count, None, false),
        metric("b_max", "b", Aggregation::Max, None, false),
        metric("b_unique", "b", Aggregation::UniqueCount, Some("r"), false),
        metric("a_latest", "a", Aggregation::Latest, None, false),
        metric("a_sum_x", "a", Aggregation::Sum, None, true),
    ]
}

/// Amounts an item's price is drawn from.
#[derive(Clone, Debug)]
struct Prices {
    unit: Decimal,
    package: (u64, Decimal),
    tiers: [(Decimal, Decimal); 3],
    fixed: Decimal,
    minimum: Decimal,
}

fn money() -> impl Strategy<Value = Decimal> {
    (0i64..2_000, 0u32..4).prop_map(|(n, scale)| Decimal::new(n, scale))
}

fn prices() -> impl Strategy<Value = Prices> {
    (money(), (1u64..6, money()), [(money(), money()), (money(), money()), (money(), money())], money(), money())
        .prop_map(|(unit, package, tiers, fixed, minimum)| Prices { unit, package, tiers, fixed, minimum })
}

fn tiers(p: &Prices) -> Vec<Tier> {
    let up = [Some(Decimal::from(2)), Some(Decimal::new(55, 1)), None];
    p.tiers.iter().zip(up).map(|((unit, flat), up_to)| Tier { up_to, unit_amount: *unit, flat_amount: *flat }).collect()
}

/// One item of every price model, some with minimums.
fn items(p: &Prices) -> Vec<Item> {
    let item = |n: u8, kind, metric: Option<(&str, &str)>, price, minimum| Item {
        id: format!("item_{n}"),
        customer_id: CUSTOMER.into(),
        name: format!("item {n}"),
        kind,
        metric_code: metric.map(|(m, _)| m.to_owned()),
        event_name: metric.map(|(_, e)| e.to_owned()),
        price,
        minimum,
        created_at: Timestamp(0),
    };
    vec![
        item(1, ItemKind::Usage, Some(("a_sum", "a")), Price::PerUnit { unit_amount: p.unit }, None),
        item(
            2,
            ItemKind::Usage,
            Some(("a_count", "a")),
            Price::Package { package_size: p.package.0, package_amount: p.package.1 },
            None,
        ),
        item(3, ItemKind::Usage, Some(("b_max", "b")), Price::Graduated { tiers: tiers(p) }, None),
        item(4, ItemKind::Usage, Some(("b_unique", "b")), Price::Volume { tiers: tiers(p) }, Some(p.minimum)),
        item(5, ItemKind::Fixed, None, Price::Fixed { amount: p.fixed }, None),
        item(6, ItemKind::Usage, Some(("a_latest", "a")), Price::PerUnit { unit_amount: p.unit }, Some(p.minimum)),
        item(7, ItemKind::Usage, Some(("a_sum_x", "a")), Price::Graduated { tiers: tiers(p) }, Some(p.minimum)),
    ]
}

/// An event from a small pool, so keys repeat: key `k`, content variant `v`. Its content
/// depends on (key, variant) only, so a retry is byte for byte the same event.
#[derive(Clone, Copy, Debug)]
struct Draw {
    key: u8,
    variant: u8,
}

#[derive(Clone, Debug)]
struct ModelEvent {
    name: &'static str,
    value: Decimal,
    ts: i64,
    r: &'static str,
    key: u8,
    variant: u8,
}

fn uuid(k: u8) -> String {
    format!("00000000-0000-7000-8000-{k:012}")
}

/// Where a drawn event lands: exactly on a period's start, its last millisecond, a day
/// in, or a day before its end.
fn model_event(d: Draw, bounds: &[i64]) -> ModelEvent {
    let (k, v) = (d.key as i64, d.variant as i64);
    let spot = (k * 7 + v * 5) as usize % (PERIODS * 4);
    let (start, end) = (bounds[spot / 4], bounds[spot / 4 + 1]);
    let ts = match spot % 4 {
        0 => start,
        1 => end - 1,
        2 => start + DAY_MS + k * 1000,
        _ => end - DAY_MS + v,
    };
    ModelEvent {
        name: if k % 3 == 0 { "b" } else { "a" },
        value: Decimal::new(k * 10 + v * 3 + 1, 1),
        ts,
        r: if (k + v) % 2 == 0 { "x" } else { "y" },
        key: d.key,
        variant: d.variant,
    }
}

/// The event as a client sends it, parsed by the public parser (as the worker's front
/// does) into the record its object receives.
fn record(d: Draw, e: &ModelEvent) -> EventRecord<'static> {
    let body = format!(
        r#"{{"idempotency_key":"{}","customer_id":"{CUSTOMER}","event_name":"{}","value":{},"timestamp":"{}","properties":{{"r":"{}"}}}}"#,
        uuid(d.key),
        e.name,
        e.value,
        Timestamp(e.ts).to_rfc3339(),
        e.r
    );
    let env = parse_ingest(body.as_bytes(), Timestamp(e.ts + 1000)).expect("a well-formed body");
    let ev = env.events.into_iter().next().expect("one event").expect("a valid event");
    EventRecord::from_valid(&ev).into_owned()
}

#[derive(Clone, Debug)]
enum Op {
    Batch(Vec<Draw>),
    Void(u8),
    /// An invoicing run at one of the scenario's run times (any order: runs fire late,
    /// twice, or not at all).
    Run(u8),
    Approve(u8),
    VoidInvoice(u8),
    /// `GET …/usage` at the period's start, its last millisecond, or its middle.
    Usage(u8),
    Upcoming(u8),
    /// Ingest learns one more metric (its cache lagged behind).
    AddMetric,
    /// The object is evicted: the machine is made anew and loads from storage alone.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let n = (PERIODS * 5) as u8;
    prop_oneof![
        8 => prop::collection::vec((0u8..16, 0u8..3).prop_map(|(key, v)| Draw { key, variant: u8::from(v == 2) }), 1..10)
            .prop_map(Op::Batch),
        2 => (0u8..16).prop_map(Op::Void),
        5 => (0..n).prop_map(Op::Run),
        1 => (0..PERIODS as u8).prop_map(Op::Approve),
        1 => (0..PERIODS as u8).prop_map(Op::VoidInvoice),
        1 => (0..(PERIODS * 3) as u8).prop_map(Op::Usage),
        1 => (0..(PERIODS * 3) as u8).prop_map(Op::Upcoming),
        1 => Just(Op::AddMetric),
        1 => Just(Op::Restart),
    ]
}

// ---------------------------------------------------------------------------------------
// The model.

/// A metric's quantity and event count over some events, by the metric's definition.
fn fold(m: &MetricDef, events: &[&ModelEvent]) -> (Decimal, u64) {
    let matching: Vec<&&ModelEvent> = events
        .iter()
        .filter(|e| e.name == m.event_name && m.filters.get("r").is_none_or(|allowed| allowed.iter().any(|a| a == e.r)))
        .collect();
    let n = matching.len() as u64;
    let q = match m.aggregation {
        Aggregation::Sum => matching.iter().map(|e| e.value).sum(),
        Aggregation::Count => Decimal::from(n),
        Aggregation::Max => matching.iter().map(|e| e.value).max().unwrap_or(Decimal::ZERO),
        Aggregation::UniqueCount => Decimal::from(matching.iter().map(|e| e.r).collect::<BTreeSet<_>>().len()),
        // The newest event; a tie goes to the greater key (keys differ only in `key`).
        Aggregation::Latest => matching.iter().max_by_key(|e| (e.ts, e.key)).map_or(Decimal::ZERO, |e| e.value),
    };
    (q, n)
}

fn round(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// What a price bills for `q` units (before any minimum), by API.md's rules.
fn bill(price: &Price, q: Decimal) -> Decimal {
    match price {
        Price::PerUnit { unit_amount } => q * unit_amount,
        Price::Package { package_size, package_amount } => {
            let mut packages = Decimal::ZERO;
            while packages * Decimal::from(*package_size) < q {
                packages += Decimal::ONE;
            }
            packages * package_amount
        }
        Price::Graduated { tiers } => {
            let mut total = Decimal::ZERO;
            let mut below = Decimal::ZERO;
            for t in tiers {
                let top = t.up_to.unwrap_or(Decimal::MAX).min(q);
                if top > below {
                    total += (top - below) * t.unit_amount + t.flat_amount;
                    below = top;
                }
            }
            total
        }
        Price::Volume { tiers } => match tiers.iter().find(|t| t.up_to.is_none_or(|u| q <= u)) {
            Some(t) if q > Decimal::ZERO => q * t.unit_amount + t.flat_amount,
            _ => Decimal::ZERO,
        },
        Price::Fixed { amount } => *amount,
    }
}

fn line_amount(item: &Item, q: Decimal) -> Decimal {
    let q = if item.kind == ItemKind::Fixed { Decimal::ONE } else { q };
    round(bill(&item.price, q).max(item.minimum.unwrap_or(Decimal::ZERO)))
}

/// What the model expects of a period's invoice.
#[derive(Clone, Debug, PartialEq)]
struct Expected {
    status: InvoiceStatus,
    /// Each item's quantity when the lines were last computed.
    quantities: BTreeMap<String, Decimal>,
    number: Option<String>,
    /// Whether it was ever sent (its `invoice.sent` is due even if voided since).
    sent: bool,
}

struct Model {
    sched: Sched,
    bounds: Vec<i64>,
    auto_send: bool,
    items: Vec<Item>,
    metrics: Vec<MetricDef>,
    /// Stored events by key: the event and whether it is voided.
    stored: HashMap<u8, (ModelEvent, bool)>,
    /// Periods before this index are final.
    closed: usize,
    /// Each metric's (quantity, count) per final period, as it stood when finalized.
    frozen: BTreeMap<(String, usize), (Decimal, u64)>,
    invoices: BTreeMap<usize, Expected>,
    /// The stand-in catalog: numbers reserved per period, in order of reservation.
    reserved: BTreeMap<usize, String>,
}

impl Model {
    fn period_of(&self, ts: i64) -> usize {
        (0..PERIODS).rev().find(|i| self.bounds[*i] <= ts).unwrap_or(0)
    }

    fn draft_point(&self, i: usize) -> i64 {
        self.bounds[i + 1] - self.sched.schedule().pre_generate_days as i64 * DAY_MS
    }

    fn final_point(&self, i: usize) -> i64 {
        self.bounds[i + 1] + self.sched.schedule().grace_hours as i64 * HOUR_MS
    }

    /// Every time a run fires at: 1 ms before and at each draft and final point, and long
    /// after them all (but before the draft of the period after the scenario's).
    /// Indexes run to `PERIODS * 5`.
    fn run_time(&self, n: u8) -> i64 {
        let (i, which) = (n as usize / 5, n % 5);
        match which {
            0 => self.draft_point(i) - 1,
            1 => self.draft_point(i),
            2 => self.final_point(i) - 1,
            3 => self.final_point(i),
            _ => self.last_moment(),
        }
    }

    /// Hours before the draft of the period after the scenario's: the last runs come after
    /// it, an hour apart, so that a webhook that failed is due again.
    fn last_moment(&self) -> i64 {
        self.draft_point(PERIODS) - 4 * HOUR_MS
    }

    fn live(&self, period: usize) -> Vec<&ModelEvent> {
        self.stored.values().filter(|(e, voided)| !voided && self.period_of(e.ts) == period).map(|(e, _)| e).collect()
    }

    fn quantity(&self, m: &MetricDef, period: usize) -> (Decimal, u64) {
        if period < self.closed {
            return self.frozen.get(&(m.code.clone(), period)).copied().unwrap_or((Decimal::ZERO, 0));
        }
        fold(m, &self.live(period))
    }

    fn item_quantities(&self, period: usize) -> BTreeMap<String, Decimal> {
        self.items
            .iter()
            .map(|it| {
                let q = match &it.metric_code {
                    Some(code) => self.quantity(self.metrics.iter().find(|m| &m.code == code).unwrap(), period).0,
                    None => Decimal::ONE,
                };
                (it.id.clone(), q)
            })
            .collect()
    }

    fn batch(&mut self, draws: &[Draw]) -> Vec<Fate> {
        let mut first: HashMap<u8, (u8, Fate)> = HashMap::new();
        let mut fates = Vec::new();
        for d in draws {
            let e = model_event(*d, &self.bounds);
            let fate = if let Some((variant, same)) = first.get(&d.key) {
                if *variant == d.variant {
                    *same
                } else {
                    Fate::Reused
                }
            } else if let Some((stored, _)) = self.stored.get(&d.key) {
                first.insert(d.key, (stored.variant, Fate::Duplicate));
                if stored.variant == d.variant {
                    Fate::Duplicate
                } else {
                    Fate::Reused
                }
            } else if self.period_of(e.ts) < self.closed {
                first.insert(d.key, (d.variant, Fate::Closed));
                Fate::Closed
            } else {
                first.insert(d.key, (d.variant, Fate::Duplicate));
                self.stored.insert(d.key, (e, false));
                Fate::Accepted
            };
            fates.push(fate);
        }
        fates
    }

    /// A void: `Ok(already)` or the error code.
    fn void(&mut self, key: u8) -> Result<bool, ErrorCode> {
        let closed = self.closed;
        let period = self.stored.get(&key).map(|(e, _)| self.period_of(e.ts));
        match self.stored.get_mut(&key) {
            None => Err(ErrorCode::EventNotFound),
            Some((_, true)) => Ok(true),
            Some(_) if period.is_some_and(|p| p < closed) => Err(ErrorCode::PeriodClosed),
            Some((_, voided)) => {
                *voided = true;
                Ok(false)
            }
        }
    }

    /// The numbers the catalog gives a run at `now`: one per period past its final point
    /// still without one, reserved once per period (a failed run's retry gets the same).
    fn numbers(&mut self, now: i64) -> Vec<(Timestamp, String)> {
        for i in 0..PERIODS {
            if self.final_point(i) <= now && !self.reserved.contains_key(&i) {
                let n = format!("INV-{:06}", self.reserved.len() + 1);
                self.reserved.insert(i, n);
            }
        }
        self.reserved.iter().map(|(i, n)| (Timestamp(self.bounds[*i]), n.clone())).collect()
    }

    /// A run at `now`, by the lifecycle's definition.
    fn run(&mut self, now: i64) {
        for i in self.closed..PERIODS {
            if now < self.draft_point(i) {
                break;
            }
            let quantities = self.item_quantities(i);
            let existing = self.invoices.get(&i).cloned();
            let is_draft = existing.as_ref().is_none_or(|e| e.status == InvoiceStatus::Draft);
            if now < self.final_point(i) {
                if is_draft {
                    self.invoices
                        .insert(i, Expected { status: InvoiceStatus::Draft, quantities, number: None, sent: false });
                }
                break;
            }
            let mut inv = match existing {
                Some(e) if !is_draft => e,
                _ => {
                    let status = if self.auto_send { InvoiceStatus::Sent } else { InvoiceStatus::PendingApproval };
                    Expected { status, quantities, number: None, sent: self.auto_send }
                }
            };
            inv.number = self.reserved.get(&i).cloned();
            self.invoices.insert(i, inv);
            for m in &self.metrics {
                let q = fold(m, &self.live(i));
                self.frozen.insert((m.code.clone(), i), q);
            }
            self.closed = i + 1;
        }
        // Compaction: the events of final periods older than the late window are gone
        // (a retry of one is then `period_closed`, a void of one `event_not_found`).
        let closed = self.closed;
        let bounds = self.bounds.clone();
        let period_of = |ts: i64| (0..PERIODS).rev().find(|i| bounds[*i] <= ts).unwrap_or(0);
        self.stored.retain(|_, (e, _)| !(period_of(e.ts) < closed && e.ts < now - LATE_WINDOW_MS));
    }

    fn change(&mut self, i: usize, approve: bool) -> Result<(), ErrorCode> {
        let Some(inv) = self.invoices.get_mut(&i) else { return Err(ErrorCode::NotFound) };
        inv.status = match (approve, inv.status) {
            (true, InvoiceStatus::PendingApproval) => InvoiceStatus::Sent,
            (false, s) if s != InvoiceStatus::Void => InvoiceStatus::Void,
            _ => return Err(ErrorCode::InvalidInvoiceState),
        };
        inv.sent |= inv.status == InvoiceStatus::Sent;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The shell: what the worker's object does, over the in-memory store.

struct Object {
    shell: MemoryObject,
    /// Successful webhook deliveries by event id, and how often each was received.
    received: BTreeMap<String, (String, String, u32)>,
}

impl Object {
    fn new(webhooks: bool) -> Object {
        Object { shell: MemoryObject::new(CustomerMachine::new(webhooks)), received: BTreeMap::new() }
    }

    /// As the worker's object: the decision, the deliveries it asks for, the answer.
    fn call<'a>(&mut self, call: impl Into<CustomerCall<'a>>) -> Result<Value, ApiError> {
        let handled = self.shell.handle(call)?;
        if let Some(now) = handled.deliver {
            self.deliver(now);
        }
        Ok(serde_json::from_str(&self.shell.render(handled)?).expect("an answer is JSON"))
    }

    /// The receiver answers 500 to the first attempt of every third event id.
    fn deliver(&mut self, now: Timestamp) {
        let due = self.shell.machine.due_deliveries(now, &self.shell.store).expect("outbox");
        for d in due {
            let flaky = d.id.bytes().map(u32::from).sum::<u32>() % 3 == 0;
            let outcome = if flaky && d.attempts == 0 { Err("receiver answered 500".to_owned()) } else { Ok(()) };
            if outcome.is_ok() {
                let body: Value = serde_json::from_str(&d.body).expect("a webhook is JSON");
                assert_eq!(body["id"], d.id.as_str(), "the body carries the delivery's id");
                let kind = body["type"].as_str().unwrap_or_default().to_owned();
                let invoice = body["data"]["id"].as_str().unwrap_or_default().to_owned();
                self.received.entry(d.id.clone()).or_insert((kind, invoice, 0)).2 += 1;
            }
            let machine = &self.shell.machine;
            transact(&mut self.shell.store, |s| machine.delivery_outcome(&d, outcome, now, s)).expect("recorded");
        }
    }
}

fn invoice_of(store: &MemoryStore, start: i64) -> Option<&Invoice> {
    store.invoices.values().find(|i| i.period_start == Timestamp(start))
}

fn dec(v: &Value) -> Decimal {
    v.as_str().expect("a decimal string").parse().expect("a decimal")
}

fn check_invoices(model: &Model, object: &Object, ids: &mut BTreeMap<usize, String>) -> Result<(), TestCaseError> {
    let store = &object.shell.store;
    prop_assert_eq!(store.invoices.len(), model.invoices.len(), "one invoice per period the lifecycle reached");
    for (i, want) in &model.invoices {
        let inv = invoice_of(store, model.bounds[*i]).expect("the period's invoice");
        prop_assert_eq!(inv.period_end, Timestamp(model.bounds[i + 1]));
        prop_assert_eq!(inv.status, want.status, "period {}", i);
        prop_assert_eq!(&inv.number, &want.number, "period {}", i);
        // An invoice keeps its id for good.
        let id = ids.entry(*i).or_insert_with(|| inv.id.clone());
        prop_assert_eq!(&inv.id, id);
        prop_assert!(edgemeter_core::id::is_id(&inv.id, "inv"));
        let lines = inv.lines.as_array().expect("lines");
        prop_assert_eq!(lines.len(), model.items.len());
        let mut total = Decimal::ZERO;
        for (line, item) in lines.iter().zip(&model.items) {
            prop_assert_eq!(line["item_id"].as_str(), Some(item.id.as_str()));
            let q = want.quantities[&item.id];
            let q = if item.kind == ItemKind::Fixed { Decimal::ONE } else { q };
            prop_assert_eq!(dec(&line["quantity"]), q, "period {} item {}", i, &item.id);
            let amount = line_amount(item, q);
            prop_assert_eq!(dec(&line["amount"]), amount, "period {} item {} at {}", i, &item.id, q);
            total += amount;
        }
        prop_assert_eq!(dec(&Value::String(inv.total.clone())), total);
    }
    let unique: BTreeSet<&String> = store.invoices.values().map(|i| &i.id).collect();
    prop_assert_eq!(unique.len(), store.invoices.len(), "invoice ids are unique");
    Ok(())
}

/// A schedule, `auto_send`, the items' prices, how many metrics ingest knows at first, and
/// the operations, each with the write after which storage fails, if it does.
type Scenario = (Sched, bool, Prices, usize, Vec<(Op, Option<u32>)>);

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop_oneof![Just(Sched::MonthlyFirst), Just(Sched::MonthlyThirtyFirst), Just(Sched::Weekly)],
        any::<bool>(),
        prices(),
        1usize..=6,
        prop::collection::vec((op(), prop::option::weighted(0.15, 0u32..8)), 1..45),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_machine_agrees_with_the_model((sched, auto_send, prices, first_known, ops) in scenario()) {
        let metrics = all_metrics();
        let items = items(&prices);
        let mut model = Model {
            sched,
            bounds: sched.bounds(),
            auto_send,
            items: items.clone(),
            metrics: metrics.clone(),
            stored: HashMap::new(),
            closed: 0,
            frozen: BTreeMap::new(),
            invoices: BTreeMap::new(),
            reserved: BTreeMap::new(),
        };
        let mut object = Object::new(true);
        object.call(m::Create { customer: customer(sched, auto_send) }).expect("created");
        for item in &items {
            object.call(m::CreateItem { item: item.clone() }).expect("item");
        }
        let mut known = first_known;
        let mut ids = BTreeMap::new();
        for (op, fault) in ops {
            object.shell.fail_next = fault;
            match op {
                Op::Batch(draws) => {
                    let records: Vec<EventRecord> =
                        draws.iter().map(|d| record(*d, &model_event(*d, &model.bounds))).collect();
                    let now = Timestamp(model.bounds[0]);
                    // As the front sends it: in the call's binary form, read back.
                    let mut bytes = EventBytes::default();
                    for r in &records {
                        bytes.push(r).expect("canonical keys encode");
                    }
                    let defs: Vec<&MetricDef> = metrics[..known].iter().collect();
                    let body = ingest_frame::write(now, &defs, [&bytes]);
                    match object.call(ingest_frame::read_call(&body).expect("the call reads back")) {
                        Ok(answer) => {
                            let fates: m::Fates = serde_json::from_value(answer).unwrap();
                            prop_assert_eq!(fates.fates, model.batch(&draws), "batch {:?}", draws);
                        }
                        Err(e) => prop_assert_eq!(e.code, ErrorCode::InternalError),
                    }
                }
                Op::Void(k) => {
                    let call = m::Void { now: Timestamp(model.bounds[0]), key: uuid(k), metrics: metrics[..known].to_vec() };
                    match object.call(call) {
                        Ok(answer) => {
                            let want = if model.void(k).expect("the model voids it too") { "already_voided" } else { "voided" };
                            prop_assert_eq!(answer["status"].as_str(), Some(want));
                        }
                        Err(e) if e.code == ErrorCode::InternalError => {}
                        Err(e) => prop_assert_eq!(Err(e.code), model.void(k).map(|_| ())),
                    }
                }
                Op::Run(n) => {
                    let now = model.run_time(n);
                    let numbers = model.numbers(now);
                    let call = m::Run { now: Timestamp(now), metrics: metrics.clone(), numbers };
                    match object.call(call) {
                        Ok(answer) => {
                            model.run(now);
                            let report: m::RunReport = serde_json::from_value(answer).unwrap();
                            prop_assert_eq!(report.open_from, Timestamp(model.bounds[model.closed]));
                            let next_draft = if model.closed < PERIODS { model.draft_point(model.closed) } else { i64::MAX };
                            prop_assert!(report.next_due.millis() <= next_draft);
                        }
                        Err(e) => prop_assert_eq!(e.code, ErrorCode::InternalError),
                    }
                }
                Op::Approve(i) | Op::VoidInvoice(i) => {
                    let approve = matches!(op, Op::Approve(_));
                    let id = invoice_of(&object.shell.store, model.bounds[i as usize]).map(|inv| inv.id.clone());
                    let now = Timestamp(model.final_point(PERIODS - 1));
                    let id = id.unwrap_or_else(|| "inv_00000000000000000000000000".into());
                    let got = if approve {
                        object.call(m::Approve { now, id })
                    } else {
                        object.call(m::VoidInvoice { now, id })
                    };
                    match got {
                        Ok(answer) => {
                            prop_assert_eq!(model.change(i as usize, approve), Ok(()));
                            prop_assert_eq!(answer["status"].as_str(), Some(model.invoices[&(i as usize)].status.as_str()));
                        }
                        Err(e) if e.code == ErrorCode::InternalError => {}
                        Err(e) => prop_assert_eq!(Err(e.code), model.change(i as usize, approve)),
                    }
                }
                Op::Usage(n) | Op::Upcoming(n) => {
                    let i = n as usize / 3;
                    let at = match n % 3 {
                        0 => model.bounds[i],
                        1 => model.bounds[i + 1] - 1,
                        _ => (model.bounds[i] + model.bounds[i + 1]) / 2,
                    };
                    let usage = matches!(op, Op::Usage(_));
                    let got = if usage {
                        object.call(m::Usage { at: Timestamp(at), metrics: metrics.clone() })
                    } else {
                        object.call(m::Upcoming { now: Timestamp(at), metrics: metrics.clone() })
                    };
                    let answer = match got {
                        Ok(a) => a,
                        Err(e) => {
                            prop_assert_eq!(e.code, ErrorCode::InternalError);
                            continue;
                        }
                    };
                    if usage {
                        let report: m::UsageReport = serde_json::from_value(answer).unwrap();
                        prop_assert_eq!(report.period.start, Timestamp(model.bounds[i]));
                        prop_assert_eq!(report.period.end, Timestamp(model.bounds[i + 1]));
                        for (mu, md) in report.metrics.iter().zip(&metrics) {
                            let (q, count) = model.quantity(md, i);
                            prop_assert_eq!(mu.quantity.parse::<Decimal>().unwrap(), q, "metric {} period {}", &md.code, i);
                            prop_assert_eq!(mu.event_count, count);
                        }
                        for (iu, item) in report.items.iter().zip(&model.items) {
                            let q = model.item_quantities(i)[&item.id];
                            let q = if item.kind == ItemKind::Fixed { Decimal::ONE } else { q };
                            prop_assert_eq!(iu.amount.parse::<Decimal>().unwrap(), round(bill(&item.price, q)));
                        }
                    } else if i >= model.closed {
                        let up: m::UpcomingInvoice = serde_json::from_value(answer).unwrap();
                        prop_assert_eq!(up.status.as_str(), "upcoming");
                        let quantities = model.item_quantities(i);
                        let want: Decimal =
                            model.items.iter().map(|it| line_amount(it, quantities[&it.id])).sum();
                        prop_assert_eq!(up.total.parse::<Decimal>().unwrap(), want);
                    }
                }
                Op::AddMetric => known = (known + 1).min(metrics.len()),
                Op::Restart => object.shell.machine = CustomerMachine::new(true),
            }
            // A fault armed for an op that made no call is not carried to the next.
            object.shell.fail_next = None;
            check_invoices(&model, &object, &mut ids)?;
        }

        // The last runs, far past every period, with nothing failing: every period is
        // final and numbered, and every webhook has been delivered.
        for j in 1..=3 {
            let now = model.last_moment() + j * HOUR_MS;
            let numbers = model.numbers(now);
            object.call(m::Run { now: Timestamp(now), metrics: metrics.clone(), numbers }).expect("the last run");
            model.run(now);
            check_invoices(&model, &object, &mut ids)?;
        }
        prop_assert!(object.shell.store.outbox.values().all(|q| q.delivered_at.is_some()), "every webhook delivered");
        // Numbers: one gap-free sequence, each on exactly the period reserved for it.
        let mut given: Vec<String> = object.shell.store.invoices.values().filter_map(|i| i.number.clone()).collect();
        given.sort();
        let want: Vec<String> = (1..=PERIODS).map(|n| format!("INV-{n:06}")).collect();
        prop_assert_eq!(given, want);
        // Webhooks: each final invoice's `invoice.finalized` once, `invoice.sent` once if
        // it was sent, and nothing else.
        let mut expected: BTreeMap<(String, String), u32> = BTreeMap::new();
        for (i, want) in &model.invoices {
            let id = ids[i].clone();
            expected.insert(("invoice.finalized".into(), id.clone()), 1);
            if want.sent {
                expected.insert(("invoice.sent".into(), id), 1);
            }
        }
        let got: BTreeMap<(String, String), u32> =
            object.received.values().map(|(kind, inv, n)| ((kind.clone(), inv.clone()), *n)).collect();
        prop_assert_eq!(got, expected);
    }
}

/// A `unique_count` metric holds at most `MAX_DISTINCT_VALUES` values per period (its
/// state is one stored row): an event that would add one more is `full`, a value already
/// held is still accepted, a retry of a refused event is refused the same way, and the
/// state stays within a Durable Object row however long the values are.
#[test]
fn a_unique_count_stops_at_its_cap_and_says_so() {
    use edgemeter_core::aggregate::MAX_DISTINCT_VALUES;
    let unique = metric("u", "u", Aggregation::UniqueCount, Some("r"), false);
    let mut object = Object::new(false);
    let c = customer(Sched::MonthlyFirst, false);
    let jan = c.created_at.millis();
    object.call(m::Create { customer: c }).expect("created");
    let ev = |i: usize, value: String, ts: i64| {
        let body = format!(
            r#"{{"idempotency_key":"00000000-0000-7000-8000-{i:012}","customer_id":"{CUSTOMER}","event_name":"u","value":1,"timestamp":"{}","properties":{{"r":"{value}","s":"{i}"}}}}"#,
            Timestamp(ts).to_rfc3339()
        );
        let env = parse_ingest(body.as_bytes(), Timestamp(ts + 1000)).expect("a body");
        EventRecord::from_valid(&env.events.into_iter().next().unwrap().unwrap()).into_owned()
    };
    let ingest = |object: &mut Object, metrics: &[MetricDef], events: Vec<EventRecord<'static>>| {
        let answer = object
            .call(m::Ingest { now: Timestamp(jan), metrics: metrics.to_vec(), events, received: None })
            .expect("ingest");
        serde_json::from_value::<m::Fates>(answer).unwrap().fates
    };
    let metrics = vec![unique.clone()];
    // Values of the longest kind a property may hold.
    let value = |i: usize| format!("{i:0>512}");
    let day = jan + DAY_MS;
    for start in (0..MAX_DISTINCT_VALUES - 1).step_by(1000) {
        let end = (start + 1000).min(MAX_DISTINCT_VALUES - 1);
        let fates = ingest(&mut object, &metrics, (start..end).map(|i| ev(i, value(i), day)).collect());
        assert!(fates.iter().all(|f| *f == Fate::Accepted));
    }
    // One place left: the first new value takes it, the next is refused, and so is its
    // copy later in the batch and a retry; a value already held still counts its event.
    let n = MAX_DISTINCT_VALUES;
    let batch = vec![
        ev(n, value(n), day),
        ev(n + 1, value(n + 1), day),
        ev(n + 1, value(n + 1), day),
        ev(n + 2, value(7), day),
    ];
    assert_eq!(ingest(&mut object, &metrics, batch), vec![Fate::Accepted, Fate::Full, Fate::Full, Fate::Accepted]);
    assert_eq!(ingest(&mut object, &metrics, vec![ev(n + 1, value(n + 1), day)]), vec![Fate::Full]);
    let state = &object.shell.store.aggregates[&("u".to_owned(), Timestamp(jan))];
    assert_eq!(state.quantity(), Decimal::from(MAX_DISTINCT_VALUES as u64));
    assert_eq!(state.event_count(), MAX_DISTINCT_VALUES as u64 + 1);
    let row = serde_json::to_string(state).unwrap();
    assert!(row.len() < 1_500_000, "a state row of {} bytes", row.len());
    // A metric made later is back-filled from the stored events: 40,001 distinct `s`,
    // counted up to the cap, so its state too stays within a row; and it is full, so a
    // new `s` is refused.
    let both = vec![unique, metric("s", "u", Aggregation::UniqueCount, Some("s"), false)];
    assert_eq!(ingest(&mut object, &both, vec![ev(n + 4, value(7), day)]), vec![Fate::Full]);
    assert_eq!(object.shell.store.aggregates[&("s".to_owned(), Timestamp(jan))].distinct(), MAX_DISTINCT_VALUES);
    // The next period starts empty.
    let feb = Sched::MonthlyFirst.bounds()[1];
    assert_eq!(ingest(&mut object, &metrics, vec![ev(n + 3, value(n + 1), feb + DAY_MS)]), vec![Fate::Accepted]);
}
