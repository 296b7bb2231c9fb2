//! Invariants of `aggregate` and `AggState` for every aggregation, with and without
//! filters: order does not matter, any split merges back to the whole, a re-sent key
//! changes nothing, and quantities are the exact arithmetic of the events they count.
//!
//! Events are generated as JSON and read by `parse_ingest`, so they carry real
//! canonicalised keys, UTC timestamps, exact values and content hashes.

use edgemeter_core::aggregate::{aggregate, by_day, AggState};
use edgemeter_core::event::{EventRecord, ValidEvent};
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::period::Period;
use edgemeter_core::time::{Timestamp, MINUTE_MS};
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// The arrival time of every generated batch.
const NOW_MS: i64 = 1_721_044_800_000; // 2024-07-15T12:00:00Z

// ---------------------------------------------------------------------------------------
// Generated events.

/// What one generated event says, kept to compute expected quantities independently.
#[derive(Clone, Debug)]
struct Spec {
    name: &'static str,
    /// The value is `mantissa / 10^scale`.
    mantissa: u64,
    scale: u32,
    /// 0: JSON number, 1: numeric string, 2: JSON number with an exponent, 3: no value (1).
    spelling: u8,
    /// `None`: no timestamp, so it defaults to the arrival time.
    minutes_ago: Option<u32>,
    /// The UTC offset the timestamp is written in.
    offset_minutes: i32,
    region: Option<&'static str>,
    user: Option<u8>,
    seats: Option<u8>,
    upper_case_key: bool,
}

impl Spec {
    /// The value in units of 1e-4, exactly.
    fn value_e4(&self) -> i128 {
        if self.spelling == 3 {
            return 10_000;
        }
        self.mantissa as i128 * 10i128.pow(4 - self.scale)
    }

    fn timestamp_ms(&self) -> i64 {
        self.minutes_ago.map_or(NOW_MS, |m| NOW_MS - m as i64 * MINUTE_MS)
    }

    fn prop(&self, key: &str) -> Option<String> {
        match key {
            "region" => self.region.map(str::to_owned),
            "user" => self.user.map(|u| format!("u{u}")),
            "seats" => self.seats.map(|s| s.to_string()),
            _ => None,
        }
    }

    fn to_json(&self, i: usize) -> String {
        let mut key = key(i);
        if self.upper_case_key {
            key = key.to_uppercase();
        }
        let mut fields = vec![
            format!("\"idempotency_key\":\"{key}\""),
            "\"customer_id\":\"cus_0000000000000000000000test\"".to_owned(),
            format!("\"event_name\":\"{}\"", self.name),
        ];
        let digits = if self.scale == 0 {
            self.mantissa.to_string()
        } else {
            let p = 10u64.pow(self.scale);
            format!("{}.{:0width$}", self.mantissa / p, self.mantissa % p, width = self.scale as usize)
        };
        match self.spelling {
            0 => fields.push(format!("\"value\":{digits}")),
            1 => fields.push(format!("\"value\":\"{digits}\"")),
            2 => fields.push(format!("\"value\":{}e-{}", self.mantissa, self.scale)),
            _ => {}
        }
        if let Some(m) = self.minutes_ago {
            let offset = chrono::FixedOffset::east_opt(self.offset_minutes * 60).unwrap();
            let t = chrono::DateTime::from_timestamp_millis(NOW_MS - m as i64 * MINUTE_MS)
                .unwrap()
                .with_timezone(&offset)
                .to_rfc3339();
            fields.push(format!("\"timestamp\":\"{t}\""));
        }
        let mut props = Vec::new();
        if let Some(r) = self.region {
            props.push(format!("\"region\":\"{r}\""));
        }
        if let Some(u) = self.user {
            props.push(format!("\"user\":\"u{u}\""));
        }
        if let Some(s) = self.seats {
            props.push(format!("\"seats\":{s}"));
        }
        if !props.is_empty() {
            fields.push(format!("\"properties\":{{{}}}", props.join(",")));
        }
        format!("{{{}}}", fields.join(","))
    }
}

