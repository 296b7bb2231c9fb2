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
//! The ledger decides nothing: `core::book` decides fates, voids and aggregates, and the
//! ledger loads what the book asks for and writes what it returns, set-based (a few
//! statements per call, not one per event). Every method is synchronous: a call's writes
//! run inside one `transactionSync` (see `tx.rs`) with no `await` in between.

use edgemeter_core::aggregate::AggState;
use edgemeter_core::book::{Book, NameSpan, NewEvent, StateRow, StateWrites, VoidTarget};
use edgemeter_core::customer::Customer;
use edgemeter_core::event::{EventRecord, ValidEvent};
use edgemeter_core::hash::ContentHash;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::item::Item;
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::period::Period;
use edgemeter_core::rejection::{RejectedEvent, LOG_CAPACITY};
use edgemeter_core::time::Timestamp;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;
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
CREATE TABLE IF NOT EXISTS rejections (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
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
            .exec(
                "INSERT INTO items (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                vec![V::String(item.id.clone()), V::String(body)],
            )
            .map_err(err)?;
        Ok(())
    }

    /// The customer's book, from what storage holds; `None` before the customer exists.
    pub fn load_book(&self) -> LedgerResult<Option<Book>> {
        let Some(customer) = self.customer()? else { return Ok(None) };
        let closed_before = self.closed_before()?;
        let seen: Vec<TextRow> = self.rows("SELECT def AS v FROM metrics_seen", vec![])?;
        let seen = seen.iter().map(|r| serde_json::from_str(&r.v).map_err(err)).collect::<LedgerResult<Vec<_>>>()?;
        #[derive(Deserialize)]
        struct StateRowSql {
            metric: String,
            period_start: i64,
            state: String,
        }
        let rows: Vec<StateRowSql> = self.rows(
            "SELECT metric, period_start, state FROM aggregates WHERE period_start >= ?",
            vec![V::Integer(closed_before.map_or(BEFORE_ALL, |t| t.millis()))],
        )?;
        let states = rows
            .into_iter()
            .map(|r| {
                Ok(StateRow {
                    metric: r.metric,
                    period_start: Timestamp(r.period_start),
                    state: serde_json::from_str(&r.state).map_err(err)?,
                })
            })
            .collect::<LedgerResult<Vec<_>>>()?;
        Ok(Some(Book::load(customer, closed_before, seen, states)))
    }

    /// Back-fills, from the stored events, every metric the book does not cover yet, and
    /// records that it now does.
    pub fn ensure_metrics(&self, book: &mut Book, metrics: &[MetricDef]) -> LedgerResult<()> {
        for m in book.unseen(metrics).into_iter().cloned().collect::<Vec<_>>() {
            let from = book.closed_before().map_or(BEFORE_ALL, |t| t.millis());
            let rows: Vec<EventRow> = self.rows(
                "SELECT body, period_start FROM events WHERE event_name = ? AND voided_at IS NULL AND period_start >= ?",
                vec![V::String(m.event_name.clone()), V::Integer(from)],
            )?;
            let records = rows
                .iter()
                .map(|r| Ok((Timestamp(r.period_start), serde_json::from_str::<EventRecord>(&r.body).map_err(err)?)))
                .collect::<LedgerResult<Vec<_>>>()?;
            let customer_id = book.customer().id.clone();
            let live: Vec<(Timestamp, ValidEvent)> =
                records.iter().map(|(p, r)| (*p, r.to_valid(&customer_id))).collect();
            let writes = book.backfill(&m, live.iter().map(|(p, e)| (*p, e)));
            self.write_states(&writes)?;
            self.sql
                .exec(
                    "INSERT INTO metrics_seen (metric, def) VALUES (?, ?) ON CONFLICT (metric) DO UPDATE SET def = excluded.def",
                    vec![V::String(m.code.clone()), V::String(serde_json::to_string(&m).map_err(err)?)],
                )
                .map_err(err)?;
        }
        Ok(())
    }

    /// The content hash of every key in `keys` that is stored: one query for the batch.
    pub fn stored_hashes<'k>(&self, keys: impl Iterator<Item = &'k str>) -> LedgerResult<HashMap<String, ContentHash>> {
        #[derive(Deserialize)]
        struct KeyHash {
            key: String,
            hash: String,
        }
        let keys: Vec<&str> = keys.collect();
        let rows: Vec<KeyHash> = self.rows(
            "SELECT key, hash FROM events WHERE key IN (SELECT value FROM json_each(?))",
            vec![V::String(serde_json::to_string(&keys).map_err(err)?)],
        )?;
        rows.into_iter()
            .map(|r| Ok((r.key, ContentHash::parse_hex(&r.hash).ok_or("a stored hash that is not 32 hex digits")?)))
            .collect()
    }

    /// Stores the batch's new events with set-based inserts: one statement per chunk of
    /// about [`CHUNK_BYTES`] of JSON, bound as one parameter (Cloudflare allows 100 bound
    /// parameters and 100 KB of SQL per statement; the rows travel in the parameter).
    pub fn insert_events(&self, events: &[EventRecord<'_>], new: &[NewEvent], now: Timestamp) -> LedgerResult<()> {
        // Each row is `[key, hash, event_name, {record}, ts, period_start]`, the record as a
        // JSON object (not a string), so it is written once and stored as `value -> 3`.
        let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 4096);
        for (i, n) in new.iter().enumerate() {
            let ev = &events[n.index];
            chunk.push(if chunk.is_empty() { b'[' } else { b',' });
            serde_json::to_writer(&mut chunk, &(&ev.key, ev.hash, &ev.event_name)).map_err(err)?;
            chunk.pop(); // the tuple's `]`: the row goes on
            chunk.push(b',');
            serde_json::to_writer(&mut chunk, ev).map_err(err)?;
            chunk.extend_from_slice(format!(",{},{}]", ev.ts, n.period_start.millis()).as_bytes());
            if chunk.len() >= CHUNK_BYTES || i + 1 == new.len() {
                chunk.push(b']');
                let rows = String::from_utf8(std::mem::take(&mut chunk)).map_err(err)?;
                self.sql
                    .exec(
                        "INSERT INTO events (key, hash, event_name, body, ts, period_start, received_at)
                         SELECT value ->> 0, value ->> 1, value ->> 2, value -> 3, value ->> 4, value ->> 5, ?
                         FROM json_each(?)",
                        vec![V::Integer(now.millis()), V::String(rows)],
                    )
                    .map_err(err)?;
            }
        }
        Ok(())
    }

    /// Writes what the book decided for the aggregates, set-based.
    pub fn write_states(&self, w: &StateWrites) -> LedgerResult<()> {
        if let Some((metric, from)) = &w.clear {
            self.sql
                .exec(
                    "DELETE FROM aggregates WHERE metric = ? AND period_start >= ?",
                    vec![V::String(metric.clone()), V::Integer(from.millis().max(BEFORE_ALL))],
                )
                .map_err(err)?;
        }
        if w.put.is_empty() {
            return Ok(());
        }
        let rows = w
            .put
            .iter()
            .map(|r| Ok((&r.metric, r.period_start.millis(), serde_json::to_string(&r.state).map_err(err)?)))
            .collect::<LedgerResult<Vec<_>>>()?;
        self.sql
            .exec(
                "INSERT INTO aggregates (metric, period_start, state)
                 SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
                 ON CONFLICT (metric, period_start) DO UPDATE SET state = excluded.state",
                vec![V::String(serde_json::to_string(&rows).map_err(err)?)],
            )
            .map_err(err)?;
        Ok(())
    }

    /// What storage holds for a key about to be voided.
    pub fn void_target(&self, key: &str) -> LedgerResult<Option<VoidTarget>> {
        let rows: Vec<EventRowFull> = self.rows(
            "SELECT event_name, period_start, voided_at FROM events WHERE key = ?",
            vec![V::String(key.to_owned())],
        )?;
        Ok(rows.into_iter().next().map(|r| VoidTarget {
            event_name: r.event_name,
            period_start: Timestamp(r.period_start),
            voided: r.voided_at.is_some(),
        }))
    }

    /// Marks an event voided and returns the live events of its name and period, for the
    /// book to recompute.
    pub fn mark_voided(&self, key: &str, t: &VoidTarget, now: Timestamp) -> LedgerResult<Vec<EventRecord<'static>>> {
        self.sql
            .exec(
                "UPDATE events SET voided_at = ? WHERE key = ?",
                vec![V::Integer(now.millis()), V::String(key.to_owned())],
            )
            .map_err(err)?;
        self.period_events(&t.event_name, t.period_start)
    }

    /// Each metric's stored state over a final period (the book holds open ones only).
    pub fn stored_states(&self, metrics: &[MetricDef], period_start: Timestamp) -> LedgerResult<Vec<AggState>> {
        metrics
            .iter()
            .map(|m| {
                let rows: Vec<TextRow> = self.rows(
                    "SELECT state AS v FROM aggregates WHERE metric = ? AND period_start = ?",
                    vec![V::String(m.code.clone()), V::Integer(period_start.millis())],
                )?;
                match rows.first() {
                    Some(r) => serde_json::from_str(&r.v).map_err(err),
                    None => Ok(AggState::empty(m.aggregation)),
                }
            })
            .collect()
    }

    /// Each metric's state over a period: the book's for an open one, storage's for a
    /// final one. Back-fills metrics new to the book first (a write: run it in a
    /// transaction).
    pub fn usage(&self, book: &mut Book, metrics: &[MetricDef], period: Period) -> LedgerResult<Vec<AggState>> {
        self.ensure_metrics(book, metrics)?;
        match book.usage(metrics, period) {
            Some(states) => Ok(states),
            None => self.stored_states(metrics, period.start),
        }
    }
}

