//! The typed client for the rest of the API (API.md): customers, items, metrics, usage,
//! invoices, tokens, contracts and rejected events, so a server app needs no
//! hand-written HTTP. It retries as the JS client's `api.js` does, and every request is
//! safe to retry:
//! - every request is retried on network errors, timeouts, 408, 429 and 5xx, with the
//!   tracking client's backoff (full jitter, `Retry-After` honoured, `max_retries`);
//! - GET, PATCH and PUT are idempotent (a patch sets the same fields again, a document
//!   uploaded again replaces itself);
//! - every POST carries an `Idempotency-Key`, the same on each retry (the caller's, for
//!   the `*_with_key` methods, else a fresh UUID per call), so the server answers a
//!   retry of a create whose answer was lost with the first response;
//! - that replay store is eventually consistent, so a retry could miss it: a retried
//!   approve or void answered 409 `invalid_invoice_state` returns the invoice if it
//!   already has the wanted status, a retried contract accept or cancel answered 409
//!   `contract_not_draft` returns the contract (and, for accept, its customer) if it
//!   already has the wanted status, and a retried metric create answered 409
//!   `duplicate_metric_code` returns the metric if its definition is the one sent.

use super::error::{codes, Error};
use super::options::Options;
use super::retry::{send_with_retries, Answer, Failed, RetryPolicy};
use super::types::*;
use super::verify::{InvoiceEvent, SimulatedInvoice, SimulationInput};
use reqwest::header::{HeaderMap, CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// The largest `limit` a list takes.
const MAX_PAGE: u32 = 500;
/// The longest `Idempotency-Key` a caller may give.
const MAX_KEY_LEN: usize = 255;
/// The largest contract document the server takes (10 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// The HTTP client both clients share: rustls, the request timeout, and a short idle
/// timeout for pooled connections (a server may drop a quiet one without notice).
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(15))
        .user_agent(concat!("edgemeter-sdk-rust/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::new(codes::INVALID_OPTION, format!("cannot build the HTTP client: {e}")))
}

/// The API client. Needs a secret key (`sk_…`) for everything but ingestion. Cheap to
/// clone (the connection pool is shared).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    root: Url,
    key: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("root", &self.root.as_str()).finish_non_exhaustive()
    }
}

