//! The usage event after validation. Parse, don't validate: code that holds a
//! [`ValidEvent`] knows its key is a canonical UUID, its value an exact non-negative
//! decimal, its timestamp UTC, and its properties within limits.

use crate::hash::ContentHash;
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties<'a>(pub Vec<(Cow<'a, str>, PropValue<'a>)>);

impl<'a> Properties<'a> {
    pub fn get(&self, key: &str) -> Option<&PropValue<'a>> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok().map(|i| &self.0[i].1)
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
    /// Reads properties back from storage, where they were written by [`Serialize`]
    /// after validation, so no limit is checked again here.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let mut out = Vec::with_capacity(map.len());
        for (k, v) in map {
            let v = match v {
                serde_json::Value::String(s) => PropValue::Str(Cow::Owned(s)),
                serde_json::Value::Bool(b) => PropValue::Bool(b),
                serde_json::Value::Number(n) => PropValue::Num(Cow::Owned(n.to_string())),
                _ => return Err(serde::de::Error::custom("property values are strings, numbers or bools")),
            };
            out.push((Cow::<str>::Owned(k), v));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Properties(out))
    }
}

/// An event that passed every rule that needs no storage (existence of the customer and
/// of a metric for its name, and dedupe, are checked by the shells).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidEvent<'a> {
    /// A UUID in canonical lower-case hyphenated form.
    pub idempotency_key: Cow<'a, str>,
    pub customer_id: Cow<'a, str>,
    pub event_name: Cow<'a, str>,
    /// Exact, non-negative, normalized (no trailing zeros).
    pub value: Decimal,
    pub timestamp: Timestamp,
    /// Whether the client sent the timestamp. A defaulted one is not part of the content
    /// hash, so a retry received later is still recognised as the same event.
    pub timestamp_given: bool,
    pub properties: Properties<'a>,
    /// Canonical hash of the content, to tell a retry from a reused key.
    pub hash: ContentHash,
}

impl ValidEvent<'_> {
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
