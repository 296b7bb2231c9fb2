//! An object that holds its events in an `events` table, in any of the three layouts it
//! had before chunks (the first: a rowid table with a `TEXT PRIMARY KEY` and the index
//! `events_by_name_period`, three rows written per event; the second: `WITHOUT ROWID`,
//! keyed by the key as text, the whole event's JSON as the body; the third, the compact
//! row: the key and content hash as 16-byte blobs and a compact body), moves them to
//! today's chunks (several events per row, a small row per key) on its next first call,
//! in one transaction, and keeps every promise: dedupe exact, voids, back-fill of a new
//! metric, an event's properties and timestamp, an invoice's events.
//!
//! The old layouts come from a test-only hook (`EDGEMETER_FAULT_INJECTION=1`, which the
//! harness sets): an event carrying the property `"edgemeter_fault": "legacy"` (or
//! `"text_keys"`, `"compact_rows"`) makes its object put every event it holds back into an
//! `events` table of the first (second, third) layout with its DDL, rows as that code
//! wrote them. Under fault injection every call opens the ledger as an instance's first
//! call does, so the next call moves them; the tests restart the server as well. The rows
//! a call writes, as its object logs them under `EDGEMETER_COST_LOG=1`, show the layout.

use edgemeter_tests::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn void(c: &Client, customer: &str, ev: &Value) -> Resp {
    c.post("/v1/usage/void", &json!({"idempotency_key": ev["idempotency_key"], "customer_id": customer}))
}

/// The `rows_written` of every `edgemeter-cost` line in the server's log so far.
fn cost_lines(server: &Server) -> Vec<u64> {
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("edgemeter-cost "))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("rows_written=")))
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The cost lines once no new one has come for half a second: wrangler passes an
/// object's log lines on a little after the answers they belong to.
fn settled_cost_lines(server: &Server) -> Vec<u64> {
    let mut seen = cost_lines(server);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = cost_lines(server);
        if now.len() == seen.len() {
            return now;
        }
        seen = now;
    }
}

/// Ingests `events` in one request, all accepted, and returns the rows its call wrote.
fn ingest_counting_rows(server: &Server, events: &[Value]) -> u64 {
    let before = settled_cost_lines(server).len();
    let r = server.client().ingest_batch(events);
    assert_eq!(r.statuses(), vec!["accepted"; events.len()], "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(n) = cost_lines(server).get(before) {
            return *n;
        }
        assert!(Instant::now() < deadline, "no edgemeter-cost line in the server's log for the call");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn events_in_the_old_layout_move_to_the_new_one_and_keep_every_promise() {
    let state = fresh_state_dir("migration");
    let vars = [("EDGEMETER_COST_LOG", "1")];
    let mut server = Server::start_with(&state, &vars);
    let c = server.client();
    let s = c.setup("sum", json!({}));
    let max = c.metric("max", &s.event_name, "max", json!({}));

    // Today's layout from the start: one key row per event and one chunk, plus the
    // call's few aggregates (the first call also records the metrics it has seen).
    let mut first: Vec<Value> = (1..=5).map(|v| s.event(json!(v))).collect();
    assert_eq!(c.ingest_batch(&first).counts(), (5, 0, 0));
    assert_eq!(void(&c, &s.customer, &first[4]).status, 200);
    let ones: Vec<Value> = (0..10).map(|_| s.event(json!(1))).collect();
    let written = ingest_counting_rows(&server, &ones);
    assert!(written <= 10 + 4, "{written} rows written for 10 events in the new layout");
    first.extend(ones);

    // The hook turns the table into the old layout, this call's event included.
    let mut marker = s.event(json!(6));
    marker["properties"] = json!({"edgemeter_fault": "legacy"});
    assert_eq!(c.ingest(&marker).statuses(), ["accepted"]);
    // The next call moves them to chunks before it stores its own.
    let old: Vec<Value> = (10..20).map(|v| s.event(json!(v))).collect();
    assert_eq!(c.ingest_batch(&old).counts(), (10, 0, 0));
    // sum: 1+2+3+4 (5 voided) + 10 × 1 + 6 + 10..19.
    assert_eq!(c.quantity(&s.customer, &s.metric), ("171".to_owned(), 25));

    // A new instance of the object migrates on its first call.
    server.stop();
    let server = Server::start_with(&state, &vars);
    let c = server.client();
    assert_eq!(c.quantity(&s.customer, &s.metric), ("171".to_owned(), 25), "the first call, which moves the events");
    let after: Vec<Value> = (20..30).map(|v| s.event(json!(v))).collect();
    let written = ingest_counting_rows(&server, &after);
    assert!(written <= 10 + 4, "{written} rows written for 10 events after the migration");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("416".to_owned(), 35));

    // Dedupe is exact over the moved events: every key a duplicate, the voided one too,
    // and a key with other content a reuse.
    let mut again: Vec<Value> = first.iter().chain(&old).chain(&after).cloned().collect();
    again.push(marker.clone());
    let r = c.ingest_batch(&again);
    assert_eq!(r.counts(), (0, again.len() as u64, 0), "{}", r.text);
    let mut reused = first[0].clone();
    reused["value"] = json!(100);
    let r = c.ingest_batch(&[reused]);
    assert_eq!(r.event_codes(), ["idempotency_key_reused"], "{}", r.text);

    // A void finds a moved event, and a max recomputed from the moved events is right.
    let top = after.last().cloned().unwrap_or_default();
    assert_eq!(void(&c, &s.customer, &top).status, 200);
    assert_eq!(void(&c, &s.customer, &first[4]).status, 200, "a voided moved event voids again as a no-op");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("387".to_owned(), 34));
    assert_eq!(c.quantity(&s.customer, &max).0, "28");

    // A metric new to the customer is back-filled from the moved events.
    let count = c.metric("n", &s.event_name, "count", json!({}));
    assert_eq!(c.quantity(&s.customer, &count), ("34".to_owned(), 34));
}

