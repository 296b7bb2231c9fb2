//! The catalog's machine: every decision of the account's one `CatalogObject` (the
//! metrics, the customer directory, the billing index and invoice numbers, the invoice
//! directory, contracts).
//!
//! Driven as [`handle`]`(call, store)`, one transaction per call, over a
//! [`CatalogStore`] (SQLite in the worker, [`memory::MemoryCatalog`] in tests). What needs
//! the network is answered as an instruction for the shell: a new metric's answer carries
//! the snapshot to publish to KV; an invoicing page is a [`billing::PagePlan`] (which
//! customers, with which reserved numbers), whose customers' reports the shell files with
//! [`billing::file_page`] in a second transaction.

pub mod billing;
mod contracts;
pub mod memory;

use super::StoreResult;
use crate::contract::{Acceptance, Contract, ContractStatus, Document};
use crate::customer::Customer;
use crate::invoice::Invoice;
use crate::lifecycle::InvoiceStatus;
use crate::metric::{Metric, MetricDef};
use crate::page::Page;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

pub use billing::{Billing, PageFiled, PagePlan, PlannedRun, RunOutcome, RunReport, PAGE};

/// What the account's catalog object is asked to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogCall {
    CreateMetric {
        metric: Metric,
    },
    ListMetrics,
    /// Adds or updates a customer in the directory and the billing index. Idempotent.
    PutCustomer {
        customer: Customer,
    },
    ListCustomers {
        limit: usize,
        cursor: Option<String>,
    },
    /// One page of an invoicing run at `now`.
    InvoicingPage {
        now: Timestamp,
    },
    ListInvoices {
        limit: usize,
        cursor: Option<String>,
        status: Option<InvoiceStatus>,
    },
    InvoiceOwner {
        id: String,
    },
    /// Directory copies of invoices after a change in their customer's object.
    PutInvoices {
        invoices: Vec<Invoice>,
    },
    /// A new draft from a `POST /v1/contracts` body, checked against the metrics.
    CreateContract {
        id: String,
        now: Timestamp,
        body: String,
    },
    GetContract {
        id: String,
        now: Timestamp,
    },
    ListContracts {
        limit: usize,
        cursor: Option<String>,
        status: Option<ContractStatus>,
        now: Timestamp,
    },
    PatchContract {
        id: String,
        now: Timestamp,
        body: String,
    },
    /// Records the document a draft's bytes were stored as.
    SetDocument {
        id: String,
        now: Timestamp,
        document: Document,
    },
    CancelContract {
        id: String,
        now: Timestamp,
    },
    /// Moves a draft to `accepting` (or finds it there); answered with [`Accepting`].
    BeginAccept {
        id: String,
        now: Timestamp,
    },
    /// Once the customer exists: the directory learns it and the contract is accepted,
    /// in one transaction.
    FinishAccept {
        id: String,
        now: Timestamp,
        customer: Customer,
    },
}

/// The answer to [`CatalogCall::BeginAccept`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Accepting {
    pub contract: Contract,
    pub acceptance: Acceptance,
}

/// The answer to [`CatalogCall::InvoiceOwner`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceOwner {
    pub customer_id: String,
}

/// The answer to a directory write (`PutCustomer`, `PutInvoices`): `{"ok": true}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub ok: bool,
}

/// A call's answer. The object renders each as the API's JSON (a created resource with
/// 201), after doing what it asks of the network.
#[derive(Clone, Debug)]
pub enum CatalogAnswer {
    /// Answer 201 with the metric once `snapshot` (every metric's definition) is
    /// published for ingest (`catalog:metrics` in KV).
    MetricCreated {
        metric: Metric,
        snapshot: Vec<MetricDef>,
    },
    Metrics(Page<Metric>),
    Customers(Page<Customer>),
    Ack(Ack),
    /// Call these customers' objects, then file their reports ([`billing::file_page`]).
    Plan(PagePlan),
    Invoices(Page<Invoice>),
    Owner(InvoiceOwner),
    /// A contract made by this call (201).
    ContractCreated(Contract),
    Contract(Contract),
    Contracts(Page<Contract>),
    Accepting(Accepting),
}

/// Which contracts a list reads. A draft past its `expires_at` is listed as expired, so
/// the two draft filters need "now".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractFilter {
    All,
    /// Stored with this status (neither draft nor expired).
    Status(ContractStatus),
    /// Drafts with no `expires_at`, or one after `now`.
    LiveDrafts(Timestamp),
    /// Drafts whose `expires_at` is at or before `now`.
    ExpiredDrafts(Timestamp),
}

/// What the catalog keeps. Lists read in id order, after `after` (exclusive; `""` for
/// the first page), at most `limit` rows.
pub trait CatalogStore {
    /// Every metric, oldest first (then by code).
    fn metrics(&self) -> StoreResult<Vec<Metric>>;
    fn insert_metric(&mut self, metric: &Metric) -> StoreResult<()>;

    fn put_customer(&mut self, customer: &Customer) -> StoreResult<()>;
    fn customers(&self, after: &str, limit: usize) -> StoreResult<Vec<Customer>>;

