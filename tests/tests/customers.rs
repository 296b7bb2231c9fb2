//! API.md "Customers", "Items" (listing) and "Billable metrics" (listing): the admin
//! resources as a client reads them back.

use edgemeter_tests::*;
use serde_json::{json, Value};

fn create(c: &Client, body: Value) -> Value {
    let r = c.post("/v1/customers", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

#[test]
fn create_customer_applies_the_defaults() {
    let c = shared().client();
    let before = time_from_now(-1000);
    let cu = create(&c, json!({"name": "Acme Corp", "email": "billing@acme.test"}));
    let id = cu["id"].as_str().expect("id");
    assert!(id.starts_with("cus_") && id.len() == 30, "{id}");
    let now = time_from_now(0);
    assert_eq!(
        cu,
        json!({
            "id": id,
            "name": "Acme Corp",
            "email": "billing@acme.test",
            "external_id": null,
            "currency": "USD",
            "invoice_schedule": {"interval": "month", "anchor": format!("{}-01", &now[..7]), "pre_generate_days": 3, "grace_hours": 24},
            "auto_send": false,
            "contract_id": null,
            "created_at": cu["created_at"],
        })
    );
    let created = cu["created_at"].as_str().expect("created_at");
    assert!(created.ends_with('Z') && created > before.as_str() && created <= now.as_str(), "{created}");
}

#[test]
fn create_customer_keeps_what_it_is_given() {
    let c = shared().client();
    let schedule = json!({"interval": "quarter", "anchor": "2026-01-15", "pre_generate_days": 5, "grace_hours": 48});
    let cu = create(
        &c,
        json!({"name": "Globex", "email": "ap@globex.test", "external_id": "crm-42", "currency": "EUR",
               "invoice_schedule": schedule, "auto_send": true}),
    );
    assert_eq!(
        (&cu["external_id"], &cu["currency"], &cu["invoice_schedule"], &cu["auto_send"]),
        (&json!("crm-42"), &json!("EUR"), &schedule, &json!(true))
    );
    // Parts of a schedule left out take their defaults.
    let cu = create(&c, json!({"name": "Globex", "email": "ap@globex.test", "invoice_schedule": {"interval": "week"}}));
    assert_eq!(cu["invoice_schedule"]["pre_generate_days"], 3);
    assert_eq!(cu["invoice_schedule"]["grace_hours"], 24);
}

#[test]
fn get_customer_returns_what_create_returned() {
    let c = shared().client();
    let cu = create(&c, json!({"name": "Initech", "email": "ap@initech.test", "currency": "JPY"}));
    let r = c.get(&format!("/v1/customers/{}", cu["id"].as_str().expect("id")));
    assert_eq!((r.status, &r.body), (200, &cu));
}

#[test]
fn get_unknown_customer_is_404() {
    let c = shared().client();
    for id in ["cus_00000000000000000000000000", "cus_nope", "nope"] {
        let r = c.get(&format!("/v1/customers/{id}"));
        r.assert_error(404, "unknown_customer", None);
    }
}

#[test]
fn list_customers_pages_with_limit_and_cursor() {
    let c = shared().client();
    let mine: Vec<String> = (0..3).map(|_| c.customer()).collect();
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(k) => format!("/v1/customers?limit=2&cursor={k}"),
            None => "/v1/customers?limit=2".to_owned(),
        };
        let r = c.get(&path);
        assert_eq!(r.status, 200, "{}", r.text);
        let data = r.body["data"].as_array().expect("data");
        assert!(data.len() <= 2, "{}", r.text);
        seen.extend(data.iter().map(|cu| cu["id"].as_str().expect("id").to_owned()));
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(data.len(), 2, "a page with a next cursor is full");
                assert_eq!(Some(next), data[1]["id"].as_str());
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(r.body["next_cursor"], Value::Null);
                break;
            }
        }
        assert!(pages < 10_000, "pagination does not end");
    }
    assert!(pages >= 2, "three customers take two pages of two");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "every customer once, in id order");
    let positions: Vec<usize> = mine.iter().map(|id| seen.iter().position(|s| s == id).expect("listed")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in creation order");

    let all = c.get("/v1/customers");
    assert_eq!(all.status, 200);
    assert!(all.body["data"].as_array().is_some_and(|d| !d.is_empty() && d.len() <= 50), "default limit 50");
}

