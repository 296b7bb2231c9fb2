//! The typed client for the rest of the API (API.md): customers, items, metrics, usage,
//! invoices and tokens, so a server app needs no hand-written HTTP. Each call is one
//! request; reads, and creates (which carry a fresh `Idempotency-Key`, so the server
//! answers a repeat with the first response), are retried on network errors, 408, 429
//! and 5xx. State changes without a key (approve, void, patch) are not: a retry of one
//! that did happen would fail with a misleading 409.

use super::batch;
use super::error::{codes, Error};
use super::tracker::transport_error;
use super::types::*;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// Attempts of a retryable call, and the backoff between them.
const API_ATTEMPTS: u32 = 3;
const API_RETRY_BASE: Duration = Duration::from_millis(250);
const API_RETRY_MAX: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest `limit` a list takes.
const MAX_PAGE: u32 = 500;

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
    timeout: Duration,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("root", &self.root.as_str()).finish_non_exhaustive()
    }
}

impl Api {
    /// A client for the API at `base_url` with the default 30 s request timeout.
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>) -> Result<Api, Error> {
        let options = super::Options::new(api_key, base_url);
        options.validate()?;
        Api::with_client(http_client(DEFAULT_TIMEOUT)?, &options.base_url, &options.api_key, DEFAULT_TIMEOUT)
    }

    /// Shares a client built with [`http_client`]`(timeout)`.
    pub(crate) fn with_client(
        http: reqwest::Client,
        base_url: &str,
        key: &str,
        timeout: Duration,
    ) -> Result<Api, Error> {
        let root = Url::parse(base_url.trim_end_matches('/')).map_err(|e| {
            Error::new(codes::INVALID_OPTION, format!("option `base_url` is not a URL: {e}")).with_field("base_url")
        })?;
        if root.cannot_be_a_base() {
            return Err(
                Error::new(codes::INVALID_OPTION, "option `base_url` must be an http(s) URL").with_field("base_url")
            );
        }
        Ok(Api { http, root, key: key.to_owned(), timeout })
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
        self.call(Method::GET, self.url(segments, query), None, Retry::Safe).await
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

    /// A `POST` that creates something: sent with an `Idempotency-Key`, so retried.
    async fn create<T: DeserializeOwned>(&self, segments: &[&str], body: &impl Serialize) -> Result<T, Error> {
        self.call(
            Method::POST,
            self.url(segments, &[]),
            Some(json(body)?),
            Retry::WithKey(uuid::Uuid::now_v7().to_string()),
        )
        .await
    }

    /// A state change without a key: sent once.
    async fn change<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<T, Error> {
        let body = body.map(json).transpose()?;
        self.call(method, self.url(segments, &[]), body, Retry::Never).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
        retry: Retry,
    ) -> Result<T, Error> {
        let attempts = if matches!(retry, Retry::Never) { 1 } else { API_ATTEMPTS };
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), url.clone()).bearer_auth(&self.key);
            if let Retry::WithKey(key) = &retry {
                req = req.header("idempotency-key", key);
            }
            if let Some(b) = &body {
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.clone());
            }
            let (error, retry_after) = match req.send().await {
                Err(e) => (transport_error(&e, self.timeout), None),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| batch::parse_retry_after(v, SystemTime::now()));
                    match resp.bytes().await {
                        Err(e) => (transport_error(&e, self.timeout), None),
                        Ok(bytes) if (200..300).contains(&status) => {
                            return serde_json::from_slice(&bytes).map_err(|e| {
                                Error::new(
                                    codes::INVALID_RESPONSE,
                                    format!("unexpected answer to {method} {}: {e}", url.path()),
                                )
                                .with_status(status)
                            });
                        }
                        Ok(bytes) => {
                            let error = Error::from_body(status, &bytes);
                            if !batch::retryable(status) {
                                return Err(error);
                            }
                            (error, retry_after)
                        }
                    }
                }
            };
            attempt += 1;
            if attempt >= attempts {
                return Err(error);
            }
            let cap = batch::backoff_cap(attempt - 1, API_RETRY_BASE, API_RETRY_MAX);
            tokio::time::sleep(retry_after.unwrap_or_else(|| batch::jitter(cap))).await;
        }
    }
}

enum Retry {
    /// A read.
    Safe,
    /// A create, under this `Idempotency-Key` on every attempt.
    WithKey(String),
    Never,
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

/// API.md "Customers".
#[derive(Clone, Copy, Debug)]
pub struct Customers<'a>(&'a Api);

impl Customers<'_> {
    /// `POST /v1/customers` → 201 (needs `name` and `email`).
    pub async fn create(&self, input: &CustomerInput) -> Result<Customer, Error> {
        self.0.create(&["v1", "customers"], input).await
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
        self.0.change(Method::PATCH, &["v1", "customers", id], Some(changes)).await
    }
}

/// API.md "Items".
#[derive(Clone, Copy, Debug)]
pub struct Items<'a>(&'a Api);

impl Items<'_> {
    /// `POST /v1/customers/{id}/items` → 201.
    pub async fn create(&self, customer_id: &str, input: &ItemInput) -> Result<Item, Error> {
        self.0.create(&["v1", "customers", customer_id, "items"], input).await
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
        self.0.create(&["v1", "billing", "metrics"], input).await
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
        self.0.change(Method::POST, &["v1", "usage", "void"], Some(input)).await
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
        self.0.change(Method::POST, &["v1", "invoices", id, "approve"], NO_BODY).await
    }

    /// Voids an invoice in any state but `void`.
    pub async fn void(&self, id: &str) -> Result<Invoice, Error> {
        self.0.change(Method::POST, &["v1", "invoices", id, "void"], NO_BODY).await
    }
}

/// API.md "Customer tokens".
#[derive(Clone, Copy, Debug)]
pub struct Tokens<'a>(&'a Api);

impl Tokens<'_> {
    /// A `ct_` token that may ingest this one customer's events until it expires.
    pub async fn create(&self, input: &TokenInput) -> Result<CustomerToken, Error> {
        self.0.create(&["v1", "tokens"], input).await
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
