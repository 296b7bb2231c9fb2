//! The [`Ingest`] call in its binary form: how the front sends events to a customer's
//! object without writing them as JSON for the object to parse back.
//!
//! ```text
//! "EMI\x01" | header length: u32, little-endian | header: {"now", "metrics"} as JSON | events
//! ```
//!
//! The events are a [`crate::event_chunk`]: the format the object stores them in. The
//! front writes each request's events in it once (the batcher joins several requests' by
//! concatenating their bytes), and the object decodes them with no JSON and, when every
//! event is accepted into one period (the common case), stores the bytes it received.
//! Every other call, and an `Ingest` written as JSON, stays JSON ([`read_call`] tells).

use super::calls::{CustomerCall, Ingest, UsageCall};
use crate::event_chunk;
use crate::metric::MetricDef;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// The media type the front sends such a body with (the object goes by [`MAGIC`]).
pub const CONTENT_TYPE: &str = "application/vnd.edgemeter.ingest";

/// What a body in this form starts with; no JSON text does.
const MAGIC: &[u8; 4] = b"EMI\x01";

#[derive(Serialize, Deserialize)]
struct Header<M> {
    now: Timestamp,
    metrics: M,
}

/// One request's events, written for an ingest call: [`event_chunk::push`] of each, with
/// no chunk header (the call adds it), so several requests' can be joined as bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventBytes {
    pub bytes: Vec<u8>,
    pub count: usize,
}

impl EventBytes {
    /// Adds an event; its key must be a canonical UUID (as every validated event's is).
    pub fn push(&mut self, ev: &crate::event::EventRecord<'_>) -> Result<(), event_chunk::BadChunk> {
        event_chunk::push(ev, &mut self.bytes)?;
        self.count += 1;
        Ok(())
    }
}

/// The body of an ingest call at `now` carrying `parts` (in order), fed by `metrics`.
pub fn write<'p>(now: Timestamp, metrics: &[&MetricDef], parts: impl IntoIterator<Item = &'p EventBytes>) -> Vec<u8> {
    // A time and validated definitions always serialize.
    let header = serde_json::to_vec(&Header { now, metrics }).unwrap_or_default();
    let parts: Vec<&EventBytes> = parts.into_iter().collect();
    let size: usize = parts.iter().map(|p| p.bytes.len()).sum();
    let mut body = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 1 + size);
    body.extend_from_slice(MAGIC);
    body.extend_from_slice(&(header.len() as u32).to_le_bytes());
    body.extend_from_slice(&header);
    event_chunk::begin(&mut body);
    for p in parts {
        body.extend_from_slice(&p.bytes);
    }
    body
}

