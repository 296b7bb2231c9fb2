//! Messages between the front worker and the Durable Objects, and the call itself.
//!
//! Each call is `POST https://object/<op>` with a JSON body; the object answers with the
//! API's own JSON (a resource, or `{"error": …}` with its status), so the front passes an
//! object's answer through unchanged.

use edgemeter_core::customer::Customer;
use edgemeter_core::event::{Properties, ValidEvent};
use edgemeter_core::hash::ContentHash;
use edgemeter_core::item::Item;
use edgemeter_core::metric::{Metric, MetricDef};
use edgemeter_core::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use worker::{Headers, Method, Request, RequestInit, Response, Result, Stub};

/// An event on its way to its customer's object: validated, customer implied.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireEvent<'a> {
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    #[serde(borrow)]
    pub event_name: Cow<'a, str>,
    pub value: Decimal,
    /// Milliseconds since the epoch, UTC.
    pub ts: i64,
    pub ts_given: bool,
    pub props: Properties<'a>,
    pub hash: ContentHash,
}

impl<'a> WireEvent<'a> {
    pub fn from_valid(ev: &'a ValidEvent<'a>) -> WireEvent<'a> {
        WireEvent {
            key: Cow::Borrowed(&ev.idempotency_key),
            event_name: Cow::Borrowed(&ev.event_name),
            value: ev.value,
            ts: ev.timestamp.millis(),
            ts_given: ev.timestamp_given,
            // Borrowed property strings are copied as pointers, not bytes.
            props: ev.properties.clone(),
            hash: ev.hash,
        }
    }

    /// Back to the core type, for aggregation inside the customer's object.
    pub fn to_valid<'s>(&'s self, customer_id: &'s str) -> ValidEvent<'s> {
        ValidEvent {
            idempotency_key: Cow::Borrowed(&self.key),
            customer_id: Cow::Borrowed(customer_id),
            event_name: Cow::Borrowed(&self.event_name),
            value: self.value,
            timestamp: Timestamp(self.ts),
            timestamp_given: self.ts_given,
            properties: self.props.clone(),
            hash: self.hash,
        }
    }
}

/// `ingest`: a customer's events from one request, with the metrics their names feed.
#[derive(Serialize, Deserialize)]
pub struct IngestCall<'a> {
    pub now: Timestamp,
    pub metrics: Vec<MetricDef>,
    #[serde(borrow)]
    pub events: Vec<WireEvent<'a>>,
}

/// One event's fate, in the order sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    Accepted,
    Duplicate,
    /// The key was stored with a different payload.
    Reused,
    /// The event falls in a period whose invoice is finalized.
    Closed,
}

#[derive(Serialize, Deserialize)]
pub struct IngestReply {
    pub fates: Vec<Fate>,
}

#[derive(Serialize, Deserialize)]
pub struct UsageCall {
    pub at: Timestamp,
    pub metrics: Vec<MetricDef>,
}

#[derive(Serialize, Deserialize)]
pub struct VoidCall {
    pub now: Timestamp,
    pub key: String,
    pub metrics: Vec<MetricDef>,
}

#[derive(Serialize, Deserialize)]
pub struct CreateItemCall {
    pub item: Item,
}

#[derive(Serialize, Deserialize)]
pub struct CreateMetricCall {
    pub metric: Metric,
}

#[derive(Serialize, Deserialize)]
pub struct ListCall {
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct DirectoryPut {
    pub customer: Customer,
}

/// Calls `op` on an object with a JSON body.
pub async fn call<T: Serialize + ?Sized>(stub: &Stub, op: &str, body: &T) -> Result<Response> {
    call_bytes(stub, op, serde_json::to_vec(body)?).await
}

/// Calls `op` on an object with a body that is already bytes.
pub async fn call_bytes(stub: &Stub, op: &str, body: Vec<u8>) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    let req = Request::new_with_init(&format!("https://object/{op}"), &init)?;
    stub.fetch_with_request(req).await
}
