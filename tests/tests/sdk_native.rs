//! The native Rust client (`edgemeter_sdk::native`) through its public API against a real
//! `wrangler dev`: tracking is counted exactly, directly and through a flaky proxy that
//! fails, throttles and drops connections; invalid events fail locally with the server's
//! codes; and the typed API client drives the seed flow end to end, and a contract from
//! draft to acceptance.

use edgemeter_sdk::native::{
    codes, Aggregation, Api, ContractCustomer, ContractFilter, ContractInput, ContractStatus, CustomerInput, Edgemeter,
    Error, Event, InvoiceFilter, InvoiceStatus, ItemInput, ItemKind, ListParams, MetricInput, Options, Price, Quantity,
    RejectionFilter, Schedule, Tier, TokenInput, VoidUsage,
};
use edgemeter_tests::*;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One server for this file's tests; each makes its own customers and metrics.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start("sdk-native"))
}

/// A sum metric on a fresh event name: `(code, event_name)`.
fn sum_metric(admin: &Client) -> (String, String) {
    let name = event_name("native");
    (admin.metric("native_sum", &name, "sum", json!({})), name)
}

/// Tenths as the API's decimal text: 855 → "85.5", 850 → "85".
fn tenths(t: u64) -> String {
    if t.is_multiple_of(10) {
        (t / 10).to_string()
    } else {
        format!("{}.{}", t / 10, t % 10)
    }
}

/// Errors passed to `on_error`, collected.
fn collector() -> (Arc<Mutex<Vec<Error>>>, impl Fn(&Error) + Send + Sync + 'static) {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    (errors, move |e: &Error| sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_for_four_customers_are_counted_exactly() {
    let admin = server().client();
    let (metric, name) = sum_metric(&admin);
    let customers: Vec<String> = (0..4).map(|_| admin.customer()).collect();
    let (errors, on_error) = collector();
    // A deadline for a loaded machine: 10,000 events take ten requests.
    let options = Options { flush_timeout: Duration::from_secs(120), ..Options::new(INGEST_KEY, &server().base) };
    let meter = Edgemeter::new(options.on_error(on_error)).expect("client");

    // Decimal text and integers, sent while the background task is already delivering.
    let mut expected = vec![(0u64, 0u64); customers.len()];
    let mut keys = HashSet::new();
    for i in 0..10_000u64 {
        let c = (i % 4) as usize;
        let value = if i % 2 == 0 { Quantity::from(format!("{}.5", i % 10)) } else { Quantity::from(i % 10) };
        let key = meter.track(Event::new(&customers[c], &name).value(value).property("n", i)).expect("a valid event");
        keys.insert(key);
        expected[c].0 += (i % 10) * 10 + if i % 2 == 0 { 5 } else { 0 };
        expected[c].1 += 1;
    }
    assert_eq!(keys.len(), 10_000, "every event gets its own key");

    // The result covers the batches settled while shutdown() waited (as the JS client's);
    // any batch the task settled earlier would have reported a rejection to `on_error`.
    let result = meter.shutdown().await.expect("not refused");
    assert!(result.accepted > 0 && result.accepted <= 10_000 && result.duplicates == 0, "{result:?}");
    assert!(result.rejected.is_empty() && result.failed.is_empty(), "{result:?}");
    assert_eq!(meter.pending(), 0);
    assert!(errors.lock().unwrap().is_empty(), "{:?}", errors.lock().unwrap());
    for (c, id) in customers.iter().enumerate() {
        assert_eq!(admin.quantity(id, &metric), (tenths(expected[c].0), expected[c].1), "customer {c}");
    }

    // Returned to the caller, and not reported a second time.
    let closed = meter.track(Event::new(&customers[0], &name)).unwrap_err();
    assert_eq!(closed.code, codes::CLOSED);
    assert!(errors.lock().unwrap().is_empty(), "{:?}", errors.lock().unwrap());
}

