//! The rules every usage event must pass before any storage is consulted (API.md, "Usage
//! ingestion"), over its fields however they arrived.
//!
//! The server reads the fields from a JSON body (`ingest`); the SDK's wasm reads them
//! from a compact buffer its JavaScript fills straight from the caller's object, with no
//! JSON in between. Both feed [`check_event`], so a client and the server can never
//! disagree on what a valid event is, and neither pays for the other's input format: the
//! properties come through a closure, so the SDK's build never links the JSON parser.

use crate::error::{ApiError, ErrorCode};
use crate::event::{
    PropValue, Properties, MAX_CUSTOMER_ID_LEN, MAX_EVENT_NAME_CHARS, MAX_PROPERTIES, MAX_PROPERTY_KEY_CHARS,
    MAX_PROPERTY_VALUE_CHARS,
};
use crate::quantity::parse_value;
use crate::time::{Timestamp, DAY_MS, MINUTE_MS};
use rust_decimal::Decimal;
use std::borrow::Cow;

/// How far ahead of the server's clock a timestamp may be.
pub const MAX_FUTURE_MS: i64 = 5 * MINUTE_MS;
/// How late an event may arrive: its period can still be invoiced that long, and dedupe
/// records are kept at least that long.
pub const LATE_WINDOW_MS: i64 = 35 * DAY_MS;

/// The message for `properties` that is neither an object nor null.
pub const PROPERTIES_NOT_OBJECT: &str = "`properties` must be an object";
/// The message for `properties` with a key twice.
pub const PROPERTIES_DUPLICATE_KEY: &str = "`properties` has a key twice";

/// An event refused before any storage is consulted, with the key to echo if it had one.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected<'a> {
    pub idempotency_key: Option<Cow<'a, str>>,
    pub error: ApiError,
    /// The event's known fields as sent (raw JSON), for the rejected-events log; filled
    /// by the server's parser, not by the rules.
    pub sent: Option<Box<str>>,
}

/// One field's value as sent, before any rule: what JSON can carry.
#[derive(Clone, Debug, PartialEq)]
pub enum Field<'a> {
    Str(Cow<'a, str>),
    /// A number, as its exact text (`12`, `1.5e3`): never routed through a float.
    Number(Cow<'a, str>),
    Bool(bool),
    Null,
    /// An object, an array, or anything else no field takes.
    Other,
}

/// An event's fields as sent; `None` is an absent field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFields<'a> {
    pub idempotency_key: Option<Field<'a>>,
    pub customer_id: Option<Field<'a>>,
    pub event_name: Option<Field<'a>>,
    pub value: Option<Field<'a>>,
    pub timestamp: Option<Field<'a>>,
    /// The first field that is not an event field.
    pub unknown_key: Option<Cow<'a, str>>,
    /// The first event field sent twice.
    pub duplicate_key: Option<Cow<'a, str>>,
}

/// An event that passed every rule: the parts of a [`crate::event::ValidEvent`] that need
/// no hashing.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedEvent<'a> {
    /// A UUID in canonical lower-case hyphenated form.
    pub idempotency_key: Cow<'a, str>,
    pub customer_id: Cow<'a, str>,
    pub event_name: Cow<'a, str>,
    pub value: Decimal,
    pub timestamp: Timestamp,
    pub timestamp_given: bool,
    pub properties: Properties<'a>,
}

fn reject<'a>(
    key: &Option<Cow<'a, str>>,
    code: ErrorCode,
    msg: impl Into<Cow<'static, str>>,
    field: &'static str,
) -> Rejected<'a> {
    Rejected { idempotency_key: key.clone(), error: ApiError::new(code, msg).field(field), sent: None }
}

