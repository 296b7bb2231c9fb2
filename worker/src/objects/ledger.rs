//! A customer's ledger: the SQL behind one customer's Durable Object, in one place.
//!
//! Tables:
//! - `meta`: the customer record (`customer`).
//! - `items`: the customer's items.
//! - `event_chunks`, `event_keys`, `voided_events`: every event ever accepted, several
//!   per row, and a small row per key for dedupe (`ledger/chunks.rs`): an accepted event
//!   is one row written (its key) and a share of its call's chunk. A voided event keeps
//!   its key, so it stays a duplicate. Objects from before chunks held an `events` table
//!   in one of three earlier [`Layout`]s; their first call moves it to chunks.
//! - `aggregates`: per metric and period, the mergeable [`AggState`] of the live events.
//! - `invoices`: one row per service period (`UNIQUE`), the invoice as the API shows it.
//! - `outbox`: webhook deliveries not yet acknowledged, retried with backoff.
//! - `limits`, `reservations`: see `ledger/limits.rs`.
//! - `invoiced_events`: the live events of final periods that compaction took out of
//!   the `events` table before chunks, by period and key, so an invoice's events stay
//!   readable (`GET /v1/invoices/{id}/events`). Compaction no longer writes it: a chunk
//!   stays where it is and only its keys go.
//! - `metrics_seen`: which metric definitions the aggregates already cover. A metric new
//!   to this customer is back-filled from the stored events the first time it is seen, so a metric
//!   created after events arrived still counts them.
//!
//! The ledger is `core::machine::customer`'s [`CustomerStore`] over SQLite and decides
//! nothing: it loads what the machine asks for and writes what it returns, set-based (a
//! few statements per call, not one per event). Every method is synchronous: a call's
//! writes run inside one `transactionSync` (see `tx.rs`) with no `await` in between.

mod chunks;
mod credits;
mod limits;

use crate::objects::sql::parse;
use edgemeter_core::aggregate::AggState;
use edgemeter_core::book::{NameSpan, NewEvent, StateRow, StateWrites, VoidTarget};
use edgemeter_core::customer::Customer;
use edgemeter_core::event::EventRecord;
use edgemeter_core::hash::ContentHash;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::item::Item;
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::machine::customer::{CustomerStore, Outgoing};
use edgemeter_core::machine::{StoreError, StoreResult};
use edgemeter_core::metric::MetricDef;
use edgemeter_core::rejection::RejectedEvent;
use edgemeter_core::time::Timestamp;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::cell::Cell;
use std::collections::HashMap;
use worker::{SqlCursor, SqlStorage, SqlStorageValue as V};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS aggregates (
  metric TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (metric, period_start)
);
CREATE TABLE IF NOT EXISTS rejections (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metrics_seen (metric TEXT PRIMARY KEY, def TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoiced_events (
  period_start INTEGER NOT NULL,
  key TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (period_start, key)
) WITHOUT ROWID;
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

/// The `events` columns, the same in every layout.
const EVENT_COLUMNS: &str = "key, hash, event_name, body, ts, period_start, received_at, voided_at";

/// The `events` columns' definitions in the layouts before the compact row: the key and
/// the hash as text, the body the whole event's JSON.
const TEXT_EVENT_COLUMN_DEFS: &str = "key TEXT PRIMARY KEY, hash TEXT NOT NULL, event_name TEXT NOT NULL,
  body TEXT NOT NULL, ts INTEGER NOT NULL, period_start INTEGER NOT NULL, received_at INTEGER NOT NULL,
  voided_at INTEGER";

/// Today's: the key and the hash as 16-byte blobs, the body without the columns' fields.
const EVENT_COLUMN_DEFS: &str = "key BLOB PRIMARY KEY, hash BLOB NOT NULL, event_name TEXT NOT NULL,
  body TEXT NOT NULL, ts INTEGER NOT NULL, period_start INTEGER NOT NULL, received_at INTEGER NOT NULL,
  voided_at INTEGER";

/// The layouts of the `events` table before chunks. Objects created before a change
/// still hold one until [`Ledger::open`] moves their events to chunks (by way of the
/// compact row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// The first: a rowid table, its text primary key as a second b-tree, and
    /// `events_by_name_period` (made by the caller): three rows written per event.
    First,
    /// The second: `WITHOUT ROWID` (the key's b-tree is the table), text key and hash,
    /// the whole event's JSON as the body: one row per event, about 330 bytes.
    TextKeys,
    /// The third, the compact row: `WITHOUT ROWID`, blob key and hash, a body of only
    /// what no column holds: one row per event, about 100 bytes.
    Compact,
}

fn events_table(name: &str, layout: Layout) -> String {
    match layout {
        Layout::First => format!("CREATE TABLE IF NOT EXISTS {name} ({TEXT_EVENT_COLUMN_DEFS});"),
        Layout::TextKeys => format!("CREATE TABLE IF NOT EXISTS {name} ({TEXT_EVENT_COLUMN_DEFS}) WITHOUT ROWID;"),
        Layout::Compact => format!("CREATE TABLE IF NOT EXISTS {name} ({EVENT_COLUMN_DEFS}) WITHOUT ROWID;"),
    }
}

/// A compact row's key as the canonical UUID text (lower-case, hyphenated).
const KEY_TEXT_SQL: &str = "lower(substr(hex(key), 1, 8) || '-' || substr(hex(key), 9, 4) || '-' ||
  substr(hex(key), 13, 4) || '-' || substr(hex(key), 17, 4) || '-' || substr(hex(key), 21))";

