//! The invoicing fan-out the catalog object hosts: the storage of the billing index, the
//! invoice numbers and the invoice directory, and the calls a page makes.
//!
//! Who is due, which numbers to reserve and what a report changes are decided by
//! `core::machine::catalog::billing`. A page (`CatalogCall::InvoicingPage`, which the
//! scheduled handler sends until the catalog has no more) is planned in one transaction,
//! its at most 50 customers' objects are called here in parallel, and their reports are
//! filed in a second transaction.

use crate::objects::sql::{self, bodies, parse, rows, text};
use crate::protocol::{ask, customer, customer_stub, PageReply};
use edgemeter_core::customer::Customer;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::machine::catalog::{Billing, PageFiled, PagePlan, RunOutcome};
use edgemeter_core::machine::StoreResult;
use edgemeter_core::time::Timestamp;
use futures_util::future::join_all;
use serde::Deserialize;
use worker::{Env, SqlStorage, SqlStorageValue as V};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS billing_index (
  customer_id TEXT PRIMARY KEY, next_due INTEGER NOT NULL, last_run INTEGER, open_from INTEGER, pending TEXT
);
CREATE INDEX IF NOT EXISTS billing_index_due ON billing_index (next_due);
CREATE TABLE IF NOT EXISTS invoice_numbers (
  customer_id TEXT NOT NULL, period_start INTEGER NOT NULL, number TEXT NOT NULL UNIQUE,
  PRIMARY KEY (customer_id, period_start)
);
CREATE TABLE IF NOT EXISTS invoices (
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL, number TEXT, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// Columns added to `billing_index` since its first schema.
pub const ADDED_COLUMNS: [&str; 2] = ["open_from INTEGER", "pending TEXT"];

/// Calls the planned customers' objects, in parallel: one invoicing step each.
pub async fn run(env: &Env, plan: &PagePlan) -> Vec<RunOutcome> {
    let runs = plan.runs.iter().map(|r| async move {
        let step = customer::Run { now: plan.now, metrics: plan.metrics.clone(), numbers: r.numbers.clone() };
        let report = match customer_stub(env, &r.customer_id) {
            Ok(stub) => ask(&stub, step).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &report {
            // Left due: the next run tries this customer again, with the same numbers.
            worker::console_error!("invoicing {}: {}", r.customer_id, e.message);
        }
        RunOutcome { customer_id: r.customer_id.clone(), report }
    });
    join_all(runs).await
}

/// The page's answer to the scheduled handler.
/// The run's log counts for a page's calls: drafts, finals, failures by code.
pub fn tally(now: Timestamp, outcomes: &[RunOutcome]) -> PageReply {
    let mut counts = PageReply::default();
    for o in outcomes {
        counts.tally(now, &o.report);
    }
    counts
}

/// The page's answer: what was filed, with the calls' counts.
pub fn reply(filed: PageFiled, counts: PageReply) -> PageReply {
    PageReply { processed: filed.processed, failed: filed.failed, more: filed.more, ..counts }
}

#[derive(Deserialize)]
struct BillingRow {
    customer_id: String,
    next_due: i64,
    last_run: Option<i64>,
    open_from: Option<i64>,
    pending: Option<String>,
}

impl BillingRow {
    fn billing(self) -> StoreResult<Billing> {
        Ok(Billing {
            customer_id: self.customer_id,
            next_due: Timestamp(self.next_due),
            last_run: self.last_run.map(Timestamp),
            open_from: self.open_from.map(Timestamp),
            pending: self.pending.as_deref().map(parse).transpose()?.unwrap_or_default(),
        })
    }
}

pub fn billing(sql: &SqlStorage, customer_id: &str) -> StoreResult<Option<Billing>> {
    let q = "SELECT customer_id, next_due, last_run, open_from, pending FROM billing_index WHERE customer_id = ?";
    rows::<BillingRow>(sql, q, vec![V::String(customer_id.to_owned())])?
        .into_iter()
        .next()
        .map(BillingRow::billing)
        .transpose()
}

pub fn put_billing(sql: &SqlStorage, b: &Billing) -> StoreResult<()> {
    sql::exec(
        sql,
        "INSERT INTO billing_index (customer_id, next_due, last_run, open_from, pending) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (customer_id) DO UPDATE SET next_due = excluded.next_due, last_run = excluded.last_run,
           open_from = excluded.open_from, pending = excluded.pending",
        vec![
            V::String(b.customer_id.clone()),
            V::Integer(b.next_due.millis()),
            b.last_run.map_or(V::Null, |t| V::Integer(t.millis())),
            b.open_from.map_or(V::Null, |t| V::Integer(t.millis())),
            text(&b.pending)?,
        ],
    )
}

#[derive(Deserialize)]
struct DueRow {
    customer_id: String,
    next_due: i64,
    last_run: Option<i64>,
    open_from: Option<i64>,
    pending: Option<String>,
    body: String,
}

pub fn due(sql: &SqlStorage, now: Timestamp, limit: usize) -> StoreResult<Vec<(Billing, Customer)>> {
    let due: Vec<DueRow> = rows(
        sql,
        "SELECT b.customer_id, b.next_due, b.last_run, b.open_from, b.pending, c.body FROM billing_index b
         JOIN customers c ON c.id = b.customer_id
         WHERE b.next_due <= ? AND (b.last_run IS NULL OR b.last_run < ?)
         ORDER BY b.next_due LIMIT ?",
        vec![V::Integer(now.millis()), V::Integer(now.millis()), V::Integer(limit as i64)],
    )?;
    due.into_iter()
        .map(|d| {
            let customer = parse(&d.body)?;
            let row = BillingRow {
                customer_id: d.customer_id,
                next_due: d.next_due,
                last_run: d.last_run,
                open_from: d.open_from,
                pending: d.pending,
            };
            Ok((row.billing()?, customer))
        })
        .collect()
}

pub fn number(sql: &SqlStorage, customer_id: &str, period_start: Timestamp) -> StoreResult<Option<String>> {
    #[derive(Deserialize)]
    struct NumberRow {
        number: String,
    }
    let held: Vec<NumberRow> = rows(
        sql,
        "SELECT number FROM invoice_numbers WHERE customer_id = ? AND period_start = ?",
        vec![V::String(customer_id.to_owned()), V::Integer(period_start.millis())],
    )?;
    Ok(held.into_iter().next().map(|n| n.number))
}

pub fn last_sequence(sql: &SqlStorage) -> StoreResult<u64> {
    #[derive(Deserialize)]
    struct Seq {
        value: i64,
    }
    let seq: Vec<Seq> = rows(sql, "SELECT value FROM counters WHERE name = 'invoice'", vec![])?;
    Ok(seq.first().map_or(0, |s| s.value.max(0) as u64))
}

pub fn put_number(
    sql: &SqlStorage,
    customer_id: &str,
    period_start: Timestamp,
    sequence: u64,
    n: &str,
) -> StoreResult<()> {
    sql::exec(
        sql,
        "INSERT INTO invoice_numbers (customer_id, period_start, number) VALUES (?, ?, ?)",
        vec![V::String(customer_id.to_owned()), V::Integer(period_start.millis()), V::String(n.to_owned())],
    )?;
    sql::exec(
        sql,
        "INSERT INTO counters (name, value) VALUES ('invoice', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        vec![V::Integer(sequence as i64)],
    )
}

pub fn invoice(sql: &SqlStorage, id: &str) -> StoreResult<Option<Invoice>> {
    let found: Vec<Invoice> = bodies(sql, "SELECT body FROM invoices WHERE id = ?", vec![V::String(id.to_owned())])?;
    Ok(found.into_iter().next().map(Invoice::with_defaults))
}

pub fn put_invoice(sql: &SqlStorage, inv: &Invoice) -> StoreResult<()> {
    sql::exec(
        sql,
        "INSERT INTO invoices (id, customer_id, status, number, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, number = excluded.number, body = excluded.body",
        vec![
            V::String(inv.id.clone()),
            V::String(inv.customer_id.clone()),
            V::String(inv.status.as_str().to_owned()),
            inv.number.clone().into(),
            text(inv)?,
        ],
    )
}

/// Every customer's invoices, by id (creation order), optionally one status.
pub fn invoices(
    sql: &SqlStorage,
    after: &str,
    limit: usize,
    status: Option<InvoiceStatus>,
) -> StoreResult<Vec<Invoice>> {
    let status = || -> V { status.map(|s| s.as_str().to_owned()).into() };
    let found: Vec<Invoice> = bodies(
        sql,
        "SELECT body FROM invoices WHERE id > ? AND (? IS NULL OR status = ?) ORDER BY id LIMIT ?",
        vec![V::String(after.to_owned()), status(), status(), V::Integer(limit as i64)],
    )?;
    // Copies filed before credits existed are due their total.
    Ok(found.into_iter().map(Invoice::with_defaults).collect())
}
