//! API.md "Usage ingestion": every rule an event is checked against, over HTTP. A single
//! rejected event answers with the error itself (400, 404 for `unknown_customer`); in a
//! batch each event gets its own fate, in request order, and the batch answers 200.

use edgemeter_tests::*;
use serde_json::{json, Value};

/// One rule broken by one event: what it is, the event, the code and field expected.
struct Case {
    what: &'static str,
    event: Value,
    code: &'static str,
    field: &'static str,
}

fn set(mut ev: Value, field: &str, v: Value) -> Value {
    ev[field] = v;
    ev
}

fn unset(mut ev: Value, field: &str) -> Value {
    ev.as_object_mut().expect("an event is an object").remove(field);
    ev
}

/// Every rule of API.md "Usage ingestion" that `core` checks, broken once each, for
/// `s`'s customer and event name.
fn broken_events(s: &Setup) -> Vec<Case> {
    let ok = || s.event(json!(1));
    let case = |what, event, code, field| Case { what, event, code, field };
    let long_name: String = "n".repeat(129);
    let many_props: serde_json::Map<String, Value> = (0..51).map(|i| (format!("p{i}"), json!("x"))).collect();
    vec![
        case("no key", unset(ok(), "idempotency_key"), "missing_idempotency_key", "idempotency_key"),
        case("null key", set(ok(), "idempotency_key", Value::Null), "missing_idempotency_key", "idempotency_key"),
        case(
            "key not a UUID",
            set(ok(), "idempotency_key", json!("order-42")),
            "invalid_idempotency_key",
            "idempotency_key",
        ),
        case("key a number", set(ok(), "idempotency_key", json!(42)), "invalid_idempotency_key", "idempotency_key"),
        case("empty key", set(ok(), "idempotency_key", json!("")), "invalid_idempotency_key", "idempotency_key"),
        case("no customer", unset(ok(), "customer_id"), "missing_customer_id", "customer_id"),
        case("customer a number", set(ok(), "customer_id", json!(7)), "invalid_customer_id", "customer_id"),
        case("customer empty", set(ok(), "customer_id", json!("")), "invalid_customer_id", "customer_id"),
        case("customer with a space", set(ok(), "customer_id", json!("cus 1")), "invalid_customer_id", "customer_id"),
        case(
            "customer too long",
            set(ok(), "customer_id", json!("c".repeat(65))),
            "invalid_customer_id",
            "customer_id",
        ),
        case(
            "well-formed customer id that does not exist",
            set(ok(), "customer_id", json!("cus_00000000000000000000000000")),
            "unknown_customer",
            "customer_id",
        ),
        case(
            "customer id without cus_",
            set(ok(), "customer_id", json!("acme_42")),
            "invalid_customer_id",
            "customer_id",
        ),
        case("no event name", unset(ok(), "event_name"), "missing_event_name", "event_name"),
        case("event name empty", set(ok(), "event_name", json!("")), "invalid_event_name", "event_name"),
        case("event name a number", set(ok(), "event_name", json!(5)), "invalid_event_name", "event_name"),
        case("event name too long", set(ok(), "event_name", json!(long_name)), "invalid_event_name", "event_name"),
        case("event name with a newline", set(ok(), "event_name", json!("a\nb")), "invalid_event_name", "event_name"),
        case(
            "event name no metric reads",
            set(ok(), "event_name", json!(event_name("never_metered"))),
            "unknown_event_name",
            "event_name",
        ),
        case("negative value", set(ok(), "value", json!(-1)), "invalid_value", "value"),
        case("negative value string", set(ok(), "value", json!("-0.5")), "invalid_value", "value"),
        case("value not numeric", set(ok(), "value", json!("abc")), "invalid_value", "value"),
        case("value an object", set(ok(), "value", json!({"n": 1})), "invalid_value", "value"),
        case("value a bool", set(ok(), "value", json!(true)), "invalid_value", "value"),
        case("value NaN", set(ok(), "value", json!("NaN")), "invalid_value", "value"),
        case("value too large", set(ok(), "value", json!("1000000000000000")), "invalid_value", "value"),
        case("value too precise", set(ok(), "value", json!("0.0000000001")), "invalid_value", "value"),
        case(
            "timestamp without offset",
            set(ok(), "timestamp", json!("2024-07-15T11:30:00")),
            "invalid_timestamp",
            "timestamp",
        ),
        case("timestamp garbage", set(ok(), "timestamp", json!("yesterday")), "invalid_timestamp", "timestamp"),
        case("timestamp a number", set(ok(), "timestamp", json!(1_721_043_000)), "invalid_timestamp", "timestamp"),
        case(
            "timestamp 10 minutes ahead",
            set(ok(), "timestamp", json!(time_from_now(10 * 60_000))),
            "timestamp_in_future",
            "timestamp",
        ),
        case(
            "timestamp 40 days old",
            set(ok(), "timestamp", json!(time_from_now(-40 * 86_400_000))),
            "timestamp_too_old",
            "timestamp",
        ),
        case("properties a string", set(ok(), "properties", json!("eu")), "invalid_properties", "properties"),
        case("properties an array", set(ok(), "properties", json!(["eu"])), "invalid_properties", "properties"),
        case("property nested", set(ok(), "properties", json!({"a": {"b": 1}})), "invalid_properties", "properties"),
        case("property null", set(ok(), "properties", json!({"a": null})), "invalid_properties", "properties"),
        case("51 properties", set(ok(), "properties", Value::Object(many_props)), "invalid_properties", "properties"),
        case(
            "property value of 513 chars",
            set(ok(), "properties", json!({"a": "v".repeat(513)})),
            "invalid_properties",
            "properties",
        ),
        case(
            "property key of 65 chars",
            set(ok(), "properties", json!({"k".repeat(65): "v"})),
            "invalid_properties",
            "properties",
        ),
        case("unknown field", set(ok(), "colour", json!("red")), "unknown_field", "colour"),
    ]
}

