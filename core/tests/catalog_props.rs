//! The catalog's invoicing fan-out (`core::machine::catalog`) driven as the worker drives
//! it: a page is planned in one transaction, the planned customers' steps run (or fail),
//! and their reports are filed in a second transaction; storage failures are injected in
//! either transaction and rolled back (`machine::transact`), and customers' calls fail at
//! random. The customers' objects are a plain model here, and so is the billing index:
//! periods come from the schedule's definition (weeks from the anchor; months added to
//! the anchor with chrono, clamped to the month's end), not from `core::period` or
//! `core::lifecycle`. Checked from the outside:
//! - every (customer, period) is given one number however often pages are retried or
//!   fail half-way, and numbers are unique across customers;
//! - the numbers given, parsed back, are exactly 1..=n (gap-free), and once every
//!   customer has caught up, every one of them is on a final invoice;
//! - a page takes at most 50 customers, none that is not due, and all that are due when
//!   fewer than 50 are; a run (pages until the catalog says no more) reaches every
//!   customer that is due.
//!
//! And two of the catalog's other decisions: metric codes are unique and every metric is
//! published, and accepting a contract is all or nothing.

use chrono::{Datelike, Months, NaiveDate};
use edgemeter_core::contract::ContractStatus;
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::id::new_id;
use edgemeter_core::machine::catalog::{
    self, billing, memory::MemoryCatalog, CatalogAnswer, CatalogCall, PagePlan, RunOutcome, RunReport,
};
use edgemeter_core::machine::transact;
use edgemeter_core::metric::{Aggregation, Metric, MetricDef};
use edgemeter_core::period::{Interval, Schedule};
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-01-01T00:00:00Z.
const JAN: i64 = 1_767_225_600_000;
/// Written out, not taken from the code.
const PAGE_SIZE: usize = 50;

/// A customer's schedule as the model reads it.
#[derive(Clone, Debug)]
struct Plan {
    /// `None`: weekly; else every this many months.
    months: Option<u32>,
    anchor: NaiveDate,
    pre_days: u32,
    grace_hours: u32,
    created: i64,
}

impl Plan {
    /// The start of the `k`-th period from the anchor.
    fn start(&self, k: i64) -> i64 {
        let a = self.anchor.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
        match self.months {
            None => a + k * 7 * DAY,
            Some(n) => {
                let d = if k >= 0 {
                    self.anchor.checked_add_months(Months::new(k as u32 * n))
                } else {
                    self.anchor.checked_sub_months(Months::new((-k) as u32 * n))
                };
                d.unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
            }
        }
    }

    /// The index of the period containing `t`.
    fn index_of(&self, t: i64) -> i64 {
        let mut k = 0;
        while self.start(k) > t {
            k -= 1;
        }
        while self.start(k + 1) <= t {
            k += 1;
        }
        k
    }

    fn draft_point(&self, k: i64) -> i64 {
        self.start(k + 1) - self.pre_days as i64 * DAY
    }

    fn final_point(&self, k: i64) -> i64 {
        self.start(k + 1) + self.grace_hours as i64 * HOUR
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            interval: match self.months {
                None => Interval::Week,
                Some(1) => Interval::Month,
                Some(3) => Interval::Quarter,
                Some(_) => Interval::Year,
            },
            anchor: self.anchor,
            pre_generate_days: self.pre_days,
            grace_hours: self.grace_hours,
        }
    }
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop_oneof![Just(None), Just(Some(1u32)), Just(Some(3u32))],
        prop_oneof![Just(1u32), Just(15), Just(28), Just(29), Just(30), Just(31)],
        0u32..6,
        prop_oneof![Just(0u32), Just(1), Just(24), Just(48)],
        0i64..60 * DAY,
    )
        .prop_map(|(months, day, pre_days, grace_hours, created)| {
            // A day that exists in the anchor's month (January has 31).
            let anchor = NaiveDate::from_ymd_opt(2026, 1, day).unwrap();
            Plan { months, anchor, pre_days, grace_hours, created: JAN + created }
        })
}

