//! What the invoicing run's digests cost per event (API.md, "Checking an invoice"): one
//! pass over a period's stored events (`digest::Scanner`: each metric's filter, its
//! hashes kept, sorted and hashed at the end), against reading those events back from
//! their stored JSON (`EventRecord`, what the ledger does for every row of the pass),
//! measured in the same run. Plain std timing, best of several runs.
//!
//!     CARGO_BUILD_JOBS=2 cargo bench -p edgemeter-core --bench invoice_digest

use edgemeter_core::digest::Scanner;
use edgemeter_core::event::EventRecord;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::time::Timestamp;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const EVENTS: usize = 100_000;
const RUNS: usize = 9;
const NOW_MS: i64 = 1_795_600_800_000;

fn metric(code: &str, event_name: &str, aggregation: Aggregation, filter: Option<(&str, &str)>) -> MetricDef {
    let mut filters = BTreeMap::new();
    if let Some((k, v)) = filter {
        filters.insert(k.to_owned(), vec![v.to_owned()]);
    }
    MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: event_name.into(),
        aggregation,
        field: (aggregation == Aggregation::UniqueCount).then(|| "user".to_owned()),
        filters,
    }
}

/// A period's stored events, as the ledger keeps their bodies: two event names, a
/// region, a user and a number property each.
fn stored_bodies() -> Vec<String> {
    let mut out = Vec::with_capacity(EVENTS);
    let mut batch = Vec::new();
    for i in 0..EVENTS {
        batch.push(format!(
            r#"{{"idempotency_key":"0192f0c1-0000-7000-8000-{i:012}","customer_id":"cus_01jf3z9k4m5n6p7q8r9s0t1v2w","event_name":"{}","value":"{}.{}","timestamp":"2026-11-2{}T10:00:00Z","properties":{{"region":"{}","user":"u{}","n":{}}}}}"#,
            if i % 3 == 0 { "logins" } else { "calls" },
            i % 97,
            i % 10,
            i % 5,
            ["eu", "us", "ap"][i % 3],
            i % 1000,
            i % 7
        ));
        if batch.len() == 1000 {
            let body = format!(r#"{{"events":[{}]}}"#, batch.join(","));
            let env = parse_ingest(body.as_bytes(), Timestamp(NOW_MS)).expect("a valid batch");
            for ev in env.events.into_iter().map(|e| e.expect("a valid event")) {
                out.push(serde_json::to_string(&EventRecord::from_valid(&ev)).expect("renders"));
            }
            batch.clear();
        }
    }
    out
}

fn best(mut f: impl FnMut() -> usize) -> Duration {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let metrics = vec![
        metric("calls", "calls", Aggregation::Sum, None),
        metric("eu_calls", "calls", Aggregation::Count, Some(("region", "eu"))),
        metric("users", "logins", Aggregation::UniqueCount, None),
    ];
    let bodies = stored_bodies();
    let records: Vec<EventRecord<'static>> =
        bodies.iter().map(|b| serde_json::from_str::<EventRecord>(b).expect("reads").into_owned()).collect();

    let parse = best(|| bodies.iter().map(|b| serde_json::from_str::<EventRecord>(b).map_or(0, |r| r.key.len())).sum());
    let scan = best(|| {
        let mut s = Scanner::new(&metrics);
        records.iter().for_each(|r| s.add(r));
        s.finish().len()
    });
    let per = |d: Duration| d.as_nanos() as f64 / EVENTS as f64;
    println!("{EVENTS} stored events, {} metrics over 2 event names (one filtered), best of {RUNS}:", metrics.len());
    println!("  reading each event's stored JSON (reference): {:>7.1} ns/event", per(parse));
    println!(
        "  the digest pass (filters, hashes, sort, SHA-256): {:>7.1} ns/event ({:.2}x the reference)",
        per(scan),
        per(scan) / per(parse)
    );
}
