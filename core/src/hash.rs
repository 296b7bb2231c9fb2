//! The canonical content hash of an event: the same content always gives the same hash,
//! whatever the JSON spelling (key order, offsets, `"50"` vs `50.0`), so a true retry is
//! told apart from an idempotency key reused for another payload.
//!
//! XXH3-128 is used, not a cryptographic hash: both payloads under one key come from the
//! same client, so a forged collision could only hide that client's own mistake, and the
//! hash sits on the ingest hot path.

use crate::event::{PropValue, Properties};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use xxhash_rust::xxh3::Xxh3;

/// 128-bit content hash, rendered as 32 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub u128);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl ContentHash {
    pub fn parse_hex(s: &str) -> Option<ContentHash> {
        if s.len() != 32 {
            return None;
        }
        u128::from_str_radix(s, 16).ok().map(ContentHash)
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ContentHash::parse_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 32 hex digits"))
    }
}

/// Hashes an event's content. `timestamp` is `None` when the client let the server choose
/// it; the key itself is not hashed (it is what the hash is compared under).
pub fn content_hash(
    customer_id: &str,
    event_name: &str,
    value: Decimal,
    timestamp: Option<Timestamp>,
    properties: &Properties<'_>,
) -> ContentHash {
    let mut h = Xxh3::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u32).to_le_bytes());
        h.update(bytes);
    };
    field(customer_id.as_bytes());
    field(event_name.as_bytes());
    // `value` is normalized, so equal numbers have equal bytes.
    field(&value.normalize().serialize());
    match timestamp {
        Some(t) => field(&t.millis().to_le_bytes()),
        None => field(b""),
    }
    for (k, v) in properties.iter() {
        field(k.as_bytes());
        match v {
            PropValue::Str(s) => {
                field(b"s");
                field(s.as_bytes());
            }
            PropValue::Num(n) => {
                field(b"n");
                field(n.as_bytes());
            }
            PropValue::Bool(b) => field(if *b { b"t" } else { b"f" }),
        }
    }
    ContentHash(h.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn props(pairs: &[(&'static str, PropValue<'static>)]) -> Properties<'static> {
        Properties::new(pairs.iter().map(|(k, v)| (Cow::Borrowed(*k), v.clone())).collect())
            .expect("test keys are unique")
    }

    #[test]
    fn equal_content_equal_hash_and_any_change_differs() {
        let p = props(&[("region", PropValue::Str("eu".into()))]);
        let base = content_hash("cus_1", "invoices", Decimal::new(50, 0), Some(Timestamp(1)), &p);
        assert_eq!(base, content_hash("cus_1", "invoices", Decimal::new(500, 1), Some(Timestamp(1)), &p));
        let others = [
            content_hash("cus_2", "invoices", Decimal::new(50, 0), Some(Timestamp(1)), &p),
            content_hash("cus_1", "invoice", Decimal::new(50, 0), Some(Timestamp(1)), &p),
            content_hash("cus_1", "invoices", Decimal::new(51, 0), Some(Timestamp(1)), &p),
            content_hash("cus_1", "invoices", Decimal::new(50, 0), Some(Timestamp(2)), &p),
            content_hash("cus_1", "invoices", Decimal::new(50, 0), None, &p),
            content_hash("cus_1", "invoices", Decimal::new(50, 0), Some(Timestamp(1)), &Properties::default()),
            content_hash(
                "cus_1",
                "invoices",
                Decimal::new(50, 0),
                Some(Timestamp(1)),
                &props(&[("region", PropValue::Num("1".into()))]),
            ),
        ];
        for o in others {
            assert_ne!(base, o);
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let p = Properties::default();
        assert_ne!(content_hash("ab", "c", Decimal::ONE, None, &p), content_hash("a", "bc", Decimal::ONE, None, &p));
    }

    #[test]
    fn hex_round_trips() {
        let h = ContentHash(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(ContentHash::parse_hex(&h.to_string()), Some(h));
    }
}
