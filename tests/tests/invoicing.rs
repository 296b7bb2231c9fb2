//! The invoice lifecycle end to end (API.md, "Invoices"), moving the clock with the
//! scheduled handler: each test has its own server, since a run invoices every due
//! customer of its server.

use edgemeter_sdk::verify_signature;
use edgemeter_tests::*;
use serde_json::{json, Value};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;
const WEBHOOK_SECRET: &str = "whsec_e2e";

struct Billing {
    server: Server,
    c: Client,
    customer: String,
    name: String,
    /// The current service period, `[start, end)` in unix ms.
    start: i64,
    end: i64,
}

impl Billing {
    fn new(auto_send: bool, vars: &[(&str, &str)]) -> Billing {
        let server = Server::start_with(&fresh_state_dir("invoicing"), vars);
        let c = server.client();
        let r = c.post("/v1/customers", &json!({"name": "Acme", "email": "ap@acme.test", "auto_send": auto_send}));
        assert_eq!(r.status, 201, "{:?}", r.body);
        let customer = r.body["id"].as_str().expect("id").to_owned();
        let name = event_name("invoices");
        let metric = c.metric("ocr", &name, "sum", json!({}));
        for item in [
            json!({"name": "OCR", "kind": "usage", "metric_code": metric, "price": {"model": "per_unit", "unit_amount": "0.05"}}),
            json!({"name": "Platform", "kind": "fixed", "price": {"model": "fixed", "amount": "10.00"}}),
        ] {
            let r = c.post(&format!("/v1/customers/{customer}/items"), &item);
            assert_eq!(r.status, 201, "{:?}", r.body);
        }
        let usage = c.get(&format!("/v1/customers/{customer}/usage"));
        let start = parse_utc(usage.body["period"]["start"].as_str().expect("start"));
        let end = parse_utc(usage.body["period"]["end"].as_str().expect("end"));
        Billing { server, c, customer, name, start, end }
    }

    fn ingest(&self, value: i64) {
        let r = self.c.ingest(&event(&self.customer, &self.name, json!(value)));
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    fn invoices(&self) -> Vec<Value> {
        let r = self.c.get(&format!("/v1/invoices?customer_id={}", self.customer));
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["data"].as_array().cloned().unwrap_or_default()
    }

    fn only_invoice(&self) -> Value {
        let all = self.invoices();
        assert_eq!(all.len(), 1, "{all:#?}");
        all[0].clone()
    }

    fn run(&self, at: i64) {
        self.server.run_cron_at(at);
    }
}

/// A JSON time as unix ms.
fn at(v: &Value) -> i64 {
    parse_utc(v.as_str().expect("a time string"))
}

fn line<'a>(inv: &'a Value, name: &str) -> &'a Value {
    inv["lines"].as_array().and_then(|l| l.iter().find(|x| x["name"] == name)).expect("a line with that name")
}

#[test]
fn draft_appears_at_pre_generation_refreshes_and_finalizes_once_after_grace() {
    let b = Billing::new(false, &[]);
    b.ingest(50);

    b.run(b.end - 3 * D - H);
    assert!(b.invoices().is_empty(), "no invoice before end - pre_generate_days");

    b.run(b.end - 3 * D + H);
    let draft = b.only_invoice();
    assert_eq!(draft["status"], "draft");
    assert!(draft["number"].is_null());
    assert_eq!(line(&draft, "OCR")["quantity"], "50");
    assert_eq!(line(&draft, "OCR")["usage"]["event_count"], 1);
    assert_eq!(line(&draft, "Platform")["amount"], "10.00");
    assert_eq!(draft["total"], "12.50");

    b.ingest(30);
    b.run(b.end - 3 * D + 2 * H);
    let refreshed = b.only_invoice();
    assert_eq!(refreshed["id"], draft["id"], "the same draft, refreshed");
    assert_eq!(line(&refreshed, "OCR")["quantity"], "80");
    assert_eq!(refreshed["total"], "14.00");

    b.run(b.end + 12 * H);
    assert_eq!(b.only_invoice()["status"], "draft", "still a draft inside the grace period");

    b.run(b.end + 25 * H);
    let fin = b.only_invoice();
    assert_eq!(fin["status"], "pending_approval");
    assert_eq!(fin["id"], draft["id"]);
    assert!(fin["number"].as_str().is_some_and(|n| n.starts_with("INV-")), "{fin:#?}");
    assert_eq!(at(&fin["finalized_at"]), b.end + 25 * H);
    assert_eq!(line(&fin, "OCR")["usage"]["metric_code"].as_str().map(|s| s.starts_with("ocr_")), Some(true));
    assert!(line(&fin, "OCR")["usage"]["first_event_at"].is_string());

    // Later and repeated runs change nothing.
    b.run(b.end + 26 * H);
    b.run(b.end + 26 * H);
    let again = b.only_invoice();
    assert_eq!((again["number"].clone(), again["status"].clone()), (fin["number"].clone(), fin["status"].clone()));
}

