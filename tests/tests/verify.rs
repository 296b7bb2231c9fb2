//! Checking an invoice end to end (API.md, "Checking an invoice") against a real
//! `wrangler dev`: a final invoice made by the cron run, its events read page by page,
//! verified in Rust with the native SDK (nothing differs; one changed event names its
//! lines); the events stay the invoice's after late events and voids elsewhere; a
//! simulation under the same items bills the same lines and changes nothing; and the
//! SDK's local quotes equal the server's lines for random prices and quantities.

use edgemeter_sdk::native::{self, Api, ListParams, Price, Tier};
use edgemeter_tests::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

const H: i64 = 3_600_000;

/// One server for this file: each test makes its own customers.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    // `make dev`'s secret key too: the README's example uses it.
    let keys = [("EDGEMETER_SECRET_KEYS", format!("{SECRET_KEY},sk_test_local"))];
    SERVER.get_or_init(|| Server::start_with(&fresh_state_dir("verify"), &[(keys[0].0, keys[0].1.as_str())]))
}

/// The README's Rust example ("Checking an invoice"), statement for statement (held to
/// it by `the_readme_rust_example_is_this_one`), with the server's address for `make
/// dev`'s.
async fn readme_example(
    invoice_id: &str,
    base: &str,
) -> Result<(Vec<native::Difference>, native::Quote), native::Error> {
    let api = Api::new("sk_test_local", base)?;
    let invoice = api.invoices().get(invoice_id).await?;
    let events = api.invoices().events_all(invoice_id).await?;
    let items = api.items().list(&invoice.customer_id).await?.data;
    let metrics = api.metrics().list_all().await?;
    let differences = native::verify_invoice(&invoice, &events, &items, &metrics)?; // empty: it checks out
    let quote = native::price(&Price::PerUnit { unit_amount: "0.05".into() }, "85.7")?; // quote.amount == "4.28"
    Ok((differences, quote))
}

/// A block's statements: no comments, blank lines or `use` lines, spaces collapsed.
fn statements(code: &str) -> Vec<String> {
    code.lines()
        .map(|l| l.split("//").next().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with("use "))
        .collect()
}

#[test]
fn the_readme_rust_example_is_this_one() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = &readme[readme.find("### Checking an invoice").expect("the README's section")..];
    let start = section.find("```rust\n").expect("a Rust example") + "```rust\n".len();
    let block = &section[start..start + section[start..].find("```").expect("its end")];
    let here = include_str!("verify.rs");
    let body_start = here.find("    let api = Api::new(\"sk_test_local\", base)?;").expect("the example here");
    let body = &here[body_start..body_start + here[body_start..].find("    Ok((differences, quote))").unwrap()];
    let readme_lines = statements(&block.replace("\"http://127.0.0.1:8787\"", "base"));
    let ours: Vec<String> = statements(body).into_iter().map(|l| l.replace("native::", "")).collect();
    assert_eq!(readme_lines, ours);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// A customer billed for calls (a sum), calls from the EU (a filtered count), distinct
/// users (a unique count) and a platform fee, with events of every kind in its current
/// period: some with their own timestamps, some with the server's, string and number
/// properties (`1.5e3` keeps its text), and one voided.
struct Billed {
    c: Client,
    customer: String,
    item_specs: Vec<Value>,
    /// The keys the invoice counts, and the voided one.
    counted: Vec<String>,
    voided: String,
    calls: String,
    end: i64,
}