#[test]
fn each_rejected_single_event_answers_its_error_with_status_and_field() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    for case in broken_events(&s) {
        let r = c.ingest(&case.event);
        let status = if case.code == "unknown_customer" { 404 } else { 400 };
        assert_eq!((r.status, r.code(), r.field()), (status, case.code, Some(case.field)), "{}: {}", case.what, r.text);
        assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}: {}", case.what, r.text);
        assert!(r.body.get("results").is_none(), "{}: a single event answers the error only", case.what);
    }
    assert_eq!(c.quantity(&s.customer, &s.metric), ("0".to_owned(), 0), "nothing rejected is counted");
}

#[test]
fn batch_judges_each_event_and_answers_in_request_order() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let cases = broken_events(&s);
    let first = s.event(json!(2));
    let last = s.event(json!("3.5"));
    let mut events = vec![first.clone()];
    events.extend(cases.iter().map(|c| c.event.clone()));
    events.push(last.clone());

    let r = c.ingest_batch(&events);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.counts(), (2, 0, cases.len() as u64));
    let results = r.body["results"].as_array().expect("results");
    assert_eq!(results.len(), events.len());
    assert_eq!(results[0], json!({"idempotency_key": first["idempotency_key"], "status": "accepted"}));
    assert_eq!(results[events.len() - 1], json!({"idempotency_key": last["idempotency_key"], "status": "accepted"}));
    for (case, res) in cases.iter().zip(&results[1..]) {
        assert_eq!(res["status"], "rejected", "{}: {res}", case.what);
        assert_eq!(
            (res["error"]["code"].as_str(), res["error"]["field"].as_str()),
            (Some(case.code), Some(case.field)),
            "{}",
            case.what
        );
        assert!(res["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", case.what);
        // The key is echoed when it was a valid UUID, so a client can match results.
        let sent = case.event.get("idempotency_key").and_then(Value::as_str).filter(|k| k.len() == 36);
        assert_eq!(res["idempotency_key"].as_str(), sent, "{}", case.what);
    }
    assert_eq!(c.quantity(&s.customer, &s.metric), ("5.5".to_owned(), 2), "only the valid events count");
}

