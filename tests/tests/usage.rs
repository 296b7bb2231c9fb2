//! API.md "Billable metrics" and "Usage": each aggregation exact, filters, several
//! metrics on one event name, back-fill of a new metric, voiding, and the usage answer.
//!
//! Event times are a few seconds in the past, so they fall in the current period unless a
//! test runs within seconds of a period boundary.

use edgemeter_tests::*;
use serde_json::{json, Value};

fn at(mut ev: Value, offset_ms: i64) -> Value {
    ev["timestamp"] = json!(time_from_now(offset_ms));
    ev
}

fn props(mut ev: Value, p: Value) -> Value {
    ev["properties"] = p;
    ev
}

fn void(c: &Client, customer: &str, ev: &Value) -> Resp {
    c.post("/v1/usage/void", &json!({"idempotency_key": ev["idempotency_key"], "customer_id": customer}))
}

#[test]
fn sum_is_exact_for_decimals() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let r = c.ingest_batch(&[s.event(json!("0.1")), s.event(json!(0.1)), s.event(json!("0.1"))]);
    assert_eq!(r.counts(), (3, 0, 0));
    assert_eq!(c.quantity(&s.customer, &s.metric), ("0.3".to_owned(), 3), "no binary float error");
    // Every spelling of a value: string, number, exponent, trailing zeros, the default 1.
    let mut no_value = s.event(json!(0));
    no_value.as_object_mut().expect("object").remove("value");
    let r = c.ingest_batch(&[
        s.event(json!("85.70")),
        s.event(json!(1e3)),
        s.event(json!("2.5E-1")),
        s.event(json!(0)),
        s.event(Value::Null),
        no_value,
        s.event(json!("0.000000001")),
    ]);
    assert_eq!(r.counts(), (7, 0, 0), "{}", r.text);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("1088.250000001".to_owned(), 10));
}

#[test]
fn count_counts_events_whatever_their_value() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    c.ingest_batch(&[s.event(json!(5)), s.event(json!("0.5")), s.event(json!(0))]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("3".to_owned(), 3));
}

#[test]
fn max_is_the_largest_value() {
    let c = shared().client();
    let s = c.setup("max", json!({}));
    c.ingest_batch(&[s.event(json!(3)), s.event(json!("7.5")), s.event(json!(2))]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("7.5".to_owned(), 3));
}

#[test]
fn unique_count_counts_distinct_values_of_its_field() {
    let c = shared().client();
    let s = c.setup("unique_count", json!({"field": "user"}));
    c.ingest_batch(&[
        props(s.event(json!(1)), json!({"user": "ann"})),
        props(s.event(json!(1)), json!({"user": "bob"})),
        props(s.event(json!(1)), json!({"user": "ann"})),
        props(s.event(json!(1)), json!({"other": "cy"})),
        props(s.event(json!(1)), json!({"user": "dee", "plan": "pro"})),
    ]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("3".to_owned(), 5));
}

#[test]
fn latest_is_the_value_with_the_newest_timestamp_whatever_the_arrival_order() {
    let c = shared().client();
    let s = c.setup("latest", json!({}));
    assert_eq!(c.ingest(&at(s.event(json!(3)), -2_000)).counts(), (1, 0, 0));
    assert_eq!(c.ingest(&at(s.event(json!(9)), -6_000)).counts(), (1, 0, 0), "older, arriving later");
    assert_eq!(c.quantity(&s.customer, &s.metric), ("3".to_owned(), 2));
    c.ingest_batch(&[at(s.event(json!(8)), -5_000), at(s.event(json!("4.5")), -1_000), at(s.event(json!(1)), -4_000)]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("4.5".to_owned(), 5));
}

#[test]
fn filters_count_only_matching_events() {
    let c = shared().client();
    let s = c.setup("sum", json!({"filters": {"region": ["eu"], "tier": ["1", "2"]}}));
    c.ingest_batch(&[
        props(s.event(json!(1)), json!({"region": "eu", "tier": 1})),
        props(s.event(json!(2)), json!({"region": "eu", "tier": "2"})),
        props(s.event(json!(4)), json!({"region": "us", "tier": 1})),
        props(s.event(json!(8)), json!({"region": "eu", "tier": 3})),
        props(s.event(json!(16)), json!({"region": "eu"})),
        s.event(json!(32)),
    ]);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("3".to_owned(), 2));
}

