//! Contracts in the account's catalog (API.md, "Contracts"): the catalog holds them
//! because it holds what they are checked against (the metrics) and what accepting one
//! completes (the customer directory), so each step is one call and one transaction.
//! Contracts are admin writes, never on the ingest path. `core::contract` decides every
//! step; this module loads and stores.

use crate::objects::billing_index;
use crate::objects::catalog::list_metric_defs;
use crate::objects::tx::atomically;
use crate::protocol::{Accepting, CatalogCall, Page};
use crate::respond::{self, internal};
use edgemeter_core::contract::{Contract, ContractStatus, Terms};
use edgemeter_core::customer::Customer;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::Deserialize;
use worker::{Response, Result, SqlStorage, SqlStorageValue as V, Storage};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS contracts (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, expires_at INTEGER, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contracts_by_status ON contracts (status, id);
";

type Answer = std::result::Result<Result<Response>, ApiError>;

#[derive(Deserialize)]
struct BodyRow {
    body: String,
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such contract")
}

fn storage(e: impl std::fmt::Display) -> ApiError {
    internal("contract storage", e)
}

fn load(sql: &SqlStorage, id: &str) -> std::result::Result<Contract, ApiError> {
    let rows: Vec<BodyRow> = sql
        .exec("SELECT body FROM contracts WHERE id = ?", vec![V::String(id.to_owned())])
        .and_then(|c| c.to_array())
        .map_err(storage)?;
    let row = rows.first().ok_or_else(not_found)?;
    serde_json::from_str(&row.body).map_err(storage)
}

fn store(sql: &SqlStorage, c: &Contract) -> std::result::Result<(), String> {
    let body = serde_json::to_string(c).map_err(|e| e.to_string())?;
    let expires = c.terms.expires_at.map_or(V::Null, |t| V::Integer(t.millis()));
    sql.exec(
        "INSERT INTO contracts (id, status, expires_at, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at, body = excluded.body",
        vec![V::String(c.id.clone()), V::String(c.status.as_str().into()), expires, V::String(body)],
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Loads a contract, changes it with `f` and stores it: answered at `now`.
fn change(
    sql: &SqlStorage,
    id: &str,
    now: Timestamp,
    f: impl FnOnce(&mut Contract) -> std::result::Result<(), ApiError>,
) -> Answer {
    let mut c = load(sql, id)?;
    f(&mut c)?;
    store(sql, &c).map_err(storage)?;
    Ok(respond::json(200, &c.at(now)))
}

/// Answers a contract call.
pub fn handle(sql: &SqlStorage, storage_: &Storage, call: CatalogCall) -> Answer {
    match call {
        CatalogCall::CreateContract { id, now, body } => {
            let terms = Terms::from_body(body.as_bytes(), now, &list_metric_defs(sql)?)?;
            // A keyed request that runs again makes the same id: answer what it made.
            if let Ok(existing) = load(sql, &id) {
                return Ok(respond::json(201, &existing.at(now)));
            }
            let c = Contract::new(id, terms, now);
            store(sql, &c).map_err(storage)?;
            Ok(respond::json(201, &c.at(now)))
        }
        CatalogCall::GetContract { id, now } => Ok(respond::json(200, &load(sql, &id)?.at(now))),
        CatalogCall::ListContracts { limit, cursor, status, now } => list(sql, limit, cursor, status, now),
        CatalogCall::PatchContract { id, now, body } => {
            let metrics = list_metric_defs(sql)?;
            change(sql, &id, now, |c| c.patch(body.as_bytes(), now, &metrics))
        }
        CatalogCall::SetDocument { id, now, document } => change(sql, &id, now, |c| c.set_document(document, now)),
        CatalogCall::CancelContract { id, now } => change(sql, &id, now, |c| c.cancel(now)),
        CatalogCall::BeginAccept { id, now } => {
            let mut c = load(sql, &id)?;
            let acceptance = c.begin_accept(now)?;
            store(sql, &c).map_err(storage)?;
            Ok(respond::json(200, &Accepting { contract: c.at(now), acceptance }))
        }
        CatalogCall::FinishAccept { id, now, customer } => finish_accept(sql, storage_, &id, now, &customer),
        _ => Err(internal("catalog", "a call routed to contracts that is not one")),
    }
}

/// The directory learns the customer and the contract is accepted, together.
fn finish_accept(sql: &SqlStorage, st: &Storage, id: &str, now: Timestamp, customer: &Customer) -> Answer {
    let mut c = load(sql, id)?;
    c.finish_accept(&customer.id, now)?;
    atomically(st, || {
        crate::objects::catalog::put_customer_row(sql, customer).map_err(|e| e.message.to_string())?;
        billing_index::enroll(sql, customer).map_err(|e| e.message.to_string())?;
        store(sql, &c)
    })
    .map_err(storage)?;
    Ok(respond::json(200, &c.at(now)))
}

fn list(
    sql: &SqlStorage,
    limit: usize,
    cursor: Option<String>,
    status: Option<ContractStatus>,
    now: Timestamp,
) -> Answer {
    let after = V::String(cursor.unwrap_or_default());
    let n = V::Integer(limit as i64 + 1);
    let t = V::Integer(now.millis());
    let (q, args) = match status {
        None => ("SELECT body FROM contracts WHERE id > ? ORDER BY id LIMIT ?", vec![after, n]),
        Some(ContractStatus::Draft) => (
            "SELECT body FROM contracts WHERE status = 'draft' AND (expires_at IS NULL OR expires_at > ?)
             AND id > ? ORDER BY id LIMIT ?",
            vec![t, after, n],
        ),
        Some(ContractStatus::Expired) => (
            "SELECT body FROM contracts WHERE status = 'draft' AND expires_at <= ? AND id > ? ORDER BY id LIMIT ?",
            vec![t, after, n],
        ),
        Some(s) => (
            "SELECT body FROM contracts WHERE status = ? AND id > ? ORDER BY id LIMIT ?",
            vec![V::String(s.as_str().into()), after, n],
        ),
    };
    let rows: Vec<BodyRow> = sql.exec(q, args).and_then(|c| c.to_array()).map_err(storage)?;
    let data: Vec<Contract> = rows
        .iter()
        .map(|r| serde_json::from_str::<Contract>(&r.body).map(|c| c.at(now)))
        .collect::<std::result::Result<_, _>>()
        .map_err(storage)?;
    Ok(respond::json(200, &Page::from_rows(data, limit, |c| c.id.clone())))
}
