//! Property test: for any event, the SDK's compact check (what `track()` runs in wasm)
//! and the server's JSON reader give the same verdict: both accept it, or both refuse it
//! with the same code and field. The events are drawn near the rules' edges: keys in
//! either case or malformed, ids with stray characters, names with quotes, control
//! characters and non-ASCII, values as numbers or text (negative, huge, too precise),
//! timestamps near the accepted window, and properties of every kind.
//!
//! And for an accepted event, the JSON the SDK's queue sends for it (`queue::Queue`,
//! written from the compact bytes) reads back on the server as the same event.
#![cfg(not(target_arch = "wasm32"))]

use edgemeter_core::event::{PropValue, Properties};
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::time::Timestamp;
use edgemeter_sdk::compact::{check_compact, Writer, ABSENT, FALSE, NULL, NUMBER, OTHER, STR, TRUE};
use edgemeter_sdk::queue::Queue;
use proptest::prelude::*;
use serde_json::{Map, Value};

const NOW: i64 = 1_795_600_000_000;

/// One field as the caller gave it.
#[derive(Clone, Debug)]
enum V {
    Absent,
    Null,
    Str(String),
    /// A number's JSON text.
    Num(String),
    Bool(bool),
    /// An object or array: no field takes one.
    Other,
}

impl V {
    /// As a property's value, once accepted.
    fn prop(&self) -> Option<PropValue<'_>> {
        match self {
            V::Str(s) => Some(PropValue::Str(s.as_str().into())),
            V::Num(n) => Some(PropValue::Num(n.as_str().into())),
            V::Bool(b) => Some(PropValue::Bool(*b)),
            _ => None,
        }
    }

    fn write(&self, w: &mut Writer) {
        match self {
            V::Absent => w.tag(ABSENT),
            V::Null => w.tag(NULL),
            V::Str(s) => w.str(STR, s),
            V::Num(n) => w.str(NUMBER, n),
            V::Bool(b) => w.tag(if *b { TRUE } else { FALSE }),
            V::Other => w.tag(OTHER),
        };
    }

    fn json(&self) -> Option<Value> {
        match self {
            V::Absent => None,
            V::Null => Some(Value::Null),
            V::Str(s) => Some(Value::String(s.clone())),
            V::Num(n) => Some(serde_json::from_str(n).expect("a JSON number")),
            V::Bool(b) => Some(Value::Bool(*b)),
            V::Other => Some(serde_json::json!({"nested": [1]})),
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,12}",
        "[a-zA-Z0-9 _\"\\\\é€日\u{1F680}-]{0,20}",
        "[\u{0}-\u{1f}a]{1,3}",
        Just("x".repeat(129)),
        Just("é".repeat(128)),
        Just("v".repeat(513)),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..1_000_000).prop_map(|n| n.to_string()),
        (-1000i64..0).prop_map(|n| n.to_string()),
        (0u32..100_000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        Just("1e21".to_string()),
        Just("0.0000000000000000000000000001".to_string()),
        Just("79228162514264337593543950336".to_string()),
    ]
}

fn value() -> impl Strategy<Value = V> {
    prop_oneof![
        Just(V::Absent),
        Just(V::Null),
        text().prop_map(V::Str),
        number().prop_map(V::Str),
        number().prop_map(V::Num),
        any::<bool>().prop_map(V::Bool),
        Just(V::Other),
    ]
}

fn key() -> impl Strategy<Value = V> {
    prop_oneof![
        4 => Just(V::Str("0192f0c1-0000-7000-8000-000000000001".into())),
        1 => Just(V::Str("0192F0C1-0000-7000-8000-00000000000A".into())),
        1 => Just(V::Str("0192f0c1-0000-7000-8000-00000000000g".into())),
        1 => value(),
    ]
}

fn customer() -> impl Strategy<Value = V> {
    prop_oneof![
        4 => "cus_[a-z0-9]{1,26}".prop_map(V::Str),
        1 => "acct_[a-z0-9]{1,5}".prop_map(V::Str),
        1 => "cus_[a-z !é]{1,5}".prop_map(V::Str),
        1 => Just(V::Str(format!("cus_{}", "a".repeat(61)))),
        1 => value(),
    ]
}

