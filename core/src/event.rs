//! The usage event after validation. Parse, don't validate: code that holds a
//! [`ValidEvent`] knows its key is a canonical UUID, its value an exact non-negative
//! decimal, its timestamp UTC, and its properties within limits.

use crate::hash::ContentHash;
use crate::rules::CheckedEvent;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Most property keys an event may carry.
pub const MAX_PROPERTIES: usize = 50;
/// Longest property key, in characters.
pub const MAX_PROPERTY_KEY_CHARS: usize = 64;
/// Longest string property value, in characters.
pub const MAX_PROPERTY_VALUE_CHARS: usize = 512;
/// Longest event name, in characters.
pub const MAX_EVENT_NAME_CHARS: usize = 128;
/// Longest customer id, in bytes (ids are ASCII).
pub const MAX_CUSTOMER_ID_LEN: usize = 64;

/// A property value: a string, a JSON number kept as its exact text, or a bool.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PropValue<'a> {
    Str(Cow<'a, str>),
    /// The number's JSON text, as sent (`12`, `1.5e3`): never routed through a float.
    Num(Cow<'a, str>),
    Bool(bool),
}

impl PropValue<'_> {
    /// The text filters and `unique_count` compare: a string as is, a number's JSON text,
    /// `true` / `false`.
    pub fn as_text(&self) -> &str {
        match self {
            PropValue::Str(s) | PropValue::Num(s) => s,
            PropValue::Bool(true) => "true",
            PropValue::Bool(false) => "false",
        }
    }

    pub fn into_owned(self) -> PropValue<'static> {
        match self {
            PropValue::Str(s) => PropValue::Str(Cow::Owned(s.into_owned())),
            PropValue::Num(s) => PropValue::Num(Cow::Owned(s.into_owned())),
            PropValue::Bool(b) => PropValue::Bool(b),
        }
    }
}

impl Serialize for PropValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PropValue::Str(v) => s.serialize_str(v),
            PropValue::Num(v) => match serde_json::value::RawValue::from_string(v.to_string()) {
                Ok(raw) => raw.serialize(s),
                Err(_) => s.serialize_str(v),
            },
            PropValue::Bool(b) => s.serialize_bool(*b),
        }
    }
}

/// Properties sorted by key, keys unique: the canonical order for hashing and storage.
/// Only [`Properties::new`] makes one (and reading storage goes through it), so every
/// value is in that order whoever built it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties<'a>(Vec<(Cow<'a, str>, PropValue<'a>)>);

/// Two properties with the same key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey(pub String);

impl<'a> Properties<'a> {
    /// The pairs in canonical order; refused if a key appears twice.
    pub fn new(mut pairs: Vec<(Cow<'a, str>, PropValue<'a>)>) -> Result<Properties<'a>, DuplicateKey> {
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        match pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            Some(w) => Err(DuplicateKey(w[0].0.to_string())),
            None => Ok(Properties(pairs)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&PropValue<'a>> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok().map(|i| &self.0[i].1)
    }

    /// The pairs, sorted by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &PropValue<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_owned(self) -> Properties<'static> {
        Properties(self.0.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect())
    }
}

impl Serialize for Properties<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

impl<'de, 'a> Deserialize<'de> for Properties<'a> {
    /// Reads properties back from storage (and from the front's call to the customer's
    /// object), where they were written by [`Serialize`] after validation, so no limit is
    /// checked again here. A number keeps its exact text, as at ingest: through a float
    /// `1.5e3` would come back `1500.0`, a 30-digit integer rounded, and `1e400` not at
    /// all (the call refused whole).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Properties<'static>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings, numbers and bools")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    let raw: Box<serde_json::value::RawValue> = map.next_value()?;
                    let text = raw.get();
                    let v = match text.as_bytes().first() {
                        Some(b'"') => PropValue::Str(Cow::Owned(
                            serde_json::from_str::<String>(text).map_err(serde::de::Error::custom)?,
                        )),
                        Some(b'-' | b'0'..=b'9') => PropValue::Num(Cow::Owned(text.to_owned())),
                        _ if text == "true" => PropValue::Bool(true),
                        _ if text == "false" => PropValue::Bool(false),
                        _ => return Err(serde::de::Error::custom("property values are strings, numbers or bools")),
                    };
                    out.push((Cow::<str>::Owned(k), v));
                }
                Properties::new(out).map_err(|d| serde::de::Error::custom(format!("property `{}` twice", d.0)))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// An event that passed every rule that needs no storage (existence of the customer and
