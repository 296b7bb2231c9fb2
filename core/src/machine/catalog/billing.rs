//! The invoicing fan-out's decisions: which customers are due, the invoice numbers their
//! steps will need, and what their reports change (API.md, "Invoices"; ARCHITECTURE.md,
//! "Invoicing").
//!
//! A cron run never does work that grows with the number of customers in one call: the
//! scheduled handler asks for pages, and each page takes at most [`PAGE`] customers whose
//! `next_due` (the next draft point, an open draft, or a webhook retry) has come and that
//! this run has not handled yet (`last_run`). A page is two transactions around the
//! network: [`plan_page`] reserves the numbers and names the calls, the shell makes them
//! in parallel, and [`file_page`] files the reports. A customer whose report does not come
//! back is left due with its numbers reserved, so the next page or run retries it with
//! the same numbers.
//!
//! Numbers are one gap-free sequence for the account, held per (customer, period) before
//! the customer's step, for each period the step will finalize: the book's own walk
//! (`lifecycle::first_open` and `lifecycle::due_periods`, which `Book::invoicing_periods`
//! makes), from the `open_from` the customer's last run reported. Every reserved period
//! gets exactly one invoice (its step finalizes it, now or on a retry), so every number is
//! used once.

use super::CatalogStore;
use crate::customer::Customer;
use crate::invoice::{invoice_number, Invoice};
use crate::lifecycle::{draft_from, due_periods, first_open, stage, Stage};
use crate::metric::MetricDef;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// Customers woken per page.
pub const PAGE: usize = 50;

/// A customer's entry in the billing index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    pub customer_id: String,
    /// When the customer next needs a run.
    pub next_due: Timestamp,
    /// The `now` of the last run that took it.
    pub last_run: Option<Timestamp>,
    /// Its first period not final, as its last run reported.
    pub open_from: Option<Timestamp>,
    /// Final periods still without a number, as its last run reported.
    pub pending: Vec<Timestamp>,
}

/// One page's calls: [`crate::machine::catalog::CatalogAnswer::Plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagePlan {
    pub now: Timestamp,
    /// Every metric's definition, for each customer's step.
    pub metrics: Vec<MetricDef>,
    pub runs: Vec<PlannedRun>,
}

/// One customer's invoicing step, with the numbers held for its periods, by start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRun {
    pub customer_id: String,
    pub numbers: Vec<(Timestamp, String)>,
}

/// What a customer's invoicing step reports: the answer to its `Run` call.
pub use crate::machine::customer::RunReport;

/// How one planned run went: its report, or why there is none.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub customer_id: String,
    pub report: Result<RunReport, ApiError>,
}

/// A filed page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFiled {
    pub processed: usize,
    pub failed: usize,
    /// Whether more customers may be due: the run asks for another page.
    pub more: bool,
}

/// Whether a customer is due for a run at `now`.
fn is_due(b: &Billing, now: Timestamp) -> bool {
    b.next_due <= now && b.last_run.is_none_or(|r| r < now)
}

/// Puts a new customer on the schedule, first due when its first draft appears. A
/// customer already on it keeps its entry.
pub fn enroll(c: &Customer, store: &mut impl CatalogStore) -> Result<(), ApiError> {
    if store.billing(&c.id)?.is_some() {
        return Ok(());
    }
    let s = &c.invoice_schedule;
    let next_due = draft_from(s, s.period_containing(c.created_at));
    store.put_billing(&Billing {
        customer_id: c.id.clone(),
        next_due,
        last_run: None,
        open_from: None,
        pending: Vec::new(),
    })?;
    Ok(())
}

/// The starts of the periods a customer's step at `now` finalizes: the book's walk from
/// the `open_from` its last run reported, the periods past their final point.
pub fn finalizing(c: &Customer, open_from: Option<Timestamp>, now: Timestamp) -> Vec<Timestamp> {
    let s = &c.invoice_schedule;
    due_periods(s, first_open(s, c.created_at, open_from), now)
        .into_iter()
        .filter(|p| stage(s, *p, now) == Stage::Final)
        .map(|p| p.start)
        .collect()
}

/// The first transaction of a page at `now`: the due customers (at most [`PAGE`]) and the
/// numbers their steps need, reserved now.
pub fn plan_page(now: Timestamp, store: &mut impl CatalogStore) -> Result<PagePlan, ApiError> {
    let due = store.due(now, PAGE)?;
    let metrics = store.metrics()?.into_iter().map(|m| m.def).collect();
    let mut runs = Vec::with_capacity(due.len());
    for (b, customer) in due.into_iter().filter(|(b, _)| is_due(b, now)).take(PAGE) {
        let mut numbers: Vec<(Timestamp, String)> = Vec::new();
        for start in finalizing(&customer, b.open_from, now).into_iter().chain(b.pending) {
            if !numbers.iter().any(|(s, _)| *s == start) {
                numbers.push((start, reserve_number(&customer.id, start, store)?));
            }
        }
        runs.push(PlannedRun { customer_id: customer.id, numbers });
    }
    Ok(PagePlan { now, metrics, runs })
}

/// The number held for a customer's period: the one reserved before, or the next in the
/// account's sequence.
fn reserve_number(
    customer_id: &str,
    period_start: Timestamp,
    store: &mut impl CatalogStore,
) -> Result<String, ApiError> {
    if let Some(n) = store.number(customer_id, period_start)? {
        return Ok(n);
    }
    let sequence = store.last_sequence()? + 1;
    let number = invoice_number(sequence);
    store.put_number(customer_id, period_start, sequence, &number)?;
    Ok(number)
}

/// The second transaction of a page: each report moves its customer's entry on (next
/// due, where its periods stand, what still needs a number) and updates the invoice
/// directory; a customer without a report is marked run at `now` and left due, so the
/// next run takes it again.
pub fn file_page(
    now: Timestamp,
    outcomes: Vec<RunOutcome>,
    store: &mut impl CatalogStore,
) -> Result<PageFiled, ApiError> {
    let processed = outcomes.len();
    let mut failed = 0;
    for outcome in outcomes {
        let Some(mut b) = store.billing(&outcome.customer_id)? else {
            return Err(ApiError::new(
                ErrorCode::InternalError,
                format!("a report for `{}`, who is not in the billing index", outcome.customer_id),
            ));
        };
        b.last_run = Some(now);
        match outcome.report {
            Ok(report) => {
                for inv in report.invoices {
                    file_invoice(inv, store)?;
                }
                b.next_due = report.next_due;
                b.open_from = Some(report.open_from);
                b.pending = report.unnumbered;
            }
            Err(_) => failed += 1,
        }
        store.put_billing(&b)?;
    }
    Ok(PageFiled { processed, failed, more: processed == PAGE })
}

/// Keeps the directory copy of an invoice (its customer's object is the authority). A
/// copy without a number never takes away the number the directory has.
pub fn file_invoice(mut inv: Invoice, store: &mut impl CatalogStore) -> Result<(), ApiError> {
    if inv.number.is_none() {
        inv.number = store.invoice(&inv.id)?.and_then(|held| held.number);
    }
    store.put_invoice(&inv)?;
    Ok(())
}