/// Reads a call to a customer's object: an ingest call in the binary form, or any call as
/// JSON.
pub fn read_call(body: &[u8]) -> Result<CustomerCall<'_>, ApiError> {
    let bad = |what: &dyn std::fmt::Display| {
        ApiError::new(ErrorCode::InternalError, format!("malformed object call: {what}"))
    };
    let Some(rest) = body.strip_prefix(MAGIC) else {
        return serde_json::from_slice(body).map_err(|e| bad(&e));
    };
    let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(|| bad(&"no header length"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(bad(&"a header longer than the body"));
    }
    let (header, chunk) = rest.split_at(len);
    let header: Header<Vec<MetricDef>> = serde_json::from_slice(header).map_err(|e| bad(&e))?;
    let events = event_chunk::decode(chunk).map_err(|e| bad(&e))?;
    Ok(CustomerCall::Usage(UsageCall::Ingest(Ingest {
        now: header.now,
        metrics: header.metrics,
        events,
        received: Some(chunk),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventRecord, PropValue, Properties};
    use crate::hash::ContentHash;
    use crate::metric::Aggregation;
    use rust_decimal::Decimal;
    use std::borrow::Cow;

    fn record(n: u8, props: bool) -> EventRecord<'static> {
        let props = if props {
            Properties::new(vec![(Cow::Borrowed("region"), PropValue::Str(Cow::Borrowed("eu")))]).unwrap()
        } else {
            Properties::default()
        };
        EventRecord {
            key: Cow::Owned(format!("0192f0c1-0000-7000-8000-0000000000{n:02x}")),
            event_name: Cow::Borrowed("ocr"),
            value: Decimal::new(25, 1),
            ts: 1_767_225_600_000 + i64::from(n),
            ts_given: n.is_multiple_of(2),
            props: props.into_owned(),
            hash: ContentHash(u128::from(n) << 64 | 7),
        }
    }

    fn metric(code: &str) -> MetricDef {
        MetricDef {
            code: code.into(),
            name: code.into(),
            event_name: "ocr".into(),
            aggregation: Aggregation::Sum,
            field: None,
            filters: Default::default(),
        }
    }

    #[test]
    fn parts_join_into_one_call_in_order() {
        let events: Vec<_> = (0..5).map(|n| record(n, n == 3)).collect();
        let mut a = EventBytes::default();
        let mut b = EventBytes::default();
        for e in &events[..2] {
            a.push(e).unwrap();
        }
        for e in &events[2..] {
            b.push(e).unwrap();
        }
        let (m1, m2) = (metric("m1"), metric("m2"));
        let now = Timestamp(1_767_225_601_000);
        let body = write(now, &[&m1, &m2], [&a, &EventBytes::default(), &b]);
        let CustomerCall::Usage(UsageCall::Ingest(call)) = read_call(&body).unwrap() else { panic!("not an ingest") };
        assert_eq!(call.now, now);
        assert_eq!(call.metrics, vec![m1, m2]);
        assert_eq!(call.events, events);
        // The received bytes are the chunk storage would write for these events.
        let mut chunk = Vec::new();
        event_chunk::encode(&events, &mut chunk).unwrap();
        assert_eq!(call.received, Some(chunk.as_slice()));
    }

    mod props {
        use super::*;
        use crate::event_chunk::tests::props::event;
        use proptest::prelude::*;

        proptest! {
            /// However a call's events are split into requests' parts, the call reads
            /// back as those events in order, and what it says was received is the chunk
            /// storage would write for them.
            #[test]
            fn any_split_reads_back_as_the_events(
                events in proptest::collection::vec(event(), 0..30),
                cuts in proptest::collection::vec(0usize..30, 0..5),
                // A time the API can hold: years 1970 to 9999.
                now in 0i64..253_402_300_799_999,
            ) {
                let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(events.len())).collect();
                cuts.push(0);
                cuts.push(events.len());
                cuts.sort_unstable();
                let parts: Vec<EventBytes> = cuts
                    .windows(2)
                    .map(|w| {
                        let mut p = EventBytes::default();
                        for e in &events[w[0]..w[1]] {
                            p.push(e).unwrap();
                        }
                        p
                    })
                    .collect();
                let m = metric("m");
                let body = write(Timestamp(now), &[&m], &parts);
                let CustomerCall::Usage(UsageCall::Ingest(call)) = read_call(&body).unwrap() else {
                    panic!("not an ingest")
                };
                prop_assert_eq!(call.now, Timestamp(now));
                prop_assert_eq!(&call.events, &events);
                let mut chunk = Vec::new();
                event_chunk::encode(&events, &mut chunk).unwrap();
                prop_assert_eq!(call.received, Some(chunk.as_slice()));
            }

            /// Damaged bodies are an error or some call, never a panic.
            #[test]
            fn damaged_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let mut body = b"EMI\x01".to_vec();
                body.extend_from_slice(&bytes);
                let _ = read_call(&body);
            }
        }
    }

    #[test]
    fn json_calls_still_read_and_damage_is_an_error() {
        let json = br#"{"usage":{"ingest":{"now":"2026-01-01T00:00:00Z","metrics":[],"events":[]}}}"#;
        let CustomerCall::Usage(UsageCall::Ingest(call)) = read_call(json).unwrap() else { panic!("not an ingest") };
        assert!(call.events.is_empty() && call.received.is_none());
        let mut a = EventBytes::default();
        a.push(&record(1, true)).unwrap();
        let body = write(Timestamp(0), &[], [&a]);
        for n in 0..body.len() {
            // A cut inside the events is an error; a cut between them is fewer events.
            let _ = read_call(&body[..n]);
        }
        assert!(read_call(&body[..6]).is_err());
        assert!(read_call(&body[..body.len() - 1]).is_err());
        assert!(read_call(b"EMI\x01\xff\xff\xff\xff{}").is_err());
    }
}