/// What a customer's object knows: its first period not final and the numbers it put
/// on its final invoices, by period.
#[derive(Clone, Debug)]
struct CustomerModel {
    plan: Plan,
    open: i64,
    numbers: BTreeMap<i64, String>,
    /// Final periods still without a number.
    pending: BTreeSet<i64>,
}

impl CustomerModel {
    /// One invoicing step at `now` with the numbers the catalog sent.
    fn step(&mut self, now: i64, given: &[(Timestamp, String)]) -> RunReport {
        let number_for = |start: i64| given.iter().find(|(s, _)| s.millis() == start).map(|(_, n)| n.clone());
        while self.plan.final_point(self.open) <= now {
            self.pending.insert(self.plan.start(self.open));
            self.open += 1;
        }
        for start in self.pending.clone() {
            if let Some(n) = number_for(start) {
                self.numbers.insert(start, n);
                self.pending.remove(&start);
            }
        }
        RunReport {
            next_due: Timestamp(self.plan.draft_point(self.open)),
            open_from: Timestamp(self.plan.start(self.open)),
            invoices: Vec::new(),
            unnumbered: self.pending.iter().map(|s| Timestamp(*s)).collect(),
        }
    }
}

/// The billing index as the model keeps it.
#[derive(Clone, Debug)]
struct IndexModel {
    next_due: i64,
    last_run: Option<i64>,
    /// What the customer's last filed report said: its first period not final, and its
    /// final periods without a number.
    open_from: Option<i64>,
    pending: BTreeSet<i64>,
}

fn due(i: &IndexModel, now: i64) -> bool {
    i.next_due <= now && i.last_run.is_none_or(|r| r < now)
}

/// When a run happens.
#[derive(Clone, Debug)]
enum When {
    /// Some time after the last run.
    Later(i64),
    /// Exactly at (or a millisecond around) a customer's draft or final point.
    Boundary { customer: usize, k: i64, final_point: bool, delta: i64 },
}

#[derive(Clone, Debug)]
struct PageOp {
    when: When,
    plan_fault: Option<u32>,
    /// Which planned customers' calls fail (bit i: the i-th of the page, mod 64).
    failing: u64,
    file_fault: Option<u32>,
    /// Pages until the catalog says there are no more, without failures.
    whole_run: bool,
}

fn page_op() -> impl Strategy<Value = PageOp> {
    let when =
        prop_oneof![
            (0i64..40 * DAY).prop_map(When::Later),
            (0usize..100, 0i64..4, any::<bool>(), -1i64..=1)
                .prop_map(|(customer, k, final_point, delta)| When::Boundary { customer, k, final_point, delta }),
        ];
    (
        when,
        prop::option::weighted(0.25, 0u32..6),
        prop_oneof![Just(0u64), any::<u64>()],
        prop::option::weighted(0.25, 0u32..6),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(when, plan_fault, failing, file_fault, whole_run)| PageOp {
            when,
            plan_fault,
            failing,
            file_fault,
            whole_run,
        })
}

fn parse_number(n: &str) -> u64 {
    n.strip_prefix("INV-").and_then(|d| d.parse().ok()).unwrap_or_else(|| panic!("malformed number {n}"))
}

struct World {
    store: MemoryCatalog,
    customers: Vec<(String, CustomerModel)>,
    index: BTreeMap<String, IndexModel>,
    /// Every number given in a committed plan, by (customer, period start).
    given: BTreeMap<(String, i64), String>,
}

impl World {
    fn model(&mut self, id: &str) -> &mut CustomerModel {
        &mut self.customers.iter_mut().find(|(c, _)| c == id).unwrap().1
    }