#[test]
fn approve_sends_a_pending_invoice_and_void_works_from_any_state_but_void() {
    let b = Billing::new(false, &[]);
    b.ingest(10);
    b.run(b.end + 25 * H);
    let inv = b.only_invoice();
    let id = inv["id"].as_str().expect("id");
    assert_eq!(b.c.get(&format!("/v1/invoices/{id}")).body["status"], "pending_approval");

    let approved = b.c.post(&format!("/v1/invoices/{id}/approve"), &json!({}));
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["status"], "sent");
    assert!(approved.body["sent_at"].is_string());
    assert!(approved.body["voided_at"].is_null());
    b.c.post(&format!("/v1/invoices/{id}/approve"), &json!({})).assert_error(
        409,
        "invalid_invoice_state",
        Some("status"),
    );

    let listed = b.c.get("/v1/invoices?status=sent");
    assert!(listed.body["data"].as_array().is_some_and(|d| d.iter().any(|i| i["id"] == id)));

    let voided = b.c.post(&format!("/v1/invoices/{id}/void"), &json!({}));
    assert_eq!(voided.body["status"], "void");
    assert!(voided.body["voided_at"].as_str().is_some_and(|t| t >= approved.body["sent_at"].as_str().unwrap_or("")));
    b.c.post(&format!("/v1/invoices/{id}/void"), &json!({})).assert_error(409, "invalid_invoice_state", Some("status"));
    b.c.post(&format!("/v1/invoices/{id}/approve"), &json!({})).assert_error(
        409,
        "invalid_invoice_state",
        Some("status"),
    );
    assert_eq!(b.c.get("/v1/invoices/inv_00000000000000000000000000").status, 404);
}

#[test]
fn events_for_a_finalized_period_are_period_closed_but_retries_stay_duplicates() {
    let b = Billing::new(false, &[]);
    let first = event(&b.customer, &b.name, json!(5));
    assert_eq!(b.c.ingest(&first).status, 200);
    b.run(b.end + 25 * H);
    assert_eq!(b.only_invoice()["status"], "pending_approval");

    let late = b.c.ingest(&event(&b.customer, &b.name, json!(1)));
    late.assert_error(400, "period_closed", Some("timestamp"));
    let retry = b.c.ingest(&json!({"events": [first]}));
    assert_eq!(retry.statuses(), vec!["duplicate"]);
    assert_eq!(line(&b.only_invoice(), "OCR")["quantity"], "5");
    let void =
        b.c.post("/v1/usage/void", &json!({"idempotency_key": first["idempotency_key"], "customer_id": b.customer}));
    void.assert_error(400, "period_closed", Some("idempotency_key"));
}

#[test]
fn a_jump_over_two_periods_makes_two_invoices() {
    let b = Billing::new(false, &[]);
    b.ingest(7);
    // Far enough for this period and the next to be final (months are at most 31 days).
    b.run(b.end + 32 * D + 25 * H);
    let all = b.invoices();
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(at(&all[0]["period_start"]), b.start);
    assert_eq!(at(&all[1]["period_start"]), b.end);
    assert!(all.iter().all(|i| i["status"] == "pending_approval"));
    assert_eq!(line(&all[0], "OCR")["quantity"], "7");
    assert_eq!(line(&all[1], "OCR")["quantity"], "0");
    assert_eq!(line(&all[1], "Platform")["amount"], "10.00", "fixed fees bill once per period");
    assert_ne!(all[0]["number"], all[1]["number"]);
}

#[test]
fn upcoming_invoice_previews_the_current_period() {
    let b = Billing::new(false, &[]);
    b.ingest(20);
    let r = b.c.get(&format!("/v1/customers/{}/invoices/upcoming", b.customer));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "upcoming");
    assert!(r.body.get("id").is_none() && r.body.get("number").is_none());
    assert_eq!(r.body["total"], "11.00");
    assert_eq!(at(&r.body["period_start"]), b.start);
}

