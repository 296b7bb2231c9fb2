//! Sans-IO machines: every decision a Durable Object makes, one machine per object.
//!
//! Modelled on quinn-proto's `Connection` (and `core::book`, which the customer's machine
//! drives): a machine owns the small state its decisions need and is driven by
//! `handle(call, now, &mut impl Store)`, which reads and writes through a small
//! synchronous storage trait and returns a typed answer. The worker's objects are then
//! dispatch, storage and I/O: they implement the store over SQLite, run `handle` inside
//! one transaction, and do the network calls the answer asks for. Tests run the very same
//! machines over the in-memory stores here, with storage failures injected.
//!
//! The contract with the shell, for every machine:
//! - One `handle` is one transaction. If it returns `Err`, the shell rolls back every
//!   write the call made (the worker's `transactionSync`, [`transact`] in memory).
//! - A machine that keeps state in memory between calls drops it when a call fails with
//!   a storage error, and loads it again on the next call, so memory never runs ahead of
//!   what is durable.

pub mod catalog;
pub mod customer;
pub mod lease;

use crate::{ApiError, ErrorCode};
use std::fmt;

/// A storage failure (a SQL error, a row that does not parse). Carried as text: the
/// shell only logs it, and the call answers `internal_error`, safe to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl StoreError {
    pub fn new(e: impl fmt::Display) -> StoreError {
        StoreError(e.to_string())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::new(ErrorCode::InternalError, format!("storage: {e}"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A call that names its answer: the front sends the call and gets this type back (the
/// object renders it as the API's JSON), so a call cannot be answered with another's type.
pub trait Ask {
    type Answer: serde::Serialize + serde::de::DeserializeOwned;
}

/// Failures to inject into an in-memory store: the `n`-th write from now fails (and every
/// write after it, until [`Faults::heal`]), as a SQL error would mid-transaction.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    writes_left: Option<u32>,
}

impl Faults {
    /// Writes succeed until `n` more have been made; the next one fails.
    pub fn fail_after(&mut self, n: u32) {
        self.writes_left = Some(n);
    }

    /// No more failures.
    pub fn heal(&mut self) {
        self.writes_left = None;
    }

    /// Called by an in-memory store before each write.
    pub fn write(&mut self) -> StoreResult<()> {
        match &mut self.writes_left {
            None => Ok(()),
            Some(0) => Err(StoreError("injected storage failure".into())),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
        }
    }
}

/// One transaction over an in-memory store: `f`'s writes are kept if it returns `Ok`, and
/// all of them undone if it returns `Err` (what `transactionSync` does in the worker).
/// A store's [`Faults`] are part of it and come back with it: heal them after a failure.
pub fn transact<S: Clone, T, E>(store: &mut S, f: impl FnOnce(&mut S) -> Result<T, E>) -> Result<T, E> {
    let before = store.clone();
    let out = f(store);
    if out.is_err() {
        *store = before;
    }
    out
}
