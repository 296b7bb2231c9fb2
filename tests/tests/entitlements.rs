//! Limits, entitlements and reservations (API.md "Limits, entitlements and
//! reservations") against a real `wrangler dev`: hard limits exact under parallel
//! senders, holds exact under parallel reservations, commit exactly once, release,
//! expiry without anyone calling, who may do what, and bad input refused whole.
//! (`limits.rs` is about payload limits.)

use edgemeter_tests::*;
use serde_json::{json, Value};
use std::time::Duration;

fn put_limit(c: &Client, customer: &str, metric: &str, max: &str, mode: &str) -> Resp {
    let body = json!({"max": max, "mode": mode}).to_string();
    c.send("PUT", &format!("/v1/customers/{customer}/limits/{metric}"), Some(body.as_bytes()), &[])
}

fn entitlement(c: &Client, customer: &str, metric: &str) -> Value {
    let r = c.get(&format!("/v1/customers/{customer}/entitlements/{metric}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn reserve(c: &Client, customer: &str, metric: &str, quantity: Value, ttl: Option<u64>) -> Resp {
    let mut body = json!({"metric_code": metric, "quantity": quantity, "idempotency_key": key()});
    if let Some(t) = ttl {
        body["ttl_seconds"] = json!(t);
    }
    c.post(&format!("/v1/customers/{customer}/reservations"), &body)
}

fn act(c: &Client, customer: &str, rid: &str, what: &str, body: Value) -> Resp {
    c.post(&format!("/v1/customers/{customer}/reservations/{rid}/{what}"), &body)
}

/// The first concurrency test: 100 events from 20 parallel senders against a
/// hard limit of 50 give exactly 50 accepted, and 50 counted.
#[test]
fn a_hard_limit_of_50_takes_exactly_50_of_100_parallel_events() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "50", "hard").status, 200);
    let outcomes: Vec<(u16, String)> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    let c = shared().client();
                    (0..5)
                        .map(|_| {
                            let r = c.ingest(&s.event(json!(1)));
                            (r.status, r.code().to_owned())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders.into_iter().flat_map(|h| h.join().expect("a sender")).collect()
    });
    let accepted = outcomes.iter().filter(|(s, _)| *s == 200).count();
    let refused = outcomes.iter().filter(|(s, code)| *s == 400 && code == "limit_exceeded").count();
    assert_eq!((accepted, refused), (50, 50), "{outcomes:?}");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("50".to_owned(), 50));
    let e = entitlement(&c, &s.customer, &s.metric);
    assert_eq!(
        e,
        json!({"metric_code": s.metric, "max": "50", "mode": "hard", "used": "50", "reserved": "0",
               "remaining": "0", "allowed": false})
    );
}

/// 32 checks at once on one customer, a few of them the whole list: the front coalesces
/// concurrent reads of a customer in an isolate into shared object calls
/// (`worker/src/front/entitlement_reads.rs`). Every check answers 200 with the usage
/// there is, and the request log (whose `object_calls` count every call once, to one of
/// the requests it carried) shows fewer object calls than checks.
#[test]
fn thirty_two_concurrent_checks_share_object_calls_and_all_read_the_usage() {
    let total = concurrent_checks(shared());
    assert!(total < 32, "{total} object calls for 32 checks");
}

/// The same with read lanes handed from driver to driver after every call (as
/// `batching.rs` does for ingest's): the waiting checks take the lane over in turn, and
/// every one still answers 200 with the usage.
#[test]
fn concurrent_checks_on_lanes_handed_over_after_every_call_all_read_the_usage() {
    let server = Server::start_with(&fresh_state_dir("reads-handoff"), &[("EDGEMETER_LANE_HANDOFF_MS", "0")]);
    concurrent_checks(&server);
}

