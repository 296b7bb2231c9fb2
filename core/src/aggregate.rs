//! Aggregation as mergeable states. A state folds events one at a time, and two states
//! over disjoint sets of events merge into the state of their union, whatever the order
//! or split: that is what lets a Durable Object update aggregates batch by batch, and what
//! the property tests in `core/tests/aggregate_props.rs` hold.
//!
//! Dedupe happens before aggregation (by idempotency key, in the customer's object), so a
//! state never sees one event twice; [`aggregate`] applies the same rule for pure callers.

use crate::event::ValidEvent;
use crate::hash::ContentHash;
use crate::metric::{Aggregation, MetricDef};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

/// The newest event seen by a `latest` metric.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestValue {
    pub timestamp: Timestamp,
    pub idempotency_key: String,
    pub value: Decimal,
}

/// What an aggregation keeps between events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AggState {
    Sum {
        total: Decimal,
        events: u64,
    },
    Count {
        events: u64,
    },
    Max {
        max: Option<Decimal>,
        events: u64,
    },
    /// The distinct values as digests ([`value_digest`]): 32 hex digits each however long
    /// the value, so a state's size is bounded by [`MAX_DISTINCT_VALUES`], not by what
    /// clients send. `values` holds raw values of states stored before digests: read,
    /// never written, and digested by the state's next change.
    UniqueCount {
        #[serde(default)]
        digests: BTreeSet<ContentHash>,
        #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
        values: BTreeSet<String>,
        events: u64,
    },
    Latest {
        latest: Option<LatestValue>,
        events: u64,
    },
}

impl AggState {
    /// The state of no events.
    pub fn empty(aggregation: Aggregation) -> AggState {
        match aggregation {
            Aggregation::Sum => AggState::Sum { total: Decimal::ZERO, events: 0 },
            Aggregation::Count => AggState::Count { events: 0 },
            Aggregation::Max => AggState::Max { max: None, events: 0 },
            Aggregation::UniqueCount => {
                AggState::UniqueCount { digests: BTreeSet::new(), values: BTreeSet::new(), events: 0 }
            }
            Aggregation::Latest => AggState::Latest { latest: None, events: 0 },
        }
    }

    /// Folds in one event the metric matches. `field` is the metric's `field` (for
    /// `unique_count`).
    pub fn apply(&mut self, ev: &ValidEvent<'_>, field: Option<&str>) {
        match self {
            AggState::Sum { total, events } => {
                // Values are < 1e15 with ≤ 9 decimals, so this stays exact far beyond any
                // real period; saturate rather than panic if it ever did not.
                *total = total.checked_add(ev.value()).unwrap_or(Decimal::MAX);
                *events += 1;
            }
            AggState::Count { events } => *events += 1,
            AggState::Max { max, events } => {
                *max = Some(max.map_or(ev.value(), |m| m.max(ev.value())));
                *events += 1;
            }
            AggState::UniqueCount { digests, values, events } => {
                digest_legacy(digests, values);
                if let Some(v) = field.and_then(|f| ev.properties().get(f)) {
                    // The book refuses an event past the cap before it gets here; a
                    // metric back-filled from events stored before it existed stops
                    // at the cap too, so no state outgrows its row.
                    if digests.len() < MAX_DISTINCT_VALUES {
                        digests.insert(value_digest(v.as_text()));
                    }
                }
                *events += 1;
            }
            AggState::Latest { latest, events } => {
                let newer = latest
                    .as_ref()
                    .is_none_or(|l| (ev.timestamp(), ev.idempotency_key()) > (l.timestamp, l.idempotency_key.as_str()));
                if newer {
                    *latest = Some(LatestValue {
                        timestamp: ev.timestamp(),
                        idempotency_key: ev.idempotency_key().to_string(),
                        value: ev.value(),
                    });
                }
                *events += 1;
            }
        }
    }

    /// Merges the state of a disjoint set of events into this one. States of different
    /// aggregations never merge; `other` is ignored then (a caller bug, not input).
    pub fn merge(&mut self, other: &AggState) {
        match (self, other) {
            (AggState::Sum { total, events }, AggState::Sum { total: t, events: e }) => {
                *total = total.checked_add(*t).unwrap_or(Decimal::MAX);
                *events += e;
            }
            (AggState::Count { events }, AggState::Count { events: e }) => *events += e,
            (AggState::Max { max, events }, AggState::Max { max: m, events: e }) => {
                *max = match (*max, *m) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                *events += e;
            }
            (
                AggState::UniqueCount { digests, values, events },
                AggState::UniqueCount { digests: d, values: v, events: e },
            ) => {
                digest_legacy(digests, values);
                digests.extend(d.iter().copied().chain(v.iter().map(|x| value_digest(x))));
                *events += e;
            }
            (AggState::Latest { latest, events }, AggState::Latest { latest: l, events: e }) => {
                if let Some(l) = l {
                    let newer = latest
                        .as_ref()
                        .is_none_or(|cur| (l.timestamp, &l.idempotency_key) > (cur.timestamp, &cur.idempotency_key));
                    if newer {
                        *latest = Some(l.clone());
                    }
                }
                *events += e;
            }
            _ => {}
        }
    }