// Configuration mistakes lose nothing: the events stay queued, nothing more is sent until
// the caller flushes again, flush() and shutdown() fail with `Refused`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_keeps_the_events_and_fails_every_flush() {
    let meter = Edgemeter::new(Options::new("ik_not_a_key", &server().base)).expect("client");
    let keys: Vec<String> = (0..3)
        .map(|_| meter.track(Event::new("cus_00000000000000000000000000", "invoices")).expect("valid locally"))
        .collect();
    let refused = meter.flush().await.expect_err("a wrong key is refused");
    assert_eq!((refused.error.code.as_str(), refused.error.status), ("unauthorized", Some(401)));
    assert_eq!((&refused.error.idempotency_keys, &refused.result.pending), (&keys, &keys));
    let url = format!("POST {}/v1/usage/ingest answered 401", server().base);
    assert!(refused.error.message.starts_with(&url) && refused.error.message.contains("api_key"), "{}", refused.error);
    assert_eq!(meter.pending(), 3, "nothing dropped");
    let again = meter.shutdown().await.expect_err("refused again");
    assert_eq!(again.error.code, "unauthorized");
    assert_eq!(meter.pending(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_ending_in_v1_keeps_the_events_and_says_to_drop_it() {
    let (errors, on_error) = collector();
    let base = format!("{}/v1", server().base);
    let meter = Edgemeter::new(Options::new(INGEST_KEY, &base).on_error(on_error)).expect("client");
    let key = meter.track(Event::new("cus_00000000000000000000000000", "invoices")).expect("valid locally");
    let refused = meter.shutdown().await.expect_err("no such route");
    assert_eq!((refused.error.code.as_str(), refused.error.status), ("not_found", Some(404)));
    assert!(refused.error.message.contains("without /v1"), "{}", refused.error);
    assert_eq!(refused.result.pending, [key]);
    let reported: Vec<_> = errors.lock().unwrap().iter().map(|e| (e.code.clone(), e.status)).collect();
    assert_eq!(reported, [("not_found".to_owned(), Some(404))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_then_fixed_sends_nothing_meanwhile_and_everything_once_after() {
    let admin = server().client();
    let (metric, name) = sum_metric(&admin);
    let id = admin.customer();
    let (url, seen) = flaky_proxy(server().base.clone(), vec!["401"], true).await;
    let (errors, on_error) = collector();
    let options = Options { flush_at: 4, flush_interval: Duration::from_millis(10), ..Options::new(INGEST_KEY, url) };
    let meter = Edgemeter::new(options.on_error(on_error)).expect("client");
    for _ in 0..4 {
        meter.track(Event::new(&id, &name).value(1)).expect("valid");
    }
    let refused = meter.flush().await.expect_err("the proxy refuses the first request");
    assert_eq!(refused.error.code, "unauthorized");
    // Tracking goes on; neither flush_at nor the timer sends while the refusal stands.
    for _ in 0..6 {
        meter.track(Event::new(&id, &name).value(1)).expect("valid");
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(meter.pending(), 10);

    let result = meter.flush().await.expect("fixed");
    assert_eq!((result.accepted, result.duplicates, result.rejected.len(), result.failed.len()), (10, 0, 0, 0));
    let sizes: Vec<usize> = seen.lock().unwrap().iter().map(|s| s.events).collect();
    assert_eq!(sizes, [4, 10], "the kept events first, in one batch with the later ones");
    meter.shutdown().await.expect("not refused");
    assert_eq!(errors.lock().unwrap().iter().map(|e| e.code.clone()).collect::<Vec<_>>(), ["unauthorized"]);
    assert_eq!(admin.quantity(&id, &metric), ("10".to_owned(), 10));
}

/// What the flaky proxy saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    step: &'static str,
    key: String,
    events: usize,
}

/// A proxy to the server that plays `script`, one step per request, then passes everything
/// through: `503`; `429` with `Retry-After: 1` (`429-hour`: 3600); `drop` forwards the request, lets the
/// server process it, then closes the connection without answering. Without
/// `forward_keys` it leaves out the `Idempotency-Key` header, as if the server's replay
/// store (eventually consistent KV) had missed it.
async fn flaky_proxy(
    upstream: String,
    script: Vec<&'static str>,
    forward_keys: bool,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (log, script, upstream) = (log.clone(), script.clone(), upstream.clone());
            tokio::spawn(async move {
                let _ = proxy_one(stream, log, script, upstream, forward_keys).await;
            });
        }
    });
    (url, seen)
}

/// One request on one connection (answers carry `connection: close`).
async fn proxy_one(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    script: Vec<&'static str>,
    upstream: String,
    forward_keys: bool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let method = line.split_whitespace().next().unwrap_or("GET").to_owned();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (mut length, mut auth, mut key) = (0usize, String::new(), String::new());
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "authorization" => auth = value,
                "idempotency-key" => key = value,
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let events = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["events"].as_array().map(Vec::len))
        .unwrap_or(0);
    let step = {
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        let step = script.get(log.len()).copied().unwrap_or("pass");
        log.push(Seen { at: Instant::now(), step, key: key.clone(), events });
        step
    };
    let answer = |status: &str, headers: &str, body: &str| {
        format!("HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
    };
    let reply = match step {
        "503" => answer("503 Service Unavailable", "content-type: text/plain\r\n", "upstream unavailable"),
        "401" => answer(
            "401 Unauthorized",
            "content-type: application/json\r\n",
            r#"{"error":{"code":"unauthorized","message":"unknown key"}}"#,
        ),
        "429" | "429-hour" => answer(
            "429 Too Many Requests",
            if step == "429" {
                "retry-after: 1\r\ncontent-type: application/json\r\n"
            } else {
                "retry-after: 3600\r\ncontent-type: application/json\r\n"
            },
            r#"{"error":{"code":"rate_limited","message":"slow down"}}"#,
        ),
        _ => {
            let forwarded = tokio::task::spawn_blocking(move || {
                let mut headers = vec![("authorization", auth.as_str())];
                if forward_keys && !key.is_empty() {
                    headers.push(("idempotency-key", key.as_str()));
                }
                let body = (!body.is_empty()).then_some(&body[..]);
                Client { base: upstream, key: None }.try_send(&method, &path, body, &headers)
            })
            .await
            .map_err(std::io::Error::other)?;
            if step == "drop" {
                // The server has processed the request; the client never hears of it.
                return Ok(());
            }
            match forwarded {
                Ok(r) => answer(&format!("{} X", r.status), "content-type: application/json\r\n", &r.text),
                Err(e) => answer("502 Bad Gateway", "content-type: text/plain\r\n", &e),
            }
        }
    };
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

// One thread: every `track()` runs before the delivery task does, so the batches are
// exactly 1,000 and 500 events, and the script's steps land on known requests.
#[tokio::test(flavor = "current_thread")]
async fn through_503s_a_429_and_a_dropped_connection_usage_is_still_exact() {
    let admin = server().client();
    let (metric, name) = sum_metric(&admin);
    let customers = [admin.customer(), admin.customer()];
    let (url, seen) = flaky_proxy(server().base.clone(), vec!["503", "503", "429", "drop"], true).await;
    let (errors, on_error) = collector();
    let options = Options {
        flush_at: 1000,
        retry_base: Duration::from_millis(20),
        ..Options::new(INGEST_KEY, url).on_error(on_error)
    };
    let meter = Edgemeter::new(options).expect("client");
    for i in 0..1500 {
        meter.track(Event::new(&customers[i % 2], &name).value(1u32)).expect("a valid event");
    }
    let result = meter.shutdown().await.expect("not refused");

    assert!(errors.lock().unwrap().is_empty(), "{:?}", errors.lock().unwrap());
    assert!(result.rejected.is_empty() && result.failed.is_empty(), "{result:?}");
    assert_eq!(result.accepted + result.duplicates, 1500, "{result:?}");
    for id in &customers {
        assert_eq!(admin.quantity(id, &metric), ("750".to_owned(), 750), "nothing lost, nothing counted twice");
    }

    let seen = seen.lock().unwrap().clone();
    let steps: Vec<&str> = seen.iter().map(|s| s.step).collect();
    assert_eq!(steps, ["503", "503", "429", "drop", "pass", "pass"]);
    assert_eq!(seen.iter().map(|s| s.events).collect::<Vec<_>>(), [1000, 1000, 1000, 1000, 1000, 500]);
    // The first batch's five attempts share one Idempotency-Key; the second has its own.
    assert_eq!(seen[..5].iter().map(|s| &s.key).collect::<HashSet<_>>().len(), 1);
    assert_eq!(seen.iter().map(|s| &s.key).collect::<HashSet<_>>().len(), 2);
    assert!(seen.iter().all(|s| uuid_like(&s.key)), "{seen:?}");
    let waited = seen[3].at - seen[2].at;
    assert!(waited >= Duration::from_millis(950), "Retry-After honoured: {waited:?}");
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_fail_locally_with_the_servers_code_and_nothing_is_queued() {
    let admin = server().client();
    let (metric, name) = sum_metric(&admin);
    let customer = admin.customer();
    let (errors, on_error) = collector();
    let options = Options { max_queue_size: 3, ..Options::new(INGEST_KEY, &server().base).on_error(on_error) };
    let meter = Edgemeter::new(options).expect("client");

    let cases = [
        (Event::new("cus 1", &name), "invalid_customer_id", "customer_id"),
        (Event::new("acme", &name), "invalid_customer_id", "customer_id"),
        (Event::new(&customer, ""), "invalid_event_name", "event_name"),
        (Event::new(&customer, &name).value("-1"), "invalid_value", "value"),
        (Event::new(&customer, &name).value("1e3x"), "invalid_value", "value"),
        (Event::new(&customer, &name).timestamp("2026-11-25T10:00:00"), "invalid_timestamp", "timestamp"),
        (Event::new(&customer, &name).timestamp(time_from_now(3_600_000)), "timestamp_in_future", "timestamp"),
        (Event::new(&customer, &name).idempotency_key("not-a-uuid"), "invalid_idempotency_key", "idempotency_key"),
    ];
    for (event, code, field) in cases {
        let e = meter.track(event.clone()).expect_err(&format!("{event:?} is invalid"));
        assert_eq!((e.code.as_str(), e.field.as_deref()), (code, Some(field)), "{event:?}: {e}");
    }
    assert_eq!(meter.pending(), 0, "nothing invalid is queued");

    // A key given in capitals comes back canonical, as the server stores it.
    let given = "0192F0C1-0000-7000-8000-00000000AB01".to_owned();
    let key = meter.track(Event::new(&customer, &name).idempotency_key(given.clone())).expect("valid");
    assert_eq!(key, given.to_lowercase());
    meter.track(Event::new(&customer, &name).value("2.5")).expect("valid");
    meter.track(Event::new(&customer, &name).value(3u8)).expect("valid");
    let full = meter.track(Event::new(&customer, &name)).unwrap_err();
    assert_eq!(full.code, codes::QUEUE_FULL);
    assert_eq!(errors.lock().unwrap().iter().map(|e| e.code.clone()).collect::<Vec<_>>(), [codes::QUEUE_FULL]);

    let result = meter.shutdown().await.expect("not refused");
    assert_eq!((result.accepted, result.rejected.len(), result.failed.len()), (3, 0, 0), "{result:?}");
    assert_eq!(admin.quantity(&customer, &metric), ("6.5".to_owned(), 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_the_server_rejects_come_back_in_the_flush_result_and_through_on_error() {
    let admin = server().client();
    let (metric, name) = sum_metric(&admin);
    let customer = admin.customer();
    let (errors, on_error) = collector();
    let meter = Edgemeter::new(Options::new(INGEST_KEY, &server().base).on_error(on_error)).expect("client");
    meter.track(Event::new(&customer, &name).value(2u32)).expect("valid");
    let unmetered = meter.track(Event::new(&customer, format!("nobody_meters_{metric}"))).expect("valid locally");
    let stranger = meter.track(Event::new("cus_00000000000000000000000000", &name)).expect("valid locally");
    let result = meter.flush().await.expect("not refused");
    assert_eq!(result.accepted, 1, "{result:?}");
    let mut got: Vec<(String, String, Option<String>)> = result
        .rejected
        .iter()
        .map(|r| (r.idempotency_key.clone(), r.error.code.clone(), r.error.field.clone()))
        .collect();
    got.sort();
    let mut want = vec![
        (unmetered, "unknown_event_name".to_owned(), Some("event_name".to_owned())),
        (stranger, "unknown_customer".to_owned(), Some("customer_id".to_owned())),
    ];
    want.sort();
    assert_eq!(got, want);
    let mut reported: Vec<(String, String, Option<String>)> = errors
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.idempotency_keys.first().cloned().unwrap_or_default(), e.code.clone(), e.field.clone()))
        .collect();
    reported.sort();
    assert_eq!(reported, want);
    assert_eq!(admin.quantity(&customer, &metric), ("2".to_owned(), 1));
    assert_eq!(meter.shutdown().await.expect("not refused"), Default::default(), "nothing left to send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_not_retried_and_its_events_are_kept() {
    let admin = server().client();
    let (_, name) = sum_metric(&admin);
    let customer = admin.customer();
    let meter = Edgemeter::new(Options::new("pk_wrong", &server().base)).expect("client");
    let key = meter.track(Event::new(&customer, &name)).expect("valid");
    let started = Instant::now();
    let refused = meter.shutdown().await.expect_err("a wrong key is refused");
    assert_eq!((refused.error.code.as_str(), refused.error.status), ("unauthorized", Some(401)));
    assert_eq!(refused.result.pending, [key]);
    assert_eq!(meter.pending(), 1, "kept");
    assert!(started.elapsed() < Duration::from_secs(5), "a 401 is not retried");
}

/// The UTC date `days` from today, `2026-11-25`.
fn date_from_today(days: i64) -> String {
    let today = now_ms().div_euclid(86_400_000) * 86_400_000;
    rfc3339(today + days * 86_400_000)[..10].to_owned()
}

// The customer's weekly periods end at midnight tonight with no grace, so the invoicing run
// below finalizes its period without touching the other tests' monthly customers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typed_api_client_drives_the_seed_flow() {
    let api = Api::new(SECRET_KEY, &server().base).expect("client");

    // 1. A customer, read back, renamed, listed.
    let schedule = Schedule {
        interval: Some("week".into()),
        anchor: Some(date_from_today(-6)),
        pre_generate_days: Some(3),
        grace_hours: Some(0),
    };
    let input = CustomerInput { invoice_schedule: Some(schedule), ..CustomerInput::new("Acme Corp", "ap@acme.test") };
    let customer = api.customers().create(&input).await.expect("create customer");
    assert!(customer.id.starts_with("cus_") && customer.currency == "USD" && !customer.auto_send, "{customer:?}");
    assert_eq!(api.customers().get(&customer.id).await.expect("get"), customer);
    let renamed = api
        .customers()
        .update(&customer.id, &CustomerInput { name: Some("Acme Inc".into()), ..CustomerInput::default() })
        .await
        .expect("update");
    assert_eq!((renamed.name.as_str(), renamed.email.as_str()), ("Acme Inc", "ap@acme.test"));
    // A second customer, so the list has a second page (and for the token below).
    let other = api.customers().create(&CustomerInput::new("Other Ltd", "ap@other.test")).await.expect("customer");
    let page = api.customers().list(&ListParams { limit: Some(1), cursor: None }).await.expect("list");
    assert_eq!(page.data.len(), 1);
    let cursor = page.next_cursor.expect("more than one customer on this server");
    let next = api.customers().list(&ListParams { limit: Some(1), cursor: Some(cursor) }).await.expect("next page");
    assert_ne!(next.data.first().map(|c| &c.id), page.data.first().map(|c| &c.id));
    let everyone = api.customers().list_all().await.expect("all customers");
    assert!(everyone.iter().any(|c| c.id == customer.id) && everyone.iter().any(|c| c.id == other.id));

    // 2. A metric; a second one with its code is a conflict.
    let name = event_name("invoices");
    let code = format!("ocr_{}", &name[9..]);
    let metric_input = MetricInput::new(&code, "Invoices processed", &name, Aggregation::Sum);
    let metric = api.metrics().create(&metric_input).await.expect("create metric");
    assert_eq!((metric.code.as_str(), metric.aggregation), (code.as_str(), Aggregation::Sum));
    assert_eq!(api.metrics().get(&code).await.expect("get metric"), metric);
    let again = api.metrics().create(&metric_input).await.unwrap_err();
    assert_eq!((again.code.as_str(), again.status), ("duplicate_metric_code", Some(409)), "{again}");
    let metrics = api.metrics().list(&ListParams { limit: Some(500), cursor: None }).await.expect("list metrics");
    assert!(metrics.data.iter().any(|m| m.code == code));
    assert!(api.metrics().list_all().await.expect("all metrics").iter().any(|m| m.code == code));

    // 3. An item, listed with the event name that feeds it.
    let price = Price::PerUnit { unit_amount: "0.05".into() };
    let item =
        api.items().create(&customer.id, &ItemInput::usage("OCR invoices", &code, price.clone())).await.expect("item");
    assert_eq!((item.kind, &item.price, item.event_name.as_deref()), (ItemKind::Usage, &price, Some(name.as_str())));
    let items = api.items().list(&customer.id).await.expect("list items");
    assert_eq!(items.data, [item]);

    // 4. Usage through the tracking client, then read and previewed.
    let meter = Edgemeter::new(Options::new(INGEST_KEY, &server().base)).expect("tracker");
    meter.track(Event::new(&customer.id, &name).value(50u32)).expect("valid");
    meter.track(Event::new(&customer.id, &name).value("35.7")).expect("valid");
    let extra = meter.track(Event::new(&customer.id, &name).value("10")).expect("valid");
    assert_eq!(meter.shutdown().await.expect("not refused").accepted, 3);
    let usage = api.usage().get(&customer.id, None).await.expect("usage");
    assert_eq!(usage.period.end, format!("{}T00:00:00Z", date_from_today(1)), "{usage:?}");
    let counted = |u: &edgemeter_sdk::native::Usage| {
        let m = u.metrics.iter().find(|m| m.code == code).expect("the metric in usage");
        (m.quantity.clone(), m.event_count)
    };
    assert_eq!(counted(&usage), ("95.7".to_owned(), 3));
    assert_eq!(usage.items[0].amount, "4.78", "95.7 × 0.05 = 4.785, half-even");

    // Retract one; it stops counting.
    let voided =
        api.usage().void(&VoidUsage { idempotency_key: extra, customer_id: customer.id.clone() }).await.expect("void");
    assert_eq!(voided.customer_id, customer.id);
    let at = usage.period.start.replace('Z', "+00:00");
    let usage = api.usage().get(&customer.id, Some(&at)).await.expect("usage at the period start");
    assert_eq!((counted(&usage), usage.items[0].amount.as_str()), (("85.7".to_owned(), 2), "4.28"));
    let upcoming = api.usage().upcoming(&customer.id).await.expect("upcoming");
    assert_eq!(
        (upcoming.status, upcoming.total.as_str(), upcoming.id.as_deref()),
        (InvoiceStatus::Upcoming, "4.28", None)
    );

    // 5. The period ends at midnight; an hour later its invoice is final and held for approval.
    let filter = InvoiceFilter { customer_id: Some(customer.id.clone()), ..InvoiceFilter::default() };
    server().run_cron_at(parse_utc(&usage.period.end) + 3_600_000);
    let invoices = api.invoices().list(&filter).await.expect("list invoices");
    let [invoice] = &invoices.data[..] else { panic!("one invoice: {invoices:?}") };
    assert_eq!(
        (invoice.status, invoice.total.as_str(), invoice.lines.len()),
        (InvoiceStatus::PendingApproval, "4.28", 1)
    );
    assert_eq!(invoice.lines[0].quantity, "85.7");
    let id = invoice.id.clone().expect("a final invoice has an id");
    assert_eq!(&api.invoices().get(&id).await.expect("get invoice"), invoice);
    let pending = InvoiceFilter { status: Some(InvoiceStatus::PendingApproval), ..filter.clone() };
    assert_eq!(api.invoices().list(&pending).await.expect("filtered").data.len(), 1);
    let account_wide = InvoiceFilter { status: Some(InvoiceStatus::PendingApproval), ..InvoiceFilter::default() };
    assert!(api
        .invoices()
        .list_all(&account_wide)
        .await
        .expect("all pending")
        .iter()
        .any(|i| i.id.as_ref() == Some(&id)));
    // Approve and void through a proxy that drops each after the server did it, and
    // withholds the Idempotency-Key (a replay-store miss): the retry's 409 is recognised
    // as the first attempt's own work.
    let (url, seen) = flaky_proxy(server().base.clone(), vec!["drop", "pass", "pass", "503", "drop"], false).await;
    let flaky = Api::with_options(&Options { retry_base: Duration::from_millis(10), ..Options::new(SECRET_KEY, url) })
        .expect("client through the proxy");
    let sent = flaky.invoices().approve(&id).await.expect("approve");
    assert_eq!(sent.status, InvoiceStatus::Sent);
    assert!(sent.sent_at.is_some());
    let void = flaky.invoices().void(&id).await.expect("void");
    assert_eq!(void.status, InvoiceStatus::Void);
    let steps: Vec<&str> = seen.lock().unwrap().iter().map(|s| s.step).collect();
    assert_eq!(steps, ["drop", "pass", "pass", "503", "drop", "pass", "pass"], "each retried, then read back");
    let twice = api.invoices().void(&id).await.unwrap_err();
    assert_eq!((twice.code.as_str(), twice.status), ("invalid_invoice_state", Some(409)), "{twice}");

    // 6. A customer token may ingest its customer's events, and only theirs. (Another
    // customer: this one's period is final now, so its events would be `period_closed`.)
    let input = TokenInput { customer_id: other.id.clone(), ttl_seconds: Some(600) };
    let token = api.tokens().create(&input).await.expect("token");
    assert!(token.token.starts_with("ct_") && token.customer_id == other.id, "{token:?}");
    let meter = Edgemeter::new(Options::new(token.token, &server().base)).expect("tracker with a token");
    meter.track(Event::new(&other.id, &name).value(1u32)).expect("valid");
    let foreign = meter.track(Event::new(&customer.id, &name)).expect("valid locally");
    let result = meter.shutdown().await.expect("not refused");
    assert_eq!(result.accepted, 1, "{result:?}");
    let rejected: Vec<(&str, &str)> =
        result.rejected.iter().map(|r| (r.idempotency_key.as_str(), r.error.code.as_str())).collect();
    assert_eq!(rejected, [(foreign.as_str(), "forbidden_customer")]);

    // Errors carry the server's code, status and field.
    let missing = api.customers().get("cus_00000000000000000000000000").await.unwrap_err();
    assert_eq!(missing.status, Some(404), "{missing}");
    let bad = api.customers().create(&CustomerInput::new("Acme", "not-an-address")).await.unwrap_err();
    assert_eq!((bad.status, bad.field.as_deref()), (Some(400), Some("email")), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_events_go_out_every_flush_interval_without_a_flush() {
    let admin = server().client();
    let (metric, name) = sum_metric(&admin);
    let customer = admin.customer();
    let options = Options { flush_interval: Duration::from_millis(200), ..Options::new(INGEST_KEY, &server().base) };
    let meter = Edgemeter::new(options).expect("client");
    meter.track(Event::new(&customer, &name).value(7u32)).expect("valid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while meter.pending() > 0 {
        assert!(Instant::now() < deadline, "the timer never sent the event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(admin.quantity(&customer, &metric), ("7".to_owned(), 1));
    assert_eq!(meter.shutdown().await.expect("not refused"), Default::default(), "nothing left to send");
}

/// An address where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    url
}

// No server needed: what happens when none answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_never_gets_through_fails_for_good_after_max_retries() {
    let (errors, on_error) = collector();
    let options = Options {
        max_retries: 2,
        retry_base: Duration::from_millis(10),
        ..Options::new(INGEST_KEY, closed_port_url()).on_error(on_error)
    };
    let meter = Edgemeter::new(options).expect("client");
    let keys: Vec<String> = (0..3)
        .map(|_| meter.track(Event::new("cus_00000000000000000000000000", "x")).expect("valid locally"))
        .collect();
    let result = meter.shutdown().await.expect("not refused");
    assert_eq!(result.failed.iter().map(|f| f.idempotency_key.clone()).collect::<Vec<_>>(), keys);
    assert!(result.failed.iter().all(|f| f.error.code == codes::NETWORK_ERROR), "{result:?}");
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "one report per failed batch: {errors:?}");
    assert_eq!((errors[0].code.as_str(), &errors[0].idempotency_keys), (codes::NETWORK_ERROR, &keys));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_longer_than_retry_max_waits_retry_max() {
    // Every try is answered 429 with "come back in an hour".
    let (url, seen) = flaky_proxy(closed_port_url(), vec!["429-hour"; 3], true).await;
    let options = Options { max_retries: 2, retry_max: Duration::from_millis(50), ..Options::new(INGEST_KEY, url) };
    let meter = Edgemeter::new(options).expect("client");
    meter.track(Event::new("cus_00000000000000000000000000", "x")).expect("valid locally");
    // Fails, rather than hangs for hours, if the wait is not capped.
    let result = tokio::time::timeout(Duration::from_secs(20), meter.shutdown())
        .await
        .expect("waited retry_max, not an hour")
        .expect("not refused");
    assert_eq!(result.failed.len(), 1, "{result:?}");
    assert_eq!(result.failed[0].error.status, Some(429), "{result:?}");
    assert_eq!(seen.lock().unwrap().len(), 3, "the first try and two retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and reads, but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let attempts = Arc::new(Mutex::new(0));
    let counted = attempts.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            *counted.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            tokio::spawn(async move {
                let mut sink = vec![0; 65536];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    let options = Options {
        max_retries: 1,
        retry_base: Duration::from_millis(10),
        timeout: Duration::from_millis(300),
        ..Options::new(INGEST_KEY, url)
    };
    let meter = Edgemeter::new(options).expect("client");
    meter.track(Event::new("cus_00000000000000000000000000", "x")).expect("valid locally");
    let started = Instant::now();
    let result = meter.shutdown().await.expect("not refused");
    assert_eq!(result.failed.len(), 1, "{result:?}");
    assert_eq!(result.failed[0].error.code, codes::TIMEOUT);
    assert_eq!(*attempts.lock().unwrap(), 2, "the first try and one retry");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_against_a_server_that_never_answers_returns_by_its_default_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = vec![0; 65536];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    let (errors, on_error) = collector();
    let meter = Edgemeter::new(Options::new(INGEST_KEY, url).on_error(on_error)).expect("client");
    let key = meter.track(Event::new("cus_00000000000000000000000000", "x")).expect("valid locally");
    let started = Instant::now();
    let result = meter.shutdown().await.expect("not refused");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(9_900) && took < Duration::from_millis(11_500), "took {took:?}");
    assert!(result.timed_out, "{result:?}");
    assert_eq!(
        result.failed.iter().map(|f| (f.idempotency_key.clone(), f.error.code.clone())).collect::<Vec<_>>(),
        [(key, codes::FLUSH_TIMEOUT.to_owned())]
    );
    let reported: Vec<_> = errors.lock().unwrap().iter().map(|e| e.code.clone()).collect();
    assert_eq!(reported, [codes::FLUSH_TIMEOUT]);
    assert_eq!(meter.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_creates_retried_through_failures_happen_once() {
    let options = |url: String| Options { retry_base: Duration::from_millis(10), ..Options::new(SECRET_KEY, url) };

    // A 503, then a create the server did but whose answer was lost: the retry, under the
    // same Idempotency-Key, is answered from the replay store.
    let (url, seen) = flaky_proxy(server().base.clone(), vec!["503", "drop"], true).await;
    let flaky = Api::with_options(&options(url)).expect("client");
    let email = format!("{}@retry.test", event_name("ap"));
    let customer = flaky.customers().create(&CustomerInput::new("Retry Ltd", &email)).await.expect("create");
    let seen: Vec<Seen> = seen.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|s| s.step).collect::<Vec<_>>(), ["503", "drop", "pass"]);
    assert_eq!(seen.iter().map(|s| &s.key).collect::<HashSet<_>>().len(), 1, "one key for all attempts");
    let api = Api::new(SECRET_KEY, &server().base).expect("client");
    let same_email: Vec<String> = api
        .customers()
        .list_all()
        .await
        .expect("list")
        .into_iter()
        .filter(|c| c.email == email)
        .map(|c| c.id)
        .collect();
    assert_eq!(same_email, std::slice::from_ref(&customer.id), "one customer, not two");

    // A metric created by an attempt whose answer was lost, with the replay store missed:
    // the retry's `duplicate_metric_code` for the same definition is a success.
    let (url, _) = flaky_proxy(server().base.clone(), vec!["drop"], false).await;
    let flaky = Api::with_options(&options(url)).expect("client");
    let name = event_name("retried");
    let input = MetricInput::new(format!("m_{}", &name[8..]), "Retried", &name, Aggregation::Count);
    let metric = flaky.metrics().create(&input).await.expect("create metric");
    assert_eq!((metric.code.as_str(), metric.aggregation), (input.code.as_str(), Aggregation::Count));
    // Another definition under that code is still a conflict.
    let other = MetricInput { name: "Not the same".into(), ..input.clone() };
    let conflict = api.metrics().create(&other).await.unwrap_err();
    assert_eq!((conflict.code.as_str(), conflict.status), ("duplicate_metric_code", Some(409)));

    // Your own key makes a create safe across restarts of your process.
    let key = format!("signup-{}", key());
    let input = CustomerInput::new("Keyed Ltd", "ap@keyed.test");
    let first = api.customers().create_with_key(&input, &key).await.expect("create");
    let again = api.customers().create_with_key(&input, &key).await.expect("replayed");
    assert_eq!(first, again);
    let reused = api.customers().create_with_key(&CustomerInput::new("Other", "x@y.test"), &key).await.unwrap_err();
    assert_eq!((reused.code.as_str(), reused.status), ("idempotency_key_reused", Some(422)), "{reused}");
    let bad = api.customers().create_with_key(&input, "").await.unwrap_err();
    assert_eq!((bad.code.as_str(), bad.field.as_deref()), (codes::INVALID_OPTION, Some("idempotency_key")));
}

/// A small but well-formed PDF.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// RFC 3339 in whole seconds, `offset_ms` from now.
fn whole_seconds_from_now(offset_ms: i64) -> String {
    format!("{}Z", &rfc3339(now_ms() + offset_ms)[..19])
}

fn by_status(status: ContractStatus) -> ContractFilter {
    ContractFilter { status: Some(status), ..ContractFilter::default() }
}

/// The `(code, status)` of a failed call.
fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> (String, Option<u16>) {
    let e = r.expect_err("an error");
    (e.code, e.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_is_drafted_checked_whole_documented_and_accepted_once() {
    let api = Api::new(SECRET_KEY, &server().base).expect("client");
    let name = event_name("pages");
    let code = format!("ctr_{}", &name[6..]);
    api.metrics().create(&MetricInput::new(&code, "OCR pages", &name, Aggregation::Sum)).await.expect("metric");
    let tier = |up_to: Option<&str>, unit: &str| Tier {
        up_to: up_to.map(str::to_owned),
        unit_amount: unit.into(),
        flat_amount: None,
    };
    let graduated = Price::Graduated { tiers: vec![tier(Some("1000"), "0.05"), tier(None, "0.03")] };
    let items =
        vec![ItemInput::usage("OCR pages", &code, graduated.clone()), ItemInput::fixed("Platform fee", "99.00")];
    let expires_at = whole_seconds_from_now(7 * 86_400_000);
    let input = ContractInput {
        expires_at: Some(Some(expires_at.clone())),
        ..ContractInput::new(ContractCustomer::new("Acme Corp", "ap@acme.test"), items)
    };

    // 1. A draft, read back.
    let draft = api.contracts().create(&input).await.expect("create contract");
    assert!(draft.id.starts_with("ctr_"), "{draft:?}");
    assert_eq!(
        (
            draft.status,
            draft.customer_id.as_deref(),
            draft.document.as_ref(),
            draft.auto_send,
            draft.expires_at.as_deref()
        ),
        (ContractStatus::Draft, None, None, false, Some(expires_at.as_str()))
    );
    assert_eq!((draft.customer.currency.as_deref(), draft.customer.external_id.as_deref()), (Some("USD"), None));
    let kinds: Vec<_> = draft.items.iter().map(|i| (i.name.as_str(), i.kind, i.metric_code.as_deref())).collect();
    assert_eq!(kinds, [("OCR pages", ItemKind::Usage, Some(code.as_str())), ("Platform fee", ItemKind::Fixed, None)]);
    let Price::Graduated { tiers } = &draft.items[0].price else { panic!("a graduated price: {draft:?}") };
    let tiers: Vec<_> = tiers.iter().map(|t| (t.up_to.as_deref(), t.unit_amount.as_str())).collect();
    assert_eq!(tiers, [(Some("1000"), "0.05"), (None, "0.03")]);
    assert_eq!(api.contracts().get(&draft.id).await.expect("get contract"), draft);

    // 2. Every problem at once, each with its field path.
    let bad_items = vec![
        ItemInput::usage("OCR pages", format!("nobody_{}", &name[6..]), graduated.clone()),
        ItemInput::usage(
            "More pages",
            &code,
            Price::Graduated { tiers: vec![tier(Some("1000"), "cheap"), tier(None, "0.03")] },
        ),
    ];
    let invalid = api
        .contracts()
        .create(&ContractInput::new(ContractCustomer::new("Acme Corp", ""), bad_items))
        .await
        .expect_err("an invalid contract");
    assert_eq!((invalid.code.as_str(), invalid.status), ("invalid_contract", Some(400)), "{invalid}");
    let mut problems: Vec<_> =
        invalid.errors.iter().map(|p| (p.field.as_deref().unwrap_or(""), p.code.as_str())).collect();
    assert_eq!(invalid.field.as_deref(), Some(problems[0].0));
    problems.sort();
    assert_eq!(
        problems,
        [
            ("customer.email", "invalid_field"),
            ("items[0].metric_code", "unknown_metric"),
            ("items[1].price.tiers[0].unit_amount", "invalid_field"),
        ]
    );

    // 3. A patch replaces what it names; the result is checked whole.
    let external_id = format!("ext_{}", &name[6..]);
    let customer = ContractCustomer {
        external_id: Some(external_id.clone()),
        ..ContractCustomer::new("Acme Inc", "ap@acme.test")
    };
    let changes = ContractInput { auto_send: Some(true), customer: Some(customer), ..ContractInput::default() };
    let patched = api.contracts().update(&draft.id, &changes).await.expect("patch");
    assert_eq!((patched.auto_send, patched.customer.name.as_str(), &patched.items), (true, "Acme Inc", &draft.items));
    let emptied =
        api.contracts().update(&draft.id, &ContractInput { items: Some(Vec::new()), ..ContractInput::default() }).await;
    let emptied = emptied.expect_err("no items");
    assert_eq!((emptied.code.as_str(), emptied.errors.len()), ("invalid_contract", 1), "{emptied}");

    // 4. A document: only a known type, read back byte for byte.
    assert_eq!(
        refused(api.contracts().upload_document(&draft.id, b"just text".to_vec(), None).await),
        ("unsupported_media_type".to_owned(), Some(415))
    );
    let with_doc = api.contracts().upload_document(&draft.id, PDF, Some("msa.pdf")).await.expect("upload");
    let doc = with_doc.document.expect("a document");
    assert_eq!(
        (doc.name.as_str(), doc.content_type.as_str(), doc.size),
        ("msa.pdf", "application/pdf", PDF.len() as u64)
    );
    assert!(doc.sha256.len() == 64 && doc.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{doc:?}");
    let file = api.contracts().download_document(&draft.id).await.expect("download");
    assert_eq!(
        (file.content_type.as_str(), file.filename.as_deref(), &file.bytes[..]),
        ("application/pdf", Some("msa.pdf"), PDF)
    );

    // 5. Accepted: the customer exists, with the contract's id and items.
    let accepted = api.contracts().accept(&draft.id).await.expect("accept");
    let (contract, customer) = (accepted.contract, accepted.customer);
    assert_eq!(
        (contract.status, contract.customer_id.as_deref()),
        (ContractStatus::Accepted, Some(customer.id.as_str()))
    );
    assert!(contract.accepted_at.is_some());
    assert_eq!(
        (customer.name.as_str(), customer.external_id.as_deref(), customer.auto_send, customer.contract_id.as_deref()),
        ("Acme Inc", Some(external_id.as_str()), true, Some(draft.id.as_str()))
    );
    assert_eq!(api.customers().get(&customer.id).await.expect("customer"), customer);
    let items = api.items().list(&customer.id).await.expect("items").data;
    let items: Vec<_> = items.iter().map(|i| (i.name.as_str(), i.kind, i.metric_code.as_deref())).collect();
    assert_eq!(items, [("OCR pages", ItemKind::Usage, Some(code.as_str())), ("Platform fee", ItemKind::Fixed, None)]);

    // 6. Only once.
    let not_draft = ("contract_not_draft".to_owned(), Some(409));
    assert_eq!(refused(api.contracts().accept(&draft.id).await), not_draft);
    assert_eq!(refused(api.contracts().update(&draft.id, &changes).await), not_draft);
    assert_eq!(refused(api.contracts().upload_document(&draft.id, PDF, None).await), not_draft);
    assert_eq!(refused(api.contracts().cancel(&draft.id).await), not_draft);

    // 7. Another, canceled; it has no document.
    let other = api.contracts().create(&input).await.expect("second contract");
    assert_eq!(refused(api.contracts().download_document(&other.id).await), ("not_found".to_owned(), Some(404)));
    let canceled = api.contracts().cancel(&other.id).await.expect("cancel");
    assert_eq!(canceled.status, ContractStatus::Canceled);
    assert!(canceled.canceled_at.is_some());

    // 8. A draft past its expiry is `expired` and cannot be accepted; clearing
    //    `expires_at` makes it a draft again, and accepting it through a proxy that
    //    drops the first answer (and withholds the Idempotency-Key, a replay-store miss)
    //    still returns the contract and its customer: the retry's 409 is its own work.
    let soon = ContractInput { expires_at: Some(Some(whole_seconds_from_now(3_000))), ..input.clone() };
    let soon = api.contracts().create(&soon).await.expect("a contract expiring soon");
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.contracts().get(&soon.id).await.expect("get").status != ContractStatus::Expired {
        assert!(Instant::now() < deadline, "the contract never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(refused(api.contracts().accept(&soon.id).await), ("contract_expired".to_owned(), Some(409)));
    let expired = api.contracts().list_all(&by_status(ContractStatus::Expired)).await.expect("expired");
    assert!(expired.iter().any(|c| c.id == soon.id));
    let clear = ContractInput { expires_at: Some(None), ..ContractInput::default() };
    let renewed = api.contracts().update(&soon.id, &clear).await.expect("clear expires_at");
    assert_eq!((renewed.status, renewed.expires_at), (ContractStatus::Draft, None));
    let (url, seen) = flaky_proxy(server().base.clone(), vec!["drop"], false).await;
    let flaky = Api::with_options(&Options { retry_base: Duration::from_millis(10), ..Options::new(SECRET_KEY, url) })
        .expect("client through the proxy");
    let accepted = flaky.contracts().accept(&soon.id).await.expect("accept, retried");
    assert_eq!(accepted.contract.status, ContractStatus::Accepted);
    assert_eq!(accepted.customer.contract_id.as_deref(), Some(soon.id.as_str()));
    let steps: Vec<&str> = seen.lock().unwrap().iter().map(|s| s.step).collect();
    assert_eq!(steps, ["drop", "pass", "pass", "pass"], "accept, accept again (409), the contract, its customer");

    // 9. Lists by status, oldest first.
    let by = by_status;
    let ids = |list: Vec<edgemeter_sdk::native::Contract>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let accepted = ids(api.contracts().list_all(&by(ContractStatus::Accepted)).await.expect("accepted"));
    let canceled = ids(api.contracts().list_all(&by(ContractStatus::Canceled)).await.expect("canceled"));
    let drafts = ids(api.contracts().list_all(&by(ContractStatus::Draft)).await.expect("drafts"));
    assert!(accepted.contains(&draft.id) && !accepted.contains(&other.id));
    assert!(canceled.contains(&other.id) && !canceled.contains(&draft.id));
    assert!(!drafts.contains(&draft.id) && !drafts.contains(&other.id));
    let page = api
        .contracts()
        .list(&ContractFilter { status: Some(ContractStatus::Canceled), limit: Some(1), cursor: None })
        .await
        .expect("one page");
    assert!(page.data.len() == 1 && page.data[0].status == ContractStatus::Canceled, "{page:?}");
    let everything = ids(api.contracts().list_all(&ContractFilter::default()).await.expect("all"));
    let at = |id: &String| everything.iter().position(|c| c == id);
    assert!(at(&draft.id) < at(&other.id), "oldest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_by_day_and_the_logs_of_refused_events() {
    let api = Api::new(SECRET_KEY, &server().base).expect("client");
    let admin = server().client();
    let (code, name) = sum_metric(&admin);
    let customer = admin.customer();
    let price = Price::PerUnit { unit_amount: "0.01".into() };
    api.items().create(&customer, &ItemInput::usage("Pages", &code, price)).await.expect("item");
    let meter = Edgemeter::new(Options::new(INGEST_KEY, &server().base)).expect("tracker");
    meter.track(Event::new(&customer, &name).value("12")).expect("valid");
    meter.track(Event::new(&customer, &name).value("0.5")).expect("valid");
    assert_eq!(meter.shutdown().await.expect("not refused").accepted, 2);

    // One point per UTC day of the period, today's with both events.
    let daily = api.usage().daily(&customer, None).await.expect("daily usage");
    assert_eq!(daily.customer_id, customer);
    let series = daily.metrics.iter().find(|m| m.code == code).expect("the metric's series");
    assert_eq!((series.event_name.as_deref(), series.aggregation), (Some(name.as_str()), Aggregation::Sum));
    let start = parse_utc(&daily.period.start);
    let days = (parse_utc(&daily.period.end) - start) / 86_400_000;
    let dates: Vec<String> = (0..days).map(|i| rfc3339(start + i * 86_400_000)[..10].to_owned()).collect();
    assert_eq!(series.days.iter().map(|d| d.date.clone()).collect::<Vec<_>>(), dates);
    let today = rfc3339(now_ms())[..10].to_owned();
    for d in &series.days {
        let expected = if d.date == today { ("12.5", 2) } else { ("0", 0) };
        assert_eq!((d.quantity.as_str(), d.event_count), expected, "{}", d.date);
    }
    assert_eq!(api.usage().daily(&customer, Some(&daily.period.start)).await.expect("at the start"), daily);

    // Refused events: one in the future for this customer, one for nobody.
    let future = json!({"idempotency_key": key(), "customer_id": customer, "event_name": name, "value": 1,
                        "timestamp": whole_seconds_from_now(3_600_000)});
    let stranger =
        json!({"idempotency_key": key(), "customer_id": "cus_00000000000000000000000000", "event_name": name});
    let r = admin.ingest_batch(&[future.clone(), stranger.clone()]);
    assert_eq!((r.status, r.counts().2), (200, 2), "{}", r.text);

    let mine = api
        .rejections()
        .list(&RejectionFilter { customer_id: Some(customer.clone()), ..RejectionFilter::default() })
        .await
        .expect("the customer's rejections");
    let [rejected] = &mine.data[..] else { panic!("one rejection: {mine:?}") };
    assert_eq!(
        (
            rejected.idempotency_key.as_deref(),
            rejected.customer_id.as_deref(),
            rejected.event_name.as_deref(),
            rejected.code.as_str(),
            rejected.field.as_deref(),
            &rejected.event
        ),
        (
            future["idempotency_key"].as_str(),
            Some(customer.as_str()),
            Some(name.as_str()),
            "timestamp_in_future",
            Some("timestamp"),
            &future
        )
    );
    assert!(parse_utc(&rejected.received_at) > 0 && mine.next_cursor.is_none());
    let account = api
        .rejections()
        .list(&RejectionFilter { limit: Some(100), ..RejectionFilter::default() })
        .await
        .expect("the account's rejections");
    let theirs = account.data.iter().find(|r| r.idempotency_key.as_deref() == stranger["idempotency_key"].as_str());
    let theirs = theirs.expect("the stranger's event in the account's log");
    // (The server keeps this one's event as it read it, with `value` and `properties`
    // filled in, rather than as sent; its identifying fields are the ones sent.)
    let sent =
        |e: &serde_json::Value| [e["idempotency_key"].clone(), e["customer_id"].clone(), e["event_name"].clone()];
    assert_eq!((theirs.code.as_str(), sent(&theirs.event)), ("unknown_customer", sent(&stranger)), "{theirs:?}");
}