fn key(i: usize) -> String {
    format!("0192f0c1-0000-7000-8000-{i:012x}")
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(vec!["api_call", "storage", "other"]),
        0u64..10_000_000,
        0u32..=4,
        0u8..4,
        prop::option::weighted(0.9, 0u32..30),
        -12 * 60i32..=14 * 60,
        prop::option::of(prop::sample::select(vec!["eu", "us", "ap"])),
        prop::option::of(0u8..8),
        prop::option::of(0u8..4),
        any::<bool>(),
    )
        .prop_map(|(name, mantissa, scale, spelling, minutes_ago, offset_minutes, region, user, seats, upper)| {
            Spec {
                name,
                mantissa,
                scale,
                spelling,
                minutes_ago,
                offset_minutes,
                region,
                user,
                seats,
                upper_case_key: upper,
            }
        })
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(spec(), 0..120)
}

/// Parses the specs as one batch; every one of them must be accepted.
fn events(specs: &[Spec]) -> Vec<ValidEvent<'static>> {
    let body = format!(
        "{{\"events\":[{}]}}",
        specs.iter().enumerate().map(|(i, s)| s.to_json(i)).collect::<Vec<_>>().join(",")
    );
    let env = parse_ingest(body.as_bytes(), Timestamp(NOW_MS)).expect("generated envelope is valid");
    env.events.into_iter().map(|r| r.expect("generated event is valid").into_owned()).collect()
}

// ---------------------------------------------------------------------------------------
// The metrics: all five aggregations, some filtered, several on one event name.

fn metric(
    code: &str,
    event_name: &str,
    aggregation: Aggregation,
    field: Option<&str>,
    filters: &[(&str, &[&str])],
) -> MetricDef {
    MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: event_name.into(),
        aggregation,
        field: field.map(str::to_owned),
        filters: filters
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn metrics() -> Vec<MetricDef> {
    use Aggregation::*;
    vec![
        metric("calls_sum", "api_call", Sum, None, &[]),
        metric("calls_count", "api_call", Count, None, &[]),
        metric("calls_max", "api_call", Max, None, &[]),
        metric("calls_latest", "api_call", Latest, None, &[]),
        metric("calls_users", "api_call", UniqueCount, Some("user"), &[]),
        metric("calls_count_eu_us", "api_call", Count, None, &[("region", &["eu", "us"])]),
        metric("calls_users_eu", "api_call", UniqueCount, Some("user"), &[("region", &["eu"])]),
        metric("storage_sum_eu", "storage", Sum, None, &[("region", &["eu"])]),
        metric(
            "storage_max_eu_ap_1_2_seats",
            "storage",
            Max,
            None,
            &[("region", &["eu", "ap"]), ("seats", &["1", "2"])],
        ),
        metric("storage_latest_us", "storage", Latest, None, &[("region", &["us"])]),
        metric("storage_seat_counts", "storage", UniqueCount, Some("seats"), &[]),
        metric("storage_regions_2_seats", "storage", UniqueCount, Some("region"), &[("seats", &["2"])]),
    ]
}

/// Whether the metric counts the spec's event, decided from the spec alone.
fn spec_matches(m: &MetricDef, s: &Spec) -> bool {
    m.event_name == s.name && m.filters.iter().all(|(prop, allowed)| s.prop(prop).is_some_and(|v| allowed.contains(&v)))
}

fn all_states<'a>(evs: impl IntoIterator<Item = &'a ValidEvent<'static>> + Clone) -> Vec<AggState> {
    metrics().iter().map(|m| aggregate(m, evs.clone())).collect()
}

/// Merges states left to right in the given order of `parts`.
fn merge_in_order(m: &MetricDef, parts: &[AggState], order: &[usize]) -> AggState {
    let mut acc = AggState::empty(m.aggregation);
    for &i in order {
        acc.merge(&parts[i]);
    }
    acc
}

/// Merges states as a balanced tree: another bracketing of the same union.
fn merge_tree(m: &MetricDef, parts: &[AggState]) -> AggState {
    match parts {
        [] => AggState::empty(m.aggregation),
        [one] => one.clone(),
        _ => {
            let (l, r) = parts.split_at(parts.len() / 2);
            let mut left = merge_tree(m, l);
            left.merge(&merge_tree(m, r));
            left
        }
    }
}