/// 32 concurrent checks on one customer (every 8th the whole list), each checked; the
/// object calls the request log counts for them.
fn concurrent_checks(server: &Server) -> u64 {
    const CHECKS: usize = 32;
    let c = server.client();
    let s = c.setup("count", json!({}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "100", "hard").status, 200);
    let events: Vec<Value> = (0..7).map(|_| s.event(json!(1))).collect();
    assert_eq!(c.ingest_batch(&events).counts(), (7, 0, 0));
    let want = json!({"metric_code": s.metric, "max": "100", "mode": "hard", "used": "7", "reserved": "0",
                      "remaining": "93", "allowed": true});
    let one = format!("/v1/customers/{}/entitlements/{}", s.customer, s.metric);
    let all = format!("/v1/customers/{}/entitlements", s.customer);
    let start = std::sync::Barrier::new(CHECKS);
    let answers: Vec<(bool, Resp)> = std::thread::scope(|scope| {
        let checks: Vec<_> = (0..CHECKS)
            .map(|i| {
                let (c, start, one, all) = (c.clone(), &start, &one, &all);
                scope.spawn(move || {
                    let whole = i % 8 == 0;
                    start.wait();
                    (whole, c.get(if whole { all } else { one }))
                })
            })
            .collect();
        checks.into_iter().map(|h| h.join().expect("a check")).collect()
    });
    for (whole, r) in &answers {
        assert_eq!(r.status, 200, "{}", r.text);
        let e = if *whole {
            r.body["data"].as_array().and_then(|d| d.iter().find(|e| e["metric_code"] == want["metric_code"]))
        } else {
            Some(&r.body)
        };
        assert_eq!(e, Some(&want), "{}", r.text);
    }
    // The request log counts each request's object calls.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        let calls: Vec<u64> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["route"].as_str().is_some_and(|r| r.starts_with("/v1/customers/{id}/entitlements")))
            .filter(|v| v["customer_id"] == s.customer.as_str())
            .filter_map(|v| v["object_calls"].as_u64())
            .collect();
        if calls.len() >= CHECKS {
            let total: u64 = calls.iter().sum();
            assert!((1..=CHECKS as u64).contains(&total), "{total} object calls for {CHECKS} checks: {calls:?}");
            eprintln!("{total} object calls for {CHECKS} concurrent checks");
            return total;
        }
        assert!(std::time::Instant::now() < deadline, "the checks were not logged: {calls:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The second: 20 parallel reservations of 10 against 45 remaining hold exactly 4.
#[test]
fn twenty_parallel_holds_of_10_against_45_remaining_hold_exactly_4() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "50", "hard").status, 200);
    assert_eq!(c.ingest(&s.event(json!(5))).status, 200);
    let statuses: Vec<(u16, String)> = std::thread::scope(|scope| {
        let holds: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    let r = reserve(&shared().client(), &s.customer, &s.metric, json!(10), None);
                    (r.status, r.code().to_owned())
                })
            })
            .collect();
        holds.into_iter().map(|h| h.join().expect("a reservation")).collect()
    });
    let held = statuses.iter().filter(|(s, _)| *s == 201).count();
    let refused = statuses.iter().filter(|(s, code)| *s == 409 && code == "limit_exceeded").count();
    assert_eq!((held, refused), (4, 16), "{statuses:?}");
    let e = entitlement(&c, &s.customer, &s.metric);
    assert_eq!(
        (e["used"].as_str(), e["reserved"].as_str(), e["remaining"].as_str()),
        (Some("5"), Some("40"), Some("5"))
    );
    let listed = c.get(&format!("/v1/customers/{}/reservations?status=held", s.customer));
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(4), "{}", listed.text);
}

/// A batch is decided in request order: what fits is accepted, the one that would
/// cross is refused with `limit_exceeded` on `value`, and a later smaller one still fits.
#[test]
fn a_batch_is_decided_in_request_order() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "5", "hard").status, 200);
    let r = c.ingest_batch(&[s.event(json!(3)), s.event(json!(4)), s.event(json!(2))]);
    assert_eq!(r.statuses(), vec!["accepted", "rejected", "accepted"], "{}", r.text);
    assert_eq!(r.body["results"][1]["error"]["code"], "limit_exceeded");
    assert_eq!(r.body["results"][1]["error"]["field"], "value");
    assert_eq!(c.quantity(&s.customer, &s.metric).0, "5");
}

/// Soft limits refuse nothing; the entitlement shows the overage as nothing remaining.
#[test]
fn a_soft_limit_accepts_and_shows_the_overage() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "2", "soft").status, 200);
    let r = c.ingest_batch(&[s.event(json!(2)), s.event(json!(1))]);
    assert_eq!(r.statuses(), vec!["accepted", "accepted"]);
    let e = entitlement(&c, &s.customer, &s.metric);
    assert_eq!(
        (e["used"].as_str(), e["remaining"].as_str(), e["allowed"].as_bool()),
        (Some("3"), Some("0"), Some(true))
    );
}

