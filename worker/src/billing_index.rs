//! The invoicing fan-out, kept in the catalog object: which customers are due, and the
//! account-wide invoice directory and numbering.
//!
//! A cron run never does work that grows with the number of customers in one request: the
//! scheduled handler asks for pages (`invoicing/page`), and each page wakes at most
//! [`PAGE`] due customers' objects, in parallel. A customer is due when its `next_due`
//! (the next draft point, an open draft, or a webhook retry) has come and this run has not
//! handled it yet (`last_run`).

use crate::api::decode;
use crate::catalog::list_metric_defs;
use crate::invoicing::RunResult;
use crate::respond::{self, internal, Reply};
use crate::rpc::{self, ListCall};
use edgemeter_core::customer::Customer;
use edgemeter_core::invoice::invoice_number;
use edgemeter_core::lifecycle::draft_from;
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
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
struct PageCall {
    now: Timestamp,
}

#[derive(Serialize, Deserialize)]
pub struct PageReply {
    pub processed: usize,
    pub failed: usize,
    pub more: bool,
}

#[derive(Deserialize)]
struct IdRow {
    customer_id: String,
}

/// One page of a run at `now`.
pub async fn page(env: &Env, sql: &SqlStorage, body: &[u8]) -> Answer {
    let call: PageCall = serde_json::from_slice(body).map_err(|e| internal("malformed internal call", e))?;
    let now = call.now;
    let due: Vec<IdRow> = sql
        .exec(
            "SELECT customer_id FROM billing_index WHERE next_due <= ? AND (last_run IS NULL OR last_run < ?)
             ORDER BY next_due LIMIT ?",
            vec![V::Integer(now.millis()), V::Integer(now.millis()), V::Integer(PAGE as i64)],
        )
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    let metrics = list_metric_defs(sql)?;
    let runs = due.iter().map(|d| {
        let call = json!({"now": now, "metrics": metrics});
        async move {
            let stub = crate::api::customer_stub(env, &d.customer_id)?;
            let r =
                rpc::call(&stub, "invoicing/run", &call).await.map_err(|e| internal("calling a customer object", e))?;
            decode::<RunResult>(&Reply::from_response(r).await?)
        }
    });
    let results = join_all(runs).await;

    let mut failed = 0;
    let mut to_number: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (d, result) in due.iter().zip(results) {
        let next_due = match result {
            Ok(run) => {
                let mut numbers = Vec::new();
                for inv in &run.invoices {
                    put_invoice(sql, inv)?;
                    if inv["status"] != "draft" && inv["number"].is_null() {
                        if let Some(id) = inv["id"].as_str() {
                            numbers.push((id.to_owned(), assign_number(sql, id)?));
                        }
                    }
                }
                if !numbers.is_empty() {
                    to_number.push((d.customer_id.clone(), numbers));
                }
                Some(run.next_due)
            }
            Err(e) => {
                // Left due: the next run tries this customer again.
                worker::console_error!("invoicing {}: {}", d.customer_id, e.message);
                failed += 1;
                None
            }
        };
        sql.exec(
            "UPDATE billing_index SET next_due = COALESCE(?, next_due), last_run = ? WHERE customer_id = ?",
            vec![next_due.map(|t| t.millis()).into(), V::Integer(now.millis()), V::String(d.customer_id.clone())],
        )
        .map_err(storage)?;
    }

    // Numbers are given here, where the sequence lives, then written back to each object
    // (which also queues the `invoice.finalized` / `invoice.sent` webhooks).
    let numbering = to_number.iter().map(|(cid, numbers)| {
        let call = json!({"now": now, "numbers": numbers});
        async move {
            let stub = crate::api::customer_stub(env, cid)?;
            let r = rpc::call(&stub, "invoices/number", &call)
                .await
                .map_err(|e| internal("calling a customer object", e))?;
            decode::<RunResult>(&Reply::from_response(r).await?)
        }
    });
    for ((cid, _), updated) in to_number.iter().zip(join_all(numbering).await) {
        match updated {
            Ok(run) => {
                for inv in &run.invoices {
                    put_invoice(sql, inv)?;
                }
                // Webhooks queued by numbering may have failed: their retry time counts.
                sql.exec(
                    "UPDATE billing_index SET next_due = ? WHERE customer_id = ?",
                    vec![V::Integer(run.next_due.millis()), V::String(cid.clone())],
                )
                .map_err(storage)?;
            }
            Err(e) => worker::console_error!("numbering invoices: {}", e.message),
        }
    }
    Ok(respond::json(200, &PageReply { processed: due.len(), failed, more: due.len() == PAGE }))
}

