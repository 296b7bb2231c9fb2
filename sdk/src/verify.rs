//! Checking an invoice and quoting a price on the client, with the same `core` the server
//! bills with (API.md, "Checking an invoice"). Both builds use these: the npm package's
//! wasm through JSON text (`wasm.rs`), the native client through its types
//! (`native::verify`).

use edgemeter_core::currency::Currency;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::item::Item;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::pricing::{Price, PricedLine};
use edgemeter_core::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use edgemeter_core::invoice_event::InvoiceEvent;
pub use edgemeter_core::verify::{verify_invoice as verify_core_invoice, Difference};

/// Checks an invoice from the JSON texts the API returned: the invoice
/// (`GET /v1/invoices/{id}`), its events (`GET /v1/invoices/{id}/events`: a page, or an
/// array of the events of every page), the customer's items (`GET /v1/items`) and the
/// metrics (`GET /v1/billing/metrics`), each a page or an array. Returns every
/// difference (`core::verify`); none when the invoice is what its events make.
///
/// Events are read from their text, so a number property keeps the exact text its
/// content hash was taken over (`1.5e3`, not `1500`).
pub fn verify_invoice_json(
    invoice: &str,
    events: &str,
    items: &str,
    metrics: &str,
) -> Result<Vec<Difference>, ApiError> {
    let invoice: Invoice = read(invoice, "invoice")?;
    let events: Vec<InvoiceEvent> = list(events, "events")?;
    let items: Vec<Item> = list(items, "items")?;
    let metrics: Vec<MetricDef> = list(metrics, "metrics")?;
    Ok(edgemeter_core::verify::verify_invoice(&invoice, &events, &items, &metrics))
}

/// Prices `quantity` with `price` (an item's `price` object, checked as item creation
/// checks it) in `currency` (default USD), with an optional `minimum`: tier by tier,
/// rounded half-even once to the currency's minor unit, exactly as an invoice line
/// shows it (`model`, `quantity`, `unit_amount`, `tiers`, `subtotal_exact`, `minimum`,
/// `minimum_applied`, `amount`).
pub fn price(
    price: Value,
    quantity: &Value,
    currency: Option<&str>,
    minimum: Option<&Value>,
) -> Result<Value, ApiError> {
    let line = price_line(price, quantity, currency, minimum)?;
    serde_json::to_value(&line).map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))
}

/// [`price`], typed.
pub fn price_line(
    price: Value,
    quantity: &Value,
    currency: Option<&str>,
    minimum: Option<&Value>,
) -> Result<PricedLine, ApiError> {
    let price = Price::from_value(price)?;
    let quantity = decimal(quantity, "quantity")?;
    let currency = match currency {
        None => Currency::USD,
        Some(c) => Currency::parse(c)
            .ok_or_else(|| ApiError::invalid("currency", "`currency` must be an ISO 4217 code such as USD"))?,
    };
    let minimum = minimum.filter(|m| !m.is_null()).map(|m| decimal(m, "minimum")).transpose()?;
    Ok(price.price(quantity, currency, minimum))
}

/// A non-negative decimal from a string or a whole JSON number.
fn decimal(v: &Value, field: &'static str) -> Result<Decimal, ApiError> {
    let bad = || ApiError::invalid(field, format!("`{field}` must be a non-negative decimal string"));
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return Err(bad()),
    };
    text.trim().parse::<Decimal>().ok().filter(|d| !d.is_sign_negative()).ok_or_else(bad)
}

fn read<T: DeserializeOwned>(text: &str, what: &'static str) -> Result<T, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::invalid(what, format!("`{what}` is not what the API returns: {e}")))
}

/// An array, or a page's `data` (told apart by the first character: a buffering
/// `untagged` enum would lose a number property's exact text).
fn list<T: DeserializeOwned>(text: &str, what: &'static str) -> Result<Vec<T>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Page<T> {
        data: Vec<T>,
    }
    if text.trim_start().starts_with('{') {
        Ok(read::<Page<T>>(text, what)?.data)
    } else {
        read(text, what)
    }
}
