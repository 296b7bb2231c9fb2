//! A usage event as `track()` takes it (API.md, "Usage ingestion"), and its wire form.

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
}
