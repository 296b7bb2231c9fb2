//! The protocols between the front and the Durable Objects: one request type per object,
//! so a protocol is a type and a call the compiler cannot misspell.
//!
//! A call is one `POST` to the object with the request as JSON (externally tagged:
//! `{"ingest": {…}}`, so the body streams without buffering). Every object answers with
//! the API's own JSON (a resource, or `{"error": …}` with its status), which the front
//! passes through or decodes: that answer, a [`Reply`], is the one reply type.
//!
//! Nothing here imports from the front or from an object: both sides import this.

use crate::respond::{internal, Reply};
use edgemeter_core::contract::{Acceptance, Contract, ContractStatus, Document};
use edgemeter_core::customer::Customer;
use edgemeter_core::event::EventRecord;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::item::Item;
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::metric::{Metric, MetricDef};
use edgemeter_core::rejection::RejectedEvent;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::{Headers, Method, Request, RequestInit, Stub};

/// The KV binding.
pub const KV: &str = "EDGEMETER_KV";
/// Where the catalog publishes the metrics snapshot for ingest, in KV.
pub const METRICS_KEY: &str = "catalog:metrics";

/// A page of a list (API.md, "Conventions": `{"data", "next_cursor"}`).
#[derive(Serialize, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows read in list order: a row past `limit` means a
    /// next page, which starts after the last row kept (`cursor_of` it).
    pub fn from_rows(mut data: Vec<T>, limit: usize, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let more = data.len() > limit;
        data.truncate(limit);
        let next_cursor = if more { data.last().map(cursor_of) } else { None };
        Page { data, next_cursor }
    }
}

/// What a customer's object (`CustomerObject`) is asked to do.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerCall<'a> {
    /// Stores a new customer; the same customer again is answered as created (a retry).
    Create {
        customer: Customer,
    },
    Get,
    /// A `PATCH` body, validated again against the stored customer.
    Patch {
        now: Timestamp,
        body: String,
    },
    CreateItem {
        item: Item,
    },
    ListItems,
    /// Events from one or more requests, with the metrics their names feed. Answered
    /// with [`Fates`], one per event in order, once they are durably written.
    Ingest {
        now: Timestamp,
        metrics: Vec<MetricDef>,
        #[serde(borrow)]
        events: Vec<EventRecord<'a>>,
    },
    Void {
        now: Timestamp,
        key: String,
        metrics: Vec<MetricDef>,
    },
    Usage {
        at: Timestamp,
        metrics: Vec<MetricDef>,
    },
    /// One invoicing step at `now` (drafts, finals, numbers, webhooks), with the numbers
    /// the catalog reserved for this customer's final periods, by period start. Answered
    /// with a [`RunReport`]: a run is one call per due customer.
    InvoicingRun {
        now: Timestamp,
        metrics: Vec<MetricDef>,
        numbers: Vec<(Timestamp, String)>,
    },
    ListInvoices {
        status: Option<String>,
    },
    GetInvoice {
        id: String,
    },
    ApproveInvoice {
        now: Timestamp,
        id: String,
    },
    VoidInvoice {
        now: Timestamp,
        id: String,
    },
    Upcoming {
        now: Timestamp,
        metrics: Vec<MetricDef>,
    },
    /// A metric by day over the period containing `at` (API.md "Usage": usage by day).
    Daily {
        at: Timestamp,
        metrics: Vec<MetricDef>,
    },
    /// Creates the customer a contract names, with its items, in one transaction; a
    /// repeat finds them and answers the same (`core::contract`).
    Adopt {
        acceptance: Acceptance,
    },
    /// Adds entries to this object's rejected-events log (newest kept). Needs no
    /// customer: the account's log is the object named [`ACCOUNT_LOG`].
    /// `of_customer`: only if the customer exists (else `unknown_customer`, nothing kept).
    LogRejections {
        entries: Vec<RejectedEvent>,
        of_customer: bool,
    },
    /// The log, newest first; `of_customer` asks that the customer exist (404 if not).
    ListRejections {
        limit: usize,
        cursor: Option<String>,
        of_customer: bool,
    },
}

/// The name of the customer-namespace object that keeps the account's rejected-events
/// log (events naming no known customer). It never holds a customer.
pub const ACCOUNT_LOG: &str = "account-rejections";

/// The answer to [`CustomerCall::Ingest`].
#[derive(Serialize, Deserialize)]
pub struct Fates {
    pub fates: Vec<edgemeter_core::book::Fate>,
}

/// The answer to [`CustomerCall::InvoicingRun`].
#[derive(Serialize, Deserialize)]
pub struct RunReport {
    /// When the customer next needs a run.
    pub next_due: Timestamp,
    /// The start of its first period that is not final.
    pub open_from: Timestamp,
    /// Invoices the step created or changed, for the directory.
    pub invoices: Vec<Invoice>,
    /// Final periods still without a number.
    pub unnumbered: Vec<Timestamp>,
}

