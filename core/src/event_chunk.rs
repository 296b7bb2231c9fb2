//! Several events in one stored value: how a customer's object keeps the events of one
//! call (and one service period) in a single row, so that storing an event costs its
//! small key row and a share of one appended row instead of a row of its own in a
//! b-tree ordered by random keys (ARCHITECTURE.md "What a customer's object stores").
//!
//! The format is ours, binary and versioned by its first byte. Version 1, per event:
//!
//! | field | bytes |
//! | --- | --- |
//! | idempotency key (a canonical UUID) | 16 |
//! | content hash | 16, big-endian |
//! | flags: 1 = timestamp given, 2 = properties follow | 1 |
//! | timestamp, ms since the epoch | 8, little-endian, signed |
//! | event name | varint length, UTF-8 |
//! | value, as `Decimal`'s text (its scale kept) | varint length, ASCII |
//! | properties, when flagged: their JSON object | varint length, UTF-8 |
//!
//! A length is a little-endian base-128 varint, not always the shortest: properties are
//! written in place after a five-byte length, set once their JSON is written.
//!
//! Decoding checks every length and every field, so a damaged value is an error, never a
//! panic or a wrong event.

use crate::event::{EventRecord, Properties};
use crate::hash::ContentHash;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::str::FromStr;

const VERSION: u8 = 1;
const TS_GIVEN: u8 = 1;
const HAS_PROPS: u8 = 2;

/// A value that is not a chunk this code wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadChunk(pub &'static str);

impl std::fmt::Display for BadChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a stored event chunk is damaged: {}", self.0)
    }
}

/// The 16 bytes of a key in canonical UUID form (lower-case hex, hyphenated), the only
/// keys ingest accepts; `None` for any other text.
pub fn key_bytes(key: &str) -> Option<[u8; 16]> {
    let b = key.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut out = [0u8; 16];
    let mut digits = b.iter().filter(|&&c| c != b'-');
    for o in out.iter_mut() {
        let hi = lower_hex(*digits.next()?)?;
        let lo = lower_hex(*digits.next()?)?;
        *o = hi << 4 | lo;
    }
    Some(out)
}

fn lower_hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// A key's canonical text from its 16 bytes.
pub fn key_text(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Appends a chunk of `events` to `out`. Every key must be a canonical UUID.
pub fn encode<'e, 'a: 'e>(
    events: impl IntoIterator<Item = &'e EventRecord<'a>>,
    out: &mut Vec<u8>,
) -> Result<(), BadChunk> {
    begin(out);
    events.into_iter().try_for_each(|ev| push(ev, out))
}

/// Starts a chunk in `out`; [`push`] adds its events one by one (so a writer can close a
/// chunk at a size of its choosing).
pub fn begin(out: &mut Vec<u8>) {
    out.push(VERSION);
}

/// Appends one event to the chunk begun in `out`. Its key must be a canonical UUID.
pub fn push(ev: &EventRecord<'_>, out: &mut Vec<u8>) -> Result<(), BadChunk> {
    out.extend_from_slice(&key_bytes(&ev.key).ok_or(BadChunk("a key that is not a canonical UUID"))?);
    out.extend_from_slice(&ev.hash.0.to_be_bytes());
    let props = !ev.props.is_empty();
    out.push(if ev.ts_given { TS_GIVEN } else { 0 } | if props { HAS_PROPS } else { 0 });
    out.extend_from_slice(&ev.ts.to_le_bytes());
    put_bytes(out, ev.event_name.as_bytes());
    // A decimal's text is at most 30 digits, a sign and a point: one length byte.
    let at = out.len();
    out.push(0);
    write!(Bytes(out), "{}", ev.value).map_err(|_| BadChunk("a value that does not format"))?;
    out[at] = (out.len() - at - 1) as u8;
    if props {
        // Written in place after a length of the most bytes it could take, then the
        // length set: no second buffer for the JSON.
        let at = out.len();
        out.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0]);
        serde_json::to_writer(&mut *out, &ev.props).map_err(|_| BadChunk("properties that do not serialize"))?;
        let n = out.len() - at - 5;
        if n >= 1 << 28 {
            return Err(BadChunk("properties too long"));
        }
        for (i, b) in out[at..at + 5].iter_mut().enumerate() {
            let part = (n >> (7 * i)) as u8 & 0x7f;
            *b = if i < 4 { part | 0x80 } else { part };
        }
    }
    Ok(())
}

