//! One Durable Object per `Idempotency-Key` (scoped by caller and route): the authority
//! that makes a retried `POST` that creates something run once (API.md, "Conventions").
//!
//! Why an object and not only KV: KV is eventually consistent and has no
//! compare-and-set, so two copies of a request racing each other (a client's timeout and
//! its retry, or a retry landing in another location) can both miss the stored answer and
//! both create a customer. An object runs one request at a time, so its `claim` is atomic:
//! the first copy runs the handler, a copy that arrives while it runs is told
//! `idempotency_key_in_use` (409, retry later, as Stripe answers), and one that arrives
//! after gets the stored answer. One object per key: no global hot spot, and each is
//! deleted by its own alarm once the key's 24 hours are over.
//!
//! Ingest does not use it: there every event is deduped by its own key in its customer's
//! object, which already makes a replayed batch count nothing twice.

use crate::protocol::{self, is_kept, key_reused, Claim, KeyCall};
use crate::respond::{self, internal};
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// How long an answer is kept: API.md promises at least 24 hours.
pub const KEEP_MS: i64 = 25 * 60 * 60 * 1000;
/// How long a claim holds without an answer before another copy may take it over: the
/// worker that claimed it may have died half-way.
pub const LEASE_MS: i64 = 60_000;

#[derive(Serialize, Deserialize)]
struct Record {
    body_sha256: String,
    state: RecordState,
}

#[derive(Serialize, Deserialize)]
enum RecordState {
    Running {
        since: i64,
        first_at: i64,
    },
    Answered {
        status: u16,
        body: String,
    },
    /// The last copy failed; the next copy with the same body runs again from `first_at`.
    Failed {
        first_at: i64,
    },
}

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
            Ok(KeyCall::Claim { body_sha256, now }) => self.claim(body_sha256, now).await,
            Ok(KeyCall::Finish { body_sha256, status, body }) => self.finish(body_sha256, status, body).await,
            Err(e) => Err(e),
        };
        answer.unwrap_or_else(|e| respond::error(&e))
    }

    /// The key's time is over: forget it.
    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}

impl IdempotencyObject {
    async fn claim(&self, body_sha256: String, now: Timestamp) -> std::result::Result<Result<Response>, ApiError> {
        let storage = self.state.storage();
        let record: Option<Record> = storage.get(RECORD).await.map_err(|e| internal("reading a key", e))?;
        let first_at = match &record {
            Some(Record { state: RecordState::Failed { first_at }, body_sha256: b }) if *b == body_sha256 => *first_at,
            Some(Record { state: RecordState::Running { first_at, .. }, body_sha256: b }) if *b == body_sha256 => {
                *first_at
            }
            _ => now.millis(),
        };
        match record {
            // A failed copy frees the key for any body: only a success binds it.
            Some(Record { state: RecordState::Failed { .. }, .. }) => {}
            Some(r) if r.body_sha256 != body_sha256 => return Err(key_reused()),
            _ => {}
        }
        match record {
            Some(Record { state: RecordState::Answered { status, body }, .. }) => {
                Ok(respond::json(200, &Claim::Answered { status, body }))
            }
            Some(Record { state: RecordState::Running { since, .. }, .. }) if now.millis() - since < LEASE_MS => {
                Err(ApiError::new(
                    ErrorCode::IdempotencyKeyInUse,
                    "a request with this Idempotency-Key is still running; retry shortly",
                )
                .field("Idempotency-Key"))
            }
            fresh_or_stale => {
                if fresh_or_stale.is_none() {
                    storage
                        .set_alarm(now.millis() + KEEP_MS)
                        .await
                        .map_err(|e| internal("setting a key's expiry", e))?;
                }
                let running = Record { body_sha256, state: RecordState::Running { since: now.millis(), first_at } };
                storage.put(RECORD, &running).await.map_err(|e| internal("claiming a key", e))?;
                Ok(respond::json(200, &Claim::Run { first_at: Timestamp(first_at) }))
            }
        }
    }

    async fn finish(
        &self,
        body_sha256: String,
        status: u16,
        body: String,
    ) -> std::result::Result<Result<Response>, ApiError> {
        let storage = self.state.storage();
        if is_kept(status) {
            let answered = Record { body_sha256, state: RecordState::Answered { status, body } };
            storage.put(RECORD, &answered).await.map_err(|e| internal("keeping an answer", e))?;
        } else {
            let record: Option<Record> = storage.get(RECORD).await.map_err(|e| internal("reading a key", e))?;
            let first_at = match record {
                Some(Record { state: RecordState::Running { first_at, .. }, .. }) => first_at,
                _ => Timestamp(worker::Date::now().as_millis() as i64).millis(),
            };
            let failed = Record { body_sha256, state: RecordState::Failed { first_at } };
            storage.put(RECORD, &failed).await.map_err(|e| internal("freeing a key", e))?;
        }
        Ok(respond::json(200, &serde_json::json!({})))
    }
}
