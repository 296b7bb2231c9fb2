//! A usage event as `track()` takes it (API.md, "Usage ingestion"), and its wire form.

use edgemeter_core::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

/// One thing that happened, for one customer. Build it with [`Event::new`] and the
/// setters; `timestamp` and `idempotency_key` are filled by `track()` when absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub customer_id: String,
    pub event_name: String,
    /// Default 1 on the server.
    pub value: Option<Quantity>,
    /// RFC 3339 with an offset; default: the time of `track()`.
    pub timestamp: Option<String>,
    /// A UUID; default: a fresh UUIDv7. Set it to make your own retries safe.
    pub idempotency_key: Option<String>,
    /// At most 50; values are strings, numbers or booleans.
    pub properties: Map<String, Value>,
}

impl Event {
    pub fn new(customer_id: impl Into<String>, event_name: impl Into<String>) -> Event {
        Event { customer_id: customer_id.into(), event_name: event_name.into(), ..Event::default() }
    }

    pub fn value(mut self, value: impl Into<Quantity>) -> Event {
        self.value = Some(value.into());
        self
    }

    pub fn timestamp(mut self, rfc3339: impl Into<String>) -> Event {
        self.timestamp = Some(rfc3339.into());
        self
    }

    pub fn idempotency_key(mut self, key: impl Into<String>) -> Event {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Event {
        self.properties.insert(key.into(), value.into());
        self
    }
}

/// An event's value: an exact decimal, sent as a string so it never passes through a
/// binary float. From integers, [`Decimal`] or decimal text (`"85.7"`; checked by
/// `track()` with the server's rules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantity(String);

impl Quantity {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Quantity {
    fn from(s: &str) -> Self {
        Quantity(s.to_owned())
    }
}

impl From<String> for Quantity {
    fn from(s: String) -> Self {
        Quantity(s)
    }
}

impl From<Decimal> for Quantity {
    fn from(d: Decimal) -> Self {
        Quantity(d.normalize().to_string())
    }
}

macro_rules! quantity_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Quantity {
            fn from(n: $t) -> Self {
                Quantity(n.to_string())
            }
        }
    )*};
}
quantity_from_int!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// The event as the API takes it.
#[derive(Serialize)]
pub(crate) struct Wire<'a> {
    pub idempotency_key: &'a str,
    pub customer_id: &'a str,
    pub event_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    pub timestamp: &'a str,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub properties: &'a Map<String, Value>,
}

