//! The API refusing the client itself rather than its events: a wrong key (401), a key
//! that may not send usage (403), a wrong base URL (404). No retry can fix these and no
//! event is at fault, so the tracker keeps the events, stops sending until the caller
//! flushes again, and says so loudly ([`Refused`]), as the JS client does.

use super::error::Error;
use super::tracker::FlushResult;
use std::fmt;

/// `flush()` or `shutdown()` stopped because the API refused the client's key or address.
/// Nothing was dropped: the events are still queued, and the next `flush()` sends them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The server's error (`unauthorized`, `not_found`, …) with its status, a message
    /// naming the URL and what to fix, and the kept events' keys. (Boxed, as is
    /// `result`: a `Result` carrying this stays small to move.)
    pub error: Box<Error>,
    /// What became of the batches settled meanwhile; the kept events' keys in `pending`.
    pub result: Box<FlushResult>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Refused {}

/// Whether a batch's final error refuses the configuration. Event-level errors with these
/// statuses (`forbidden_customer`, `unknown_customer`) name a field; these do not.
pub(crate) fn is_config_error(e: &Error) -> bool {
    match e.status {
        Some(401) => true,
        Some(403 | 404) => e.field.is_none(),
        _ => false,
    }
}

/// The server's error, reworded to say where it came from, what to fix, and that the
/// `kept` events are kept.
pub(crate) fn explain(url: &str, base_url: &str, e: Error, kept: Vec<String>) -> Error {
    let status = e.status.unwrap_or_default();
    let fix = match status {
        401 => "check `api_key` (an ingest or secret key, or an unexpired customer token)".to_owned(),
        403 => "check that `api_key` may send usage (an ingest or secret key, or a customer token)".to_owned(),
        _ => format!("check `base_url`: it is the API's root, without /v1 (now \"{base_url}\")"),
    };
    let message = format!(
        "POST {url} answered {status} ({}: {}): {fix}. {} event(s) are kept and sent again when you call flush()",
        e.code,
        e.message,
        kept.len()
    );
    Error { message, idempotency_keys: kept, ..e }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Error {
        Error::from_body(status, body.as_bytes())
    }

    #[test]
    fn a_refused_key_or_address_is_a_configuration_error_an_event_error_is_not() {
        assert!(is_config_error(&answer(401, r#"{"error":{"code":"unauthorized","message":"m"}}"#)));
        assert!(is_config_error(&answer(403, r#"{"error":{"code":"forbidden","message":"m"}}"#)));
        assert!(is_config_error(&answer(404, r#"{"error":{"code":"not_found","message":"m"}}"#)));
        assert!(is_config_error(&answer(404, "<html>no such page</html>")));
        let unknown = r#"{"error":{"code":"unknown_customer","message":"m","field":"customer_id"}}"#;
        assert!(!is_config_error(&answer(404, unknown)));
        assert!(!is_config_error(&answer(400, r#"{"error":{"code":"invalid_json","message":"m"}}"#)));
        assert!(!is_config_error(&answer(503, "")));
    }

    #[test]
    fn the_message_says_where_and_what_to_fix() {
        let e = explain(
            "http://h/v1/v1/usage/ingest",
            "http://h/v1",
            answer(404, r#"{"error":{"code":"not_found","message":"no route"}}"#),
            vec!["k".into()],
        );
        assert_eq!(
            (e.code.as_str(), e.status, &e.idempotency_keys[..]),
            ("not_found", Some(404), &["k".to_owned()][..])
        );
        assert!(e.message.starts_with("POST http://h/v1/v1/usage/ingest answered 404 (not_found: no route)"), "{e}");
        assert!(e.message.contains("without /v1") && e.message.contains("1 event(s) are kept"), "{e}");
    }
}
