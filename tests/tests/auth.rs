//! API.md "Conventions", Auth: missing or bad credentials are 401, a valid key that may
//! not do this is 403; the secret key does everything, the ingest key only ingests.

use edgemeter_tests::*;
use serde_json::json;

/// Every authenticated route, with a body for those that take one.
fn routes(s: &Setup) -> Vec<(&'static str, String, Option<String>)> {
    let customer = format!("/v1/customers/{}", s.customer);
    let event = s.event(json!(1)).to_string();
    vec![
        ("POST", "/v1/customers".to_owned(), Some(json!({"name": "A", "email": "a@acme.test"}).to_string())),
        ("GET", "/v1/customers".to_owned(), None),
        ("GET", customer.clone(), None),
        ("PATCH", customer.clone(), Some(json!({"name": "B"}).to_string())),
        (
            "POST",
            format!("{customer}/items"),
            Some(
                json!({"name": "i", "kind": "usage", "metric_code": s.metric, "price": {"model": "per_unit", "unit_amount": "1"}})
                    .to_string(),
            ),
        ),
        ("GET", format!("/v1/items?customer_id={}", s.customer), None),
        ("GET", format!("{customer}/usage"), None),
        (
            "POST",
            "/v1/billing/metrics".to_owned(),
            Some(json!({"code": format!("auth_{}", &key()[..8]), "name": "n", "event_name": "e", "aggregation": "sum"}).to_string()),
        ),
        ("GET", "/v1/billing/metrics".to_owned(), None),
        ("GET", format!("/v1/billing/metrics/{}", s.metric), None),
        ("POST", "/v1/usage/void".to_owned(), Some(json!({"idempotency_key": key(), "customer_id": s.customer}).to_string())),
        ("POST", "/v1/usage/ingest".to_owned(), Some(event)),
    ]
}

#[test]
fn missing_or_malformed_authorization_is_401_unauthorized() {
    let admin = shared().client();
    let s = admin.setup("count", json!({}));
    let anonymous = admin.with_key(None);
    for (method, path, body) in routes(&s) {
        let r = anonymous.send(method, &path, body.as_deref().map(str::as_bytes), &[]);
        r.assert_error(401, "unauthorized", None);
        for header in [
            SECRET_KEY.to_owned(),
            format!("Basic {SECRET_KEY}"),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            String::new(),
        ] {
            let r = anonymous.send(method, &path, body.as_deref().map(str::as_bytes), &[("authorization", &header)]);
            r.assert_error(401, "unauthorized", None);
        }
    }
    assert_eq!(admin.quantity(&s.customer, &s.metric).1, 0, "nothing ran");
}

#[test]
fn unknown_key_is_401_unauthorized() {
    let admin = shared().client();
    let s = admin.setup("count", json!({}));
    let wrong = [
        "sk_test_wrong".to_owned(),
        format!("{SECRET_KEY}x"),
        SECRET_KEY[..SECRET_KEY.len() - 1].to_owned(),
        SECRET_KEY.to_uppercase(),
        "pk_test_wrong".to_owned(),
        format!("{INGEST_KEY},{SECRET_KEY}"),
    ];
    for k in &wrong {
        let c = admin.with_key(Some(k.as_str()));
        for (method, path, body) in routes(&s) {
            let r = c.send(method, &path, body.as_deref().map(str::as_bytes), &[]);
            r.assert_error(401, "unauthorized", None);
        }
    }
}

#[test]
fn ingest_key_on_admin_routes_is_403_forbidden() {
    let admin = shared().client();
    let s = admin.setup("count", json!({}));
    let ingest = admin.with_key(Some(INGEST_KEY));
    for (method, path, body) in routes(&s) {
        if path == "/v1/usage/ingest" {
            continue;
        }
        let r = ingest.send(method, &path, body.as_deref().map(str::as_bytes), &[]);
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{method} {path}: {}", r.text);
    }
    assert_eq!(admin.get(&format!("/v1/customers/{}", s.customer)).body["name"], "Acme Corp", "the PATCH did not run");
}

#[test]
fn ingest_key_can_ingest() {
    let admin = shared().client();
    let s = admin.setup("sum", json!({}));
    let ingest = admin.with_key(Some(INGEST_KEY));
    let r = ingest.ingest(&s.event(json!(2)));
    assert_eq!((r.status, r.counts()), (200, (1, 0, 0)), "{}", r.text);
    let r = ingest.ingest_batch(&[s.event(json!(3)), s.event(json!(4))]);
    assert_eq!((r.status, r.counts()), (200, (2, 0, 0)), "{}", r.text);
    // Its rejections are the same as anyone's.
    ingest.ingest(&event(&s.customer, "no_such_event_name", json!(1))).assert_error(400, "unknown_event_name", None);
    assert_eq!(admin.quantity(&s.customer, &s.metric), ("9".to_owned(), 3));
}

#[test]
fn secret_key_can_do_everything() {
    let admin = shared().client();
    let s = admin.setup("sum", json!({}));
    let ev = s.event(json!(1));
    assert_eq!(admin.ingest(&ev).status, 200);
    for (method, path, body) in routes(&s) {
        let body = if path == "/v1/usage/void" {
            Some(json!({"idempotency_key": ev["idempotency_key"], "customer_id": s.customer}).to_string())
        } else {
            body
        };
        let r = admin.send(method, &path, body.as_deref().map(str::as_bytes), &[]);
        assert!(matches!(r.status, 200 | 201), "{method} {path}: {}", r.text);
    }
}

#[test]
fn auth_is_checked_before_the_body() {
    let c = shared().client().with_key(None);
    c.post_raw("/v1/usage/ingest", b"{not json", &[]).assert_error(401, "unauthorized", None);
    c.post_raw("/v1/customers", &vec![b' '; 2 * 1024 * 1024], &[]).assert_error(401, "unauthorized", None);
    c.get("/v1/nowhere").assert_error(401, "unauthorized", None);
}

#[test]
fn healthz_and_openapi_need_no_auth() {
    let c = shared().client().with_key(None);
    let r = c.get("/healthz");
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c.get("/openapi.json");
    assert_eq!(r.status, 200);
    assert!(
        r.body["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI document: {}",
        &r.text[..200.min(r.text.len())]
    );
    assert!(r.body["paths"].is_object());
    // A bad key does not spoil them either.
    assert_eq!(c.with_key(Some("nope")).get("/healthz").status, 200);
}
