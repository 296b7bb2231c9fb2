//! Webhook signatures (API.md, "Invoices"): every delivery carries
//! `Edgemeter-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! The worker signs with [`signature_header`] and receivers check with
//! [`verify_signature`] (the SDK re-exports it), so the two cannot drift apart. The time
//! is a parameter: the worker passes when it sends, a receiver its own clock.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// The header a delivery's signature travels in.
pub const HEADER: &str = "Edgemeter-Signature";

/// Why a signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookError {
    /// The header is not `t=…,v1=…`.
    MalformedHeader,
    /// No `v1` signature matches the body under this secret.
    BadSignature,
    /// `t` is further than the tolerance from now.
    OutsideTolerance,
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WebhookError::MalformedHeader => "malformed Edgemeter-Signature header",
            WebhookError::BadSignature => "signature does not match",
            WebhookError::OutsideTolerance => "signature timestamp outside the tolerance",
        })
    }
}

impl std::error::Error for WebhookError {}

/// The whole header value for `body` sent at `t` (unix seconds): `t=<t>,v1=<hex>`.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", sign(secret, t, body))
}

/// The `v1` signature of `body` at time `t`, as hex.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies `header` (the `Edgemeter-Signature` value) for the raw `body`, with `now`
/// and the tolerance in unix seconds (300 is a good default). Check the raw body before
/// parsing it, and keep the tolerance short so a captured delivery cannot be replayed
/// later.
pub fn verify_signature(secret: &str, header: &str, body: &[u8], now: i64, tolerance: i64) -> Result<(), WebhookError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(WebhookError::MalformedHeader)?;
    if signatures.is_empty() {
        return Err(WebhookError::MalformedHeader);
    }
    let expected = sign(secret, t, body);
    // Constant time per candidate: no early exit on the first differing byte.
    let matches = signatures.iter().any(|s| {
        s.len() == expected.len() && s.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if !matches {
        return Err(WebhookError::BadSignature);
    }
    if now.abs_diff(t) > tolerance.unsigned_abs() {
        return Err(WebhookError::OutsideTolerance);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_finalized_01","type":"invoice.finalized"}"#;

    #[test]
    fn a_fresh_signature_verifies_and_anything_else_is_refused() {
        let header = signature_header("whsec", 1000, BODY);
        assert_eq!(verify_signature("whsec", &header, BODY, 1100, 300), Ok(()));
        assert_eq!(verify_signature("other", &header, BODY, 1100, 300), Err(WebhookError::BadSignature));
        assert_eq!(verify_signature("whsec", &header, b"{}", 1100, 300), Err(WebhookError::BadSignature));
        assert_eq!(verify_signature("whsec", &header, BODY, 1400, 300), Err(WebhookError::OutsideTolerance));
        assert_eq!(verify_signature("whsec", &header, BODY, 600, 300), Err(WebhookError::OutsideTolerance));
        assert_eq!(verify_signature("whsec", "v1=abc", BODY, 1000, 300), Err(WebhookError::MalformedHeader));
        assert_eq!(verify_signature("whsec", "t=1000", BODY, 1000, 300), Err(WebhookError::MalformedHeader));
        // Extreme times are refused, not overflowed.
        let late = signature_header("whsec", i64::MIN, BODY);
        assert_eq!(verify_signature("whsec", &late, BODY, i64::MAX, 300), Err(WebhookError::OutsideTolerance));
    }

    #[test]
    fn matches_the_known_vector() {
        // HMAC-SHA256("key", "1.x"), computed independently.
        let hex = "fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec";
        assert_eq!(sign("key", 1, b"x"), hex);
        assert_eq!(signature_header("key", 1, b"x"), format!("t=1,v1={hex}"));
    }
}
