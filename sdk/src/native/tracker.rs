//! The tracking client: `track()` validates with the server's own rules and queues; a
//! background tokio task sends batches and retries them under one `Idempotency-Key`, so a
//! retry of a request the server did process can never count an event twice (API.md,
//! "Usage ingestion"). The behaviour is the JS client's (`sdk/js/index.js`).

use super::api::Api;
use super::batch::{self, Queued};
use super::error::{codes, Error, WireError};
use super::event::{Event, Wire};
use super::options::Options;
use super::refusal::{self, Refused};
use super::retry::{send_with_retries, Answer, RetryPolicy};
use edgemeter_core::time::Timestamp;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// What became of the events a `flush()` waited for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushResult {
    /// Events the server stored now.
    pub accepted: u64,
    /// Events it had already (the same key sent before): stored once, counted once.
    pub duplicates: u64,
    /// Events the server refused, with its reason (`unknown_customer`, …).
    pub rejected: Vec<EventError>,
    /// Events whose request failed for good (retries exhausted, a 4xx such as 400 or 413,
    /// or those `shutdown()` gave up on at its deadline: `flush_timeout`).
    pub failed: Vec<EventError>,
    /// The deadline (`flush_timeout`) passed before every event was settled.
    pub timed_out: bool,
    /// `flush()` past its deadline, or refused ([`Refused`]): the keys of the events not
    /// settled yet, which stay queued and are still sent. Empty otherwise.
    pub pending: Vec<String>,
}

/// One event's failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    pub idempotency_key: String,
    pub error: Error,
}

/// The tracking client, with the typed API client at [`Edgemeter::api`]. Create it inside
/// a tokio runtime; share it with an `Arc`. Call [`Edgemeter::shutdown`] before exiting:
/// dropping it without one still sends what is queued, but only while the runtime runs.
pub struct Edgemeter {
    inner: Arc<Inner>,
    task: Mutex<Option<JoinHandle<()>>>,
    api: Api,
}

struct Inner {
    options: Options,
    http: reqwest::Client,
    url: String,
    state: Mutex<State>,
    /// Wakes the delivery task: a full batch, a flush, or shutdown.
    wake: Notify,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Queued>,
    in_flight: usize,
    /// The last `track()`'s sequence number.
    seq: u64,
    /// Every event up to this one is settled (batches go out in order).
    settled_seq: u64,
    /// Events up to this one are due now, whatever `flush_at` says.
    flush_target: u64,
    /// The keys of the batch in a request, for a deadline's list of what is pending.
    sending: Vec<(u64, String)>,
    waiters: Vec<Waiter>,
    /// Numbers the waiters, so that a flush past its deadline finds its own.
    next_waiter: u64,
    /// The API refused the key or address: nothing is sent until the caller flushes again.
    blocked: bool,
    /// Without `on_error`, a refusal is printed once.
    warned: bool,
    closed: bool,
    /// The task ends once nothing is due.
    stop: bool,
}

struct Waiter {
    id: u64,
    target: u64,
    result: FlushResult,
    tx: oneshot::Sender<Result<FlushResult, Refused>>,
}

impl State {
    /// The keys of the events up to number `target` not settled yet, oldest first.
    fn unsettled(&self, target: u64) -> Vec<String> {
        let sending = self.sending.iter().map(|(seq, key)| (*seq, key));
        let queued = self.queue.iter().map(|e| (e.seq, &e.key));
        sending.chain(queued).filter(|(seq, _)| *seq <= target).map(|(_, key)| key.clone()).collect()
    }
}

