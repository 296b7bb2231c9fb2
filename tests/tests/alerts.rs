//! API.md "Alerts", end to end: decided in the transaction that crosses the threshold,
//! so concurrent batches fire each alert once; delivered by the customer's object itself
//! within seconds (no invoicing run), signed, and retried by the object's alarm with the
//! same event id when the receiver fails. Each webhook test has its own server (the
//! receiver's URL is a server variable).

use edgemeter_sdk::verify_signature;
use edgemeter_tests::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WEBHOOK_SECRET: &str = "whsec_alerts";

fn with_receiver(name: &str, receiver: &Receiver) -> Server {
    Server::start_with(
        &fresh_state_dir(name),
        &[("EDGEMETER_WEBHOOK_URL", &receiver.url), ("EDGEMETER_WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
}

/// Waits until the receiver has `n` requests (or the deadline passes) and returns them.
fn wait_for(receiver: &Receiver, n: usize, limit: Duration) -> Vec<Received> {
    let deadline = Instant::now() + limit;
    loop {
        let got = receiver.received();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn body(r: &Received) -> Value {
    serde_json::from_str(&r.body).expect("a webhook is JSON")
}

/// A customer with a per-unit item on a fresh metric: its id, event name and metric.
fn customer(c: &Client) -> (String, String, String) {
    let customer = c.customer();
    let name = event_name("alerts");
    let metric = c.metric("alerts", &name, "sum", json!({}));
    let item = json!({"name": "Calls", "kind": "usage", "metric_code": metric, "price": {"model": "per_unit", "unit_amount": "0.10"}});
    assert_eq!(c.post(&format!("/v1/customers/{customer}/items"), &item).status, 201);
    (customer, name, metric)
}

#[test]
fn ten_parallel_batches_crossing_two_thresholds_give_exactly_two_webhooks() {
    let receiver = Receiver::start(0);
    let server = with_receiver("alerts-parallel", &receiver);
    let c = server.client();
    let (customer, name, metric) = customer(&c);
    let mut alerts = Vec::new();
    for threshold in ["50", "100"] {
        let r = c.post(
            &format!("/v1/customers/{customer}/alerts"),
            &json!({"name": format!("{threshold} calls"), "kind": "usage", "metric_code": metric, "threshold": threshold}),
        );
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert!(r.body["id"].as_str().is_some_and(|i| i.starts_with("alr_")));
        assert!(r.body["last_triggered_at"].is_null());
        alerts.push(r.body["id"].as_str().expect("id").to_owned());
    }
    std::thread::scope(|s| {
        for _ in 0..10 {
            let (c, customer, name) = (c.clone(), customer.clone(), name.clone());
            s.spawn(move || {
                let events: Vec<Value> = (0..15).map(|_| event(&customer, &name, json!(1))).collect();
                let r = c.ingest_batch(&events);
                assert_eq!((r.status, r.counts().0), (200, 15), "{:?}", r.body);
            });
        }
    });
    let got = wait_for(&receiver, 2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    let got_later = receiver.received();
    assert_eq!(got_later.len(), 2, "exactly two webhooks: {got_later:#?}");
    let now = now_ms() / 1000;
    let mut fired: Vec<String> = got
        .iter()
        .map(|r| {
            assert_eq!(verify_signature(WEBHOOK_SECRET, &r.signature, r.body.as_bytes(), now, 300), Ok(()));
            let b = body(r);
            assert_eq!(b["type"], "alert.triggered", "{b}");
            assert!(b["id"].as_str().is_some_and(|i| i.starts_with("evt_")));
            assert_eq!(
                (b["data"]["customer_id"].as_str(), b["data"]["kind"].as_str()),
                (Some(customer.as_str()), Some("usage"))
            );
            let (threshold, value) =
                (b["data"]["threshold"].as_str().unwrap_or(""), b["data"]["value"].as_str().unwrap_or(""));
            let (t, v): (u32, u32) = (threshold.parse().expect("threshold"), value.parse().expect("value"));
            assert!(v >= t, "fired at {v} for {t}");
            assert!(b["data"]["period"]["start"].is_string());
            b["data"]["alert_id"].as_str().expect("alert_id").to_owned()
        })
        .collect();
    fired.sort();
    let mut want = alerts.clone();
    want.sort();
    assert_eq!(fired, want, "each alert once");
    let listed = c.get(&format!("/v1/customers/{customer}/alerts")).body;
    for a in listed["data"].as_array().expect("alerts") {
        assert!(a["last_triggered_at"].is_string(), "{a}");
    }
    // More usage in the same period fires nothing more.
    assert_eq!(c.ingest(&event(&customer, &name, json!(100))).status, 200);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.received().len(), 2);
}

#[test]
fn a_receiver_that_fails_gets_one_more_with_the_same_id_from_the_alarm() {
    let receiver = Receiver::start(1);
    let server = with_receiver("alerts-retry", &receiver);
    let c = server.client();
    let (customer, name, _) = customer(&c);
    let r = c.post(
        &format!("/v1/customers/{customer}/alerts"),
        &json!({"name": "Alert", "kind": "spend", "threshold": "1.00"}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(c.ingest(&event(&customer, &name, json!(12))).status, 200);
    let first = wait_for(&receiver, 1, Duration::from_secs(10));
    assert_eq!(first.len(), 1, "delivered at once, not at the next run");
    assert_eq!(first[0].answered, 500);
    assert_eq!(body(&first[0])["data"]["value"], "1.20");
    // The first retry is due a minute later (the outbox's backoff); the object's alarm
    // sends it, with no invoicing run.
    let all = wait_for(&receiver, 2, Duration::from_secs(120));
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[1].answered, 200);
    assert_eq!(body(&all[0])["id"], body(&all[1])["id"], "a retry keeps the event id");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(receiver.received().len(), 2, "a delivered webhook is not sent again");
}

#[test]
fn a_credit_balance_alert_fires_once_per_crossing() {
    let receiver = Receiver::start(0);
    let server = with_receiver("alerts-credit", &receiver);
    let c = server.client();
    let (customer, name, _) = customer(&c);
    let path = |rest: &str| format!("/v1/customers/{customer}{rest}");
    assert_eq!(c.post(&path("/credit_grants"), &json!({"name": "Credit", "amount": "10.00"})).status, 201);
    let r = c.post(&path("/alerts"), &json!({"name": "Alert", "kind": "credit_balance", "threshold": "5.00"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(c.ingest(&event(&customer, &name, json!(60))).status, 200); // 6.00 pending: 4.00 left
    let got = wait_for(&receiver, 1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(body(&got[0])["data"]["value"], "4.00");
    assert_eq!(c.ingest(&event(&customer, &name, json!(10))).status, 200); // still below
                                                                           // A new grant lifts the balance above: armed again, and the next fall fires again.
    assert_eq!(c.post(&path("/credit_grants"), &json!({"name": "Credit", "amount": "20.00"})).status, 201); // 23.00
    assert_eq!(c.ingest(&event(&customer, &name, json!(200))).status, 200); // 3.00
    let got = wait_for(&receiver, 2, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.received().len(), 2, "{got:#?}");
    assert_ne!(body(&got[0])["id"], body(&got[1])["id"]);
}

#[test]
fn alerts_are_created_listed_deleted_and_checked() {
    let c = shared().client();
    let (customer, _, metric) = customer(&c);
    let path = |rest: &str| format!("/v1/customers/{customer}{rest}");
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"kind": "spend", "threshold": "5"}), "missing_field", "name"),
        (json!({"name": "Alert", "threshold": "5"}), "missing_field", "kind"),
        (json!({"name": "Alert", "kind": "weekly", "threshold": "5"}), "invalid_field", "kind"),
        (json!({"name": "Alert", "kind": "usage", "threshold": "5"}), "missing_field", "metric_code"),
        (
            json!({"name": "Alert", "kind": "usage", "metric_code": "nope_not_a_metric", "threshold": "5"}),
            "unknown_metric",
            "metric_code",
        ),
        (
            json!({"name": "Alert", "kind": "usage", "metric_code": metric, "threshold": "-5"}),
            "invalid_field",
            "threshold",
        ),
        (json!({"name": "Alert", "kind": "spend", "threshold": "1.001"}), "invalid_amount", "threshold"),
        (json!({"name": "Alert", "kind": "spend"}), "missing_field", "threshold"),
        (
            json!({"name": "Alert", "kind": "spend", "metric_code": metric, "threshold": "1"}),
            "invalid_field",
            "metric_code",
        ),
        (json!({"name": "Alert", "kind": "spend", "threshold": "1", "when": "now"}), "unknown_field", "when"),
    ];
    for (b, code, field) in cases {
        c.post(&path("/alerts"), &b).assert_error(400, code, Some(field));
    }
    let r = c.post(&path("/alerts"), &json!({"name": "Big spender", "kind": "spend", "threshold": "500"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!((r.body["threshold"].as_str(), r.body["kind"].as_str()), (Some("500.00"), Some("spend")));
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert_eq!(c.get(&path("/alerts")).body["data"].as_array().map(Vec::len), Some(1));
    let r = c.send("DELETE", &path(&format!("/alerts/{id}")), None, &[]);
    assert_eq!((r.status, r.body["deleted"].as_bool()), (200, Some(true)), "{:?}", r.body);
    c.send("DELETE", &path(&format!("/alerts/{id}")), None, &[]).assert_error(404, "not_found", None);
    assert_eq!(c.get(&path("/alerts")).body["data"].as_array().map(Vec::len), Some(0));
    c.with_key(Some(INGEST_KEY)).get(&path("/alerts")).assert_error(403, "forbidden", None);
}