// ---------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A metric by day (the dashboard's chart): each day is the aggregate of that day's
    /// events alone, the days cover the period, and together they are the period's.
    #[test]
    fn days_split_a_period_into_its_aggregate(specs in specs()) {
        let evs = events(&specs);
        const DAY: i64 = 86_400_000;
        let start = Timestamp((NOW_MS - 40 * DAY).div_euclid(DAY) * DAY);
        let period = Period { start, end: Timestamp(start.millis() + 42 * DAY) };
        for m in metrics() {
            let days = by_day(&m, period, &evs);
            prop_assert_eq!(days.len(), 42);
            let mut merged = AggState::empty(m.aggregation);
            for (i, d) in days.iter().enumerate() {
                let from = start.millis() + i as i64 * DAY;
                prop_assert_eq!(d.date, Timestamp(from).to_datetime().date_naive());
                let of_day = evs.iter().filter(|e| (from..from + DAY).contains(&e.timestamp().millis()));
                prop_assert_eq!(&d.state, &aggregate(&m, of_day));
                merged.merge(&d.state);
            }
            prop_assert_eq!(merged, aggregate(&m, &evs));
        }
    }

    #[test]
    fn result_does_not_depend_on_event_order(
        (specs, order) in specs().prop_flat_map(|s| {
            let n = s.len();
            (Just(s), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        })
    ) {
        let evs = events(&specs);
        let shuffled: Vec<&ValidEvent<'static>> = order.iter().map(|&i| &evs[i]).collect();
        prop_assert_eq!(all_states(&evs), all_states(shuffled.iter().copied()));
    }

    #[test]
    fn any_split_merged_in_any_order_equals_the_whole(
        (specs, order) in specs().prop_flat_map(|s| {
            let n = s.len();
            (Just(s), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        }),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
        merge_keys in prop::collection::vec(any::<u32>(), 9),
    ) {
        let evs = events(&specs);
        // A shuffle then contiguous cuts reaches every partition into disjoint sets.
        let shuffled: Vec<&ValidEvent<'static>> = order.iter().map(|&i| &evs[i]).collect();
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(shuffled.len() + 1)).collect();
        bounds.push(0);
        bounds.push(shuffled.len());
        bounds.sort_unstable();
        let chunks: Vec<&[&ValidEvent<'static>]> = bounds.windows(2).map(|w| &shuffled[w[0]..w[1]]).collect();
        let mut merge_order: Vec<usize> = (0..chunks.len()).collect();
        merge_order.sort_by_key(|&i| merge_keys[i]);

        for m in metrics() {
            let whole = aggregate(&m, &evs);
            let parts: Vec<AggState> = chunks.iter().map(|c| aggregate(&m, c.iter().copied())).collect();
            prop_assert_eq!(&merge_in_order(&m, &parts, &merge_order), &whole, "{}: merged in {:?}", m.code, merge_order);
            prop_assert_eq!(&merge_tree(&m, &parts), &whole, "{}: merged as a tree", m.code);
            // The empty state is the identity, on either side.
            let mut left = AggState::empty(m.aggregation);
            left.merge(&whole);
            let mut right = whole.clone();
            right.merge(&AggState::empty(m.aggregation));
            prop_assert_eq!(&left, &whole);
            prop_assert_eq!(&right, &whole);
        }
    }

    #[test]
    fn a_key_sent_again_changes_nothing(
        specs in specs().prop_filter("needs an event to repeat", |s| !s.is_empty()),
        repeats in prop::collection::vec((any::<Index>(), any::<Index>(), any::<bool>()), 1..20),
    ) {
        let evs = events(&specs);
        let mut with_repeats: Vec<ValidEvent<'static>> = evs.clone();
        for (which, at, same_payload) in repeats {
            let original = evs[which.index(evs.len())].clone();
            let first = with_repeats.iter().position(|e| e.idempotency_key() == original.idempotency_key()).unwrap();
            let mut again = original.clone();
            if !same_payload {
                // The key reused with another payload: still the first one counts.
                let mut changed = EventRecord::from_valid(&original).into_owned();
                changed.value += Decimal::from(7);
                changed.event_name = "api_call".into();
                changed.ts = NOW_MS;
                changed.props = Default::default();
                again = changed.to_valid(original.customer_id()).into_owned();
            }
            let pos = first + 1 + at.index(with_repeats.len() - first);
            with_repeats.insert(pos, again);
        }
        prop_assert_eq!(all_states(&with_repeats), all_states(&evs));
    }

    #[test]
    fn quantities_are_the_exact_arithmetic_of_the_matching_events(specs in specs()) {
        let evs = events(&specs);
        for m in metrics() {
            let state = aggregate(&m, &evs);
            let matching: Vec<&Spec> = specs.iter().filter(|s| spec_matches(&m, s)).collect();
            let expected = match m.aggregation {
                Aggregation::Sum => Decimal::from_i128_with_scale(matching.iter().map(|s| s.value_e4()).sum(), 4),
                Aggregation::Count => Decimal::from(matching.len() as u64),
                Aggregation::Max => Decimal::from_i128_with_scale(matching.iter().map(|s| s.value_e4()).max().unwrap_or(0), 4),
                Aggregation::UniqueCount => {
                    let field = m.field.as_deref().unwrap();
                    let distinct: BTreeSet<String> = matching.iter().filter_map(|s| s.prop(field)).collect();
                    Decimal::from(distinct.len() as u64)
                }
                Aggregation::Latest => {
                    // Newest by timestamp, ties broken by the (canonical) key.
                    let newest = specs
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| spec_matches(&m, s))
                        .max_by_key(|(i, s)| (s.timestamp_ms(), key(*i)));
                    newest.map_or(Decimal::ZERO, |(_, s)| Decimal::from_i128_with_scale(s.value_e4(), 4))
                }
            };
            let q = state.quantity();
            prop_assert_eq!(q, expected, "{}", m.code);
            // Exact and normalized: the wire text is the decimal's shortest form.
            prop_assert_eq!(q.to_string(), expected.normalize().to_string(), "{}", m.code);
            prop_assert!(!q.is_sign_negative() || q.is_zero(), "{}: negative {}", m.code, q);
            prop_assert_eq!(state.event_count(), matching.len() as u64, "{}", m.code);
        }
    }
}

