//! The `core` ingest path as one wasm export, for measuring it under Node
//! (`tests/bench/wasm-ingest.mjs`, `make bench`). Only built with the `bench` feature.

use edgemeter_core::aggregate::AggState;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::time::Timestamp;
use wasm_bindgen::prelude::*;

fn metric(aggregation: Aggregation, field: Option<&str>) -> MetricDef {
    MetricDef {
        code: format!("{aggregation:?}"),
        name: "bench".into(),
        event_name: "invoices".into(),
        aggregation,
        field: field.map(str::to_owned),
        filters: Default::default(),
    }
}

/// Parses and validates a batch body, hashes every event and folds the valid ones into
/// `sum`, `count` and `unique_count` states. Returns how many events were valid.
#[wasm_bindgen(js_name = benchIngestPath)]
pub fn bench_ingest_path(body: &[u8], now_ms: f64) -> u32 {
    let metrics = [
        metric(Aggregation::Sum, None),
        metric(Aggregation::Count, None),
        metric(Aggregation::UniqueCount, Some("region")),
    ];
    let Ok(envelope) = parse_ingest(body, Timestamp(now_ms as i64)) else { return 0 };
    let mut states: Vec<AggState> = metrics.iter().map(|m| AggState::empty(m.aggregation)).collect();
    let mut valid = 0;
    for ev in envelope.events.iter().flatten() {
        valid += 1;
        for (m, s) in metrics.iter().zip(states.iter_mut()) {
            if m.matches(ev) {
                s.apply(ev, m.field.as_deref());
            }
        }
    }
    std::hint::black_box(&states);
    valid
}
