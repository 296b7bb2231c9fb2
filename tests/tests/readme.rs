//! The README's walk-through is run as written (keys and address swapped for this test
//! server's), so the documentation cannot drift from what the server does.

use edgemeter_tests::*;
use std::process::Command;

/// The walk-through section's ```sh blocks, in order, as one script.
fn walkthrough_script() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = readme.split("## Walk-through").nth(1).expect("a walk-through section");
    let section = section.split("\n## ").next().expect("the section");
    section.split("```sh\n").skip(1).map(|b| b.split("```").next().expect("a closed block")).collect()
}

#[test]
fn readme_walkthrough_runs_as_documented() {
    let server = Server::start("readme");
    let script = walkthrough_script()
        .replace("http://127.0.0.1:8787", &server.base)
        .replace("sk_test_local", SECRET_KEY)
        .replace("pk_test_local", INGEST_KEY);
    let out = Command::new("bash").arg("-euc").arg(&script).output().expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the walk-through failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        r#""accepted":2,"duplicates":1,"rejected":1"#,
        r#""code":"unknown_event_name""#,
        r#""quantity":"85.7","event_count":2"#,
        r#""amount":"4.28""#,
        r#""number":"INV-000001""#,
        r#""status":"pending_approval""#,
        r#""status":"sent""#,
        r#""code":"invalid_contract","message":"2 problems in the contract""#,
        r#""field":"items[0].price.tiers[0].unit_amount""#,
        r#""content_type":"application/pdf","size":15"#,
        r#""status":"accepted""#,
        r#""reserved":"4000","remaining":"6000","allowed":true"#,
        r#""code":"limit_exceeded""#,
        r#""used":"3120","reserved":"0","remaining":"6880""#,
        r#""credits":{"remaining":"100.00","pending_draw":"2.50","available":"97.50"}"#,
        r#""period_total":"2.50","amount_due_so_far":"0.00""#,
        r#""amount_due":"0.00""#,
        r#""credits_applied":[{"amount":"2.50","grant_id":"cg_"#,
        r#""remaining":"97.50""#,
    ] {
        assert!(stdout.contains(expected), "missing {expected} in:\n{stdout}");
    }
}
