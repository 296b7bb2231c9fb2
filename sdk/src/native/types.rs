//! The API's request and response bodies (API.md; `openapi.json`). Responses ignore
//! fields they do not know, so a server that adds one does not break a deployed client.
//! Money and quantities are decimal strings, as on the wire: never a binary float.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A page of a list: `{"data": […], "next_cursor": "…" | null}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `limit` (1 to 500, server default 50) and `cursor` (a page's `next_cursor`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// When invoices are made: `interval` `week`, `month`, `quarter` or `year`, from `anchor`
/// (a date, `2026-11-01`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_generate_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_hours: Option<u32>,
}

/// `POST /v1/customers`; `PATCH /v1/customers/{id}` takes the same fields, each optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CustomerInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// ISO 4217; default `USD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_schedule: Option<Schedule>,
    /// Send final invoices without approval; default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_send: Option<bool>,
}

impl CustomerInput {
    /// The two fields a new customer needs.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> CustomerInput {
        CustomerInput { name: Some(name.into()), email: Some(email.into()), ..CustomerInput::default() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub external_id: Option<String>,
    pub currency: String,
    #[serde(default)]
    pub invoice_schedule: Option<Schedule>,
    #[serde(default)]
    pub auto_send: bool,
    /// The contract (`ctr_…`) whose acceptance created the customer.
    #[serde(default)]
    pub contract_id: Option<String>,
    pub created_at: String,
}

/// How a metric turns events into a quantity (API.md, "Billable metrics").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    Sum,
    Count,
    Max,
    UniqueCount,
    Latest,
    /// One this client does not know yet (responses only).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `POST /v1/billing/metrics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetricInput {
    pub code: String,
    pub name: String,
    pub event_name: String,
    pub aggregation: Aggregation,
    /// The property `unique_count` counts (required for it, refused for others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Only events whose property is one of the listed values count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<BTreeMap<String, Vec<String>>>,
}

impl MetricInput {
    pub fn new(
        code: impl Into<String>,
        name: impl Into<String>,
        event_name: impl Into<String>,
        aggregation: Aggregation,
    ) -> MetricInput {
        MetricInput {
            code: code.into(),
            name: name.into(),
            event_name: event_name.into(),
            aggregation,
            field: None,
            filters: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Metric {
    pub id: String,
    pub code: String,
    pub name: String,
    pub event_name: String,
    pub aggregation: Aggregation,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub filters: Option<BTreeMap<String, Vec<String>>>,
    pub created_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Usage,
    Fixed,
    #[serde(other, skip_serializing)]
    Unknown,
}

/// One tier of a graduated or volume price; the last has `up_to: None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Read from a decimal string or a JSON number (a contract keeps its tiers as given).
    #[serde(default, deserialize_with = "decimal_text")]
    pub up_to: Option<String>,
    pub unit_amount: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat_amount: Option<String>,
}

/// A price model (API.md, "Items"); amounts are decimal strings (`"0.05"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Price {
    PerUnit {
        unit_amount: String,
    },
    /// Whole packages, rounded up.
    Package {
        package_size: u64,
        package_amount: String,
    },
    Graduated {
        tiers: Vec<Tier>,
    },
    Volume {
        tiers: Vec<Tier>,
    },
    Fixed {
        amount: String,
    },
}

/// `POST /v1/customers/{id}/items`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemInput {
    pub name: String,
    pub kind: ItemKind,
    /// The metric a `usage` item is billed by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_code: Option<String>,
    pub price: Price,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<String>,
}

impl ItemInput {
    /// A usage item billed by `metric_code`.
    pub fn usage(name: impl Into<String>, metric_code: impl Into<String>, price: Price) -> ItemInput {
        ItemInput {
            name: name.into(),
            kind: ItemKind::Usage,
            metric_code: Some(metric_code.into()),
            price,
            minimum: None,
        }
    }

