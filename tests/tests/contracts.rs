//! API.md "Contracts": a draft validated whole, its signed document in R2, acceptance
//! exactly once (also after a failure half-way), cancel and expiry; and the customer it
//! creates, with its items, its rejected-events log and its usage by day.

use edgemeter_tests::*;
use serde_json::{json, Value};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A valid contract body: a graduated usage item on `metric` and a fixed fee.
fn terms(metric: &str) -> Value {
    json!({
        "customer": {"name": "Acme Corp", "email": "ap@acme.test", "currency": "EUR", "external_id": "crm-7"},
        "items": [
            {"name": "OCR pages", "kind": "usage", "metric_code": metric,
             "price": {"model": "graduated", "tiers": [
                 {"up_to": 100, "unit_amount": "0.10"}, {"up_to": null, "unit_amount": "0.05"}]}},
            {"name": "Platform fee", "kind": "fixed", "price": {"model": "fixed", "amount": "99.00"}}
        ],
        "auto_send": false
    })
}

fn draft(c: &Client, metric: &str) -> String {
    let r = c.post("/v1/contracts", &terms(metric));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "draft");
    r.body["id"].as_str().expect("contract id").to_owned()
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let c = shared().client();
    let metric = c.metric("pages", &event_name("ocr"), "sum", json!({}));
    let mut body = terms(&metric);
    body["customer"]["email"] = json!("not-an-address");
    body["items"][0]["price"]["tiers"][1]["unit_amount"] = json!("-1");
    body["items"][1]["metric_code"] = json!("no_such_metric");
    body["expires_at"] = json!("2020-01-01T00:00:00Z");
    let r = c.post("/v1/contracts", &body);
    r.assert_error(400, "invalid_contract", Some("customer.email"));
    let problems: Vec<(&str, &str)> = r.body["error"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["field"].as_str().unwrap_or(""), e["code"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        problems,
        vec![
            ("customer.email", "invalid_field"),
            ("items[0].price.tiers[1].unit_amount", "invalid_field"),
            ("items[1].metric_code", "unknown_metric"),
            ("items[1].metric_code", "invalid_field"),
            ("expires_at", "invalid_field"),
        ],
        "{}",
        r.text
    );
    // Not a JSON object at all: the plain error.
    c.post_raw("/v1/contracts", b"[1]", &[]).assert_error(400, "invalid_request", None);
}

#[test]
fn an_enum_filter_refuses_any_value_outside_it_the_empty_one_included() {
    let c = shared().client();
    for (list, allowed) in [("/v1/contracts", "draft"), ("/v1/invoices", "draft")] {
        for bad in ["", "DRAFT", "nope"] {
            let r = c.get(&format!("{list}?status={bad}"));
            r.assert_error(400, "invalid_field", Some("status"));
        }
        let r = c.get(&format!("{list}?status={allowed}"));
        assert_eq!(r.status, 200, "{list}: {}", r.text);
        assert_eq!(c.get(list).status, 200, "{list} without a filter");
    }
    let customer = c.customer();
    let r = c.get(&format!("/v1/invoices?customer_id={customer}&status="));
    r.assert_error(400, "invalid_field", Some("status"));
}

