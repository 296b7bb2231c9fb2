//! Credit grants, the live balance and alerts, driven through the customer's machine and
//! its in-memory store exactly as the worker's object drives them (one `handle` per call,
//! in one transaction, storage failing at random writes, restarts), against a model of
//! our own written from API.md ("Credits and the live balance", "Alerts"), which never
//! calls the code under test:
//!
//! - the payer rule (active at the period's end, by priority, earliest expiry with none
//!   last, oldest), each final invoice drawing once at finalization, drafts showing what
//!   they would draw, voided invoices giving back to grants neither expired nor voided;
//! - the balance: the active grants' remaining, what the open periods would draw now;
//! - alerts: `usage` and `spend` once per period, `credit_balance` once per crossing.
//!
//! Invariants checked after every operation: every grant's `remaining` is the model's
//! (so never below zero, never drawn after it expired or was voided); every invoice's
//! `credits_applied` and `amount_due = total − drawn` are the model's; what each grant
//! paid equals what the invoices say it paid; a repeated run draws nothing more; the
//! balance and the upcoming invoice are the model's; the outbox holds exactly the alert
//! deliveries the model fired, and each alert's `last_triggered_at` is the model's.
//!
//! ## Mutations this file catches
//!
//! `python3 scripts/mutations.py` includes these (the `credit_props` ones):
//! 1. Payers ordered by priority only, not by expiry then age.
//! 2. A grant that expires exactly at the period's end left out of the payers.
//! 3. Voiding an invoice gives its draws back even to a voided grant.
//! 4. A failed call keeps the grants and alerts in memory (they run ahead of storage).
//! 5. A `usage` or `spend` alert fires again in a period it fired in.

use chrono::NaiveDate;
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::event::EventRecord;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::item::{Item, ItemKind};
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::machine::customer::{self as m, CustomerMachine, MemoryObject};
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::period::{Interval, Schedule};
use edgemeter_core::pricing::Price;
use edgemeter_core::time::{Timestamp, DAY_MS, HOUR_MS};
use edgemeter_core::ErrorCode;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const CUSTOMER: &str = "cus_000000000000000000credit";
const PERIODS: usize = 3;

