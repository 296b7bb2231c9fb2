//! Idempotency keys: UUIDv7 (RFC 9562), 48 bits of Unix milliseconds and then random
//! bits from the operating system's CSPRNG, drawn 4 KiB at a time (one system call per
//! 409 keys, where `Uuid::now_v7` made one per key: a third of `track()`'s time), as the
//! npm package draws `crypto.getRandomValues` in bulk.

use std::cell::RefCell;

/// Random bytes per key (`rand_a` and `rand_b`, before the version and variant bits).
const PER_KEY: usize = 10;

struct Pool {
    bytes: [u8; 4096],
    at: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; 4096], at: 4096 }) };
}

/// A new UUIDv7 for `now_ms`, lower-case and hyphenated.
pub fn uuid_v7(now_ms: i64) -> String {
    let Some(random) = POOL.with(|pool| pool.borrow_mut().take()) else {
        // No OS randomness (never seen on a supported target): uuid's own source.
        return uuid::Uuid::now_v7().hyphenated().to_string();
    };
    // A clock before 1970 is not a time a key can carry; 0 keeps the key valid.
    let ms = u64::try_from(now_ms).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid().hyphenated().to_string()
}

impl Pool {
    /// The next key's random bytes, refilling the pool when it runs out.
    fn take(&mut self) -> Option<[u8; PER_KEY]> {
        if self.at + PER_KEY > self.bytes.len() {
            getrandom::fill(&mut self.bytes).ok()?;
            self.at = 0;
        }
        let mut out = [0u8; PER_KEY];
        out.copy_from_slice(&self.bytes[self.at..self.at + PER_KEY]);
        self.at += PER_KEY;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_version_7_variant_10_carry_the_time_and_are_unique_across_refills() {
        let now = 1_795_600_000_123;
        let keys: Vec<String> = (0..2_000).map(|_| uuid_v7(now)).collect();
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len());
        for k in &keys {
            let u = uuid::Uuid::parse_str(k).unwrap();
            assert_eq!((u.get_version_num(), u.get_variant()), (7, uuid::Variant::RFC4122));
            let (secs, nanos) = u.get_timestamp().unwrap().to_unix();
            assert_eq!(secs * 1000 + u64::from(nanos) / 1_000_000, now as u64);
            assert_eq!(k, &k.to_lowercase());
        }
    }
}