impl Edgemeter {
    /// Checks the options and starts the delivery task on the current tokio runtime.
    pub fn new(options: Options) -> Result<Edgemeter, Error> {
        options.validate()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::new(codes::INVALID_OPTION, "Edgemeter::new must be called inside a tokio runtime"))?;
        let http = super::api::http_client(options.timeout)?;
        let api = Api::with_client(http.clone(), &options)?;
        let url = format!("{}/v1/usage/ingest", options.root());
        let inner = Arc::new(Inner { options, http, url, state: Mutex::new(State::default()), wake: Notify::new() });
        let task = runtime.spawn(run(inner.clone()));
        Ok(Edgemeter { inner, task: Mutex::new(Some(task)), api })
    }

    /// The typed client for the rest of the API, with the same key and address.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Events tracked and not yet settled (queued or in a request).
    pub fn pending(&self) -> usize {
        let st = self.inner.lock();
        st.queue.len() + st.in_flight
    }

    /// Validates an event with the server's rules, fills its timestamp (now) and
    /// idempotency key (a UUIDv7) when absent, queues it and returns its canonical key.
    /// Never blocks on the network. Fails, queuing nothing, for an invalid event (the
    /// server's `code` and `field`), a full queue (`queue_full`) or after shutdown
    /// (`closed`); the last two also go to `on_error`. Callable from any thread, inside a
    /// runtime or not: it only takes a lock and wakes the delivery task.
    pub fn track(&self, event: Event) -> Result<String, Error> {
        let now_ms = now_ms();
        let generated;
        let key = match &event.idempotency_key {
            Some(k) => k.as_str(),
            None => {
                generated = super::keys::uuid_v7(now_ms);
                generated.as_str()
            }
        };
        let default_time;
        let timestamp = match &event.timestamp {
            Some(t) => t.as_str(),
            None => {
                default_time = Timestamp(now_ms).to_rfc3339();
                default_time.as_str()
            }
        };
        let wire = Wire {
            idempotency_key: key,
            customer_id: &event.customer_id,
            event_name: &event.event_name,
            value: event.value.as_ref().map(|v| v.as_str()),
            timestamp,
            properties: &event.properties,
        };
        // Checked first: a refused event is never serialized.
        let key = wire.check(now_ms).map_err(Error::from)?;
        let json = serde_json::to_string(&wire)
            .map_err(|e| Error::new("invalid_request", format!("the event cannot be serialized: {e}")))?;
        if !batch::fits_alone(json.len()) {
            return Err(Error::new(
                "payload_too_large",
                format!("the event takes {} bytes; a request holds at most {}", json.len(), batch::MAX_BODY_BYTES),
            ));
        }
        let mut st = self.inner.lock();
        if st.closed {
            // Returned, not also reported to `on_error`: the caller has it once.
            return Err(Error::new(codes::CLOSED, "track() after shutdown(): make a new client"));
        }
        let max = self.inner.options.max_queue_size;
        if st.queue.len() + st.in_flight >= max {
            drop(st);
            let message = format!("the queue holds {max} events (max_queue_size); flush or wait");
            return Err(self.inner.report(Error::new(codes::QUEUE_FULL, message)));
        }
        st.seq += 1;
        let seq = st.seq;
        st.queue.push_back(Queued { seq, key: key.clone(), json });
        let full = st.queue.len() >= self.inner.options.flush_at;
        drop(st);
        if full {
            self.inner.wake.notify_one();
        }
        Ok(key)
    }

    /// Sends everything tracked so far; returns once each of those events is delivered
    /// or has failed for good, with what became of the batches settled meanwhile, or by
    /// `flush_timeout` at the latest: then `timed_out` is set and the events not settled
    /// are in `pending` (still queued, and sent later), reported as one `flush_timeout`.
    /// Fails with [`Refused`] when the API refuses the key or address (401, 403, 404):
    /// nothing is dropped, and nothing more is sent until the next `flush()` tries again.
    pub async fn flush(&self) -> Result<FlushResult, Refused> {
        let result = self.wait().await?;
        if result.timed_out {
            let ms = self.inner.options.flush_timeout.as_millis();
            let n = result.pending.len();
            let message =
                format!("flush() gave up after {ms} ms with {n} event(s) not yet delivered; they stay queued");
            self.inner.report(Error::new(codes::FLUSH_TIMEOUT, message).with_keys(result.pending.clone()));
        }
        Ok(result)
    }

    /// Flushes, then stops the delivery task; `track()` afterwards fails with `closed`.
    /// At `flush_timeout` it gives up: the request in flight is dropped, and every event
    /// not delivered is in `failed` (`flush_timeout`) and reported. Fails with [`Refused`]
    /// as `flush()` does; the events then stay queued, and a later `flush()` sends them.
    pub async fn shutdown(&self) -> Result<FlushResult, Refused> {
        self.inner.lock().closed = true;
        let mut result = self.wait().await?;
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if result.timed_out {
            if let Some(task) = &task {
                task.abort();
            }
            self.give_up(&mut result);
        }
        self.inner.lock().stop = true;
        self.inner.wake.notify_one();
        if let Some(task) = task {
            let _ = task.await;
        }
        Ok(result)
    }

    /// Waits for everything tracked so far to settle, at most `flush_timeout`.
    async fn wait(&self) -> Result<FlushResult, Refused> {
        let (mut rx, id, target) = {
            let mut st = self.inner.lock();
            // A flush is the caller's retry after a refusal.
            st.blocked = false;
            if st.seq <= st.settled_seq {
                return Ok(FlushResult::default());
            }
            let (tx, rx) = oneshot::channel();
            let (id, target) = (st.next_waiter, st.seq);
            st.next_waiter += 1;
            st.waiters.push(Waiter { id, target, result: FlushResult::default(), tx });
            st.flush_target = target;
            (rx, id, target)
        };
        self.inner.wake.notify_one();
        // The task answers every waiter before it ends; a dropped sender means it panicked.
        if let Ok(answer) = tokio::time::timeout(self.inner.options.flush_timeout, &mut rx).await {
            return answer.unwrap_or_else(|_| Ok(FlushResult::default()));
        }
        let late = {
            let mut st = self.inner.lock();
            st.waiters.iter().position(|w| w.id == id).map(|at| {
                let mut result = st.waiters.swap_remove(at).result;
                result.timed_out = true;
                result.pending = st.unsettled(target);
                result
            })
        };
        match late {
            Some(result) => Ok(result),
            // Answered between the deadline and the lock.
            None => rx.await.unwrap_or_else(|_| Ok(FlushResult::default())),
        }
    }

    /// `shutdown()`'s deadline passed (the task is aborted): every event not delivered
    /// fails as `flush_timeout`, for this result and any other flush still waiting.
    fn give_up(&self, result: &mut FlushResult) {
        let ms = self.inner.options.flush_timeout.as_millis();
        let (keys, waiting) = {
            let mut st = self.inner.lock();
            let keys = st.unsettled(st.seq);
            let waiting: Vec<(Waiter, Vec<String>)> = std::mem::take(&mut st.waiters)
                .into_iter()
                .map(|w| (st.unsettled(w.target), w))
                .map(|(k, w)| (w, k))
                .collect();
            st.queue.clear();
            st.sending.clear();
            st.in_flight = 0;
            st.settled_seq = st.seq;
            (keys, waiting)
        };
        let n = keys.len();
        let error = Error::new(
            codes::FLUSH_TIMEOUT,
            format!("shutdown() gave up after {ms} ms with {n} event(s) not delivered"),
        );
        let failed = |keys: Vec<String>| {
            let error = error.clone().with_keys(keys.clone());
            keys.into_iter().map(move |k| EventError { idempotency_key: k, error: error.clone() })
        };
        result.pending.clear();
        result.failed.extend(failed(keys.clone()));
        if n > 0 {
            self.inner.report(error.clone().with_keys(keys));
        }
        for (mut w, keys) in waiting {
            w.result.failed.extend(failed(keys));
            let _ = w.tx.send(Ok(w.result));
        }
    }
}

