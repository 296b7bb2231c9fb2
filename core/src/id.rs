//! Prefixed, time-ordered resource ids (`cus_…`, `item_…`, `met_…`): 48 bits of
//! milliseconds then 80 random bits, in lower-case Crockford base32, so ids sort by
//! creation time and lists can page by id. The caller supplies the time and the random
//! bytes.

use crate::time::Timestamp;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `prefix` + `_` + 26 characters.
pub fn new_id(prefix: &str, now: Timestamp, random: [u8; 10]) -> String {
    let mut n: u128 = (now.millis().max(0) as u128 & ((1 << 48) - 1)) << 80;
    for (i, b) in random.iter().enumerate() {
        n |= (*b as u128) << (72 - 8 * i);
    }
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    for i in (0..26).rev() {
        out.push(ALPHABET[((n >> (i * 5)) & 31) as usize] as char);
    }
    out
}

/// Whether `s` looks like an id this module made with `prefix`.
pub fn is_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|r| r.len() == 26 && r.bytes().all(|b| ALPHABET.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_round_trip_the_check() {
        let a = new_id("cus", Timestamp(1_700_000_000_000), [255; 10]);
        let b = new_id("cus", Timestamp(1_700_000_000_001), [0; 10]);
        assert!(a < b);
        assert!(is_id(&a, "cus") && !is_id(&a, "item"));
        assert_eq!(a.len(), 30);
    }
}
