//! What the machine needs from storage for limits and reservations: a part of
//! [`super::CustomerStore`] of its own (the worker's ledger implements it in
//! `objects/ledger/limits.rs`), with the in-memory store's tables for tests.

use super::MemoryStore;
use crate::limit::{Limit, Reservation, ReservationStatus};
use crate::machine::StoreResult;
use crate::time::Timestamp;

/// A customer's limits and reservations in storage. Like every store method, these
/// decide nothing.
pub trait LimitStore {
    /// Every limit, by metric code.
    fn limits(&self) -> StoreResult<Vec<Limit>>;
    /// Stores a limit, replacing the metric's previous one.
    fn put_limit(&mut self, limit: &Limit) -> StoreResult<()>;
    fn delete_limit(&mut self, metric_code: &str) -> StoreResult<()>;
    /// Every reservation stored as `held` (those past `expires_at` included).
    fn held_reservations(&self) -> StoreResult<Vec<Reservation>>;
    fn reservation(&self, id: &str) -> StoreResult<Option<Reservation>>;
    fn reservation_by_key(&self, idempotency_key: &str) -> StoreResult<Option<Reservation>>;
    /// Stores a reservation, replacing the one stored under its id.
    fn put_reservation(&mut self, r: &Reservation) -> StoreResult<()>;
    /// Up to `limit` reservations with ids before `before` (all with `None`), newest
    /// first, of one status at `now` if given (`held` is stored as held and not yet
    /// expired; `expired` is stored as held and past `expires_at`).
    fn reservations(
        &self,
        status: Option<ReservationStatus>,
        now: Timestamp,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Reservation>>;
}

impl LimitStore for MemoryStore {
    fn limits(&self) -> StoreResult<Vec<Limit>> {
        Ok(self.limits.values().cloned().collect())
    }

    fn put_limit(&mut self, limit: &Limit) -> StoreResult<()> {
        self.faults.write()?;
        self.limits.insert(limit.metric.code.clone(), limit.clone());
        Ok(())
    }

    fn delete_limit(&mut self, metric_code: &str) -> StoreResult<()> {
        self.faults.write()?;
        self.limits.remove(metric_code);
        Ok(())
    }

    fn held_reservations(&self) -> StoreResult<Vec<Reservation>> {
        Ok(self.reservations.values().filter(|r| r.status == ReservationStatus::Held).cloned().collect())
    }

    fn reservation(&self, id: &str) -> StoreResult<Option<Reservation>> {
        Ok(self.reservations.get(id).cloned())
    }

    fn reservation_by_key(&self, idempotency_key: &str) -> StoreResult<Option<Reservation>> {
        Ok(self.reservations.values().find(|r| r.idempotency_key == idempotency_key).cloned())
    }

    fn put_reservation(&mut self, r: &Reservation) -> StoreResult<()> {
        self.faults.write()?;
        // One reservation per idempotency key (`UNIQUE` in SQL).
        if self.reservations.values().any(|o| o.idempotency_key == r.idempotency_key && o.id != r.id) {
            return Err(crate::machine::StoreError("UNIQUE constraint failed: reservations.idempotency_key".into()));
        }
        self.reservations.insert(r.id.clone(), r.clone());
        Ok(())
    }

    fn reservations(
        &self,
        status: Option<ReservationStatus>,
        now: Timestamp,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Reservation>> {
        Ok(self
            .reservations
            .values()
            .rev()
            .filter(|r| before.is_none_or(|b| r.id.as_str() < b))
            .filter(|r| status.is_none_or(|s| r.status_at(now) == s))
            .take(limit)
            .cloned()
            .collect())
    }
}