impl Api {
    /// A client for the API at `base_url` with the default options (30 s timeout, 5
    /// retries).
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>) -> Result<Api, Error> {
        Api::with_options(&Options::new(api_key, base_url))
    }

    /// A client with these options' key, address, `timeout`, `max_retries`, `retry_base`
    /// and `retry_max` (the others are the tracking client's).
    pub fn with_options(options: &Options) -> Result<Api, Error> {
        options.validate()?;
        Api::with_client(http_client(options.timeout)?, options)
    }

    /// Shares a client built with [`http_client`]`(options.timeout)`.
    pub(crate) fn with_client(http: reqwest::Client, options: &Options) -> Result<Api, Error> {
        let root = Url::parse(options.root()).map_err(|e| {
            Error::new(codes::INVALID_OPTION, format!("option `base_url` is not a URL: {e}")).with_field("base_url")
        })?;
        if root.cannot_be_a_base() {
            return Err(
                Error::new(codes::INVALID_OPTION, "option `base_url` must be an http(s) URL").with_field("base_url")
            );
        }
        Ok(Api { http, root, key: options.api_key.clone(), retry: RetryPolicy::from(options) })
    }

    pub fn customers(&self) -> Customers<'_> {
        Customers(self)
    }

    pub fn items(&self) -> Items<'_> {
        Items(self)
    }

    pub fn metrics(&self) -> Metrics<'_> {
        Metrics(self)
    }

    pub fn usage(&self) -> UsageApi<'_> {
        UsageApi(self)
    }

    pub fn invoices(&self) -> Invoices<'_> {
        Invoices(self)
    }

    pub fn tokens(&self) -> Tokens<'_> {
        Tokens(self)
    }

    pub fn contracts(&self) -> Contracts<'_> {
        Contracts(self)
    }

    pub fn rejections(&self) -> Rejections<'_> {
        Rejections(self)
    }

    /// `root` + the path segments, each percent-encoded (an id can never change the path).
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str], query: &[(&str, String)]) -> Result<T, Error> {
        Ok(self.send(Method::GET, self.url(segments, query), None, None).await?)
    }

    /// Every page of a list, following `next_cursor` (API.md, "Conventions"), at the
    /// largest page size.
    async fn all<T: DeserializeOwned>(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            q.push(("limit", MAX_PAGE.to_string()));
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let page: Page<T> = self.get(segments, &q).await?;
            out.extend(page.data);
            // A cursor that does not move would loop forever; the server never sends one.
            match page.next_cursor {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// A `POST` under `key` (checked), or a fresh one.
    async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: Option<&impl Serialize>,
        key: Option<&str>,
    ) -> Result<T, Failed> {
        let fresh;
        let key = match key {
            Some(k) if k.is_empty() || k.len() > MAX_KEY_LEN || k.chars().any(char::is_control) => {
                let message = format!("an idempotency key must be 1 to {MAX_KEY_LEN} characters");
                let error = Error::new(codes::INVALID_OPTION, message).with_field("idempotency_key");
                return Err(Failed { error, retried: false });
            }
            Some(k) => k,
            None => {
                fresh = uuid::Uuid::now_v7().to_string();
                &fresh
            }
        };
        let body = body.map(json).transpose().map_err(|error| Failed { error, retried: false })?;
        self.send(Method::POST, self.url(segments, &[]), body, Some(key)).await
    }

    async fn patch<T: DeserializeOwned>(&self, segments: &[&str], body: &impl Serialize) -> Result<T, Error> {
        Ok(self.send(Method::PATCH, self.url(segments, &[]), Some(json(body)?), None).await?)
    }

    /// One call with a JSON answer: retried under the same `Idempotency-Key`, decoded, or
    /// the server's error.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Body>,
        idempotency_key: Option<&str>,
    ) -> Result<T, Failed> {
        let what = format!("{method} {}", url.path());
        let decode = |status: u16, _: &HeaderMap, bytes: &[u8]| {
            serde_json::from_slice(bytes).map_err(|e| {
                Error::new(codes::INVALID_RESPONSE, format!("unexpected answer to {what}: {e}")).with_status(status)
            })
        };
        self.exchange(method, url, body, idempotency_key, decode).await
    }

    /// One call: retried under the same `Idempotency-Key`; a success read by `read` (its
    /// status, headers and body), any other answer the server's error.
    async fn exchange<T>(
        &self,
        method: Method,
        url: Url,
        body: Option<Body>,
        idempotency_key: Option<&str>,
        read: impl Fn(u16, &HeaderMap, &[u8]) -> Result<T, Error>,
    ) -> Result<T, Failed> {
        let request = || {
            let mut req = self.http.request(method.clone(), url.clone()).bearer_auth(&self.key);
            if let Some(key) = idempotency_key {
                req = req.header("idempotency-key", key);
            }
            if let Some(b) = &body {
                req = req.header(CONTENT_TYPE, b.content_type).body(b.bytes.clone());
            }
            req
        };
        let settle = |status: u16, headers: &HeaderMap, bytes: &[u8]| {
            if !(200..300).contains(&status) {
                return Answer::error(status, bytes);
            }
            match read(status, headers, bytes) {
                Ok(value) => Answer::Done(value),
                Err(e) => Answer::Final(e),
            }
        };
        send_with_retries(self.retry, request, settle).await
    }
}

/// A request's body and its content type.
struct Body {
    content_type: &'static str,
    bytes: Vec<u8>,
}

fn json(body: &impl Serialize) -> Result<Body, Error> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| Error::new("invalid_request", format!("the body cannot be serialized: {e}")))?;
    Ok(Body { content_type: "application/json", bytes })
}

