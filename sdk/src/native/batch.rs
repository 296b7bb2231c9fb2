//! The pure parts of delivery: how many queued events make one request, how long to wait
//! before a retry, and which answers are worth one. No I/O and no clock of their own, so
//! they are tested here without a server.

use std::time::{Duration, SystemTime};

/// Most events in one request (API.md, "Usage ingestion").
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Largest request body, in bytes (API.md, "Usage ingestion").
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const ENVELOPE_BYTES: usize = r#"{"events":[]}"#.len();

/// An event waiting for delivery: already validated, serialized once.
#[derive(Clone, Debug)]
pub(crate) struct Queued {
    /// The order of `track()` calls, so `flush()` knows when its events are settled.
    pub seq: u64,
    pub key: String,
    pub json: String,
}

/// Whether one event (its JSON) can ever be sent: alone in a request it must fit the
/// body limit.
pub(crate) fn fits_alone(json_len: usize) -> bool {
    ENVELOPE_BYTES + json_len <= MAX_BODY_BYTES
}

/// How many events from the front (their JSON lengths, in order) make the next request:
/// at most [`MAX_BATCH_EVENTS`] and [`MAX_BODY_BYTES`] with the envelope and commas, and
/// at least one when there is one (every queued event fits alone, see [`fits_alone`]).
pub(crate) fn batch_len(json_lens: impl IntoIterator<Item = usize>) -> usize {
    let mut n = 0;
    let mut bytes = ENVELOPE_BYTES;
    for len in json_lens.into_iter().take(MAX_BATCH_EVENTS) {
        let add = len + usize::from(n > 0);
        if n > 0 && bytes + add > MAX_BODY_BYTES {
            break;
        }
        bytes += add;
        n += 1;
    }
    n
}

/// The request body for a batch: `{"events":[…]}` from the events' JSON as queued.
pub(crate) fn body(batch: &[Queued]) -> String {
    let mut out = String::with_capacity(ENVELOPE_BYTES + batch.iter().map(|e| e.json.len() + 1).sum::<usize>());
    out.push_str(r#"{"events":["#);
    for (i, e) in batch.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.json);
    }
    out.push_str("]}");
    out
}

/// Network errors, timeouts, 408, 429 and 5xx may succeed later; any other 4xx will not.
pub fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// The longest wait before retry `attempt` (0 for the first retry): `min(max, base *
/// 2^attempt)`. The wait itself is uniform in `[0, this]` ("full jitter", AWS), so clients
/// that failed together do not retry together.
pub fn backoff_cap(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).map_or(max, |d| d.min(max))
}

/// A wait uniform in `[0, cap]`, at millisecond resolution.
pub fn jitter(cap: Duration) -> Duration {
    let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..=ms))
}

/// A `Retry-After` value (RFC 9110: delay seconds or an HTTP date) as a wait from `now`;
/// `None` when it is neither. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_holds_at_most_1000_events() {
        assert_eq!(batch_len(vec![100; 2500]), 1000);
        assert_eq!(batch_len(vec![100; 999]), 999);
        assert_eq!(batch_len([]), 0);
    }

    #[test]
    fn a_batch_holds_at_most_one_mebibyte() {
        // 600 KB + 600 KB do not fit; the first goes alone.
        assert_eq!(batch_len([600_000, 600_000]), 1);
        // Exactly at the limit: the envelope, two events and one comma.
        let half = (MAX_BODY_BYTES - ENVELOPE_BYTES - 1) / 2;
        let rest = MAX_BODY_BYTES - ENVELOPE_BYTES - 1 - half;
        assert_eq!(batch_len([half, rest]), 2);
        assert_eq!(batch_len([half, rest + 1]), 1);
        // 1,000 events of 1,100 bytes would take 1.1 MB.
        let n = batch_len(vec![1100; 1000]);
        assert_eq!(n, (MAX_BODY_BYTES - ENVELOPE_BYTES + 1) / 1101);
        assert!(ENVELOPE_BYTES + n * 1101 - 1 <= MAX_BODY_BYTES);
    }

    #[test]
    fn only_an_event_that_fits_alone_is_queued() {
        assert!(fits_alone(MAX_BODY_BYTES - ENVELOPE_BYTES));
        assert!(!fits_alone(MAX_BODY_BYTES - ENVELOPE_BYTES + 1));
    }

    #[test]
    fn the_body_is_the_events_joined() {
        let q = |seq, json: &str| Queued { seq, key: String::new(), json: json.to_owned() };
        assert_eq!(body(&[q(1, "{\"a\":1}"), q(2, "{}")]), r#"{"events":[{"a":1},{}]}"#);
        let batch = [q(1, "{}"), q(2, "{}")];
        assert_eq!(body(&batch).len(), ENVELOPE_BYTES + 2 + 2 + 1);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let (base, max) = (Duration::from_millis(500), Duration::from_secs(30));
        let caps: Vec<u128> = (0..8).map(|a| backoff_cap(a, base, max).as_millis()).collect();
        assert_eq!(caps, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(backoff_cap(200, base, max), max);
        assert_eq!(backoff_cap(3, Duration::ZERO, max), Duration::ZERO);
        for _ in 0..1000 {
            assert!(jitter(Duration::from_millis(50)) <= Duration::from_millis(50));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 14:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 25 Nov 2026 14:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 25 Nov 2026 13:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn which_answers_are_retried() {
        let retried: Vec<u16> = [200, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504]
            .into_iter()
            .filter(|s| retryable(*s))
            .collect();
        assert_eq!(retried, [408, 429, 500, 502, 503, 504]);
    }
}