    /// One page at `now`. `Err` when an injected failure rolled back a transaction.
    fn page(&mut self, now: i64, op: &PageOp) -> Result<usize, TestCaseError> {
        let before = self.store.clone();
        if let Some(n) = op.plan_fault {
            self.store.faults.fail_after(n);
        }
        let planned =
            transact(&mut self.store, |s| catalog::handle(CatalogCall::InvoicingPage { now: Timestamp(now) }, s));
        self.store.faults.heal();
        let plan: PagePlan = match planned {
            Ok(CatalogAnswer::Plan(p)) => p,
            Ok(other) => return Err(TestCaseError::fail(format!("a page answered {other:?}"))),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::InternalError);
                prop_assert!(op.plan_fault.is_some(), "a failure nobody injected: {:?}", e);
                prop_assert_eq!(self.store.numbers.len(), before.numbers.len(), "a rolled-back plan kept numbers");
                return Ok(0);
            }
        };
        // The page's customers: at most 50, each due, and all that are due if fewer.
        let due_now: BTreeSet<&String> = self.index.iter().filter(|(_, i)| due(i, now)).map(|(c, _)| c).collect();
        let planned_ids: BTreeSet<&String> = plan.runs.iter().map(|r| &r.customer_id).collect();
        prop_assert_eq!(planned_ids.len(), plan.runs.len(), "a customer twice in one page");
        prop_assert!(plan.runs.len() <= PAGE_SIZE, "a page of {}", plan.runs.len());
        for id in &planned_ids {
            prop_assert!(due_now.contains(id), "{} planned but not due at {}", id, now);
        }
        prop_assert_eq!(plan.runs.len(), due_now.len().min(PAGE_SIZE), "due customers left out of a page");
        // Numbers for exactly the periods the step will finalize: from where the last
        // filed report left the customer, every period whose final point has come, and
        // those still waiting for a number.
        for r in &plan.runs {
            let i = &self.index[&r.customer_id];
            let p = &self.customers.iter().find(|(c, _)| *c == r.customer_id).unwrap().1.plan;
            let mut k = p.index_of(i.open_from.unwrap_or(p.created).max(p.created));
            let mut expected = i.pending.clone();
            while p.final_point(k) <= now {
                expected.insert(p.start(k));
                k += 1;
            }
            let sent: BTreeSet<i64> = r.numbers.iter().map(|(s, _)| s.millis()).collect();
            prop_assert_eq!(sent, expected, "the numbers sent to {} at {}", r.customer_id, now);
        }
        // One number per (customer, period), whatever happened before.
        for r in &plan.runs {
            for (start, n) in &r.numbers {
                let key = (r.customer_id.clone(), start.millis());
                match self.given.get(&key) {
                    Some(held) => prop_assert_eq!(held, n, "{:?} got a second number", key),
                    None => {
                        self.given.insert(key, n.clone());
                    }
                }
            }
        }
        // The customers' steps: some calls fail (their objects keep nothing).
        let mut outcomes = Vec::new();
        for (i, r) in plan.runs.iter().enumerate() {
            let report = if op.failing & (1 << (i % 64)) != 0 {
                Err(ApiError::new(ErrorCode::InternalError, "the customer's call failed"))
            } else {
                Ok(self.model(&r.customer_id).step(now, &r.numbers))
            };
            outcomes.push(RunOutcome { customer_id: r.customer_id.clone(), report });
        }
        let model_outcomes: Vec<(String, Option<RunReport>)> =
            outcomes.iter().map(|o| (o.customer_id.clone(), o.report.as_ref().ok().cloned())).collect();
        if let Some(n) = op.file_fault {
            self.store.faults.fail_after(n);
        }
        let filed = transact(&mut self.store, |s| billing::file_page(Timestamp(now), outcomes, s));
        self.store.faults.heal();
        match filed {
            Ok(filed) => {
                prop_assert_eq!(filed.processed, plan.runs.len());
                prop_assert_eq!(filed.more, plan.runs.len() == PAGE_SIZE);
                for (id, report) in model_outcomes {
                    let i = self.index.get_mut(&id).unwrap();
                    i.last_run = Some(now);
                    if let Some(r) = report {
                        i.next_due = r.next_due.millis();
                        i.open_from = Some(r.open_from.millis());
                        i.pending = r.unnumbered.iter().map(|t| t.millis()).collect();
                    }
                }
                Ok(plan.runs.len())
            }
            Err(e) => {
                // Half-way: the customers ran, the catalog filed nothing; they stay due.
                prop_assert!(op.file_fault.is_some(), "a failure nobody injected: {:?}", e);
                Ok(0)
            }
        }
    }

    /// Pages until fewer than a page's worth are due, with nothing failing.
    fn whole_run(&mut self, now: i64) -> Result<(), TestCaseError> {
        let clean = PageOp { when: When::Later(0), plan_fault: None, failing: 0, file_fault: None, whole_run: true };
        for _ in 0..1_000 {
            if self.page(now, &clean)? < PAGE_SIZE {
                break;
            }
        }
        for (id, i) in &self.index {
            prop_assert!(!due(i, now), "{} is still due after a whole run at {}", id, now);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn numbers_are_gap_free_and_once_per_period_and_pages_take_only_the_due(
        plans in prop::collection::vec(plan(), 1..=120),
        ops in prop::collection::vec(page_op(), 1..12),
    ) {
        let mut w = World { store: MemoryCatalog::default(), customers: Vec::new(), index: BTreeMap::new(), given: BTreeMap::new() };
        for (i, p) in plans.iter().enumerate() {
            let id = format!("cus_{i:04}");
            let customer = Customer {
                id: id.clone(),
                name: id.clone(),
                email: "c@example.com".into(),
                external_id: None,
                currency: Currency::parse("EUR").unwrap(),
                invoice_schedule: p.schedule(),
                auto_send: true,
                contract_id: None,
                created_at: Timestamp(p.created),
            };
            let put = catalog::handle(CatalogCall::PutCustomer { customer: customer.clone() }, &mut w.store);
            prop_assert!(put.is_ok());
            // Enrolling twice changes nothing.
            let again = catalog::handle(CatalogCall::PutCustomer { customer }, &mut w.store);
            prop_assert!(again.is_ok());
            let k = p.index_of(p.created);
            let index = IndexModel { next_due: p.draft_point(k), last_run: None, open_from: None, pending: BTreeSet::new() };
            w.index.insert(id.clone(), index);
            w.customers.push((id, CustomerModel { plan: p.clone(), open: k, numbers: BTreeMap::new(), pending: BTreeSet::new() }));
        }
        let mut now = JAN;
        let mut latest = JAN;
        for op in &ops {
            now = match op.when {
                When::Later(dt) => now + dt,
                When::Boundary { customer, k, final_point, delta } => {
                    let p = &w.customers[customer % w.customers.len()].1.plan;
                    let k = p.index_of(p.created) + k;
                    (if final_point { p.final_point(k) } else { p.draft_point(k) }) + delta
                }
            };
            latest = latest.max(now);
            if op.whole_run {
                w.whole_run(now)?;
            } else {
                w.page(now, op)?;
            }
        }
        // Catch every customer up, well after the last run.
        now = latest + 400 * DAY;
        w.whole_run(now)?;

        // Unique across customers and periods, and exactly 1..=n.
        let numbers: BTreeSet<u64> = w.given.values().map(|n| parse_number(n)).collect();
        prop_assert_eq!(numbers.len(), w.given.len(), "a number given to two periods");
        let n = numbers.len() as u64;
        prop_assert_eq!(numbers, (1..=n).collect::<BTreeSet<u64>>(), "numbers with gaps");
        // Every number given is on a final invoice, and every final period has one.
        let mut used = BTreeMap::new();
        for (id, c) in &w.customers {
            prop_assert!(c.pending.is_empty(), "{} has final periods without a number", id);
            for (start, number) in &c.numbers {
                used.insert((id.clone(), *start), number.clone());
            }
            // Every period final by now, from the first, has its invoice's number.
            let first = c.plan.index_of(c.plan.created);
            let finals = (first..).take_while(|k| c.plan.final_point(*k) <= now).count();
            prop_assert_eq!(c.numbers.len(), finals, "{} has {} numbered of {} final", id, c.numbers.len(), finals);
        }
        prop_assert_eq!(used, w.given);
    }
}

#[test]
fn a_page_holds_fifty() {
    assert_eq!(catalog::PAGE, PAGE_SIZE);
}

#[test]
fn the_model_s_months_clamp_to_the_month_s_end() {
    let p = Plan {
        months: Some(1),
        anchor: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        pre_days: 0,
        grace_hours: 0,
        created: JAN,
    };
    let feb = chrono::DateTime::from_timestamp_millis(p.start(1)).unwrap().date_naive();
    assert_eq!((feb.month(), feb.day()), (2, 28));
    let mar = chrono::DateTime::from_timestamp_millis(p.start(2)).unwrap().date_naive();
    assert_eq!((mar.month(), mar.day()), (3, 31));
}

fn metric(code: &str, created: i64) -> Metric {
    Metric {
        id: format!("met_{code}"),
        def: MetricDef {
            code: code.into(),
            name: code.into(),
            event_name: format!("{code}.used"),
            aggregation: Aggregation::Sum,
            field: None,
            filters: Default::default(),
        },
        created_at: Timestamp(created),
    }
}

#[test]
fn a_metric_code_is_taken_once_and_every_metric_is_published() {
    let mut store = MemoryCatalog::default();
    let created = |answer: Result<CatalogAnswer, ApiError>| match answer {
        Ok(CatalogAnswer::MetricCreated { snapshot, .. }) => snapshot.into_iter().map(|d| d.code).collect::<Vec<_>>(),
        other => panic!("not created: {other:?}"),
    };
    let first = catalog::handle(CatalogCall::CreateMetric { metric: metric("pages", JAN) }, &mut store);
    assert_eq!(created(first), ["pages"]);
    let second = catalog::handle(CatalogCall::CreateMetric { metric: metric("calls", JAN + 1) }, &mut store);
    assert_eq!(created(second), ["pages", "calls"]);
    let again = catalog::handle(CatalogCall::CreateMetric { metric: metric("pages", JAN + 2) }, &mut store);
    let e = again.expect_err("a second `pages` is refused");
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::DuplicateMetricCode, Some("code")));
    assert_eq!(store.metrics.len(), 2);
}

