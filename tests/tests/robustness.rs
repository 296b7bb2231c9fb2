//! Bad input never gets a 5xx, and the server keeps serving after it: every answer to
//! garbage is a 4xx with an error code, `/healthz` stays up and a valid event is still
//! accepted. Then the admin bodies' own rules, each naming its field.

use edgemeter_tests::*;
use serde_json::{json, Value};

/// The answer is a client error with the error shape, not a server failure.
#[track_caller]
fn assert_client_error(r: &Resp, what: &str) {
    assert!((400..500).contains(&r.status), "{what}: status {} {}", r.status, r.text);
    assert!(!r.code().is_empty(), "{what}: no error code in {}", r.text);
    assert!(r.body["error"]["message"].is_string(), "{what}: no message in {}", r.text);
}

/// `/healthz` answers and a valid event is still accepted and counted.
#[track_caller]
fn assert_still_serving(c: &Client, s: &Setup) {
    let before = c.quantity(&s.customer, &s.metric).1;
    assert_eq!(c.get("/healthz").status, 200);
    let r = c.ingest(&s.event(json!(1)));
    assert_eq!((r.status, r.counts()), (200, (1, 0, 0)), "{}", r.text);
    assert_eq!(c.quantity(&s.customer, &s.metric).1, before + 1);
}

fn admin_post_paths(customer: &str) -> Vec<String> {
    vec![
        "/v1/usage/ingest".to_owned(),
        "/v1/customers".to_owned(),
        "/v1/billing/metrics".to_owned(),
        format!("/v1/customers/{customer}/items"),
        "/v1/usage/void".to_owned(),
    ]
}

#[test]
fn broken_json_is_400_invalid_json_everywhere() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let mut paths = admin_post_paths(&s.customer);
    paths.push(format!("/v1/customers/{}", s.customer)); // PATCH below
    for body in [&b"{"[..], b"{\"name\": ", b"nul", b"{\"a\": 1,}", b"{}{}", b"{'a': 1}", b"\x00\x01"] {
        for path in &paths[..paths.len() - 1] {
            c.post_raw(path, body, &[]).assert_error(400, "invalid_json", None);
        }
        c.send("PATCH", &paths[paths.len() - 1], Some(body), &[]).assert_error(400, "invalid_json", None);
    }
    assert_still_serving(&c, &s);
}

#[test]
fn empty_body_is_400_everywhere() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    for path in admin_post_paths(&s.customer) {
        c.post_raw(&path, b"", &[]).assert_error(400, "invalid_json", None);
    }
    c.send("PATCH", &format!("/v1/customers/{}", s.customer), Some(b""), &[]).assert_error(400, "invalid_json", None);
    assert_still_serving(&c, &s);
}

#[test]
fn wrong_json_types_for_every_event_field_are_rejected_not_failed() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let fields = ["idempotency_key", "customer_id", "event_name", "value", "timestamp", "properties"];
    let odd = [json!(1), json!(-1.5), json!(true), json!([]), json!(["x"]), json!({}), json!({"a": 1}), json!("")];
    let mut events = Vec::new();
    for f in fields {
        for v in &odd {
            let mut ev = s.event(json!(1));
            ev[f] = v.clone();
            events.push(ev);
        }
    }
    let r = c.ingest_batch(&events);
    assert_eq!(r.status, 200, "{}", r.text);
    // `{}` and `{"a": 1}` are fine properties, and `1` a fine value; everything else is refused.
    let accepted: Vec<usize> =
        r.statuses().iter().enumerate().filter(|(_, s)| **s == "accepted").map(|(i, _)| i).collect();
    assert_eq!(accepted, [3 * odd.len(), 5 * odd.len() + 5, 5 * odd.len() + 6], "{}", r.text);
    for ev in &events {
        let single = c.ingest(ev);
        assert!(matches!(single.status, 200 | 400), "{ev}: {}", single.text);
    }
    assert_still_serving(&c, &s);
}

