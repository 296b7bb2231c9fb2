//! `make bench-balance`: the live balance's latency beside the usage endpoint's, in the
//! same run, on one `wrangler dev` (BENCHMARKS.md "The live balance").
//!
//! One customer with two items, a credit grant and `BALANCE_EVENTS` events (default
//! 2,000) in its current period; then `BALANCE_ROUNDS` rounds (default 300), each one
//! `GET …/usage` and one `GET …/balance`, alternating which goes first, so both see the
//! same server, the same warm caches and the same noise. Reports each one's median, p90
//! and Durable Object calls per request (from the server's request log lines), and the
//! ratio of the medians: `usage` is the reference.

use edgemeter_tests::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn size(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let (events, rounds) = (size("BALANCE_EVENTS", 2_000), size("BALANCE_ROUNDS", 300));
    let server = Server::start("bench-balance");
    let c = server.client();
    let customer = c.customer();
    let name = event_name("bench");
    let metric = c.metric("bench", &name, "sum", json!({}));
    for item in [
        json!({"name": "Calls", "kind": "usage", "metric_code": metric, "price": {"model": "per_unit", "unit_amount": "0.01"}}),
        json!({"name": "Platform", "kind": "fixed", "price": {"model": "fixed", "amount": "10.00"}}),
    ] {
        assert_eq!(c.post(&format!("/v1/customers/{customer}/items"), &item).status, 201);
    }
    let r = c.post(&format!("/v1/customers/{customer}/credit_grants"), &json!({"name": "Credit", "amount": "500.00"}));
    assert_eq!(r.status, 201, "{}", r.text);
    for chunk in (0..events).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<Value> = chunk.iter().map(|i| event(&customer, &name, json!(i % 7 + 1))).collect();
        assert_eq!(c.ingest_batch(&batch).status, 200);
    }
    let usage = format!("/v1/customers/{customer}/usage");
    let balance = format!("/v1/customers/{customer}/balance");
    let (mut u, mut b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let timed = |path: &str, into: &mut Vec<Duration>| {
        let t = Instant::now();
        let r = c.get(path);
        into.push(t.elapsed());
        assert_eq!(r.status, 200, "{}", r.text);
    };
    // Warm both paths first (isolate caches, the object's book in memory).
    for _ in 0..10 {
        timed(&usage, &mut Vec::new());
        timed(&balance, &mut Vec::new());
    }
    for round in 0..rounds {
        if round % 2 == 0 {
            timed(&usage, &mut u);
            timed(&balance, &mut b);
        } else {
            timed(&balance, &mut b);
            timed(&usage, &mut u);
        }
    }
    let calls = object_calls(&server);
    u.sort();
    b.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let last = c.get(&balance).body;
    println!("{events} events in the period, {rounds} rounds, wrangler dev on this machine");
    println!("| endpoint | median ms | p90 ms | object calls per request | ratio to usage (median) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, v, route) in [
        ("GET …/usage (reference)", &u, "/v1/customers/{id}/usage"),
        ("GET …/balance", &b, "/v1/customers/{id}/balance"),
    ] {
        let (n, total) = calls.get(route).copied().unwrap_or((1, 0));
        println!(
            "| {name} | {:.2} | {:.2} | {:.1} | {:.2}x |",
            ms(percentile(v, 0.5)),
            ms(percentile(v, 0.9)),
            total as f64 / n as f64,
            ms(percentile(v, 0.5)) / ms(percentile(&u, 0.5)),
        );
    }
    println!("balance: {}", last["credits"]);
}

/// Per route template: how many requests the server logged, and their object calls.
fn object_calls(server: &Server) -> std::collections::HashMap<String, (u64, u64)> {
    // The log is written as requests finish: give the last lines a moment.
    std::thread::sleep(Duration::from_millis(500));
    let text = std::fs::read_to_string(&server.log).unwrap_or_default();
    let mut out = std::collections::HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("{\"log\":\"request\"")) {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        let (Some(route), Some(calls)) = (v["route"].as_str(), v["object_calls"].as_u64()) else { continue };
        let e = out.entry(route.to_owned()).or_insert((0, 0));
        e.0 += 1;
        e.1 += calls;
    }
    out
}
