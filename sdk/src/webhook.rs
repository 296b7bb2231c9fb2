//! Verifying edgemeter's webhooks (API.md, "Invoices"): each delivery carries
//! `Edgemeter-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! Check it against the raw body before parsing, and refuse old timestamps so a captured
//! delivery cannot be replayed later. Deliveries are retried with the same event `id`:
//! dedupe on it.
//!
//! The signer and the verifier are `edgemeter_core::webhook`'s, the same code the worker
//! signs with, so a receiver checks exactly what the server computed.

pub use edgemeter_core::webhook::{sign, signature_header, verify_signature, WebhookError, HEADER};

#[cfg(test)]
mod tests {
    use crate::webhook::WebhookError;

    const BODY: &[u8] = br#"{"id":"evt_finalized_01","type":"invoice.finalized"}"#;

    #[test]
    fn a_signature_made_by_core_verifies_through_the_sdk() {
        let header = edgemeter_core::webhook::signature_header("whsec", 1_795_600_000, BODY);
        assert_eq!(crate::verify_signature("whsec", &header, BODY, 1_795_600_100, 300), Ok(()));
        assert_eq!(
            crate::verify_signature("whsec", &header, b"{}", 1_795_600_100, 300),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            crate::verify_signature("whsec", &header, BODY, 1_795_601_000, 300),
            Err(WebhookError::OutsideTolerance)
        );
    }
}