fn timestamp() -> impl Strategy<Value = V> {
    prop_oneof![
        3 => Just(V::Absent),
        1 => Just(V::Str("2026-11-25T10:00:00Z".into())),
        1 => Just(V::Str("2026-11-26T12:00:00+01:00".into())),
        1 => Just(V::Str("2026-11-26T11:20:00Z".into())),
        1 => Just(V::Str("2026-10-01T00:00:00Z".into())),
        1 => Just(V::Str("2026-11-25 10:00:00".into())),
        1 => value(),
    ]
}

fn properties() -> impl Strategy<Value = Option<Vec<(String, V)>>> {
    let entry = (prop_oneof![4 => "[a-z]{1,3}", 1 => Just(String::new()), 1 => Just("k".repeat(65))], value());
    prop_oneof![
        1 => Just(None),
        4 => prop::collection::vec(entry, 0..6).prop_map(|list| {
            // Absent values are left out, as JSON.stringify leaves undefined out.
            Some(list.into_iter().filter(|(_, v)| !matches!(v, V::Absent)).collect())
        }),
        1 => Just(Some((0..51).map(|i| (format!("k{i}"), V::Num(i.to_string()))).collect())),
    ]
}

fn comparable(p: &Properties<'_>) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), format!("{v:?}"))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_compact_check_and_the_servers_json_reader_agree(
        key in key(), customer in customer(), name in prop_oneof![3 => "[a-z_]{1,20}".prop_map(V::Str), 1 => value()],
        value in value(), timestamp in timestamp(), props in properties(),
    ) {
        let mut w = Writer::default();
        for v in [&key, &customer, &name, &value, &timestamp] {
            v.write(&mut w);
        }
        w.tag(ABSENT);
        let mut json = Map::new();
        for (field, v) in [("idempotency_key", &key), ("customer_id", &customer), ("event_name", &name), ("value", &value), ("timestamp", &timestamp)] {
            if let Some(j) = v.json() {
                json.insert(field.into(), j);
            }
        }
        match &props {
            None => { w.tag(ABSENT); }
            Some(list) => {
                // A JSON object keeps one value per key: the last, as a JS object does.
                let mut map = Map::new();
                for (k, v) in list {
                    map.insert(k.clone(), v.json().unwrap_or(Value::Null));
                }
                w.object(map.len() as u32);
                let mut written = std::collections::BTreeSet::new();
                for (k, v) in list.iter().rev() {
                    if written.insert(k.clone()) {
                        w.raw_str(k);
                        v.write(&mut w);
                    }
                }
                json.insert("properties".into(), Value::Object(map));
            }
        }
        let body = serde_json::to_vec(&Value::Object(json)).expect("JSON");
        let server = parse_ingest(&body, Timestamp(NOW)).expect("an event object").events.remove(0);
        let sdk = check_compact(&w.buf, NOW);
        match (&server, &sdk) {
            (Ok(s), Ok(c)) => {
                prop_assert_eq!((s.idempotency_key(), s.value(), s.timestamp()), (c.idempotency_key.as_ref(), c.value, c.timestamp));
                let mut queue = Queue::new();
                prop_assert!(queue.push(&w.buf, NOW).is_ok());
                let mut sent = Vec::new();
                prop_assert_eq!(queue.take(1000, 1 << 20, &mut sent), 1);
                let back = parse_ingest(&sent, Timestamp(NOW)).expect("a batch").events.remove(0);
                let back = back.map_err(|r| r.error);
                prop_assert!(back.is_ok(), "sent {} refused: {:?}", String::from_utf8_lossy(&sent), back);
                let back = back.unwrap_or_else(|_| unreachable!());
                prop_assert_eq!(
                    (&back.idempotency_key(), &back.customer_id(), &back.event_name(), back.value(), back.timestamp()),
                    (&s.idempotency_key(), &s.customer_id(), &s.event_name(), s.value(), s.timestamp())
                );
                // Against the properties as written, not the server's reading of this
                // test's JSON: serde_json rewrites a number's text (`1e+21` as `1e21`),
                // and the SDK sends the caller's own.
                let mut written: Vec<(String, String)> = Vec::new();
                for (k, v) in props.iter().flatten().rev() {
                    if !written.iter().any(|(w, _)| w == k) {
                        let v = v.prop().map_or(String::new(), |p| format!("{p:?}"));
                        written.push((k.clone(), v));
                    }
                }
                written.sort();
                prop_assert_eq!(comparable(back.properties()), written);
            }
            (Err(s), Err(c)) => prop_assert_eq!((s.error.code, s.error.field.as_deref()), (c.code, c.field.as_deref())),
            _ => prop_assert!(false, "server {:?} but SDK {:?} for {}", server, sdk, String::from_utf8_lossy(&body)),
        }
    }

    /// Valid events only, with every kind of text where text may go (quotes, backslashes,
    /// control characters in values, non-ASCII): the JSON the queue sends reads back on
    /// the server as exactly the event written.
    #[test]
    fn the_queue_sends_what_was_checked(
        name in "[a-zA-Z0-9 _\"\\\\é€日\u{1F680}-]{1,40}",
        value in prop_oneof![Just(None), number().prop_filter("non-negative", |n| !n.starts_with('-')).prop_map(Some)],
        as_text in any::<bool>(),
        timestamp in prop_oneof![Just(None), Just(Some("2026-11-25T09:00:00.5+01:00".to_string()))],
        props in prop::collection::btree_map(
            "[a-zA-Z0-9 _\"\\\\é\u{1}\n\t-]{1,8}",
            prop_oneof![
                "[a-zA-Z0-9 _\"\\\\é€日\u{0}-\u{1f}\u{7f}\u{2028}-]{0,30}".prop_map(V::Str),
                number().prop_map(V::Num),
                any::<bool>().prop_map(V::Bool),
            ],
            0..8,
        ),
    ) {
        let key = "0192F0C1-0000-7000-8000-00000000000A";
        let mut w = Writer::default();
        w.str(STR, key).str(STR, "cus_1").str(STR, &name);
        match &value {
            Some(n) if as_text => w.str(STR, n),
            Some(n) => w.str(NUMBER, n),
            None => w.tag(ABSENT),
        };
        match &timestamp {
            Some(t) => w.str(STR, t),
            None => w.tag(ABSENT),
        };
        w.tag(ABSENT).object(props.len() as u32);
        for (k, v) in &props {
            w.raw_str(k);
            v.write(&mut w);
        }
        let mut queue = Queue::new();
        let pushed = queue.push(&w.buf, NOW);
        // Too precise or too large values are refused; everything else here is valid.
        prop_assume!(pushed.is_ok());
        let mut sent = Vec::new();
        prop_assert_eq!(queue.take(1000, 1 << 20, &mut sent), 1);
        let back = parse_ingest(&sent, Timestamp(NOW)).expect("a batch").events.remove(0);
        prop_assert!(back.is_ok(), "sent {} refused: {:?}", String::from_utf8_lossy(&sent), back);
        let back = back.unwrap_or_else(|_| unreachable!());
        let canonical = key.to_lowercase();
        prop_assert_eq!(back.idempotency_key(), canonical.as_str());
        prop_assert_eq!(back.event_name(), name.as_str());
        prop_assert_eq!(back.timestamp().millis(), if timestamp.is_some() { 1_795_593_600_500 } else { NOW });
        let expected_value = match &value {
            Some(n) => edgemeter_core::quantity::parse_value(n).expect("pushed, so valid"),
            None => rust_decimal::Decimal::ONE,
        };
        prop_assert_eq!(back.value(), expected_value);
        let written: Vec<(String, String)> =
            props.iter().map(|(k, v)| (k.clone(), v.prop().map_or(String::new(), |p| format!("{p:?}")))).collect();
        prop_assert_eq!(comparable(back.properties()), written);
    }
}