    /// A fixed fee per period.
    pub fn fixed(name: impl Into<String>, amount: impl Into<String>) -> ItemInput {
        ItemInput {
            name: name.into(),
            kind: ItemKind::Fixed,
            metric_code: None,
            price: Price::Fixed { amount: amount.into() },
            minimum: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Item {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub kind: ItemKind,
    #[serde(default)]
    pub metric_code: Option<String>,
    /// The event name that feeds it: what a client may send for this item.
    #[serde(default)]
    pub event_name: Option<String>,
    pub price: Price,
    #[serde(default)]
    pub minimum: Option<String>,
    pub created_at: String,
}

/// `[start, end)` in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Period {
    pub start: String,
    pub end: String,
}

/// `GET /v1/customers/{id}/usage`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Usage {
    pub customer_id: String,
    #[serde(default)]
    pub currency: Option<String>,
    pub period: Period,
    pub metrics: Vec<MetricUsage>,
    #[serde(default)]
    pub items: Vec<ItemUsage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MetricUsage {
    pub code: String,
    #[serde(default)]
    pub event_name: Option<String>,
    pub aggregation: Aggregation,
    pub quantity: String,
    pub event_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ItemUsage {
    pub item_id: String,
    pub name: String,
    #[serde(default)]
    pub kind: Option<ItemKind>,
    #[serde(default)]
    pub metric_code: Option<String>,
    pub quantity: String,
    pub amount: String,
}

/// `POST /v1/usage/void`. This server needs the customer too (README, "Ingesting").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VoidUsage {
    pub idempotency_key: String,
    pub customer_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct VoidedUsage {
    pub idempotency_key: String,
    pub customer_id: String,
    pub status: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    PendingApproval,
    Sent,
    Void,
    /// `GET /v1/customers/{id}/invoices/upcoming` only.
    Upcoming,
    #[serde(other, skip_serializing)]
    Unknown,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::PendingApproval => "pending_approval",
            InvoiceStatus::Sent => "sent",
            InvoiceStatus::Void => "void",
            InvoiceStatus::Upcoming => "upcoming",
            InvoiceStatus::Unknown => "",
        }
    }
}

/// `GET /v1/invoices` filters and paging.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    pub customer_id: Option<String>,
    pub status: Option<InvoiceStatus>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Invoice {
    /// Absent on an upcoming invoice.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub number: Option<String>,
    pub customer_id: String,
    pub period_start: String,
    pub period_end: String,
    pub currency: String,
    pub status: InvoiceStatus,
    #[serde(default)]
    pub lines: Vec<InvoiceLine>,
    pub subtotal: String,
    pub total: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub finalized_at: Option<String>,
    #[serde(default)]
    pub sent_at: Option<String>,
    #[serde(default)]
    pub voided_at: Option<String>,
    /// SHA-256 over the usage lines' `events_digest`s (API.md, "Checking an invoice").
    #[serde(default)]
    pub usage_digest: Option<String>,
}

/// One item's line. The price breakdown differs by model (`unit_amount`, `tiers`,
/// `packages`…); what is not a field here is kept in `details`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct InvoiceLine {
    pub item_id: String,
    pub name: String,
    #[serde(default)]
    pub kind: Option<ItemKind>,
    #[serde(default)]
    pub model: Option<String>,
    pub quantity: String,
    #[serde(default)]
    pub unit_amount: Option<String>,
    pub amount: String,
    #[serde(default)]
    pub usage: Option<Value>,
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// `POST /v1/tokens`: a `ct_` token for one customer's events; ttl 1 s to 24 h (default
/// one hour).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInput {
    pub customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CustomerToken {
    pub token: String,
    pub customer_id: String,
    pub expires_at: String,
}

/// `GET /v1/customers/{id}/usage/daily`: a service period's usage by UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DailyUsage {
    pub customer_id: String,
    pub period: Period,
    /// One series per metric the customer's items use.
    pub metrics: Vec<DailyMetric>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DailyMetric {
    pub code: String,
    #[serde(default)]
    pub event_name: Option<String>,
    pub aggregation: Aggregation,
    /// Every UTC day of the period, in order; days still to come have zero.
    pub days: Vec<DayUsage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DayUsage {
    /// `2026-12-01`.
    pub date: String,
    /// The metric's aggregation over that day's events alone.
    pub quantity: String,
    pub event_count: u64,
}

/// An event ingest refused, as kept in a customer's or the account's log (the 100 most
/// recent).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Rejection {
    pub received_at: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub event_name: Option<String>,
    /// As in an ingest result: `timestamp_in_future`, `unknown_customer`, …
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub field: Option<String>,
    /// The event's JSON as sent; `{"truncated": "<first 4 KiB>"}` for a larger one.
    #[serde(default)]
    pub event: Value,
}

/// A contract's state (API.md, "Contracts").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    Draft,
    /// An acceptance under way: a retry of accept completes it.
    Accepting,
    Accepted,
    Canceled,
    /// A draft past its `expires_at`.
    Expired,
    #[serde(other, skip_serializing)]
    Unknown,
}

impl ContractStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Draft => "draft",
            ContractStatus::Accepting => "accepting",
            ContractStatus::Accepted => "accepted",
            ContractStatus::Canceled => "canceled",
            ContractStatus::Expired => "expired",
            ContractStatus::Unknown => "",
        }
    }
}

/// The customer a contract creates when accepted. `currency` defaults to `USD`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractCustomer {
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl ContractCustomer {
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> ContractCustomer {
        ContractCustomer { name: name.into(), email: email.into(), external_id: None, currency: None }
    }
}

/// `POST /v1/contracts` (needs `customer` and 1 to 50 `items`); `PATCH
/// /v1/contracts/{id}` takes the same fields, each optional, each given one replacing
/// that field wholly (`items`, the whole list).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContractInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<ContractCustomer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemInput>>,
    /// Default: monthly from the 1st of `starts_at`'s month, 3 days, 24 hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_schedule: Option<Schedule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_send: Option<bool>,
    /// RFC 3339; default now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// RFC 3339, after now and after `starts_at`; a draft past it cannot be accepted.
    /// `Some(None)` sends `null`: in a patch, the contract then never expires (and an
    /// expired draft is a draft again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
}