#[test]
fn metrics_on_one_event_name_with_different_filters_count_separately() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let eu = c.metric("eu", &s.event_name, "sum", json!({"filters": {"region": ["eu"]}}));
    let us = c.metric("us", &s.event_name, "count", json!({"filters": {"region": ["us"]}}));
    c.ingest_batch(&[
        props(s.event(json!(1)), json!({"region": "eu"})),
        props(s.event(json!(2)), json!({"region": "us"})),
        props(s.event(json!(4)), json!({"region": "eu"})),
        props(s.event(json!(8)), json!({"region": "apac"})),
    ]);
    let u = c.usage(&s.customer);
    assert_eq!(u[&s.metric], ("15".to_owned(), 4));
    assert_eq!(u[&eu], ("5".to_owned(), 2));
    assert_eq!(u[&us], ("1".to_owned(), 1));
}

#[test]
fn metric_created_after_events_counts_them_and_every_later_one() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    c.ingest_batch(&[s.event(json!(2)), props(s.event(json!(3)), json!({"region": "eu"}))]);
    let late = c.metric("late", &s.event_name, "sum", json!({}));
    let late_eu = c.metric("late_eu", &s.event_name, "sum", json!({"filters": {"region": ["eu"]}}));
    let u = c.usage(&s.customer);
    assert_eq!((&u[&late], &u[&late_eu]), (&("5".to_owned(), 2), &("3".to_owned(), 1)), "back-filled");

    // Events sent right after the new metrics exist count for them too, whatever the
    // ingest path's view of the catalog.
    c.ingest_batch(&[s.event(json!(10)), props(s.event(json!(20)), json!({"region": "eu"}))]);
    let u = c.usage(&s.customer);
    assert_eq!(u[&s.metric], ("4".to_owned(), 4));
    assert_eq!(u[&late], ("35".to_owned(), 4));
    assert_eq!(u[&late_eu], ("23".to_owned(), 2));
}

#[test]
fn void_retracts_an_event_from_every_aggregation() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let max = c.metric("max", &s.event_name, "max", json!({}));
    let latest = c.metric("latest", &s.event_name, "latest", json!({}));
    let users = c.metric("users", &s.event_name, "unique_count", json!({"field": "user"}));
    let a = at(props(s.event(json!(5)), json!({"user": "ann"})), -3_000);
    let b = at(props(s.event(json!(10)), json!({"user": "bob"})), -2_000);
    let a2 = at(props(s.event(json!(2)), json!({"user": "ann"})), -4_000);
    assert_eq!(c.ingest_batch(&[a.clone(), b.clone(), a2]).counts(), (3, 0, 0));
    let u = c.usage(&s.customer);
    assert_eq!(
        (&u[&s.metric], &u[&max], &u[&latest], &u[&users]),
        (&("17".to_owned(), 3), &("10".to_owned(), 3), &("10".to_owned(), 3), &("2".to_owned(), 3))
    );

    let r = void(&c, &s.customer, &b);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"idempotency_key": b["idempotency_key"], "customer_id": s.customer, "status": "voided"}));
    let u = c.usage(&s.customer);
    assert_eq!(
        (&u[&s.metric], &u[&max], &u[&latest], &u[&users]),
        (&("7".to_owned(), 2), &("5".to_owned(), 2), &("5".to_owned(), 2), &("1".to_owned(), 2))
    );

    // Its key stays taken: re-sending it is a duplicate that changes nothing.
    assert_eq!(c.ingest(&b).statuses(), ["duplicate"]);
    let r = void(&c, &s.customer, &b);
    assert_eq!((r.status, &r.body["status"]), (200, &json!("already_voided")));
    assert_eq!(c.usage(&s.customer)[&s.metric], ("7".to_owned(), 2));
    // Later events still fold into the recomputed state.
    c.ingest(&at(props(s.event(json!(1)), json!({"user": "cy"})), -1_000));
    let u = c.usage(&s.customer);
    assert_eq!(
        (&u[&s.metric], &u[&max], &u[&latest], &u[&users]),
        (&("8".to_owned(), 3), &("5".to_owned(), 3), &("1".to_owned(), 3), &("2".to_owned(), 3))
    );
}

#[test]
fn void_of_an_unknown_event_is_404_event_not_found() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let ev = s.event(json!(1));
    void(&c, &s.customer, &ev).assert_error(404, "event_not_found", Some("idempotency_key"));
    // An event of another customer is unknown to this one.
    let other = c.customer();
    assert_eq!(c.ingest(&ev).counts(), (1, 0, 0));
    void(&c, &other, &ev).assert_error(404, "event_not_found", Some("idempotency_key"));
    assert_eq!(c.quantity(&s.customer, &s.metric), ("1".to_owned(), 1));
}