#[test]
fn wrong_json_types_in_admin_bodies_are_400_naming_the_field() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let customer = json!({"name": "Acme", "email": "ap@acme.test"});
    let metric = json!({"code": "c", "name": "n", "event_name": "e", "aggregation": "sum"});
    let item = json!({"name": "i", "kind": "usage", "metric_code": s.metric, "price": {"model": "per_unit", "unit_amount": "1"}});
    let items_path = format!("/v1/customers/{}/items", s.customer);
    for (path, base) in [("/v1/customers", &customer), ("/v1/billing/metrics", &metric), (items_path.as_str(), &item)] {
        for field in base.as_object().expect("object").keys() {
            for v in [json!(12), json!(true), json!(["x"]), json!({"x": 1})] {
                let mut body = base.clone();
                body[field] = v;
                let r = c.post(path, &body);
                assert_client_error(&r, &format!("{path} with {field} = {}", body[field]));
                assert_eq!(r.status, 400, "{path} {field}: {}", r.text);
                assert!(r.field().is_some_and(|f| f.starts_with(field.as_str())), "{path} {field}: {}", r.text);
            }
        }
    }
    assert_still_serving(&c, &s);
}

#[test]
fn huge_strings_are_refused_by_their_rule() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let huge = "x".repeat(100 * 1024);
    let with = |field: &str, v: Value| {
        let mut ev = s.event(json!(1));
        ev[field] = v;
        ev
    };
    for (ev, code) in [
        (with("event_name", json!(huge)), "invalid_event_name"),
        (with("customer_id", json!(huge)), "invalid_customer_id"),
        (with("idempotency_key", json!(huge)), "invalid_idempotency_key"),
        (with("value", json!(huge)), "invalid_value"),
        (with("value", json!("9".repeat(5000))), "invalid_value"),
        (with("timestamp", json!(huge)), "invalid_timestamp"),
        (with("properties", json!({"region": huge})), "invalid_properties"),
        (with("properties", json!({huge.clone(): "eu"})), "invalid_properties"),
    ] {
        assert_eq!(c.ingest(&ev).code(), code);
    }
    let r = c.post("/v1/customers", &json!({"name": huge, "email": "ap@acme.test"}));
    r.assert_error(400, "invalid_field", Some("name"));
    let r = c.post("/v1/billing/metrics", &json!({"code": huge, "name": "n", "event_name": "e", "aggregation": "sum"}));
    r.assert_error(400, "invalid_field", Some("code"));
    assert_still_serving(&c, &s);
}

#[test]
fn ten_thousand_properties_are_invalid_properties() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let props: serde_json::Map<String, Value> = (0..10_000).map(|i| (format!("p{i}"), json!(i))).collect();
    let mut ev = s.event(json!(1));
    ev["properties"] = Value::Object(props);
    c.ingest(&ev).assert_error(400, "invalid_properties", Some("properties"));
    assert_still_serving(&c, &s);
}

#[test]
fn five_mib_body_is_413_everywhere() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let big = vec![b' '; 5 * 1024 * 1024];
    for path in admin_post_paths(&s.customer) {
        c.post_raw(&path, &big, &[]).assert_error(413, "payload_too_large", None);
        c.post_chunked(&path, big.clone()).expect("an answer").assert_error(413, "payload_too_large", None);
    }
    assert_still_serving(&c, &s);
}

#[test]
fn deeply_nested_json_is_400_not_500() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let deep = |open: &str, inner: &str, close: &str| format!("{}{inner}{}", open.repeat(10_000), close.repeat(10_000));
    let arrays = deep("[", "", "]");
    let objects = deep("{\"a\":", "1", "}");
    let key = s.event(json!(1))["idempotency_key"].clone();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("nested arrays", arrays.clone().into_bytes()),
        ("nested objects", objects.clone().into_bytes()),
        ("nested arrays as events", format!("{{\"events\": {arrays}}}").into_bytes()),
        ("nested objects in events", format!("{{\"events\": [{objects}]}}").into_bytes()),
        (
            "nested arrays in a property",
            format!(
                "{{\"idempotency_key\": {key}, \"customer_id\": \"{}\", \"event_name\": \"{}\", \"properties\": {{\"a\": {arrays}}}}}",
                s.customer, s.event_name
            )
            .into_bytes(),
        ),
        ("nested arrays in an unknown field", format!("{{\"name\": \"x\", \"extra\": {arrays}}}").into_bytes()),
    ];
    for path in admin_post_paths(&s.customer) {
        for (what, body) in &bodies {
            let r = c.post_raw(&path, body, &[]);
            // A batch whose one element is nested is judged per event: the envelope is fine.
            if path == "/v1/usage/ingest" && r.status == 200 {
                assert_eq!(r.counts(), (0, 0, 1), "{what}: {}", r.text);
                continue;
            }
            assert_client_error(&r, &format!("{path}: {what}"));
        }
    }
    let r = c.send("PATCH", &format!("/v1/customers/{}", s.customer), Some(arrays.as_bytes()), &[]);
    assert_client_error(&r, "PATCH with nested arrays");
    assert_still_serving(&c, &s);
}