#[test]
fn patch_customer_changes_name_and_auto_send_only() {
    let c = shared().client();
    let cu = create(&c, json!({"name": "Acme", "email": "ap@acme.test"}));
    let path = format!("/v1/customers/{}", cu["id"].as_str().expect("id"));
    let r = c.patch(&path, &json!({"name": "Acme Europe", "auto_send": true}));
    assert_eq!(r.status, 200, "{}", r.text);
    let mut expected = cu.clone();
    expected["name"] = json!("Acme Europe");
    expected["auto_send"] = json!(true);
    assert_eq!(r.body, expected);
    assert_eq!(c.get(&path).body, expected);
    // The unchanged currency may be repeated; the list shows the new name.
    assert_eq!(c.patch(&path, &json!({"currency": "USD"})).status, 200);
    assert_eq!(c.patch(&path, &json!({})).body, expected);
    let listed = c.get("/v1/customers?limit=500");
    assert!(
        listed.body["data"].as_array().expect("data").iter().any(|x| x == &expected),
        "the directory follows patches"
    );
}

#[test]
fn patch_customer_refuses_currency_changes_and_bad_fields() {
    let c = shared().client();
    let cu = create(&c, json!({"name": "Acme", "email": "ap@acme.test"}));
    let path = format!("/v1/customers/{}", cu["id"].as_str().expect("id"));
    c.patch(&path, &json!({"currency": "EUR"})).assert_error(400, "invalid_field", Some("currency"));
    c.patch(&path, &json!({"name": ""})).assert_error(400, "invalid_field", Some("name"));
    c.patch(&path, &json!({"email": "nope"})).assert_error(400, "invalid_field", Some("email"));
    c.patch(&path, &json!({"auto_send": "yes"})).assert_error(400, "invalid_field", Some("auto_send"));
    c.patch(&path, &json!({"id": "cus_other"})).assert_error(400, "unknown_field", Some("id"));
    c.patch(&path, &json!({"invoice_schedule": {"interval": "year"}})).assert_error(
        400,
        "invalid_field",
        Some("invoice_schedule"),
    );
    assert_eq!(c.get(&path).body, cu, "nothing changed");
    let r = c.patch("/v1/customers/cus_00000000000000000000000000", &json!({"name": "Ghost"}));
    assert_eq!((r.status, r.code()), (404, "unknown_customer"), "{}", r.text);
}

#[test]
fn items_list_shows_each_item_with_the_event_name_that_feeds_it() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let path = format!("/v1/customers/{}/items", s.customer);
    let usage = c.post(
        &path,
        &json!({"name": "Calls", "kind": "usage", "metric_code": s.metric,
                "price": {"model": "graduated", "tiers": [{"up_to": 1000, "unit_amount": "0.05", "flat_amount": "0"}, {"up_to": null, "unit_amount": "0.03"}]},
                "minimum": "10"}),
    );
    assert_eq!(usage.status, 201, "{}", usage.text);
    let id = usage.body["id"].as_str().expect("id");
    assert!(id.starts_with("item_"), "{id}");
    assert_eq!(
        (&usage.body["customer_id"], &usage.body["kind"], &usage.body["metric_code"], &usage.body["event_name"]),
        (&json!(s.customer), &json!("usage"), &json!(s.metric), &json!(s.event_name))
    );
    let fixed =
        c.post(&path, &json!({"name": "Platform", "kind": "fixed", "price": {"model": "fixed", "amount": "99.00"}}));
    assert_eq!(fixed.status, 201, "{}", fixed.text);
    assert_eq!((&fixed.body["metric_code"], &fixed.body["event_name"]), (&Value::Null, &Value::Null));

    let r = c.get(&format!("/v1/items?customer_id={}", s.customer));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"data": [usage.body, fixed.body], "next_cursor": null}));
    // Another customer's items are not listed.
    let other = c.customer();
    assert_eq!(c.get(&format!("/v1/items?customer_id={other}")).body["data"], json!([]));
}