/// `limit` and `cursor`, then the filter's own parameters.
fn filter_query(
    limit: Option<u32>,
    cursor: &Option<String>,
    extra: impl IntoIterator<Item = (&'static str, String)>,
) -> Vec<(&'static str, String)> {
    let mut q = list_query(&ListParams { limit, cursor: cursor.clone() });
    q.extend(extra);
    q
}

/// The file name of a `content-disposition` header: `filename*=UTF-8''…` (RFC 6266)
/// before `filename="…"`.
fn disposition_filename(value: &str) -> Option<String> {
    let params = || value.split(';').skip(1).filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim()));
    let extended = params()
        .find(|(k, _)| k.eq_ignore_ascii_case("filename*"))
        .and_then(|(_, v)| v.get(..7).filter(|p| p.eq_ignore_ascii_case("utf-8''")).map(|_| &v[7..]))
        .and_then(percent_decode);
    extended.or_else(|| {
        let (_, v) = params().find(|(k, _)| k.eq_ignore_ascii_case("filename"))?;
        match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(quoted) => {
                let mut out = String::with_capacity(quoted.len());
                let mut chars = quoted.chars();
                while let Some(c) = chars.next() {
                    out.push(if c == '\\' { chars.next().unwrap_or(c) } else { c });
                }
                Some(out)
            }
            None => Some(v.to_owned()),
        }
    })
}

/// `%xx` escapes decoded as UTF-8; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

fn list_query(p: &ListParams) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(l) = p.limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(c) = &p.cursor {
        q.push(("cursor", c.clone()));
    }
    q
}

/// `Option::<&()>::None` for a `POST` without a body.
const NO_BODY: Option<&()> = None;

/// Whether a stored metric has the definition sent.
fn same_metric(m: &Metric, input: &MetricInput) -> bool {
    m.code == input.code
        && m.name == input.name
        && m.event_name == input.event_name
        && m.aggregation == input.aggregation
        && m.field == input.field
        && m.filters.as_ref().filter(|f| !f.is_empty()) == input.filters.as_ref().filter(|f| !f.is_empty())
}

/// API.md "Customers".
#[derive(Clone, Copy, Debug)]
pub struct Customers<'a>(&'a Api);

impl Customers<'_> {
    /// `POST /v1/customers` → 201 (needs `name` and `email`).
    pub async fn create(&self, input: &CustomerInput) -> Result<Customer, Error> {
        Ok(self.0.post(&["v1", "customers"], Some(input), None).await?)
    }

    /// [`Customers::create`] under your own `Idempotency-Key` (say, your user's id), so a
    /// retry after a restart of your process cannot make a second customer (for 24 hours).
    pub async fn create_with_key(&self, input: &CustomerInput, idempotency_key: &str) -> Result<Customer, Error> {
        Ok(self.0.post(&["v1", "customers"], Some(input), Some(idempotency_key)).await?)
    }

    pub async fn get(&self, id: &str) -> Result<Customer, Error> {
        self.0.get(&["v1", "customers", id], &[]).await
    }

    /// One page; pass its `next_cursor` as the next call's `cursor`.
    pub async fn list(&self, params: &ListParams) -> Result<Page<Customer>, Error> {
        self.0.get(&["v1", "customers"], &list_query(params)).await
    }

    /// Every customer, page after page.
    pub async fn list_all(&self) -> Result<Vec<Customer>, Error> {
        self.0.all(&["v1", "customers"], &[]).await
    }

    /// `PATCH /v1/customers/{id}` with the fields to change.
    pub async fn update(&self, id: &str, changes: &CustomerInput) -> Result<Customer, Error> {
        self.0.patch(&["v1", "customers", id], changes).await
    }
}

/// API.md "Items".
#[derive(Clone, Copy, Debug)]
pub struct Items<'a>(&'a Api);

