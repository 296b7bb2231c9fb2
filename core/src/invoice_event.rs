//! An event as `GET /v1/invoices/{id}/events` shows it (API.md, "Checking an invoice"):
//! the stored event with everything needed to recompute its content hash, so that a
//! customer can check that the event it reads is the one the invoice's digests counted.

use crate::event::{EventRecord, Properties};
use crate::hash::{content_hash, ContentHash};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One event an invoice counted, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceEvent {
    pub idempotency_key: String,
    pub event_name: String,
    /// A decimal string without trailing zeros.
    pub value: Decimal,
    pub timestamp: Timestamp,
    /// Whether the client sent the timestamp: one the server chose at ingest is not part
    /// of the content hash (so that a retry received later is the same event).
    #[serde(default = "yes")]
    pub timestamp_given: bool,
    #[serde(default)]
    pub properties: Properties<'static>,
    pub content_hash: ContentHash,
}

fn yes() -> bool {
    true
}

impl InvoiceEvent {
    pub fn of(r: &EventRecord<'_>) -> InvoiceEvent {
        InvoiceEvent {
            idempotency_key: r.key.to_string(),
            event_name: r.event_name.to_string(),
            value: r.value.normalize(),
            timestamp: Timestamp(r.ts),
            timestamp_given: r.ts_given,
            properties: r.props.clone().into_owned(),
            content_hash: r.hash,
        }
    }

    /// The content hash of this event's fields for `customer_id`, recomputed: equal to
    /// `content_hash` unless the event was changed after it was stored.
    pub fn recomputed_hash(&self, customer_id: &str) -> ContentHash {
        content_hash(
            customer_id,
            &self.event_name,
            self.value,
            self.timestamp_given.then_some(self.timestamp),
            &self.properties,
        )
    }

    /// The event as the customer's object holds it, with its content hash recomputed from
    /// its fields (not the one it carries): what verification aggregates and digests.
    pub fn to_record(&self, customer_id: &str) -> EventRecord<'_> {
        EventRecord {
            key: Cow::Borrowed(&self.idempotency_key),
            event_name: Cow::Borrowed(&self.event_name),
            value: self.value,
            ts: self.timestamp.millis(),
            ts_given: self.timestamp_given,
            props: self.properties.clone(),
            hash: self.recomputed_hash(customer_id),
        }
    }
}