/// of a metric for its name, and dedupe, are checked by the shells). Only the parser
/// (`crate::ingest`) and [`EventRecord::to_valid`] (an event stored after that parser
/// passed it) make one, so its fields are read, never set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidEvent<'a> {
    idempotency_key: Cow<'a, str>,
    customer_id: Cow<'a, str>,
    event_name: Cow<'a, str>,
    value: Decimal,
    timestamp: Timestamp,
    timestamp_given: bool,
    properties: Properties<'a>,
    hash: ContentHash,
}

impl<'a> ValidEvent<'a> {
    /// An event the rules passed (`rules::check_event`), with its content hash.
    pub(crate) fn checked(ev: CheckedEvent<'a>, hash: ContentHash) -> ValidEvent<'a> {
        ValidEvent {
            idempotency_key: ev.idempotency_key,
            customer_id: ev.customer_id,
            event_name: ev.event_name,
            value: ev.value,
            timestamp: ev.timestamp,
            timestamp_given: ev.timestamp_given,
            properties: ev.properties,
            hash,
        }
    }

    /// A UUID in canonical lower-case hyphenated form.
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    pub fn customer_id(&self) -> &str {
        &self.customer_id
    }

    pub fn event_name(&self) -> &str {
        &self.event_name
    }

    /// Exact, non-negative, normalized (no trailing zeros).
    pub fn value(&self) -> Decimal {
        self.value
    }

    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// Whether the client sent the timestamp. A defaulted one is not part of the content
    /// hash, so a retry received later is still recognised as the same event.
    pub fn timestamp_given(&self) -> bool {
        self.timestamp_given
    }

    pub fn properties(&self) -> &Properties<'a> {
        &self.properties
    }

    /// Canonical hash of the content, to tell a retry from a reused key.
    pub fn hash(&self) -> ContentHash {
        self.hash
    }

    pub fn into_owned(self) -> ValidEvent<'static> {
        ValidEvent {
            idempotency_key: Cow::Owned(self.idempotency_key.into_owned()),
            customer_id: Cow::Owned(self.customer_id.into_owned()),
            event_name: Cow::Owned(self.event_name.into_owned()),
            value: self.value,
            timestamp: self.timestamp,
            timestamp_given: self.timestamp_given,
            properties: self.properties.into_owned(),
            hash: self.hash,
        }
    }
}

/// An event as it travels to its customer's object and as that object stores it:
/// validated, its customer implied by the object. One shape on the wire and in storage,
/// so the object stores the bytes of each event without another model in between.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord<'a> {
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    #[serde(borrow)]
    pub event_name: Cow<'a, str>,
    pub value: Decimal,
    /// Milliseconds since the epoch, UTC.
    pub ts: i64,
    pub ts_given: bool,
    pub props: Properties<'a>,
    pub hash: ContentHash,
}

