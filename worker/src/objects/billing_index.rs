//! The invoicing fan-out, kept in the catalog object: which customers are due, and the
//! account-wide invoice directory and numbering.
//!
//! Numbers are reserved per (customer, period) before the customer's step, from the
//! periods that step will finalize, so a run is one call per due customer and the
//! account's sequence stays gap-free (`reserve_number`).
//!
//! A cron run never does work that grows with the number of customers in one request: the
//! scheduled handler asks for pages (`invoicing/page`), and each page wakes at most
//! [`PAGE`] due customers' objects, in parallel. A customer is due when its `next_due`
//! (the next draft point, an open draft, or a webhook retry) has come and this run has not
//! handled it yet (`last_run`).

use crate::objects::catalog::list_metric_defs;
use crate::protocol::{call, customer_stub, decode, CustomerCall, PageReply, RunReport};
use crate::respond::{self, internal};
use edgemeter_core::customer::Customer;
use edgemeter_core::invoice::{invoice_number, Invoice};
use edgemeter_core::lifecycle::{draft_from, due_periods, final_from, first_open};
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use futures_util::future::join_all;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Response, Result, SqlStorage, SqlStorageValue as V};

/// Customers woken per page.
pub const PAGE: usize = 50;

type Answer = std::result::Result<Result<Response>, ApiError>;

fn storage(e: impl std::fmt::Display) -> ApiError {
    internal("catalog storage", e)
}

/// Puts a new customer on the schedule: first due when its first draft appears.
pub fn enroll(sql: &SqlStorage, c: &Customer) -> std::result::Result<(), ApiError> {
    let s = &c.invoice_schedule;
    let due = draft_from(s, s.period_containing(c.created_at));
    sql.exec(
        "INSERT INTO billing_index (customer_id, next_due) VALUES (?, ?) ON CONFLICT (customer_id) DO NOTHING",
        vec![V::String(c.id.clone()), V::Integer(due.millis())],
    )
    .map_err(storage)?;
    Ok(())
}

#[derive(Deserialize)]
struct IdRow {
    customer_id: String,
}

#[derive(Deserialize)]
struct DueRow {
    customer_id: String,
    open_from: Option<i64>,
    pending: Option<String>,
    body: String,
}

/// One page of a run at `now`: one call per due customer, with the invoice numbers its
/// step will need already reserved here, where the account's sequence lives.
pub async fn page(env: &Env, sql: &SqlStorage, now: Timestamp) -> Answer {
    let due: Vec<DueRow> = sql
        .exec(
            "SELECT b.customer_id, b.open_from, b.pending, c.body FROM billing_index b
             JOIN customers c ON c.id = b.customer_id
             WHERE b.next_due <= ? AND (b.last_run IS NULL OR b.last_run < ?)
             ORDER BY b.next_due LIMIT ?",
            vec![V::Integer(now.millis()), V::Integer(now.millis()), V::Integer(PAGE as i64)],
        )
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    let metrics = list_metric_defs(sql)?;
    let mut calls = Vec::with_capacity(due.len());
    for d in &due {
        let customer: Customer = serde_json::from_str(&d.body).map_err(storage)?;
        let open_from = d.open_from.map(Timestamp);
        let pending: Vec<Timestamp> =
            d.pending.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
        let mut numbers = Vec::new();
        for start in finalizing_periods(&customer, open_from, now).into_iter().chain(pending) {
            if !numbers.iter().any(|(s, _)| *s == start) {
                numbers.push((start, reserve_number(sql, &d.customer_id, start)?));
            }
        }
        calls.push(CustomerCall::InvoicingRun { now, metrics: metrics.clone(), numbers });
    }
    let runs = due
        .iter()
        .zip(&calls)
        .map(|(d, run)| async move { decode::<RunReport>(&call(&customer_stub(env, &d.customer_id)?, run).await?) });
    let results = join_all(runs).await;

    let mut reply = PageReply { processed: due.len(), more: due.len() == PAGE, ..PageReply::default() };
    for (d, result) in due.iter().zip(results) {
        reply.tally(now, &result);
        match result {
            Ok(report) => {
                for inv in &report.invoices {
                    put_invoice(sql, inv)?;
                }
                let pending = serde_json::to_string(&report.unnumbered).map_err(storage)?;
                sql.exec(
                    "UPDATE billing_index SET next_due = ?, last_run = ?, open_from = ?, pending = ? WHERE customer_id = ?",
                    vec![
                        V::Integer(report.next_due.millis()),
                        V::Integer(now.millis()),
                        V::Integer(report.open_from.millis()),
                        V::String(pending),
                        V::String(d.customer_id.clone()),
                    ],
                )
                .map_err(storage)?;
            }
            Err(e) => {
                // Left due: the next run tries this customer again, with the same numbers.
                worker::console_error!("invoicing {}: {}", d.customer_id, e.message);
                sql.exec(
                    "UPDATE billing_index SET last_run = ? WHERE customer_id = ?",
                    vec![V::Integer(now.millis()), V::String(d.customer_id.clone())],
                )
                .map_err(storage)?;
            }
        }
    }
    Ok(respond::json(200, &reply))
}