/// A compact row as the event's whole JSON (an [`EventRecord`]): the body's fields, the
/// defaults it leaves out, and the columns'. The rare readers (back-fill, an invoice's
/// events, compaction) pay for it; ingest never does.
const RECORD_SQL: &str = "json_set(json_patch('{\"ts_given\":false,\"props\":{}}', body),
  '$.key', lower(substr(hex(key), 1, 8) || '-' || substr(hex(key), 9, 4) || '-' ||
  substr(hex(key), 13, 4) || '-' || substr(hex(key), 17, 4) || '-' || substr(hex(key), 21)),
  '$.event_name', event_name, '$.ts', ts, '$.hash', lower(hex(hash)))";

/// Whether `key` is a UUID in canonical form (lower-case hex, hyphenated), the only keys
/// ingest accepts: such a key and its 16 bytes stand for each other, in the same order.
fn is_canonical_uuid(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// One customer's storage.
pub struct Ledger {
    sql: SqlStorage,
    /// Tests only (`EDGEMETER_FAULT_INJECTION=1`): a batch that stores an event carrying
    /// the property `edgemeter_fault: "abort"` fails after its events are written, so a
    /// test can check that nothing of it is kept.
    fault_injection: bool,
    /// Rows read and written by this ledger's statements, from the SQL cursors' own
    /// counters: what Cloudflare bills (`make bench-load` reports them per event).
    rows: Cell<RowsCounted>,
    count_rows: bool,
}

/// Rows read and written, as the SQL cursors count them (an index entry is a row).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RowsCounted {
    pub read: u64,
    pub written: u64,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

fn text<T: serde::Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(err)
}

#[derive(Deserialize)]
struct TextRow {
    v: String,
}

/// A time before every period, as a bound in SQL: the smallest integer a JS number holds
/// exactly (`i64::MIN` crosses to JS with a warning and a rounding).
const BEFORE_ALL: i64 = -((1 << 53) - 1);
/// The largest integer a JS number holds exactly: after every log position.
const AFTER_ALL: i64 = (1 << 53) - 1;

fn from_bound(t: Option<Timestamp>) -> i64 {
    t.map_or(BEFORE_ALL, |t| t.millis().max(BEFORE_ALL))
}

