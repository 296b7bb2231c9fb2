//! A customer's ledger: the SQL behind one customer's Durable Object, in one place.
//!
//! Tables:
//! - `meta`: the customer record (`customer`).
//! - `items`: the customer's items.
//! - `events`: every event ever accepted, by idempotency key, with its content hash and
//!   the start of its service period. A voided event keeps its row (`voided_at`), so its
//!   key stays a duplicate. `WITHOUT ROWID` and no other index, so an event is one row
//!   written; the rare queries by name or period scan it (ARCHITECTURE.md "What a
//!   customer's object stores" says what each pays). The row is compact: the key (a
//!   UUID) and the content hash as 16-byte blobs, and `body` only what no column holds
//!   (`value`, and `ts_given` / `props` when not false / empty), so a batch of random
//!   keys touches fewer, fuller pages. Readers get the event's full JSON back from
//!   [`RECORD_SQL`].
//! - `aggregates`: per metric and period, the mergeable [`AggState`] of the live events.
//! - `invoices`: one row per service period (`UNIQUE`), the invoice as the API shows it.
//! - `outbox`: webhook deliveries not yet acknowledged, retried with backoff.
//! - `limits`, `reservations`: see `ledger/limits.rs`.
//! - `invoiced_events`: the live events of final periods that compaction took out of
//!   `events`, by period and key, so an invoice's events stay readable
//!   (`GET /v1/invoices/{id}/events`) while `events` stays bounded for ingest and scans.
//! - `metrics_seen`: which metric definitions the aggregates already cover. A metric new
//!   to this customer is back-filled from `events` the first time it is seen, so a metric
//!   created after events arrived still counts them.
//!
//! The ledger is `core::machine::customer`'s [`CustomerStore`] over SQLite and decides
//! nothing: it loads what the machine asks for and writes what it returns, set-based (a
//! few statements per call, not one per event). Every method is synchronous: a call's
//! writes run inside one `transactionSync` (see `tx.rs`) with no `await` in between.

mod credits;
mod limits;

use crate::objects::sql::parse;
use edgemeter_core::aggregate::AggState;
use edgemeter_core::book::{NameSpan, NewEvent, StateRow, StateWrites, VoidTarget};
use edgemeter_core::customer::Customer;
use edgemeter_core::event::{EventRecord, Properties};
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

/// The layouts `events` has had. Objects created before a change still hold the older
/// one until [`Ledger::open`] moves their events to today's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// The first: a rowid table, its text primary key as a second b-tree, and
    /// `events_by_name_period` (made by the caller): three rows written per event.
    First,
    /// The second: `WITHOUT ROWID` (the key's b-tree is the table), text key and hash,
    /// the whole event's JSON as the body: one row per event, about 330 bytes.
    TextKeys,
    /// Today's: `WITHOUT ROWID`, blob key and hash, the compact body.
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

