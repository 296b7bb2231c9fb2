//! Going to production, checked here (README "Deploy to Cloudflare", "Operating it"):
//! the production bundle against its size budget, every binding the worker reads declared
//! in the production configuration, `make deploy` against a stand-in wrangler (it creates
//! once, sets each secret once, shows none), `make smoke` against `wrangler dev`, and the
//! log lines an operator reads (their shape, and no secret in them).

use edgemeter_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Runs `node ARGS` at the repository's root with `env`: whether it succeeded, and its
/// output.
fn node(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("node")
        .args(args)
        .current_dir(root())
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("run node {args:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The output of `node scripts/deploy.mjs --dry-run` (the production configuration,
/// `wrangler deploy --dry-run`, the size budget), run once per test binary.
fn dry_run() -> &'static (bool, String) {
    static RUN: OnceLock<(bool, String)> = OnceLock::new();
    RUN.get_or_init(|| {
        ensure_built();
        node(&["scripts/deploy.mjs", "--dry-run"], &[("EDGEMETER_SKIP_BUILD", "1"), ("WRANGLER_SEND_METRICS", "false")])
    })
}

#[test]
fn production_bundle_fits_its_size_budget() {
    let (ok, output) = dry_run();
    assert!(ok, "the production dry run failed or is over budget:\n{output}");
    assert!(output.contains("within budget"), "{output}");
}

/// Every `Env` binding and setting the worker's code names, with what it must be in the
/// production configuration.
fn names_the_code_reads() -> BTreeSet<(&'static str, String)> {
    let mut sources = Vec::new();
    collect_rust(&root().join("worker/src"), &mut sources);
    let consts = string_consts(&sources);
    let mut names = BTreeSet::new();
    for (path, text) in &sources {
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
            for (call, kind) in [
                (".kv(", "KV Namespace"),
                (".bucket(", "R2 Bucket"),
                (".durable_object(", "Durable Object"),
                (".assets(", "Assets"),
            ] {
                for arg in line.split(call).skip(1) {
                    let arg = arg.split([')', ',']).next().unwrap_or_default().trim();
                    let name = match arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                        Some(literal) => literal.to_owned(),
                        None => consts.get(arg).cloned().unwrap_or_else(|| {
                            panic!("{}: cannot tell which binding `{arg}` names in `{line}`", path.display())
                        }),
                    };
                    names.insert((kind, name));
                }
            }
        }
    }
    // Settings are read through helpers that take the name (`auth::setting`), so every
    // `"EDGEMETER_…"` string that is not a binding above is one.
    for (_, text) in &sources {
        for piece in text.split('"').skip(1).step_by(2) {
            let is_setting = piece.starts_with("EDGEMETER_")
                && piece.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if is_setting && !names.iter().any(|(_, n)| n == piece) {
                names.insert(("Secret", piece.to_owned()));
            }
        }
    }
    names
}

fn collect_rust(dir: &Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).expect("read worker/src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rust(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.clone(), std::fs::read_to_string(&path).expect("read a source file")));
        }
    }
}