fn billed() -> Billed {
    let c = server().client();
    let r = c.post("/v1/customers", &json!({"name": "Checker", "email": "ap@checker.test"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let customer = r.body["id"].as_str().expect("id").to_owned();
    let calls = event_name("calls");
    let logins = event_name("logins");
    let sum = c.metric("calls", &calls, "sum", json!({}));
    let eu = c.metric("eu_calls", &calls, "count", json!({"filters": {"region": ["eu"]}}));
    let users = c.metric("users", &logins, "unique_count", json!({"field": "user"}));
    let item_specs = vec![
        json!({"name": "Calls", "kind": "usage", "metric_code": sum, "price": {"model": "per_unit", "unit_amount": "0.0025"}}),
        json!({"name": "EU calls", "kind": "usage", "metric_code": eu, "price": {"model": "graduated", "tiers": [
            {"up_to": 2, "unit_amount": "1.10", "flat_amount": "0.50"}, {"up_to": null, "unit_amount": "0.333"}]}}),
        json!({"name": "Users", "kind": "usage", "metric_code": users, "minimum": "5.00", "price": {"model": "volume", "tiers": [
            {"up_to": 10, "unit_amount": "0.75"}, {"up_to": null, "unit_amount": "0.5"}]}}),
        json!({"name": "Platform", "kind": "fixed", "price": {"model": "fixed", "amount": "10.00"}}),
    ];
    for spec in &item_specs {
        let r = c.post(&format!("/v1/customers/{customer}/items"), spec);
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let mut events = Vec::new();
    for (i, (value, region)) in
        [("12.5", "eu"), ("3", "us"), ("0.125", "eu"), ("7", "eu"), ("1e2", "us")].iter().enumerate()
    {
        let mut e = event(&customer, &calls, json!(value));
        e["properties"] = json!({"region": region, "attempt": i});
        if i % 2 == 0 {
            e["timestamp"] = json!(time_from_now(-(i as i64 + 1) * 60_000));
        }
        events.push(e);
    }
    for user in [json!("ada"), json!("bob"), json!("ada"), json!(1.5e3)] {
        let mut e = event(&customer, &logins, json!(1));
        e["properties"] = json!({"user": user});
        events.push(e);
    }
    // A number property sent with an exponent: its text is what its content hash covers.
    let raw = format!(
        r#"{{"events":[{}, {{"idempotency_key":"{}","customer_id":"{customer}","event_name":"{logins}","properties":{{"user":1.5e3}}}}]}}"#,
        events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(","),
        key()
    );
    let r = c.post_raw("/v1/usage/ingest", raw.as_bytes(), &[]);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["accepted"], 10, "{:?}", r.body);
    let mut counted: Vec<String> = r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| x["idempotency_key"].as_str().unwrap().to_owned())
        .collect();
    let voided = counted.remove(1);
    let v = c.post("/v1/usage/void", &json!({"idempotency_key": voided, "customer_id": customer}));
    assert_eq!(v.status, 200, "{:?}", v.body);
    counted.sort();
    let usage = c.get(&format!("/v1/customers/{customer}/usage"));
    let end = parse_utc(usage.body["period"]["end"].as_str().expect("end"));
    Billed { c, customer, item_specs, counted, voided, calls, end }
}

fn the_invoice(b: &Billed) -> Value {
    let r = b.c.get(&format!("/v1/invoices?customer_id={}", b.customer));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let all = r.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 1, "{all:#?}");
    all[0].clone()
}

/// Every event of an invoice, `limit` at a time, as the raw pages' events.
fn all_events(c: &Client, id: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = c.get(&format!("/v1/invoices/{id}/events?limit={limit}&cursor={cursor}"));
        assert_eq!(r.status, 200, "{:?}", r.body);
        let data = r.body["data"].as_array().expect("data");
        assert!(data.len() <= limit);
        out.extend(data.iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return out,
        }
    }
}

fn line<'a>(inv: &'a Value, name: &str) -> &'a Value {
    inv["lines"].as_array().and_then(|l| l.iter().find(|x| x["name"] == name)).expect("a line with that name")
}