#[test]
fn non_utf8_bytes_are_400_invalid_json() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    // A valid event whose event name is Latin-1, not UTF-8.
    let text = s.event(json!(1)).to_string().replace(&s.event_name, "MARK");
    let mut latin1 = text.into_bytes();
    let at = latin1.windows(4).position(|w| w == b"MARK").expect("the marker");
    latin1.splice(at..at + 4, *b"caf\xe9");
    let bodies: Vec<Vec<u8>> =
        vec![latin1, b"{\xff\xfe}".to_vec(), "{\"name\":\"x\"}".encode_utf16().flat_map(u16::to_le_bytes).collect()];
    for path in admin_post_paths(&s.customer) {
        for body in &bodies {
            c.post_raw(&path, body, &[]).assert_error(400, "invalid_json", None);
        }
    }
    let r = c.send("PATCH", &format!("/v1/customers/{}", s.customer), Some(b"{\"name\": \"\xff\"}"), &[]);
    r.assert_error(400, "invalid_json", None);
    assert_still_serving(&c, &s);
}

#[test]
fn unknown_routes_are_404_not_found() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    // `/` is the dashboard's (a redirect to `/dashboard/`).
    for path in ["/dashboardx", "/v1", "/v2/customers", "/v1/nope", "/v1/customers/x/y/z", "/v1/usage", "/healthz/x"] {
        c.get(path).assert_error(404, "not_found", None);
        c.post_raw(path, b"{}", &[]).assert_error(404, "not_found", None);
        c.send("PROPFIND", path, None, &[]).assert_error(404, "not_found", None);
    }
    assert_still_serving(&c, &s);
}

#[test]
fn wrong_methods_are_refused_with_an_error_code() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let customer = format!("/v1/customers/{}", s.customer);
    let metric = format!("/v1/billing/metrics/{}", s.metric);
    for (method, path) in [
        ("DELETE", "/v1/customers"),
        ("PUT", "/v1/customers"),
        ("DELETE", customer.as_str()),
        ("PUT", customer.as_str()),
        ("POST", customer.as_str()),
        ("GET", "/v1/usage/ingest"),
        ("PUT", "/v1/usage/ingest"),
        ("DELETE", "/v1/usage/ingest"),
        ("GET", "/v1/usage/void"),
        ("PATCH", "/v1/billing/metrics"),
        ("DELETE", metric.as_str()),
        ("POST", "/v1/items"),
        ("POST", "/v1/invoices/inv_1x"),
        ("GET", "/v1/invoices/inv_1x/approve"),
    ] {
        let r = c.send(method, path, Some(b"{}"), &[]);
        r.assert_error(405, "method_not_allowed", None);
        assert!(r.text.contains(" use "), "{method} {path}: the message names the methods: {}", r.text);
    }
    // And the `Allow` header names them (RFC 9110).
    for (method, path, allow) in [
        ("DELETE", "/v1/customers", "GET, HEAD, POST"),
        ("PUT", customer.as_str(), "GET, HEAD, PATCH"),
        ("GET", "/v1/usage/ingest", "POST"),
        ("HEAD", "/v1/usage/ingest", "POST"),
        // A method the runtime's own enum does not know is not read as a GET.
        ("PROPFIND", "/v1/customers", "GET, HEAD, POST"),
        ("PROPFIND", customer.as_str(), "GET, HEAD, PATCH"),
        ("POST", "/healthz", "GET, HEAD"),
    ] {
        let answer = agent()
            .request(method, &format!("{}{path}", shared().base))
            .set("authorization", &format!("Bearer {SECRET_KEY}"))
            .call();
        let resp = match answer {
            Err(ureq::Error::Status(405, resp)) => resp,
            other => panic!("{method} {path}: expected a 405, got {other:?}"),
        };
        assert_eq!(resp.header("allow"), Some(allow), "{method} {path}");
    }
    for (method, path) in [("POST", "/healthz"), ("DELETE", "/openapi.json")] {
        let r = c.send(method, path, Some(b"{}"), &[]);
        assert!(
            matches!((r.status, r.code()), (404, "not_found") | (405, "method_not_allowed")),
            "{method} {path}: {}",
            r.text
        );
    }
    assert_still_serving(&c, &s);
}

