//! What limits cost in a customer's ingest decision (`Book::ingest`, which the customer's
//! object runs for every batch): 1,000-event batches of one customer decided with no
//! limits, with a hard limit on a metric the events feed, and with that limit and 100 live
//! holds. Plain std timing, best of several runs, one core (BENCHMARKS.md "Entitlement
//! checks").
//!
//!     CARGO_BUILD_JOBS=2 cargo bench -p edgemeter-core --bench limits_path

use edgemeter_core::book::{Book, Limits};
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::event::ValidEvent;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::limit::{Limit, LimitMode, Reservation, ReservationStatus};
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::period::{Interval, Schedule};
use edgemeter_core::time::Timestamp;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const EVENTS: usize = 1000;
const RUNS: usize = 15;
const MIN_RUN: Duration = Duration::from_millis(60);
/// 2026-11-25T10:00:00Z.
const NOW_MS: i64 = 1_795_600_800_000;

fn metric(code: &str, aggregation: Aggregation) -> MetricDef {
    MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: "llm".into(),
        aggregation,
        field: None,
        filters: Default::default(),
    }
}

fn book(limits: Limits) -> Book {
    let anchor = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    let customer = Customer {
        id: "cus_0000000000000000000000bench".into(),
        name: "Bench".into(),
        email: "b@example.com".into(),
        external_id: None,
        currency: Currency::parse("USD").expect("USD"),
        created_at: Timestamp(NOW_MS - 86_400_000),
        invoice_schedule: Schedule { interval: Interval::Month, anchor, pre_generate_days: 3, grace_hours: 24 },
        auto_send: false,
        contract_id: None,
    };
    let mut book = Book::load(customer, None, metrics(), Vec::new());
    book.set_limits(limits);
    book
}

fn metrics() -> Vec<MetricDef> {
    vec![metric("tokens", Aggregation::Sum), metric("calls", Aggregation::Count)]
}

/// The best of `RUNS` runs of deciding the batch again and again, in ns per event.
fn measure(name: &str, mut book: Book, events: &[ValidEvent<'_>]) -> f64 {
    let (metrics, stored) = (metrics(), HashMap::new());
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut batches = 0u64;
        while start.elapsed() < MIN_RUN {
            black_box(book.ingest(&metrics, black_box(events), &stored));
            batches += 1;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / (batches as f64 * events.len() as f64));
    }
    println!("{name:<44} {best:>8.1} ns/event");
    best
}

fn main() {
    let body = format!(
        r#"{{"events":[{}]}}"#,
        (0..EVENTS)
            .map(|i| format!(
                r#"{{"idempotency_key":"00000000-0000-7000-8000-{i:012}","customer_id":"cus_0000000000000000000000bench","event_name":"llm","value":{},"timestamp":"{}","properties":{{"model":"m{}"}}}}"#,
                i % 97 + 1,
                Timestamp(NOW_MS - i as i64 * 1000).to_rfc3339(),
                i % 3
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let envelope = parse_ingest(body.as_bytes(), Timestamp(NOW_MS)).expect("a body");
    let events: Vec<ValidEvent> = envelope.events.into_iter().map(|e| e.expect("a valid event")).collect();
    // Never reached: the point is the check, not the refusal.
    let hard = Limit {
        metric: metric("tokens", Aggregation::Sum),
        max: Decimal::from(10u64.pow(18)),
        mode: LimitMode::Hard,
        updated_at: Timestamp(NOW_MS),
    };
    let period_start = book(Limits::default()).customer().invoice_schedule.period_containing(Timestamp(NOW_MS)).start;
    let holds: Vec<Reservation> = (0..100)
        .map(|i| Reservation {
            id: format!("rsv_{i:026}"),
            metric_code: "tokens".into(),
            quantity: Decimal::from(10),
            period_start,
            created_at: Timestamp(NOW_MS),
            expires_at: Timestamp(NOW_MS + 300_000),
            idempotency_key: format!("00000000-0000-7000-9000-{i:012}"),
            status: ReservationStatus::Held,
            event: None,
        })
        .collect();
    println!("one customer, batches of {EVENTS} events into 2 metrics; best of {RUNS} runs");
    let none = measure("Book::ingest, no limits", book(Limits::default()), &events);
    let one = measure("Book::ingest, a hard limit", book(Limits::load(vec![hard.clone()], vec![])), &events);
    let held = measure("Book::ingest, a hard limit and 100 live holds", book(Limits::load(vec![hard], holds)), &events);
    println!();
    println!("a hard limit: {:.2}x the time without; with 100 holds: {:.2}x", one / none, held / none);
}