/// The rejected-events log and usage by day: reads and writes off the ingest path.
impl Ledger {
    /// Adds entries (oldest first) and drops all but the newest [`LOG_CAPACITY`].
    pub fn log_rejections(&self, entries: &[RejectedEvent]) -> LedgerResult<()> {
        let skip = entries.len().saturating_sub(LOG_CAPACITY);
        let bodies: Vec<String> =
            entries[skip..].iter().map(serde_json::to_string).collect::<Result<_, _>>().map_err(err)?;
        let list = serde_json::to_string(&bodies).map_err(err)?;
        self.sql
            .exec("INSERT INTO rejections (body) SELECT value FROM json_each(?) ORDER BY key", vec![V::String(list)])
            .map_err(err)?;
        self.sql
            .exec(
                "DELETE FROM rejections WHERE seq <= (SELECT MAX(seq) FROM rejections) - ?",
                vec![V::Integer(LOG_CAPACITY as i64)],
            )
            .map_err(err)?;
        Ok(())
    }

    /// The newest entries before `before` (a `seq`), each with its `seq` for paging.
    pub fn rejections(&self, limit: usize, before: Option<i64>) -> LedgerResult<Vec<(i64, RejectedEvent)>> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            body: String,
        }
        let rows: Vec<Row> = self.rows(
            "SELECT seq, body FROM rejections WHERE seq < ? ORDER BY seq DESC LIMIT ?",
            vec![V::Integer(before.unwrap_or(AFTER_ALL)), V::Integer(limit as i64)],
        )?;
        rows.into_iter().map(|r| Ok((r.seq, serde_json::from_str(&r.body).map_err(err)?))).collect()
    }

    /// The live (not voided) events of these names stored for the period starting at
    /// `period_start`.
    pub fn period_events(&self, name: &str, period_start: Timestamp) -> LedgerResult<Vec<EventRecord<'static>>> {
        let rows: Vec<EventRow> = self.rows(
            "SELECT body, period_start FROM events WHERE event_name = ? AND voided_at IS NULL AND period_start = ?",
            vec![V::String(name.to_owned()), V::Integer(period_start.millis())],
        )?;
        rows.iter().map(|r| Ok(serde_json::from_str::<EventRecord>(&r.body).map_err(err)?.into_owned())).collect()
    }
}