#[test]
fn void_body_needs_a_uuid_key_and_an_existing_customer() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let k = key();
    let cases = [
        (json!({"customer_id": s.customer}), 400, "missing_idempotency_key", "idempotency_key"),
        (
            json!({"idempotency_key": "abc", "customer_id": s.customer}),
            400,
            "invalid_idempotency_key",
            "idempotency_key",
        ),
        (json!({"idempotency_key": k}), 400, "missing_customer_id", "customer_id"),
        (
            json!({"idempotency_key": k, "customer_id": "cus_00000000000000000000000000"}),
            404,
            "unknown_customer",
            "customer_id",
        ),
        (json!({"idempotency_key": k, "customer_id": s.customer, "reason": "x"}), 400, "unknown_field", "reason"),
    ];
    for (body, status, code, field) in cases {
        c.post("/v1/usage/void", &body).assert_error(status, code, Some(field));
    }
}

#[test]
fn usage_answer_has_the_period_metrics_and_priced_items() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let per_unit = c.post(
        &format!("/v1/customers/{}/items", s.customer),
        &json!({"name": "OCR invoices", "kind": "usage", "metric_code": s.metric, "price": {"model": "per_unit", "unit_amount": "0.05"}}),
    );
    assert_eq!(per_unit.status, 201, "{}", per_unit.text);
    let fixed = c.post(
        &format!("/v1/customers/{}/items", s.customer),
        &json!({"name": "Platform fee", "kind": "fixed", "price": {"model": "fixed", "amount": "99"}}),
    );
    assert_eq!(fixed.status, 201, "{}", fixed.text);
    c.ingest_batch(&[s.event(json!(50)), s.event(json!("35.7"))]);

    let u = c.usage_body(&s.customer, None);
    let now = time_from_now(0);
    let month_start = format!("{}-01T00:00:00Z", &now[..7]);
    assert_eq!(u["customer_id"], s.customer);
    assert_eq!(u["period"]["start"], month_start, "the default schedule is monthly from the 1st");
    let end = u["period"]["end"].as_str().expect("period end");
    assert!(end.ends_with("-01T00:00:00Z") && end > now.as_str(), "{end}");
    let mine: Vec<&Value> =
        u["metrics"].as_array().expect("metrics").iter().filter(|m| m["code"] == s.metric).collect();
    assert_eq!(
        mine,
        [
            &json!({"code": s.metric, "event_name": s.event_name, "aggregation": "sum", "quantity": "85.7", "event_count": 2})
        ]
    );
    let items = u["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{u}");
    let item = |id: &Value| items.iter().find(|i| &i["item_id"] == id).unwrap_or_else(|| panic!("item {id} in {u}"));
    let ocr = item(&per_unit.body["id"]);
    // 85.7 × 0.05 = 4.285, rounded half-even to cents.
    assert_eq!(
        (&ocr["name"], &ocr["metric_code"], &ocr["quantity"], &ocr["amount"]),
        (&json!("OCR invoices"), &json!(s.metric), &json!("85.7"), &json!("4.28"))
    );
    let fee = item(&fixed.body["id"]);
    assert_eq!((&fee["quantity"], &fee["amount"]), (&json!("1"), &json!("99.00")));
}

#[test]
fn usage_at_picks_the_period_containing_that_time() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    // An hour before the current period starts is always in the previous monthly period
    // (a fixed "32 days back" is two periods back on 1 December or 1 March), and at most
    // 31 days and an hour old, inside the 35 days an event may be late.
    let current = c.usage_body(&s.customer, None);
    let old = rfc3339(parse_utc(current["period"]["start"].as_str().expect("start")) - 3_600_000);
    let mut ev = s.event(json!(7));
    ev["timestamp"] = json!(old);
    c.ingest_batch(&[ev, s.event(json!(1))]);

    let now = c.usage_body(&s.customer, None);
    assert_eq!(now["period"], current["period"], "the test ran across a period boundary");
    let then = c.usage_body(&s.customer, Some(&old));
    assert_eq!(then["period"]["end"], now["period"]["start"], "consecutive periods");
    let q = |u: &Value| {
        u["metrics"].as_array().expect("metrics").iter().find(|m| m["code"] == s.metric).map(|m| m["quantity"].clone())
    };
    assert_eq!((q(&now), q(&then)), (Some(json!("1")), Some(json!("7"))));
    // Any offset: converted to UTC.
    let start = then["period"]["start"].as_str().expect("start").to_owned();
    let same = c.usage_body(&s.customer, Some(&start.replace("T00:00:00Z", "T02:00:00+02:00")));
    assert_eq!(same["period"], then["period"]);
    let before = c.usage_body(&s.customer, Some(&start.replace("T00:00:00Z", "T01:59:59+02:00")));
    assert_eq!(before["period"]["end"], then["period"]["start"]);
}

