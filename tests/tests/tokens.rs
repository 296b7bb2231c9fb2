//! API.md "Customer tokens": minted with a secret key, self-contained, good for one
//! customer's ingest only.

use edgemeter_tests::*;
use serde_json::json;

#[test]
fn a_customer_token_ingests_for_its_customer_only() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let other = c.customer();
    let r = c.post("/v1/tokens", &json!({"customer_id": s.customer, "ttl_seconds": 600}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = r.body["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("ct_"));
    assert_eq!(r.body["customer_id"], s.customer.as_str());
    let expires = parse_utc(r.body["expires_at"].as_str().expect("expires_at"));
    assert!((expires - now_ms() - 600_000).abs() < 5_000);

    let browser = c.with_key(Some(&token));
    let batch = browser.ingest_batch(&[s.event(json!(1)), event(&other, &s.event_name, json!(1)), s.event(json!(1))]);
    assert_eq!(batch.status, 200, "{}", batch.text);
    assert_eq!(batch.statuses(), ["accepted", "rejected", "accepted"]);
    assert_eq!(batch.event_codes(), ["", "forbidden_customer", ""]);
    browser.ingest(&event(&other, &s.event_name, json!(1))).assert_error(
        403,
        "forbidden_customer",
        Some("customer_id"),
    );
    assert_eq!(c.quantity(&s.customer, &s.metric), ("2".to_owned(), 2));

    // Nothing but ingest.
    browser.get(&format!("/v1/customers/{}/usage", s.customer)).assert_error(403, "forbidden", None);
    browser.post("/v1/tokens", &json!({"customer_id": s.customer})).assert_error(403, "forbidden", None);
}

#[test]
fn tampered_or_expired_tokens_are_unauthorized() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let token = c.post("/v1/tokens", &json!({"customer_id": s.customer, "ttl_seconds": 1})).body["token"]
        .as_str()
        .expect("token")
        .to_owned();
    // Swap the customer, keep the signature.
    let forged = token.replacen(&s.customer, &c.customer(), 1);
    c.with_key(Some(&forged)).ingest(&s.event(json!(1))).assert_error(401, "unauthorized", None);
    c.with_key(Some("ct_garbage")).ingest(&s.event(json!(1))).assert_error(401, "unauthorized", None);
    // A one-second token, used after it expired.
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let r = c.with_key(Some(&token)).ingest(&s.event(json!(1)));
    r.assert_error(401, "unauthorized", None);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| m.contains("expired")));
}

#[test]
fn minting_checks_its_input() {
    let c = shared().client();
    c.post("/v1/tokens", &json!({})).assert_error(400, "missing_field", Some("customer_id"));
    c.post("/v1/tokens", &json!({"customer_id": "cus_00000000000000000000000000"})).assert_error(
        404,
        "unknown_customer",
        Some("customer_id"),
    );
    let s = c.setup("count", json!({}));
    c.post("/v1/tokens", &json!({"customer_id": s.customer, "ttl_seconds": 86_401})).assert_error(
        400,
        "invalid_field",
        Some("ttl_seconds"),
    );
    c.with_key(Some(INGEST_KEY)).post("/v1/tokens", &json!({"customer_id": s.customer})).assert_error(
        403,
        "forbidden",
        None,
    );
}
