//! API.md "Dedupe" and the `Idempotency-Key` header: an event is counted once however
//! often it is sent (in one batch, in several requests, concurrently, across a restart),
//! and a request sent again with the same header gets the first answer back.

use edgemeter_tests::*;
use serde_json::{json, Value};
use std::collections::HashMap;

#[test]
fn duplicate_in_same_batch_is_reported_not_counted() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let a = s.event(json!(5));
    let b = s.event(json!(7));
    let r = c.ingest_batch(&[a.clone(), a.clone(), b.clone(), a, b]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.statuses(), ["accepted", "duplicate", "accepted", "duplicate", "duplicate"]);
    assert_eq!(r.counts(), (2, 3, 0));
    assert_eq!(c.quantity(&s.customer, &s.metric), ("12".to_owned(), 2));
}

#[test]
fn duplicate_across_requests_is_reported_not_counted() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let events: Vec<Value> = (1..=3).map(|v| s.event(json!(v))).collect();
    assert_eq!(c.ingest_batch(&events).counts(), (3, 0, 0));
    let r = c.ingest_batch(&events);
    assert_eq!((r.statuses(), r.counts()), (vec!["duplicate"; 3], (0, 3, 0)));
    let r = c.ingest(&events[1]);
    assert_eq!((r.status, r.counts()), (200, (0, 1, 0)), "a single duplicate is a 200, not an error");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("6".to_owned(), 3));
}

#[test]
fn same_content_spelled_differently_is_a_duplicate() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let k = key();
    let ms = now_ms() - 60_000;
    let plain = json!({"idempotency_key": k, "customer_id": s.customer, "event_name": s.event_name, "value": 50,
                       "timestamp": rfc3339(ms), "properties": {"a": "x", "b": 2}});
    assert_eq!(c.ingest(&plain).statuses(), ["accepted"]);
    // The key in upper case, the value as a string with trailing zeros, the time with
    // another offset, properties in another order: the same event.
    let respelled = json!({"properties": {"b": 2, "a": "x"}, "value": "50.00", "event_name": s.event_name,
                           "customer_id": s.customer, "idempotency_key": k.to_uppercase(),
                           "timestamp": rfc3339(ms + 2 * 3_600_000).replace('Z', "+02:00")});
    let r = c.ingest(&respelled);
    assert_eq!(r.statuses(), ["duplicate"], "{}", r.text);
    assert_eq!(r.body["results"][0]["idempotency_key"], k, "keys are answered in their canonical form");
}

#[test]
fn concurrent_retries_of_one_batch_accept_each_event_exactly_once() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let events: Vec<Value> = (1..=25).map(|v| s.event(json!(v))).collect();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (c, events) = (c.clone(), events.clone());
            std::thread::spawn(move || c.ingest_batch(&events))
        })
        .collect();
    let answers: Vec<Resp> = threads.into_iter().map(|t| t.join().expect("a sender thread")).collect();
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.text);
        for res in r.body["results"].as_array().expect("results") {
            let k = res["idempotency_key"].as_str().expect("key").to_owned();
            match res["status"].as_str() {
                Some("accepted") => *accepted.entry(k).or_default() += 1,
                Some("duplicate") => {}
                other => panic!("unexpected status {other:?} in {}", r.text),
            }
        }
    }
    assert_eq!(accepted.len(), events.len(), "every event accepted once: {accepted:?}");
    assert!(accepted.values().all(|n| *n == 1), "no event accepted twice: {accepted:?}");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("325".to_owned(), 25));
}