impl Items<'_> {
    /// `POST /v1/customers/{id}/items` → 201.
    pub async fn create(&self, customer_id: &str, input: &ItemInput) -> Result<Item, Error> {
        Ok(self.0.post(&["v1", "customers", customer_id, "items"], Some(input), None).await?)
    }

    /// [`Items::create`] under your own `Idempotency-Key`.
    pub async fn create_with_key(
        &self,
        customer_id: &str,
        input: &ItemInput,
        idempotency_key: &str,
    ) -> Result<Item, Error> {
        Ok(self.0.post(&["v1", "customers", customer_id, "items"], Some(input), Some(idempotency_key)).await?)
    }

    /// `GET /v1/items?customer_id=…`: all of a customer's items (one page).
    pub async fn list(&self, customer_id: &str) -> Result<Page<Item>, Error> {
        self.0.get(&["v1", "items"], &[("customer_id", customer_id.to_owned())]).await
    }
}

/// API.md "Billable metrics".
#[derive(Clone, Copy, Debug)]
pub struct Metrics<'a>(&'a Api);

impl Metrics<'_> {
    /// `POST /v1/billing/metrics` → 201; a code in use is 409 `duplicate_metric_code`.
    pub async fn create(&self, input: &MetricInput) -> Result<Metric, Error> {
        match self.0.post(&["v1", "billing", "metrics"], Some(input), None).await {
            Ok(m) => Ok(m),
            // A retry whose first attempt created the metric: the same definition is success.
            Err(f) if f.retried && f.error.code == "duplicate_metric_code" => {
                let m = self.get(&input.code).await?;
                if same_metric(&m, input) {
                    Ok(m)
                } else {
                    Err(f.error)
                }
            }
            Err(f) => Err(f.error),
        }
    }

    pub async fn get(&self, code: &str) -> Result<Metric, Error> {
        self.0.get(&["v1", "billing", "metrics", code], &[]).await
    }

    pub async fn list(&self, params: &ListParams) -> Result<Page<Metric>, Error> {
        self.0.get(&["v1", "billing", "metrics"], &list_query(params)).await
    }

    /// Every metric, page after page.
    pub async fn list_all(&self) -> Result<Vec<Metric>, Error> {
        self.0.all(&["v1", "billing", "metrics"], &[]).await
    }
}

/// API.md "Usage and upcoming invoice", and `POST /v1/usage/void`.
#[derive(Clone, Copy, Debug)]
pub struct UsageApi<'a>(&'a Api);

impl UsageApi<'_> {
    /// The service period containing `at` (RFC 3339; default now) and its usage.
    pub async fn get(&self, customer_id: &str, at: Option<&str>) -> Result<Usage, Error> {
        let query: Vec<(&str, String)> = at.map(|a| ("at", a.to_owned())).into_iter().collect();
        self.0.get(&["v1", "customers", customer_id, "usage"], &query).await
    }

    /// The invoice the current period would produce from the usage so far.
    pub async fn upcoming(&self, customer_id: &str) -> Result<Invoice, Error> {
        self.0.get(&["v1", "customers", customer_id, "invoices", "upcoming"], &[]).await
    }

    /// Retracts an accepted event whose period is not final; its key stays a duplicate.
    pub async fn void(&self, input: &VoidUsage) -> Result<VoidedUsage, Error> {
        Ok(self.0.post(&["v1", "usage", "void"], Some(input), None).await?)
    }

    /// The service period containing `at` (RFC 3339; default now), one point per UTC day
    /// for each metric the customer's items use.
    pub async fn daily(&self, customer_id: &str, at: Option<&str>) -> Result<DailyUsage, Error> {
        let query: Vec<(&str, String)> = at.map(|a| ("at", a.to_owned())).into_iter().collect();
        self.0.get(&["v1", "customers", customer_id, "usage", "daily"], &query).await
    }
}