#[test]
fn a_final_invoice_checks_out_from_its_events_and_a_changed_event_is_named() {
    let b = billed();
    let rt = runtime();
    let api = Api::new(SECRET_KEY, &server().base).expect("a client");
    let check = |id: &str| {
        rt.block_on(async {
            let invoice = api.invoices().get(id).await.expect("the invoice");
            let events = api.invoices().events_all(id).await.expect("its events");
            let items = api.items().list(&b.customer).await.expect("items").data;
            let metrics = api.metrics().list_all().await.expect("metrics");
            native::verify_invoice(&invoice, &events, &items, &metrics).expect("verifies")
        })
    };
    // A draft carries the digests of the events counted so far, and checks out too.
    server().run_cron_at(b.end - 3 * 24 * H + H);
    let draft = the_invoice(&b);
    assert_eq!(draft["status"], "draft");
    assert!(draft["usage_digest"].is_string(), "{draft:#?}");
    assert_eq!(check(draft["id"].as_str().expect("id")), vec![]);

    server().run_cron_at(b.end + 25 * H);
    let inv = the_invoice(&b);
    assert_eq!(inv["status"], "pending_approval");
    let id = inv["id"].as_str().expect("id").to_owned();
    for name in ["Calls", "EU calls", "Users"] {
        let digest = line(&inv, name)["usage"]["events_digest"].as_str().expect("a digest per usage line");
        assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "{digest}");
    }
    assert!(line(&inv, "Platform")["usage"].is_null());
    assert!(inv["usage_digest"].as_str().is_some_and(|d| d.len() == 64));

    // The events endpoint: exactly the counted events, each once, in the same order
    // (the order they were stored in) whatever the page size.
    let listed = all_events(&b.c, &id, 500);
    let mut keys: Vec<&str> = listed.iter().map(|e| e["idempotency_key"].as_str().unwrap()).collect();
    keys.sort_unstable();
    let mut counted: Vec<&str> = b.counted.iter().map(String::as_str).collect();
    counted.sort_unstable();
    assert_eq!(keys, counted);
    for limit in [1, 3] {
        assert_eq!(all_events(&b.c, &id, limit), listed, "pages of {limit}");
    }
    let e = &listed[0];
    for field in ["event_name", "value", "timestamp", "timestamp_given", "properties", "content_hash"] {
        assert!(!e[field].is_null(), "{field} in {e}");
    }
    b.c.get(&format!("/v1/invoices/{id}/events?limit=0")).assert_error(400, "invalid_field", Some("limit"));
    b.c.get("/v1/invoices/inv_00000000000000000000000000/events").assert_error(404, "not_found", None);
    // A cursor is a position the endpoint handed out; one it never hands out reads from
    // the start of the stored events (after any events compaction kept by key before
    // chunks, whose cursors were keys), never an error.
    let page =
        |cursor: &str| b.c.get(&format!("/v1/invoices/{id}/events?limit=500&cursor={cursor}")).body["data"].clone();
    assert_eq!(page("0"), json!(listed));
    assert_eq!(page("zzz"), json!(listed));
    assert_eq!(page("c:x.y"), json!(listed));

    // Verified in Rust, through the native SDK's client and its verify_invoice.
    assert_eq!(check(&id), vec![]);
    let (invoice, events, items, metrics) = rt.block_on(async {
        let invoice = api.invoices().get(&id).await.expect("the invoice");
        let events = api.invoices().events_all(&id).await.expect("its events");
        let items = api.items().list(&b.customer).await.expect("items").data;
        let metrics = api.metrics().list_all().await.expect("metrics");
        (invoice, events, items, metrics)
    });
    assert!(events.iter().any(|e| e.properties.get("user").is_some_and(|u| u.as_text() == "1.5e3")));
    assert_eq!(native::verify_invoice(&invoice, &events, &items, &metrics).expect("verifies"), vec![]);
    let (differences, quote) = rt.block_on(readme_example(&id, &server().base)).expect("the README's example runs");
    assert_eq!((differences, quote.amount.as_str()), (vec![], "4.28"));
    let page = rt.block_on(api.invoices().events(&id, &ListParams { limit: Some(2), cursor: None })).expect("a page");
    assert_eq!((page.data.len(), page.next_cursor.is_some()), (2, true));

    // One EU call's value changed: the event is named, and every line that counted it.
    let mut changed = events.clone();
    let i = changed
        .iter()
        .position(|e| e.event_name == b.calls && e.properties.get("region").is_some_and(|r| r.as_text() == "eu"))
        .expect("an EU call");
    changed[i].value += rust_decimal::Decimal::ONE;
    let diffs = native::verify_invoice(&invoice, &changed, &items, &metrics).expect("verifies");
    let named = |item: &str, field: &str| diffs.iter().any(|d| d.name.as_deref() == Some(item) && d.field == field);
    assert!(
        diffs
            .iter()
            .any(|d| d.idempotency_key.as_deref() == Some(changed[i].idempotency_key.as_str())
                && d.field == "content_hash"),
        "{diffs:#?}"
    );
    assert!(
        named("Calls", "quantity") && named("Calls", "usage.events_digest") && named("EU calls", "usage.events_digest"),
        "{diffs:#?}"
    );
    assert!(!diffs.iter().any(|d| d.name.as_deref() == Some("Users")), "{diffs:#?}");
    assert!(diffs.iter().any(|d| d.field == "usage_digest"), "{diffs:#?}");

    // A late event and a void for the final period are refused, and a later run changes
    // nothing: the invoice's events stay (late events and voids in other periods are the
    // core property test's, `core/tests/invoice_check_props.rs`: this clock cannot reach
    // the next period).
    b.c.ingest(&event(&b.customer, &b.calls, json!(5))).assert_error(400, "period_closed", Some("timestamp"));
    let refused = b.c.post("/v1/usage/void", &json!({"idempotency_key": b.counted[0], "customer_id": b.customer}));
    assert_eq!(refused.code(), "period_closed", "{:?}", refused.body);
    server().run_cron_at(b.end + 26 * H);
    assert_eq!(all_events(&b.c, &id, 4), listed, "the same events after later changes");

    // A simulation under the same items bills the same lines, and changes nothing.
    let before = (the_invoice(&b), b.c.get(&format!("/v1/customers/{}/usage", b.customer)).body);
    let sim = b.c.post(
        &format!("/v1/customers/{}/simulate", b.customer),
        &json!({"items": b.item_specs, "period_start": inv["period_start"]}),
    );
    assert_eq!(sim.status, 200, "{:?}", sim.body);
    assert_eq!(sim.body["status"], "simulated");
    assert_eq!((&sim.body["total"], &sim.body["usage_digest"]), (&inv["total"], &inv["usage_digest"]));
    for (s, real) in sim.body["lines"].as_array().unwrap().iter().zip(inv["lines"].as_array().unwrap()) {
        let strip = |l: &Value| {
            let mut l = l.clone();
            l.as_object_mut().unwrap().remove("item_id");
            l
        };
        assert_eq!(strip(s), strip(real));
    }
    assert_eq!(before, (the_invoice(&b), b.c.get(&format!("/v1/customers/{}/usage", b.customer)).body));
    // Another price for the same usage; bad item specs are refused as item creation would.
    let other = b.c.post(
        &format!("/v1/customers/{}/simulate", b.customer),
        &json!({"items": [{"name": "Calls", "kind": "usage", "metric_code": line(&inv, "Calls")["usage"]["metric_code"],
                "price": {"model": "per_unit", "unit_amount": "1"}}], "period_start": inv["period_start"]}),
    );
    let quantity = line(&inv, "Calls")["quantity"].as_str().expect("a quantity");
    let quote = native::price(&Price::PerUnit { unit_amount: "1".into() }, quantity).expect("a quote");
    assert_eq!(other.body["lines"][0]["amount"], quote.amount.as_str());
    b.c.post(
        &format!("/v1/customers/{}/simulate", b.customer),
        &json!({"items": [{"name": "x", "kind": "usage", "metric_code": "calls", "price": {"model": "per_unit", "unit_amount": "-1"}}]}),
    )
    .assert_error(400, "invalid_field", Some("items[0].price.unit_amount"));
    b.c.post("/v1/customers/cus_00000000000000000000000000/simulate", &json!({"items": b.item_specs})).assert_error(
        404,
        "unknown_customer",
        None,
    );
    let _ = &b.voided;
}