#[test]
fn a_draft_is_patched_documented_accepted_once_and_makes_its_customer() {
    let c = shared().client();
    let ev = event_name("ocr");
    let metric = c.metric("pages", &ev, "sum", json!({}));
    let id = draft(&c, &metric);

    // PATCH replaces top-level fields and checks the whole again.
    let r = c.patch(&format!("/v1/contracts/{id}"), &json!({"auto_send": true}));
    assert_eq!((r.status, &r.body["auto_send"]), (200, &json!(true)), "{}", r.text);
    let r = c.patch(&format!("/v1/contracts/{id}"), &json!({"items": []}));
    r.assert_error(400, "invalid_contract", Some("items"));

    // The document: typed by its bytes, kept under its hash, read back as it was.
    let put =
        |bytes: &[u8], query: &str| c.send("PUT", &format!("/v1/contracts/{id}/document{query}"), Some(bytes), &[]);
    put(b"<html>not a pdf</html>", "").assert_error(415, "unsupported_media_type", None);
    // A name past the document's 255 characters is refused, not cut short in silence.
    put(PDF, &format!("?filename={}", "%0C".repeat(256))).assert_error(400, "invalid_field", Some("filename"));
    let r = put(PDF, "?filename=msa%20v2.pdf");
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = &r.body["document"];
    assert_eq!(
        (&doc["name"], &doc["content_type"], &doc["size"]),
        (&json!("msa v2.pdf"), &json!("application/pdf"), &json!(PDF.len()))
    );
    assert_eq!(doc["sha256"].as_str().map(str::len), Some(64));
    let got = agent()
        .get(&format!("{}/v1/contracts/{id}/document", c.base))
        .set("authorization", &format!("Bearer {SECRET_KEY}"))
        .call()
        .expect("download");
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert_eq!(got.header("content-disposition"), Some("attachment; filename=\"msa v2.pdf\""));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut got.into_reader(), &mut bytes).expect("body");
    assert_eq!(bytes, PDF);

    // Accept: the customer and its items, linked both ways.
    let r = c.post(&format!("/v1/contracts/{id}/accept"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let customer = r.body["customer"].clone();
    let cus = customer["id"].as_str().expect("customer id").to_owned();
    assert_eq!(r.body["contract"]["status"], "accepted");
    assert_eq!(r.body["contract"]["customer_id"], json!(cus));
    assert_eq!(
        (&customer["contract_id"], &customer["currency"], &customer["external_id"], &customer["auto_send"]),
        (&json!(id), &json!("EUR"), &json!("crm-7"), &json!(true))
    );
    assert_eq!(c.get(&format!("/v1/customers/{cus}")).body, customer);
    let items = c.get(&format!("/v1/items?customer_id={cus}")).body;
    let names: Vec<&str> = items["data"].as_array().expect("items").iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, vec!["OCR pages", "Platform fee"]);
    assert!(c.get("/v1/customers?limit=500").text.contains(&cus), "the directory lists the customer");

    // Once: a second accept, a cancel, a patch and a new document are refused.
    c.post(&format!("/v1/contracts/{id}/accept"), &json!({})).assert_error(409, "contract_not_draft", None);
    c.post(&format!("/v1/contracts/{id}/cancel"), &json!({})).assert_error(409, "contract_not_draft", None);
    c.patch(&format!("/v1/contracts/{id}"), &json!({"auto_send": false})).assert_error(409, "contract_not_draft", None);
    put(PDF, "").assert_error(409, "contract_not_draft", None);
    let listed = c.get("/v1/contracts?status=accepted&limit=500");
    assert!(listed.body["data"].as_array().expect("data").iter().any(|x| x["id"] == json!(id)));

    // Usage reaches the customer, and by day.
    let r = c.ingest_batch(&[event(&cus, &ev, json!(30)), event(&cus, &ev, json!(12))]);
    assert_eq!(r.counts(), (2, 0, 0), "{}", r.text);
    let daily = c.get(&format!("/v1/customers/{cus}/usage/daily"));
    assert_eq!(daily.status, 200, "{}", daily.text);
    let series = &daily.body["metrics"][0];
    assert_eq!(series["code"], json!(metric));
    let today = &time_from_now(0)[..10];
    let day = series["days"].as_array().expect("days").iter().find(|d| d["date"] == json!(today)).expect("today");
    assert_eq!((&day["quantity"], &day["event_count"]), (&json!("42"), &json!(2)));
}