/// API.md "Invoices".
#[derive(Clone, Copy, Debug)]
pub struct Invoices<'a>(&'a Api);

impl Invoices<'_> {
    /// `GET /v1/invoices?customer_id=&status=`.
    pub async fn list(&self, filter: &InvoiceFilter) -> Result<Page<Invoice>, Error> {
        let mut query = list_query(&ListParams { limit: filter.limit, cursor: filter.cursor.clone() });
        if let Some(c) = &filter.customer_id {
            query.push(("customer_id", c.clone()));
        }
        if let Some(s) = filter.status {
            query.push(("status", s.as_str().to_owned()));
        }
        self.0.get(&["v1", "invoices"], &query).await
    }

    /// Every invoice matching the filter's `customer_id` and `status`, page after page
    /// (its `limit` and `cursor` are ignored).
    pub async fn list_all(&self, filter: &InvoiceFilter) -> Result<Vec<Invoice>, Error> {
        let mut query = Vec::new();
        if let Some(c) = &filter.customer_id {
            query.push(("customer_id", c.clone()));
        }
        if let Some(s) = filter.status {
            query.push(("status", s.as_str().to_owned()));
        }
        self.0.all(&["v1", "invoices"], &query).await
    }

    pub async fn get(&self, id: &str) -> Result<Invoice, Error> {
        self.0.get(&["v1", "invoices", id], &[]).await
    }

    /// Sends a `pending_approval` invoice; 409 `invalid_invoice_state` from another state.
    pub async fn approve(&self, id: &str) -> Result<Invoice, Error> {
        self.transition(id, "approve", InvoiceStatus::Sent).await
    }

    /// Voids an invoice in any state but `void`.
    pub async fn void(&self, id: &str) -> Result<Invoice, Error> {
        self.transition(id, "void", InvoiceStatus::Void).await
    }

    /// Approve or void; a retry that finds the invoice already there is a success.
    async fn transition(&self, id: &str, op: &str, target: InvoiceStatus) -> Result<Invoice, Error> {
        match self.0.post(&["v1", "invoices", id, op], NO_BODY, None).await {
            Ok(invoice) => Ok(invoice),
            Err(f) if f.retried && f.error.code == "invalid_invoice_state" => {
                let invoice = self.get(id).await?;
                if invoice.status == target {
                    Ok(invoice)
                } else {
                    Err(f.error)
                }
            }
            Err(f) => Err(f.error),
        }
    }
}

/// API.md "Customer tokens".
#[derive(Clone, Copy, Debug)]
pub struct Tokens<'a>(&'a Api);

impl Tokens<'_> {
    /// A `ct_` token that may ingest this one customer's events until it expires.
    pub async fn create(&self, input: &TokenInput) -> Result<CustomerToken, Error> {
        // Minted from the request alone and stored nowhere: a retry is harmless.
        Ok(self.0.post(&["v1", "tokens"], Some(input), None).await?)
    }
}

/// API.md "Contracts": a customer-to-be with its items, drafted, then accepted (which
/// creates the customer and its items, once) or canceled.
#[derive(Clone, Copy, Debug)]
pub struct Contracts<'a>(&'a Api);

