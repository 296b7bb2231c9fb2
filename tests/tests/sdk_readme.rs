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
    let config = json!({ "baseUrl": server.base, "customerId": customer });
    let status = Command::new("node")
        .arg("tests/sdk/snippets.mjs")
        .current_dir(root())
        .env("EDGEMETER_SNIPPETS", config.to_string())
        .env("WRANGLER_SEND_METRICS", "false")
        .status()
        .expect("run node");
    assert!(status.success(), "a README example failed (output above; server log: {})", server.log.display());
}
