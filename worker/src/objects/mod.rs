//! The Durable Objects. Each parses its typed request (`crate::protocol`), runs it, and
//! answers with the API's JSON. Nothing here imports from the front.

mod billing_index;
mod catalog;
mod contracts;
mod customer;
mod idempotency;
mod ledger;
mod sql;
mod tx;

/// An alarm time at `t`, unix milliseconds (workers-rs reads a bare integer as an offset
/// from now, which set an absolute time decades out).
fn alarm_at(t: edgemeter_core::time::Timestamp) -> worker::ScheduledTime {
    worker::ScheduledTime::new(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t.millis() as f64)))
}

pub use catalog::CatalogObject;
pub use customer::CustomerObject;
pub use idempotency::IdempotencyObject;