impl<'a> EventRecord<'a> {
    pub fn from_valid(ev: &'a ValidEvent<'a>) -> EventRecord<'a> {
        EventRecord {
            key: Cow::Borrowed(&ev.idempotency_key),
            event_name: Cow::Borrowed(&ev.event_name),
            value: ev.value,
            ts: ev.timestamp.millis(),
            ts_given: ev.timestamp_given,
            // Borrowed property strings are copied as pointers, not bytes.
            props: ev.properties.clone(),
            hash: ev.hash,
        }
    }

    pub fn into_owned(self) -> EventRecord<'static> {
        EventRecord {
            key: Cow::Owned(self.key.into_owned()),
            event_name: Cow::Owned(self.event_name.into_owned()),
            value: self.value,
            ts: self.ts,
            ts_given: self.ts_given,
            props: self.props.into_owned(),
            hash: self.hash,
        }
    }

    /// Back to the validated event, for aggregation inside the customer's object.
    pub fn to_valid<'s>(&'s self, customer_id: &'s str) -> ValidEvent<'s> {
        ValidEvent {
            idempotency_key: Cow::Borrowed(&self.key),
            customer_id: Cow::Borrowed(customer_id),
            event_name: Cow::Borrowed(&self.event_name),
            value: self.value,
            timestamp: Timestamp(self.ts),
            timestamp_given: self.ts_given,
            properties: self.props.clone(),
            hash: self.hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::parse_ingest;

    /// Found by the fuzz target `ingest_envelope` (`make fuzz`): a number property past
    /// what a float holds exactly came back from storage as float text.
    #[test]
    fn a_stored_number_property_reads_back_as_its_exact_text() {
        let body = br#"{"events":[{"idempotency_key":"0192f0c1-0000-7000-8000-000000000001","customer_id":"cus_a","event_name":"timestaepinJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJ0","properties":{"region":"eu","n":5555555555555555555555555555555555555555555555553,"b":true}}]}"#;
        let envelope = parse_ingest(body, Timestamp(1_795_600_000_000)).expect("an envelope");
        let ev = envelope.events[0].as_ref().expect("a valid event");
        let record = EventRecord::from_valid(ev);
        let stored = serde_json::to_string(&record).expect("serializes");
        let back: EventRecord = serde_json::from_str(&stored).expect("reads back");
        assert_eq!(back, record, "stored as {stored}");
    }

    #[test]
    fn properties_are_in_key_order_however_they_are_made() {
        let s = |t: &'static str| PropValue::Str(Cow::Borrowed(t));
        let made = Properties::new(vec![(Cow::Borrowed("b"), s("2")), (Cow::Borrowed("a"), s("1"))]).expect("unique");
        assert_eq!(made.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(made.get("a"), Some(&s("1")), "found by binary search, so only when sorted");
        let read: Properties = serde_json::from_str(r#"{"b": "2", "a": "1"}"#).expect("reads");
        assert_eq!(read, made);
        let twice = vec![(Cow::Borrowed("a"), s("1")), (Cow::Borrowed("a"), s("2"))];
        assert_eq!(Properties::new(twice), Err(DuplicateKey("a".into())));
        assert!(serde_json::from_str::<Properties>(r#"{"a": 1, "a": 2}"#).is_err());
    }

    #[test]
    fn numbers_no_float_holds_keep_their_text_and_other_values_their_kind() {
        let texts = ["1.5e3", "1E2", "-0", "0.30000000000000004", "123456789012345678901", "1e400", "-1e400"];
        for t in texts {
            let props: Properties = serde_json::from_str(&format!("{{\"n\": {t}}}")).expect("reads");
            assert_eq!(props.get("n"), Some(&PropValue::Num(Cow::Borrowed(t))));
            assert_eq!(serde_json::to_string(&props).expect("writes"), format!("{{\"n\":{t}}}"));
        }
        let props: Properties = serde_json::from_str(r#"{"s": "a\"b\u00e9", "t": true, "f": false}"#).expect("reads");
        assert_eq!(
            props.iter().map(|(k, v)| (Cow::Borrowed(k), v.clone())).collect::<Vec<_>>(),
            vec![
                (Cow::Borrowed("f"), PropValue::Bool(false)),
                (Cow::Borrowed("s"), PropValue::Str(Cow::Borrowed("a\"bé"))),
                (Cow::Borrowed("t"), PropValue::Bool(true)),
            ]
        );
        for bad in [r#"{"n": null}"#, r#"{"n": [1]}"#, r#"{"n": {}}"#, "[]"] {
            assert!(serde_json::from_str::<Properties>(bad).is_err(), "{bad}");
        }
    }
}
