//! One Durable Object per `Idempotency-Key` (scoped by caller and route): the authority
//! that makes a retried `POST` that creates something run once (API.md, "Conventions").
//!
//! Why an object and not only KV: KV is eventually consistent and has no
//! compare-and-set, so two copies of a request racing each other (a client's timeout and
//! its retry, or a retry landing in another location) can both miss the stored answer and
//! both create a customer. An object runs one request at a time, so its claim is atomic.
//! What a claim, a finish and the alarm decide is `core::machine::lease`; this object
//! loads the key's record and alarm, runs the machine on that copy at its own clock's
//! "now", and writes back what changed. One object per key: no global hot spot, and each
//! forgets its key by its own alarm.
//!
//! Ingest does not use it: there every event is deduped by its own key in its customer's
//! object, which already makes a replayed batch count nothing twice.

use crate::protocol::{self, KeyCall};
use crate::respond::{self, internal};
use edgemeter_core::machine::lease::{self, LeaseRecord, Staged};
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The storage key of the one record.
const RECORD: &str = "record";

#[durable_object]
pub struct IdempotencyObject {
    state: State,
}

impl DurableObject for IdempotencyObject {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        let answer = match protocol::read::<KeyCall>(&body) {
            Ok(call) => self.run(call).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(a) => respond::json(200, &a),
            Err(e) => respond::error(&e),
        }
    }

    /// The key's time is over: forget it.
    async fn alarm(&self) -> Result<Response> {
        match self.run(KeyCall::Expire).await {
            Ok(_) => Response::empty(),
            Err(e) => Response::error(e.message.to_string(), 500),
        }
    }
}

impl IdempotencyObject {
    /// Runs one call of the lease over the key's stored record and alarm. The object runs
    /// one event at a time and its storage calls hold later events back, so the read, the
    /// decision and the writes are not interleaved with another copy's.
    async fn run(&self, call: KeyCall) -> std::result::Result<lease::KeyAnswer, ApiError> {
        let storage = self.state.storage();
        let record: Option<LeaseRecord> = storage.get(RECORD).await.map_err(|e| internal("reading a key", e))?;
        let alarm = storage.get_alarm().await.map_err(|e| internal("reading a key's expiry", e))?.map(Timestamp);
        let loaded = Staged { record, alarm, faults: Default::default() };
        let mut staged = loaded.clone();
        let now = Timestamp(worker::Date::now().as_millis() as i64);
        let answer = lease::handle(call, now, &mut staged)?;
        let changes = staged.changes(&loaded);
        match changes.record {
            None => {}
            Some(Some(r)) => storage.put(RECORD, &r).await.map_err(|e| internal("keeping a key", e))?,
            Some(None) => {
                storage.delete(RECORD).await.map_err(|e| internal("forgetting a key", e))?;
            }
        }
        match changes.alarm {
            None => {}
            Some(Some(at)) => {
                storage.set_alarm(super::alarm_at(at)).await.map_err(|e| internal("setting a key's expiry", e))?
            }
            Some(None) => storage.delete_alarm().await.map_err(|e| internal("clearing a key's expiry", e))?,
        }
        Ok(answer)
    }
}