#[test]
fn events_with_text_keys_move_to_chunks_and_keep_every_promise() {
    moves_and_keeps_every_promise("text_keys");
}

#[test]
fn events_in_compact_rows_move_to_chunks_and_keep_every_promise() {
    moves_and_keeps_every_promise("compact_rows");
}

fn moves_and_keeps_every_promise(hook: &str) {
    let state = fresh_state_dir(&format!("migration-{hook}"));
    let mut server = Server::start_with(&state, &[]);
    let c = server.client();
    let s = c.setup("sum", json!({}));

    // Events with properties and a given timestamp, so the compact body carries them.
    let mut first: Vec<Value> = (1..=6).map(|v| s.event(json!(v))).collect();
    for (i, ev) in first.iter_mut().enumerate() {
        let region = if i % 2 == 0 { "eu" } else { "us" };
        ev["properties"] = json!({"region": region, "user": format!("u{}", i % 3), "n": 1.5e3});
        ev["timestamp"] = json!(rfc3339(now_ms() - 1000 * i as i64));
    }
    assert_eq!(c.ingest_batch(&first).counts(), (6, 0, 0));
    assert_eq!(void(&c, &s.customer, &first[5]).status, 200);

    // The hook turns the table into the second layout, this call's event included.
    let mut marker = s.event(json!(7));
    marker["properties"] = json!({"edgemeter_fault": hook});
    assert_eq!(c.ingest(&marker).statuses(), ["accepted"]);
    let old: Vec<Value> = (10..15).map(|v| s.event(json!(v))).collect();
    assert_eq!(c.ingest_batch(&old).counts(), (5, 0, 0));
    // sum: 1..=5 (6 voided) + 7 + 10..=14.
    assert_eq!(c.quantity(&s.customer, &s.metric), ("82".to_owned(), 11));

    // A new instance of the object migrates on its first call.
    server.stop();
    let server = Server::start_with(&state, &[]);
    let c = server.client();
    assert_eq!(c.quantity(&s.customer, &s.metric), ("82".to_owned(), 11), "the first call, which moves the events");
    let after: Vec<Value> = (20..25).map(|v| s.event(json!(v))).collect();
    assert_eq!(c.ingest_batch(&after).counts(), (5, 0, 0));

    // Dedupe is exact over the moved events (the voided one too), a key with other
    // content a reuse, and the events written since are duplicates as well.
    let mut again: Vec<Value> = first.iter().chain(&old).chain(&after).cloned().collect();
    again.push(marker.clone());
    let r = c.ingest_batch(&again);
    assert_eq!(r.counts(), (0, again.len() as u64, 0), "{}", r.text);
    let mut reused = first[0].clone();
    reused["value"] = json!(100);
    assert_eq!(c.ingest_batch(&[reused]).event_codes(), ["idempotency_key_reused"]);

    // Voids find moved and new events; back-fill reads the moved bodies' properties.
    assert_eq!(void(&c, &s.customer, &first[0]).status, 200);
    assert_eq!(void(&c, &s.customer, &after[0]).status, 200);
    assert_eq!(void(&c, &s.customer, &first[5]).status, 200, "a voided moved event voids again as a no-op");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("171".to_owned(), 14));
    let users = c.metric("u", &s.event_name, "unique_count", json!({"field": "user", "filters": {"region": ["eu"]}}));
    // Live eu events of `first`: indexes 2 and 4 (0 voided): users u2 and u1.
    assert_eq!(c.quantity(&s.customer, &users).0, "2");
    let n = c.metric("n", &s.event_name, "sum", json!({"filters": {"region": ["us"]}}));
    // Live us events: indexes 1 and 3 (5 voided): values 2 and 4.
    assert_eq!(c.quantity(&s.customer, &n).0, "6");
}
