//! A customer's limits and reservations in its ledger (`core::machine::customer`'s
//! [`LimitStore`] over SQLite).
//!
//! Tables:
//! - `limits`: one row per limited metric, the limit (with the metric's definition) as JSON.
//! - `reservations`: one row per reservation, by id, its idempotency key `UNIQUE`, with
//!   its stored status (`held`, `committed`, `released`) and `expires_at` as columns for
//!   the lists; a held row past `expires_at` is expired, decided at reading with "now".

use super::Ledger;
use crate::objects::sql::{parse, BodyRow};
use edgemeter_core::limit::{Limit, Reservation, ReservationStatus};
use edgemeter_core::machine::customer::LimitStore;
use edgemeter_core::machine::StoreResult;
use edgemeter_core::time::Timestamp;
use worker::SqlStorageValue as V;

/// Run with the ledger's schema, once per object instance.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS limits (metric TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reservations (
  id TEXT PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
";

impl Ledger {
    fn bodies_of<T: serde::de::DeserializeOwned>(&self, q: &str, args: Vec<V>) -> StoreResult<Vec<T>> {
        let rows: Vec<BodyRow> = self.rows(q, args)?;
        rows.iter().map(|r| parse(&r.body)).collect()
    }
}

impl LimitStore for Ledger {
    fn limits(&self) -> StoreResult<Vec<Limit>> {
        self.bodies_of("SELECT body FROM limits ORDER BY metric", vec![])
    }

    fn put_limit(&mut self, limit: &Limit) -> StoreResult<()> {
        self.run(
            "INSERT INTO limits (metric, body) VALUES (?, ?) ON CONFLICT (metric) DO UPDATE SET body = excluded.body",
            vec![V::String(limit.metric.code.clone()), V::String(super::text(limit)?)],
        )
    }

    fn delete_limit(&mut self, metric_code: &str) -> StoreResult<()> {
        self.run("DELETE FROM limits WHERE metric = ?", vec![V::String(metric_code.to_owned())])
    }

    fn held_reservations(&self) -> StoreResult<Vec<Reservation>> {
        self.bodies_of("SELECT body FROM reservations WHERE status = 'held'", vec![])
    }

    fn reservation(&self, id: &str) -> StoreResult<Option<Reservation>> {
        Ok(self.bodies_of("SELECT body FROM reservations WHERE id = ?", vec![V::String(id.to_owned())])?.pop())
    }

    fn reservation_by_key(&self, idempotency_key: &str) -> StoreResult<Option<Reservation>> {
        Ok(self
            .bodies_of(
                "SELECT body FROM reservations WHERE idempotency_key = ?",
                vec![V::String(idempotency_key.to_owned())],
            )?
            .pop())
    }

    fn put_reservation(&mut self, r: &Reservation) -> StoreResult<()> {
        self.run(
            "INSERT INTO reservations (id, idempotency_key, status, expires_at, body) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
            vec![
                V::String(r.id.clone()),
                V::String(r.idempotency_key.clone()),
                V::String(r.status.as_str().to_owned()),
                V::Integer(r.expires_at.millis()),
                V::String(super::text(r)?),
            ],
        )
    }

    fn reservations(
        &self,
        status: Option<ReservationStatus>,
        now: Timestamp,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Reservation>> {
        // `expired` is stored as held: the status column and the time tell them apart.
        let (filter, stored) = match status {
            None => ("?3 = ?3 AND ?4 = ?4", ""),
            Some(ReservationStatus::Held) => ("status = ?3 AND expires_at > ?4", "held"),
            Some(ReservationStatus::Expired) => ("status = ?3 AND expires_at <= ?4", "held"),
            Some(s) => ("status = ?3 AND ?4 = ?4", s.as_str()),
        };
        self.bodies_of(
            &format!("SELECT body FROM reservations WHERE id < ?1 AND {filter} ORDER BY id DESC LIMIT ?2"),
            vec![
                V::String(before.unwrap_or("~").to_owned()),
                V::Integer(limit as i64),
                V::String(stored.to_owned()),
                V::Integer(now.millis()),
            ],
        )
    }
}
