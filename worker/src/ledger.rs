//! A customer's ledger: the SQL behind one customer's Durable Object, in one place.
//!
//! Tables:
//! - `meta`: the customer record (`customer`).
//! - `items`: the customer's items.
//! - `events`: every event ever accepted, by idempotency key, with its content hash and
//!   the start of its service period. A voided event keeps its row (`voided_at`), so its
//!   key stays a duplicate.
//! - `aggregates`: per metric and period, the mergeable [`AggState`] of the live events.
//! - `invoices`: one row per service period (`UNIQUE`), the invoice as the API shows it.
//! - `outbox`: webhook deliveries not yet acknowledged, retried with backoff.
//! - `metrics_seen`: which metric definitions the aggregates already cover. A metric new
//!   to this customer is back-filled from `events` the first time it is seen, so a metric
//!   created after events arrived still counts them.
//!
//! Every method is synchronous: a batch's writes run inside one `transactionSync`
//! (see `tx.rs`) with no `await` in between.

use crate::rpc::{Fate, WireEvent};
use edgemeter_core::aggregate::AggState;
use edgemeter_core::customer::Customer;
use edgemeter_core::hash::ContentHash;
use edgemeter_core::item::Item;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::period::Period;
use edgemeter_core::time::Timestamp;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use worker::{SqlStorage, SqlStorageValue as V};

