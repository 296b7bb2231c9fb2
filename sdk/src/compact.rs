//! The compact event format that carries an event from JavaScript into the wasm
//! validator, and its reader.
//!
//! `track()` must cost about a microsecond, and a round trip through JSON (stringify in
//! JS, parse in wasm) alone costs several. So the JS client writes the caller's fields
//! straight into a buffer in wasm memory, and this module reads them, borrowing every
//! string, into the same [`EventFields`] the server's JSON reader produces, for the same
//! [`check_event`]. It also keeps the JSON parser out of the package's wasm.
//!
//! Layout (lengths are u32 little-endian, strings UTF-8):
//!
//! ```text
//! event   := field{idempotency_key} field{customer_id} field{event_name} field{value}
//!            field{timestamp} unknown props
//! field   := ABSENT | NULL | STR str | NUMBER str (the number's JSON text) | FALSE | TRUE | OTHER
//! unknown := ABSENT | STR str          (the first field name that is not an event field)
//! props   := ABSENT | NULL | OTHER     (not an object)
//!          | OBJECT u32 n, n × (str key, field value)
//! str     := u32 len, len bytes
//! ```
//!
//! A defaulted timestamp is sent ABSENT: the arrival time `now` stands in for it, as on
//! the server. sdk/js/index.js (`encodeEvent`) is the writer.

use edgemeter_core::event::{PropValue, Properties};
use edgemeter_core::rules::{
    check_event, check_property_key, check_property_value, property_kind_error, CheckedEvent, EventFields, Field,
    PROPERTIES_DUPLICATE_KEY, PROPERTIES_NOT_OBJECT,
};
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use std::borrow::Cow;

pub const ABSENT: u8 = 0;
pub const NULL: u8 = 1;
pub const STR: u8 = 2;
pub const NUMBER: u8 = 3;
pub const FALSE: u8 = 4;
pub const TRUE: u8 = 5;
pub const OTHER: u8 = 6;
pub const OBJECT: u8 = 7;

/// Reads and checks one event in the compact format, with `now_ms` as its arrival time.
pub fn check_compact(buf: &[u8], now_ms: i64) -> Result<CheckedEvent<'_>, ApiError> {
    let mut r = Reader { buf, at: 0 };
    let fields = r.fields().map_err(|Malformed| malformed())?;
    check_event(fields, Timestamp(now_ms), || r.properties()).map_err(|rejected| rejected.error)
}

/// A buffer that does not follow the format: an SDK bug, never the caller's mistake.
/// Zero-sized, so the reader's results stay small on this hot path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Malformed;