/// A small seeded generator (xorshift64*), so a failure can be replayed with its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A decimal with up to `scale` places below `10^digits`.
    fn decimal(&mut self, digits: u32, scale: u32) -> String {
        let s = self.below(u64::from(scale) + 1) as u32;
        let n = self.below(10u64.pow(digits + s));
        let d = rust_decimal::Decimal::new(n as i64, s).normalize();
        d.to_string()
    }
}

fn random_price(r: &mut Rng) -> Price {
    let tiers = |r: &mut Rng| {
        let n = 1 + r.below(4);
        let mut up = 0u64;
        (0..n)
            .map(|i| {
                up += 1 + r.below(500);
                Tier {
                    up_to: (i + 1 < n).then(|| up.to_string()),
                    unit_amount: r.decimal(2, 6),
                    flat_amount: (r.below(2) == 0).then(|| r.decimal(2, 2)),
                }
            })
            .collect()
    };
    match r.below(4) {
        0 => Price::PerUnit { unit_amount: r.decimal(3, 12) },
        1 => Price::Package { package_size: 1 + r.below(1000), package_amount: r.decimal(3, 4) },
        2 => Price::Graduated { tiers: tiers(r) },
        _ => Price::Volume { tiers: tiers(r) },
    }
}

/// The property: for random prices, quantities, minimums and currencies, the SDK's local
/// quote is the server's line to the last field. Each round is one customer with five
/// metrics of random quantities and one simulation pricing 100 random items over them.
#[test]
fn local_quotes_equal_the_servers_lines_for_random_prices_and_quantities() {
    let seed =
        std::env::var("EDGEMETER_QUOTE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| now_ms() as u64 | 1);
    eprintln!("quote property seed: {seed} (EDGEMETER_QUOTE_SEED to replay)");
    let mut r = Rng(seed);
    let c = server().client();
    for currency in ["USD", "JPY", "BHD"] {
        // A yearly schedule: the other test's cron run finalizes no period of this customer.
        let made = c.post(
            "/v1/customers",
            &json!({"name": "Quotes", "email": "q@quotes.test", "currency": currency, "invoice_schedule": {"interval": "year"}}),
        );
        assert_eq!(made.status, 201, "{:?}", made.body);
        let customer = made.body["id"].as_str().unwrap().to_owned();
        let mut metrics = Vec::new();
        let mut events = Vec::new();
        for _ in 0..5 {
            let name = event_name("q");
            let code = c.metric("q", &name, "sum", json!({}));
            let quantity = match r.below(5) {
                0 => "0".to_owned(),
                _ => r.decimal(6, 9),
            };
            events.push(event(&customer, &name, json!(quantity)));
            metrics.push((code, quantity));
        }
        let sent = c.ingest_batch(&events);
        assert_eq!((sent.status, &sent.body["accepted"]), (200, &json!(5)), "{:?}", sent.body);
        let cases: Vec<(usize, Price, Option<String>)> = (0..100)
            .map(|_| (r.below(5) as usize, random_price(&mut r), (r.below(3) == 0).then(|| r.decimal(3, 2))))
            .collect();
        let items: Vec<Value> = cases
            .iter()
            .enumerate()
            .map(|(i, (m, price, minimum))| {
                let mut item =
                    json!({"name": format!("q{i}"), "kind": "usage", "metric_code": metrics[*m].0, "price": price});
                if let Some(min) = minimum {
                    item["minimum"] = json!(min);
                }
                item
            })
            .collect();
        let sim = c.post(&format!("/v1/customers/{customer}/simulate"), &json!({"items": items}));
        assert_eq!(sim.status, 200, "{:?}", sim.body);
        for ((m, price, minimum), line) in cases.iter().zip(sim.body["lines"].as_array().expect("lines")) {
            let quantity = &metrics[*m].1;
            let local = native::price_in(price, quantity, currency, minimum.as_deref()).expect("a quote");
            let server: native::Quote = serde_json::from_value(line.clone()).expect("a line reads as a quote");
            assert_eq!(local, server, "seed {seed}: {price:?} × {quantity} {currency}, minimum {minimum:?}");
        }
    }
}