pub type LedgerResult<T> = std::result::Result<T, String>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  key TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  event_name TEXT NOT NULL,
  body TEXT NOT NULL,
  ts INTEGER NOT NULL,
  period_start INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  voided_at INTEGER
);
CREATE INDEX IF NOT EXISTS events_by_name_period ON events (event_name, period_start);
CREATE TABLE IF NOT EXISTS aggregates (
  metric TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (metric, period_start)
);
CREATE TABLE IF NOT EXISTS metrics_seen (metric TEXT PRIMARY KEY, def TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (
  id TEXT PRIMARY KEY,
  period_start INTEGER NOT NULL UNIQUE,
  status TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at INTEGER,
  last_error TEXT
);
";

/// One customer's storage.
pub struct Ledger {
    sql: SqlStorage,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[derive(Deserialize)]
struct TextRow {
    v: String,
}

#[derive(Deserialize)]
struct HashRow {
    hash: String,
}

#[derive(Deserialize)]
struct EventRow {
    body: String,
    period_start: i64,
}

impl Ledger {
    /// Opens the ledger. `create` runs the schema (`CREATE … IF NOT EXISTS`): once per
    /// object instance is enough, so callers pass true only the first time.
    pub fn open(sql: SqlStorage, create: bool) -> LedgerResult<Ledger> {
        if create {
            sql.exec(SCHEMA, None).map_err(err)?;
        }
        Ok(Ledger { sql })
    }

    fn rows<T: DeserializeOwned>(&self, q: &str, args: Vec<V>) -> LedgerResult<Vec<T>> {
        self.sql.exec(q, args).map_err(err)?.to_array().map_err(err)
    }

    pub fn customer(&self) -> LedgerResult<Option<Customer>> {
        let rows: Vec<TextRow> = self.rows("SELECT v FROM meta WHERE k = 'customer'", vec![])?;
        rows.first().map(|r| serde_json::from_str(&r.v).map_err(err)).transpose()
    }

    pub fn put_customer(&self, c: &Customer) -> LedgerResult<()> {
        let body = serde_json::to_string(c).map_err(err)?;
        self.sql
            .exec(
                "INSERT INTO meta (k, v) VALUES ('customer', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                vec![V::String(body)],
            )
            .map_err(err)?;
        Ok(())
    }

    pub fn items(&self) -> LedgerResult<Vec<Item>> {
        let rows: Vec<TextRow> = self.rows("SELECT body AS v FROM items ORDER BY id", vec![])?;
        rows.iter().map(|r| serde_json::from_str(&r.v).map_err(err)).collect()
    }

    pub fn put_item(&self, item: &Item) -> LedgerResult<()> {
        let body = serde_json::to_string(item).map_err(err)?;
        self.sql
            .exec("INSERT INTO items (id, body) VALUES (?, ?)", vec![V::String(item.id.clone()), V::String(body)])
            .map_err(err)?;
        Ok(())
    }

    /// Makes sure the aggregates cover each metric, back-filling any metric not seen before.
    pub fn ensure_metrics(&self, customer: &Customer, metrics: &[MetricDef]) -> LedgerResult<()> {
        for m in metrics {
            let def = serde_json::to_string(m).map_err(err)?;
            let seen: Vec<TextRow> =
                self.rows("SELECT def AS v FROM metrics_seen WHERE metric = ?", vec![V::String(m.code.clone())])?;
            if seen.first().is_some_and(|r| r.v == def) {
                continue;
            }
            self.rebuild(customer, m, None)?;
            self.sql
                .exec(
                    "INSERT INTO metrics_seen (metric, def) VALUES (?, ?) ON CONFLICT (metric) DO UPDATE SET def = excluded.def",
                    vec![V::String(m.code.clone()), V::String(def)],
                )
                .map_err(err)?;
        }
        Ok(())
    }

    /// The caller's metrics plus those this ledger already aggregates for the batch's
    /// event names. Ingest learns the metrics through a cache that can lag behind a new
    /// metric; once that metric's aggregates exist here (back-filled by a usage read), an
    /// event they miss would be missed for good. Definitions never change, so the stored
    /// one is the metric.
    fn with_seen_metrics(&self, metrics: &[MetricDef], events: &[WireEvent<'_>]) -> LedgerResult<Vec<MetricDef>> {
        let mut names: Vec<&str> = events.iter().map(|e| e.event_name.as_ref()).collect();
        names.sort_unstable();
        names.dedup();
        let rows: Vec<TextRow> = self.rows(
            "SELECT def AS v FROM metrics_seen WHERE json_extract(def, '$.event_name') IN (SELECT value FROM json_each(?))",
            vec![V::String(serde_json::to_string(&names).map_err(err)?)],
        )?;
        let mut all = metrics.to_vec();
        for r in &rows {
            let m: MetricDef = serde_json::from_str(&r.v).map_err(err)?;
            if !all.iter().any(|x| x.code == m.code) {
                all.push(m);
            }
        }
        Ok(all)
    }

    /// Recomputes a metric's aggregates from the live events: for every period, or one.
    /// Final periods are never rebuilt: their events may be compacted away, and their
    /// invoices are the record.
    fn rebuild(&self, customer: &Customer, m: &MetricDef, period_start: Option<i64>) -> LedgerResult<()> {
        let open_from = self.closed_before()?.map_or(i64::MIN, |t| t.millis());
        let (q, mut args) = match period_start {
            None => (
                "SELECT body, period_start FROM events WHERE event_name = ? AND voided_at IS NULL AND period_start >= ?",
                vec![V::Integer(open_from)],
            ),
            Some(p) => (
                "SELECT body, period_start FROM events WHERE event_name = ? AND voided_at IS NULL AND period_start = ?",
                vec![V::Integer(p)],
            ),
        };
        args.insert(0, V::String(m.event_name.clone()));
        let rows: Vec<EventRow> = self.rows(q, args)?;
        let mut states: BTreeMap<i64, AggState> = BTreeMap::new();
        if let Some(p) = period_start {
            states.insert(p, AggState::empty(m.aggregation));
        }
        for r in &rows {
            let ev: WireEvent = serde_json::from_str(&r.body).map_err(err)?;
            let ev = ev.to_valid(&customer.id);
            if m.matches(&ev) {
                states
                    .entry(r.period_start)
                    .or_insert_with(|| AggState::empty(m.aggregation))
                    .apply(&ev, m.field.as_deref());
            }
        }
        if period_start.is_none() {
            self.sql
                .exec(
                    "DELETE FROM aggregates WHERE metric = ? AND period_start >= ?",
                    vec![V::String(m.code.clone()), V::Integer(open_from)],
                )
                .map_err(err)?;
        }
        for (p, s) in states {
            self.put_state(&m.code, p, &s)?;
        }
        Ok(())
    }

    fn state(&self, metric: &MetricDef, period_start: i64) -> LedgerResult<AggState> {
        let rows: Vec<TextRow> = self.rows(
            "SELECT state AS v FROM aggregates WHERE metric = ? AND period_start = ?",
            vec![V::String(metric.code.clone()), V::Integer(period_start)],
        )?;
        match rows.first() {
            Some(r) => serde_json::from_str(&r.v).map_err(err),
            None => Ok(AggState::empty(metric.aggregation)),
        }
    }

    fn put_state(&self, metric: &str, period_start: i64, s: &AggState) -> LedgerResult<()> {
        let state = serde_json::to_string(s).map_err(err)?;
        self.sql
            .exec(
                "INSERT INTO aggregates (metric, period_start, state) VALUES (?, ?, ?)
                 ON CONFLICT (metric, period_start) DO UPDATE SET state = excluded.state",
                vec![V::String(metric.to_owned()), V::Integer(period_start), V::String(state)],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Records a batch: dedupes each event by key (against storage and earlier events of
    /// the same batch), stores the new ones, and folds them into the aggregates. `fault`
    /// names a key after whose write the batch fails, for the rollback test.
    pub fn record_batch(
        &self,
        customer: &Customer,
        metrics: &[MetricDef],
        events: &[WireEvent<'_>],
        now: Timestamp,
        fault: Option<&str>,
    ) -> LedgerResult<Vec<Fate>> {
        self.ensure_metrics(customer, metrics)?;
        let metrics = &self.with_seen_metrics(metrics, events)?[..];
        let schedule = &customer.invoice_schedule;
        let closed_before = self.closed_before()?;
        let mut fates = Vec::with_capacity(events.len());
        let mut in_batch: HashMap<&str, u128> = HashMap::new();
        let mut fresh: Vec<(usize, Period)> = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            if let Some(h) = in_batch.get(ev.key.as_ref()) {
                fates.push(if *h == ev.hash.0 { Fate::Duplicate } else { Fate::Reused });
                continue;
            }
            in_batch.insert(&ev.key, ev.hash.0);
            let period = schedule.period_containing(Timestamp(ev.ts));
            if closed_before.is_some_and(|c| period.start < c) {
                // A retry of an event stored before its period closed is still a
                // duplicate; only a new event is refused.
                fates.push(match self.stored_hash(&ev.key)? {
                    Some(h) if h == ev.hash => Fate::Duplicate,
                    Some(_) => Fate::Reused,
                    None => Fate::Closed,
                });
                continue;
            }
            let body = serde_json::to_string(ev).map_err(err)?;
            let cursor = self
                .sql
                .exec(
                    "INSERT INTO events (key, hash, event_name, body, ts, period_start, received_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    vec![
                        V::String(ev.key.to_string()),
                        V::String(ev.hash.to_string()),
                        V::String(ev.event_name.to_string()),
                        V::String(body),
                        V::Integer(ev.ts),
                        V::Integer(period.start.millis()),
                        V::Integer(now.millis()),
                    ],
                )
                .map_err(err)?;
            if cursor.rows_written() == 0 {
                let stored = self.stored_hash(&ev.key)?;
                // Later copies of this key in the batch are judged against the stored
                // event, not against this copy.
                if let Some(h) = stored {
                    in_batch.insert(&ev.key, h.0);
                }
                fates.push(if stored == Some(ev.hash) { Fate::Duplicate } else { Fate::Reused });
                continue;
            }
            if fault == Some(ev.key.as_ref()) {
                return Err(format!("fault injected after writing event {}", ev.key));
            }
            fates.push(Fate::Accepted);
            fresh.push((i, period));
        }
        // Fold the new events into each (metric, period) state: one read and one write per
        // pair touched, whatever the batch size.
        let mut touched: BTreeMap<(usize, i64), AggState> = BTreeMap::new();
        for (i, period) in &fresh {
            let ev = events[*i].to_valid(&customer.id);
            for (mi, m) in metrics.iter().enumerate() {
                if !m.matches(&ev) {
                    continue;
                }
                let key = (mi, period.start.millis());
                let state = match touched.entry(key) {
                    Entry::Occupied(o) => o.into_mut(),
                    Entry::Vacant(v) => v.insert(self.state(m, key.1)?),
                };
                state.apply(&ev, m.field.as_deref());
            }
        }
        for ((mi, p), s) in touched {
            self.put_state(&metrics[mi].code, p, &s)?;
        }
        Ok(fates)
    }

    /// Voids an accepted event: marks it and recomputes what it fed. `None` when the key
    /// is unknown; `Some(false)` when it was already void.
    pub fn void(&self, customer: &Customer, metrics: &[MetricDef], key: &str, now: Timestamp) -> LedgerResult<Voided> {
        self.ensure_metrics(customer, metrics)?;
        let rows: Vec<EventRowFull> = self.rows(
            "SELECT event_name, period_start, voided_at FROM events WHERE key = ?",
            vec![V::String(key.to_owned())],
        )?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(Voided::NotFound);
        };
        if row.voided_at.is_some() {
            return Ok(Voided::Already);
        }
        if self.closed_before()?.is_some_and(|c| row.period_start < c.millis()) {
            return Ok(Voided::PeriodClosed);
        }
        self.sql
            .exec(
                "UPDATE events SET voided_at = ? WHERE key = ?",
                vec![V::Integer(now.millis()), V::String(key.to_owned())],
            )
            .map_err(err)?;
        for m in metrics.iter().filter(|m| m.event_name == row.event_name) {
            self.rebuild(customer, m, Some(row.period_start))?;
        }
        Ok(Voided::Now)
    }

    /// Each metric's state for one period.
    pub fn usage(&self, customer: &Customer, metrics: &[MetricDef], period: Period) -> LedgerResult<Vec<AggState>> {
        self.ensure_metrics(customer, metrics)?;
        metrics.iter().map(|m| self.state(m, period.start.millis())).collect()
    }
}

/// An event name's live events in one period: how many, first and last.
#[derive(Deserialize)]
pub struct NameSummary {
    pub event_name: String,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// A webhook delivery waiting in the outbox.
#[derive(Deserialize)]
pub struct Pending {
    pub id: String,
    pub body: String,
    pub attempts: i64,
}

impl Ledger {
    fn stored_hash(&self, key: &str) -> LedgerResult<Option<ContentHash>> {
        let stored: Vec<HashRow> =
            self.rows("SELECT hash FROM events WHERE key = ?", vec![V::String(key.to_owned())])?;
        Ok(stored.first().and_then(|r| ContentHash::parse_hex(&r.hash)))
    }

    pub fn meta(&self, k: &str) -> LedgerResult<Option<String>> {
        let rows: Vec<TextRow> = self.rows("SELECT v FROM meta WHERE k = ?", vec![V::String(k.to_owned())])?;
        Ok(rows.into_iter().next().map(|r| r.v))
    }

    pub fn put_meta(&self, k: &str, v: &str) -> LedgerResult<()> {
        self.sql
            .exec(
                "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                vec![V::String(k.to_owned()), V::String(v.to_owned())],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Events in periods starting before this are refused (`period_closed`).
    pub fn closed_before(&self) -> LedgerResult<Option<Timestamp>> {
        Ok(self.meta("closed_before")?.and_then(|v| v.parse().ok()).map(Timestamp))
    }

    /// Per event name, the first and last live event of a period.
    pub fn period_summaries(&self, period_start: i64) -> LedgerResult<Vec<NameSummary>> {
        self.rows(
            "SELECT event_name, MIN(ts) AS first_ts, MAX(ts) AS last_ts FROM events
             WHERE period_start = ? AND voided_at IS NULL GROUP BY event_name",
            vec![V::Integer(period_start)],
        )
    }

    pub fn invoice(&self, id: &str) -> LedgerResult<Option<serde_json::Value>> {
        let rows: Vec<TextRow> =
            self.rows("SELECT body AS v FROM invoices WHERE id = ?", vec![V::String(id.to_owned())])?;
        rows.first().map(|r| serde_json::from_str(&r.v).map_err(err)).transpose()
    }

    pub fn invoice_for_period(&self, period_start: i64) -> LedgerResult<Option<serde_json::Value>> {
        let rows: Vec<TextRow> =
            self.rows("SELECT body AS v FROM invoices WHERE period_start = ?", vec![V::Integer(period_start)])?;
        rows.first().map(|r| serde_json::from_str(&r.v).map_err(err)).transpose()
    }

    /// Every invoice, oldest period first, optionally of one status.
    pub fn invoices(&self, status: Option<&str>) -> LedgerResult<Vec<serde_json::Value>> {
        let rows: Vec<TextRow> = match status {
            Some(s) => self.rows(
                "SELECT body AS v FROM invoices WHERE status = ? ORDER BY period_start",
                vec![V::String(s.to_owned())],
            )?,
            None => self.rows("SELECT body AS v FROM invoices ORDER BY period_start", vec![])?,
        };
        rows.iter().map(|r| serde_json::from_str(&r.v).map_err(err)).collect()
    }

    /// Stores an invoice (`id`, `status` and `period_start` read from its body).
    pub fn put_invoice(&self, inv: &serde_json::Value, period_start: i64) -> LedgerResult<()> {
        let id = inv["id"].as_str().ok_or("invoice without id")?;
        let status = inv["status"].as_str().ok_or("invoice without status")?;
        self.sql
            .exec(
                "INSERT INTO invoices (id, period_start, status, body) VALUES (?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
                vec![
                    V::String(id.to_owned()),
                    V::Integer(period_start),
                    V::String(status.to_owned()),
                    V::String(inv.to_string()),
                ],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Deletes the events of final periods (starting before `closed_before`) whose
    /// timestamps are older than `horizon`, and webhook deliveries done before it.
    pub fn compact(&self, closed_before: Timestamp, horizon: Timestamp) -> LedgerResult<()> {
        self.sql
            .exec(
                "DELETE FROM events WHERE period_start < ? AND ts < ?",
                vec![V::Integer(closed_before.millis()), V::Integer(horizon.millis())],
            )
            .map_err(err)?;
        self.sql
            .exec(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                vec![V::Integer(horizon.millis())],
            )
            .map_err(err)?;
        Ok(())
    }

    pub fn enqueue(&self, id: &str, body: &str, now: Timestamp) -> LedgerResult<()> {
        self.sql
            .exec(
                "INSERT INTO outbox (id, body, next_attempt_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                vec![V::String(id.to_owned()), V::String(body.to_owned()), V::Integer(now.millis())],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Deliveries due at `now`, oldest first.
    pub fn due_deliveries(&self, now: Timestamp) -> LedgerResult<Vec<Pending>> {
        self.rows(
            "SELECT id, body, attempts FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?
             ORDER BY next_attempt_at LIMIT 20",
            vec![V::Integer(now.millis())],
        )
    }

    /// The earliest pending delivery, if any.
    pub fn next_delivery(&self) -> LedgerResult<Option<Timestamp>> {
        #[derive(Deserialize)]
        struct Row {
            t: Option<i64>,
        }
        let rows: Vec<Row> =
            self.rows("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE delivered_at IS NULL", vec![])?;
        Ok(rows.first().and_then(|r| r.t).map(Timestamp))
    }

    pub fn delivered(&self, id: &str, now: Timestamp) -> LedgerResult<()> {
        self.sql
            .exec(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                vec![V::Integer(now.millis()), V::String(id.to_owned())],
            )
            .map_err(err)?;
        Ok(())
    }

    pub fn delivery_failed(&self, id: &str, next: Timestamp, error: &str) -> LedgerResult<()> {
        self.sql
            .exec(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                vec![V::Integer(next.millis()), V::String(error.to_owned()), V::String(id.to_owned())],
            )
            .map_err(err)?;
        Ok(())
    }
}

/// What `void` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voided {
    Now,
    Already,
    NotFound,
    /// The event's period is final: its invoice must not change.
    PeriodClosed,
}

#[derive(Deserialize)]
struct EventRowFull {
    event_name: String,
    period_start: i64,
    voided_at: Option<i64>,
}
