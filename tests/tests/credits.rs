//! API.md "Credits and the live balance", end to end: a grant, usage, the live balance
//! (an event acknowledged just before is in it), the invoice that draws at finalization
//! (once, however often the run fires), voiding it gives back; every bad field with its
//! path; who may read the balance. The lifecycle test has its own server (a run invoices
//! every due customer of its server).

use edgemeter_tests::*;
use serde_json::{json, Value};

const H: i64 = 3_600_000;

struct Billed {
    c: Client,
    customer: String,
    name: String,
    end: i64,
}

/// A customer billed 10.00 a period plus 0.05 per unit of its metric.
fn billed(c: &Client) -> Billed {
    let customer = c.customer();
    let name = event_name("credits");
    let metric = c.metric("credits", &name, "sum", json!({}));
    for item in [
        json!({"name": "OCR", "kind": "usage", "metric_code": metric, "price": {"model": "per_unit", "unit_amount": "0.05"}}),
        json!({"name": "Platform", "kind": "fixed", "price": {"model": "fixed", "amount": "10.00"}}),
    ] {
        let r = c.post(&format!("/v1/customers/{customer}/items"), &item);
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let usage = c.get(&format!("/v1/customers/{customer}/usage"));
    let end = parse_utc(usage.body["period"]["end"].as_str().expect("end"));
    Billed { c: c.clone(), customer, name, end }
}

impl Billed {
    fn path(&self, rest: &str) -> String {
        format!("/v1/customers/{}{rest}", self.customer)
    }

    fn ingest(&self, value: i64) {
        let r = self.c.ingest(&event(&self.customer, &self.name, json!(value)));
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    fn balance(&self) -> Value {
        let r = self.c.get(&self.path("/balance"));
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    fn grant(&self, body: Value) -> Value {
        let r = self.c.post(&self.path("/credit_grants"), &body);
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    }
}

#[test]
fn a_grant_pays_the_invoice_at_finalization_once_and_a_void_gives_it_back() {
    let receiver = Receiver::start(0);
    let hooks = [("EDGEMETER_WEBHOOK_URL", receiver.url.as_str()), ("EDGEMETER_WEBHOOK_SECRET", "whsec_credits")];
    let server = Server::start_with(&fresh_state_dir("credits"), &hooks);
    let b = billed(&server.client());
    let g = b.grant(json!({"name": "Credit", "amount": "100.00", "name": "Prepaid"}));
    let id = g["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("cg_"), "{g}");
    assert_eq!(
        (g["status"].as_str(), g["remaining"].as_str(), g["priority"].as_u64()),
        (Some("active"), Some("100.00"), Some(100))
    );

    b.ingest(40);
    let bal = b.balance();
    assert_eq!(bal["credits"], json!({"remaining": "100.00", "pending_draw": "12.00", "available": "88.00"}), "{bal}");
    assert_eq!((bal["period_total"].as_str(), bal["amount_due_so_far"].as_str()), (Some("12.00"), Some("0.00")));
    assert_eq!(bal["currency"], "USD");
    // Live: the event acknowledged just before is in the next answer.
    b.ingest(20);
    assert_eq!(b.balance()["period_total"], "13.00");
    let up = b.c.get(&b.path("/invoices/upcoming")).body;
    assert_eq!(up["credits_applied"], json!([{"grant_id": id, "amount": "13.00"}]), "{up}");
    assert_eq!(up["amount_due"], "0.00");

    server.run_cron_at(b.end + 25 * H);
    let invoices = b.c.get(&format!("/v1/invoices?customer_id={}", b.customer)).body["data"].clone();
    let inv = invoices[0].clone();
    assert_eq!(inv["status"], "pending_approval", "{inv}");
    assert_eq!(inv["credits_applied"], json!([{"grant_id": id, "amount": "13.00"}]));
    assert_eq!((inv["total"].as_str(), inv["amount_due"].as_str()), (Some("13.00"), Some("0.00")));
    // The webhook carries what the invoice drew.
    let finalized: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).expect("JSON"))
        .filter(|v| v["type"] == "invoice.finalized")
        .collect();
    assert_eq!(finalized.len(), 1, "{finalized:?}");
    assert_eq!(finalized[0]["data"]["credits_applied"], inv["credits_applied"]);
    assert_eq!(finalized[0]["data"]["amount_due"], "0.00");
    let remaining = || b.c.get(&b.path(&format!("/credit_grants/{id}"))).body["remaining"].clone();
    assert_eq!(remaining(), "87.00");
    // A repeated run draws nothing more.
    server.run_cron_at(b.end + 26 * H);
    assert_eq!(remaining(), "87.00");

    let r = b.c.post(&format!("/v1/invoices/{}/void", inv["id"].as_str().expect("id")), &json!({}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(remaining(), "100.00", "voiding the invoice gives its draw back");

    let r = b.c.post(&b.path(&format!("/credit_grants/{id}/void")), &json!({}));
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("voided")), "{:?}", r.body);
    assert!(r.body["voided_at"].is_string());
    b.c.post(&b.path(&format!("/credit_grants/{id}/void")), &json!({})).assert_error(409, "grant_voided", None);
    assert_eq!(b.balance()["credits"]["remaining"], "0.00");
    let list = b.c.get(&b.path("/credit_grants")).body;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    assert!(list["next_cursor"].is_null());
}

#[test]
fn grants_pay_by_priority_then_earliest_expiry() {
    let c = shared().client();
    let b = billed(&c);
    let far = rfc3339(b.end + 400 * 24 * H);
    let near = rfc3339(b.end + 40 * 24 * H);
    let late = b.grant(json!({"name": "Credit", "amount": "5.00", "expires_at": far}));
    let soon = b.grant(json!({"name": "Credit", "amount": "5.00", "expires_at": near}));
    let first = b.grant(json!({"name": "Credit", "amount": "3.00", "priority": 1}));
    b.ingest(100); // 10.00 + 5.00
    let up = b.c.get(&b.path("/invoices/upcoming")).body;
    assert_eq!(
        up["credits_applied"],
        json!([
            {"grant_id": first["id"], "amount": "3.00"},
            {"grant_id": soon["id"], "amount": "5.00"},
            {"grant_id": late["id"], "amount": "5.00"},
        ]),
        "{up}"
    );
    assert_eq!(up["amount_due"], "2.00");
    let bal = b.balance();
    assert_eq!(bal["credits"], json!({"remaining": "13.00", "pending_draw": "13.00", "available": "0.00"}));
    assert_eq!(bal["amount_due_so_far"], "2.00");
    // A grant not yet effective is pending and holds nothing of the balance.
    let later = b.grant(json!({"name": "Credit", "amount": "7.00", "effective_at": rfc3339(now_ms() + 3 * 24 * H)}));
    assert_eq!(later["status"], "pending");
}

#[test]
fn every_bad_field_is_named() {
    let c = shared().client();
    let b = billed(&c);
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (json!({}), 400, "missing_field", Some("amount")),
        (json!({"amount": "1"}), 400, "missing_field", Some("name")),
        (json!({"name": "Credit", "amount": "0"}), 400, "invalid_amount", Some("amount")),
        (json!({"name": "Credit", "amount": "-1.00"}), 400, "invalid_amount", Some("amount")),
        (json!({"name": "Credit", "amount": "1.001"}), 400, "invalid_amount", Some("amount")),
        (json!({"amount": 0.5}), 400, "invalid_amount", Some("amount")),
        (json!({"name": "Credit", "amount": "ten"}), 400, "invalid_amount", Some("amount")),
        (json!({"amount": "1", "name": ""}), 400, "invalid_field", Some("name")),
        (json!({"name": "Credit", "amount": "1", "priority": "high"}), 400, "invalid_field", Some("priority")),
        (
            json!({"name": "Credit", "amount": "1", "effective_at": "2026-01-01T00:00:00"}),
            400,
            "invalid_timestamp",
            Some("effective_at"),
        ),
        (
            json!({"name": "Credit", "amount": "1", "effective_at": "2027-01-02T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z"}),
            400,
            "invalid_field",
            Some("expires_at"),
        ),
        (json!({"name": "Credit", "amount": "1", "currency": "EUR"}), 400, "unknown_field", Some("currency")),
    ];
    for (body, status, code, field) in cases {
        let r = b.c.post(&b.path("/credit_grants"), &body);
        assert_eq!((r.status, r.code(), r.field()), (status, code, field), "{body}: {:?}", r.body);
    }
    b.c.post_raw(&b.path("/credit_grants"), b"{not json", &[]).assert_error(400, "invalid_json", None);
    assert!(
        b.c.get(&b.path("/credit_grants")).body["data"].as_array().is_some_and(Vec::is_empty),
        "nothing half-written"
    );
    // A currency without minor units takes whole amounts only.
    let r = c.post("/v1/customers", &json!({"name": "Yen", "email": "y@acme.test", "currency": "JPY"}));
    let yen = r.body["id"].as_str().expect("id").to_owned();
    let r = c.post(&format!("/v1/customers/{yen}/credit_grants"), &json!({"name": "Credit", "amount": "1.5"}));
    r.assert_error(400, "invalid_amount", Some("amount"));
    assert_eq!(
        c.post(&format!("/v1/customers/{yen}/credit_grants"), &json!({"name": "Credit", "amount": "1500"})).body
            ["amount"],
        "1500"
    );
    // Unknown customer, grant.
    let nobody = "cus_0000000000000000000000none";
    c.post(&format!("/v1/customers/{nobody}/credit_grants"), &json!({"name": "Credit", "amount": "1"})).assert_error(
        404,
        "unknown_customer",
        None,
    );
    c.get(&format!("/v1/customers/{nobody}/balance")).assert_error(404, "unknown_customer", None);
    c.get(&b.path("/credit_grants/cg_0000000000000000000000none")).assert_error(404, "not_found", None);
    c.post(&b.path("/credit_grants/cg_0000000000000000000000none/void"), &json!({})).assert_error(
        404,
        "not_found",
        None,
    );
}

#[test]
fn a_keyed_create_makes_one_grant() {
    let c = shared().client();
    let b = billed(&c);
    let key = key();
    let body = json!({"name": "Credit", "amount": "25.00"}).to_string();
    let send = || b.c.post_raw(&b.path("/credit_grants"), body.as_bytes(), &[("idempotency-key", &key)]);
    let (one, two) = (send(), send());
    assert_eq!((one.status, two.status), (201, 201));
    assert_eq!(one.body["id"], two.body["id"]);
    let other = b.c.post_raw(
        &b.path("/credit_grants"),
        br#"{"name": "Credit", "amount": "26.00"}"#,
        &[("idempotency-key", &key)],
    );
    other.assert_error(422, "idempotency_key_reused", None);
    assert_eq!(b.c.get(&b.path("/credit_grants")).body["data"].as_array().map(Vec::len), Some(1));
}

#[test]
fn grants_are_listed_in_pages() {
    let c = shared().client();
    let b = billed(&c);
    let ids: Vec<Value> =
        (1..=3).map(|i| b.grant(json!({"name": format!("g{i}"), "amount": "1.00"}))["id"].clone()).collect();
    let first = b.c.get(&b.path("/credit_grants?limit=2")).body;
    assert_eq!(
        first["data"].as_array().map(|d| d.iter().map(|g| g["id"].clone()).collect::<Vec<_>>()),
        Some(ids[..2].to_vec())
    );
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = b.c.get(&b.path(&format!("/credit_grants?limit=2&cursor={cursor}"))).body;
    assert_eq!(second["data"][0]["id"], ids[2]);
    assert!(second["next_cursor"].is_null());
    b.c.get(&b.path("/credit_grants?limit=0")).assert_error(400, "invalid_field", Some("limit"));
    b.c.get(&b.path("/credit_grants?cursor=nope")).assert_error(400, "invalid_field", Some("cursor"));
}

#[test]
fn ingest_keys_and_the_customers_own_token_read_its_balance_only() {
    let c = shared().client();
    let b = billed(&c);
    let other = c.customer();
    let token = |customer: &str| {
        c.post("/v1/tokens", &json!({"customer_id": customer})).body["token"].as_str().expect("token").to_owned()
    };
    let path = b.path("/balance");
    assert_eq!(c.with_key(Some(INGEST_KEY)).get(&path).status, 200);
    assert_eq!(c.with_key(Some(&token(&b.customer))).get(&path).status, 200);
    c.with_key(Some(&token(&other))).get(&path).assert_error(403, "forbidden_customer", None);
    c.with_key(None).get(&path).assert_error(401, "unauthorized", None);
    c.with_key(Some(INGEST_KEY))
        .post(&b.path("/credit_grants"), &json!({"name": "Credit", "amount": "1"}))
        .assert_error(403, "forbidden", None);
    c.with_key(Some(&token(&b.customer))).get(&b.path("/credit_grants")).assert_error(403, "forbidden", None);
}

#[test]
fn the_balance_is_one_object_call() {
    let server = shared();
    let b = billed(&server.client());
    b.grant(json!({"name": "Credit", "amount": "10.00"}));
    b.ingest(3);
    for _ in 0..3 {
        b.balance();
    }
    // The request log (one JSON line per request) counts each request's object calls.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        let calls: Vec<u64> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["route"] == "/v1/customers/{id}/balance" && v["customer_id"] == b.customer.as_str())
            .filter_map(|v| v["object_calls"].as_u64())
            .collect();
        if calls.len() >= 3 {
            assert!(calls.iter().all(|c| *c == 1), "object calls per balance request: {calls:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the balance requests were not logged: {calls:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_balance_counts_a_metric_created_after_its_events() {
    let c = shared().client();
    let customer = c.customer();
    let name = event_name("late");
    c.metric("late_count", &name, "count", json!({}));
    for v in [2, 3] {
        let r = c.ingest(&event(&customer, &name, json!(v)));
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    // A metric on the same events, and a price on it, only now.
    let sum = c.metric("late_sum", &name, "sum", json!({}));
    let item = json!({"name": "Late", "kind": "usage", "metric_code": sum, "price": {"model": "per_unit", "unit_amount": "0.05"}});
    assert_eq!(c.post(&format!("/v1/customers/{customer}/items"), &item).status, 201);
    // The balance's first read counts them (0.05 × 5), with no ingest or run between.
    let r = c.get(&format!("/v1/customers/{customer}/balance"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["period_total"], "0.25", "{:?}", r.body);
}