/// `const NAME: &str = "value";` anywhere in the sources.
fn string_consts(sources: &[(std::path::PathBuf, String)]) -> std::collections::HashMap<String, String> {
    let mut consts = std::collections::HashMap::new();
    for (_, text) in sources {
        for line in text.lines() {
            let Some(rest) = line.trim().trim_start_matches("pub ").strip_prefix("const ") else { continue };
            let Some((name, value)) = rest.split_once(": &str = \"") else { continue };
            if let Some(value) = value.strip_suffix("\";") {
                consts.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }
    consts
}

/// Worker settings that only tests and benchmarks set: production must never have them
/// (`EDGEMETER_COST_LOG` is `make bench-load`'s per-call rows log).
const TEST_ONLY: &[&str] = &["EDGEMETER_FAULT_INJECTION", "EDGEMETER_LANE_HANDOFF_MS", "EDGEMETER_COST_LOG"];

#[test]
fn every_binding_the_worker_reads_is_in_the_production_configuration() {
    let (_, output) = dry_run();
    // wrangler's own reading of the production configuration: its bindings table
    // (`env.NAME (…)   <kind>`), secrets from `[secrets] required` among them.
    let declared: Vec<(String, String)> = output
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("env.")?;
            let name = rest.split([' ', '(']).next()?.to_owned();
            Some((name, l.to_owned()))
        })
        .collect();
    assert!(!declared.is_empty(), "no bindings table in the dry run's output:\n{output}");
    let script = std::fs::read_to_string(root().join("scripts/deploy.mjs")).expect("read scripts/deploy.mjs");
    let mut missing = Vec::new();
    for (kind, name) in names_the_code_reads() {
        if TEST_ONLY.contains(&name.as_str()) {
            continue;
        }
        let found = match kind {
            // Optional secrets are not in `[secrets] required`, but `make deploy` asks for them.
            "Secret" => declared.iter().any(|(n, _)| *n == name) || script.contains(&format!("name: '{name}'")),
            _ => declared.iter().any(|(n, line)| *n == name && line.contains(kind)),
        };
        if !found {
            missing.push(format!("{kind} {name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the worker reads bindings the production configuration does not declare: {missing:?}\n{output}"
    );
}

/// `make deploy` against the stand-in wrangler (tests/deploy/fake-wrangler.mjs) and its
/// pretend account in `state`, with `env`: whether it succeeded, its output, and what the
/// account's log holds since.
fn deploy(state: &Path, env: &[(&str, &str)]) -> (bool, String, Vec<String>) {
    let fake = root().join("tests/deploy/fake-wrangler.mjs");
    let mut all = vec![
        ("EDGEMETER_WRANGLER", fake.to_str().expect("a UTF-8 path")),
        ("FAKE_WRANGLER_STATE", state.to_str().expect("a UTF-8 path")),
        ("EDGEMETER_WORKER_NAME", "edgemeter-deploy-test"),
    ];
    all.extend_from_slice(env);
    let (ok, output) = node(&["scripts/deploy.mjs"], &all);
    let account: Value =
        std::fs::read_to_string(state).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
    let log = account["log"]
        .as_array()
        .map_or_else(Vec::new, |l| l.iter().map(|e| e.as_str().unwrap_or_default().to_owned()).collect());
    (ok, output, log)
}

#[test]
fn make_deploy_creates_once_sets_each_secret_once_and_never_shows_one() {
    let dir = fresh_state_dir("deploy");
    let state = dir.join("account.json");
    let secret = "sk_live_5f0c2d9e8b7a6f5e4d3c2b1a0f9e";
    let ingest = "pk_live_0a1b2c3d4e5f6a7b8c9d0e1f2a3b";
    let keys = [("EDGEMETER_SECRET_KEYS", secret), ("EDGEMETER_INGEST_KEYS", ingest)];

    let (ok, output, log) = deploy(&state, &keys);
    assert!(ok, "{output}");
    let created = [
        "kv create edgemeter-deploy-test-kv",
        "r2 create edgemeter-deploy-test-documents",
        "secret put EDGEMETER_SECRET_KEYS",
        "secret put EDGEMETER_INGEST_KEYS",
        "secret put EDGEMETER_TOKEN_SECRET",
        "deploy",
    ];
    assert_eq!(log, created, "{output}");
    let config = std::fs::read_to_string(root().join("target/deploy/edgemeter-deploy-test/wrangler.toml"))
        .expect("the production configuration");
    for text in [&output, &config] {
        assert!(!text.contains(secret) && !text.contains(ingest), "a key was shown or written:\n{text}");
    }
    assert!(config.contains("[secrets]") && config.contains("\"EDGEMETER_TOKEN_SECRET\""), "{config}");

    // Again: everything is found, nothing is created or set, the code is deployed again.
    let (ok, output, log) = deploy(&state, &keys);
    assert!(ok, "{output}");
    assert_eq!(log[created.len()..], ["deploy"], "{output}");

    // Without a terminal, a missing required secret stops the run before anything deploys.
    let fresh = dir.join("fresh.json");
    let (ok, output, log) = deploy(&fresh, &keys[..1]);
    assert!(!ok && output.contains("EDGEMETER_INGEST_KEYS is required"), "{output}");
    assert!(!log.contains(&"deploy".to_owned()), "{log:?}");
    // The local keys are refused.
    let (ok, output, _) = deploy(&dir.join("local.json"), &[keys[0], ("EDGEMETER_INGEST_KEYS", "pk_test_local")]);
    assert!(!ok && output.contains("local use only"), "{output}");
}

/// `make smoke` against `server`: whether it passed, and what it printed.
fn smoke(server: &Server) -> (bool, String) {
    node(
        &["scripts/smoke.mjs"],
        &[("BASE_URL", server.base.as_str()), ("SECRET_KEY", SECRET_KEY), ("INGEST_KEY", INGEST_KEY)],
    )
}

#[test]
fn make_smoke_passes_against_wrangler_dev() {
    let server = shared();
    let started = Instant::now();
    let (ok, text) = smoke(server);
    eprintln!("{text}(smoke: {:?})", started.elapsed());
    assert!(ok, "make smoke failed:\n{text}");
    assert!(!text.contains(SECRET_KEY) && !text.contains(INGEST_KEY), "the smoke printed a key:\n{text}");
    // A second run reuses the metric and passes again.
    let (ok, text) = smoke(server);
    assert!(ok && text.contains("metric") && text.contains("reused"), "second run:\n{text}");
}

/// The worker's JSON log lines in a server's log so far.
fn log_lines(server: &Server) -> Vec<Value> {
    std::fs::read_to_string(&server.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.find("{\"log\":").map(|i| &l[i..]))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The line whose `field` is `value`, once it is in the log.
fn line_where(server: &Server, field: &str, value: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(line) = log_lines(server).into_iter().find(|l| &l[field] == value) {
            return line;
        }
        assert!(Instant::now() < deadline, "no log line with {field} = {value} in {}", server.log.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a request and answers its status, body and `x-request-id`.
fn send(server: &Server, method: &str, path: &str, key: &str, body: Option<&Value>) -> (u16, Value, String) {
    let r = agent()
        .request(method, &format!("{}{path}", server.base))
        .set("authorization", &format!("Bearer {key}"))
        .timeout(Duration::from_secs(60));
    let r = match body {
        Some(b) => r.set("content-type", "application/json").send_string(&b.to_string()),
        None => r.call(),
    };
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let id = r.header("x-request-id").unwrap_or_default().to_owned();
    let status = r.status();
    let body = serde_json::from_str(&r.into_string().unwrap_or_default()).unwrap_or(Value::Null);
    (status, body, id)
}

const REQUEST_FIELDS: &[&str] = &[
    "log",
    "request_id",
    "method",
    "route",
    "status",
    "customer_id",
    "events",
    "object_calls",
    "duration_ms",
    "error",
];

#[track_caller]
fn assert_request_shape(line: &Value) {
    let keys: Vec<&str> = line.as_object().expect("a JSON object").keys().map(String::as_str).collect();
    assert_eq!(keys.iter().copied().collect::<BTreeSet<_>>(), REQUEST_FIELDS.iter().copied().collect(), "{line}");
    assert_eq!(line["log"], "request");
    assert!(line["request_id"].as_str().is_some_and(|id| id.starts_with("req_")), "{line}");
    assert!(line["status"].is_u64() && line["object_calls"].is_u64() && line["duration_ms"].is_i64(), "{line}");
}

#[test]
fn one_json_line_per_request_and_per_run_with_no_secret_in_them() {
    let server = shared();
    let c = server.client();
    let setup = c.setup("sum", json!({}));
    let item = c.post(
        &format!("/v1/customers/{}/items", setup.customer),
        &json!({"name": "Log lines", "kind": "usage", "metric_code": setup.metric,
                "price": {"model": "per_unit", "unit_amount": "0.10"}}),
    );
    assert_eq!(item.status, 201, "{}", item.text);
    const PROPERTY: &str = "prop-value-never-logged-7f3a";

    // Ingest with a duplicate and a rejection: counts, customer, calls.
    let event = json!({"idempotency_key": key(), "customer_id": setup.customer, "event_name": setup.event_name,
                       "value": 2, "properties": {"region": PROPERTY}});
    let batch = json!({"events": [event, event, {"idempotency_key": key(), "customer_id": setup.customer,
                                                 "event_name": "nobody_reads_this"}]});
    let (status, body, id) = send(server, "POST", "/v1/usage/ingest", INGEST_KEY, Some(&batch));
    assert_eq!(status, 200, "{body}");
    let line = line_where(server, "request_id", &json!(id));
    assert_request_shape(&line);
    assert_eq!(
        (&line["method"], &line["route"], &line["status"], &line["customer_id"]),
        (&json!("POST"), &json!("/v1/usage/ingest"), &json!(200), &json!(setup.customer)),
        "{line}"
    );
    assert_eq!(line["events"], json!({"accepted": 1, "duplicates": 1, "rejected": 1}), "{line}");
    assert!(line["object_calls"].as_u64().is_some_and(|n| n >= 1), "{line}");
    assert_eq!(line["error"], Value::Null, "{line}");

    // A customer token, then ingest with it: the customer from the token.
    let (status, body, _) = send(
        server,
        "POST",
        "/v1/tokens",
        SECRET_KEY,
        Some(&json!({"customer_id": setup.customer, "ttl_seconds": 600})),
    );
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();
    let (status, _, id) = send(server, "POST", "/v1/usage/ingest", &token, Some(&setup.event(json!(1))));
    assert_eq!(status, 200);
    let line = line_where(server, "request_id", &json!(id));
    assert_eq!((&line["customer_id"], &line["events"]["accepted"]), (&json!(setup.customer), &json!(1)), "{line}");

    // A path's customer, and an error by its code.
    let path = format!("/v1/customers/{}/usage", setup.customer);
    let (status, _, id) = send(server, "GET", &path, SECRET_KEY, None);
    assert_eq!(status, 200);
    let line = line_where(server, "request_id", &json!(id));
    assert_request_shape(&line);
    assert_eq!((&line["route"], &line["customer_id"]), (&json!("/v1/customers/{id}/usage"), &json!(setup.customer)));
    let (status, _, id) = send(server, "GET", "/v1/customers", "sk_not_a_key_of_this_server", None);
    assert_eq!(status, 401);
    let line = line_where(server, "request_id", &json!(id));
    assert_request_shape(&line);
    assert_eq!(
        (&line["status"], &line["error"], &line["customer_id"]),
        (&json!(401), &json!("unauthorized"), &Value::Null)
    );
    let (status, _, id) = send(server, "GET", "/v1/no/such/route", SECRET_KEY, None);
    assert_eq!(status, 404);
    let line = line_where(server, "request_id", &json!(id));
    assert_eq!((&line["route"], &line["error"]), (&Value::Null, &json!("not_found")), "{line}");

    // An invoicing run a day after the period ends: one line with its counts.
    let end = c.usage_body(&setup.customer, None)["period"]["end"].as_str().expect("period end").to_owned();
    let at = parse_utc(&end) + 25 * 3_600_000;
    server.run_cron_at(at);
    let run = line_where(server, "scheduled_time", &json!(rfc3339(at).replace(".000Z", "Z")));
    let keys: BTreeSet<&str> = run.as_object().expect("an object").keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "log",
        "scheduled_time",
        "pages",
        "customers_due",
        "drafts",
        "finalized",
        "failed",
        "failures",
        "complete",
        "error",
        "duration_ms",
    ]
    .into();
    assert_eq!(keys, expected, "{run}");
    assert_eq!(
        (&run["log"], &run["complete"], &run["failed"], &run["error"]),
        (&json!("invoicing_run"), &json!(true), &json!(0), &Value::Null),
        "{run}"
    );
    assert!(run["customers_due"].as_u64().is_some_and(|n| n >= 1), "{run}");
    assert!(run["finalized"].as_u64().is_some_and(|n| n >= 1), "{run}");
    assert!(run["failures"].is_object() && run["pages"].as_u64().is_some_and(|n| n >= 1), "{run}");

    // No key, token secret, token or event property in any line; the token and the
    // property nowhere in the log at all (wrangler itself prints the `--var` keys once, at
    // start, in its bindings table).
    let lines = log_lines(server);
    for line in &lines {
        let text = line.to_string();
        for secret in [SECRET_KEY, INGEST_KEY, "e2e-token-secret", token.as_str(), PROPERTY, "sk_not_a_key"] {
            assert!(!text.contains(secret), "a log line holds a secret: {text}");
        }
        if line["log"] == "request" {
            assert_request_shape(line);
        }
    }
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(!log.contains(&token) && !log.contains(PROPERTY), "the server's log holds a token or a property");
}