#[test]
fn events_for_known_and_unknown_customers_in_one_batch_each_get_their_fate() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let other = c.customer();
    let r = c.ingest_batch(&[
        s.event(json!(1)),
        event("cus_00000000000000000000000000", &s.event_name, json!(1)),
        event(&other, &s.event_name, json!(1)),
        event("cus_00000000000000000000000000", &s.event_name, json!(1)),
        // Right prefix, not an id this server could have made: still only this event.
        event("cus_doesnotexist", &s.event_name, json!(1)),
    ]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.statuses(), ["accepted", "rejected", "accepted", "rejected", "rejected"]);
    assert_eq!(r.event_codes(), ["", "unknown_customer", "", "unknown_customer", "unknown_customer"]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("1".to_owned(), 1));
    assert_eq!(c.quantity(&other, &s.metric), ("1".to_owned(), 1));
}

#[test]
fn event_within_five_minutes_ahead_or_35_days_back_is_accepted() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let r = c.ingest_batch(&[
        set(s.event(json!(1)), "timestamp", json!(time_from_now(4 * 60_000))),
        set(s.event(json!(1)), "timestamp", json!(time_from_now(-34 * 86_400_000))),
    ]);
    assert_eq!(r.statuses(), ["accepted", "accepted"], "{}", r.text);
}

#[test]
fn values_at_each_limit_are_accepted() {
    let c = shared().client();
    let long_name: String = "é".repeat(128);
    let s = c.setup("sum", json!({}));
    let long_metric = c.metric("long", &long_name, "sum", json!({}));
    let fifty: serde_json::Map<String, Value> = (0..50).map(|i| (format!("p{i}"), json!(i))).collect();
    let r = c.ingest_batch(&[
        set(s.event(json!("999999999999999.999999999")), "properties", Value::Object(fifty)),
        set(s.event(json!(0)), "properties", json!({"k".repeat(64): "é".repeat(512), "flag": true, "n": 1.5})),
        event(&s.customer, &long_name, json!(1)),
    ]);
    assert_eq!(r.statuses(), ["accepted"; 3], "{}", r.text);
    let u = c.usage(&s.customer);
    assert_eq!(u[&s.metric], ("999999999999999.999999999".to_owned(), 2));
    assert_eq!(u[&long_metric], ("1".to_owned(), 1));
}

#[test]
fn results_keep_request_order_across_many_customers() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let customers: Vec<String> = (0..8).map(|_| c.customer()).collect();
    let mut events: Vec<Value> = Vec::new();
    let mut expected: Vec<&str> = Vec::new();
    for i in 0..48 {
        if i % 6 == 5 {
            // Every sixth event repeats the one before it, which keeps its fate.
            events.push(events[i - 1].clone());
            expected.push(if expected[i - 1] == "rejected" { "rejected" } else { "duplicate" });
        } else if i % 7 == 3 {
            events.push(event("cus_00000000000000000000000000", &s.event_name, json!(1)));
            expected.push("rejected");
        } else {
            events.push(event(&customers[i % 8], &s.event_name, json!(i)));
            expected.push("accepted");
        }
    }
    let r = c.ingest_batch(&events);
    assert_eq!(r.statuses(), expected, "{}", r.text);
    for (ev, res) in events.iter().zip(r.body["results"].as_array().expect("results")) {
        assert_eq!(res["idempotency_key"], ev["idempotency_key"]);
    }
    let total: u64 = customers.iter().map(|cu| c.quantity(cu, &s.metric).1).sum();
    assert_eq!(total, expected.iter().filter(|s| **s == "accepted").count() as u64);
}

#[test]
fn single_accepted_event_answers_200_with_its_result() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let ev = s.event(json!(50));
    let r = c.ingest(&ev);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"accepted": 1, "duplicates": 0, "rejected": 0,
               "results": [{"idempotency_key": ev["idempotency_key"], "status": "accepted"}]})
    );
}

#[test]
fn same_key_with_other_content_in_another_request_is_idempotency_key_reused() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let first = s.event(json!(10));
    assert_eq!(c.ingest(&first).counts(), (1, 0, 0));

    let changed = set(first.clone(), "value", json!(11));
    c.ingest(&changed).assert_error(400, "idempotency_key_reused", Some("idempotency_key"));
    let r = c.ingest_batch(&[changed, first.clone()]);
    assert_eq!(r.statuses(), ["rejected", "duplicate"], "{}", r.text);
    assert_eq!(r.event_codes(), ["idempotency_key_reused", ""]);
    // A changed timestamp or property is other content too.
    let r = c.ingest_batch(&[
        set(first.clone(), "timestamp", json!(time_from_now(-1000))),
        set(first.clone(), "properties", json!({"region": "eu"})),
    ]);
    assert_eq!(r.event_codes(), ["idempotency_key_reused", "idempotency_key_reused"], "{}", r.text);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("10".to_owned(), 1), "the first content stands");
}