/// What a compact row's `body` holds: the event's fields no column holds, the defaults
/// left out (a usage event usually has neither a timestamp nor properties).
#[derive(serde::Serialize)]
struct StoredBody<'r, 'a> {
    value: rust_decimal::Decimal,
    #[serde(skip_serializing_if = "is_false")]
    ts_given: bool,
    #[serde(skip_serializing_if = "Properties::is_empty")]
    props: &'r Properties<'a>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

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

#[derive(Deserialize)]
struct EventRow {
    body: String,
    period_start: i64,
}

/// A time before every period, as a bound in SQL: the smallest integer a JS number holds
/// exactly (`i64::MIN` crosses to JS with a warning and a rounding).
const BEFORE_ALL: i64 = -((1 << 53) - 1);
/// The largest integer a JS number holds exactly: after every log position.
const AFTER_ALL: i64 = (1 << 53) - 1;

/// About this much JSON per set-based insert statement.
const CHUNK_BYTES: usize = 256 * 1024;

fn from_bound(t: Option<Timestamp>) -> i64 {
    t.map_or(BEFORE_ALL, |t| t.millis().max(BEFORE_ALL))
}

impl Ledger {
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
            ledger.run(&events_table("events", Layout::Compact), vec![])?;
            if ledger.events_layout()? != Layout::Compact {
                ledger.move_events(Layout::Compact, "")?;
            }
        }
        Ok(ledger)
    }

    /// The layout `events` is in, from its DDL: a rowid table is the first layout, a
    /// text key the second.
    fn events_layout(&self) -> StoreResult<Layout> {
        let rows: Vec<TextRow> =
            self.rows("SELECT upper(sql) AS v FROM sqlite_master WHERE type = 'table' AND name = 'events'", vec![])?;
        let sql = rows.first().map_or("", |r| r.v.as_str());
        Ok(if !sql.contains("WITHOUT ROWID") {
            Layout::First
        } else if sql.contains("KEY TEXT") {
            Layout::TextKeys
        } else {
            Layout::Compact
        })
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

    fn events_where(&self, q: &str, args: Vec<V>) -> StoreResult<Vec<(Timestamp, EventRecord<'static>)>> {
        let rows: Vec<EventRow> = self.rows(q, args)?;
        rows.iter()
            .map(|r| {
                let record: EventRecord = serde_json::from_str(&r.body).map_err(err)?;
                Ok((Timestamp(r.period_start), record.into_owned()))
            })
            .collect()
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
        #[derive(Deserialize)]
        struct KeyHash {
            key: String,
            hash: String,
        }
        // Only the keys already stored come back, each as it was asked.
        let rows: Vec<KeyHash> = self.rows(
            "SELECT j.value AS key, hex(e.hash) AS hash FROM json_each(?) AS j
             JOIN events AS e ON e.key = unhex(j.value, '-')",
            vec![V::String(text(keys)?)],
        )?;
        rows.into_iter()
            .map(|r| {
                let hash =
                    ContentHash::parse_hex(&r.hash).ok_or_else(|| err("a stored hash that is not 32 hex digits"))?;
                Ok((r.key, hash))
            })
            .collect()
    }

    /// Set-based inserts: one statement per chunk of about [`CHUNK_BYTES`] of JSON, bound as
    /// one parameter (Cloudflare allows 100 bound parameters and 100 KB of SQL per
    /// statement; the rows travel in the parameter).
    fn insert_events(&mut self, events: &[EventRecord<'_>], new: &[NewEvent], now: Timestamp) -> StoreResult<()> {
        // Each row is `[key, hash, event_name, {body}, ts, period_start]`, the body as a
        // JSON object (not a string), so it is written once and stored as `value -> 3`;
        // SQL turns the key and the hash into their 16 bytes. Only the migration test's
        // hook leaves a text layout behind in a running object (a new instance moves it on
        // its first call); then rows go in as the code of that layout wrote them.
        let text_layout = self.fault_injection && self.events_layout()? != Layout::Compact;
        let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 4096);
        for (i, n) in new.iter().enumerate() {
            let ev = &events[n.index];
            if !is_canonical_uuid(&ev.key) {
                return Err(err(format!("an event key that is not a canonical UUID: {:?}", ev.key)));
            }
            chunk.push(if chunk.is_empty() { b'[' } else { b',' });
            serde_json::to_writer(&mut chunk, &(&ev.key, ev.hash, &ev.event_name)).map_err(err)?;
            chunk.pop(); // the tuple's `]`: the row goes on
            chunk.push(b',');
            if text_layout {
                serde_json::to_writer(&mut chunk, ev).map_err(err)?;
            } else {
                let body = StoredBody { value: ev.value, ts_given: ev.ts_given, props: &ev.props };
                serde_json::to_writer(&mut chunk, &body).map_err(err)?;
            }
            chunk.extend_from_slice(format!(",{},{}]", ev.ts, n.period_start.millis()).as_bytes());
            if chunk.len() >= CHUNK_BYTES || i + 1 == new.len() {
                chunk.push(b']');
                let rows = String::from_utf8(std::mem::take(&mut chunk)).map_err(err)?;
                let (key, hash) = if text_layout {
                    ("value ->> 0", "value ->> 1")
                } else {
                    ("unhex(value ->> 0, '-')", "unhex(value ->> 1)")
                };
                self.run(
                    &format!(
                        "INSERT INTO events (key, hash, event_name, body, ts, period_start, received_at)
                         SELECT {key}, {hash}, value ->> 2, value -> 3, value ->> 4, value ->> 5, ?
                         FROM json_each(?)"
                    ),
                    vec![V::Integer(now.millis()), V::String(rows)],
                )?;
            }
        }
        if self.fault_injection {
            let fault = |n: &NewEvent, what: &str| {
                events[n.index].props.get("edgemeter_fault").is_some_and(|v| v.as_text() == what)
            };
            if let Some(n) = new.iter().find(|n| fault(n, "abort")) {
                return Err(err(format!("fault injected after writing event {}", events[n.index].key)));
            }
            // The migration test's start: every event stored so far, in the first layout
            // (`legacy`) or the second (`text_keys`).
            if new.iter().any(|n| fault(n, "legacy")) {
                let index = "CREATE INDEX events_by_name_period ON events (event_name, period_start);";
                self.move_events(Layout::First, index)?;
            }
            if new.iter().any(|n| fault(n, "text_keys")) {
                self.move_events(Layout::TextKeys, "")?;
            }
        }
        Ok(())
    }

    fn live_events_from(
        &self,
        event_name: &str,
        from: Option<Timestamp>,
    ) -> StoreResult<Vec<(Timestamp, EventRecord<'static>)>> {
        self.events_where(
            &format!(
                "SELECT {RECORD_SQL} AS body, period_start FROM events
                 WHERE event_name = ? AND voided_at IS NULL AND period_start >= ?"
            ),
            vec![V::String(event_name.to_owned()), V::Integer(from_bound(from))],
        )
    }

    fn live_events_of(&self, event_name: &str, period_start: Timestamp) -> StoreResult<Vec<EventRecord<'static>>> {
        let rows = self.events_where(
            &format!(
                "SELECT {RECORD_SQL} AS body, period_start FROM events
                 WHERE event_name = ? AND voided_at IS NULL AND period_start = ?"
            ),
            vec![V::String(event_name.to_owned()), V::Integer(period_start.millis())],
        )?;
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    fn void_target(&self, key: &str) -> StoreResult<Option<VoidTarget>> {
        #[derive(Deserialize)]
        struct Row {
            event_name: String,
            period_start: i64,
            voided_at: Option<i64>,
        }
        if !is_canonical_uuid(key) {
            return Ok(None); // no stored event has such a key
        }
        let rows: Vec<Row> = self.rows(
            "SELECT event_name, period_start, voided_at FROM events WHERE key = unhex(?, '-')",
            vec![V::String(key.to_owned())],
        )?;
        Ok(rows.into_iter().next().map(|r| VoidTarget {
            event_name: r.event_name,
            period_start: Timestamp(r.period_start),
            voided: r.voided_at.is_some(),
        }))
    }

    fn mark_voided(&mut self, key: &str, now: Timestamp) -> StoreResult<()> {
        self.run(
            "UPDATE events SET voided_at = ? WHERE key = unhex(?, '-')",
            vec![V::Integer(now.millis()), V::String(key.to_owned())],
        )
    }

    fn period_spans(&self, period_start: Timestamp) -> StoreResult<Vec<NameSpan>> {
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

    /// Keyset paging on both tables' primary keys: `events` is walked in key order from
    /// `after` (skipping other periods' rows), `invoiced_events` by its (period, key) key.
    /// Both are ordered by the key's 16 bytes, which order as the canonical text does.
    fn period_events(
        &self,
        period_start: Timestamp,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<EventRecord<'static>>> {
        #[derive(Deserialize)]
        struct Row {
            body: String,
        }
        let after = after.unwrap_or("");
        // A cursor that is a key (every cursor the API hands out) walks the key's b-tree
        // from its 16 bytes; any other string compares with the key's text, as it did.
        let events_after = if after.is_empty() || is_canonical_uuid(after) {
            "key > coalesce(unhex(?, '-'), x'')".to_owned()
        } else {
            format!("{KEY_TEXT_SQL} > ?")
        };
        let (p, after) = (V::Integer(period_start.millis()), V::String(after.to_owned()));
        let limit = V::Integer(limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64));
        let rows: Vec<Row> = self.rows(
            &format!(
                "SELECT key AS k, {RECORD_SQL} AS body FROM events
                 WHERE period_start = ? AND voided_at IS NULL AND {events_after}
                 UNION ALL
                 SELECT unhex(key, '-') AS k, body FROM invoiced_events WHERE period_start = ? AND key > ?
                 ORDER BY k LIMIT ?"
            ),
            vec![p.clone(), after.clone(), p, after, limit],
        )?;
        rows.iter().map(|r| Ok(serde_json::from_str::<EventRecord>(&r.body).map_err(err)?.into_owned())).collect()
    }

    fn compact(&mut self, closed_before: Timestamp, horizon: Timestamp) -> StoreResult<()> {
        self.run(
            &format!(
                "INSERT OR IGNORE INTO invoiced_events (period_start, key, body)
                 SELECT period_start, {KEY_TEXT_SQL}, {RECORD_SQL} FROM events
                 WHERE period_start < ? AND ts < ? AND voided_at IS NULL"
            ),
            vec![V::Integer(closed_before.millis()), V::Integer(horizon.millis())],
        )?;
        self.run(
            "DELETE FROM events WHERE period_start < ? AND ts < ?",
            vec![V::Integer(closed_before.millis()), V::Integer(horizon.millis())],
        )?;
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
