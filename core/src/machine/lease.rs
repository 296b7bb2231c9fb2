//! The idempotency lease: who may run a keyed `POST`, and what later copies are answered.
//!
//! One lease per `Idempotency-Key` (API.md, "Conventions"), decided here and kept by the
//! worker's `IdempotencyObject`, which runs one call at a time, so a claim is atomic:
//! - the first copy runs the handler (`Claim::Run`); a copy that arrives while it runs is
//!   told `idempotency_key_in_use` (409, retry later), unless the running copy has held
//!   the lease [`LEASE_MS`] without an answer (its worker may have died half-way): then
//!   the newcomer takes the lease over and runs;
//! - a success is kept, and every later copy with the same body gets it byte for byte;
//!   a failure frees the key, and the next copy runs again from the same `first_at`, so
//!   it makes the same resource ids and completes what the failed copy began;
//! - another body under the same key is refused (`idempotency_key_reused`), except after
//!   a failure, which saved nothing and so binds nothing;
//! - the key is forgotten [`KEEP_MS`] after its first claim (the store's alarm), or, if a
//!   copy holds a live lease then, once that lease is over: a copy never runs alongside
//!   another because the key was forgotten under it.

use super::{Ask, StoreResult};
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};

/// How long an answer is kept: API.md promises at least 24 hours.
pub const KEEP_MS: i64 = 25 * 60 * 60 * 1000;
/// How long a claim holds without an answer before another copy may take it over: the
/// worker that claimed it may have died half-way.
pub const LEASE_MS: i64 = 60_000;

/// The key's one record. Times are Unix milliseconds, as the object has always stored them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub body_sha256: String,
    pub state: LeaseState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaseState {
    /// A copy runs since `since` (its lease); the key's first copy with this body was
    /// claimed at `first_at`.
    Running { since: i64, first_at: i64 },
    /// A copy succeeded: its answer, kept.
    Answered { status: u16, body: String },
    /// The last copy failed; the next copy with the same body runs again from `first_at`.
    Failed { first_at: i64 },
}

/// What the lease keeps: the record and the time the key is forgotten.
pub trait LeaseStore {
    fn record(&self) -> StoreResult<Option<LeaseRecord>>;
    fn put_record(&mut self, record: &LeaseRecord) -> StoreResult<()>;
    fn delete_record(&mut self) -> StoreResult<()>;
    /// When the key is forgotten, if a claim set it.
    fn alarm(&self) -> StoreResult<Option<Timestamp>>;
    fn set_alarm(&mut self, at: Option<Timestamp>) -> StoreResult<()>;
}

/// May this copy run? Answered with a [`Claim`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimKey {
    pub body_sha256: String,
}

/// A copy's answer, from the copy that [`Claim::Run`] let run since `holder`. A success is
/// kept for later copies; a failure frees the key if that copy still holds the lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishKey {
    pub body_sha256: String,
    pub holder: Timestamp,
    pub status: u16,
    pub body: String,
}

/// What an `Idempotency-Key`'s object is asked to do. `Expire` is its alarm's call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCall {
    Claim(ClaimKey),
    Finish(FinishKey),
    Expire,
}

/// The answer to [`ClaimKey`]: run the handler, or answer with what the first copy
/// answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// Run the handler. `first_at` is when the key's first copy with this body was
    /// claimed: a copy that runs again after a failure makes the same resource ids from
    /// it, so it completes what the failed copy began instead of starting a second
    /// resource. `holder` names this copy's lease in its [`FinishKey`].
    Run {
        first_at: Timestamp,
        holder: Timestamp,
    },
    Answered {
        status: u16,
        body: String,
    },
}

/// The answer to [`FinishKey`] and to the alarm: nothing to say (`{}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {}

impl Ask for ClaimKey {
    type Answer = Claim;
}

impl Ask for FinishKey {
    type Answer = Done;
}

/// Any call's answer, rendered as the answer type's own JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum KeyAnswer {
    Claim(Claim),
    Done(Done),
}

