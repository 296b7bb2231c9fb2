//! The core's ingest hot path, from a batch body's bytes: `parse_ingest` (every rule and
//! the canonical content hash), then aggregation into `AggState`s, against a naive serde
//! baseline. Plain std timing, best of several runs, no benchmark framework.
//!
//!     CARGO_BUILD_JOBS=2 cargo bench -p edgemeter-core --bench ingest_path
//!
//! Goal: at least 2,000,000 events/s for the full path on one core.

use edgemeter_core::aggregate::{aggregate, AggState};
use edgemeter_core::event::ValidEvent;
use edgemeter_core::hash::content_hash;
use edgemeter_core::id::new_id;
use edgemeter_core::ingest::{canonical_uuid, parse_ingest};
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::quantity::parse_value;
use edgemeter_core::time::{Timestamp, DAY_MS};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

const EVENTS_PER_BATCH: usize = 1000;
const BATCHES: usize = 8;
const RUNS: usize = 15;
/// Each run repeats its work until it has taken at least this long.
const MIN_RUN: Duration = Duration::from_millis(60);
/// 2026-11-25T10:00:00Z: the arrival time of every batch.
const NOW_MS: i64 = 1_795_600_800_000;

// ---------------------------------------------------------------------------------------
// Realistic batches.

/// xorshift64*: deterministic input without a dependency.
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

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn uuid_v4(rng: &mut Rng) -> String {
    let (a, b) = (rng.next(), rng.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn timestamp_text(rng: &mut Rng) -> String {
    let ms = NOW_MS - rng.below(30 * DAY_MS as u64) as i64;
    let ms = if rng.below(3) == 0 { ms } else { ms - ms % 1000 };
    let offset_minutes = [0, 0, 0, 0, 120, -300, 330][rng.below(7) as usize];
    let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
    let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap().with_timezone(&offset);
    let format = if ms % 1000 == 0 { chrono::SecondsFormat::Secs } else { chrono::SecondsFormat::Millis };
    dt.to_rfc3339_opts(format, true)
}

/// One batch body of realistic events: UUID keys, real customer ids, timestamps in
/// several offsets, integer, decimal and string values, two or three properties (left out,
/// for measuring what they cost, when `with_properties` is false).
fn batch(seed: u64, with_properties: bool) -> String {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let customers: Vec<String> = (0..20)
        .map(|i| {
            let mut random = [0u8; 10];
            random.iter_mut().for_each(|b| *b = rng.next() as u8);
            new_id("cus", Timestamp(NOW_MS - i * DAY_MS), random)
        })
        .collect();
    let mut events = Vec::with_capacity(EVENTS_PER_BATCH);
    for _ in 0..EVENTS_PER_BATCH {
        let key = uuid_v4(&mut rng);
        let customer = &customers[rng.below(customers.len() as u64) as usize];
        let name = rng.pick(&["api_call", "api_call", "api_call", "invoices", "invoices", "storage_gb"]);
        let value = match rng.below(5) {
            0 => String::new(),
            1 => format!(",\"value\":{}", rng.below(100)),
            2 => format!(",\"value\":{}.{}", rng.below(1000), rng.below(100)),
            3 => format!(",\"value\":\"{}.{:02}\"", rng.below(1000), rng.below(100)),
            _ => format!(",\"value\":{}", 1 + rng.below(5)),
        };
        let region = rng.pick(&["eu-west-1", "us-east-1", "ap-south-1"]);
        let plan = rng.pick(&["free", "pro", "enterprise"]);
        let props = match rng.below(3) {
            0 => format!("{{\"region\":\"{region}\",\"plan\":\"{plan}\"}}"),
            1 => format!(
                "{{\"region\":\"{region}\",\"endpoint\":\"{}\",\"user\":\"usr_{}\"}}",
                rng.pick(&["/v1/invoices", "/v1/ocr", "/v1/search"]),
                rng.below(50)
            ),
            _ => format!("{{\"user\":\"usr_{}\",\"plan\":\"{plan}\",\"retries\":{}}}", rng.below(50), rng.below(3)),
        };
        let props = if with_properties { format!(",\"properties\":{props}") } else { String::new() };
        events.push(format!(
            "{{\"idempotency_key\":\"{key}\",\"customer_id\":\"{customer}\",\"event_name\":\"{name}\"{value},\"timestamp\":\"{}\"{props}}}",
            timestamp_text(&mut rng)
        ));
    }
    format!("{{\"events\":[{}]}}", events.join(","))
}

fn metrics() -> Vec<MetricDef> {
    let def = |code: &str, event_name: &str, aggregation, field: Option<&str>, filters: &[(&str, &[&str])]| MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: event_name.into(),
        aggregation,
        field: field.map(Into::into),
        filters: filters
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect::<BTreeMap<_, _>>(),
    };
    vec![
        def("invoices_processed", "invoices", Aggregation::Sum, None, &[]),
        def("api_calls_eu_us", "api_call", Aggregation::Count, None, &[("region", &["eu-west-1", "us-east-1"])]),
        def("active_users", "api_call", Aggregation::UniqueCount, Some("user"), &[]),
    ]
}

// ---------------------------------------------------------------------------------------
// The naive baseline: what one would write first with serde derive.

#[derive(Deserialize)]
struct NaiveBatch {
    events: Vec<NaiveEvent>,
}

#[derive(Deserialize)]
#[allow(dead_code)] // read by serde only
struct NaiveEvent {
    idempotency_key: String,
    customer_id: String,
    event_name: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
    timestamp: Option<String>,
    #[serde(default)]
    properties: HashMap<String, serde_json::Value>,
}

/// Deserializes, parses each value with rust_decimal and each timestamp with chrono, and
/// sums the values: no rules, no hash, no aggregation state.
fn naive(body: &[u8]) -> (Decimal, i64) {
    let batch: NaiveBatch = serde_json::from_slice(body).unwrap();
    let mut sum = Decimal::ZERO;
    let mut latest = 0;
    for ev in &batch.events {
        let value = match &ev.value {
            None => Decimal::ONE,
            Some(serde_json::Value::String(s)) => Decimal::from_str(s).unwrap(),
            Some(v) => Decimal::from_str(&v.to_string()).unwrap(),
        };
        sum += value;
        if let Some(t) = &ev.timestamp {
            latest = latest.max(chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis());
        }
    }
    (sum, latest)
}

// ---------------------------------------------------------------------------------------
// The paths measured.

fn parse_only(body: &[u8]) -> usize {
    let env = parse_ingest(body, Timestamp(NOW_MS)).unwrap();
    black_box(&env);
    env.events.len()
}

/// The worker's path for a batch of new events (after its dedupe by key): each valid
/// event folded into the state of every metric that matches it.
fn parse_and_apply(body: &[u8], metrics: &[MetricDef], states: &mut [AggState]) -> usize {
    let env = parse_ingest(body, Timestamp(NOW_MS)).unwrap();
    for ev in env.events.iter().filter_map(|r| r.as_ref().ok()) {
        for (m, state) in metrics.iter().zip(states.iter_mut()) {
            if m.matches(ev) {
                state.apply(ev, m.field.as_deref());
            }
        }
    }
    env.events.len()
}

/// The pure path: `aggregate` per metric (which also dedupes by key), merged into the
/// running states.
fn parse_and_aggregate(body: &[u8], metrics: &[MetricDef], states: &mut [AggState]) -> usize {
    let env = parse_ingest(body, Timestamp(NOW_MS)).unwrap();
    let valid = env.events.iter().filter_map(|r| r.as_ref().ok());
    for (m, state) in metrics.iter().zip(states.iter_mut()) {
        state.merge(&aggregate(m, valid.clone()));
    }
    env.events.len()
}

/// Whether a measurement was asked for: every one, unless arguments name parts of some
/// (`-- naive`, `-- parse_ingest`), as `cargo bench` filters do.
fn selected(name: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// Runs `work` (which handles `events` events per call) until a run lasts `MIN_RUN`, and
/// returns the best nanoseconds per event over `RUNS` runs.
fn measure(name: &str, events: usize, mut work: impl FnMut()) -> f64 {
    if !selected(name) {
        return f64::NAN;
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < MIN_RUN / 4 {
        work();
        calls += 1;
    }
    let per_run = ((calls * 4) as f64 * 1.1).ceil() as u64;
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let t = Instant::now();
        for _ in 0..per_run {
            work();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (per_run as f64 * events as f64));
    }
    println!("{name:<44} {best:>8.1} ns/event {:>12.0} events/s", 1e9 / best);
    best
}

fn main() {
    let bodies: Vec<String> = (0..BATCHES as u64).map(|seed| batch(seed, true)).collect();
    let total = BATCHES * EVENTS_PER_BATCH;
    let bytes: usize = bodies.iter().map(String::len).sum();
    for b in &bodies {
        let env = parse_ingest(b.as_bytes(), Timestamp(NOW_MS)).unwrap();
        let rejected: Vec<_> = env.events.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(rejected.is_empty(), "the benchmark's events must all be valid: {:?}", rejected.first());
    }
    println!(
        "{BATCHES} batches of {EVENTS_PER_BATCH} events, {:.0} bytes/event on average; best of {RUNS} runs",
        bytes as f64 / total as f64
    );
    println!("e.g. {}", &bodies[0]["{\"events\":[".len()..bodies[0].find("}},").unwrap() + 2]);
    println!();

    let metrics = metrics();
    let empty = || metrics.iter().map(|m| AggState::empty(m.aggregation)).collect::<Vec<_>>();
    let parse = measure("parse_ingest (validate + hash)", total, || {
        for b in &bodies {
            black_box(parse_only(black_box(b.as_bytes())));
        }
    });
    let mut states = empty();
    let full = measure("parse_ingest + matches/apply x3 metrics", total, || {
        for b in &bodies {
            black_box(parse_and_apply(black_box(b.as_bytes()), &metrics, &mut states));
        }
    });
    black_box(&states);
    let mut states = empty();
    measure("parse_ingest + aggregate() x3 metrics", total, || {
        for b in &bodies {
            black_box(parse_and_aggregate(black_box(b.as_bytes()), &metrics, &mut states));
        }
    });
    black_box(&states);
    let baseline = measure("naive: serde derive + decimal + chrono + sum", total, || {
        for b in &bodies {
            black_box(naive(black_box(b.as_bytes())));
        }
    });
    println!();
    if full.is_finite() {
        let verdict = if 1e9 / full >= 2e6 { "meets" } else { "is BELOW" };
        println!("full path: {:.2} M events/s, which {verdict} the 2 M events/s goal", 1e3 / full);
    }
    if parse.is_finite() && baseline.is_finite() {
        println!("parse_ingest takes {:.2}x the naive baseline's time", parse / baseline);
    }

    if std::env::args().any(|a| a == "--steps") || std::env::var_os("INGEST_BENCH_STEPS").is_some() {
        steps(&bodies, &metrics);
    }
}

// ---------------------------------------------------------------------------------------
// Sub-steps, for finding where the time goes (`-- --steps`). Each runs a public building
// block over the same events' fields, so the parts can be compared with the whole.

fn steps(bodies: &[String], metrics: &[MetricDef]) {
    println!();
    println!("sub-steps (per event):");
    let total = bodies.len() * EVENTS_PER_BATCH;
    let envs: Vec<_> = bodies.iter().map(|b| parse_ingest(b.as_bytes(), Timestamp(NOW_MS)).unwrap()).collect();
    let events: Vec<&ValidEvent<'_>> =
        envs.iter().flat_map(|e| e.events.iter().filter_map(|r| r.as_ref().ok())).collect();

    measure("  serde_json: batch into RawValue fields", total, || {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Raw<'a> {
            #[serde(borrow)]
            idempotency_key: &'a serde_json::value::RawValue,
            #[serde(borrow)]
            customer_id: &'a serde_json::value::RawValue,
            #[serde(borrow)]
            event_name: &'a serde_json::value::RawValue,
            #[serde(borrow)]
            value: Option<&'a serde_json::value::RawValue>,
            #[serde(borrow)]
            timestamp: Option<&'a serde_json::value::RawValue>,
            #[serde(borrow)]
            properties: Option<&'a serde_json::value::RawValue>,
        }
        #[derive(Deserialize)]
        struct RawBatch<'a> {
            #[serde(borrow)]
            events: Vec<Raw<'a>>,
        }
        for b in bodies {
            black_box(serde_json::from_str::<RawBatch<'_>>(black_box(b)).unwrap().events.len());
        }
    });
    let keys: Vec<String> = events.iter().map(|e| e.idempotency_key().to_string()).collect();
    measure("  UTF-8 check of the body", total, || {
        for b in bodies {
            black_box(std::str::from_utf8(black_box(b.as_bytes())).is_ok());
        }
    });
    let bare: Vec<String> = (0..bodies.len() as u64).map(|seed| batch(seed, false)).collect();
    measure("  parse_ingest, same events without properties", total, || {
        for b in &bare {
            black_box(parse_only(black_box(b.as_bytes())));
        }
    });
    measure("  canonical_uuid", total, || {
        for k in &keys {
            black_box(canonical_uuid(Cow::Borrowed(black_box(k.as_str()))));
        }
    });
    let values: Vec<String> = events.iter().map(|e| e.value().to_string()).collect();
    measure("  parse_value", total, || {
        for v in &values {
            black_box(parse_value(black_box(v)).unwrap());
        }
    });
    let times: Vec<String> = bodies
        .iter()
        .flat_map(|b| b.split("\"timestamp\":\"").skip(1).map(|s| s[..s.find('"').unwrap()].to_owned()))
        .collect();
    measure("  Timestamp::parse_rfc3339", total, || {
        for t in &times {
            black_box(Timestamp::parse_rfc3339(black_box(t)).unwrap());
        }
    });
    measure("  content_hash", total, || {
        for e in &events {
            black_box(content_hash(
                e.customer_id(),
                e.event_name(),
                e.value(),
                Some(e.timestamp()),
                black_box(e.properties()),
            ));
        }
    });
    measure("  matches/apply x3 metrics, events parsed", total, || {
        let mut states: Vec<AggState> = metrics.iter().map(|m| AggState::empty(m.aggregation)).collect();
        for ev in &events {
            for (m, state) in metrics.iter().zip(states.iter_mut()) {
                if m.matches(ev) {
                    state.apply(ev, m.field.as_deref());
                }
            }
        }
        black_box(states);
    });
    measure("  aggregate() x3 metrics, events parsed", total, || {
        for m in metrics {
            black_box(aggregate(m, events.iter().copied()));
        }
    });
}