#[test]
fn an_accept_that_fails_half_way_is_completed_by_its_retry() {
    let c = shared().client();
    let metric = c.metric("pages", &event_name("ocr"), "sum", json!({}));
    let id = draft(&c, &metric);
    let path = format!("/v1/contracts/{id}/accept");
    let r = c.post_raw(&path, b"{}", &[("edgemeter-fault", "accept-after-customer")]);
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(c.get(&format!("/v1/contracts/{id}")).body["status"], "accepting");
    let r = c.post(&path, &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let cus = r.body["customer"]["id"].as_str().expect("customer").to_owned();
    let items = c.get(&format!("/v1/items?customer_id={cus}")).body;
    assert_eq!(items["data"].as_array().map(Vec::len), Some(2), "items made once: {items}");
    c.post(&path, &json!({})).assert_error(409, "contract_not_draft", None);
}

#[test]
fn canceled_and_expired_contracts_are_not_accepted() {
    let c = shared().client();
    let metric = c.metric("pages", &event_name("ocr"), "sum", json!({}));
    let id = draft(&c, &metric);
    let r = c.post(&format!("/v1/contracts/{id}/cancel"), &json!({}));
    assert_eq!((r.status, &r.body["status"]), (200, &json!("canceled")), "{}", r.text);
    c.post(&format!("/v1/contracts/{id}/accept"), &json!({})).assert_error(409, "contract_not_draft", None);

    let mut body = terms(&metric);
    body["expires_at"] = json!(time_from_now(1500));
    let r = c.post("/v1/contracts", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_owned();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    assert_eq!(c.get(&format!("/v1/contracts/{id}")).body["status"], "expired");
    c.post(&format!("/v1/contracts/{id}/accept"), &json!({})).assert_error(409, "contract_expired", None);
    let expired = c.get("/v1/contracts?status=expired&limit=500");
    assert!(expired.body["data"].as_array().expect("data").iter().any(|x| x["id"] == json!(id)));
    c.get("/v1/contracts?status=bogus").assert_error(400, "invalid_field", Some("status"));
    c.get("/v1/contracts/ctr_nope").assert_error(404, "not_found", None);
}

#[test]
fn rejected_events_are_logged_for_their_customer_and_the_account() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let stranger = "cus_00000000000000000000000000";
    let mut future = s.event(json!(1));
    future["timestamp"] = json!(time_from_now(3_600_000));
    let unknown_name = event(&s.customer, "no_such_event", json!(1));
    let nobody = event(stranger, &s.event_name, json!(1));
    let r = c.ingest_batch(&[s.event(json!(1)), future.clone(), unknown_name, nobody.clone()]);
    assert_eq!(r.counts(), (1, 0, 3), "{}", r.text);

    // The log is written after the answer: poll briefly.
    let poll = |path: &str, want: usize| {
        for _ in 0..50 {
            let r = c.get(path);
            if r.body["data"].as_array().map_or(0, Vec::len) >= want {
                return r.body;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{path} did not show {want} entries");
    };
    let own = poll(&format!("/v1/customers/{}/rejections", s.customer), 2);
    let codes: Vec<&str> = own["data"].as_array().expect("data").iter().filter_map(|e| e["code"].as_str()).collect();
    assert_eq!(codes, vec!["unknown_event_name", "timestamp_in_future"], "newest first: {own}");
    let entry = &own["data"][1];
    assert_eq!((&entry["field"], &entry["idempotency_key"]), (&json!("timestamp"), &future["idempotency_key"]));
    assert_eq!(entry["event"]["timestamp"], future["timestamp"]);

    let account = c.get("/v1/rejections?limit=500").body;
    let key = &nobody["idempotency_key"];
    let found = account["data"].as_array().expect("data").iter().find(|e| &e["idempotency_key"] == key);
    let found = found.unwrap_or_else(|| panic!("the stranger's event in the account log: {account}"));
    assert_eq!((&found["code"], &found["customer_id"]), (&json!("unknown_customer"), &json!(stranger)));
    c.get(&format!("/v1/customers/{stranger}/rejections")).assert_error(404, "unknown_customer", Some("customer_id"));
}
