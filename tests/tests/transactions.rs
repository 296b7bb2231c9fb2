//! A customer's part of a batch is stored all or nothing. With fault injection on (the
//! harness sets `EDGEMETER_FAULT_INJECTION=1`), an event carrying the property
//! `"edgemeter_fault": "abort"` makes its customer's object fail after writing it; nothing
//! of that batch may be kept, so a retry counts every event once.

use edgemeter_tests::*;
use serde_json::{json, Value};

fn faulty(s: &Setup) -> Value {
    let mut ev = s.event(json!(1000));
    ev["properties"] = json!({"edgemeter_fault": "abort"});
    ev
}

#[test]
fn failed_batch_keeps_nothing() {
    let c = shared().client();
    // The fault at the start, in the middle and at the end: before it fails, the object
    // has written every event up to and including it.
    for at in [0, 2, 4] {
        let s = c.setup("sum", json!({}));
        assert_eq!(c.ingest(&s.event(json!(1))).counts(), (1, 0, 0));
        let good: Vec<Value> = (1..=4).map(|v| s.event(json!(v * 10))).collect();
        let mut batch = good.clone();
        batch.insert(at, faulty(&s));

        let r = c.ingest_batch(&batch);
        assert!(r.status >= 500, "fault at {at}: {} {}", r.status, r.text);
        assert_eq!(r.code(), "internal_error", "{}", r.text);
        assert_eq!(c.quantity(&s.customer, &s.metric), ("1".to_owned(), 1), "fault at {at}: usage unchanged");

        let retry = c.ingest_batch(&good);
        assert_eq!(retry.statuses(), ["accepted"; 4], "fault at {at}: nothing was kept: {}", retry.text);
        assert_eq!(c.quantity(&s.customer, &s.metric), ("101".to_owned(), 5));
    }
}

#[test]
fn failed_single_event_is_5xx_and_not_kept() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let ev = faulty(&s);
    let r = c.ingest(&ev);
    assert!(r.status >= 500, "{} {}", r.status, r.text);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("0".to_owned(), 0));
    // Its key was never stored: the same key with other content is a new event, not a reuse.
    let mut fixed = ev.clone();
    fixed["properties"] = json!({"edgemeter_fault": "none"});
    assert_eq!(c.ingest(&fixed).statuses(), ["accepted"]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("1".to_owned(), 1));
}

#[test]
fn customer_keeps_serving_after_a_failed_batch() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let _ = c.ingest_batch(&[s.event(json!(5)), faulty(&s)]);
    let r = c.ingest_batch(&[s.event(json!(2)), s.event(json!(3))]);
    assert_eq!((r.status, r.counts()), (200, (2, 0, 0)), "{}", r.text);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("5".to_owned(), 2));
}

#[test]
fn failed_batch_retried_counts_every_event_once_across_customers() {
    // Each customer's part is its own transaction: when one part fails the request fails,
    // the other customers' parts may be kept, and the retry answers them `duplicate`.
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let other = c.customer();
    let theirs: Vec<Value> = (1..=3).map(|v| event(&other, &s.event_name, json!(v))).collect();
    let ours: Vec<Value> = (1..=3).map(|v| s.event(json!(v * 100))).collect();
    let mut batch: Vec<Value> = theirs.iter().chain(&ours).cloned().collect();
    batch.push(faulty(&s));
    let r = c.ingest_batch(&batch);
    assert!(r.status >= 500, "{} {}", r.status, r.text);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("0".to_owned(), 0), "the failed customer kept nothing");

    let retry: Vec<Value> = theirs.iter().chain(&ours).cloned().collect();
    let r = c.ingest_batch(&retry);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(&r.statuses()[3..], ["accepted"; 3]);
    assert!(r.statuses()[..3].iter().all(|s| *s == "accepted" || *s == "duplicate"), "{}", r.text);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("600".to_owned(), 3));
    assert_eq!(c.quantity(&other, &s.metric), ("6".to_owned(), 3));
}

#[test]
fn failed_request_is_not_kept_for_its_idempotency_key() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let header = key();
    let good = s.event(json!(1));
    let failing = json!({"events": [good, faulty(&s)]}).to_string();
    let r = c.post_raw("/v1/usage/ingest", failing.as_bytes(), &[("idempotency-key", &header)]);
    assert!(r.status >= 500, "{} {}", r.status, r.text);
    // A 5xx is not an answer to replay: the corrected request under the same key runs.
    let fixed = json!({"events": [good]}).to_string();
    let r = c.post_raw("/v1/usage/ingest", fixed.as_bytes(), &[("idempotency-key", &header)]);
    assert_eq!((r.status, r.counts()), (200, (1, 0, 0)), "{}", r.text);
}