#[test]
fn items_list_of_an_unknown_customer_is_404() {
    let c = shared().client();
    for id in ["cus_00000000000000000000000000", "acme"] {
        let r = c.get(&format!("/v1/items?customer_id={id}"));
        assert_eq!((r.status, r.code()), (404, "unknown_customer"), "{}", r.text);
    }
}

#[test]
fn metrics_are_listed_and_read_back_by_code() {
    let c = shared().client();
    let name = event_name("calls");
    let code = c.metric("calls", &name, "unique_count", json!({"field": "user", "filters": {"region": ["eu", "us"]}}));
    let r = c.get(&format!("/v1/billing/metrics/{code}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let m = r.body;
    assert!(m["id"].as_str().is_some_and(|id| id.starts_with("met_")), "{m}");
    assert_eq!(
        m,
        json!({"id": m["id"], "code": code, "name": code, "event_name": name, "aggregation": "unique_count",
               "field": "user", "filters": {"region": ["eu", "us"]}, "created_at": m["created_at"]})
    );

    // Paged in creation order; the new metric is on some page.
    let mut found = false;
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let path = match &cursor {
            Some(k) => format!("/v1/billing/metrics?limit=3&cursor={k}"),
            None => "/v1/billing/metrics?limit=3".to_owned(),
        };
        let page = c.get(&path);
        assert_eq!(page.status, 200, "{}", page.text);
        let data = page.body["data"].as_array().expect("data");
        assert!(data.len() <= 3);
        found |= data.iter().any(|x| x == &m);
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(found, "metric {code} listed");
}

#[test]
fn get_unknown_metric_is_404() {
    let c = shared().client();
    c.get("/v1/billing/metrics/no_such_metric_code").assert_error(404, "not_found", None);
}

/// A create that fails after the customer's object is written and before the directory
/// is (fault injected between the two writes) is completed by its retry under the same
/// `Idempotency-Key`: the retry lands on the same customer, which is then listed once.
/// Before, a retry made a second customer and left the first one unlisted and unbilled.
#[test]
fn a_create_that_fails_half_way_is_completed_by_its_retry() {
    let c = shared().client();
    let key = format!("create-{}", key());
    let name = format!("Half-way {}", key);
    let body = json!({"name": name, "email": "half@example.com"});
    let bytes = serde_json::to_vec(&body).unwrap();
    let failed = c.send(
        "POST",
        "/v1/customers",
        Some(&bytes),
        &[("idempotency-key", &key), ("edgemeter-fault", "after-object")],
    );
    assert_eq!(failed.status, 500, "{:?}", failed.body);
    let first_id = failed.body["error"]["message"]
        .as_str()
        .and_then(|m| m.split_whitespace().find(|w| w.starts_with("cus_")))
        .expect("the injected fault names the customer it wrote")
        .to_owned();
    let retried = c.send("POST", "/v1/customers", Some(&bytes), &[("idempotency-key", &key)]);
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    assert_eq!(retried.body["id"], first_id.as_str(), "the retry completes the first customer, not a second one");
    // Listed once, and the directory's copy is the object's.
    let mut cursor: Option<String> = None;
    let mut found = Vec::new();
    loop {
        let path = match &cursor {
            Some(cur) => format!("/v1/customers?limit=500&cursor={cur}"),
            None => "/v1/customers?limit=500".to_owned(),
        };
        let page = c.get(&path);
        assert_eq!(page.status, 200);
        for cu in page.body["data"].as_array().unwrap() {
            if cu["name"] == name.as_str() {
                found.push(cu.clone());
            }
        }
        match page.body["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0], retried.body);
    // A third copy is answered from the key's record, the same customer.
    let again = c.send("POST", "/v1/customers", Some(&bytes), &[("idempotency-key", &key)]);
    assert_eq!((again.status, &again.body), (201, &retried.body));
}