fn midnight(y: i32, m: u32, d: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

/// Monthly from 2026-01-01: period i is `[b[i], b[i+1])`; drafts 3 days before the end,
/// final 24 hours after it.
fn bounds() -> Vec<i64> {
    (1..=PERIODS as u32 + 2).map(|mo| midnight(2026, mo, 1)).collect()
}

fn draft_point(b: &[i64], i: usize) -> i64 {
    b[i + 1] - 3 * DAY_MS
}

fn final_point(b: &[i64], i: usize) -> i64 {
    b[i + 1] + 24 * HOUR_MS
}

/// The times operations happen at: in each period, its first day, its middle, its draft
/// point, the last millisecond, its end, just before and at its final point; then late in
/// the period after the scenario's. Operations pick any, in any order.
fn times(b: &[i64]) -> Vec<i64> {
    let mut t = Vec::new();
    for i in 0..PERIODS {
        t.extend([
            b[i] + DAY_MS,
            b[i] + 15 * DAY_MS,
            draft_point(b, i),
            b[i + 1] - 1,
            b[i + 1],
            final_point(b, i) - 1,
            final_point(b, i),
        ]);
    }
    t.push(b[PERIODS] + 10 * DAY_MS);
    t
}

fn customer() -> Customer {
    Customer {
        id: CUSTOMER.into(),
        name: "Credit".into(),
        email: "c@example.com".into(),
        external_id: None,
        currency: Currency::USD,
        created_at: Timestamp(midnight(2026, 1, 1)),
        invoice_schedule: Schedule {
            interval: Interval::Month,
            anchor: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            pre_generate_days: 3,
            grace_hours: 24,
        },
        auto_send: false,
        contract_id: None,
    }
}

fn metric() -> MetricDef {
    MetricDef {
        code: "calls".into(),
        name: "calls".into(),
        event_name: "call".into(),
        aggregation: Aggregation::Sum,
        field: None,
        filters: BTreeMap::new(),
    }
}

/// A fixed fee of 5.00 and 0.25 per call.
fn items() -> Vec<Item> {
    let item = |id: &str, kind, metric: Option<&str>, price| Item {
        id: id.into(),
        customer_id: CUSTOMER.into(),
        name: id.into(),
        kind,
        metric_code: metric.map(str::to_owned),
        event_name: metric.map(|_| "call".to_owned()),
        price,
        minimum: None,
        created_at: Timestamp(0),
    };
    vec![
        item("item_fee", ItemKind::Fixed, None, Price::Fixed { amount: Decimal::from(5) }),
        item("item_calls", ItemKind::Usage, Some("calls"), Price::PerUnit { unit_amount: Decimal::new(25, 2) }),
    ]
}

fn period_total(q: Decimal) -> Decimal {
    Decimal::from(5) + q * Decimal::new(25, 2)
}

fn cents(c: u32) -> Decimal {
    Decimal::new(c as i64, 2)
}

// ---------------------------------------------------------------------------------------
// Scenarios.

#[derive(Clone, Debug)]
enum Op {
    /// Events of the given (period, hour into it, value), ingested at a time.
    Batch(usize, Vec<(usize, u32, u32)>),
    /// A grant: cents, priority, effective and expiry as time indexes (absent: now, never).
    Grant {
        at: usize,
        cents: u32,
        priority: u8,
        effective: Option<usize>,
        expires: Option<usize>,
    },
    VoidGrant(usize, usize),
    Run(usize),
    VoidInvoice(usize, usize),
    Balance(usize),
    Upcoming(usize),
    Restart,
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..n, prop::collection::vec((0..PERIODS, 0u32..600, 1u32..30), 1..6)).prop_map(|(t, e)| Op::Batch(t, e)),
        4 => (0..n, 1u32..4000, 0u8..3, prop::option::of(0..n), prop::option::weighted(0.6, 0..n))
            .prop_map(|(at, cents, priority, effective, expires)| Op::Grant { at, cents, priority, effective, expires }),
        1 => (0..n, 0usize..8).prop_map(|(t, g)| Op::VoidGrant(t, g)),
        5 => (0..n).prop_map(Op::Run),
        1 => (0..n, 0..PERIODS).prop_map(|(t, p)| Op::VoidInvoice(t, p)),
        2 => (0..n).prop_map(Op::Balance),
        1 => (0..n).prop_map(Op::Upcoming),
        1 => Just(Op::Restart),
    ]
}

/// Alert thresholds: usage (calls), spend and credit balance (cents).
type Thresholds = (u32, u32, u32);

// ---------------------------------------------------------------------------------------
// The model.

#[derive(Clone, Debug)]
struct MGrant {
    id: String,
    amount: Decimal,
    remaining: Decimal,
    priority: u64,
    effective: i64,
    expires: Option<i64>,
    created: i64,
    /// The operation that voided it.
    voided_at_op: Option<usize>,
}

#[derive(Clone, Debug)]
struct MInvoice {
    status: InvoiceStatus,
    /// When it became final (the operation's index), if it did.
    finalized_at_op: Option<usize>,
    total: Decimal,
    /// What it drew (final) or would draw (draft), by grant id, in order.
    credits: Vec<(String, Decimal)>,
}

#[derive(Clone, Debug, Default)]
struct MAlerts {
    usage: Decimal,
    spend: Decimal,
    credit: Decimal,
    usage_fired: BTreeSet<usize>,
    spend_fired: BTreeSet<usize>,
    armed: bool,
    crossings: u64,
    /// The alert deliveries queued, by event id.
    queued: BTreeSet<String>,
    /// Each alert's `last_triggered_at`, by alert id.
    last: BTreeMap<String, i64>,
}

struct Model {
    b: Vec<i64>,
    grants: Vec<MGrant>,
    /// Quantity per period.
    usage: BTreeMap<usize, Decimal>,
    /// Periods before this are final.
    closed: usize,
    invoices: BTreeMap<usize, MInvoice>,
    /// What voided final invoices drew and did not give back (a grant expired or voided
    /// since), by grant id.
    kept: BTreeMap<String, Decimal>,
    alerts: MAlerts,
}