impl Wire<'_> {
    /// Checks the event with the server's rules and returns its canonical key. It goes
    /// through the compact format, as the npm package does (a property test holds its
    /// verdicts equal to the server's JSON reader's), so `track()` never parses the JSON
    /// it has just written.
    pub(crate) fn check(&self, now_ms: i64) -> Result<String, ApiError> {
        use crate::compact::{check_compact, Writer, ABSENT, FALSE, NULL, NUMBER, OTHER, STR, TRUE};
        // The compact format counts bytes in a u32; no valid field comes near it.
        let too_large = || ApiError::new(ErrorCode::PayloadTooLarge, "an event field over 4 GiB");
        let fits = |s: &str| if u32::try_from(s.len()).is_ok() { Ok(()) } else { Err(too_large()) };
        let mut w = Writer::default();
        for s in [self.idempotency_key, self.customer_id, self.event_name] {
            fits(s)?;
            w.str(STR, s);
        }
        match self.value {
            Some(v) => fits(v).map(|()| w.str(STR, v))?,
            None => w.tag(ABSENT),
        };
        fits(self.timestamp)?;
        // The timestamp, then the slot for an unknown field (a struct has none).
        w.str(STR, self.timestamp).tag(ABSENT);
        if self.properties.is_empty() {
            w.tag(ABSENT); // as the JSON, which leaves an empty map out
        } else {
            w.object(u32::try_from(self.properties.len()).map_err(|_| too_large())?);
            for (k, v) in self.properties {
                fits(k)?;
                w.raw_str(k);
                match v {
                    Value::String(s) => fits(s).map(|()| w.str(STR, s))?,
                    Value::Number(n) => w.str(NUMBER, &n.to_string()),
                    Value::Bool(b) => w.tag(if *b { TRUE } else { FALSE }),
                    Value::Null => w.tag(NULL),
                    Value::Array(_) | Value::Object(_) => w.tag(OTHER),
                };
            }
        }
        Ok(check_compact(&w.buf, now_ms)?.idempotency_key.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_exact_text() {
        assert_eq!(Quantity::from(50u32).as_str(), "50");
        assert_eq!(Quantity::from("35.7").as_str(), "35.7");
        let d: Decimal = "1.2500".parse().unwrap();
        assert_eq!(Quantity::from(d).as_str(), "1.25");
    }

    #[test]
    fn the_wire_form_leaves_out_what_is_unset() {
        let e = Event::new("cus_1", "x");
        let w = Wire {
            idempotency_key: "k",
            customer_id: &e.customer_id,
            event_name: &e.event_name,
            value: None,
            timestamp: "t",
            properties: &e.properties,
        };
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, r#"{"idempotency_key":"k","customer_id":"cus_1","event_name":"x","timestamp":"t"}"#);
    }

    /// The compact check `track()` uses gives the verdict, code and field that the
    /// server's JSON reader gives the JSON `track()` sends.
    #[test]
    fn the_check_agrees_with_the_servers_json_reader() {
        const NOW: i64 = 1_795_600_000_000;
        const KEY: &str = "0192f0c1-0000-7000-8000-000000000001";
        let base = || Event::new("cus_1", "api_calls");
        let long = "x".repeat(513);
        let upper = KEY.to_uppercase();
        let cases: Vec<(&str, Event, Option<&str>)> = vec![
            (KEY, base(), None),
            (upper.as_str(), base().value("2.5").property("region", "eu"), None),
            ("not-a-uuid", base(), None),
            (KEY, Event::new("", "x"), None),
            (KEY, Event::new("acme", "x"), None),
            (KEY, Event::new("cus_1", ""), None),
            (KEY, base().value("-1"), None),
            (KEY, base().value("1e3"), None),
            (KEY, base().value("abc"), None),
            (KEY, base(), Some("2026-11-25T10:00:00")),
            (KEY, base(), Some("2027-11-25T10:00:00Z")),
            (KEY, base(), Some("2026-11-25T09:00:00+01:00")),
            (KEY, base().property("n", 1.5).property("ok", true).property("none", Value::Null), None),
            (KEY, base().property("list", serde_json::json!([1])), None),
            (KEY, base().property("obj", serde_json::json!({"a": 1})), None),
            (KEY, base().property("long", long.as_str()), None),
            (KEY, base().property(long.as_str(), "v"), None),
            (KEY, base().property("", "v"), None),
        ];
        for (key, e, ts) in cases {
            let wire = Wire {
                idempotency_key: key,
                customer_id: &e.customer_id,
                event_name: &e.event_name,
                value: e.value.as_ref().map(Quantity::as_str),
                timestamp: ts.unwrap_or("2026-11-25T09:46:40.000Z"),
                properties: &e.properties,
            };
            let json = serde_json::to_string(&wire).unwrap();
            let server = crate::validate_event(&json, NOW).map_err(|e| (e.code, e.field));
            let ours = wire.check(NOW).map_err(|e| (e.code, e.field));
            assert_eq!(ours, server, "{json}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const NOW: i64 = 1_795_600_000_000;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-z_]{0,12}",
                "[a-zA-Z0-9 _\"\\\\é€\u{1F680}-]{0,16}",
                "[\u{0}-\u{1f}a]{1,3}",
                Just("x".repeat(64)),
                Just("x".repeat(65)),
                Just("v".repeat(512)),
                Just("v".repeat(513)),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                text().prop_map(Value::String),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(Value::from),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
                Just(serde_json::json!([1])),
                Just(serde_json::json!({"a": 1})),
            ]
        }

        fn quantity() -> impl Strategy<Value = Option<String>> {
            prop_oneof![
                Just(None),
                "[0-9]{1,16}".prop_map(Some),
                "-?[0-9]{1,4}\\.[0-9]{1,11}".prop_map(Some),
                "[0-9a-z.e+-]{0,6}".prop_map(Some),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// Whatever the caller builds, `track()`'s check and the server's JSON reader
            /// agree on the verdict, the code and the field.
            #[test]
            fn the_check_agrees_with_the_servers_json_reader_on_any_event(
                key in prop_oneof![
                    Just("0192f0c1-0000-7000-8000-000000000001".to_owned()),
                    Just("0192F0C1-0000-7000-8000-00000000000A".to_owned()),
                    "[0-9a-f-]{0,40}",
                ],
                customer in prop_oneof![Just("cus_1".to_owned()), text()],
                name in text(),
                quantity in quantity(),
                timestamp in prop_oneof![
                    Just("2026-11-25T09:46:40.000Z".to_owned()),
                    Just("2026-11-25T09:50:00Z".to_owned()),
                    Just("2026-11-25T09:52:00+00:00".to_owned()),
                    Just("2026-10-01T00:00:00Z".to_owned()),
                    text(),
                ],
                properties in proptest::collection::vec((text(), value()), 0..4),
            ) {
                let properties: Map<String, Value> = properties.into_iter().collect();
                let wire = Wire {
                    idempotency_key: &key,
                    customer_id: &customer,
                    event_name: &name,
                    value: quantity.as_deref(),
                    timestamp: &timestamp,
                    properties: &properties,
                };
                let json = serde_json::to_string(&wire).unwrap();
                let server = crate::validate_event(&json, NOW).map_err(|e| (e.code, e.field));
                let ours = wire.check(NOW).map_err(|e| (e.code, e.field));
                prop_assert_eq!(ours, server, "{}", json);
            }
        }
    }
}
