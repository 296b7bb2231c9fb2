//! The one retry loop of the native clients, for the tracker's batches and the API
//! client's calls (as `retry.js` is for the JS clients): each try gets the client's
//! timeout; network errors, timeouts, 408, 429 and 5xx are tried again, up to
//! `max_retries` times, after `Retry-After` (at most `retry_max`) or a full-jitter backoff. What an answer
//! means is the caller's to say ([`Answer`]).

use super::batch;
use super::error::{codes, Error};
use super::options::Options;
use std::time::{Duration, SystemTime};

/// How a client retries: its options' `timeout`, `max_retries`, `retry_base` and
/// `retry_max`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryPolicy {
    pub timeout: Duration,
    pub max_retries: u32,
    pub base: Duration,
    pub max: Duration,
}

impl From<&Options> for RetryPolicy {
    fn from(o: &Options) -> RetryPolicy {
        RetryPolicy { timeout: o.timeout, max_retries: o.max_retries, base: o.retry_base, max: o.retry_max }
    }
}

/// The server's code for a request whose `Idempotency-Key` an earlier copy still holds.
const IDEMPOTENCY_KEY_IN_USE: &str = "idempotency_key_in_use";

/// What one answer (its status and body) means.
pub(crate) enum Answer<T> {
    Done(T),
    /// Worth another try (after the answer's `Retry-After`, if it has one).
    Retry(Error),
    /// Final: refused, or an answer no retry will change.
    Final(Error),
}

impl<T> Answer<T> {
    /// A non-success answer: the server's error, tried again when its status may pass
    /// later (408, 429, 5xx), or when the server is still running an earlier copy of this
    /// request (409 `idempotency_key_in_use`).
    pub fn error(status: u16, body: &[u8]) -> Answer<T> {
        let error = Error::from_body(status, body);
        if batch::retryable(status) || error.code == IDEMPOTENCY_KEY_IN_USE {
            Answer::Retry(error)
        } else {
            Answer::Final(error)
        }
    }
}

/// A request that failed for good, and whether it was sent more than once (then a
/// conflict may be the first attempt's own doing).
pub(crate) struct Failed {
    pub error: Error,
    pub retried: bool,
}

impl From<Failed> for Error {
    fn from(f: Failed) -> Error {
        f.error
    }
}

/// Sends `request()` (built anew for each try, with the same headers, so the same
/// `Idempotency-Key`) until `settle` reads an answer (its status, headers and body) as
/// done or final, or the retries run out.
pub(crate) async fn send_with_retries<T>(
    policy: RetryPolicy,
    mut request: impl FnMut() -> reqwest::RequestBuilder,
    mut settle: impl FnMut(u16, &reqwest::header::HeaderMap, &[u8]) -> Answer<T>,
) -> Result<T, Failed> {
    let mut attempt = 0;
    loop {
        let retried = attempt > 0;
        let (error, retry_after) = match request().send().await {
            Err(e) => (transport_error(&e, policy.timeout), None),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| batch::parse_retry_after(v, SystemTime::now()));
                let headers = resp.headers().clone();
                match resp.bytes().await {
                    Err(e) => (transport_error(&e, policy.timeout), None),
                    Ok(body) => match settle(status, &headers, &body) {
                        Answer::Done(value) => return Ok(value),
                        Answer::Final(error) => return Err(Failed { error, retried }),
                        Answer::Retry(error) => (error, retry_after),
                    },
                }
            }
        };
        if attempt >= policy.max_retries {
            return Err(Failed { error, retried });
        }
        // A server's Retry-After is honoured up to `retry_max`: a day-long answer must not
        // hold `flush` or `shutdown` for a day (the retries stay bounded by `max_retries`).
        let wait = match retry_after {
            Some(wait) => wait.min(policy.max),
            None => batch::jitter(batch::backoff_cap(attempt, policy.base, policy.max)),
        };
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// The error for a request that got no answer: a timeout, or why the connection failed.
pub(crate) fn transport_error(e: &reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        Error::new(codes::TIMEOUT, format!("no answer within {} ms", timeout.as_millis()))
    } else {
        // The source chain says why (refused, reset, closed before answering).
        let mut message = format!("request failed: {e}");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        Error::new(codes::NETWORK_ERROR, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_retry(status: u16, code: &str) -> bool {
        let body = format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        matches!(Answer::<()>::error(status, body.as_bytes()), Answer::Retry(_))
    }

    #[test]
    fn an_earlier_copy_still_running_is_retried_other_conflicts_are_final() {
        assert!(is_retry(409, "idempotency_key_in_use"));
        assert!(!is_retry(409, "duplicate_metric_code"));
        assert!(!is_retry(422, "idempotency_key_reused"));
        assert!(is_retry(429, "rate_limited") && is_retry(503, "internal_error"));
    }
}