impl Drop for Edgemeter {
    /// Without a `shutdown()`: close, and let the task send what is queued, then end.
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        st.closed = true;
        st.stop = true;
        st.flush_target = st.seq;
        drop(st);
        self.inner.wake.notify_one();
    }
}

impl std::fmt::Debug for Edgemeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edgemeter").field("options", &self.inner.options).field("pending", &self.pending()).finish()
    }
}

/// The delivery task: sends what is due when woken, and everything queued every
/// `flush_interval`.
async fn run(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(inner.options.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = inner.wake.notified() => {}
            _ = tick.tick() => {
                let mut st = inner.lock();
                st.flush_target = st.seq;
            }
        }
        inner.drain().await;
        if inner.lock().stop {
            break;
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere (say, in a
        // caller's thread) leaves nothing half-done to fear.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls `on_error`, containing a panic in it; returns the error for the caller.
    fn report(&self, error: Error) -> Error {
        if let Some(f) = &self.options.on_error {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&error)));
        }
        error
    }

    /// Sends batches one at a time, oldest first, while a full batch or a flush is due
    /// and the API has not refused the client's configuration.
    async fn drain(&self) {
        loop {
            let batch: Vec<Queued> = {
                let mut st = self.lock();
                let due = !st.blocked
                    && st.queue.front().is_some_and(|first| {
                        st.queue.len() >= self.options.flush_at || first.seq <= st.flush_target || st.stop
                    });
                if !due {
                    return;
                }
                let n = batch::batch_len(st.queue.iter().map(|e| e.json.len()));
                st.in_flight += n;
                let batch: Vec<Queued> = st.queue.drain(..n).collect();
                st.sending = batch.iter().map(|e| (e.seq, e.key.clone())).collect();
                batch
            };
            match self.deliver(&batch).await {
                Delivery::Settled(outcome) => self.settle(&batch, outcome),
                Delivery::Refused(error) => return self.hold(batch, error),
            }
        }
    }

    /// The API refused the key or address: puts the batch back at the front of the queue
    /// (nothing is dropped), stops sending until the caller flushes again, and says so:
    /// to `on_error` (or once on stderr), and as the error of every flush waiting.
    fn hold(&self, batch: Vec<Queued>, error: Error) {
        let (error, waiting, warn) = {
            let mut st = self.lock();
            st.in_flight -= batch.len();
            st.sending.clear();
            for e in batch.into_iter().rev() {
                st.queue.push_front(e);
            }
            st.blocked = true;
            let error = refusal::explain(&self.url, &self.options.base_url, error, st.unsettled(st.seq));
            let warn = self.options.on_error.is_none() && !std::mem::replace(&mut st.warned, true);
            let waiting: Vec<(Waiter, Vec<String>)> = std::mem::take(&mut st.waiters)
                .into_iter()
                .map(|w| (st.unsettled(w.target), w))
                .map(|(k, w)| (w, k))
                .collect();
            (error, waiting, warn)
        };
        if warn {
            eprintln!("edgemeter: {} (set on_error to handle this yourself)", error.message);
        }
        self.report(error.clone());
        for (mut w, keys) in waiting {
            w.result.pending.clone_from(&keys);
            let _ =
                w.tx.send(Err(Refused { error: Box::new(error.clone().with_keys(keys)), result: Box::new(w.result) }));
        }
    }

    fn settle(&self, batch: &[Queued], outcome: FlushResult) {
        let mut done = Vec::new();
        {
            let mut st = self.lock();
            st.in_flight -= batch.len();
            st.sending.clear();
            st.settled_seq = batch.last().map_or(st.settled_seq, |e| e.seq);
            let settled = st.settled_seq;
            let mut waiting = Vec::with_capacity(st.waiters.len());
            for mut w in st.waiters.drain(..) {
                w.result.accepted += outcome.accepted;
                w.result.duplicates += outcome.duplicates;
                w.result.rejected.extend(outcome.rejected.iter().cloned());
                w.result.failed.extend(outcome.failed.iter().cloned());
                if w.target <= settled {
                    done.push(w);
                } else {
                    waiting.push(w);
                }
            }
            st.waiters = waiting;
        }
        // Outside the lock: `on_error` may call `track()`.
        for r in &outcome.rejected {
            self.report(r.error.clone());
        }
        if let Some(f) = outcome.failed.first() {
            self.report(f.error.clone());
        }
        for w in done {
            let _ = w.tx.send(Ok(w.result));
        }
    }

    /// One batch, retried on network errors, timeouts, 408, 429 and 5xx under one
    /// `Idempotency-Key`: a retry of a request the server processed is answered from its
    /// replay cache, and its events would be duplicates anyway.
    async fn deliver(&self, batch: &[Queued]) -> Delivery {
        let o = &self.options;
        let body = batch::body(batch);
        let request_key = uuid::Uuid::now_v7().to_string();
        let request = || {
            self.http
                .post(&self.url)
                .bearer_auth(&o.api_key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", &request_key)
                .body(body.clone())
        };
        let settle = |status: u16, _: &reqwest::header::HeaderMap, bytes: &[u8]| {
            if status != 200 {
                return Answer::error(status, bytes);
            }
            match serde_json::from_slice::<IngestAnswer>(bytes) {
                Ok(answer) => Answer::Done(answer.outcome()),
                // Tried again: the events are duplicates if the server did store them.
                Err(e) => Answer::Retry(
                    Error::new(codes::INVALID_RESPONSE, format!("the server answered 200 without ingest results: {e}"))
                        .with_status(200),
                ),
            }
        };
        match send_with_retries(RetryPolicy::from(o), request, settle).await {
            Ok(result) => Delivery::Settled(result),
            Err(failed) if refusal::is_config_error(&failed.error) => Delivery::Refused(failed.error),
            Err(failed) => {
                Delivery::Settled(fail_all(&batch.iter().map(|e| e.key.clone()).collect::<Vec<_>>(), failed.error))
            }
        }
    }
}