#[test]
fn head_is_get_without_the_body() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    // On a raw connection, read until it has been quiet for half a second, so "nothing
    // after the headers" is what the server sent, not what a client chose to read.
    let head = |path: &str, key: Option<&str>| -> (String, Vec<u8>) {
        use std::io::{Read, Write};
        let addr = shared().base.trim_start_matches("http://").to_owned();
        let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
        let auth = key.map(|k| format!("authorization: Bearer {k}\r\n")).unwrap_or_default();
        write!(conn, "HEAD {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}connection: close\r\n\r\n").expect("send");
        conn.set_read_timeout(Some(std::time::Duration::from_millis(500))).expect("timeout");
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
                Err(e) => panic!("HEAD {path}: {e}"),
            }
        }
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
        (String::from_utf8_lossy(&raw[..end]).to_lowercase(), raw[end..].to_vec())
    };
    let customer = format!("/v1/customers/{}", s.customer);
    for (path, key, status) in [
        ("/healthz", None, "200"),
        (customer.as_str(), Some(SECRET_KEY), "200"),
        ("/v1/customers", Some(SECRET_KEY), "200"),
        // The same key rules as GET.
        (customer.as_str(), None, "401"),
    ] {
        let (head, body) = head(path, key);
        assert!(head.starts_with(&format!("http/1.1 {status}")), "HEAD {path}: {head}");
        assert!(head.contains("\r\nx-request-id: req_"), "HEAD {path}: the request's id: {head}");
        assert!(head.contains("\r\ncontent-type: application/json"), "HEAD {path}: {head}");
        assert!(body.is_empty(), "HEAD {path}: no body, got {:?}", String::from_utf8_lossy(&body));
    }
    assert_still_serving(&c, &s);
}

#[test]
fn bad_query_parameters_are_400_naming_the_parameter() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let usage = format!("/v1/customers/{}/usage", s.customer);
    for at in ["garbage", "2024-07-15T11:30:00", "", "2024-13-45T00:00:00Z"] {
        c.get(&format!("{usage}?at={at}")).assert_error(400, "invalid_timestamp", Some("at"));
    }
    for limit in ["0", "501", "-1", "abc", "1.5", ""] {
        c.get(&format!("/v1/customers?limit={limit}")).assert_error(400, "invalid_field", Some("limit"));
        c.get(&format!("/v1/billing/metrics?limit={limit}")).assert_error(400, "invalid_field", Some("limit"));
    }
    c.get("/v1/items").assert_error(400, "missing_field", Some("customer_id"));
    assert_still_serving(&c, &s);
}

#[test]
fn bad_idempotency_key_header_is_400() {
    let c = shared().client();
    let s = c.setup("count", json!({}));
    let long = "k".repeat(256);
    let r = c.post_raw("/v1/usage/ingest", s.event(json!(1)).to_string().as_bytes(), &[("idempotency-key", &long)]);
    r.assert_error(400, "invalid_field", Some("Idempotency-Key"));
    assert_eq!(c.quantity(&s.customer, &s.metric).1, 0);
    assert_still_serving(&c, &s);
}

// --- Admin bodies: each rule names its field. ---

