//! Parsing and validating an ingest request body (API.md, "Usage ingestion") in one pass
//! over its bytes.
//!
//! A batch is judged per event: one bad event never spoils the others, so the envelope
//! parser records problems instead of failing. Only a body that is not JSON, too large or
//! not an object fails as a whole.

use crate::error::{ApiError, ErrorCode};
use crate::event::{
    PropValue, Properties, ValidEvent, MAX_CUSTOMER_ID_LEN, MAX_EVENT_NAME_CHARS, MAX_PROPERTIES,
    MAX_PROPERTY_KEY_CHARS, MAX_PROPERTY_VALUE_CHARS,
};
use crate::hash::content_hash;
use crate::quantity::parse_value;
use crate::time::{Timestamp, DAY_MS, MINUTE_MS};
use rust_decimal::Decimal;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// How far ahead of the server's clock a timestamp may be.
pub const MAX_FUTURE_MS: i64 = 5 * MINUTE_MS;
/// How late an event may arrive: its period can still be invoiced that long, and dedupe
/// records are kept at least that long.
pub const LATE_WINDOW_MS: i64 = 35 * DAY_MS;

/// A parsed request: a single event or a batch, each event valid or rejected.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// `{"events": […]}` rather than one bare event.
    pub batch: bool,
    /// In request order.
    pub events: Vec<Result<ValidEvent<'a>, Rejected<'a>>>,
}

/// An event refused before any storage is consulted, with the key to echo if it had one.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected<'a> {
    pub idempotency_key: Option<Cow<'a, str>>,
    pub error: ApiError,
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
// Validation of one raw event.

fn reject<'a>(
    key: &Option<Cow<'a, str>>,
    code: ErrorCode,
    msg: impl Into<Cow<'static, str>>,
    field: &'static str,
) -> Rejected<'a> {
    Rejected { idempotency_key: key.clone(), error: ApiError::new(code, msg).field(field) }
}

fn validate(raw: RawEvent<'_>, now: Timestamp) -> Result<ValidEvent<'_>, Rejected<'_>> {
    use ErrorCode::*;
    if raw.not_object {
        return Err(Rejected {
            idempotency_key: None,
            error: ApiError::new(InvalidRequest, "each event must be a JSON object"),
        });
    }
    let no_key = None;
    let idempotency_key = match raw.idempotency_key.map(json_str) {
        None | Some(JsonStr::Null) => {
            return Err(reject(&no_key, MissingIdempotencyKey, "`idempotency_key` is required", "idempotency_key"))
        }
        Some(JsonStr::Str(s)) => match canonical_uuid(s) {
            Some(k) => k,
            None => {
                return Err(reject(
                    &no_key,
                    InvalidIdempotencyKey,
                    "`idempotency_key` must be a UUID",
                    "idempotency_key",
                ))
            }
        },
        Some(_) => {
            return Err(reject(
                &no_key,
                InvalidIdempotencyKey,
                "`idempotency_key` must be a UUID string",
                "idempotency_key",
            ))
        }
    };
    let key = Some(idempotency_key.clone());

    if let Some(dup) = raw.duplicate_key {
        return Err(reject(&key, InvalidRequest, format!("field `{dup}` appears twice"), "event"));
    }
    if let Some(unknown) = raw.unknown_key {
        let mut r = reject(&key, UnknownField, format!("unknown field `{unknown}`"), "event");
        r.error.field = Some(Cow::Owned(unknown.into_owned()));
        return Err(r);
    }

    let customer_id = match raw.customer_id.map(json_str) {
        None | Some(JsonStr::Null) => {
            return Err(reject(&key, MissingCustomerId, "`customer_id` is required", "customer_id"))
        }
        Some(JsonStr::Str(s)) => s,
        Some(_) => return Err(reject(&key, InvalidCustomerId, "`customer_id` must be a string", "customer_id")),
    };
    if customer_id.is_empty()
        || customer_id.len() > MAX_CUSTOMER_ID_LEN
        || !customer_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(reject(
            &key,
            InvalidCustomerId,
            "`customer_id` must be a customer id such as `cus_…`",
            "customer_id",
        ));
    }
    if !customer_id.starts_with("cus_") {
        return Err(reject(&key, UnknownCustomer, format!("no customer `{customer_id}`"), "customer_id"));
    }

    let event_name = match raw.event_name.map(json_str) {
        None | Some(JsonStr::Null) => {
            return Err(reject(&key, MissingEventName, "`event_name` is required", "event_name"))
        }
        Some(JsonStr::Str(s)) => s,
        Some(_) => return Err(reject(&key, InvalidEventName, "`event_name` must be a string", "event_name")),
    };
    if !valid_name(&event_name, MAX_EVENT_NAME_CHARS) {
        return Err(reject(
            &key,
            InvalidEventName,
            "`event_name` must be 1 to 128 characters with no control characters",
            "event_name",
        ));
    }

    let value = match raw.value.map(|r| (r, json_str(r))) {
        None | Some((_, JsonStr::Null)) => Decimal::ONE,
        Some((_, JsonStr::Str(s))) => parse_value(&s).map_err(|e| reject(&key, InvalidValue, e.message(), "value"))?,
        Some((r, JsonStr::Number)) => {
            parse_value(r.get()).map_err(|e| reject(&key, InvalidValue, e.message(), "value"))?
        }
        Some(_) => return Err(reject(&key, InvalidValue, "`value` must be a number or numeric string", "value")),
    };

    let (timestamp, timestamp_given) = match raw.timestamp.map(json_str) {
        None | Some(JsonStr::Null) => (now, false),
        Some(JsonStr::Str(s)) => match Timestamp::parse_rfc3339(&s) {
            Ok(t) => (t, true),
            Err(_) => {
                return Err(reject(
                    &key,
                    InvalidTimestamp,
                    "`timestamp` must be RFC 3339 with an offset, e.g. 2024-07-15T11:30:00Z",
                    "timestamp",
                ))
            }
        },
        Some(_) => return Err(reject(&key, InvalidTimestamp, "`timestamp` must be an RFC 3339 string", "timestamp")),
    };
    if timestamp.millis() > now.millis().saturating_add(MAX_FUTURE_MS) {
        return Err(reject(&key, TimestampInFuture, "`timestamp` is more than 5 minutes in the future", "timestamp"));
    }
    if timestamp.millis() < now.millis().saturating_sub(LATE_WINDOW_MS) {
        return Err(reject(&key, TimestampTooOld, "`timestamp` is more than 35 days in the past", "timestamp"));
    }

    let properties = match raw.properties {
        None => Properties::default(),
        Some(r) if r.get() == "null" => Properties::default(),
        Some(r) => parse_properties(r).map_err(|m| reject(&key, InvalidProperties, m, "properties"))?,
    };

    let hash = content_hash(&customer_id, &event_name, value, timestamp_given.then_some(timestamp), &properties);
    Ok(ValidEvent { idempotency_key, customer_id, event_name, value, timestamp, timestamp_given, properties, hash })
}