impl Contracts<'_> {
    /// `POST /v1/contracts` → 201. An invalid contract is 400 `invalid_contract` with
    /// every problem in the error's `errors`.
    pub async fn create(&self, input: &ContractInput) -> Result<Contract, Error> {
        Ok(self.0.post(&["v1", "contracts"], Some(input), None).await?)
    }

    /// [`Contracts::create`] under your own `Idempotency-Key`.
    pub async fn create_with_key(&self, input: &ContractInput, idempotency_key: &str) -> Result<Contract, Error> {
        Ok(self.0.post(&["v1", "contracts"], Some(input), Some(idempotency_key)).await?)
    }

    pub async fn get(&self, id: &str) -> Result<Contract, Error> {
        self.0.get(&["v1", "contracts", id], &[]).await
    }

    /// `GET /v1/contracts?status=`, oldest first.
    pub async fn list(&self, filter: &ContractFilter) -> Result<Page<Contract>, Error> {
        let status = filter.status.map(|s| ("status", s.as_str().to_owned()));
        self.0.get(&["v1", "contracts"], &filter_query(filter.limit, &filter.cursor, status)).await
    }

    /// Every contract with the filter's `status`, page after page (its `limit` and
    /// `cursor` are ignored).
    pub async fn list_all(&self, filter: &ContractFilter) -> Result<Vec<Contract>, Error> {
        let query: Vec<_> = filter.status.map(|s| ("status", s.as_str().to_owned())).into_iter().collect();
        self.0.all(&["v1", "contracts"], &query).await
    }

    /// `PATCH /v1/contracts/{id}`: each field given replaces that field wholly; only
    /// while `draft` (else 409 `contract_not_draft`).
    pub async fn update(&self, id: &str, changes: &ContractInput) -> Result<Contract, Error> {
        self.0.patch(&["v1", "contracts", id], changes).await
    }

    /// Creates the contract's customer and items. 409 `contract_not_draft` for a
    /// contract accepted or canceled, `contract_expired` past its `expires_at`.
    pub async fn accept(&self, id: &str) -> Result<ContractAcceptance, Error> {
        match self.0.post(&["v1", "contracts", id, "accept"], NO_BODY, None).await {
            Ok(accepted) => Ok(accepted),
            // A retry whose first attempt went through: the accepted contract is success.
            Err(f) if f.retried && f.error.code == CONTRACT_NOT_DRAFT => {
                let contract = self.get(id).await?;
                match (&contract.status, &contract.customer_id) {
                    (ContractStatus::Accepted, Some(customer_id)) => {
                        let customer = self.0.customers().get(customer_id).await?;
                        Ok(ContractAcceptance { contract, customer })
                    }
                    _ => Err(f.error),
                }
            }
            Err(f) => Err(f.error),
        }
    }

    /// Cancels a draft (else 409 `contract_not_draft`).
    pub async fn cancel(&self, id: &str) -> Result<Contract, Error> {
        match self.0.post(&["v1", "contracts", id, "cancel"], NO_BODY, None).await {
            Ok(canceled) => Ok(canceled),
            Err(f) if f.retried && f.error.code == CONTRACT_NOT_DRAFT => {
                let contract = self.get(id).await?;
                if contract.status == ContractStatus::Canceled {
                    Ok(contract)
                } else {
                    Err(f.error)
                }
            }
            Err(f) => Err(f.error),
        }
    }

    /// `PUT /v1/contracts/{id}/document`: attaches (or replaces) the contract's
    /// document, sent as its raw bytes. The server reads the type from them (PDF, PNG,
    /// JPEG, GIF or WebP; else 415 `unsupported_media_type`); at most
    /// [`MAX_DOCUMENT_BYTES`] (else `payload_too_large`, before sending). Only while
    /// `draft`. `filename` is kept as the document's `name` (default `document.<ext>`).
    pub async fn upload_document(
        &self,
        id: &str,
        bytes: impl Into<Vec<u8>>,
        filename: Option<&str>,
    ) -> Result<Contract, Error> {
        let bytes = bytes.into();
        if bytes.len() > MAX_DOCUMENT_BYTES {
            let message = format!("a document is at most {MAX_DOCUMENT_BYTES} bytes, not {}", bytes.len());
            return Err(Error::new("payload_too_large", message));
        }
        let query: Vec<_> = filename.map(|f| ("filename", f.to_owned())).into_iter().collect();
        let url = self.0.url(&["v1", "contracts", id, "document"], &query);
        let body = Body { content_type: "application/octet-stream", bytes };
        Ok(self.0.send(Method::PUT, url, Some(body), None).await?)
    }

    /// `GET /v1/contracts/{id}/document`: the bytes, their type and file name; 404
    /// `not_found` when the contract has none.
    pub async fn download_document(&self, id: &str) -> Result<DownloadedDocument, Error> {
        let url = self.0.url(&["v1", "contracts", id, "document"], &[]);
        let read = |_: u16, headers: &HeaderMap, bytes: &[u8]| {
            let header = |name| headers.get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok());
            Ok(DownloadedDocument {
                content_type: header(CONTENT_TYPE).unwrap_or("application/octet-stream").to_owned(),
                filename: header(CONTENT_DISPOSITION).and_then(disposition_filename),
                bytes: bytes.to_vec(),
            })
        };
        Ok(self.0.exchange(Method::GET, url, None, None, read).await?)
    }
}

