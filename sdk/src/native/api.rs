//! The typed client for the rest of the API (API.md): customers, items, metrics, usage,
//! invoices and tokens, so a server app needs no hand-written HTTP. It retries as the JS
//! client's `api.js` does, and every request is safe to retry:
//! - every request is retried on network errors, timeouts, 408, 429 and 5xx, with the
//!   tracking client's backoff (full jitter, `Retry-After` honoured, `max_retries`);
//! - GET and PATCH are idempotent (a patch sets the same fields again);
//! - every POST carries an `Idempotency-Key`, the same on each retry (the caller's, for
//!   the `*_with_key` methods, else a fresh UUID per call), so the server answers a
//!   retry of a create whose answer was lost with the first response;
//! - that replay store is eventually consistent, so a retry could miss it: a retried
//!   approve or void answered 409 `invalid_invoice_state` returns the invoice if it
//!   already has the wanted status, and a retried metric create answered 409
//!   `duplicate_metric_code` returns the metric if its definition is the one sent.

use super::error::{codes, Error};
use super::options::Options;
use super::retry::{send_with_retries, Answer, Failed, RetryPolicy};
use super::types::*;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// The largest `limit` a list takes.
const MAX_PAGE: u32 = 500;
/// The longest `Idempotency-Key` a caller may give.
const MAX_KEY_LEN: usize = 255;

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

    /// One call: retried under the same `Idempotency-Key`, decoded, or the server's error.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<T, Failed> {
        let request = || {
            let mut req = self.http.request(method.clone(), url.clone()).bearer_auth(&self.key);
            if let Some(key) = idempotency_key {
                req = req.header("idempotency-key", key);
            }
            if let Some(b) = &body {
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.clone());
            }
            req
        };
        let settle = |status: u16, bytes: &[u8]| {
            if !(200..300).contains(&status) {
                return Answer::error(status, bytes);
            }
            match serde_json::from_slice(bytes) {
                Ok(value) => Answer::Done(value),
                Err(e) => {
                    let message = format!("unexpected answer to {method} {}: {e}", url.path());
                    Answer::Final(Error::new(codes::INVALID_RESPONSE, message).with_status(status))
                }
            }
        };
        send_with_retries(self.retry, request, settle).await
    }
}

fn json(body: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(body)
        .map_err(|e| Error::new("invalid_request", format!("the body cannot be serialized: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

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