#[test]
fn usage_of_an_unknown_customer_is_404() {
    let c = shared().client();
    for id in ["cus_00000000000000000000000000", "acme"] {
        let r = c.get(&format!("/v1/customers/{id}/usage"));
        assert_eq!((r.status, r.code()), (404, "unknown_customer"), "{}", r.text);
    }
}

#[test]
fn latest_compares_instants_not_spelled_times() {
    let c = shared().client();
    let s = c.setup("latest", json!({}));
    // `rfc3339` spells UTC; the same instants with offsets sort the other way as text.
    let spelled = |offset_ms: i64, zone_ms: i64, zone: &str| rfc3339(now_ms() + offset_ms + zone_ms).replace('Z', zone);
    let mut newest = s.event(json!(6));
    newest["timestamp"] = json!(spelled(-1_000, -5 * 3_600_000, "-05:00"));
    let mut older = s.event(json!(8));
    older["timestamp"] = json!(spelled(-3_000, 5 * 3_600_000, "+05:00"));
    assert_eq!(c.ingest_batch(&[newest, older]).counts(), (2, 0, 0));
    assert_eq!(c.quantity(&s.customer, &s.metric), ("6".to_owned(), 2));
}

#[test]
fn item_amounts_follow_each_price_model() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let tiers = json!([{"up_to": 1000, "unit_amount": "0.05", "flat_amount": "0"}, {"up_to": null, "unit_amount": "0.03", "flat_amount": "2.00"}]);
    let prices = [
        (json!({"model": "per_unit", "unit_amount": "0.05"}), "75.05"),
        // 1501 units are 16 packages of 100: packages are rounded up.
        (json!({"model": "package", "package_size": 100, "package_amount": "5.00"}), "80.00"),
        // 1000 × 0.05 + 501 × 0.03 + 2.00.
        (json!({"model": "graduated", "tiers": tiers}), "67.03"),
        // All 1501 units at the tier they reach: 1501 × 0.03 + 2.00.
        (json!({"model": "volume", "tiers": tiers}), "47.03"),
    ];
    let mut ids = Vec::new();
    for (price, _) in &prices {
        let r = c.post(
            &format!("/v1/customers/{}/items", s.customer),
            &json!({"name": "Calls", "kind": "usage", "metric_code": s.metric, "price": price}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].clone());
    }
    c.ingest(&s.event(json!(1501)));
    let u = c.usage_body(&s.customer, None);
    for (id, (price, amount)) in ids.iter().zip(&prices) {
        let item = u["items"].as_array().expect("items").iter().find(|i| &i["item_id"] == id).expect("the item");
        assert_eq!((&item["quantity"], &item["amount"]), (&json!("1501"), &json!(amount)), "{price}");
    }
}

#[test]
fn item_amounts_are_rounded_half_even_to_the_currency_minor_unit() {
    let c = shared().client();
    for (currency, unit, values, amount) in [
        ("JPY", "0.5", vec![json!(5)], "2"),
        ("JPY", "0.5", vec![json!(7)], "4"),
        ("KWD", "0.0005", vec![json!(3)], "0.002"),
        ("USD", "0.05", vec![json!(50), json!("35.7")], "4.28"),
        ("EUR", "0.001", vec![json!(5)], "0.00"),
    ] {
        let r = c.post("/v1/customers", &json!({"name": "Acme", "email": "ap@acme.test", "currency": currency}));
        assert_eq!(r.status, 201, "{}", r.text);
        let customer = r.body["id"].as_str().expect("id").to_owned();
        let name = event_name("ev");
        let metric = c.metric("m", &name, "sum", json!({}));
        let item = c.post(
            &format!("/v1/customers/{customer}/items"),
            &json!({"name": "Calls", "kind": "usage", "metric_code": metric, "price": {"model": "per_unit", "unit_amount": unit}}),
        );
        assert_eq!(item.status, 201, "{}", item.text);
        let events: Vec<Value> = values.into_iter().map(|v| event(&customer, &name, v)).collect();
        assert_eq!(c.ingest_batch(&events).status, 200);
        let u = c.usage_body(&customer, None);
        assert_eq!((&u["currency"], &u["items"][0]["amount"]), (&json!(currency), &json!(amount)), "{currency} {unit}");
    }
}

