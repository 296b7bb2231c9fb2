//! The dashboard (`dashboard/`, served by the worker under `/dashboard/`) in headless
//! Chromium (Debian's `chromium`, driven by npm `playwright-core`; both installed by `make
//! setup`): `tests/dashboard/dashboard.test.mjs` signs in, creates a contract with a
//! graduated item and a PDF (fixing the problems the form shows), accepts it, sees usage
//! and its chart, sees rejected events, adds and voids credit grants against the live
//! balance, adds an alert that fires and deletes another, sets a limit and releases a
//! reservation against it, tries another price beside the upcoming invoice, moves the
//! clock through the scheduled handler and approves the held invoice (paid by the grant)
//! by clicking. Screenshots of each page at a laptop's and
//! a phone's width go to `target/dashboard-screenshots/`. `tests/dashboard/money.test.mjs`
//! checks the form's exact price arithmetic.
//!
//! Its own server: the invoicing run it triggers invoices every due customer of the server.
//! Fails (never skips) when Chromium is missing: CI installs it with `make setup`.

use edgemeter_tests::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn a_person_takes_a_customer_from_contract_to_approved_invoice_in_the_dashboard() {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: `make setup` installs Debian's chromium");
    assert!(
        root().join("node_modules/playwright-core/package.json").exists(),
        "npm playwright-core is missing: run `make setup`"
    );
    let server = Server::start("dashboard");
    let c = server.client();
    let event_name = event_name("pages");
    let metric = c.metric("ocr_pages", &event_name, "sum", json!({}));
    let screenshots = root().join("target/dashboard-screenshots");
    let result = server.state_dir.join("dashboard-result.json");
    let config = json!({
        "baseUrl": server.base,
        "secretKey": SECRET_KEY,
        "metric": metric,
        "eventName": event_name,
        "customerName": "Acme Dashboard Corp",
        "chromium": CHROMIUM,
        "screenshots": screenshots,
        "result": result,
    });

    let status = Command::new("node")
        .args(["--test", "--test-concurrency=1", "tests/dashboard/"])
        .current_dir(root())
        .env("EDGEMETER_DASHBOARD", config.to_string())
        .status()
        .expect("run node (Node 20+ is required)");
    assert!(status.success(), "the dashboard tests failed (output above; server log: {})", server.log.display());

    // What the clicks did, read back through the API.
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&result).expect("the test's result file"))
        .expect("the result is JSON");
    let invoice = c.get(&format!("/v1/invoices/{}", state["invoice"].as_str().expect("an invoice id")));
    assert_eq!(invoice.status, 200, "{}", invoice.text);
    assert_eq!(invoice.body["status"], "sent", "{}", invoice.text);
    assert_eq!(invoice.body["customer_id"], state["customer"]);
    assert_eq!(invoice.body["total"], "62.00", "1,000 units at 0.05 and 400 at 0.03");
    assert_eq!(invoice.body["amount_due"], "0.00", "the 100.00 grant pays it: {}", invoice.text);
    let contract = c.get(&format!("/v1/contracts/{}", state["contract"].as_str().expect("a contract id")));
    assert_eq!(
        (contract.body["status"].as_str(), contract.body["customer_id"].clone()),
        (Some("accepted"), state["customer"].clone())
    );
    assert!(screenshots.join("07-customer-phone.png").exists(), "the screenshots are saved");
}
