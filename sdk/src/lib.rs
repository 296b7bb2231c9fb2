//! edgemeter's client SDK, in two builds of one crate:
//!
//! - wasm32: the validator inside the npm package `@edgemeter/sdk` (`wasm`, fed by the
//!   JS client in `sdk/js/` through the [`compact`] event format). Batching and delivery
//!   are JavaScript there, over the runtime's own `fetch`.
//! - native: [`native`], the same client for Rust servers on tokio and reqwest, and a
//!   typed client for the rest of the API.
//!
//! Both check events with `core`'s own rules, so a client learns about a bad event when
//! it tracks it, with the code the server would answer. [`verify_signature`] checks the
//! server's webhooks.

pub mod compact;
pub mod queue;
pub mod verify;
pub mod webhook;

pub use verify::{price, verify_invoice_json, Difference, InvoiceEvent};
pub use webhook::verify_signature;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;

/// Validates one event (its JSON text) as `POST /v1/usage/ingest` would, with `now_ms` as
/// the arrival time. Returns the event's canonical idempotency key.
pub fn validate_event(json: &str, now_ms: i64) -> Result<String, ApiError> {
    let envelope = parse_ingest(json.as_bytes(), Timestamp(now_ms))?;
    match envelope.events.into_iter().next() {
        Some(Ok(ev)) if !envelope.batch => Ok(ev.idempotency_key().to_owned()),
        Some(Err(rejected)) if !envelope.batch => Err(rejected.error),
        _ => Err(ApiError::new(edgemeter_core::ErrorCode::InvalidRequest, "expected one event object")),
    }
}

#[cfg(all(target_arch = "wasm32", feature = "bench"))]
mod bench;

#[cfg(target_arch = "wasm32")]
mod js_error;
#[cfg(all(target_arch = "wasm32", not(feature = "checks")))]
pub mod wasm;

/// The checks' own wasm (`--features checks`): `@edgemeter/sdk/verify` loads it, so the
/// tracking client's wasm stays free of the JSON, pricing and invoice code they need.
#[cfg(all(target_arch = "wasm32", feature = "checks"))]
mod wasm_checks;

#[cfg(test)]
mod tests {
    use super::*;
    use edgemeter_core::ErrorCode;

    const NOW: i64 = 1_795_600_000_000;

    #[test]
    fn a_valid_event_gives_its_canonical_key() {
        let key = validate_event(
            r#"{"idempotency_key":"0192F0C1-0000-7000-8000-000000000001","customer_id":"cus_1","event_name":"x"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(key, "0192f0c1-0000-7000-8000-000000000001");
    }

    #[test]
    fn an_invalid_event_gives_the_servers_code_and_field() {
        let e = validate_event(r#"{"customer_id":"cus_1","event_name":"x"}"#, NOW).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::MissingIdempotencyKey, Some("idempotency_key")));
    }
}