#[test]
fn auto_send_customer_gets_sent_with_signed_webhooks() {
    let receiver = Receiver::start(0);
    let b =
        Billing::new(true, &[("EDGEMETER_WEBHOOK_URL", &receiver.url), ("EDGEMETER_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    b.ingest(40);
    b.run(b.end + 25 * H);
    let inv = b.only_invoice();
    assert_eq!(inv["status"], "sent");
    let got = receiver.received();
    let types: Vec<String> = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).expect("JSON")["type"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(types, vec!["invoice.finalized", "invoice.sent"]);
    // Signed at the time of sending, not at the run's (scheduled) time, which here lies
    // days away from the clock: a receiver checks the signature against its own clock.
    // Verified with the SDK's own function, as a receiver would.
    let received_at = now_ms() / 1000;
    for r in &got {
        let verify = |secret: &str| verify_signature(secret, &r.signature, r.body.as_bytes(), received_at, 300);
        assert_eq!(verify(WEBHOOK_SECRET), Ok(()), "bad signature {}", r.signature);
        assert!(verify("wrong").is_err());
        let v: Value = serde_json::from_str(&r.body).expect("JSON");
        assert!(v["id"].as_str().is_some_and(|i| i.starts_with("evt_")));
        assert_eq!(v["data"]["id"], inv["id"]);
        assert_eq!(v["data"]["number"], inv["number"]);
    }
}

#[test]
fn a_failing_receiver_gets_the_delivery_on_a_later_run_with_the_same_id() {
    let receiver = Receiver::start(1);
    let b =
        Billing::new(false, &[("EDGEMETER_WEBHOOK_URL", &receiver.url), ("EDGEMETER_WEBHOOK_SECRET", WEBHOOK_SECRET)]);
    b.ingest(1);
    b.run(b.end + 25 * H);
    let first = receiver.received();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].answered, 500);
    b.run(b.end + 27 * H);
    let all = receiver.received();
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[1].answered, 200);
    let id = |r: &Received| serde_json::from_str::<Value>(&r.body).expect("JSON")["id"].clone();
    assert_eq!(id(&all[0]), id(&all[1]), "a retry keeps the event id");
    b.run(b.end + 30 * H);
    assert_eq!(receiver.received().len(), 2, "a delivered webhook is not sent again");
}

#[test]
fn restart_between_draft_and_final_keeps_one_invoice() {
    let dir = fresh_state_dir("invoicing-restart");
    let mut server = Server::start_with(&dir, &[]);
    let c = server.client();
    let customer = c.customer();
    let name = event_name("invoices");
    let metric = c.metric("ocr", &name, "sum", json!({}));
    c.post(
        &format!("/v1/customers/{customer}/items"),
        &json!({"name": "OCR", "kind": "usage", "metric_code": metric, "price": {"model": "per_unit", "unit_amount": "1"}}),
    );
    assert_eq!(c.ingest(&event(&customer, &name, json!(3))).status, 200);
    let usage = c.get(&format!("/v1/customers/{customer}/usage"));
    let end = parse_utc(usage.body["period"]["end"].as_str().expect("end"));
    server.run_cron_at(end - 2 * D);
    server.kill();

    let server = Server::start_on(&dir);
    let c = server.client();
    server.run_cron_at(end + 25 * H);
    let r = c.get(&format!("/v1/invoices?customer_id={customer}"));
    let all = r.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["status"], "pending_approval");
    assert_eq!(all[0]["total"], "3.00");
}

#[test]
fn a_final_period_is_compacted_after_its_late_window_and_its_invoice_stays() {
    let b = Billing::new(false, &[]);
    let first = event(&b.customer, &b.name, json!(5));
    assert_eq!(b.c.ingest(&first).status, 200);
    b.run(b.end + 25 * H);
    assert_eq!(b.c.ingest(&json!({"events": [first.clone()]})).statuses(), vec!["duplicate"]);

    // 35 days after the period ended, its events are gone: a retry is no longer known,
    // but it still cannot count (the period is final).
    b.run(b.end + 37 * D);
    let retry = b.c.ingest(&json!({"events": [first]}));
    assert_eq!(retry.event_codes(), vec!["period_closed"], "{}", retry.text);
    let inv = &b.invoices()[0];
    assert_eq!(line(inv, "OCR")["quantity"], "5", "the invoice keeps its lines");
    let usage = b.c.get(&format!("/v1/customers/{}/usage?at={}", b.customer, rfc3339(b.start)));
    let q: Vec<&str> =
        usage.body["metrics"].as_array().expect("metrics").iter().filter_map(|m| m["quantity"].as_str()).collect();
    assert_eq!(q, vec!["5"], "aggregates of final periods are kept");
}

#[test]
fn concurrent_runs_make_one_invoice_per_period() {
    let b = Billing::new(false, &[]);
    b.ingest(9);
    std::thread::scope(|s| {
        for i in 0..4 {
            let b = &b;
            s.spawn(move || b.run(b.end + 25 * H + i));
        }
    });
    let inv = b.only_invoice();
    assert_eq!(inv["status"], "pending_approval");
    assert_eq!(line(&inv, "OCR")["quantity"], "9");
    let numbers = b.c.get("/v1/invoices?limit=500");
    let ours: Vec<_> = numbers.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|i| i["customer_id"] == b.customer.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "one directory entry, one number");
}