/// `fmt::Write` into a byte buffer.
struct Bytes<'v>(&'v mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Every event of a chunk, in the order stored; names borrow from `chunk`.
pub fn decode(chunk: &[u8]) -> Result<Vec<EventRecord<'_>>, BadChunk> {
    let mut r = Reader(chunk);
    if r.take(1)? != [VERSION] {
        return Err(BadChunk("an unknown version"));
    }
    let mut events = Vec::with_capacity(chunk.len() / 48);
    while !r.0.is_empty() {
        let key: [u8; 16] = r.take(16)?.try_into().map_err(|_| BadChunk("a short key"))?;
        let hash = u128::from_be_bytes(r.take(16)?.try_into().map_err(|_| BadChunk("a short hash"))?);
        let flags = r.take(1)?[0];
        if flags & !(TS_GIVEN | HAS_PROPS) != 0 {
            return Err(BadChunk("unknown flags"));
        }
        let ts = i64::from_le_bytes(r.take(8)?.try_into().map_err(|_| BadChunk("a short timestamp"))?);
        let name = std::str::from_utf8(r.bytes()?).map_err(|_| BadChunk("an event name that is not UTF-8"))?;
        let value = std::str::from_utf8(r.bytes()?).map_err(|_| BadChunk("a value that is not text"))?;
        let value = Decimal::from_str(value).map_err(|_| BadChunk("a value that is not a decimal"))?;
        let props = if flags & HAS_PROPS != 0 {
            serde_json::from_slice::<Properties>(r.bytes()?)
                .map_err(|_| BadChunk("properties that do not parse"))?
                .into_owned()
        } else {
            Properties::default()
        };
        events.push(EventRecord {
            key: Cow::Owned(key_text(&key)),
            event_name: Cow::Borrowed(name),
            value,
            ts,
            ts_given: flags & TS_GIVEN != 0,
            props,
            hash: ContentHash(hash),
        });
    }
    Ok(events)
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let mut n = b.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(b);
}

struct Reader<'c>(&'c [u8]);

