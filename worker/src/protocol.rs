//! The protocols between the front and the Durable Objects: one request type per object,
//! so a protocol is a type and a call the compiler cannot misspell.
//!
//! A call is one `POST` to the object with the request as JSON (externally tagged:
//! `{"usage": {"ingest": {…}}}`). The calls and their typed answers are the machines'
//! (`core::machine::{customer, catalog, lease}`): each customer call names its answer
//! ([`Ask`]). Every object answers with the API's own JSON (a resource, or
//! `{"error": …}` with its status), which the front passes through or decodes into the
//! call's answer type.
//!
//! Nothing here imports from the front or from an object: both sides import this.

use crate::respond::{internal, Reply};
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::{Headers, Method, Request, RequestInit, Stub};

pub use edgemeter_core::machine::catalog::{Accepting, Ack, CatalogCall, InvoiceOwner};
pub use edgemeter_core::machine::customer::{self as customer, CustomerCall, Fates, RunReport};
pub use edgemeter_core::machine::lease::{is_kept, key_reused, Claim, ClaimKey, Done, FinishKey, KeyCall};
pub use edgemeter_core::machine::Ask;
pub use edgemeter_core::page::Page;

/// The KV binding.
pub const KV: &str = "EDGEMETER_KV";
/// Where the catalog publishes the metrics snapshot for ingest, in KV.
pub const METRICS_KEY: &str = "catalog:metrics";

/// The name of the customer-namespace object that keeps the account's rejected-events
/// log (events naming no known customer). It never holds a customer.
pub const ACCOUNT_LOG: &str = "account-rejections";

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

/// Sends a call to a customer's object and returns its answer, to pass through.
pub async fn customer_call<'a>(stub: &Stub, c: impl Into<CustomerCall<'a>>) -> Result<Reply, ApiError> {
    call(stub, &c.into()).await
}

/// Sends a call to a customer's object and decodes the answer the call names.
pub async fn ask<'a, C: Ask + Into<CustomerCall<'a>>>(stub: &Stub, c: C) -> Result<C::Answer, ApiError> {
    decode(&customer_call(stub, c).await?)
}

/// Sends a request to an object and returns its answer.
pub async fn call<C: Serialize>(stub: &Stub, request: &C) -> Result<Reply, ApiError> {
    let body = serde_json::to_vec(request).map_err(|e| internal("encoding an object call", e))?;
    call_raw(stub, body, "application/json").await
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

/// Sends a request already written as bytes of `content_type` (the batcher writes ingest
/// calls in their binary form from ready-made event bytes) and returns the object's
/// answer.
pub async fn call_raw(stub: &Stub, body: Vec<u8>, content_type: &str) -> Result<Reply, ApiError> {
    crate::object_calls::count();
    let send = async {
        let headers = Headers::new();
        headers.set("content-type", content_type)?;
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