// ---------------------------------------------------------------------------------------
// A few fixed cases that read as examples of the rules above.

fn spec_of(name: &'static str, value: &str, minutes_ago: u32, region: Option<&'static str>) -> Spec {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    Spec {
        name,
        mantissa: format!("{int}{frac}").parse().unwrap(),
        scale: frac.len() as u32,
        spelling: 1,
        minutes_ago: Some(minutes_ago),
        offset_minutes: 120,
        region,
        user: None,
        seats: None,
        upper_case_key: false,
    }
}

#[test]
fn sum_is_exact_where_binary_floats_are_not() {
    let specs: Vec<Spec> = (0..10).map(|i| spec_of("api_call", "0.1", i, None)).collect();
    let evs = events(&specs);
    let sum = aggregate(&metrics()[0], &evs);
    assert_eq!(sum.quantity().to_string(), "1");
    assert_eq!(sum.event_count(), 10);
}

#[test]
fn no_matching_event_gives_zero_for_every_aggregation() {
    let evs = events(&[spec_of("other", "5", 1, Some("eu"))]);
    for m in metrics() {
        let state = aggregate(&m, &evs);
        assert_eq!((state.quantity(), state.event_count()), (Decimal::ZERO, 0), "{}", m.code);
        assert_eq!(state, AggState::empty(m.aggregation), "{}", m.code);
    }
}

#[test]
fn latest_breaks_timestamp_ties_by_key_whatever_the_order() {
    let latest = metric("l", "api_call", Aggregation::Latest, None, &[]);
    let evs = events(&[
        spec_of("api_call", "1", 5, None),
        spec_of("api_call", "2", 5, None),
        spec_of("api_call", "3", 6, None),
    ]);
    let forward = aggregate(&latest, &evs);
    let backward = aggregate(&latest, evs.iter().rev());
    assert_eq!(forward, backward);
    // Same instant: the larger key (the second event) wins.
    assert_eq!(forward.quantity(), Decimal::from(2));
}

#[test]
fn filters_compare_number_properties_by_their_text() {
    let m = metric("c", "storage", Aggregation::Count, None, &[("seats", &["2"])]);
    let body = r#"{"events":[
        {"idempotency_key":"0192f0c1-0000-7000-8000-000000000001","customer_id":"cus_a","event_name":"storage","properties":{"seats":2}},
        {"idempotency_key":"0192f0c1-0000-7000-8000-000000000002","customer_id":"cus_a","event_name":"storage","properties":{"seats":"2"}},
        {"idempotency_key":"0192f0c1-0000-7000-8000-000000000003","customer_id":"cus_a","event_name":"storage","properties":{"seats":3}},
        {"idempotency_key":"0192f0c1-0000-7000-8000-000000000004","customer_id":"cus_a","event_name":"storage"}
    ]}"#;
    let env = parse_ingest(body.as_bytes(), Timestamp(NOW_MS)).unwrap();
    let evs: Vec<ValidEvent<'_>> = env.events.into_iter().map(Result::unwrap).collect();
    assert_eq!(aggregate(&m, &evs).quantity(), Decimal::from(2));
}