impl Ledger {
    /// Tests only (`EDGEMETER_FAULT_INJECTION=1`), after the events just stored: an event
    /// with the property `edgemeter_fault: "abort"` fails the call; `compact_rows`,
    /// `legacy` or `text_keys` put every event stored so far back in an `events` table as
    /// objects held them before chunks (the migration test's start): the compact row, the
    /// first layout or the second. The object's next call moves them to chunks (under
    /// fault injection every call opens the ledger as a new instance does).
    fn faults_after_insert<'e, 'a: 'e>(&self, stored: impl Iterator<Item = &'e EventRecord<'a>>) -> StoreResult<()> {
        if !self.fault_injection {
            return Ok(());
        }
        let mut to = None;
        for e in stored {
            let Some(what) = e.props.get("edgemeter_fault").map(|v| v.as_text()) else { continue };
            if what == "abort" {
                return Err(err(format!("fault injected after writing event {}", e.key)));
            }
            if let Some(w) = ["compact_rows", "legacy", "text_keys"].into_iter().find(|w| *w == what) {
                to.get_or_insert(w);
            }
        }
        let Some(to) = to else { return Ok(()) };
        self.move_chunks_to_rows()?;
        match to {
            "legacy" => self
                .move_events(Layout::First, "CREATE INDEX events_by_name_period ON events (event_name, period_start);"),
            "text_keys" => self.move_events(Layout::TextKeys, ""),
            _ => Ok(()),
        }
    }

    /// Opens the ledger. `create` runs the schema (`CREATE … IF NOT EXISTS`) and moves
    /// events kept in the first layout to today's: once per object instance is enough, so
    /// callers pass true only the first time, inside a transaction (the move is all or
    /// nothing).
    /// `count_rows` (`make bench-load` only) reads every cursor's counters: two more calls
    /// into the runtime per statement, so ingest skips them otherwise.
    pub fn open(sql: SqlStorage, create: bool, fault_injection: bool, count_rows: bool) -> StoreResult<Ledger> {
        let ledger = Ledger { sql, fault_injection, count_rows, rows: Cell::new(RowsCounted::default()) };
        if create {
            ledger.run(SCHEMA, vec![])?;
            ledger.run(credits::SCHEMA, vec![])?;
            ledger.run(limits::SCHEMA, vec![])?;
            ledger.run(chunks::SCHEMA, vec![])?;
            // An object from before chunks: its `events` table, in whichever earlier
            // layout, becomes chunks.
            match ledger.events_layout()? {
                None => {}
                Some(Layout::Compact) => ledger.move_rows_to_chunks()?,
                Some(_) => {
                    ledger.move_events(Layout::Compact, "")?;
                    ledger.move_rows_to_chunks()?;
                }
            }
        }
        Ok(ledger)
    }

    /// The layout of an `events` table from before chunks, from its DDL (a rowid table
    /// is the first layout, a text key the second); `None` when there is none.
    fn events_layout(&self) -> StoreResult<Option<Layout>> {
        let rows: Vec<TextRow> =
            self.rows("SELECT upper(sql) AS v FROM sqlite_master WHERE type = 'table' AND name = 'events'", vec![])?;
        let Some(sql) = rows.first().map(|r| r.v.as_str()) else { return Ok(None) };
        Ok(Some(if !sql.contains("WITHOUT ROWID") {
            Layout::First
        } else if sql.contains("KEY TEXT") {
            Layout::TextKeys
        } else {
            Layout::Compact
        }))
    }

    /// Copies every event into a new table in layout `to`, which then takes the place of
    /// `events` (its indexes go with the old table); `then` runs after. From a text layout
    /// to the compact one, or (tests only) back.
    fn move_events(&self, to: Layout, then: &str) -> StoreResult<()> {
        let select = if to == Layout::Compact {
            "SELECT unhex(key, '-'), unhex(hash), event_name, json_remove(body, '$.key', '$.event_name', '$.ts', '$.hash'),
               ts, period_start, received_at, voided_at FROM events"
                .to_owned()
        } else {
            format!(
                "SELECT {KEY_TEXT_SQL}, lower(hex(hash)), event_name, {RECORD_SQL}, ts, period_start, received_at,
                   voided_at FROM events"
            )
        };
        let create = events_table("events_moved", to);
        self.run(
            &format!(
                "{create}
                 INSERT INTO events_moved ({EVENT_COLUMNS}) {select};
                 DROP TABLE events;
                 ALTER TABLE events_moved RENAME TO events;
                 {then}"
            ),
            vec![],
        )
    }

    /// The rows this ledger's statements have read and written so far.
    pub fn rows_counted(&self) -> RowsCounted {
        self.rows.get()
    }

    /// The database's size in bytes, as stored (and billed).
    pub fn database_size(&self) -> usize {
        self.sql.database_size()
    }

    /// Adds a finished cursor's counters to the ledger's.
    fn count(&self, c: &SqlCursor) {
        if !self.count_rows {
            return;
        }
        let mut r = self.rows.get();
        r.read += c.rows_read() as u64;
        r.written += c.rows_written() as u64;
        self.rows.set(r);
    }

    fn rows<T: DeserializeOwned>(&self, q: &str, args: Vec<V>) -> StoreResult<Vec<T>> {
        let cursor = self.sql.exec(q, args).map_err(err)?;
        let rows = cursor.to_array().map_err(err)?;
        self.count(&cursor);
        Ok(rows)
    }

    /// A statement without results: workerd runs it to its end in `exec`.
    fn run(&self, q: &str, args: Vec<V>) -> StoreResult<()> {
        let cursor = self.sql.exec(q, args).map_err(err)?;
        self.count(&cursor);
        Ok(())
    }

    fn meta(&self, k: &str) -> StoreResult<Option<String>> {
        let rows: Vec<TextRow> = self.rows("SELECT v FROM meta WHERE k = ?", vec![V::String(k.to_owned())])?;
        Ok(rows.into_iter().next().map(|r| r.v))
    }

    fn put_meta(&self, k: &str, v: &str) -> StoreResult<()> {
        self.run(
            "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            vec![V::String(k.to_owned()), V::String(v.to_owned())],
        )
    }

    fn invoice_rows(&self, q: &str, args: Vec<V>) -> StoreResult<Vec<Invoice>> {
        let rows: Vec<TextRow> = self.rows(q, args)?;
        rows.iter().map(|r| parse(&r.v).map(Invoice::with_defaults)).collect()
    }
}

