//! The npm package's checks (API.md, "Checking an invoice"): `verifyInvoice` and `price`
//! over JSON text, wrapped by `sdk/js/verify.js` (which converts the SDK's camelCase).

use crate::js_error::to_js_error;
use crate::verify;
use edgemeter_core::ApiError;
use serde_json::Value;
use wasm_bindgen::prelude::*;

/// JS: `verifyInvoice(invoiceJson, eventsJson, itemsJson, metricsJson)` → the JSON of
/// the differences (an array; empty when the invoice checks out), in the API's names.
#[wasm_bindgen(js_name = verifyInvoice)]
pub fn verify_invoice(invoice: &str, events: &str, items: &str, metrics: &str) -> Result<String, JsValue> {
    let diffs = verify::verify_invoice_json(invoice, events, items, metrics).map_err(|e| to_js_error(&e))?;
    serde_json::to_string(&diffs).map_err(|e| to_js_error(&internal(e)))
}

/// JS: `price(priceJson, quantityJson, currency, minimumJson)` → the JSON of the priced
/// line (`currency` and `minimumJson` may be `undefined`).
#[wasm_bindgen(js_name = price)]
pub fn price(
    price: &str,
    quantity: &str,
    currency: Option<String>,
    minimum: Option<String>,
) -> Result<String, JsValue> {
    let read = |text: &str, field: &'static str| -> Result<Value, JsValue> {
        serde_json::from_str(text).map_err(|_| to_js_error(&ApiError::invalid(field, format!("`{field}` is not JSON"))))
    };
    let minimum = minimum.as_deref().map(|m| read(m, "minimum")).transpose()?;
    let line =
        verify::price(read(price, "price")?, &read(quantity, "quantity")?, currency.as_deref(), minimum.as_ref())
            .map_err(|e| to_js_error(&e))?;
    serde_json::to_string(&line).map_err(|e| to_js_error(&internal(e)))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(edgemeter_core::ErrorCode::InternalError, e.to_string())
}
