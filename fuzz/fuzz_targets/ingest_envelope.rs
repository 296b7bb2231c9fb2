//! `POST /v1/usage/ingest`'s body reader (`core::ingest::parse_ingest`) on any bytes:
//! never a panic, and every event it accepts is written back (as the customer's object
//! stores it, `EventRecord`) and read again to the same event; sent again as JSON, it is
//! accepted again with the same content hash (a retry is recognised as one).
#![no_main]

use edgemeter_core::event::EventRecord;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::time::Timestamp;
use libfuzzer_sys::fuzz_target;

const NOW: Timestamp = Timestamp(1_795_600_000_000);

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = parse_ingest(data, NOW) else { return };
    for ev in envelope.events.iter().flatten() {
        let record = EventRecord::from_valid(ev);
        let stored = serde_json::to_string(&record).expect("a record always serializes");
        let back: EventRecord = serde_json::from_str(&stored).expect("a stored record reads back");
        assert_eq!(back, record, "stored as {stored}");
        assert_eq!(&back.to_valid(ev.customer_id()), ev);

        // The event as a client would send it again. The properties are written as they
        // serialize (numbers as their exact text), not through `serde_json::Value`, whose
        // numbers are floats.
        let mut json = serde_json::json!({
            "idempotency_key": ev.idempotency_key(),
            "customer_id": ev.customer_id(),
            "event_name": ev.event_name(),
            "value": ev.value().to_string(),
        });
        if ev.timestamp_given() {
            json["timestamp"] = serde_json::json!(ev.timestamp().to_rfc3339());
        }
        let mut json = json.to_string();
        json.pop();
        json.push_str(&format!(",\"properties\":{}}}", serde_json::to_string(ev.properties()).unwrap()));
        let again = json.as_bytes();
        let reread = parse_ingest(again, NOW).expect("an accepted event's JSON is an envelope");
        let reread = reread.events.into_iter().next().expect("one event");
        let reread = reread.unwrap_or_else(|r| panic!("accepted once, refused again: {:?} for {json}", r.error));
        assert_eq!(reread.hash(), ev.hash(), "a retry must hash the same: {json}");
    }
});
