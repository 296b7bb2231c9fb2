//! Parsing and validating an ingest request body (API.md, "Usage ingestion") in one pass
//! over its bytes.
//!
//! A batch is judged per event: one bad event never spoils the others, so the envelope
//! parser records problems instead of failing. Only a body that is not JSON, too large or
//! not an object fails as a whole.

use crate::error::{ApiError, ErrorCode};
use crate::event::{PropValue, Properties, ValidEvent};
use crate::hash::content_hash;
use crate::rules::{
    check_event, check_property_key, check_property_value, properties_from_list, property_kind_error, EventFields,
    Field, PROPERTIES_NOT_OBJECT,
};
use crate::time::Timestamp;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1000;
pub use crate::rules::{canonical_uuid, valid_name, Rejected, LATE_WINDOW_MS, MAX_FUTURE_MS};

/// A parsed request: a single event or a batch, each event valid or rejected.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// `{"events": […]}` rather than one bare event.
    pub batch: bool,
    /// In request order.
    pub events: Vec<Result<ValidEvent<'a>, Rejected<'a>>>,
}

/// Parses and validates a body. `now` is the request's arrival time: it defaults missing
/// timestamps and bounds the accepted ones.
pub fn parse_ingest(body: &[u8], now: Timestamp) -> Result<Envelope<'_>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(payload_too_large());
    }
    // One UTF-8 check for the whole body, so the parser borrows every string as it is
    // instead of checking each one again.
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not valid UTF-8: {e}")))?;
    let mut de = serde_json::Deserializer::from_str(text);
    // A valid event takes more than 64 bytes, so a batch of them never outgrows this.
    let capacity = (body.len() / 64 + 1).min(MAX_BATCH_EVENTS);
    let top = de
        .deserialize_any(TopVisitor { now, capacity })
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not valid JSON: {e}")))?;
    de.end().map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("trailing data after JSON: {e}")))?;
    let top = match top {
        Top::NotObject => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "body must be one event object or {\"events\": [...]}",
            ))
        }
        Top::Object(t) => t,
    };
    match top.events {
        None => Ok(Envelope { batch: false, events: vec![validate(top.event, now)] }),
        Some(events) => {
            if top.event.has_event_fields() {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "a batch holds only `events`; put event fields inside it",
                ));
            }
            if top.duplicate_events {
                return Err(ApiError::new(ErrorCode::InvalidRequest, "field `events` appears twice").field("events"));
            }
            let events = match events {
                Events::NotArray => return Err(ApiError::invalid("events", "`events` must be an array of events")),
                Events::TooMany => {
                    return Err(ApiError::new(
                        ErrorCode::TooManyEvents,
                        format!("a batch holds at most {MAX_BATCH_EVENTS} events"),
                    )
                    .field("events"))
                }
                Events::List(list) => list,
            };
            Ok(Envelope { batch: true, events })
        }
    }
}

fn payload_too_large() -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("body exceeds {MAX_BODY_BYTES} bytes"))
}

// ---------------------------------------------------------------------------------------
// One raw event, read into the fields every rule works on (rules.rs).

fn validate(raw: RawEvent<'_>, now: Timestamp) -> Result<ValidEvent<'_>, Rejected<'_>> {
    if raw.not_object {
        return Err(Rejected {
            idempotency_key: None,
            error: ApiError::new(ErrorCode::InvalidRequest, "each event must be a JSON object"),
            sent: None,
        });
    }
    let sent = raw.known();
    let fields = EventFields {
        idempotency_key: raw.idempotency_key.map(field),
        customer_id: raw.customer_id.map(field),
        event_name: raw.event_name.map(field),
        value: raw.value.map(field),
        timestamp: raw.timestamp.map(field),
        unknown_key: raw.unknown_key,
        duplicate_key: raw.duplicate_key,
    };
    let properties = raw.properties;
    let ev = check_event(fields, now, || match properties {
        None => Ok(Properties::default()),
        Some(r) if r.get() == "null" => Ok(Properties::default()),
        Some(r) => parse_properties(r),
    })
    .map_err(|r| Rejected { sent: Some(sent.render().into_boxed_str()), ..r })?;
    let hash = content_hash(
        &ev.customer_id,
        &ev.event_name,
        ev.value,
        ev.timestamp_given.then_some(ev.timestamp),
        &ev.properties,
    );
    Ok(ValidEvent::checked(ev, hash))
}

