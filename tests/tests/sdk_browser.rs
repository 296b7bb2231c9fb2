//! The JavaScript SDK in a browser: headless Chromium (Debian's `chromium`, driven by npm
//! `playwright-core`; both installed by `make setup`) loads a page that imports
//! `@edgemeter/sdk` from `sdk/pkg/`, served from another origin than the API, and reports
//! usage with customer tokens (`ct_…`). `tests/browser/browser.test.mjs` plays the
//! scenarios: flush; the package bundled by esbuild; reload without flush (keepalive on
//! pagehide); a hidden page, with a small queue and with more than keepalive requests
//! may carry; and a saved queue of that size across a reload (`persist`). Each scenario
//! has its own customer, whose usage is checked here once more, exactly.
//!
//! Fails (never skips) when Chromium is missing: CI installs it with `make setup`.

use edgemeter_tests::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Each scenario's name and how many events it tracks (each worth 2.5).
const SCENARIOS: [(&str, u64); 6] =
    [("flush", 50), ("bundled", 20), ("reload", 40), ("hidden", 30), ("hiddenLarge", 400), ("persist", 500)];

/// 2.5 × n as the API writes it.
fn quantity(n: u64) -> String {
    let tenths = n * 25;
    match tenths % 10 {
        0 => format!("{}", tenths / 10),
        d => format!("{}.{d}", tenths / 10),
    }
}

#[test]
fn browser_reports_usage_through_flush_reload_hide_and_a_saved_queue() {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: `make setup` installs Debian's chromium");
    assert!(
        root().join("node_modules/playwright-core/package.json").exists(),
        "npm playwright-core is missing: run `make setup`"
    );
    ensure_sdk_built();
    let server = Server::start("sdk-browser");
    let c = server.client();
    let event_name = event_name("browser");
    let metric = c.metric("browser", &event_name, "sum", json!({}));

    let mut scenarios = serde_json::Map::new();
    for (name, events) in SCENARIOS {
        let customer = c.customer();
        let r = c.post("/v1/tokens", &json!({"customer_id": customer, "ttl_seconds": 600}));
        assert_eq!(r.status, 201, "{}", r.text);
        let token = r.body["token"].as_str().expect("a ct_ token").to_owned();
        scenarios.insert(name.to_owned(), json!({"customer": customer, "token": token, "events": events}));
    }
    let config = json!({
        "baseUrl": server.base,
        "secretKey": SECRET_KEY,
        "eventName": event_name,
        "metric": metric,
        "chromium": CHROMIUM,
        "scenarios": scenarios,
    });

    let status = Command::new("node")
        .args(["--test", "tests/browser/browser.test.mjs"])
        .current_dir(root())
        .env("EDGEMETER_BROWSER", config.to_string())
        .status()
        .expect("run node (Node 20+ is required)");
    assert!(status.success(), "the browser tests failed (output above; server log: {})", server.log.display());

    for (name, events) in SCENARIOS {
        let customer = scenarios[name]["customer"].as_str().expect("customer");
        assert_eq!(c.quantity(customer, &metric), (quantity(events), events), "scenario {name}");
    }
}
