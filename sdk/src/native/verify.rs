//! Checking an invoice and quoting a price on the client, natively, with the `core` the
//! server bills with (API.md, "Checking an invoice"): the typed face of
//! [`crate::verify`].

use super::error::Error;
use super::types::{Invoice, InvoiceLine, Item, ItemInput, Metric, Price};
use edgemeter_core::ErrorCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use crate::verify::{Difference, InvoiceEvent};
pub use edgemeter_core::simulate::SimulatedInvoice;

/// `POST /v1/customers/{id}/simulate`: items as item creation takes them, and a time in
/// the period to simulate (RFC 3339; default: the current period).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimulationInput {
    pub items: Vec<ItemInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_start: Option<String>,
}

/// A price applied to a quantity, exactly as an invoice line shows it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Quote {
    pub model: String,
    pub quantity: String,
    /// The one rate applied (per unit, package, volume); `None` for graduated prices.
    pub unit_amount: Option<String>,
    #[serde(default)]
    pub package_size: Option<u64>,
    #[serde(default)]
    pub packages: Option<String>,
    /// Graduated: every tier that received units; volume: the one tier applied.
    pub tiers: Vec<QuoteTier>,
    /// The price before the minimum, unrounded.
    pub subtotal_exact: String,
    pub minimum: Option<String>,
    pub minimum_applied: bool,
    /// Rounded half-even to the currency's minor unit: the line's only rounding.
    pub amount: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct QuoteTier {
    pub up_to: Option<String>,
    pub units: String,
    pub unit_amount: String,
    pub flat_amount: String,
    pub subtotal: String,
}

/// Checks an invoice from its events (`Invoices::events_all`), the customer's items
/// (`Items::list`) and the metrics (`Metrics::list_all`): every line's quantity, amount,
/// usage and `events_digest`, the totals and the `usage_digest`, recomputed with the
/// server's own aggregation and pricing. Returns what differs; empty when it checks out.
pub fn verify_invoice(
    invoice: &Invoice,
    events: &[InvoiceEvent],
    items: &[Item],
    metrics: &[Metric],
) -> Result<Vec<Difference>, Error> {
    let invoice: edgemeter_core::invoice::Invoice = core_value(invoice_value(invoice), "invoice")?;
    let items = items.iter().map(|i| core_value(item_value(i), "items")).collect::<Result<Vec<_>, _>>()?;
    let metrics = metrics.iter().map(|m| core_value(metric_value(m), "metrics")).collect::<Result<Vec<_>, _>>()?;
    Ok(edgemeter_core::verify::verify_invoice(&invoice, events, &items, &metrics))
}

/// A local quote in USD with no minimum: what `quantity` costs under `price`.
pub fn price(price: &Price, quantity: &str) -> Result<Quote, Error> {
    price_in(price, quantity, "USD", None)
}

/// A local quote in `currency` with an item's `minimum`.
pub fn price_in(price: &Price, quantity: &str, currency: &str, minimum: Option<&str>) -> Result<Quote, Error> {
    let price = serde_json::to_value(price).map_err(|e| Error::new(ErrorCode::InvalidField.as_str(), e.to_string()))?;
    let minimum = minimum.map(|m| Value::String(m.to_owned()));
    let line = crate::verify::price(price, &Value::String(quantity.to_owned()), Some(currency), minimum.as_ref())?;
    core_value(line, "quote")
}

fn core_value<T: DeserializeOwned>(v: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(v)
        .map_err(|e| Error::new(ErrorCode::InvalidField.as_str(), format!("{what}: {e}")).with_field(what))
}

fn invoice_value(i: &Invoice) -> Value {
    json!({
        "id": i.id.clone().unwrap_or_default(),
        "number": i.number,
        "customer_id": i.customer_id,
        "period_start": i.period_start,
        "period_end": i.period_end,
        "status": i.status.as_str(),
        "currency": i.currency,
        "lines": i.lines.iter().map(line_value).collect::<Vec<_>>(),
        "subtotal": i.subtotal,
        "total": i.total,
        "created_at": i.created_at.as_ref().unwrap_or(&i.period_start),
        "finalized_at": i.finalized_at,
        "sent_at": i.sent_at,
        "voided_at": i.voided_at,
        "usage_digest": i.usage_digest,
    })
}

/// A line as the API sent it: its typed fields and the rest (`details`) together.
fn line_value(l: &InvoiceLine) -> Value {
    let mut m: Map<String, Value> = l.details.clone();
    m.insert("item_id".into(), json!(l.item_id));
    m.insert("name".into(), json!(l.name));
    if let Some(kind) = l.kind {
        m.insert("kind".into(), serde_json::to_value(kind).unwrap_or(Value::Null));
    }
    if let Some(model) = &l.model {
        m.insert("model".into(), json!(model));
    }
    m.insert("quantity".into(), json!(l.quantity));
    m.insert("unit_amount".into(), json!(l.unit_amount));
    m.insert("amount".into(), json!(l.amount));
    m.insert("usage".into(), l.usage.clone().unwrap_or(Value::Null));
    Value::Object(m)
}

fn item_value(i: &Item) -> Value {
    json!({
        "id": i.id,
        "customer_id": i.customer_id,
        "name": i.name,
        "kind": i.kind,
        "metric_code": i.metric_code,
        "event_name": i.event_name,
        "price": i.price,
        "minimum": i.minimum,
        "created_at": i.created_at,
    })
}

fn metric_value(m: &Metric) -> Value {
    json!({
        "code": m.code,
        "name": m.name,
        "event_name": m.event_name,
        "aggregation": m.aggregation,
        "field": m.field,
        "filters": m.filters.clone().unwrap_or_default(),
    })
}