/// A raw JSON value as a rule input: strings decoded (borrowed when they have no
/// escapes), numbers as their exact text.
fn field(raw: &RawValue) -> Field<'_> {
    match json_str(raw) {
        JsonStr::Str(s) => Field::Str(s),
        JsonStr::Number => Field::Number(Cow::Borrowed(raw.get())),
        JsonStr::Null => Field::Null,
        JsonStr::Other => match raw.get() {
            "true" => Field::Bool(true),
            "false" => Field::Bool(false),
            _ => Field::Other,
        },
    }
}

/// What a raw JSON value is, with strings decoded (borrowed when they have no escapes).
enum JsonStr<'a> {
    Str(Cow<'a, str>),
    Number,
    Null,
    Other,
}

fn json_str(raw: &RawValue) -> JsonStr<'_> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => {
            let inner = &text[1..text.len() - 1];
            if !inner.contains('\\') {
                JsonStr::Str(Cow::Borrowed(inner))
            } else {
                match serde_json::from_str::<String>(text) {
                    Ok(s) => JsonStr::Str(Cow::Owned(s)),
                    Err(_) => JsonStr::Other,
                }
            }
        }
        Some(b'-' | b'0'..=b'9') => JsonStr::Number,
        Some(b'n') => JsonStr::Null,
        _ => JsonStr::Other,
    }
}

fn parse_properties(raw: &RawValue) -> Result<Properties<'_>, String> {
    if !raw.get().starts_with('{') {
        return Err(PROPERTIES_NOT_OBJECT.into());
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let props = de.deserialize_map(PropsVisitor).map_err(|e| e.to_string())?;
    properties_from_list(props)
}

struct PropsVisitor;

impl<'de> Visitor<'de> for PropsVisitor {
    type Value = Vec<(Cow<'de, str>, PropValue<'de>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<CowStr<'de>>()? {
            let k = k.0;
            check_property_key(&k, out.len()).map_err(de::Error::custom)?;
            let raw: &'de RawValue = map.next_value()?;
            let v = match field(raw) {
                Field::Str(s) => PropValue::Str(s),
                Field::Number(n) => PropValue::Num(n),
                Field::Bool(b) => PropValue::Bool(b),
                Field::Null | Field::Other => return Err(de::Error::custom(property_kind_error(&k))),
            };
            check_property_value(&k, &v).map_err(de::Error::custom)?;
            out.push((k, v));
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// The lenient one-pass envelope parser.

/// A string borrowed from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// An event's known fields as sent, kept for the rejected-events log.
#[derive(Clone, Copy)]
struct KnownFields<'a>([(&'static str, Option<&'a RawValue>); 6]);

impl KnownFields<'_> {
    /// The fields as one JSON object (a cold path: rejected events only).
    fn render(&self) -> String {
        let mut out = String::from("{");
        for (name, v) in self.0 {
            if let Some(v) = v {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(name);
                out.push_str("\":");
                out.push_str(v.get());
            }
        }
        out.push('}');
        out
    }
}

/// An event's fields as raw JSON, before any rule is applied.
#[derive(Default)]
struct RawEvent<'a> {
    not_object: bool,
    idempotency_key: Option<&'a RawValue>,
    customer_id: Option<&'a RawValue>,
    event_name: Option<&'a RawValue>,
    value: Option<&'a RawValue>,
    timestamp: Option<&'a RawValue>,
    properties: Option<&'a RawValue>,
    unknown_key: Option<Cow<'a, str>>,
    duplicate_key: Option<Cow<'a, str>>,
}

impl<'a> RawEvent<'a> {
    /// The fields this parser knows, as sent.
    fn known(&self) -> KnownFields<'a> {
        KnownFields([
            ("idempotency_key", self.idempotency_key),
            ("customer_id", self.customer_id),
            ("event_name", self.event_name),
            ("value", self.value),
            ("timestamp", self.timestamp),
            ("properties", self.properties),
        ])
    }

    fn has_event_fields(&self) -> bool {
        self.idempotency_key.is_some()
            || self.customer_id.is_some()
            || self.event_name.is_some()
            || self.value.is_some()
            || self.timestamp.is_some()
            || self.properties.is_some()
            || self.unknown_key.is_some()
    }
}