/// The starts of the customer's periods that a step at `now` finalizes: the same walk as
/// the customer's book (`core::lifecycle::due_periods`), from the `open_from` its last run
/// reported.
fn finalizing_periods(c: &Customer, open_from: Option<Timestamp>, now: Timestamp) -> Vec<Timestamp> {
    let s = &c.invoice_schedule;
    due_periods(s, first_open(s, c.created_at, open_from), now)
        .into_iter()
        .filter(|p| final_from(s, *p) <= now)
        .map(|p| p.start)
        .collect()
}

/// The number held for a customer's period: the one reserved before, or the next in the
/// account's sequence. Every reserved period gets exactly one invoice (its customer's
/// step finalizes it, now or on a retry), so the sequence has no gaps.
fn reserve_number(
    sql: &SqlStorage,
    customer_id: &str,
    period_start: Timestamp,
) -> std::result::Result<String, ApiError> {
    #[derive(Deserialize)]
    struct NumberRow {
        number: String,
    }
    let held: Vec<NumberRow> = sql
        .exec(
            "SELECT number FROM invoice_numbers WHERE customer_id = ? AND period_start = ?",
            vec![V::String(customer_id.to_owned()), V::Integer(period_start.millis())],
        )
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    if let Some(n) = held.into_iter().next() {
        return Ok(n.number);
    }
    #[derive(Deserialize)]
    struct Seq {
        value: i64,
    }
    let seq: Vec<Seq> = sql
        .exec(
            "INSERT INTO counters (name, value) VALUES ('invoice', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            None,
        )
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    let n = invoice_number(seq.first().map_or(1, |s| s.value.max(1) as u64));
    sql.exec(
        "INSERT INTO invoice_numbers (customer_id, period_start, number) VALUES (?, ?, ?)",
        vec![V::String(customer_id.to_owned()), V::Integer(period_start.millis()), V::String(n.clone())],
    )
    .map_err(storage)?;
    Ok(n)
}

/// Keeps the directory copy of an invoice (the customer's object is the authority).
fn put_invoice(sql: &SqlStorage, inv: &Invoice) -> std::result::Result<(), ApiError> {
    sql.exec(
        "INSERT INTO invoices (id, customer_id, status, number, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status,
           number = COALESCE(excluded.number, invoices.number), body = excluded.body",
        vec![
            V::String(inv.id.clone()),
            V::String(inv.customer_id.clone()),
            V::String(inv.status.as_str().to_owned()),
            inv.number.clone().into(),
            V::String(serde_json::to_string(inv).map_err(storage)?),
        ],
    )
    .map_err(storage)?;
    Ok(())
}

/// Directory updates after approve or void.
pub fn put_invoices(sql: &SqlStorage, list: &[Invoice]) -> Answer {
    for inv in list {
        put_invoice(sql, inv)?;
    }
    Ok(respond::json(200, &json!({"ok": true})))
}

/// Which customer an invoice id belongs to.
pub fn owner(sql: &SqlStorage, id: String) -> Answer {
    let rows: Vec<IdRow> = sql
        .exec("SELECT customer_id FROM invoices WHERE id = ?", vec![V::String(id)])
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    match rows.into_iter().next() {
        Some(r) => Ok(respond::json(200, &json!({"customer_id": r.customer_id}))),
        None => Err(ApiError::new(edgemeter_core::ErrorCode::NotFound, "no such invoice")),
    }
}

#[derive(Deserialize)]
struct BodyRow {
    id: String,
    body: String,
}

/// Every customer's invoices, by id (creation order), optionally one status.
pub fn list_invoices(sql: &SqlStorage, limit: usize, cursor: Option<String>, status: Option<String>) -> Answer {
    let rows: Vec<BodyRow> = sql
        .exec(
            "SELECT id, body FROM invoices WHERE id > ? AND (? IS NULL OR status = ?) ORDER BY id LIMIT ?",
            vec![
                V::String(cursor.unwrap_or_default()),
                status.clone().into(),
                status.into(),
                V::Integer(limit as i64 + 1),
            ],
        )
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    let page = crate::protocol::Page::from_rows(rows, limit, |r| r.id.clone());
    let data: Vec<Value> = page.data.iter().filter_map(|r| serde_json::from_str(&r.body).ok()).collect();
    Ok(respond::json(200, &json!({"data": data, "next_cursor": page.next_cursor})))
}