const USAGE_ALERT: &str = "alr_0000000000000000000000usage";
const SPEND_ALERT: &str = "alr_0000000000000000000000spend";
const CREDIT_ALERT: &str = "alr_000000000000000000000credit";

impl Model {
    fn period_of(&self, t: i64) -> usize {
        (0..self.b.len() - 1).rev().find(|i| self.b[*i] <= t).unwrap_or(0)
    }

    fn total(&self, p: usize) -> Decimal {
        period_total(self.usage.get(&p).copied().unwrap_or_default())
    }

    /// The grants that pay period `p`, in order (API.md's rule).
    fn payers(grants: &[MGrant], end: i64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..grants.len())
            .filter(|i| {
                let g = &grants[*i];
                g.voided_at_op.is_none()
                    && g.effective < end
                    && g.expires.is_none_or(|e| e >= end)
                    && g.remaining > Decimal::ZERO
            })
            .collect();
        idx.sort_by_key(|i| {
            let g = &grants[*i];
            (g.priority, g.expires.unwrap_or(i64::MAX), g.created, g.id.clone())
        });
        idx
    }

    fn draw(grants: &mut [MGrant], end: i64, total: Decimal) -> Vec<(String, Decimal)> {
        let mut left = total;
        let mut out = Vec::new();
        for i in Self::payers(grants, end) {
            if left.is_zero() {
                break;
            }
            let take = left.min(grants[i].remaining);
            grants[i].remaining -= take;
            left -= take;
            out.push((grants[i].id.clone(), take));
        }
        out
    }

    fn run(&mut self, now: i64, op: usize) {
        for i in self.closed..PERIODS {
            if now < draft_point(&self.b, i) {
                break;
            }
            let existing = self.invoices.get(&i).map(|x| x.status);
            if now >= final_point(&self.b, i) {
                if existing != Some(InvoiceStatus::Void) {
                    let total = self.total(i);
                    let credits = Self::draw(&mut self.grants, self.b[i + 1], total);
                    let inv =
                        MInvoice { status: InvoiceStatus::PendingApproval, finalized_at_op: Some(op), total, credits };
                    self.invoices.insert(i, inv);
                }
                self.closed = i + 1;
                continue;
            }
            if existing.is_none_or(|s| s == InvoiceStatus::Draft) {
                let total = self.total(i);
                let credits = Self::draw(&mut self.grants.clone(), self.b[i + 1], total);
                self.invoices
                    .insert(i, MInvoice { status: InvoiceStatus::Draft, finalized_at_op: None, total, credits });
            }
            break;
        }
    }

    fn void_invoice(&mut self, p: usize, now: i64) -> Result<(), ErrorCode> {
        let inv = self.invoices.get_mut(&p).ok_or(ErrorCode::NotFound)?;
        if inv.status == InvoiceStatus::Void {
            return Err(ErrorCode::InvalidInvoiceState);
        }
        inv.status = InvoiceStatus::Void;
        if inv.finalized_at_op.is_none() {
            inv.credits.clear();
            return Ok(());
        }
        for (id, amount) in inv.credits.clone() {
            let g = self.grants.iter_mut().find(|g| g.id == id).expect("a drawn grant exists");
            if g.voided_at_op.is_some() || g.expires.is_some_and(|e| e <= now) {
                *self.kept.entry(id).or_default() += amount;
            } else {
                g.remaining += amount;
            }
        }
        Ok(())
    }

    fn active(g: &MGrant, now: i64) -> bool {
        g.voided_at_op.is_none() && g.effective <= now && g.expires.is_none_or(|e| e > now) && !g.remaining.is_zero()
    }

    /// The open periods up to `now` that will be invoiced, each with its total and what
    /// it would draw now; and the grants after those draws.
    fn open(&self, now: i64) -> (Vec<(usize, Decimal, Decimal)>, Vec<MGrant>) {
        let mut sim = self.grants.clone();
        let mut out = Vec::new();
        for p in self.closed..self.b.len() - 1 {
            if self.b[p] > now {
                break;
            }
            if self.invoices.get(&p).is_some_and(|i| i.status == InvoiceStatus::Void) {
                continue;
            }
            let total = self.total(p);
            let drawn: Decimal = Self::draw(&mut sim, self.b[p + 1], total).iter().map(|d| d.1).sum();
            out.push((p, total, drawn));
        }
        (out, sim)
    }

    /// remaining, pending_draw, available, the current period's total and amount due.
    fn balance(&self, now: i64) -> (Decimal, Decimal, Decimal, Decimal, Decimal) {
        let (open, sim) = self.open(now);
        let (mut remaining, mut pending) = (Decimal::ZERO, Decimal::ZERO);
        for (g, after) in self.grants.iter().zip(&sim) {
            if Self::active(g, now) {
                remaining += g.remaining;
                pending += g.remaining - after.remaining;
            }
        }
        let current = self.period_of(now);
        let (total, due) =
            open.iter().find(|o| o.0 == current).map_or((Decimal::ZERO, Decimal::ZERO), |o| (o.1, o.1 - o.2));
        (remaining, pending, (remaining - pending).max(Decimal::ZERO), total, due)
    }

    /// Every alert shown the values at `now`, as API.md says they fire.
    fn alerts(&mut self, now: i64, created: &[&str]) {
        let (open, _) = self.open(now);
        let available = self.balance(now).2;
        let a = &mut self.alerts;
        let suffix = |id: &str| id.trim_start_matches("alr_").to_owned();
        for id in created {
            match *id {
                USAGE_ALERT => {
                    for p in self.closed..self.b.len() - 1 {
                        if self.b[p] > now {
                            break;
                        }
                        let q = self.usage.get(&p).copied().unwrap_or_default();
                        if q >= a.usage && a.usage_fired.insert(p) {
                            a.queued.insert(format!("evt_alert_{}_{}", suffix(id), self.b[p]));
                            a.last.insert(id.to_string(), now);
                        }
                    }
                }
                SPEND_ALERT => {
                    for (p, total, _) in &open {
                        if *total >= a.spend && a.spend_fired.insert(*p) {
                            a.queued.insert(format!("evt_alert_{}_{}", suffix(id), self.b[*p]));
                            a.last.insert(id.to_string(), now);
                        }
                    }
                }
                _ => {
                    if available > a.credit {
                        a.armed = true;
                    } else if a.armed {
                        a.armed = false;
                        a.crossings += 1;
                        a.queued.insert(format!("evt_alert_{}_c{}", suffix(id), a.crossings));
                        a.last.insert(id.to_string(), now);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The shell.

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string, not {v}")).parse().expect("a decimal")
}

fn rfc(t: i64) -> String {
    Timestamp(t).to_rfc3339()
}

fn event(key: u32, ts: i64, value: u32) -> EventRecord<'static> {
    let body = format!(
        r#"{{"idempotency_key":"00000000-0000-7000-8000-{key:012}","customer_id":"{CUSTOMER}","event_name":"call","value":{value},"timestamp":"{}"}}"#,
        rfc(ts)
    );
    let env = parse_ingest(body.as_bytes(), Timestamp(ts + 1000)).expect("a well-formed body");
    let ev = env.events.into_iter().next().expect("one event").expect("a valid event");
    EventRecord::from_valid(&ev).into_owned()
}

fn credits_of(inv: &Invoice) -> Vec<(String, Decimal)> {
    inv.credits_applied.iter().map(|c| (c.grant_id.clone(), dec(&Value::String(c.amount.clone())))).collect()
}

fn check(model: &Model, object: &MemoryObject, op: usize) -> Result<(), TestCaseError> {
    let store = &object.store;
    // Grants: exactly the model's, never below zero or above their amount.
    prop_assert_eq!(store.grants.len(), model.grants.len());
    for g in &model.grants {
        let s = &store.grants[&g.id];
        prop_assert_eq!(s.amount, g.amount);
        prop_assert_eq!(s.remaining, g.remaining, "grant {} remaining", &g.id);
        prop_assert!(s.remaining >= Decimal::ZERO && s.remaining <= s.amount);
        prop_assert_eq!(s.voided_at.is_some(), g.voided_at_op.is_some());
    }
    // Invoices: their credits and amount due.
    prop_assert_eq!(store.invoices.len(), model.invoices.len());
    let mut paid: BTreeMap<String, Decimal> = model.kept.clone();
    for (p, want) in &model.invoices {
        let inv = store.invoices.values().find(|i| i.period_start == Timestamp(model.b[*p])).expect("an invoice");
        prop_assert_eq!(inv.status, want.status, "period {}", p);
        prop_assert_eq!(dec(&Value::String(inv.total.clone())), want.total);
        let credits = credits_of(inv);
        prop_assert_eq!(&credits, &want.credits, "period {} credits (op {})", p, op);
        let drawn: Decimal = credits.iter().map(|c| c.1).sum();
        prop_assert_eq!(dec(&Value::String(inv.amount_due.clone())), (want.total - drawn).max(Decimal::ZERO));
        prop_assert!(drawn <= want.total);
        if let Some(at) = want.finalized_at_op {
            prop_assert!(inv.finalized_at.is_some());
            for (id, _) in &credits {
                // Never drawn from a grant voided before, or not active at the period's end.
                let g = model.grants.iter().find(|g| &g.id == id).expect("a grant");
                prop_assert!(g.voided_at_op.is_none_or(|v| v > at), "grant {} voided before it paid", id);
                prop_assert!(g.effective < model.b[p + 1] && g.expires.is_none_or(|e| e >= model.b[p + 1]));
            }
            if want.status != InvoiceStatus::Void {
                for (id, a) in &credits {
                    *paid.entry(id.clone()).or_default() += *a;
                }
            }
        }
    }
    // What each grant paid is what the invoices say.
    for g in store.grants.values() {
        prop_assert_eq!(g.amount - g.remaining, paid.get(&g.id).copied().unwrap_or_default(), "grant {}", &g.id);
    }
    // Alerts: exactly the deliveries the model fired, and when each fired last.
    let queued: BTreeSet<String> = store.outbox.keys().filter(|k| k.starts_with("evt_alert_")).cloned().collect();
    prop_assert_eq!(&queued, &model.alerts.queued);
    for a in store.alerts.values() {
        prop_assert_eq!(a.last_triggered_at.map(|t| t.0), model.alerts.last.get(&a.id).copied(), "alert {}", &a.id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn credits_and_alerts_agree_with_the_model(
        thresholds in (1u32..60, 500u32..2500, 0u32..3000),
        ops in prop::collection::vec((op(times(&bounds()).len()), prop::option::weighted(0.15, 0u32..6)), 1..40),
    ) {
        run_scenario(thresholds, ops)?;
    }
}

fn run_scenario((usage_t, spend_t, credit_t): Thresholds, ops: Vec<(Op, Option<u32>)>) -> Result<(), TestCaseError> {
    let b = bounds();
    let t = times(&b);
    let mut model = Model {
        b: b.clone(),
        grants: Vec::new(),
        usage: BTreeMap::new(),
        closed: 0,
        invoices: BTreeMap::new(),
        kept: BTreeMap::new(),
        alerts: MAlerts {
            usage: Decimal::from(usage_t),
            spend: cents(spend_t),
            credit: cents(credit_t),
            armed: true,
            ..MAlerts::default()
        },
    };
    let mut object = MemoryObject::new(CustomerMachine::new(true));
    object.call(m::Create { customer: customer() }).expect("created");
    for item in items() {
        object.call(m::CreateItem { item }).expect("item");
    }
    let mut created: Vec<&str> = Vec::new();
    let bodies = [
        (USAGE_ALERT, format!(r#"{{"name":"u","kind":"usage","metric_code":"calls","threshold":"{usage_t}"}}"#)),
        (SPEND_ALERT, format!(r#"{{"name":"s","kind":"spend","threshold":"{}"}}"#, cents(spend_t))),
        (CREDIT_ALERT, format!(r#"{{"name":"c","kind":"credit_balance","threshold":"{}"}}"#, cents(credit_t))),
    ];
    for (id, body) in bodies {
        let now = Timestamp(t[0]);
        object.call(m::CreateAlert { now, id: id.into(), body, metrics: vec![metric()] }).expect("an alert");
        created.push(id);
        model.alerts(t[0], &created);
    }
    check(&model, &object, 0)?;
    let mut next_key = 0u32;
    for (i, (op, fault)) in ops.into_iter().enumerate() {
        let i = i + 1;
        object.fail_next = fault;
        match op {
            Op::Batch(at, events) => {
                let records: Vec<EventRecord> = events
                    .iter()
                    .map(|(p, h, v)| {
                        next_key += 1;
                        event(next_key, b[*p] + *h as i64 * HOUR_MS, *v)
                    })
                    .collect();
                match object.call(m::Ingest {
                    now: Timestamp(t[at]),
                    metrics: vec![metric()],
                    events: records,
                    received: None,
                }) {
                    Ok(_) => {
                        let mut any = false;
                        for (p, _, v) in &events {
                            if *p >= model.closed {
                                *model.usage.entry(*p).or_default() += Decimal::from(*v);
                                any = true;
                            }
                        }
                        if any {
                            model.alerts(t[at], &created);
                        }
                    }
                    Err(e) => prop_assert_eq!(e.code, ErrorCode::InternalError),
                }
            }
            Op::Grant { at, cents: c, priority, effective, expires } => {
                let now = t[at];
                let id = format!("cg_{:026}", i);
                let mut body = serde_json::json!({"amount": cents(c).to_string(), "name": "g", "priority": priority});
                if let Some(e) = effective {
                    body["effective_at"] = rfc(t[e]).into();
                }
                if let Some(x) = expires {
                    body["expires_at"] = rfc(t[x]).into();
                }
                let eff = effective.map_or(now, |e| t[e]);
                let valid = expires.is_none_or(|x| t[x] > eff);
                match object.call(m::CreateGrant { now: Timestamp(now), id: id.clone(), body: body.to_string() }) {
                    Ok(answer) => {
                        prop_assert!(valid);
                        prop_assert_eq!(dec(&answer["remaining"]), cents(c));
                        model.grants.push(MGrant {
                            id,
                            amount: cents(c),
                            remaining: cents(c),
                            priority: priority as u64,
                            effective: eff,
                            expires: expires.map(|x| t[x]),
                            created: now,
                            voided_at_op: None,
                        });
                        model.alerts(now, &created);
                    }
                    Err(e) if e.code == ErrorCode::InternalError => {}
                    Err(e) => {
                        prop_assert!(!valid, "refused a valid grant: {:?}", e);
                        prop_assert_eq!(e.field.as_deref(), Some("expires_at"));
                    }
                }
            }
            Op::VoidGrant(at, g) => {
                if model.grants.is_empty() {
                    continue;
                }
                let g = g % model.grants.len();
                let id = model.grants[g].id.clone();
                match object.call(m::VoidGrant { now: Timestamp(t[at]), id }) {
                    Ok(answer) => {
                        prop_assert!(model.grants[g].voided_at_op.is_none());
                        prop_assert_eq!(answer["status"].as_str(), Some("voided"));
                        model.grants[g].voided_at_op = Some(i);
                        model.alerts(t[at], &created);
                    }
                    Err(e) if e.code == ErrorCode::InternalError => {}
                    Err(e) => {
                        prop_assert_eq!(e.code, ErrorCode::GrantVoided);
                        prop_assert!(model.grants[g].voided_at_op.is_some());
                    }
                }
            }
            Op::Run(at) => {
                let now = t[at];
                let numbers: Vec<(Timestamp, String)> = (0..PERIODS)
                    .filter(|p| final_point(&b, *p) <= now)
                    .map(|p| (Timestamp(b[p]), format!("INV-{:06}", p + 1)))
                    .collect();
                match object.call(m::Run { now: Timestamp(now), metrics: vec![metric()], numbers }) {
                    Ok(_) => {
                        model.run(now, i);
                        model.alerts(now, &created);
                    }
                    Err(e) => prop_assert_eq!(e.code, ErrorCode::InternalError),
                }
            }
            Op::VoidInvoice(at, p) => {
                let Some(id) =
                    object.store.invoices.values().find(|v| v.period_start == Timestamp(b[p])).map(|v| v.id.clone())
                else {
                    continue;
                };
                match object.call(m::VoidInvoice { now: Timestamp(t[at]), id }) {
                    Ok(_) => {
                        prop_assert_eq!(model.void_invoice(p, t[at]), Ok(()));
                        model.alerts(t[at], &created);
                    }
                    Err(e) if e.code == ErrorCode::InternalError => {}
                    Err(e) => prop_assert_eq!(Err(e.code), model.void_invoice(p, t[at])),
                }
            }
            Op::Balance(at) => {
                let now = t[at];
                if let Ok(answer) = object.call(m::GetBalance { now: Timestamp(now), metrics: vec![metric()] }) {
                    let (remaining, pending, available, total, due) = model.balance(now);
                    prop_assert_eq!(dec(&answer["credits"]["remaining"]), remaining, "remaining at {}", at);
                    prop_assert_eq!(dec(&answer["credits"]["pending_draw"]), pending, "pending at {}", at);
                    prop_assert_eq!(dec(&answer["credits"]["available"]), available);
                    prop_assert_eq!(dec(&answer["period_total"]), total);
                    prop_assert_eq!(dec(&answer["amount_due_so_far"]), due);
                    let start = rfc(b[model.period_of(now)]);
                    prop_assert_eq!(answer["period"]["start"].as_str(), Some(start.as_str()));
                }
            }
            Op::Upcoming(at) => {
                let now = t[at];
                if let Ok(answer) = object.call(m::Upcoming { now: Timestamp(now), metrics: vec![metric()] }) {
                    let p = model.period_of(now);
                    // What the earlier open periods leave, then this one's draw.
                    let mut sim = model.grants.clone();
                    for q in model.closed..p {
                        if !model.invoices.get(&q).is_some_and(|i| i.status == InvoiceStatus::Void) {
                            Model::draw(&mut sim, b[q + 1], model.total(q));
                        }
                    }
                    let total = if p < model.closed {
                        // A final period's upcoming invoice is priced from storage; only
                        // its credits are checked against the model's rule.
                        dec(&answer["total"])
                    } else {
                        model.total(p)
                    };
                    let drawn: Decimal = Model::draw(&mut sim, b[p + 1], total).iter().map(|d| d.1).sum();
                    prop_assert_eq!(dec(&answer["amount_due"]), total - drawn, "upcoming at {}", at);
                }
            }
            Op::Restart => object.machine = CustomerMachine::new(true),
        }
        check(&model, &object, i)?;
    }
    Ok(())
}

/// A metric created after its events arrived: the balance back-fills it from the stored
/// events before it prices the period, as `/usage` and the upcoming invoice do (it used to
/// count them only after the next ingest or run). The model is plain arithmetic: the fee
/// plus 0.25 per unit of the events' values.
#[test]
fn the_balance_counts_a_metric_created_after_its_events() {
    let b = bounds();
    let mut object = MemoryObject::new(CustomerMachine::new(false));
    object.call(m::Create { customer: customer() }).expect("created");
    for item in items() {
        object.call(m::CreateItem { item }).expect("item");
    }
    // Another metric reads the same event name; `calls` (priced) does not exist yet.
    let count = MetricDef { code: "call_count".into(), aggregation: Aggregation::Count, ..metric() };
    let values = [3u32, 4, 5];
    let events: Vec<EventRecord> =
        values.iter().enumerate().map(|(i, v)| event(i as u32 + 1, b[0] + (i as i64 + 1) * HOUR_MS, *v)).collect();
    let now = Timestamp(b[0] + 5 * HOUR_MS);
    object
        .call(m::Ingest { now, metrics: vec![count.clone()], events, received: None })
        .expect("ingested before the metric existed");
    let mut total = |metrics: Vec<MetricDef>| {
        let answer = object.call(m::GetBalance { now, metrics }).expect("a balance");
        dec(&answer["period_total"])
    };
    // A front whose cached snapshot does not have the metric yet: nothing to back-fill.
    assert_eq!(total(vec![count.clone()]), Decimal::from(5));
    // Once it has it: 5.00 + 0.25 × (3 + 4 + 5).
    assert_eq!(total(vec![count.clone(), metric()]), period_total(Decimal::from(12)));
    // And it stays counted (the back-fill is stored, not redone per read).
    assert_eq!(total(vec![count]), period_total(Decimal::from(12)));
}