enum Events<'a> {
    /// Each event validated as soon as it is read.
    List(Vec<Result<ValidEvent<'a>, Rejected<'a>>>),
    TooMany,
    NotArray,
}

struct TopObject<'a> {
    event: RawEvent<'a>,
    events: Option<Events<'a>>,
    /// `events` appeared twice: one list would be silently dropped.
    duplicate_events: bool,
}

enum Top<'a> {
    Object(TopObject<'a>),
    NotObject,
}

/// Reads one event field into `ev`; returns false when the key is not an event field.
fn read_field<'de, A: MapAccess<'de>>(
    ev: &mut RawEvent<'de>,
    key: Cow<'de, str>,
    map: &mut A,
) -> Result<bool, A::Error> {
    let slot = match key.as_ref() {
        "idempotency_key" => &mut ev.idempotency_key,
        "customer_id" => &mut ev.customer_id,
        "event_name" => &mut ev.event_name,
        "value" => &mut ev.value,
        "timestamp" => &mut ev.timestamp,
        "properties" => &mut ev.properties,
        _ => return Ok(false),
    };
    let raw: &'de RawValue = map.next_value()?;
    if slot.replace(raw).is_some() && ev.duplicate_key.is_none() {
        ev.duplicate_key = Some(key);
    }
    Ok(true)
}

fn skip_unknown<'de, A: MapAccess<'de>>(
    ev: &mut RawEvent<'de>,
    key: Cow<'de, str>,
    map: &mut A,
) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>()?;
    if ev.unknown_key.is_none() {
        ev.unknown_key = Some(key);
    }
    Ok(())
}

struct TopVisitor {
    now: Timestamp,
    capacity: usize,
}

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object or {\"events\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut event = RawEvent::default();
        let mut events = None;
        let mut duplicate_events = false;
        while let Some(CowStr(key)) = map.next_key()? {
            if key == "events" {
                let seed = EventsSeed { now: self.now, capacity: self.capacity };
                duplicate_events |= events.replace(map.next_value_seed(seed)?).is_some();
            } else if !read_field(&mut event, key.clone(), &mut map)? {
                skip_unknown(&mut event, key, &mut map)?;
            }
        }
        Ok(Top::Object(TopObject { event, events, duplicate_events }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Top::NotObject)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Top::NotObject)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Top::NotObject)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Top::NotObject)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Top::NotObject)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Top::NotObject)
    }
}

struct EventsSeed {
    now: Timestamp,
    capacity: usize,
}

impl<'de> DeserializeSeed<'de> for EventsSeed {
    type Value = Events<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(EventsVisitor { now: self.now, capacity: self.capacity })
    }
}

struct EventsVisitor {
    now: Timestamp,
    capacity: usize,
}

impl<'de> Visitor<'de> for EventsVisitor {
    type Value = Events<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(self.capacity).min(MAX_BATCH_EVENTS));
        while let Some(ev) = seq.next_element_seed(EventSeed)? {
            if list.len() == MAX_BATCH_EVENTS {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(Events::TooMany);
            }
            list.push(validate(ev, self.now));
        }
        Ok(Events::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Events::NotArray)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Events::NotArray)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Events::NotArray)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Events::NotArray)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Events::NotArray)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Events::NotArray)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Events::NotArray)
    }
}

struct EventSeed;

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = RawEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = RawEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ev = RawEvent::default();
        while let Some(CowStr(key)) = map.next_key()? {
            if !read_field(&mut ev, key.clone(), &mut map)? {
                skip_unknown(&mut ev, key, &mut map)?;
            }
        }
        Ok(ev)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawEvent { not_object: true, ..Default::default() })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RawEvent { not_object: true, ..Default::default() })
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(RawEvent { not_object: true, ..Default::default() })
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(RawEvent { not_object: true, ..Default::default() })
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(RawEvent { not_object: true, ..Default::default() })
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawEvent { not_object: true, ..Default::default() })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RawEvent { not_object: true, ..Default::default() })
    }
}
