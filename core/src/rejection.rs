//! The rejected-events log (API.md, "Usage ingestion"): a silently rejected event is
//! revenue nobody sees missing, so ingest keeps the most recent rejections, per customer
//! and for the account, for a person to look at.

use crate::error::{ApiError, ErrorCode};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many rejections a log keeps (the newest).
pub const LOG_CAPACITY: usize = 100;
/// The most of an event's JSON a log entry keeps, in bytes.
pub const MAX_SENT_BYTES: usize = 4096;
/// The deepest JSON a log entry keeps as JSON (deeper: as text): an entry travels inside
/// an object call and is stored, and each wrapping must still parse under serde_json's
/// nesting limit of 128.
pub const MAX_SENT_DEPTH: usize = 32;
/// The most rejections one ingest request writes to logs: a flood of bad events costs a
/// bounded amount of log writes per request (the log keeps only the newest anyway).
pub const MAX_LOGGED_PER_REQUEST: usize = LOG_CAPACITY;

/// One rejected event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectedEvent {
    pub received_at: Timestamp,
    pub idempotency_key: Option<String>,
    pub customer_id: Option<String>,
    pub event_name: Option<String>,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// The event as sent; one over [`MAX_SENT_BYTES`] as `{"truncated": "<its start>"}`.
    pub event: Value,
}

impl RejectedEvent {
    /// An entry for an event whose JSON text (as sent) is `sent`.
    pub fn new(received_at: Timestamp, error: &ApiError, sent: &str) -> RejectedEvent {
        let event = if sent.len() > MAX_SENT_BYTES {
            let mut end = MAX_SENT_BYTES;
            while !sent.is_char_boundary(end) {
                end -= 1;
            }
            serde_json::json!({ "truncated": &sent[..end] })
        } else {
            serde_json::from_str(sent)
                .ok()
                .filter(|v| depth(v) <= MAX_SENT_DEPTH)
                .unwrap_or_else(|| serde_json::json!({ "truncated": sent }))
        };
        let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_owned);
        RejectedEvent {
            received_at,
            idempotency_key: text("idempotency_key"),
            customer_id: text("customer_id"),
            event_name: text("event_name"),
            code: error.code,
            message: error.message.to_string(),
            field: error.field.as_deref().map(str::to_owned),
            event,
        }
    }
}

/// How deeply a JSON value nests (a scalar: 0).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_names_what_it_can_and_truncates_the_rest() {
        let e = ApiError::new(ErrorCode::TimestampInFuture, "too far ahead").field("timestamp");
        let r = RejectedEvent::new(Timestamp(5), &e, r#"{"idempotency_key":"k","customer_id":"cus_1","value":3}"#);
        assert_eq!((r.idempotency_key.as_deref(), r.customer_id.as_deref()), (Some("k"), Some("cus_1")));
        assert_eq!(r.event_name, None);
        assert_eq!(r.field.as_deref(), Some("timestamp"));
        let big = format!(r#"{{"customer_id":"{}"}}"#, "é".repeat(3000));
        let r = RejectedEvent::new(Timestamp(5), &e, &big);
        let kept = r.event["truncated"].as_str().unwrap();
        assert!(kept.len() <= MAX_SENT_BYTES && big.starts_with(kept));
        assert_eq!(r.customer_id, None);
        // Deep JSON is kept as text, so the entry still parses inside an object call.
        let deep = format!(r#"{{"properties":{{"p":{}1{}}}}}"#, "[".repeat(100), "]".repeat(100));
        let r = RejectedEvent::new(Timestamp(5), &e, &deep);
        assert_eq!(r.event["truncated"].as_str(), Some(deep.as_str()));
        let call = serde_json::to_string(&serde_json::json!({"log": {"entries": [r]}})).unwrap();
        assert!(serde_json::from_str::<Value>(&call).is_ok());
    }
}