/// A name: 1..=max characters, none of them control characters.
pub fn valid_name(s: &str, max_chars: usize) -> bool {
    if s.is_ascii() {
        // The common case, by bytes: one per character, and the ASCII control characters
        // are those below space and DEL.
        return !s.is_empty() && s.len() <= max_chars && !s.bytes().any(|b| b < b' ' || b == 0x7f);
    }
    !s.is_empty() && (s.len() <= max_chars || s.chars().count() <= max_chars) && !s.chars().any(char::is_control)
}

/// `8-4-4-4-12` hex digits, any case, returned lower-case.
pub fn canonical_uuid(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    // Branch-free over the 32 digits: the smallest class seen is 0 for a non-hex byte, and
    // the union has bit 2 for an upper-case one.
    let (mut min, mut any) = (HEX_LOWER, 0);
    for group in [&b[..8], &b[9..13], &b[14..18], &b[19..23], &b[24..]] {
        for &c in group {
            let class = HEX_CLASS[c as usize];
            min = min.min(class);
            any |= class;
        }
    }
    match min {
        0 => None,
        _ if any & HEX_UPPER != 0 => Some(Cow::Owned(s.to_ascii_lowercase())),
        _ => Some(s),
    }
}

const HEX_LOWER: u8 = 1;
const HEX_UPPER: u8 = 2;

/// Per byte: [`HEX_LOWER`] for `0-9a-f`, [`HEX_UPPER`] for `A-F`, 0 otherwise.
const HEX_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' | b'a'..=b'f' => HEX_LOWER,
            b'A'..=b'F' => HEX_UPPER,
            _ => 0,
        };
        c += 1;
    }
    t
};

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
        return Err("`properties` must be an object".into());
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let mut props = de.deserialize_map(PropsVisitor).map_err(|e| e.to_string())?;
    props.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if props.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err("`properties` has a key twice".into());
    }
    Ok(Properties(props))
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
            if out.len() == MAX_PROPERTIES {
                return Err(de::Error::custom(format!("`properties` has more than {MAX_PROPERTIES} keys")));
            }
            if k.is_empty() || (k.len() > MAX_PROPERTY_KEY_CHARS && k.chars().count() > MAX_PROPERTY_KEY_CHARS) {
                return Err(de::Error::custom(format!(
                    "property keys must be 1 to {MAX_PROPERTY_KEY_CHARS} characters"
                )));
            }
            let raw: &'de RawValue = map.next_value()?;
            let v = match json_str(raw) {
                JsonStr::Str(s) => {
                    if s.len() > MAX_PROPERTY_VALUE_CHARS && s.chars().count() > MAX_PROPERTY_VALUE_CHARS {
                        return Err(de::Error::custom(format!(
                            "property `{k}` is longer than {MAX_PROPERTY_VALUE_CHARS} characters"
                        )));
                    }
                    PropValue::Str(s)
                }
                JsonStr::Number => PropValue::Num(Cow::Borrowed(raw.get())),
                _ => match raw.get() {
                    "true" => PropValue::Bool(true),
                    "false" => PropValue::Bool(false),
                    _ => return Err(de::Error::custom(format!("property `{k}` must be a string, number or bool"))),
                },
            };
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

impl RawEvent<'_> {
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