/// A filtered metric limits only the events it counts.
#[test]
fn a_filtered_metric_limits_only_what_it_counts() {
    let c = shared().client();
    let s = c.setup("sum", json!({"filters": {"region": ["eu"]}}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "10", "hard").status, 200);
    let with = |v: i64, region: &str| {
        let mut e = s.event(json!(v));
        e["properties"] = json!({"region": region});
        e
    };
    let r = c.ingest_batch(&[with(100, "us"), with(8, "eu"), with(5, "eu")]);
    assert_eq!(r.statuses(), vec!["accepted", "accepted", "rejected"], "{}", r.text);
    assert_eq!(entitlement(&c, &s.customer, &s.metric)["used"], "8");
}

/// Reserve, commit the real value (one event, once), release, and the 409s.
#[test]
fn a_commit_records_one_event_once_and_a_release_frees_the_hold() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "100", "hard").status, 200);
    let r = reserve(&c, &s.customer, &s.metric, json!("40"), None);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "held");
    assert!(r.body["id"].as_str().is_some_and(|id| id.starts_with("rsv_")));
    let (rid, key) = (r.body["id"].as_str().unwrap().to_owned(), r.body["idempotency_key"].clone());
    assert_eq!(entitlement(&c, &s.customer, &s.metric)["remaining"], "60");

    let first = act(&c, &s.customer, &rid, "commit", json!({"value": 32, "properties": {"model": "large"}}));
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["reservation"]["status"], "committed");
    assert_eq!(first.body["event"], json!({"idempotency_key": key, "status": "accepted"}));
    // A repeated commit answers the first result, whatever it says now.
    let again = act(&c, &s.customer, &rid, "commit", json!({"value": 99}));
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(c.quantity(&s.customer, &s.metric), ("32".to_owned(), 1));
    let e = entitlement(&c, &s.customer, &s.metric);
    assert_eq!(
        (e["used"].as_str(), e["reserved"].as_str(), e["remaining"].as_str()),
        (Some("32"), Some("0"), Some("68"))
    );
    act(&c, &s.customer, &rid, "release", json!({})).assert_error(409, "reservation_committed", None);

    // Above the reserved quantity only where the limit allows it.
    let r = reserve(&c, &s.customer, &s.metric, json!(10), None);
    let rid = r.body["id"].as_str().expect("an id").to_owned();
    act(&c, &s.customer, &rid, "commit", json!({"value": 69})).assert_error(409, "limit_exceeded", Some("value"));
    let got = c.get(&format!("/v1/customers/{}/reservations/{rid}", s.customer));
    assert_eq!(got.body["status"], "held", "still held: {}", got.text);
    let ok = act(&c, &s.customer, &rid, "commit", json!({"value": 68}));
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(entitlement(&c, &s.customer, &s.metric)["allowed"], false);

    // Released: holds nothing, and cannot be committed.
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "200", "hard").status, 200);
    let r = reserve(&c, &s.customer, &s.metric, json!(50), None);
    let rid = r.body["id"].as_str().expect("an id").to_owned();
    let released = act(&c, &s.customer, &rid, "release", json!({}));
    assert_eq!((released.status, released.body["status"].as_str()), (200, Some("released")));
    assert_eq!(act(&c, &s.customer, &rid, "release", json!({})).status, 200, "a release repeats safely");
    act(&c, &s.customer, &rid, "commit", json!({})).assert_error(409, "reservation_released", None);
    assert_eq!(entitlement(&c, &s.customer, &s.metric)["reserved"], "0");
}

/// A hold past its TTL frees itself with nobody calling, and cannot be committed.
#[test]
fn a_hold_expires_by_itself() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "10", "hard").status, 200);
    let r = reserve(&c, &s.customer, &s.metric, json!(10), Some(1));
    assert_eq!(r.status, 201, "{}", r.text);
    let rid = r.body["id"].as_str().expect("an id").to_owned();
    reserve(&c, &s.customer, &s.metric, json!(1), None).assert_error(409, "limit_exceeded", Some("quantity"));
    // Waiting out the TTL, not the server.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(entitlement(&c, &s.customer, &s.metric)["reserved"], "0");
    act(&c, &s.customer, &rid, "commit", json!({})).assert_error(409, "reservation_expired", None);
    let expired = c.get(&format!("/v1/customers/{}/reservations?status=expired", s.customer));
    assert_eq!(expired.body["data"][0]["id"], rid.as_str(), "{}", expired.text);
    let held = c.get(&format!("/v1/customers/{}/reservations?status=held", s.customer));
    assert_eq!(held.body["data"], json!([]));
}

