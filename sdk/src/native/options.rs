//! The tracking client's options: the JS client's (`sdk/js/index.js`) in snake_case, with
//! the same defaults, checked once at construction so a typo fails at startup rather than
//! at the first flush.

use super::batch::MAX_BATCH_EVENTS;
use super::error::{codes, Error};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Called with each error the client reports on its own: per-event rejections, failed
/// batches, `queue_full`, a `flush_timeout`, and the API refusing the client's key or
/// address (401, 403, 404; without `on_error` that one is printed once to stderr). It runs on the delivery task, so keep it short; a panic in it
/// is caught and does not stop delivery.
pub type OnError = Arc<dyn Fn(&super::Error) + Send + Sync>;

/// Options of [`super::Edgemeter`]. Start from [`Options::new`] and set what differs.
#[derive(Clone)]
pub struct Options {
    /// `pk_…` (ingest only) is enough for tracking; the API client needs `sk_…`.
    pub api_key: String,
    /// The API's root, e.g. `https://api.edgemeter.example` (a trailing `/` is fine).
    pub base_url: String,
    /// Send a batch once this many events are queued (1 to 1,000). Default 100.
    pub flush_at: usize,
    /// Send what is queued at least this often. Default 10 s.
    pub flush_interval: Duration,
    /// Most events queued or in flight; `track()` beyond it fails with `queue_full`.
    /// Default 10,000.
    pub max_queue_size: usize,
    /// Retries of one batch after its first attempt. Default 5.
    pub max_retries: u32,
    /// Backoff base: retry `n` waits uniformly up to `min(retry_max, retry_base * 2^n)`.
    /// Default 500 ms.
    pub retry_base: Duration,
    /// The longest wait before a retry, a server's `Retry-After` included. Default 30 s.
    pub retry_max: Duration,
    /// One request's limit, from connecting to the end of the answer. Default 4 s: two
    /// tries fit in `flush_timeout`.
    pub timeout: Duration,
    /// How long `flush()` and `shutdown()` wait at most, whatever the network does
    /// (`shutdown()` then gives up on what is left, reporting it). Default 10 s.
    pub flush_timeout: Duration,
    /// See [`OnError`]. Default none.
    pub on_error: Option<OnError>,
}

impl Options {
    /// The defaults, with a key and the API's address.
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>) -> Options {
        Options {
            api_key: api_key.into(),
            base_url: base_url.into(),
            flush_at: 100,
            flush_interval: Duration::from_secs(10),
            max_queue_size: 10_000,
            max_retries: 5,
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            timeout: Duration::from_secs(4),
            flush_timeout: Duration::from_secs(10),
            on_error: None,
        }
    }

    /// Sets [`Options::on_error`].
    pub fn on_error(mut self, f: impl Fn(&super::Error) + Send + Sync + 'static) -> Options {
        self.on_error = Some(Arc::new(f));
        self
    }

    /// Checks every option; the error is `invalid_option` with `field` naming it.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, what: &str| {
            Err(Error::new(codes::INVALID_OPTION, format!("option `{field}` must be {what}")).with_field(field))
        };
        if self.api_key.is_empty() {
            return bad("api_key", "a non-empty string");
        }
        if self.api_key.chars().any(|c| c.is_control() || c == ' ') {
            return bad("api_key", "a key without spaces or control characters");
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://"))
            || reqwest::Url::parse(&self.base_url).is_err()
        {
            return bad("base_url", "an http(s) URL such as \"https://api.edgemeter.example\"");
        }
        if !(1..=MAX_BATCH_EVENTS).contains(&self.flush_at) {
            return bad("flush_at", "from 1 to 1000");
        }
        if self.flush_interval.is_zero() {
            return bad("flush_interval", "longer than zero");
        }
        if self.max_queue_size == 0 {
            return bad("max_queue_size", "at least 1");
        }
        if self.timeout.is_zero() {
            return bad("timeout", "longer than zero");
        }
        Ok(())
    }

    /// The base URL without trailing slashes, for joining paths.
    pub(crate) fn root(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

impl fmt::Debug for Options {
    /// Shows everything but the key (logs should never hold it) and the callback.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("api_key", &"…")
            .field("base_url", &self.base_url)
            .field("flush_at", &self.flush_at)
            .field("flush_interval", &self.flush_interval)
            .field("max_queue_size", &self.max_queue_size)
            .field("max_retries", &self.max_retries)
            .field("retry_base", &self.retry_base)
            .field("retry_max", &self.retry_max)
            .field("timeout", &self.timeout)
            .field("flush_timeout", &self.flush_timeout)
            .field("on_error", &self.on_error.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_js_clients() {
        let o = Options::new("pk_x", "http://127.0.0.1:8787/");
        assert_eq!((o.flush_at, o.max_queue_size, o.max_retries), (100, 10_000, 5));
        assert_eq!(
            (o.flush_interval, o.retry_base, o.retry_max),
            (Duration::from_secs(10), Duration::from_millis(500), Duration::from_secs(30))
        );
        assert_eq!((o.timeout, o.flush_timeout), (Duration::from_secs(4), Duration::from_secs(10)));
        assert_eq!(o.root(), "http://127.0.0.1:8787");
        assert!(o.validate().is_ok());
    }

    #[test]
    fn a_bad_option_is_named() {
        let field = |o: Options| o.validate().err().and_then(|e| e.field);
        let o = || Options::new("pk_x", "http://localhost:8787");
        assert_eq!(field(Options::new("", "http://x")), Some("api_key".into()));
        assert_eq!(field(Options::new("pk", "ftp://x")), Some("base_url".into()));
        assert_eq!(field(Options { flush_at: 0, ..o() }), Some("flush_at".into()));
        assert_eq!(field(Options { flush_at: 1001, ..o() }), Some("flush_at".into()));
        assert_eq!(field(Options { flush_interval: Duration::ZERO, ..o() }), Some("flush_interval".into()));
        assert_eq!(field(Options { max_queue_size: 0, ..o() }), Some("max_queue_size".into()));
        assert_eq!(field(Options { timeout: Duration::ZERO, ..o() }), Some("timeout".into()));
    }
}
