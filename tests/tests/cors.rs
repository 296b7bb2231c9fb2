//! Cross-origin access: a browser app on another origin reports usage with a customer
//! token, so the API answers preflights and lets scripts read every answer, errors
//! included (worker/src/cors.rs says why CORS covers all routes).

use edgemeter_tests::*;
use serde_json::json;
use std::time::Duration;

const ORIGIN: &str = "http://app.example.test";

/// A request as a browser sends it from `ORIGIN`: status and the response's headers.
fn from_browser(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> ureq::Response {
    let mut r =
        agent().request(method, &format!("{base}{path}")).timeout(Duration::from_secs(60)).set("origin", ORIGIN);
    for (k, v) in headers {
        r = r.set(k, v);
    }
    let result = match body {
        Some(b) => r.send_string(b),
        None => r.call(),
    };
    match result {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("{method} {path} failed: {e}"),
    }
}

#[track_caller]
fn assert_readable_cross_origin(r: &ureq::Response) {
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "status {}", r.status());
    let exposed = r.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(exposed.split(',').any(|h| h.trim() == "retry-after"), "exposes {exposed:?}");
}

#[test]
fn preflight_for_ingest_allows_the_headers_the_sdk_sends() {
    let server = shared();
    let r = from_browser(
        &server.base,
        "OPTIONS",
        "/v1/usage/ingest",
        &[
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization,content-type,idempotency-key"),
        ],
        None,
    );
    // No credentials on a preflight, and no 401 for it.
    assert_eq!(r.status(), 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-credentials").is_none(), "auth is by bearer key, never cookies");
    let list = |name: &str| -> Vec<String> {
        r.header(name).unwrap_or_default().split(',').map(|s| s.trim().to_ascii_lowercase()).collect()
    };
    for m in ["post", "get", "patch"] {
        assert!(
            list("access-control-allow-methods").contains(&m.to_owned()),
            "{:?}",
            r.header("access-control-allow-methods")
        );
    }
    for h in ["authorization", "content-type", "idempotency-key"] {
        assert!(
            list("access-control-allow-headers").contains(&h.to_owned()),
            "{:?}",
            r.header("access-control-allow-headers")
        );
    }
    let max_age: u64 = r.header("access-control-max-age").and_then(|v| v.parse().ok()).expect("a max age");
    assert!(max_age >= 600, "{max_age}");
    assert_eq!(r.into_string().unwrap_or_default(), "");
}

#[test]
fn every_answer_is_readable_cross_origin_errors_included() {
    let server = shared();
    let c = server.client();
    let s = c.setup("sum", json!({}));
    let token =
        c.post("/v1/tokens", &json!({"customer_id": s.customer})).body["token"].as_str().expect("token").to_owned();
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str()), ("content-type", "application/json")];
    let events = json!({"events": [s.event(json!(2)), s.event(json!(3))]}).to_string();

    let ok = from_browser(&server.base, "POST", "/v1/usage/ingest", &auth, Some(&events));
    assert_readable_cross_origin(&ok);
    assert_eq!(ok.status(), 200);
    let replayed = from_browser(
        &server.base,
        "POST",
        "/v1/usage/ingest",
        &[auth[0], auth[1], ("idempotency-key", &key())],
        Some(&json!({"events": [s.event(json!(5))]}).to_string()),
    );
    assert_readable_cross_origin(&replayed);
    assert_eq!(c.quantity(&s.customer, &s.metric), ("10".to_owned(), 3));

    // Errors: a bad body, no key, a token on an admin route, an unknown route (secret key).
    let bad = from_browser(&server.base, "POST", "/v1/usage/ingest", &auth, Some("{"));
    assert_eq!(bad.status(), 400);
    assert_readable_cross_origin(&bad);
    let anonymous = from_browser(&server.base, "POST", "/v1/usage/ingest", &[], Some(&events));
    assert_eq!(anonymous.status(), 401);
    assert_readable_cross_origin(&anonymous);
    let forbidden = from_browser(&server.base, "GET", &format!("/v1/customers/{}/usage", s.customer), &auth[..1], None);
    assert_eq!(forbidden.status(), 403);
    assert_readable_cross_origin(&forbidden);
    let secret = format!("Bearer {SECRET_KEY}");
    let missing = from_browser(&server.base, "GET", "/v1/nowhere", &[("authorization", &secret)], None);
    assert_eq!(missing.status(), 404);
    assert_readable_cross_origin(&missing);
    assert_readable_cross_origin(&from_browser(&server.base, "GET", "/healthz", &[], None));
}