#[test]
fn customer_body_rules_name_their_field() {
    let c = shared().client();
    let base = json!({"name": "Acme", "email": "ap@acme.test"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (json!({"email": "ap@acme.test"}), "missing_field", "name"),
        (json!({"name": "Acme"}), "missing_field", "email"),
        (with("name", json!("")), "invalid_field", "name"),
        (with("name", json!("   ")), "invalid_field", "name"),
        (with("email", json!("nope")), "invalid_field", "email"),
        (with("email", json!("a@b")), "invalid_field", "email"),
        (with("email", json!("a b@c.io")), "invalid_field", "email"),
        (with("currency", json!("usd")), "invalid_field", "currency"),
        (with("currency", json!("XYZ")), "invalid_field", "currency"),
        (with("invoice_schedule", json!("monthly")), "invalid_field", "invoice_schedule"),
        (with("invoice_schedule", json!({"interval": "day"})), "invalid_field", "invoice_schedule.interval"),
        (with("invoice_schedule", json!({"anchor": "2026-02-30"})), "invalid_field", "invoice_schedule.anchor"),
        (
            with("invoice_schedule", json!({"pre_generate_days": 99})),
            "invalid_field",
            "invoice_schedule.pre_generate_days",
        ),
        (with("invoice_schedule", json!({"grace_hours": -1})), "invalid_field", "invoice_schedule.grace_hours"),
        (with("invoice_schedule", json!({"every": "month"})), "unknown_field", "invoice_schedule.every"),
        (with("auto_send", json!("yes")), "invalid_field", "auto_send"),
        (with("plan", json!("pro")), "unknown_field", "plan"),
    ];
    for (body, code, field) in cases {
        c.post("/v1/customers", &body).assert_error(400, code, Some(field));
    }
}

#[test]
fn metric_body_rules_name_their_field() {
    let c = shared().client();
    let code = format!("m_{}", &key()[..8]);
    let base = json!({"code": code, "name": "API calls", "event_name": "api_call", "aggregation": "sum"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("aggregation", json!("median")), 400, "invalid_field", "aggregation"),
        (with("aggregation", json!("SUM")), 400, "invalid_field", "aggregation"),
        (with("aggregation", json!("unique_count")), 400, "missing_field", "field"),
        (with("field", json!("user")), 400, "invalid_field", "field"),
        (with("code", json!("Has Space")), 400, "invalid_field", "code"),
        (with("code", json!("")), 400, "invalid_field", "code"),
        (with("event_name", json!("")), 400, "invalid_field", "event_name"),
        (with("filters", json!({"region": []})), 400, "invalid_field", "filters"),
        (with("filters", json!({"region": "eu"})), 400, "invalid_field", "filters"),
        (with("filters", json!(["eu"])), 400, "invalid_field", "filters"),
        (with("unit", json!("ms")), 400, "unknown_field", "unit"),
        (json!({"name": "n", "event_name": "e", "aggregation": "sum"}), 400, "missing_field", "code"),
        (json!({"code": code, "name": "n", "aggregation": "sum"}), 400, "missing_field", "event_name"),
        (json!({"code": code, "name": "n", "event_name": "e"}), 400, "missing_field", "aggregation"),
    ];
    for (body, status, err, field) in cases {
        c.post("/v1/billing/metrics", &body).assert_error(status, err, Some(field));
    }
    assert_eq!(c.post("/v1/billing/metrics", &base).status, 201);
    c.post("/v1/billing/metrics", &base).assert_error(409, "duplicate_metric_code", Some("code"));
    // Another definition under a taken code is a conflict too, and the first one stands.
    c.post("/v1/billing/metrics", &with("aggregation", json!("max"))).assert_error(
        409,
        "duplicate_metric_code",
        Some("code"),
    );
    assert_eq!(c.get(&format!("/v1/billing/metrics/{code}")).body["aggregation"], "sum");
}

#[test]
fn item_body_rules_name_their_field() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let path = format!("/v1/customers/{}/items", s.customer);
    let usage = |price: Value| json!({"name": "Calls", "kind": "usage", "metric_code": s.metric, "price": price});
    let tiers = |t: Value| usage(json!({"model": "graduated", "tiers": t}));
    let with_minimum = |mut body: Value, m: Value| {
        body["minimum"] = m;
        body
    };
    let cases = [
        (
            json!({"name": "x", "kind": "usage", "metric_code": "no_such_metric", "price": {"model": "per_unit", "unit_amount": "1"}}),
            "unknown_metric",
            "metric_code",
        ),
        (
            json!({"name": "x", "kind": "usage", "price": {"model": "per_unit", "unit_amount": "1"}}),
            "missing_field",
            "metric_code",
        ),
        (
            json!({"name": "x", "kind": "fixed", "metric_code": s.metric, "price": {"model": "fixed", "amount": "9"}}),
            "invalid_field",
            "metric_code",
        ),
        (
            json!({"name": "x", "kind": "fixed", "price": {"model": "per_unit", "unit_amount": "1"}}),
            "invalid_field",
            "price.model",
        ),
        (json!({"name": "x", "kind": "rental", "price": {"model": "fixed", "amount": "9"}}), "invalid_field", "kind"),
        (json!({"name": "", "kind": "fixed", "price": {"model": "fixed", "amount": "9"}}), "invalid_field", "name"),
        (json!({"name": "x", "kind": "usage", "metric_code": s.metric}), "missing_field", "price"),
        (usage(json!({"model": "fixed", "amount": "9"})), "invalid_field", "price.model"),
        (usage(json!({"model": "magic"})), "invalid_field", "price.model"),
        (usage(json!("0.05")), "invalid_field", "price"),
        (usage(json!({"model": "per_unit"})), "missing_field", "price.unit_amount"),
        (usage(json!({"model": "per_unit", "unit_amount": "-1"})), "invalid_field", "price.unit_amount"),
        (usage(json!({"model": "per_unit", "unit_amount": "abc"})), "invalid_field", "price.unit_amount"),
        // A fractional JSON number has been through a binary float: amounts are strings.
        (usage(json!({"model": "per_unit", "unit_amount": 0.05})), "invalid_field", "price.unit_amount"),
        (usage(json!({"model": "per_unit", "unit_amount": "1", "currency": "EUR"})), "unknown_field", "price.currency"),
        (
            usage(json!({"model": "package", "package_size": 0, "package_amount": "5"})),
            "invalid_field",
            "price.package_size",
        ),
        (usage(json!({"model": "package", "package_amount": "5"})), "missing_field", "price.package_size"),
        (tiers(json!([])), "invalid_field", "price.tiers"),
        (tiers(json!("flat")), "invalid_field", "price.tiers"),
        // A tier's problem names the tier.
        (tiers(json!([{"up_to": 100, "unit_amount": "1"}])), "invalid_field", "price.tiers[0].up_to"),
        (
            tiers(json!([{"up_to": null, "unit_amount": "1"}, {"up_to": null, "unit_amount": "2"}])),
            "invalid_field",
            "price.tiers[0].up_to",
        ),
        (
            tiers(
                json!([{"up_to": 100, "unit_amount": "1"}, {"up_to": 50, "unit_amount": "2"}, {"up_to": null, "unit_amount": "3"}]),
            ),
            "invalid_field",
            "price.tiers[1].up_to",
        ),
        (tiers(json!([{"up_to": null}])), "missing_field", "price.tiers[0].unit_amount"),
        (tiers(json!([7])), "invalid_field", "price.tiers[0]"),
        (with_minimum(usage(json!({"model": "per_unit", "unit_amount": "1"})), json!("x")), "invalid_field", "minimum"),
        (
            with_minimum(usage(json!({"model": "per_unit", "unit_amount": "1"})), json!("-5")),
            "invalid_field",
            "minimum",
        ),
    ];
    for (body, code, field) in cases {
        let r = c.post(&path, &body);
        r.assert_error(400, code, Some(field));
    }
    let r = c.get(&format!("/v1/items?customer_id={}", s.customer));
    assert_eq!(r.body["data"], json!([]), "no refused item was kept");
    // The customer on the path must exist.
    let r = c.post(
        "/v1/customers/cus_00000000000000000000000000/items",
        &usage(json!({"model": "per_unit", "unit_amount": "1"})),
    );
    assert_eq!((r.status, r.code()), (404, "unknown_customer"), "{}", r.text);
}