/// Whether an answer is kept for a key's later copies: a success. Anything else (a
/// refused body, a 5xx) saved nothing, so the corrected request or a retry runs again.
pub fn is_kept(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The same `Idempotency-Key` sent again with another body (API.md, "Conventions").
pub fn key_reused() -> ApiError {
    ApiError::new(ErrorCode::IdempotencyKeyReused, "this Idempotency-Key was used with a different request body")
        .field("Idempotency-Key")
}

fn in_use() -> ApiError {
    ApiError::new(ErrorCode::IdempotencyKeyInUse, "a request with this Idempotency-Key is still running; retry shortly")
        .field("Idempotency-Key")
}

/// One call at `now`: one transaction (on `Err` the shell keeps none of its writes).
pub fn handle(call: KeyCall, now: Timestamp, store: &mut impl LeaseStore) -> Result<KeyAnswer, ApiError> {
    match call {
        KeyCall::Claim(c) => claim(c, now, store).map(KeyAnswer::Claim),
        KeyCall::Finish(f) => finish(f, store).map(KeyAnswer::Done),
        KeyCall::Expire => expire(now, store).map(KeyAnswer::Done),
    }
}

/// May this copy run?
pub fn claim(call: ClaimKey, now: Timestamp, store: &mut impl LeaseStore) -> Result<Claim, ApiError> {
    // A key past its time is forgotten here too, whenever its alarm runs (under a live
    // lease it is kept, and the alarm waits for the lease to end).
    if store.alarm()?.is_some_and(|at| now >= at) && !holds_live_lease(&store.record()?, now) {
        expire(now, store)?;
    }
    let record = store.record()?;
    let same_body = record.as_ref().is_some_and(|r| r.body_sha256 == call.body_sha256);
    let first_at = match &record {
        Some(r) if !same_body => {
            // A failed copy frees the key for any body: only a success or a run binds it.
            if !matches!(r.state, LeaseState::Failed { .. }) {
                return Err(key_reused());
            }
            now.millis()
        }
        None => {
            store.set_alarm(Some(Timestamp(now.millis().saturating_add(KEEP_MS))))?;
            now.millis()
        }
        Some(r) => match &r.state {
            LeaseState::Answered { status, body } => {
                return Ok(Claim::Answered { status: *status, body: body.clone() })
            }
            LeaseState::Running { since, .. } if now.millis().saturating_sub(*since) < LEASE_MS => return Err(in_use()),
            LeaseState::Running { first_at, .. } | LeaseState::Failed { first_at } => *first_at,
        },
    };
    let running = LeaseState::Running { since: now.millis(), first_at };
    store.put_record(&LeaseRecord { body_sha256: call.body_sha256, state: running })?;
    Ok(Claim::Run { first_at: Timestamp(first_at), holder: now })
}

/// A copy's answer. The first success is the one kept: a copy whose lease was taken over
/// may still finish, and later copies must all get the same bytes.
pub fn finish(call: FinishKey, store: &mut impl LeaseStore) -> Result<Done, ApiError> {
    let Some(record) = store.record()? else { return Ok(Done {}) };
    let LeaseState::Running { since, first_at } = record.state else { return Ok(Done {}) };
    if record.body_sha256 != call.body_sha256 {
        return Ok(Done {});
    }
    let state = if is_kept(call.status) {
        LeaseState::Answered { status: call.status, body: call.body }
    } else if since == call.holder.millis() {
        LeaseState::Failed { first_at }
    } else {
        // A failure from a copy that lost its lease: the holder still runs.
        return Ok(Done {});
    };
    store.put_record(&LeaseRecord { body_sha256: call.body_sha256, state })?;
    Ok(Done {})
}

/// The key's time is over: forget it, once no copy holds a live lease.
pub fn expire(now: Timestamp, store: &mut impl LeaseStore) -> Result<Done, ApiError> {
    let record = store.record()?;
    if let Some(LeaseRecord { state: LeaseState::Running { since, .. }, .. }) = record {
        if holds_live_lease(&record, now) {
            store.set_alarm(Some(Timestamp(since.saturating_add(LEASE_MS))))?;
            return Ok(Done {});
        }
    }
    store.delete_record()?;
    store.set_alarm(None)?;
    Ok(Done {})
}

/// Whether a copy runs under a lease not yet [`LEASE_MS`] old.
fn holds_live_lease(record: &Option<LeaseRecord>, now: Timestamp) -> bool {
    matches!(record, Some(LeaseRecord { state: LeaseState::Running { since, .. }, .. })
        if now.millis().saturating_sub(*since) < LEASE_MS)
}

/// A lease kept in memory: the tests' store, and the object's working copy of what it
/// loaded (it writes back what changed, see [`Staged::changes`]).
#[derive(Clone, Debug, Default)]
pub struct Staged {
    pub record: Option<LeaseRecord>,
    pub alarm: Option<Timestamp>,
    pub faults: super::Faults,
}

/// What a call changed in a [`Staged`] lease, for the object to write.
#[derive(Debug, PartialEq, Eq)]
pub struct Changes {
    /// `Some(None)`: delete the record.
    pub record: Option<Option<LeaseRecord>>,
    /// `Some(None)`: delete the alarm.
    pub alarm: Option<Option<Timestamp>>,
}

impl Staged {
    /// What differs from `before` (the lease as loaded).
    pub fn changes(&self, before: &Staged) -> Changes {
        Changes {
            record: (self.record != before.record).then(|| self.record.clone()),
            alarm: (self.alarm != before.alarm).then_some(self.alarm),
        }
    }
}

impl LeaseStore for Staged {
    fn record(&self) -> StoreResult<Option<LeaseRecord>> {
        Ok(self.record.clone())
    }

    fn put_record(&mut self, record: &LeaseRecord) -> StoreResult<()> {
        self.faults.write()?;
        self.record = Some(record.clone());
        Ok(())
    }

    fn delete_record(&mut self) -> StoreResult<()> {
        self.faults.write()?;
        self.record = None;
        Ok(())
    }

    fn alarm(&self) -> StoreResult<Option<Timestamp>> {
        Ok(self.alarm)
    }

    fn set_alarm(&mut self, at: Option<Timestamp>) -> StoreResult<()> {
        self.faults.write()?;
        self.alarm = at;
        Ok(())
    }
}