impl ContractInput {
    /// The two fields a new contract needs.
    pub fn new(customer: ContractCustomer, items: Vec<ItemInput>) -> ContractInput {
        ContractInput { customer: Some(customer), items: Some(items), ..ContractInput::default() }
    }
}

/// An item the accepted contract gives its customer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ContractItem {
    pub name: String,
    pub kind: ItemKind,
    #[serde(default)]
    pub metric_code: Option<String>,
    /// The event name that feeds the metric.
    #[serde(default)]
    pub event_name: Option<String>,
    pub price: Price,
    #[serde(default)]
    pub minimum: Option<String>,
}

/// The document attached to a contract.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ContractDocument {
    /// The `filename` given at upload, else `document.<ext>`.
    pub name: String,
    /// Read from the bytes: PDF, PNG, JPEG, GIF or WebP.
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    pub uploaded_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Contract {
    pub id: String,
    pub status: ContractStatus,
    pub customer: ContractCustomer,
    pub items: Vec<ContractItem>,
    #[serde(default)]
    pub invoice_schedule: Option<Schedule>,
    #[serde(default)]
    pub auto_send: bool,
    pub starts_at: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub document: Option<ContractDocument>,
    /// The customer made on acceptance.
    #[serde(default)]
    pub customer_id: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub accepted_at: Option<String>,
    #[serde(default)]
    pub canceled_at: Option<String>,
}

/// `POST /v1/contracts/{id}/accept`: the contract, now accepted, and its new customer.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ContractAcceptance {
    pub contract: Contract,
    pub customer: Customer,
}

/// `GET /v1/contracts?status=` filter and paging.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContractFilter {
    pub status: Option<ContractStatus>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// `GET /v1/customers/{id}/rejections` with `customer_id`, else `GET /v1/rejections`
/// (the account's log: events naming no existing customer, or another customer than
/// their token's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RejectionFilter {
    pub customer_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A contract's document as downloaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadedDocument {
    /// As stored (`application/pdf`).
    pub content_type: String,
    /// From the answer's `content-disposition`.
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// A decimal sent as a string or a JSON number, as text; `null` as `None`.
fn decimal_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Num(serde_json::Number),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::Str(s) => s,
        Text::Num(n) => n.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_are_tagged_by_model() {
        let p = Price::Graduated {
            tiers: vec![
                Tier { up_to: Some("1000".into()), unit_amount: "0.05".into(), flat_amount: None },
                Tier { up_to: None, unit_amount: "0.03".into(), flat_amount: None },
            ],
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"model": "graduated", "tiers": [{"up_to": "1000", "unit_amount": "0.05"}, {"up_to": null, "unit_amount": "0.03"}]})
        );
    }

    #[test]
    fn responses_tolerate_new_fields_and_values() {
        let m: Metric = serde_json::from_value(json!({
            "id": "met_1", "code": "c", "name": "n", "event_name": "e", "aggregation": "percentile",
            "created_at": "2026-11-25T00:00:00Z", "something_new": 1
        }))
        .unwrap();
        assert_eq!(m.aggregation, Aggregation::Unknown);
    }

    #[test]
    fn a_tier_bound_reads_from_a_string_or_a_number() {
        let tiers: Vec<Tier> = serde_json::from_value(json!([
            {"up_to": 1000, "unit_amount": "0.05"}, {"up_to": "2000.5", "unit_amount": "0.04"}, {"up_to": null, "unit_amount": "0.03"}
        ]))
        .unwrap();
        let bounds: Vec<_> = tiers.iter().map(|t| t.up_to.as_deref()).collect();
        assert_eq!(bounds, [Some("1000"), Some("2000.5"), None]);
    }

    #[test]
    fn a_contract_patch_sends_only_what_it_changes() {
        let patch = ContractInput { auto_send: Some(true), ..ContractInput::default() };
        assert_eq!(serde_json::to_value(&patch).unwrap(), json!({"auto_send": true}));
        let clear = ContractInput { expires_at: Some(None), ..ContractInput::default() };
        assert_eq!(serde_json::to_value(&clear).unwrap(), json!({"expires_at": null}));
        let new = ContractInput::new(ContractCustomer::new("Acme", "ap@acme.test"), vec![ItemInput::fixed("Fee", "9")]);
        assert_eq!(
            serde_json::to_value(&new).unwrap(),
            json!({"customer": {"name": "Acme", "email": "ap@acme.test"},
                   "items": [{"name": "Fee", "kind": "fixed", "price": {"model": "fixed", "amount": "9"}}]})
        );
    }

    #[test]
    fn unset_input_fields_are_left_out() {
        let c = CustomerInput::new("Acme", "ap@acme.test");
        assert_eq!(serde_json::to_value(&c).unwrap(), json!({"name": "Acme", "email": "ap@acme.test"}));
    }
}
