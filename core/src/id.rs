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

/// The id of the `index`-th resource made from `base` (an id of this module's): the same
/// time and randomness as `base` but for the last two characters, which carry `index`
/// (< 1024). A contract's customer and items get theirs this way, so that every attempt
/// to accept it names the same resources.
pub fn derived_id(prefix: &str, base: &str, index: usize) -> Option<String> {
    let body = base.split_once('_')?.1;
    if body.len() != 26 || index >= 1024 {
        return None;
    }
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    out.push_str(&body[..24]);
    out.push(ALPHABET[index >> 5] as char);
    out.push(ALPHABET[index & 31] as char);
    Some(out)
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

    #[test]
    fn derived_ids_are_distinct_valid_and_stable() {
        let base = new_id("ctr", Timestamp(1_700_000_000_000), [7; 10]);
        let ids: Vec<String> = (0..60).map(|i| derived_id("item", &base, i).unwrap()).collect();
        assert!(ids.iter().all(|i| is_id(i, "item")));
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), 60);
        assert_eq!(derived_id("item", &base, 3), derived_id("item", &base, 3));
        assert_eq!(derived_id("item", "nope", 0), None);
    }
}