/// Reads the format front to back; every read checks its bounds, so a malformed buffer is
/// an error, never a panic.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    /// The event's fields up to its properties.
    fn fields(&mut self) -> Result<EventFields<'a>, Malformed> {
        Ok(EventFields {
            idempotency_key: self.field()?,
            customer_id: self.field()?,
            event_name: self.field()?,
            value: self.field()?,
            timestamp: self.field()?,
            unknown_key: match self.tag()? {
                ABSENT => None,
                STR => Some(Cow::Borrowed(self.str()?)),
                _ => return Err(Malformed),
            },
            duplicate_key: None,
        })
    }

    pub(crate) fn tag(&mut self) -> Result<u8, Malformed> {
        let t = *self.buf.get(self.at).ok_or(Malformed)?;
        self.at += 1;
        Ok(t)
    }

    pub(crate) fn u32(&mut self) -> Result<usize, Malformed> {
        let b = self.buf.get(self.at..self.at + 4).ok_or(Malformed)?;
        self.at += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, Malformed> {
        let len = self.u32()?;
        let bytes = self.buf.get(self.at..self.at + len).ok_or(Malformed)?;
        self.at += len;
        // Most strings are ASCII, and on short strings this test costs a fraction of
        // `from_utf8` (which was a fifth of a check's time).
        if bytes.is_ascii() {
            // SAFETY: ASCII is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|_| Malformed)
    }

    pub(crate) fn value(&mut self, tag: u8) -> Result<Field<'a>, Malformed> {
        Ok(match tag {
            NULL => Field::Null,
            STR => Field::Str(Cow::Borrowed(self.str()?)),
            // The queue writes a number's text into the JSON it sends as it is, so text
            // that is not a JSON number would make the whole batch unreadable (found by
            // fuzzing: `00`). The JS writer never produces such text; the check keeps a
            // broken writer from poisoning a batch.
            NUMBER => Field::Number(Cow::Borrowed(json_number(self.str()?)?)),
            FALSE => Field::Bool(false),
            TRUE => Field::Bool(true),
            OTHER => Field::Other,
            _ => return Err(Malformed),
        })
    }

    pub(crate) fn field(&mut self) -> Result<Option<Field<'a>>, Malformed> {
        match self.tag()? {
            ABSENT => Ok(None),
            t => self.value(t).map(Some),
        }
    }

    /// Checks the properties by the server's rules for each key and value, and refuses a
    /// key twice, as the server does; they are not collected (the caller only needs the
    /// verdict), so no allocation. A malformed buffer is reported as such, not as the
    /// caller's mistake.
    fn properties(&mut self) -> Result<Properties<'a>, String> {
        let malformed = |Malformed| MALFORMED.to_string();
        match self.tag().map_err(malformed)? {
            ABSENT | NULL => return Ok(Properties::default()),
            OTHER => return Err(PROPERTIES_NOT_OBJECT.into()),
            OBJECT => {}
            _ => return Err(MALFORMED.into()),
        }
        let n = self.u32().map_err(malformed)?;
        let first = self.at;
        for i in 0..n {
            let key = self.str().map_err(malformed)?;
            check_property_key(key, i)?;
            // A JS object cannot hold a key twice, but the format could.
            if i > 0 && self.has_key(first, i, key) {
                return Err(PROPERTIES_DUPLICATE_KEY.into());
            }
            let tag = self.tag().map_err(malformed)?;
            let value = match self.value(tag).map_err(malformed)? {
                Field::Str(s) => PropValue::Str(s),
                Field::Number(n) => PropValue::Num(n),
                Field::Bool(b) => PropValue::Bool(b),
                Field::Null | Field::Other => return Err(property_kind_error(key)),
            };
            check_property_value(key, &value)?;
        }
        Ok(Properties::default())
    }

    /// Whether one of the `count` properties written from `from` (already read, so
    /// well-formed) has the key `key`: a scan, cheaper for the usual handful of keys
    /// than keeping the keys seen (at most MAX_PROPERTIES, beyond which the key check
    /// refuses).
    fn has_key(&self, from: usize, count: usize, key: &str) -> bool {
        let mut r = Reader { buf: self.buf, at: from };
        for _ in 0..count {
            match r.raw() {
                Some(k) if k == key.as_bytes() => return true,
                Some(_) => {}
                None => return false,
            }
            match r.tag() {
                Ok(STR | NUMBER) if r.raw().is_some() => {}
                Ok(NULL | FALSE | TRUE | OTHER) => {}
                _ => return false,
            }
        }
        false
    }

    /// A string's bytes, unchecked.
    fn raw(&mut self) -> Option<&'a [u8]> {
        let len = self.u32().ok()?;
        let bytes = self.buf.get(self.at..self.at + len)?;
        self.at += len;
        Some(bytes)
    }
}

/// `s` if it is a JSON number (RFC 8259: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`).
fn json_number(s: &str) -> Result<&str, Malformed> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return Err(Malformed),
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return Err(Malformed);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(Malformed);
        }
    }
    if i == b.len() {
        Ok(s)
    } else {
        Err(Malformed)
    }
}

const MALFORMED: &str = "malformed event buffer (an SDK bug)";

fn malformed() -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, MALFORMED)
}

