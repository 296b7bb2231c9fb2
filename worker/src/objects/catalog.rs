//! The account-wide catalog: billable metrics and the customer directory.
//!
//! Admin writes go to one `CatalogObject` (metric codes must be unique, lists must page
//! consistently); it is never called on the ingest path. Ingest learns the metrics from a
//! snapshot the object writes to KV (`catalog:metrics`) after every change, read through
//! a short per-isolate cache: a rarely-changing, read-mostly value, which is what KV is
//! for. On real Cloudflare a new metric reaches ingest within KV's propagation (up to
//! about a minute); an ingest request that meets an unknown event name re-reads the
//! snapshot once before rejecting, so a stale cache never outlives a fresh KV copy.

use crate::objects::{billing_index, contracts};
use crate::protocol::{self, CatalogCall, Page, KV, METRICS_KEY};
use crate::respond::{self, internal};
use edgemeter_core::customer::Customer;
use edgemeter_core::metric::{Metric, MetricDef};
use edgemeter_core::{ApiError, ErrorCode};
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue as V, State};

#[durable_object]
pub struct CatalogObject {
    state: State,
    env: Env,
    /// Whether this instance has brought an older schema up to date.
    migrated: std::cell::Cell<bool>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metrics (code TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS billing_index (
  customer_id TEXT PRIMARY KEY, next_due INTEGER NOT NULL, last_run INTEGER, open_from INTEGER, pending TEXT
);
CREATE TABLE IF NOT EXISTS invoice_numbers (
  customer_id TEXT NOT NULL, period_start INTEGER NOT NULL, number TEXT NOT NULL UNIQUE,
  PRIMARY KEY (customer_id, period_start)
);
CREATE INDEX IF NOT EXISTS billing_index_due ON billing_index (next_due);
CREATE TABLE IF NOT EXISTS invoices (
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL, number TEXT, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

#[derive(Deserialize)]
struct BodyRow {
    body: String,
}

impl DurableObject for CatalogObject {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, migrated: std::cell::Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        let sql = self.state.storage().sql();
        sql.exec(SCHEMA, None)?;
        sql.exec(contracts::SCHEMA, None)?;
        if !self.migrated.replace(true) {
            // Columns added since the first schema; a store that has them refuses the
            // statement, which is then the answer wanted.
            for column in ["open_from INTEGER", "pending TEXT"] {
                let _ = sql.exec(&format!("ALTER TABLE billing_index ADD COLUMN {column}"), None);
            }
        }
        let answer = match protocol::read::<CatalogCall>(&body) {
            Err(e) => Err(e),
            Ok(CatalogCall::CreateMetric { metric }) => self.create_metric(&sql, metric).await,
            Ok(CatalogCall::ListMetrics) => {
                list_metrics(&sql).map(|m| respond::json(200, &Page { data: m, next_cursor: None }))
            }
            Ok(CatalogCall::PutCustomer { customer }) => put_customer(&sql, &customer),
            Ok(CatalogCall::ListCustomers { limit, cursor }) => list_customers(&sql, limit, cursor),
            Ok(CatalogCall::InvoicingPage { now }) => billing_index::page(&self.env, &sql, now).await,
            Ok(CatalogCall::ListInvoices { limit, cursor, status }) => {
                billing_index::list_invoices(&sql, limit, cursor, status)
            }
            Ok(CatalogCall::InvoiceOwner { id }) => billing_index::owner(&sql, id),
            Ok(CatalogCall::PutInvoices { invoices }) => billing_index::put_invoices(&sql, &invoices),
            Ok(call) => contracts::handle(&sql, &self.state.storage(), call),
        };
        match answer {
            Ok(r) => r,
            Err(e) => respond::error(&e),
        }
    }
}

fn rows<T: for<'de> Deserialize<'de>>(
    sql: &SqlStorage,
    q: &str,
    args: Vec<V>,
) -> std::result::Result<Vec<T>, ApiError> {
    sql.exec(q, args).and_then(|c| c.to_array()).map_err(|e| internal("catalog storage", e))
}

fn list_metrics(sql: &SqlStorage) -> std::result::Result<Vec<Metric>, ApiError> {
    let rows: Vec<BodyRow> = rows(sql, "SELECT body FROM metrics ORDER BY created_at, code", vec![])?;
    rows.iter().map(|r| serde_json::from_str(&r.body).map_err(|e| internal("catalog storage", e))).collect()
}

/// The metric definitions, as the customers' objects need them.
pub fn list_metric_defs(sql: &SqlStorage) -> std::result::Result<Vec<MetricDef>, ApiError> {
    Ok(list_metrics(sql)?.into_iter().map(|m| m.def).collect())
}

impl CatalogObject {
    async fn create_metric(&self, sql: &SqlStorage, m: Metric) -> std::result::Result<Result<Response>, ApiError> {
        let text = serde_json::to_string(&m).map_err(|e| internal("rendering metric", e))?;
        let written = sql
            .exec(
                "INSERT INTO metrics (code, body, created_at) VALUES (?, ?, ?) ON CONFLICT (code) DO NOTHING",
                vec![V::String(m.def.code.clone()), V::String(text), V::Integer(m.created_at.millis())],
            )
            .map_err(|e| internal("catalog storage", e))?
            .rows_written();
        if written == 0 {
            return Err(ApiError::new(
                ErrorCode::DuplicateMetricCode,
                format!("a metric with code `{}` exists", m.def.code),
            )
            .field("code"));
        }
        // Publish before answering, so a client that sees 201 can ingest at once (locally;
        // on Cloudflare, after KV propagation).
        let all: Vec<MetricDef> = list_metrics(sql)?.into_iter().map(|m| m.def).collect();
        let kv = self.env.kv(KV).map_err(|e| internal("KV binding", e))?;
        kv.put(METRICS_KEY, serde_json::to_string(&all).map_err(|e| internal("rendering catalog", e))?)
            .map_err(|e| internal("KV put", e))?
            .execute()
            .await
            .map_err(|e| internal("KV put", e))?;
        Ok(respond::json(201, &m))
    }
}

/// The customer's directory row.
pub fn put_customer_row(sql: &SqlStorage, customer: &Customer) -> std::result::Result<(), ApiError> {
    let text = serde_json::to_string(customer).map_err(|e| internal("rendering customer", e))?;
    sql.exec(
        "INSERT INTO customers (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        vec![V::String(customer.id.clone()), V::String(text)],
    )
    .map_err(|e| internal("catalog storage", e))?;
    Ok(())
}

fn put_customer(sql: &SqlStorage, customer: &Customer) -> std::result::Result<Result<Response>, ApiError> {
    put_customer_row(sql, customer)?;
    billing_index::enroll(sql, customer)?;
    Ok(respond::json(200, &serde_json::json!({"ok": true})))
}

fn list_customers(
    sql: &SqlStorage,
    limit: usize,
    cursor: Option<String>,
) -> std::result::Result<Result<Response>, ApiError> {
    let after = cursor.unwrap_or_default();
    let rows: Vec<BodyRow> = rows(
        sql,
        "SELECT body FROM customers WHERE id > ? ORDER BY id LIMIT ?",
        vec![V::String(after), V::Integer(limit as i64 + 1)],
    )?;
    let data: Vec<Customer> = rows
        .iter()
        .map(|r| serde_json::from_str(&r.body))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| internal("catalog storage", e))?;
    Ok(respond::json(200, &Page::from_rows(data, limit, |c| c.id.clone())))
}