/// The answer to [`CatalogCall::InvoicingPage`].
#[derive(Default, Serialize, Deserialize)]
pub struct PageReply {
    pub processed: usize,
    pub failed: usize,
    /// Whether more customers may be due: the run asks for another page.
    pub more: bool,
    /// Drafts created or refreshed, for the run's log line.
    #[serde(default)]
    pub drafts: usize,
    /// Invoices finalized by this page's calls.
    #[serde(default)]
    pub finalized: usize,
    /// The error code of each failed customer call.
    #[serde(default)]
    pub failures: Vec<ErrorCode>,
}

impl PageReply {
    /// Counts one customer's invoicing call at `now` into the page's answer.
    pub fn tally(&mut self, now: Timestamp, result: &Result<RunReport, ApiError>) {
        match result {
            Ok(report) => {
                for inv in &report.invoices {
                    if inv.status == InvoiceStatus::Draft {
                        self.drafts += 1;
                    } else if inv.finalized_at == Some(now) {
                        self.finalized += 1;
                    }
                }
            }
            Err(e) => {
                self.failed += 1;
                self.failures.push(e.code);
            }
        }
    }
}

/// What the account's catalog object (`CatalogObject`) is asked to do.
#[derive(Serialize, Deserialize)]
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
        status: Option<String>,
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
#[derive(Serialize, Deserialize)]
pub struct Accepting {
    pub contract: Contract,
    pub acceptance: Acceptance,
}

/// What an `Idempotency-Key`'s object (`IdempotencyObject`) is asked to do.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCall {
    /// May this copy run? Answered with a `Claim`.
    Claim { body_sha256: String, now: Timestamp },
    /// The handler's answer: a success is kept for later copies.
    Finish { body_sha256: String, status: u16, body: String },
}

/// The answer to [`KeyCall::Claim`]: run the handler, or answer with what the first copy
/// answered.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// Run the handler. `first_at` is when the key's first copy with this body was
    /// claimed: a copy that runs again after a failure makes the same resource ids from it
    /// (see `front::replay`), so it completes what the failed copy began instead of
    /// starting a second resource.
    Run {
        first_at: Timestamp,
    },
    Answered {
        status: u16,
        body: String,
    },
}

/// Whether an answer is kept for a key's later copies: a success. Anything else (a
/// refused body, a 5xx) saved nothing, so the corrected request or a retry runs again.
pub fn is_kept(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The same `Idempotency-Key` sent again with another body (API.md, "Conventions").
pub fn key_reused() -> ApiError {
    ApiError::new(ErrorCode::IdempotencyKeyReused, "this Idempotency-Key was used with a different request body")
        .field("Idempotency-Key")
}

/// Sends a request to an object and returns its answer.
pub async fn call<C: Serialize>(stub: &Stub, request: &C) -> Result<Reply, ApiError> {
    let body = serde_json::to_vec(request).map_err(|e| internal("encoding an object call", e))?;
    call_raw(stub, body).await
}

/// Reads a request inside an object.
pub fn read<'a, C: Deserialize<'a>>(body: &'a [u8]) -> Result<C, ApiError> {
    serde_json::from_slice(body).map_err(|e| internal("malformed object call", e))
}

/// Turns an object's error answer back into an error, or decodes its success.
pub fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T, ApiError> {
    if reply.ok() {
        return serde_json::from_slice(&reply.body).map_err(|e| internal("decoding an object's answer", e));
    }
    #[derive(Deserialize)]
    struct ErrBody {
        error: ApiError,
    }
    Err(serde_json::from_slice::<ErrBody>(&reply.body)
        .map(|b| b.error)
        .unwrap_or_else(|e| internal("decoding an object's error", e)))
}

/// The customer's own object. Only well-formed ids get one, so a typo never creates an
/// empty object.
pub fn customer_stub(env: &worker::Env, id: &str) -> Result<Stub, ApiError> {
    if !edgemeter_core::id::is_id(id, "cus") {
        return Err(ApiError::new(ErrorCode::UnknownCustomer, format!("no customer `{id}`")).field("customer_id"));
    }
    env.durable_object("CUSTOMERS")
        .and_then(|ns| ns.get_by_name(id))
        .map_err(|e| internal("customer object binding", e))
}

/// The object that keeps the account's rejected-events log ([`ACCOUNT_LOG`]).
pub fn account_log_stub(env: &worker::Env) -> Result<Stub, ApiError> {
    env.durable_object("CUSTOMERS")
        .and_then(|ns| ns.get_by_name(ACCOUNT_LOG))
        .map_err(|e| internal("customer object binding", e))
}

/// The one catalog object (admin routes and the invoicing run, never ingest).
pub fn catalog_stub(env: &worker::Env) -> Result<Stub, ApiError> {
    env.durable_object("CATALOG")
        .and_then(|ns| ns.get_by_name("catalog"))
        .map_err(|e| internal("catalog object binding", e))
}

/// Sends a request already written as JSON bytes (the batcher writes ingest calls from
/// ready-made event JSON) and returns the object's answer.
pub async fn call_raw(stub: &Stub, body: Vec<u8>) -> Result<Reply, ApiError> {
    crate::object_calls::count();
    let send = async {
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        let req = Request::new_with_init("https://object/", &init)?;
        stub.fetch_with_request(req).await
    };
    let response = send.await.map_err(|e| internal("calling a durable object", e))?;
    Reply::from_response(response).await
}