/// Writes the compact format: the native client's `track()` (`native::event`) and the
/// tests (in the npm package the JS client writes it straight into wasm memory).
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn tag(&mut self, tag: u8) -> &mut Self {
        self.buf.push(tag);
        self
    }

    pub fn str(&mut self, tag: u8, s: &str) -> &mut Self {
        self.buf.push(tag);
        self.raw_str(s)
    }

    /// A string with no tag before it (a property key).
    pub fn raw_str(&mut self, s: &str) -> &mut Self {
        self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// `OBJECT` and the number of properties that follow.
    pub fn object(&mut self, n: u32) -> &mut Self {
        self.buf.push(OBJECT);
        self.buf.extend_from_slice(&n.to_le_bytes());
        self
    }

    /// A field: `STR` or `NUMBER` with its text, or any other tag alone.
    pub fn field(&mut self, tag: u8, text: &str) -> &mut Self {
        if tag == STR || tag == NUMBER {
            self.str(tag, text)
        } else {
            self.tag(tag)
        }
    }

    /// `OBJECT` and its properties, each a key and a field (`tag`, `text`).
    pub fn props(&mut self, props: &[(&str, u8, &str)]) -> &mut Self {
        self.object(props.len() as u32);
        for (key, tag, text) in props {
            self.raw_str(key).field(*tag, text);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgemeter_core::ingest::parse_ingest;

    const NOW: i64 = 1_795_600_000_000;
    const KEY: &str = "0192f0c1-0000-7000-8000-000000000001";

    fn event(customer: &str, value: (u8, &str), props: &[(&str, u8, &str)]) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(STR, KEY).str(STR, customer).str(STR, "api_calls").field(value.0, value.1);
        w.tag(ABSENT).tag(ABSENT).props(props);
        w.buf
    }

    #[test]
    fn a_valid_event_reads_as_the_server_reads_its_json() {
        let buf = event("cus_1", (NUMBER, "2.50"), &[("region", STR, "eu"), ("n", NUMBER, "3"), ("ok", TRUE, "")]);
        let ev = check_compact(&buf, NOW).unwrap();
        let json = format!(
            r#"{{"idempotency_key":"{KEY}","customer_id":"cus_1","event_name":"api_calls","value":2.50,"properties":{{"region":"eu","n":3,"ok":true}}}}"#
        );
        let env = parse_ingest(json.as_bytes(), edgemeter_core::time::Timestamp(NOW)).unwrap();
        let server = env.events.into_iter().next().unwrap().unwrap();
        assert_eq!(
            (ev.idempotency_key.as_ref(), ev.customer_id.as_ref(), ev.event_name.as_ref(), ev.value, ev.timestamp),
            (server.idempotency_key(), server.customer_id(), server.event_name(), server.value(), server.timestamp())
        );
        assert_eq!(server.properties().len(), 3);
        assert!(ev.properties.is_empty(), "checked in place, not collected");
    }

    #[test]
    fn a_key_twice_in_properties_is_refused_as_the_server_refuses_it() {
        let buf = event("cus_1", (ABSENT, ""), &[("region", STR, "eu"), ("n", NUMBER, "3"), ("region", STR, "us")]);
        let e = check_compact(&buf, NOW).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidProperties, Some("properties")));
        assert_eq!(e.message, edgemeter_core::rules::PROPERTIES_DUPLICATE_KEY);
    }

    #[test]
    fn errors_carry_the_servers_codes_and_fields() {
        let cases: [(Vec<u8>, ErrorCode, &str); 4] = [
            (event("acme", (ABSENT, ""), &[]), ErrorCode::InvalidCustomerId, "customer_id"),
            (event("cus_1", (NUMBER, "-1"), &[]), ErrorCode::InvalidValue, "value"),
            (event("cus_1", (TRUE, ""), &[]), ErrorCode::InvalidValue, "value"),
            (event("cus_1", (ABSENT, ""), &[("x", OTHER, "")]), ErrorCode::InvalidProperties, "properties"),
        ];
        for (buf, code, field) in cases {
            let e = check_compact(&buf, NOW).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), (code, Some(field)));
        }
    }

    #[test]
    fn a_truncated_buffer_is_an_sdk_bug_not_a_panic() {
        let buf = event("cus_1", (NUMBER, "1"), &[("region", STR, "eu")]);
        for cut in 0..buf.len() {
            let e = check_compact(&buf[..cut], NOW).unwrap_err();
            assert!(e.message.contains("malformed") || e.code == ErrorCode::InvalidProperties, "{cut}: {e:?}");
        }
    }

    /// Found by `make fuzz` (compact_reader): a NUMBER whose text is not a JSON number
    /// was accepted, and the queue then sent a batch the server could not read.
    #[test]
    fn a_number_that_is_not_json_is_a_malformed_buffer() {
        for bad in ["00", "01", "1.", ".5", "+1", "1e", "-", "", "0x10", "1_000", "NaN", "Infinity", " 1"] {
            let buf = event("cus_1", (NUMBER, bad), &[]);
            assert_eq!(check_compact(&buf, NOW).map(|_| ()).unwrap_err().code, ErrorCode::InvalidRequest, "{bad:?}");
            let buf = event("cus_1", (ABSENT, ""), &[("n", NUMBER, bad)]);
            assert!(check_compact(&buf, NOW).is_err(), "property {bad:?}");
        }
        for good in ["0", "-0", "10", "2.50", "1e3", "1E-2", "-0.5e+2"] {
            let buf = event("cus_1", (ABSENT, ""), &[("n", NUMBER, good)]);
            assert!(check_compact(&buf, NOW).is_ok(), "{good:?}");
        }
    }
}
