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
        // chrono also accepts a space for `T` and lower-case `t`/`z`, as RFC 3339 allows.
        let dt = DateTime::parse_from_rfc3339(s).map_err(|_| TimestampError::Invalid)?;
        let ms = dt.timestamp_millis();
        // Years 1970..=9999 only: nothing before the epoch is usage.
        if !(0..=253_402_300_799_999).contains(&ms) {
            return Err(TimestampError::Invalid);
        }
        Ok(Timestamp(ms))
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

    /// RFC 3339 in UTC with `Z`, with milliseconds only when there are any.
    pub fn to_rfc3339(self) -> String {
        let format = if self.0 % 1000 == 0 { SecondsFormat::Secs } else { SecondsFormat::Millis };
        self.to_datetime().to_rfc3339_opts(format, true)
    }
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
}