impl CustomerStore for Ledger {
    fn customer(&self) -> StoreResult<Option<Customer>> {
        self.meta("customer")?.map(|v| parse(&v)).transpose()
    }

    fn put_customer(&mut self, c: &Customer) -> StoreResult<()> {
        self.put_meta("customer", &text(c)?)
    }

    fn items(&self) -> StoreResult<Vec<Item>> {
        let rows: Vec<TextRow> = self.rows("SELECT body AS v FROM items ORDER BY id", vec![])?;
        rows.iter().map(|r| parse(&r.v)).collect()
    }

    fn put_item(&mut self, item: &Item) -> StoreResult<()> {
        self.run(
            "INSERT INTO items (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
            vec![V::String(item.id.clone()), V::String(text(item)?)],
        )
    }

    fn closed_before(&self) -> StoreResult<Option<Timestamp>> {
        Ok(self.meta("closed_before")?.and_then(|v| v.parse().ok()).map(Timestamp))
    }

    fn put_closed_before(&mut self, t: Timestamp) -> StoreResult<()> {
        self.put_meta("closed_before", &t.millis().to_string())
    }

    fn metrics_seen(&self) -> StoreResult<Vec<MetricDef>> {
        let rows: Vec<TextRow> = self.rows("SELECT def AS v FROM metrics_seen", vec![])?;
        rows.iter().map(|r| parse(&r.v)).collect()
    }

    fn put_metric_seen(&mut self, m: &MetricDef) -> StoreResult<()> {
        self.run(
            "INSERT INTO metrics_seen (metric, def) VALUES (?, ?) ON CONFLICT (metric) DO UPDATE SET def = excluded.def",
            vec![V::String(m.code.clone()), V::String(text(m)?)],
        )
    }