    fn billing(&self, customer_id: &str) -> StoreResult<Option<Billing>>;
    fn put_billing(&mut self, billing: &Billing) -> StoreResult<()>;
    /// Up to `limit` entries with `next_due <= now` not run at `now` or later
    /// (`last_run` none or before `now`), soonest `next_due` first, with their customers.
    fn due(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<(Billing, Customer)>>;

    /// The number held for a customer's period.
    fn number(&self, customer_id: &str, period_start: Timestamp) -> StoreResult<Option<String>>;
    /// The last number given (0 before any).
    fn last_sequence(&self) -> StoreResult<u64>;
    /// Holds `number` (the `sequence`-th) for a customer's period; `sequence` becomes the last.
    fn put_number(
        &mut self,
        customer_id: &str,
        period_start: Timestamp,
        sequence: u64,
        number: &str,
    ) -> StoreResult<()>;

    fn invoice(&self, id: &str) -> StoreResult<Option<Invoice>>;
    fn put_invoice(&mut self, invoice: &Invoice) -> StoreResult<()>;
    fn invoices(&self, after: &str, limit: usize, status: Option<InvoiceStatus>) -> StoreResult<Vec<Invoice>>;

    fn contract(&self, id: &str) -> StoreResult<Option<Contract>>;
    fn put_contract(&mut self, contract: &Contract) -> StoreResult<()>;
    fn contracts(&self, after: &str, limit: usize, filter: ContractFilter) -> StoreResult<Vec<Contract>>;
}

/// One call: one transaction (on `Err` the shell keeps no write). Unlike the other
/// machines it takes no "now" of its own: each call that depends on time carries it, as
/// an invoicing page must be decided at the cron's scheduled time, not the object's clock.
pub fn handle(call: CatalogCall, store: &mut impl CatalogStore) -> Result<CatalogAnswer, ApiError> {
    match call {
        CatalogCall::CreateMetric { metric } => create_metric(metric, store),
        CatalogCall::ListMetrics => Ok(CatalogAnswer::Metrics(Page { data: store.metrics()?, next_cursor: None })),
        CatalogCall::PutCustomer { customer } => {
            store.put_customer(&customer)?;
            billing::enroll(&customer, store)?;
            Ok(CatalogAnswer::Ack(Ack { ok: true }))
        }
        CatalogCall::ListCustomers { limit, cursor } => {
            let rows = store.customers(cursor.as_deref().unwrap_or_default(), limit + 1)?;
            Ok(CatalogAnswer::Customers(Page::from_rows(rows, limit, |c| c.id.clone())))
        }
        CatalogCall::InvoicingPage { now } => billing::plan_page(now, store).map(CatalogAnswer::Plan),
        CatalogCall::ListInvoices { limit, cursor, status } => {
            let rows = store.invoices(cursor.as_deref().unwrap_or_default(), limit + 1, status)?;
            Ok(CatalogAnswer::Invoices(Page::from_rows(rows, limit, |i| i.id.clone())))
        }
        CatalogCall::InvoiceOwner { id } => match store.invoice(&id)? {
            Some(inv) => Ok(CatalogAnswer::Owner(InvoiceOwner { customer_id: inv.customer_id })),
            None => Err(ApiError::new(ErrorCode::NotFound, "no such invoice")),
        },
        CatalogCall::PutInvoices { invoices } => {
            for inv in invoices {
                billing::file_invoice(inv, store)?;
            }
            Ok(CatalogAnswer::Ack(Ack { ok: true }))
        }
        CatalogCall::CreateContract { id, now, body } => contracts::create(id, now, &body, store),
        CatalogCall::GetContract { id, now } => contracts::get(&id, now, store),
        CatalogCall::ListContracts { limit, cursor, status, now } => contracts::list(limit, cursor, status, now, store),
        CatalogCall::PatchContract { id, now, body } => contracts::patch(&id, now, &body, store),
        CatalogCall::SetDocument { id, now, document } => contracts::set_document(&id, now, document, store),
        CatalogCall::CancelContract { id, now } => contracts::cancel(&id, now, store),
        CatalogCall::BeginAccept { id, now } => contracts::begin_accept(&id, now, store),
        CatalogCall::FinishAccept { id, now, customer } => contracts::finish_accept(&id, now, &customer, store),
    }
}

/// Metric codes are unique; every change is published whole.
fn create_metric(metric: Metric, store: &mut impl CatalogStore) -> Result<CatalogAnswer, ApiError> {
    let mut all = store.metrics()?;
    if all.iter().any(|m| m.def.code == metric.def.code) {
        return Err(ApiError::new(
            ErrorCode::DuplicateMetricCode,
            format!("a metric with code `{}` exists", metric.def.code),
        )
        .field("code"));
    }
    store.insert_metric(&metric)?;
    all.push(metric.clone());
    all.sort_by(|a, b| (a.created_at, &a.def.code).cmp(&(b.created_at, &b.def.code)));
    Ok(CatalogAnswer::MetricCreated { metric, snapshot: all.into_iter().map(|m| m.def).collect() })
}