/// What became of one batch's request.
enum Delivery {
    Settled(FlushResult),
    /// The API refused the client's key or address ([`refusal::is_config_error`]).
    Refused(Error),
}

fn fail_all(keys: &[String], error: Error) -> FlushResult {
    let error = error.with_keys(keys.to_vec());
    let failed = keys.iter().map(|k| EventError { idempotency_key: k.clone(), error: error.clone() }).collect();
    FlushResult { failed, ..FlushResult::default() }
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// `POST /v1/usage/ingest`'s 200 answer; lenient, so a field added later breaks nothing.
#[derive(serde::Deserialize)]
struct IngestAnswer {
    #[serde(default)]
    accepted: u64,
    #[serde(default)]
    duplicates: u64,
    results: Vec<IngestResult>,
}

#[derive(serde::Deserialize)]
struct IngestResult {
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<WireError>,
}

impl IngestAnswer {
    fn outcome(self) -> FlushResult {
        let rejected = self
            .results
            .into_iter()
            .filter(|r| r.status == "rejected")
            .map(|r| {
                let key = r.idempotency_key.unwrap_or_default();
                let keys = if key.is_empty() { Vec::new() } else { vec![key.clone()] };
                EventError { idempotency_key: key, error: r.error.unwrap_or_default().into_error().with_keys(keys) }
            })
            .collect();
        FlushResult { accepted: self.accepted, duplicates: self.duplicates, rejected, ..FlushResult::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One client is shared across tasks and threads (behind an `Arc`).
    #[test]
    fn the_clients_are_send_and_sync() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Edgemeter>();
        shared::<Api>();
        shared::<FlushResult>();
    }

    #[test]
    fn a_client_needs_a_runtime() {
        let e = Edgemeter::new(Options::new("pk_x", "http://127.0.0.1:1")).unwrap_err();
        assert_eq!(e.code, codes::INVALID_OPTION);
    }

    #[test]
    fn an_ingest_answer_gives_counts_and_rejections() {
        let answer: IngestAnswer = serde_json::from_str(
            r#"{"accepted":1,"duplicates":1,"rejected":1,"results":[
                {"idempotency_key":"a","status":"accepted"},{"idempotency_key":"b","status":"duplicate"},
                {"idempotency_key":"c","status":"rejected","error":{"code":"unknown_customer","message":"no","field":"customer_id"}}],
                "something_new":true}"#,
        )
        .unwrap();
        let r = answer.outcome();
        assert_eq!((r.accepted, r.duplicates, r.failed.len()), (1, 1, 0));
        let e = &r.rejected[0];
        assert_eq!((e.idempotency_key.as_str(), e.error.code.as_str()), ("c", "unknown_customer"));
        assert_eq!(
            (e.error.field.as_deref(), &e.error.idempotency_keys[..]),
            (Some("customer_id"), &["c".to_owned()][..])
        );
    }
}