/// The server's code for a contract that is no longer a draft.
const CONTRACT_NOT_DRAFT: &str = "contract_not_draft";

/// API.md "Rejected events": the most recent events ingest refused (100 per log).
#[derive(Clone, Copy, Debug)]
pub struct Rejections<'a>(&'a Api);

impl Rejections<'_> {
    /// A customer's log with `customer_id`, else the account's; newest first.
    pub async fn list(&self, filter: &RejectionFilter) -> Result<Page<Rejection>, Error> {
        let query = filter_query(filter.limit, &filter.cursor, None);
        match &filter.customer_id {
            Some(c) => self.0.get(&["v1", "customers", c, "rejections"], &query).await,
            None => self.0.get(&["v1", "rejections"], &query).await,
        }
    }
}

/// API.md "Checking an invoice": the events behind an invoice, and simulation
/// (`super::verify` checks an invoice and quotes a price locally).
impl Invoices<'_> {
    /// `GET /v1/invoices/{id}/events`: one page of the events the invoice counted, in
    /// idempotency-key order.
    pub async fn events(&self, id: &str, params: &ListParams) -> Result<Page<InvoiceEvent>, Error> {
        self.0.get(&["v1", "invoices", id, "events"], &list_query(params)).await
    }

    /// Every event the invoice counted, page after page.
    pub async fn events_all(&self, id: &str) -> Result<Vec<InvoiceEvent>, Error> {
        self.0.all(&["v1", "invoices", id, "events"], &[]).await
    }
}

impl Customers<'_> {
    /// `POST /v1/customers/{id}/simulate`: the invoice the period would have produced
    /// under other items, from its stored events; nothing is changed.
    pub async fn simulate(&self, customer_id: &str, input: &SimulationInput) -> Result<SimulatedInvoice, Error> {
        Ok(self.0.post(&["v1", "customers", customer_id, "simulate"], Some(input), None).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_downloads_file_name_comes_from_content_disposition() {
        let name = |v| disposition_filename(v);
        assert_eq!(name(r#"attachment; filename="msa.pdf""#).as_deref(), Some("msa.pdf"));
        assert_eq!(name(r#"attachment; filename="a \"b\".pdf""#).as_deref(), Some(r#"a "b".pdf"#));
        assert_eq!(name("attachment; filename=plain.png").as_deref(), Some("plain.png"));
        assert_eq!(
            name(r#"attachment; filename="x.pdf"; filename*=UTF-8''%C3%A9t%C3%A9.pdf"#).as_deref(),
            Some("été.pdf")
        );
        assert_eq!(name(r#"attachment; filename*=UTF-8''%ZZ; filename="ok.pdf""#).as_deref(), Some("ok.pdf"));
        assert_eq!(name("attachment"), None);
    }

    #[test]
    fn ids_cannot_change_the_path() {
        let api = Api::new("sk_x", "http://127.0.0.1:8787/base/").unwrap();
        let url = api.url(&["v1", "customers", "cus_1/../../x?y"], &[("at", "2026-11-01T00:00:00+01:00".into())]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8787/base/v1/customers/cus_1%2F..%2F..%2Fx%3Fy?at=2026-11-01T00%3A00%3A00%2B01%3A00"
        );
    }
}