impl<'c> Reader<'c> {
    fn take(&mut self, n: usize) -> Result<&'c [u8], BadChunk> {
        if self.0.len() < n {
            return Err(BadChunk("it ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'c [u8], BadChunk> {
        let mut n: usize = 0;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)?[0];
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return self.take(n);
            }
        }
        Err(BadChunk("a length too long"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::PropValue;

    fn record(key: &str, name: &str, value: &str, ts_given: bool, props: Properties<'static>) -> EventRecord<'static> {
        EventRecord {
            key: Cow::Owned(key.to_owned()),
            event_name: Cow::Owned(name.to_owned()),
            value: Decimal::from_str(value).unwrap(),
            ts: 1_767_225_600_123,
            ts_given,
            props,
            hash: ContentHash(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
        }
    }

    #[test]
    fn events_come_back_as_they_went_in() {
        let props = Properties::new(vec![
            (Cow::Borrowed("region"), PropValue::Str(Cow::Borrowed("eu \"west\" é"))),
            (Cow::Borrowed("n"), PropValue::Num(Cow::Borrowed("1.5e3"))),
        ])
        .unwrap()
        .into_owned();
        let long_name = "x".repeat(300);
        let events = vec![
            record("0192f0c1-0000-7000-8000-00000000000a", "ocr", "1", false, Properties::default()),
            record("ffffffff-ffff-4fff-bfff-ffffffffffff", &long_name, "-12.50", true, props),
            record("00000000-0000-4000-8000-000000000000", "kyc", "0.000000001", true, Properties::default()),
        ];
        let mut out = Vec::new();
        encode(&events, &mut out).unwrap();
        assert_eq!(decode(&out).unwrap(), events);
        // Scale is kept: "-12.50" stays two places.
        assert_eq!(decode(&out).unwrap()[1].value.to_string(), "-12.50");
    }

    #[test]
    fn an_empty_chunk_is_one_byte() {
        let mut out = Vec::new();
        encode(&[], &mut out).unwrap();
        assert_eq!(out, [VERSION]);
        assert_eq!(decode(&out).unwrap(), vec![]);
    }

    #[test]
    fn keys_other_than_canonical_uuids_are_refused() {
        for key in ["0192F0C1-0000-7000-8000-00000000000A", "0192f0c1000070008000000000000000000a", "nope", ""] {
            assert_eq!(key_bytes(key), None, "{key}");
            let mut out = Vec::new();
            assert!(encode(&[record_key(key)], &mut out).is_err());
        }
        let k = "0192f0c1-0000-7000-8000-00000000000a";
        assert_eq!(key_text(&key_bytes(k).unwrap()), k);
    }

    fn record_key(key: &str) -> EventRecord<'static> {
        record("00000000-0000-4000-8000-000000000000", "x", "1", false, Properties::default()).with_key(key)
    }

    impl EventRecord<'static> {
        fn with_key(mut self, key: &str) -> Self {
            self.key = Cow::Owned(key.to_owned());
            self
        }
    }

    #[test]
    fn every_truncation_and_bad_byte_is_an_error_not_a_panic() {
        let events = vec![record("0192f0c1-0000-7000-8000-00000000000a", "ocr", "2.5", true, Properties::default())];
        let mut out = Vec::new();
        encode(&events, &mut out).unwrap();
        for n in 0..out.len() {
            if n != 1 {
                assert!(decode(&out[..n]).is_err(), "truncated at {n}");
            }
        }
        for i in 0..out.len() {
            for b in [0u8, 0x7f, 0x80, 0xff] {
                let mut bad = out.clone();
                bad[i] = b;
                let _ = decode(&bad); // never panics
            }
        }
    }

    pub(crate) mod props {
        use super::*;
        use proptest::prelude::*;

        /// Any event a chunk can hold (other modules' property tests use it too).
        pub(crate) fn event() -> impl Strategy<Value = EventRecord<'static>> {
            let prop_value = prop_oneof![
                "\\PC{0,20}".prop_map(|s| PropValue::Str(Cow::Owned(s))),
                (any::<i64>(), 0u32..6).prop_map(|(m, e)| PropValue::Num(Cow::Owned(format!("{m}e{e}")))),
                any::<bool>().prop_map(PropValue::Bool),
            ];
            let props = proptest::collection::btree_map("[a-z_]{1,8}", prop_value, 0..4).prop_map(|m| {
                let pairs = m.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect();
                Properties::new(pairs).expect("keys from a map are unique")
            });
            (
                any::<[u8; 16]>(),
                any::<u128>(),
                any::<i64>(),
                any::<bool>(),
                "\\PC{1,130}",
                any::<i64>(),
                0u32..=20,
                props,
            )
                .prop_map(|(key, hash, ts, ts_given, name, m, scale, props)| EventRecord {
                    key: Cow::Owned(key_text(&key)),
                    event_name: Cow::Owned(name),
                    value: Decimal::new(m, scale),
                    ts,
                    ts_given,
                    props,
                    hash: ContentHash(hash),
                })
        }

        proptest! {
            /// Whatever the events, a chunk gives them back exactly, in order, scale and
            /// property text included.
            #[test]
            fn a_chunk_gives_back_its_events(events in proptest::collection::vec(event(), 0..40)) {
                let mut out = Vec::new();
                encode(&events, &mut out).unwrap();
                let back = decode(&out).unwrap();
                prop_assert_eq!(&back, &events);
                for (b, e) in back.iter().zip(&events) {
                    prop_assert_eq!(b.value.to_string(), e.value.to_string());
                }
            }

            /// Damaged bytes are an error or some events, never a panic.
            #[test]
            fn damaged_chunks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = decode(&bytes);
            }
        }
    }
}