    /// The metric's quantity: 0 when no event counted.
    pub fn quantity(&self) -> Decimal {
        match self {
            AggState::Sum { total, .. } => *total,
            AggState::Count { events } => Decimal::from(*events),
            AggState::Max { max, .. } => max.unwrap_or(Decimal::ZERO),
            AggState::UniqueCount { .. } => Decimal::from(self.distinct() as u64),
            AggState::Latest { latest, .. } => latest.as_ref().map_or(Decimal::ZERO, |l| l.value),
        }
        .normalize()
    }

    /// How many distinct values a `unique_count` state holds (0 for other states).
    pub fn distinct(&self) -> usize {
        match self {
            AggState::UniqueCount { digests, values, .. } => {
                digests.len() + values.iter().filter(|v| !digests.contains(&value_digest(v))).count()
            }
            _ => 0,
        }
    }

    /// Whether a `unique_count` state holds `value` already.
    pub fn has_value(&self, value: &str) -> bool {
        match self {
            AggState::UniqueCount { digests, values, .. } => {
                digests.contains(&value_digest(value)) || values.contains(value)
            }
            _ => false,
        }
    }

    /// How many events the metric counted.
    pub fn event_count(&self) -> u64 {
        match self {
            AggState::Sum { events, .. }
            | AggState::Count { events }
            | AggState::Max { events, .. }
            | AggState::UniqueCount { events, .. }
            | AggState::Latest { events, .. } => *events,
        }
    }
}

/// Most distinct values a `unique_count` metric counts per customer and period: its state
/// is one stored row, which Durable Objects' SQLite caps at 2 MB, and 40,000 digests take
/// 1.4 MB as JSON. An event that would add one more is refused (`unique_count_limit`).
pub const MAX_DISTINCT_VALUES: usize = 40_000;

/// A distinct value's digest: SHA-256 cut to 128 bits, so that no client can make two
/// values count as one (the content hash's XXH3 is fast, but its collisions can be made).
pub fn value_digest(value: &str) -> ContentHash {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(value.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    ContentHash(u128::from_be_bytes(b))
}

/// Moves a state's legacy raw values into its digests.
fn digest_legacy(digests: &mut BTreeSet<ContentHash>, values: &mut BTreeSet<String>) {
    if !values.is_empty() {
        digests.extend(values.iter().map(|v| value_digest(v)));
        values.clear();
    }
}

/// Aggregates events for one metric, skipping those it does not match and any event whose
/// idempotency key was already seen (the first one wins, as in the customer's object).
pub fn aggregate<'e, 'a: 'e>(metric: &MetricDef, events: impl IntoIterator<Item = &'e ValidEvent<'a>>) -> AggState {
    let mut state = AggState::empty(metric.aggregation);
    let mut seen = HashSet::new();
    for ev in events {
        if seen.insert(ev.idempotency_key()) && metric.matches(ev) {
            state.apply(ev, metric.field.as_deref());
        }
    }
    state
}

/// One UTC day's aggregate of a metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayState {
    pub date: chrono::NaiveDate,
    pub state: AggState,
}

/// A metric by UTC day over `period` (every day, empty ones too): each day's aggregate
/// over that day's events alone. Events outside the period, or that the metric does not
/// match, are skipped; keys are not deduplicated (the caller passes stored events).
pub fn by_day<'e, 'a: 'e>(
    metric: &MetricDef,
    period: crate::period::Period,
    events: impl IntoIterator<Item = &'e ValidEvent<'a>>,
) -> Vec<DayState> {
    const DAY_MS: i64 = 86_400_000;
    let first = period.start.millis().div_euclid(DAY_MS);
    let last = (period.end.millis() - 1).div_euclid(DAY_MS);
    // A period is at most a year; more days than that is a malformed period.
    let days = (last - first + 1).clamp(0, 400) as usize;
    let mut out: Vec<DayState> = (0..days)
        .map(|d| DayState {
            date: Timestamp((first + d as i64) * DAY_MS).to_datetime().date_naive(),
            state: AggState::empty(metric.aggregation),
        })
        .collect();
    for ev in events {
        if ev.timestamp() < period.start || ev.timestamp() >= period.end || !metric.matches(ev) {
            continue;
        }
        let d = (ev.timestamp().millis().div_euclid(DAY_MS) - first) as usize;
        if let Some(day) = out.get_mut(d) {
            day.state.apply(ev, metric.field.as_deref());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_stored_with_raw_values_reads_and_moves_to_digests() {
        let mut s: AggState =
            serde_json::from_str(r#"{"kind":"unique_count","values":["a","b"],"events":2}"#).expect("a legacy state");
        assert_eq!((s.distinct(), s.has_value("a"), s.has_value("c")), (2, true, false));
        let mut other = AggState::empty(Aggregation::UniqueCount);
        if let AggState::UniqueCount { digests, .. } = &mut other {
            digests.insert(value_digest("b"));
            digests.insert(value_digest("c"));
        }
        s.merge(&other);
        assert_eq!(s.quantity(), Decimal::from(3));
        let text = serde_json::to_string(&s).expect("renders");
        assert!(!text.contains("\"values\"") && !text.contains("\"a\""), "{text}");
        assert_eq!(s.event_count(), 2);
    }
}