#[test]
fn same_key_with_other_content_within_one_batch_is_idempotency_key_reused() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let first = s.event(json!(10));
    let r = c.ingest_batch(&[first.clone(), set(first.clone(), "value", json!(99)), first]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.statuses(), ["accepted", "rejected", "duplicate"]);
    assert_eq!(r.event_codes(), ["", "idempotency_key_reused", ""]);
    assert_eq!(r.body["results"][1]["error"]["field"], "idempotency_key");
    assert_eq!(r.counts(), (1, 1, 1));
    assert_eq!(c.quantity(&s.customer, &s.metric), ("10".to_owned(), 1));
}

// --- The envelope: judged as a whole. ---

#[test]
fn body_that_is_not_json_is_400_invalid_json() {
    let c = shared().client();
    for body in [&b"{"[..], b"{\"events\": [", b"nul", b"{\"a\": 1,}", b"{} {}", b"'x'", b""] {
        let r = c.post_raw("/v1/usage/ingest", body, &[]);
        r.assert_error(400, "invalid_json", None);
    }
}

#[test]
fn body_that_is_json_but_not_an_object_is_400_invalid_request() {
    let c = shared().client();
    for body in [json!([]), json!([{"event_name": "x"}]), json!("event"), json!(42), json!(null), json!(true)] {
        c.ingest(&body).assert_error(400, "invalid_request", None);
    }
}

#[test]
fn events_that_is_not_an_array_is_400() {
    let c = shared().client();
    for events in [json!({}), json!("x"), json!(1), json!(null)] {
        c.ingest(&json!({ "events": events })).assert_error(400, "invalid_field", Some("events"));
    }
}

#[test]
fn batch_with_event_fields_beside_events_is_400_invalid_request() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let r = c.ingest(&json!({"events": [s.event(json!(1))], "customer_id": s.customer}));
    r.assert_error(400, "invalid_request", None);
    assert_eq!(c.quantity(&s.customer, &s.metric).1, 0);
}

#[test]
fn batch_element_that_is_not_an_object_is_rejected_alone() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let r = c.ingest(&json!({"events": [1, s.event(json!(1)), "x"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.statuses(), ["rejected", "accepted", "rejected"]);
    assert_eq!(r.event_codes(), ["invalid_request", "", "invalid_request"]);
}

#[test]
fn empty_batch_answers_zero_counts() {
    let c = shared().client();
    let r = c.ingest_batch(&[]);
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}))
    );
}

#[test]
fn batch_of_1000_events_is_accepted_and_1001_is_413_too_many_events() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let events: Vec<Value> = (0..1001).map(|_| s.event(json!(1))).collect();
    let r = c.ingest_batch(&events);
    r.assert_error(413, "too_many_events", Some("events"));
    assert_eq!(c.quantity(&s.customer, &s.metric).1, 0, "nothing of a refused batch is kept");

    let r = c.ingest_batch(&events[..1000]);
    assert_eq!((r.status, r.counts()), (200, (1000, 0, 0)), "{}", r.body["error"]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("1000".to_owned(), 1000));
}

#[test]
fn body_over_1_mib_is_413_payload_too_large() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    // Valid JSON, a valid batch even, padded with whitespace past the limit.
    let mut body = json!({"events": [s.event(json!(1))]}).to_string().into_bytes();
    body.splice(1..1, vec![b' '; 1024 * 1024]);
    c.post_raw("/v1/usage/ingest", &body, &[]).assert_error(413, "payload_too_large", None);
    // Without a Content-Length the limit holds after reading.
    let r = c.post_chunked("/v1/usage/ingest", body).expect("an answer");
    r.assert_error(413, "payload_too_large", None);
    assert_eq!(c.quantity(&s.customer, &s.metric).1, 0);
}
