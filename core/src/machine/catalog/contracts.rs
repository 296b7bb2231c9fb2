//! Contracts in the account's catalog (API.md, "Contracts"): the catalog holds them
//! because it holds what they are checked against (the metrics) and what accepting one
//! completes (the customer directory), so each step is one call and one transaction.
//! `core::contract` decides each step of a contract; this loads, stores and lists.

use super::{billing, Accepting, CatalogAnswer, CatalogStore, ContractFilter};
use crate::contract::{Contract, ContractStatus, Document, Terms};
use crate::customer::Customer;
use crate::metric::MetricDef;
use crate::page::Page;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};

type Answer = Result<CatalogAnswer, ApiError>;

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such contract")
}

fn load(id: &str, store: &impl CatalogStore) -> Result<Contract, ApiError> {
    store.contract(id)?.ok_or_else(not_found)
}

fn metric_defs(store: &impl CatalogStore) -> Result<Vec<MetricDef>, ApiError> {
    Ok(store.metrics()?.into_iter().map(|m| m.def).collect())
}

/// Loads a contract, changes it with `f` and stores it: answered at `now`.
fn change(
    id: &str,
    now: Timestamp,
    store: &mut impl CatalogStore,
    f: impl FnOnce(&mut Contract) -> Result<(), ApiError>,
) -> Answer {
    let mut c = load(id, store)?;
    f(&mut c)?;
    store.put_contract(&c)?;
    Ok(CatalogAnswer::Contract(c.at(now)))
}

/// A new draft from a `POST /v1/contracts` body, checked against the metrics.
pub(super) fn create(id: String, now: Timestamp, body: &str, store: &mut impl CatalogStore) -> Answer {
    let terms = Terms::from_body(body.as_bytes(), now, &metric_defs(store)?)?;
    // A keyed request that runs again makes the same id: answer what it made.
    if let Some(existing) = store.contract(&id)? {
        return Ok(CatalogAnswer::ContractCreated(existing.at(now)));
    }
    let c = Contract::new(id, terms, now);
    store.put_contract(&c)?;
    Ok(CatalogAnswer::ContractCreated(c.at(now)))
}

pub(super) fn get(id: &str, now: Timestamp, store: &impl CatalogStore) -> Answer {
    Ok(CatalogAnswer::Contract(load(id, store)?.at(now)))
}

/// A page of contracts, each as read at `now` (a draft past `expires_at` is expired).
pub(super) fn list(
    limit: usize,
    cursor: Option<String>,
    status: Option<ContractStatus>,
    now: Timestamp,
    store: &impl CatalogStore,
) -> Answer {
    let filter = match status {
        None => ContractFilter::All,
        Some(ContractStatus::Draft) => ContractFilter::LiveDrafts(now),
        Some(ContractStatus::Expired) => ContractFilter::ExpiredDrafts(now),
        Some(s) => ContractFilter::Status(s),
    };
    let rows = store.contracts(cursor.as_deref().unwrap_or_default(), limit + 1, filter)?;
    let rows = rows.into_iter().map(|c| c.at(now)).collect();
    Ok(CatalogAnswer::Contracts(Page::from_rows(rows, limit, |c| c.id.clone())))
}

pub(super) fn patch(id: &str, now: Timestamp, body: &str, store: &mut impl CatalogStore) -> Answer {
    let metrics = metric_defs(store)?;
    change(id, now, store, |c| c.patch(body.as_bytes(), now, &metrics))
}

pub(super) fn set_document(id: &str, now: Timestamp, document: Document, store: &mut impl CatalogStore) -> Answer {
    change(id, now, store, |c| c.set_document(document, now))
}

pub(super) fn cancel(id: &str, now: Timestamp, store: &mut impl CatalogStore) -> Answer {
    change(id, now, store, |c| c.cancel(now))
}

pub(super) fn begin_accept(id: &str, now: Timestamp, store: &mut impl CatalogStore) -> Answer {
    let mut c = load(id, store)?;
    let acceptance = c.begin_accept(now)?;
    store.put_contract(&c)?;
    Ok(CatalogAnswer::Accepting(Accepting { contract: c.at(now), acceptance }))
}

/// The directory learns the customer and the contract is accepted, together.
pub(super) fn finish_accept(id: &str, now: Timestamp, customer: &Customer, store: &mut impl CatalogStore) -> Answer {
    let mut c = load(id, store)?;
    c.finish_accept(&customer.id, now)?;
    store.put_customer(customer)?;
    billing::enroll(customer, store)?;
    store.put_contract(&c)?;
    Ok(CatalogAnswer::Contract(c.at(now)))
}