const TERMS: &str = r#"{"customer": {"name": "Acme", "email": "ap@acme.test", "currency": "EUR"},
    "items": [{"name": "Platform fee", "kind": "fixed", "price": {"model": "fixed", "amount": "99.00"}}],
    "auto_send": false}"#;

proptest! {
    /// Accepting completes the directory, the billing index and the contract in one
    /// transaction: a failure at any write keeps none of them, and the retry completes it.
    #[test]
    fn a_contract_is_accepted_with_its_customer_or_not_at_all(fail_at in 0u32..6) {
        let mut store = MemoryCatalog::default();
        let id = new_id("ctr", Timestamp(JAN), [7; 10]);
        let now = Timestamp(JAN + DAY);
        let create = CatalogCall::CreateContract { id: id.clone(), now, body: TERMS.into() };
        prop_assert!(matches!(catalog::handle(create, &mut store), Ok(CatalogAnswer::ContractCreated(_))));
        let begun = catalog::handle(CatalogCall::BeginAccept { id: id.clone(), now }, &mut store);
        let Ok(CatalogAnswer::Accepting(a)) = begun else { return Err(TestCaseError::fail("not accepting")) };
        let customer = a.acceptance.customer;
        let finish = CatalogCall::FinishAccept { id: id.clone(), now, customer: customer.clone() };
        store.faults.fail_after(fail_at);
        let first = transact(&mut store, |s| catalog::handle(finish.clone(), s));
        store.faults.heal();
        let accepted = |s: &MemoryCatalog| s.contracts[&id].status == ContractStatus::Accepted;
        match first {
            Ok(_) => prop_assert!(accepted(&store)),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::InternalError);
                prop_assert!(!accepted(&store));
                prop_assert!(store.customers.is_empty() && store.billing.is_empty(), "half an acceptance kept");
            }
        }
        // The retry (or a repeat) completes it, once.
        for _ in 0..2 {
            let retry = catalog::handle(finish.clone(), &mut store);
            prop_assert!(matches!(retry, Ok(CatalogAnswer::Contract(ref c)) if c.customer_id.as_deref() == Some(customer.id.as_str())));
        }
        prop_assert!(accepted(&store));
        prop_assert_eq!(store.customers.len(), 1);
        prop_assert_eq!(store.billing.len(), 1);
    }
}
