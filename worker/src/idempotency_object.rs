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

use crate::replay;
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

/// `claim`: may this request run?
#[derive(Serialize, Deserialize)]
pub struct ClaimCall {
    pub body_sha256: String,
    pub now: Timestamp,
}

/// `claim`'s answer: run the handler, or answer with what the first copy answered.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    Run,
    Answered { status: u16, body: String },
}

/// `finish`: the handler's answer. A success is kept; anything else frees the key, so a
/// retry runs again ([`replay::is_kept`]).
#[derive(Serialize, Deserialize)]
pub struct FinishCall {
    pub body_sha256: String,
    pub status: u16,
    pub body: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    body_sha256: String,
    state: RecordState,
}

#[derive(Serialize, Deserialize)]
enum RecordState {
    Running { since: i64 },
    Answered { status: u16, body: String },
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
        let op = req.path();
        let body = req.bytes().await?;
        let answer = match op.trim_start_matches('/') {
            "claim" => self.claim(&body).await,
            "finish" => self.finish(&body).await,
            other => Err(internal("unknown idempotency call", other)),
        };
        answer.unwrap_or_else(|e| respond::error(&e))
    }

    /// The key's time is over: forget it.
    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::empty()
    }
}

fn bad_call(e: serde_json::Error) -> ApiError {
    internal("malformed internal call", e)
}

impl IdempotencyObject {
    async fn claim(&self, body: &[u8]) -> std::result::Result<Result<Response>, ApiError> {
        let call: ClaimCall = serde_json::from_slice(body).map_err(bad_call)?;
        let storage = self.state.storage();
        let record: Option<Record> = storage.get(RECORD).await.map_err(|e| internal("reading a key", e))?;
        match record {
            Some(r) if r.body_sha256 != call.body_sha256 => Err(replay::reused()),
            Some(Record { state: RecordState::Answered { status, body }, .. }) => {
                Ok(respond::json(200, &Claim::Answered { status, body }))
            }
            Some(Record { state: RecordState::Running { since }, .. }) if call.now.millis() - since < LEASE_MS => {
                Err(ApiError::new(
                    ErrorCode::IdempotencyKeyInUse,
                    "a request with this Idempotency-Key is still running; retry shortly",
                )
                .field("Idempotency-Key"))
            }
            fresh_or_stale => {
                if fresh_or_stale.is_none() {
                    storage
                        .set_alarm(call.now.millis() + KEEP_MS)
                        .await
                        .map_err(|e| internal("setting a key's expiry", e))?;
                }
                let running =
                    Record { body_sha256: call.body_sha256, state: RecordState::Running { since: call.now.millis() } };
                storage.put(RECORD, &running).await.map_err(|e| internal("claiming a key", e))?;
                Ok(respond::json(200, &Claim::Run))
            }
        }
    }

    async fn finish(&self, body: &[u8]) -> std::result::Result<Result<Response>, ApiError> {
        let call: FinishCall = serde_json::from_slice(body).map_err(bad_call)?;
        let storage = self.state.storage();
        if replay::is_kept(call.status) {
            let answered = Record {
                body_sha256: call.body_sha256,
                state: RecordState::Answered { status: call.status, body: call.body },
            };
            storage.put(RECORD, &answered).await.map_err(|e| internal("keeping an answer", e))?;
        } else {
            storage.delete(RECORD).await.map_err(|e| internal("freeing a key", e))?;
        }
        Ok(respond::json(200, &serde_json::json!({})))
    }
}
