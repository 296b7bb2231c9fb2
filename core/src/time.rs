//! UTC instants with millisecond precision, parsed from RFC 3339 with an explicit offset.
//!
//! "Now" never comes from here: callers pass the request's arrival or the cron run's
//! scheduled time as a `Timestamp`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch, UTC. Finer input precision is truncated: JavaScript
/// clocks, and so most clients, have milliseconds.
///
/// Serialized as RFC 3339 in UTC (`2026-11-01T00:00:00Z`), as the API shows every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(|_| serde::de::Error::custom("expected an RFC 3339 time with offset"))
    }
}

pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Why a timestamp string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampError {
    /// Not RFC 3339, or without an offset (`2024-07-15T11:30:00`), or out of range.
    Invalid,
}

impl Timestamp {
    /// Parses RFC 3339 with a `Z` or `±hh:mm` offset; a naive time is refused so that no
    /// event is silently read in the server's zone.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimestampError> {
        let ms = match fast_rfc3339_millis(s.as_bytes()) {
            Some(ms) => ms,
            None => Self::parse_rfc3339_chrono(s)?,
        };
        // Years 1970..=9999 only: nothing before the epoch is usage.
        if !(0..=253_402_300_799_999).contains(&ms) {
            return Err(TimestampError::Invalid);
        }
        Ok(Timestamp(ms))
    }

    fn parse_rfc3339_chrono(s: &str) -> Result<i64, TimestampError> {
        // chrono also accepts a space for `T` and lower-case `t`/`z`, as RFC 3339 allows.
        let dt = DateTime::parse_from_rfc3339(s).map_err(|_| TimestampError::Invalid)?;
        Ok(dt.timestamp_millis())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        // In range by construction for parsed values; clamp anything else to the epoch.
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::UNIX_EPOCH)
    }

    pub fn from_datetime(dt: DateTime<Utc>) -> Timestamp {
        Timestamp(dt.timestamp_millis())
    }

    pub fn saturating_add_ms(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as JavaScript's `Date.prototype.toISOString` writes
    /// it, for years 0 to 9999 (else `None`). Without chrono, so that the SDK's wasm,
    /// which writes each queued event's default timestamp, stays small.
    pub fn iso_millis(self) -> Option<[u8; 24]> {
        const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
        const MIN_MS: i64 = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
        if !(MIN_MS..=MAX_MS).contains(&self.0) {
            return None;
        }
        let (days, ms_of_day) = (self.0.div_euclid(DAY_MS), self.0.rem_euclid(DAY_MS));
        let (y, m, d) = civil_from_days(days);
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, n: i64, width: usize| {
            let mut n = n;
            for i in (0..width).rev() {
                out[at + i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, y, 4);
        put(5, m, 2);
        put(8, d, 2);
        put(11, ms_of_day / HOUR_MS, 2);
        put(14, ms_of_day / MINUTE_MS % 60, 2);
        put(17, ms_of_day / SECOND_MS % 60, 2);
        put(20, ms_of_day % SECOND_MS, 3);
        Some(out)
    }

    /// RFC 3339 in UTC with `Z`, with milliseconds only when there are any.
    pub fn to_rfc3339(self) -> String {
        let format = if self.0 % 1000 == 0 { SecondsFormat::Secs } else { SecondsFormat::Millis };
        self.to_datetime().to_rfc3339_opts(format, true)
    }
}

/// Two ASCII digits as a number, or `None`.
#[inline]
fn two_digits(b: &[u8], i: usize) -> Option<i64> {
    let (h, l) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
    (h < 10 && l < 10).then_some(h as i64 * 10 + l as i64)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Hinnant's
/// civil_from_days), the inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days from 1970-01-01 to a valid proleptic Gregorian date (Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The common shapes `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` (`t`, `z` too) with every
/// field in range, as epoch milliseconds; `None` for anything else, which chrono then
/// judges (a leap second, a space for `T`, a longer fraction, an invalid date…).
fn fast_rfc3339_millis(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = two_digits(b, 0)? * 100 + two_digits(b, 2)?;
    let (month, day) = (two_digits(b, 5)?, two_digits(b, 8)?);
    let (hour, minute, second) = (two_digits(b, 11)?, two_digits(b, 14)?, two_digits(b, 17)?);
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > month_days {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        let n = i - start;
        if !(1..=9).contains(&n) {
            return None;
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (two_digits(b, i + 1)?, two_digits(b, i + 4)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1_000 + millis)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_converted_to_utc() {
        let a = Timestamp::parse_rfc3339("2024-07-15T13:30:00+02:00").unwrap();
        let b = Timestamp::parse_rfc3339("2024-07-15T11:30:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_rfc3339(), "2024-07-15T11:30:00Z");
    }

    #[test]
    fn naive_and_garbage_are_refused() {
        for s in ["2024-07-15T11:30:00", "2024-07-15", "yesterday", "", "1969-12-31T23:59:59Z"] {
            assert_eq!(Timestamp::parse_rfc3339(s), Err(TimestampError::Invalid), "{s}");
        }
    }

    #[test]
    fn millis_survive_and_submillis_truncate() {
        let t = Timestamp::parse_rfc3339("2024-07-15T11:30:00.123456Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-15T11:30:00.123Z");
    }

    #[test]
    fn iso_millis_writes_what_chrono_and_javascript_write() {
        for ms in
            [0, 1, 999, 86_399_999, 951_782_400_000, 1_795_600_000_123, -1, -62_167_219_200_000, 253_402_300_799_999]
        {
            let iso = Timestamp(ms).iso_millis().unwrap();
            let chrono = Timestamp(ms).to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(std::str::from_utf8(&iso).unwrap(), chrono, "{ms}");
        }
        assert_eq!(Timestamp(253_402_300_800_000).iso_millis(), None);
        assert_eq!(Timestamp(-62_167_219_200_001).iso_millis(), None);
    }

    proptest::proptest! {
        #[test]
        fn iso_millis_round_trips_every_instant_it_writes(ms in -62_167_219_200_000i64..=253_402_300_799_999) {
            let iso = Timestamp(ms).iso_millis().unwrap();
            let chrono = Timestamp(ms).to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true);
            proptest::prop_assert_eq!(std::str::from_utf8(&iso).unwrap(), chrono);
        }
    }
}