#[test]
fn usage_period_follows_the_customer_schedule() {
    let c = shared().client();
    let cases = [
        (
            json!({"interval": "week", "anchor": "2026-01-05"}),
            "2026-01-05T00:00:00Z",
            "2026-01-05T00:00:00Z",
            "2026-01-12T00:00:00Z",
        ),
        (
            json!({"interval": "week", "anchor": "2026-01-05"}),
            "2026-03-04T23:59:59Z",
            "2026-03-02T00:00:00Z",
            "2026-03-09T00:00:00Z",
        ),
        (
            json!({"interval": "month", "anchor": "2026-01-01"}),
            "2026-02-28T23:59:59.999Z",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
        ),
        // Anchored on the 31st: from the last day of shorter months, back to the 31st.
        (
            json!({"interval": "month", "anchor": "2026-01-31"}),
            "2026-03-15T00:00:00Z",
            "2026-02-28T00:00:00Z",
            "2026-03-31T00:00:00Z",
        ),
        (
            json!({"interval": "quarter", "anchor": "2026-01-15"}),
            "2026-04-14T23:59:59Z",
            "2026-01-15T00:00:00Z",
            "2026-04-15T00:00:00Z",
        ),
        (
            json!({"interval": "year", "anchor": "2024-02-29"}),
            "2025-06-01T00:00:00Z",
            "2025-02-28T00:00:00Z",
            "2026-02-28T00:00:00Z",
        ),
        // Before the anchor too.
        (
            json!({"interval": "month", "anchor": "2026-06-10"}),
            "2026-01-01T00:00:00Z",
            "2025-12-10T00:00:00Z",
            "2026-01-10T00:00:00Z",
        ),
    ];
    for (schedule, at, start, end) in cases {
        let r =
            c.post("/v1/customers", &json!({"name": "Acme", "email": "ap@acme.test", "invoice_schedule": schedule}));
        assert_eq!(r.status, 201, "{}", r.text);
        let u = c.usage_body(r.body["id"].as_str().expect("id"), Some(at));
        assert_eq!(u["period"], json!({"start": start, "end": end}), "{schedule} at {at}");
    }
    // The default: monthly from the 1st of the creation month, so the period holds now.
    let u = c.usage_body(&c.customer(), None);
    let (start, end) = (
        parse_utc(u["period"]["start"].as_str().expect("start")),
        parse_utc(u["period"]["end"].as_str().expect("end")),
    );
    assert!(
        start <= now_ms() && now_ms() < end && (28..=31).contains(&((end - start) / 86_400_000)),
        "{}",
        u["period"]
    );
}

#[test]
fn the_largest_prices_and_usage_still_bill() {
    // Issue 18: ten items at the largest accepted prices and events at the largest value
    // made the upcoming invoice answer 500 (`pricing: Overflow`).
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let max = "999999999999.999999999999";
    for i in 0..10 {
        let item = if i % 2 == 0 {
            json!({"name": format!("fee {i}"), "kind": "fixed", "minimum": max, "price": {"model": "fixed", "amount": max}})
        } else {
            json!({"name": format!("use {i}"), "kind": "usage", "metric_code": s.metric,
                   "price": {"model": "per_unit", "unit_amount": max}})
        };
        let r = c.post(&format!("/v1/customers/{}/items", s.customer), &item);
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = c.ingest_batch(&[s.event(json!("999999999999999.999999999"))]);
    assert_eq!(r.counts(), (1, 0, 0), "{}", r.text);
    let r = c.get(&format!("/v1/customers/{}/invoices/upcoming", s.customer));
    assert_eq!(r.status, 200, "{}", r.text);
    // Five fees of 10¹² and five lines of 999999999999999999999998000.00, exactly.
    assert_eq!(r.body["total"], "5000000000000004999999990000.00", "{}", r.text);
    let usage = c.usage_body(&s.customer, None);
    assert_eq!(usage["items"][1]["amount"], "999999999999999999999998000.00", "{usage}");
}