/// Applies every rule, in the order that decides which error an event with several
/// problems gets: key, duplicate and unknown fields, customer, name, value, timestamp,
/// properties. `now` is the arrival time; `properties` reads and checks the properties
/// (absent or null: none), and is called only once the other fields passed.
pub fn check_event<'a>(
    f: EventFields<'a>,
    now: Timestamp,
    properties: impl FnOnce() -> Result<Properties<'a>, String>,
) -> Result<CheckedEvent<'a>, Rejected<'a>> {
    use ErrorCode::*;
    let no_key = None;
    let idempotency_key = match f.idempotency_key {
        None | Some(Field::Null) => {
            return Err(reject(&no_key, MissingIdempotencyKey, "`idempotency_key` is required", "idempotency_key"))
        }
        Some(Field::Str(s)) => match canonical_uuid(s) {
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

    if let Some(dup) = f.duplicate_key {
        return Err(reject(&key, InvalidRequest, format!("field `{dup}` appears twice"), "event"));
    }
    if let Some(unknown) = f.unknown_key {
        let mut r = reject(&key, UnknownField, format!("unknown field `{unknown}`"), "event");
        r.error.field = Some(Cow::Owned(unknown.into_owned()));
        return Err(r);
    }

    let customer_id = match f.customer_id {
        None | Some(Field::Null) => {
            return Err(reject(&key, MissingCustomerId, "`customer_id` is required", "customer_id"))
        }
        Some(Field::Str(s)) => s,
        Some(_) => return Err(reject(&key, InvalidCustomerId, "`customer_id` must be a string", "customer_id")),
    };
    // Every customer's id was made by the API (`cus_` then letters and digits), so an id of
    // another shape is a mistake in the caller's code, not a customer unknown yet.
    if !valid_customer_id(&customer_id) || !customer_id.starts_with("cus_") {
        return Err(reject(&key, InvalidCustomerId, CUSTOMER_ID_SHAPE, "customer_id"));
    }

    let event_name = match f.event_name {
        None | Some(Field::Null) => {
            return Err(reject(&key, MissingEventName, "`event_name` is required", "event_name"))
        }
        Some(Field::Str(s)) => s,
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

    let value = match f.value {
        None | Some(Field::Null) => Decimal::ONE,
        Some(Field::Str(s) | Field::Number(s)) => {
            parse_value(&s).map_err(|e| reject(&key, InvalidValue, e.message(), "value"))?
        }
        Some(_) => return Err(reject(&key, InvalidValue, "`value` must be a number or numeric string", "value")),
    };

    let (timestamp, timestamp_given) = match f.timestamp {
        None | Some(Field::Null) => (now, false),
        Some(Field::Str(s)) => match Timestamp::parse_rfc3339(&s) {
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

    let properties = properties().map_err(|m| reject(&key, InvalidProperties, m, "properties"))?;
    Ok(CheckedEvent { idempotency_key, customer_id, event_name, value, timestamp, timestamp_given, properties })
}

/// Checks the key of the property that would be number `index` (from 0).
pub fn check_property_key(key: &str, index: usize) -> Result<(), String> {
    if index == MAX_PROPERTIES {
        return Err(format!("`properties` has more than {MAX_PROPERTIES} keys"));
    }
    if key.is_empty() || (key.len() > MAX_PROPERTY_KEY_CHARS && key.chars().count() > MAX_PROPERTY_KEY_CHARS) {
        return Err(format!("property keys must be 1 to {MAX_PROPERTY_KEY_CHARS} characters"));
    }
    Ok(())
}

/// Checks a property's value (strings are bounded; numbers and bools always pass).
pub fn check_property_value(key: &str, value: &PropValue<'_>) -> Result<(), String> {
    match value {
        PropValue::Str(s) if s.len() > MAX_PROPERTY_VALUE_CHARS && s.chars().count() > MAX_PROPERTY_VALUE_CHARS => {
            Err(format!("property `{key}` is longer than {MAX_PROPERTY_VALUE_CHARS} characters"))
        }
        _ => Ok(()),
    }
}

/// The message for a property value that is not a string, number or bool.
pub fn property_kind_error(key: &str) -> String {
    format!("property `{key}` must be a string, number or bool")
}

/// Properties whose keys and values passed [`check_property_key`] and
/// [`check_property_value`], in canonical order; refused if a key appears twice.
pub fn properties_from_list<'a>(props: Vec<(Cow<'a, str>, PropValue<'a>)>) -> Result<Properties<'a>, String> {
    Properties::new(props).map_err(|_| PROPERTIES_DUPLICATE_KEY.into())
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
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    // Branch-free over all 36 bytes, one table lookup each: the smallest class seen is 0
    // for a byte that is neither a hex digit nor a hyphen, the union has HEX_UPPER for an
    // upper-case digit, and the hyphens counted must be only the four checked above.
    let (mut min, mut any, mut hyphens) = (HEX_LOWER, 0, 0u32);
    for &c in b {
        let class = UUID_CLASS[c as usize];
        min = min.min(class);
        any |= class;
        hyphens += u32::from(class >> 2);
    }
    match min {
        _ if min == 0 || hyphens != 4 => None,
        _ if any & HEX_UPPER != 0 => Some(Cow::Owned(s.to_ascii_lowercase())),
        _ => Some(s),
    }
}

/// What a customer's id looks like, for the error that refuses another shape.
const CUSTOMER_ID_SHAPE: &str = "`customer_id` must be a customer's id as the API made it (POST /v1/customers): \
     `cus_` then letters, digits, `_` or `-`, 64 characters in all at most, such as `cus_01jf3z9k4m5n6p7q8r9s0t1v2w`";

/// Whether `s` is a well-formed customer id: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn valid_customer_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_CUSTOMER_ID_LEN && s.bytes().all(|b| ID_BYTE[b as usize])
}

/// Per byte: whether it may appear in an id (`[A-Za-z0-9_-]`).
const ID_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = matches!(c as u8, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'-');
        c += 1;
    }
    t
};

const HEX_LOWER: u8 = 1;
const HEX_UPPER: u8 = 2;
const HYPHEN: u8 = 4;

/// Per byte: [`HEX_LOWER`] for `0-9a-f`, [`HEX_UPPER`] for `A-F`, [`HYPHEN`] for `-`, 0
/// otherwise.
const UUID_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' | b'a'..=b'f' => HEX_LOWER,
            b'A'..=b'F' => HEX_UPPER,
            b'-' => HYPHEN,
            _ => 0,
        };
        c += 1;
    }
    t
};