/// The invoice's number: the one it was given before, or the next in the sequence.
fn assign_number(sql: &SqlStorage, id: &str) -> std::result::Result<String, ApiError> {
    #[derive(Deserialize)]
    struct NumberRow {
        number: Option<String>,
    }
    let rows: Vec<NumberRow> = sql
        .exec("SELECT number FROM invoices WHERE id = ?", vec![V::String(id.to_owned())])
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    if let Some(n) = rows.into_iter().next().and_then(|r| r.number) {
        return Ok(n);
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
    sql.exec("UPDATE invoices SET number = ? WHERE id = ?", vec![V::String(n.clone()), V::String(id.to_owned())])
        .map_err(storage)?;
    Ok(n)
}

/// Keeps the directory copy of an invoice (the customer's object is the authority).
fn put_invoice(sql: &SqlStorage, inv: &Value) -> std::result::Result<(), ApiError> {
    let (Some(id), Some(customer), Some(status)) =
        (inv["id"].as_str(), inv["customer_id"].as_str(), inv["status"].as_str())
    else {
        return Err(internal("invoice directory", "an invoice without id, customer or status"));
    };
    sql.exec(
        "INSERT INTO invoices (id, customer_id, status, number, body) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status,
           number = COALESCE(excluded.number, invoices.number), body = excluded.body",
        vec![
            V::String(id.to_owned()),
            V::String(customer.to_owned()),
            V::String(status.to_owned()),
            inv["number"].as_str().map(str::to_owned).into(),
            V::String(inv.to_string()),
        ],
    )
    .map_err(storage)?;
    Ok(())
}

/// `invoices/put`: directory updates after approve or void.
pub fn put_invoices(sql: &SqlStorage, body: &[u8]) -> Answer {
    let list: Vec<Value> = serde_json::from_slice(body).map_err(|e| internal("malformed internal call", e))?;
    for inv in &list {
        put_invoice(sql, inv)?;
    }
    Ok(respond::json(200, &json!({"ok": true})))
}

#[derive(Deserialize)]
struct OwnerCall {
    id: String,
}

/// `invoices/owner`: which customer an invoice id belongs to.
pub fn owner(sql: &SqlStorage, body: &[u8]) -> Answer {
    let call: OwnerCall = serde_json::from_slice(body).map_err(|e| internal("malformed internal call", e))?;
    let rows: Vec<IdRow> = sql
        .exec("SELECT customer_id FROM invoices WHERE id = ?", vec![V::String(call.id)])
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    match rows.into_iter().next() {
        Some(r) => Ok(respond::json(200, &json!({"customer_id": r.customer_id}))),
        None => Err(ApiError::new(edgemeter_core::ErrorCode::NotFound, "no such invoice")),
    }
}

#[derive(Deserialize)]
struct InvoiceListCall {
    #[serde(flatten)]
    page: ListCall,
    status: Option<String>,
}

#[derive(Deserialize)]
struct BodyRow {
    id: String,
    body: String,
}

/// `invoices/list`: every customer's invoices, by id (creation order), optionally one status.
pub fn list_invoices(sql: &SqlStorage, body: &[u8]) -> Answer {
    let call: InvoiceListCall = serde_json::from_slice(body).map_err(|e| internal("malformed internal call", e))?;
    let limit = call.page.limit;
    let rows: Vec<BodyRow> = sql
        .exec(
            "SELECT id, body FROM invoices WHERE id > ? AND (? IS NULL OR status = ?) ORDER BY id LIMIT ?",
            vec![
                V::String(call.page.cursor.unwrap_or_default()),
                call.status.clone().into(),
                call.status.into(),
                V::Integer(limit as i64 + 1),
            ],
        )
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    let more = rows.len() > limit;
    let rows = &rows[..rows.len().min(limit)];
    let data: Vec<Value> = rows.iter().filter_map(|r| serde_json::from_str(&r.body).ok()).collect();
    let next_cursor = if more { rows.last().map(|r| r.id.clone()) } else { None };
    Ok(respond::json(200, &json!({"data": data, "next_cursor": next_cursor})))
}