/// Ingest keys and the customer's own token read entitlements and reserve, commit and
/// release; another customer's token is refused; only secret keys set limits.
#[test]
fn ingest_keys_and_the_customers_token_may_check_and_reserve() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let other = c.customer();
    assert_eq!(put_limit(&c, &s.customer, &s.metric, "100", "hard").status, 200);
    let mint = |customer: &str| {
        let r = c.post("/v1/tokens", &json!({"customer_id": customer}));
        r.body["token"].as_str().expect("a token").to_owned()
    };
    let (this, that) = (mint(&s.customer), mint(&other));
    for key in [INGEST_KEY, this.as_str()] {
        let k = c.with_key(Some(key));
        assert_eq!(k.get(&format!("/v1/customers/{}/entitlements", s.customer)).status, 200);
        let r = reserve(&k, &s.customer, &s.metric, json!(5), None);
        assert_eq!(r.status, 201, "{}", r.text);
        let rid = r.body["id"].as_str().unwrap();
        assert_eq!(act(&k, &s.customer, rid, "commit", json!({})).status, 200);
        let put = put_limit(&k, &s.customer, &s.metric, "1", "hard");
        put.assert_error(403, "forbidden", None);
    }
    let k = c.with_key(Some(&that));
    k.get(&format!("/v1/customers/{}/entitlements", s.customer)).assert_error(403, "forbidden_customer", None);
    reserve(&k, &s.customer, &s.metric, json!(5), None).assert_error(403, "forbidden_customer", None);
    assert_eq!(entitlement(&c, &s.customer, &s.metric)["used"], "10");
}

/// Bad input is refused with its field, and nothing is half-written.
#[test]
fn bad_input_is_refused_whole() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let cus = &s.customer;
    put_limit(&c, cus, &s.metric, "-1", "hard").assert_error(400, "invalid_field", Some("max"));
    put_limit(&c, cus, &s.metric, "1", "firm").assert_error(400, "invalid_field", Some("mode"));
    put_limit(&c, cus, "no_such_metric", "1", "hard").assert_error(404, "unknown_metric", None);
    let latest = c.metric("latest", &s.event_name, "latest", json!({}));
    put_limit(&c, cus, &latest, "1", "hard").assert_error(400, "unsupported_aggregation", Some("metric_code"));
    put_limit(&c, "cus_00000000000000000000000000", &s.metric, "1", "hard").assert_error(404, "unknown_customer", None);
    let listed = c.get(&format!("/v1/customers/{cus}/limits"));
    assert_eq!(listed.body, json!({"data": [], "next_cursor": null}), "nothing written");
    let r = c.send("DELETE", &format!("/v1/customers/{cus}/limits/{}", s.metric), None, &[]);
    r.assert_error(404, "unknown_limit", None);
    assert_eq!(put_limit(&c, cus, &s.metric, "10", "hard").status, 200);
    let r = c.send("DELETE", &format!("/v1/customers/{cus}/limits/{}", s.metric), None, &[]);
    assert_eq!((r.status, &r.body), (200, &json!({"metric_code": s.metric, "deleted": true})));
    assert_eq!(entitlement(&c, cus, &s.metric)["max"], Value::Null);

    reserve(&c, cus, &s.metric, json!(1), Some(3601)).assert_error(400, "invalid_field", Some("ttl_seconds"));
    reserve(&c, cus, &s.metric, json!(1), Some(0)).assert_error(400, "invalid_field", Some("ttl_seconds"));
    reserve(&c, cus, &s.metric, json!(0), None).assert_error(400, "invalid_field", Some("quantity"));
    reserve(&c, cus, "no_such_metric", json!(1), None).assert_error(404, "unknown_metric", Some("metric_code"));
    let r = c.post(&format!("/v1/customers/{cus}/reservations"), &json!({"metric_code": s.metric, "quantity": 1}));
    r.assert_error(400, "missing_idempotency_key", Some("idempotency_key"));
    c.get(&format!("/v1/customers/{cus}/entitlements/no_such_metric")).assert_error(404, "unknown_metric", None);
    act(&c, cus, "rsv_nope", "commit", json!({})).assert_error(404, "unknown_reservation", None);
    c.get(&format!("/v1/customers/{cus}/reservations?status=open")).assert_error(400, "invalid_field", Some("status"));
    let held = c.get(&format!("/v1/customers/{cus}/reservations"));
    assert_eq!(held.body, json!({"data": [], "next_cursor": null}), "nothing held");
}