    fn states_from(&self, from: Option<Timestamp>) -> StoreResult<Vec<StateRow>> {
        #[derive(Deserialize)]
        struct Row {
            metric: String,
            period_start: i64,
            state: String,
        }
        let rows: Vec<Row> = self.rows(
            "SELECT metric, period_start, state FROM aggregates WHERE period_start >= ?",
            vec![V::Integer(from_bound(from))],
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(StateRow { metric: r.metric, period_start: Timestamp(r.period_start), state: parse(&r.state)? })
            })
            .collect()
    }

    fn state(&self, metric: &str, period_start: Timestamp) -> StoreResult<Option<AggState>> {
        let rows: Vec<TextRow> = self.rows(
            "SELECT state AS v FROM aggregates WHERE metric = ? AND period_start = ?",
            vec![V::String(metric.to_owned()), V::Integer(period_start.millis())],
        )?;
        rows.first().map(|r| parse(&r.v)).transpose()
    }

    fn write_states(&mut self, w: &StateWrites) -> StoreResult<()> {
        if let Some((metric, from)) = &w.clear {
            self.run(
                "DELETE FROM aggregates WHERE metric = ? AND period_start >= ?",
                vec![V::String(metric.clone()), V::Integer(from_bound(Some(*from)))],
            )?;
        }
        if w.put.is_empty() {
            return Ok(());
        }
        let rows = w
            .put
            .iter()
            .map(|r| Ok((&r.metric, r.period_start.millis(), text(&r.state)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.run(
            "INSERT INTO aggregates (metric, period_start, state)
             SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
             ON CONFLICT (metric, period_start) DO UPDATE SET state = excluded.state",
            vec![V::String(text(&rows)?)],
        )
    }

    fn stored_hashes(&self, keys: &[&str]) -> StoreResult<HashMap<String, ContentHash>> {
        self.chunk_hashes(keys)
    }

    fn insert_events(&mut self, events: &[EventRecord<'_>], new: &[NewEvent], now: Timestamp) -> StoreResult<()> {
        if let Some(n) = new.iter().find(|n| !is_canonical_uuid(&events[n.index].key)) {
            return Err(err(format!("an event key that is not a canonical UUID: {:?}", events[n.index].key)));
        }
        self.insert_chunks(events, new, now)?;
        self.faults_after_insert(new.iter().map(|n| &events[n.index]))
    }

    fn insert_if_new(
        &mut self,
        events: &[EventRecord<'_>],
        period_start: Timestamp,
        now: Timestamp,
        received: Option<&[u8]>,
    ) -> StoreResult<bool> {
        if let Some(e) = events.iter().find(|e| !is_canonical_uuid(&e.key)) {
            return Err(err(format!("an event key that is not a canonical UUID: {:?}", e.key)));
        }
        if !self.chunk_if_new(events, period_start, now, received)? {
            return Ok(false);
        }
        self.faults_after_insert(events.iter())?;
        Ok(true)
    }

    fn live_events_from(
        &self,
        event_name: &str,
        from: Option<Timestamp>,
    ) -> StoreResult<Vec<(Timestamp, EventRecord<'static>)>> {
        self.chunk_live_from(event_name, from_bound(from))
    }

    fn live_events_of(&self, event_name: &str, period_start: Timestamp) -> StoreResult<Vec<EventRecord<'static>>> {
        self.chunk_live_of(event_name, period_start)
    }

    fn void_target(&self, key: &str) -> StoreResult<Option<VoidTarget>> {
        if !is_canonical_uuid(key) {
            return Ok(None); // no stored event has such a key
        }
        self.chunk_void_target(key)
    }

    fn mark_voided(&mut self, key: &str, now: Timestamp) -> StoreResult<()> {
        self.chunk_mark_voided(key, now)
    }

    fn period_spans(&self, period_start: Timestamp) -> StoreResult<Vec<NameSpan>> {
        self.chunk_spans(period_start)
    }

    fn period_events(
        &self,
        period_start: Timestamp,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<(String, EventRecord<'static>)>> {
        self.chunk_period_events(period_start, after, limit)
    }

    fn compact(&mut self, closed_before: Timestamp, horizon: Timestamp) -> StoreResult<()> {
        self.chunk_compact(closed_before, horizon)?;
        self.run(
            "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
            vec![V::Integer(horizon.millis())],
        )
    }

    fn invoice(&self, id: &str) -> StoreResult<Option<Invoice>> {
        Ok(self.invoice_rows("SELECT body AS v FROM invoices WHERE id = ?", vec![V::String(id.to_owned())])?.pop())
    }

    fn invoice_for_period(&self, period_start: Timestamp) -> StoreResult<Option<Invoice>> {
        Ok(self
            .invoice_rows(
                "SELECT body AS v FROM invoices WHERE period_start = ?",
                vec![V::Integer(period_start.millis())],
            )?
            .pop())
    }

    fn invoices(&self, status: Option<InvoiceStatus>) -> StoreResult<Vec<Invoice>> {
        match status {
            Some(s) => self.invoice_rows(
                "SELECT body AS v FROM invoices WHERE status = ? ORDER BY period_start",
                vec![V::String(s.as_str().to_owned())],
            ),
            None => self.invoice_rows("SELECT body AS v FROM invoices ORDER BY period_start", vec![]),
        }
    }

    fn unnumbered_invoices(&self) -> StoreResult<Vec<Invoice>> {
        self.invoice_rows(
            "SELECT body AS v FROM invoices WHERE status != 'draft' AND json_extract(body, '$.number') IS NULL
             ORDER BY period_start",
            vec![],
        )
    }

    fn put_invoice(&mut self, inv: &Invoice) -> StoreResult<()> {
        self.run(
            "INSERT INTO invoices (id, period_start, status, body) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
            vec![
                V::String(inv.id.clone()),
                V::Integer(inv.period_start.millis()),
                V::String(inv.status.as_str().to_owned()),
                V::String(text(inv)?),
            ],
        )
    }

    fn enqueue(&mut self, id: &str, body: &str, at: Timestamp) -> StoreResult<()> {
        self.run(
            "INSERT INTO outbox (id, body, next_attempt_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            vec![V::String(id.to_owned()), V::String(body.to_owned()), V::Integer(at.millis())],
        )
    }

    fn due_deliveries(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<Outgoing>> {
        self.rows(
            "SELECT id, body, attempts FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?
             ORDER BY next_attempt_at, rowid LIMIT ?",
            vec![V::Integer(now.millis()), V::Integer(limit as i64)],
        )
    }

    fn next_delivery(&self) -> StoreResult<Option<Timestamp>> {
        #[derive(Deserialize)]
        struct Row {
            t: Option<i64>,
        }
        let rows: Vec<Row> =
            self.rows("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE delivered_at IS NULL", vec![])?;
        Ok(rows.first().and_then(|r| r.t).map(Timestamp))
    }

    fn delivered(&mut self, id: &str, now: Timestamp) -> StoreResult<()> {
        self.run(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
            vec![V::Integer(now.millis()), V::String(id.to_owned())],
        )
    }

    fn delivery_failed(&mut self, id: &str, retry_at: Timestamp, error: &str) -> StoreResult<()> {
        self.run(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
            vec![V::Integer(retry_at.millis()), V::String(error.to_owned()), V::String(id.to_owned())],
        )
    }

    fn log_rejections(&mut self, entries: &[RejectedEvent], capacity: usize) -> StoreResult<()> {
        let skip = entries.len().saturating_sub(capacity);
        let bodies: Vec<String> = entries[skip..].iter().map(text).collect::<StoreResult<_>>()?;
        self.run(
            "INSERT INTO rejections (body) SELECT value FROM json_each(?) ORDER BY key",
            vec![V::String(text(&bodies)?)],
        )?;
        self.run(
            "DELETE FROM rejections WHERE seq <= (SELECT MAX(seq) FROM rejections) - ?",
            vec![V::Integer(capacity as i64)],
        )
    }

    fn rejections(&self, limit: usize, before: Option<i64>) -> StoreResult<Vec<(i64, RejectedEvent)>> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            body: String,
        }
        let rows: Vec<Row> = self.rows(
            "SELECT seq, body FROM rejections WHERE seq < ? ORDER BY seq DESC LIMIT ?",
            vec![V::Integer(before.unwrap_or(AFTER_ALL)), V::Integer(limit as i64)],
        )?;
        rows.into_iter().map(|r| Ok((r.seq, parse(&r.body)?))).collect()
    }
}