#[test]
fn dedupe_and_data_survive_a_crash_and_restart() {
    let mut server = Server::start("dedupe-restart");
    let c = server.client();
    let s = c.setup("sum", json!({}));
    let item = c.post(
        &format!("/v1/customers/{}/items", s.customer),
        &json!({"name": "Calls", "kind": "usage", "metric_code": s.metric, "price": {"model": "per_unit", "unit_amount": "0.5"}}),
    );
    assert_eq!(item.status, 201, "{}", item.text);
    let events: Vec<Value> = (1..=4).map(|v| s.event(json!(v))).collect();
    assert_eq!(c.ingest_batch(&events).counts(), (4, 0, 0));
    let customer = c.get(&format!("/v1/customers/{}", s.customer)).body;
    let metric = c.get(&format!("/v1/billing/metrics/{}", s.metric)).body;
    let replayed = c.post_raw(
        "/v1/customers",
        br#"{"name": "Replay", "email": "r@acme.test"}"#,
        &[("idempotency-key", "restart-1")],
    );
    assert_eq!(replayed.status, 201);

    // Killed right after answering: "accepted" must already be durable.
    let dir = server.state_dir.clone();
    server.kill();
    drop(server);
    let server = Server::start_on(&dir);
    let c = server.client();

    let r = c.ingest_batch(&events);
    assert_eq!((r.statuses(), r.counts()), (vec!["duplicate"; 4], (0, 4, 0)), "{}", r.text);
    let changed = {
        let mut e = events[0].clone();
        e["value"] = json!(100);
        e
    };
    assert_eq!(c.ingest(&changed).code(), "idempotency_key_reused");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("10".to_owned(), 4));
    assert_eq!(c.get(&format!("/v1/customers/{}", s.customer)).body, customer);
    assert_eq!(c.get(&format!("/v1/billing/metrics/{}", s.metric)).body, metric);
    let items = c.get(&format!("/v1/items?customer_id={}", s.customer));
    assert_eq!(items.body["data"][0]["id"], item.body["id"]);
    let usage = c.usage_body(&s.customer, None);
    assert_eq!(usage["items"][0]["amount"], "5.00");
    // The Idempotency-Key answer is kept across the restart too.
    let again = c.post_raw(
        "/v1/customers",
        br#"{"name": "Replay", "email": "r@acme.test"}"#,
        &[("idempotency-key", "restart-1")],
    );
    assert_eq!((again.status, again.text), (201, replayed.text));
}

// --- The `Idempotency-Key` header: the first answer again, from KV. ---

#[test]
fn same_idempotency_key_header_and_body_returns_the_first_answer() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let body = json!({"events": [s.event(json!(2)), s.event(json!(3))]}).to_string();
    let header = key();
    let first = c.post_raw("/v1/usage/ingest", body.as_bytes(), &[("idempotency-key", &header)]);
    assert_eq!((first.status, first.counts()), (200, (2, 0, 0)));

    let again = c.post_raw("/v1/usage/ingest", body.as_bytes(), &[("idempotency-key", &header)]);
    // The same bytes, still saying "accepted": the answer is the stored one, not a rerun
    // (a rerun would say "duplicate").
    assert_eq!((again.status, &again.text), (200, &first.text));
    assert_eq!(c.quantity(&s.customer, &s.metric), ("5".to_owned(), 2));
    // Without the header the events reach their customer's object, which has them.
    let rerun = c.post_raw("/v1/usage/ingest", body.as_bytes(), &[]);
    assert_eq!(rerun.counts(), (0, 2, 0));
}

#[test]
fn same_idempotency_key_header_with_another_body_is_422() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let header = key();
    let first =
        c.post_raw("/v1/usage/ingest", s.event(json!(1)).to_string().as_bytes(), &[("idempotency-key", &header)]);
    assert_eq!(first.status, 200);
    let other = s.event(json!(1));
    let r = c.post_raw("/v1/usage/ingest", other.to_string().as_bytes(), &[("idempotency-key", &header)]);
    r.assert_error(422, "idempotency_key_reused", None);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("1".to_owned(), 1), "the refused request ran nothing");
}