/// A time before every period, as a bound in SQL: the smallest integer a JS number holds
/// exactly (`i64::MIN` crosses to JS with a warning and a rounding).
const BEFORE_ALL: i64 = -((1 << 53) - 1);
/// The largest integer a JS number holds exactly: after every log position.
const AFTER_ALL: i64 = (1 << 53) - 1;

/// About this much JSON per set-based insert statement.
const CHUNK_BYTES: usize = 256 * 1024;

/// A webhook delivery waiting in the outbox.
#[derive(Deserialize)]
pub struct Pending {
    pub id: String,
    pub body: String,
    pub attempts: i64,
}

impl Ledger {
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
    pub fn period_spans(&self, period_start: Timestamp) -> LedgerResult<Vec<NameSpan>> {
        #[derive(Deserialize)]
        struct Row {
            event_name: String,
            first_ts: i64,
            last_ts: i64,
        }
        let rows: Vec<Row> = self.rows(
            "SELECT event_name, MIN(ts) AS first_ts, MAX(ts) AS last_ts FROM events
             WHERE period_start = ? AND voided_at IS NULL GROUP BY event_name",
            vec![V::Integer(period_start.millis())],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| NameSpan { event_name: r.event_name, first: Timestamp(r.first_ts), last: Timestamp(r.last_ts) })
            .collect())
    }

    fn invoice_rows(&self, q: &str, args: Vec<V>) -> LedgerResult<Vec<Invoice>> {
        let rows: Vec<TextRow> = self.rows(q, args)?;
        rows.iter().map(|r| serde_json::from_str(&r.v).map_err(err)).collect()
    }

    pub fn invoice(&self, id: &str) -> LedgerResult<Option<Invoice>> {
        Ok(self.invoice_rows("SELECT body AS v FROM invoices WHERE id = ?", vec![V::String(id.to_owned())])?.pop())
    }

    pub fn invoice_for_period(&self, period_start: Timestamp) -> LedgerResult<Option<Invoice>> {
        Ok(self
            .invoice_rows(
                "SELECT body AS v FROM invoices WHERE period_start = ?",
                vec![V::Integer(period_start.millis())],
            )?
            .pop())
    }

    /// Every invoice, oldest period first, optionally of one status.
    pub fn invoices(&self, status: Option<InvoiceStatus>) -> LedgerResult<Vec<Invoice>> {
        match status {
            Some(s) => self.invoice_rows(
                "SELECT body AS v FROM invoices WHERE status = ? ORDER BY period_start",
                vec![V::String(s.as_str().to_owned())],
            ),
            None => self.invoice_rows("SELECT body AS v FROM invoices ORDER BY period_start", vec![]),
        }
    }

    /// Invoices past draft that still wait for their number.
    pub fn unnumbered_invoices(&self) -> LedgerResult<Vec<Invoice>> {
        self.invoice_rows(
            "SELECT body AS v FROM invoices WHERE status != 'draft' AND json_extract(body, '$.number') IS NULL
             ORDER BY period_start",
            vec![],
        )
    }

    /// Stores an invoice: one row per period, written once per change.
    pub fn put_invoice(&self, inv: &Invoice) -> LedgerResult<()> {
        self.sql
            .exec(
                "INSERT INTO invoices (id, period_start, status, body) VALUES (?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
                vec![
                    V::String(inv.id.clone()),
                    V::Integer(inv.period_start.millis()),
                    V::String(inv.status.as_str().to_owned()),
                    V::String(serde_json::to_string(inv).map_err(err)?),
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

#[derive(Deserialize)]
struct EventRowFull {
    event_name: String,
    period_start: i64,
    voided_at: Option<i64>,
}
