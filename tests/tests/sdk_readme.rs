//! The SDK's README examples as users paste them (`tests/sdk/snippets.mjs`): every
//! JavaScript and TypeScript block of `sdk/js/README.md` and of the root README's "SDK"
//! section runs (Node ESM and CommonJS, TypeScript, a Worker under `wrangler dev`)
//! against a real server that takes `make dev`'s local keys, and the events they track
//! for one customer are counted exactly.

use edgemeter_tests::*;
use serde_json::json;
use std::process::Command;

#[test]
fn every_readme_example_runs_as_pasted() {
    ensure_sdk_built();
    // `make dev`'s keys (.dev.vars.example) besides the harness's own.
    let keys = [
        ("EDGEMETER_SECRET_KEYS", format!("{SECRET_KEY},sk_test_local")),
        ("EDGEMETER_INGEST_KEYS", format!("{INGEST_KEY},pk_test_local")),
    ];
    let vars: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with(&fresh_state_dir("sdk-readme"), &vars);
    let admin = server.client();
    // What the examples track, counted: `invoices` (Node, CommonJS, serverless, the root
    // README's) and `api_calls` (the Worker's).
    admin.metric("snippets_invoices", "invoices", "count", json!({}));
    admin.metric("snippets_api_calls", "api_calls", "count", json!({}));
    let customer = admin.customer();
    let checked = customer_with_a_final_invoice(&server);
    let config = json!({ "baseUrl": server.base, "customerId": customer });
    let status = Command::new("node")
        .arg("tests/sdk/snippets.mjs")
        .current_dir(root())
        .env("EDGEMETER_SNIPPETS", config.to_string())
        .env("EDGEMETER_CHECK_CUSTOMER_ID", checked)
        .env("WRANGLER_SEND_METRICS", "false")
        .status()
        .expect("run node");
    assert!(status.success(), "a README example failed (output above; server log: {})", server.log.display());
}

/// The README's invoice check needs a final invoice: a customer whose weekly period ends
/// at the next midnight and is final at once (`grace_hours` 0), invoiced by a run just
/// after it. No other customer's period is final then (the default grace is 24 hours), so
/// the examples' own customer still takes events.
fn customer_with_a_final_invoice(server: &Server) -> String {
    let admin = server.client();
    let tomorrow = (now_ms() / 86_400_000 + 1) * 86_400_000;
    let anchor = &rfc3339(tomorrow)[..10];
    let r = admin.post(
        "/v1/customers",
        &json!({"name": "Checked", "email": "ap@checked.test", "invoice_schedule": {"interval": "week", "anchor": anchor, "grace_hours": 0}}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let metric = admin.metric("checked", "checked_calls", "sum", json!({"filters": {"region": ["eu"]}}));
    let item = json!({"name": "Calls", "kind": "usage", "metric_code": metric,
                      "price": {"model": "graduated", "tiers": [{"up_to": 10, "unit_amount": "0.5"}, {"up_to": null, "unit_amount": "0.25"}]}});
    assert_eq!(admin.post(&format!("/v1/customers/{id}/items"), &item).status, 201);
    for (value, region) in [("12.5", "eu"), ("3", "us"), ("7", "eu")] {
        let mut e = event(&id, "checked_calls", json!(value));
        e["properties"] = json!({"region": region, "n": 1});
        assert_eq!(admin.ingest(&e).status, 200);
    }
    server.run_cron_at(tomorrow + 60_000);
    id
}