#[test]
fn idempotency_key_header_on_create_customer_returns_the_same_customer() {
    let c = shared().client();
    let header = key();
    let body = json!({"name": "Initech", "email": "ap@initech.test"}).to_string();
    let first = c.post_raw("/v1/customers", body.as_bytes(), &[("idempotency-key", &header)]);
    assert_eq!(first.status, 201, "{}", first.text);
    let again = c.post_raw("/v1/customers", body.as_bytes(), &[("idempotency-key", &header)]);
    assert_eq!((again.status, &again.text), (201, &first.text));

    let other = json!({"name": "Initrode", "email": "ap@initech.test"}).to_string();
    c.post_raw("/v1/customers", other.as_bytes(), &[("idempotency-key", &header)]).assert_error(
        422,
        "idempotency_key_reused",
        None,
    );
    let fresh = c.post_raw("/v1/customers", body.as_bytes(), &[("idempotency-key", &key())]);
    assert_eq!(fresh.status, 201);
    assert_ne!(fresh.body["id"], first.body["id"], "another key creates another customer");
}

/// Copies of one create sent at once (a client's timeout and its retry, say) used to race
/// past the KV lookup and each create a customer. The key's own object lets one run: the
/// others get its answer, or 409 `idempotency_key_in_use` while it runs.
#[test]
fn concurrent_creates_under_one_idempotency_key_make_one_customer() {
    const COPIES: usize = 12;
    let c = shared().client();
    for round in 0..4 {
        let header = key();
        let body = json!({"name": format!("Race {header}"), "email": "ap@race.test"}).to_string();
        let start = std::sync::Barrier::new(COPIES);
        let answers: Vec<Resp> = std::thread::scope(|s| {
            let copies: Vec<_> = (0..COPIES)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        c.post_raw("/v1/customers", body.as_bytes(), &[("idempotency-key", &header)])
                    })
                })
                .collect();
            copies.into_iter().map(|h| h.join().expect("a copy")).collect()
        });
        let mut ids = std::collections::BTreeSet::new();
        for a in &answers {
            match a.status {
                201 => {
                    ids.insert(a.body["id"].as_str().expect("an id").to_owned());
                }
                409 => assert_eq!(a.code(), "idempotency_key_in_use", "{}", a.text),
                _ => panic!("round {round}: unexpected answer {} {}", a.status, a.text),
            }
        }
        assert_eq!(ids.len(), 1, "round {round}: one customer for one key, got {ids:?}");
        // Once it has run, every copy gets its answer.
        let again = c.post_raw("/v1/customers", body.as_bytes(), &[("idempotency-key", &header)]);
        assert_eq!((again.status, again.body["id"].as_str()), (201, ids.first().map(String::as_str)));
    }
}

#[test]
fn refused_request_is_not_kept_for_its_idempotency_key() {
    let c = shared().client();
    let header = key();
    let bad = c.post_raw("/v1/customers", br#"{"name": "Initech", "email": "nope"}"#, &[("idempotency-key", &header)]);
    bad.assert_error(400, "invalid_field", Some("email"));
    // Like Stripe: a request that failed validation saved nothing, so the corrected one runs.
    let good = c.post_raw(
        "/v1/customers",
        br#"{"name": "Initech", "email": "ap@initech.test"}"#,
        &[("idempotency-key", &header)],
    );
    assert_eq!(good.status, 201, "{}", good.text);
}

#[test]
fn idempotency_key_header_is_scoped_to_its_route_and_key() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let header = key();
    let customer =
        c.post_raw("/v1/customers", br#"{"name": "A", "email": "a@acme.test"}"#, &[("idempotency-key", &header)]);
    assert_eq!(customer.status, 201);
    let ingest =
        c.post_raw("/v1/usage/ingest", s.event(json!(1)).to_string().as_bytes(), &[("idempotency-key", &header)]);
    assert_eq!((ingest.status, ingest.counts()), (200, (1, 0, 0)), "another route is another scope");
    let by_ingest_key = c.with_key(Some(INGEST_KEY)).post_raw(
        "/v1/usage/ingest",
        s.event(json!(1)).to_string().as_bytes(),
        &[("idempotency-key", &header)],
    );
    assert_eq!((by_ingest_key.status, by_ingest_key.counts()), (200, (1, 0, 0)), "another key is another scope");
}
