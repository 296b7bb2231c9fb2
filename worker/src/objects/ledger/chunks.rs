//! Where a customer's events live: several events per row, and a small row per key.
//!
//! - `event_chunks`: the events of one call and one service period in one row, appended
//!   (a rowid table: a new row goes to the end of the b-tree, never into the middle),
//!   encoded by `core::event_chunk`. `compacted` marks a chunk whose keys compaction
//!   has dropped; the chunk itself stays, as the events behind its period's invoice.
//! - `event_keys`: one row per stored key, the key's 16 bytes and the chunk holding the
//!   event: what dedupe looks up. `WITHOUT ROWID`, so the row is its key's b-tree entry,
//!   about 25 bytes: a batch of random keys dirties few pages.
//! - `voided_events`: the keys of voided events (their chunks never change).
//!
//! So an accepted event costs one row written (its key) plus its share of its chunk's
//! row, and one call's events are written as one value. The rare readers (a void, a
//! back-fill, a period's scan, an invoice's events, compaction) read whole chunks and
//! decode them here; what each pays is in ARCHITECTURE.md "What a customer's object
//! stores".

use super::{err, Ledger, StoreResult, KEY_TEXT_SQL, RECORD_SQL};
use edgemeter_core::book::{NameSpan, NewEvent, VoidTarget};
use edgemeter_core::event::EventRecord;
use edgemeter_core::event_chunk;
use edgemeter_core::hash::ContentHash;
use edgemeter_core::time::Timestamp;
use std::collections::{BTreeMap, HashMap, HashSet};
use worker::SqlStorageValue as V;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event_chunks (
  id INTEGER PRIMARY KEY,
  period_start INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  compacted INTEGER NOT NULL DEFAULT 0,
  events BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS event_keys (key BLOB PRIMARY KEY, chunk INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS voided_events (key BLOB PRIMARY KEY, voided_at INTEGER NOT NULL) WITHOUT ROWID;
";

/// Keys per insert statement, bound as one JSON parameter (Cloudflare allows 100 bound
/// parameters per statement; the keys travel in one).
const KEYS_PER_STATEMENT: usize = 5_000;

/// About the most bytes of events in one chunk (a Durable Object's SQLite row holds at most
/// 2 MB).
const CHUNK_BYTES: usize = 256 * 1024;

/// Chunks read per statement by the scans.
const CHUNKS_PER_READ: i64 = 16;

/// Events moved per step when an older layout's table becomes chunks.
const MOVE_PAGE: i64 = 2_000;

/// A chunk as read back: its id, its period and its events.
struct Chunk {
    id: i64,
    period_start: i64,
    events: Vec<EventRecord<'static>>,
}

fn owned(events: Vec<EventRecord<'_>>) -> Vec<EventRecord<'static>> {
    events.into_iter().map(EventRecord::into_owned).collect()
}

fn int(v: &V) -> StoreResult<i64> {
    match v {
        V::Integer(i) => Ok(*i),
        V::Float(f) => Ok(*f as i64),
        other => Err(err(format!("expected an integer column, got {other:?}"))),
    }
}

fn blob(v: &V) -> StoreResult<&[u8]> {
    match v {
        V::Blob(b) => Ok(b),
        other => Err(err(format!("expected a blob column, got {other:?}"))),
    }
}

fn string(v: &V) -> StoreResult<&str> {
    match v {
        V::String(s) => Ok(s),
        other => Err(err(format!("expected a text column, got {other:?}"))),
    }
}

impl Ledger {
    /// Rows as the runtime gives them (blobs as bytes).
    fn raw_rows(&self, q: &str, args: Vec<V>) -> StoreResult<Vec<Vec<V>>> {
        let cursor = self.sql.exec(q, args).map_err(err)?;
        let rows = cursor.raw().collect::<worker::Result<Vec<_>>>().map_err(err)?;
        self.count(&cursor);
        Ok(rows)
    }

    /// Chunks from `(id, period_start, events)` rows.
    fn chunks(&self, q: &str, args: Vec<V>) -> StoreResult<Vec<Chunk>> {
        self.raw_rows(q, args)?
            .iter()
            .map(|r| match r.as_slice() {
                [id, period_start, events] => Ok(Chunk {
                    id: int(id)?,
                    period_start: int(period_start)?,
                    events: owned(event_chunk::decode(blob(events)?).map_err(err)?),
                }),
                _ => Err(err("a chunk row of the wrong shape")),
            })
            .collect()
    }

    /// Every chunk `filter` (SQL over `event_chunks`, with `args`) picks, a few rows per
    /// statement so memory holds a few chunks' bytes at a time, in id order.
    fn each_chunk(&self, filter: &str, args: Vec<V>, mut visit: impl FnMut(Chunk)) -> StoreResult<()> {
        let mut after = 0i64;
        loop {
            let mut a = args.clone();
            a.push(V::Integer(after));
            a.push(V::Integer(CHUNKS_PER_READ));
            let page = self.chunks(
                &format!(
                    "SELECT id, period_start, events FROM event_chunks WHERE {filter} AND id > ? ORDER BY id LIMIT ?"
                ),
                a,
            )?;
            let n = page.len() as i64;
            for c in page {
                after = c.id;
                visit(c);
            }
            if n < CHUNKS_PER_READ {
                return Ok(());
            }
        }
    }

    /// The keys of voided events, as text (few: voids are rare).
    fn voided_keys(&self) -> StoreResult<HashSet<String>> {
        let rows = self.raw_rows(&format!("SELECT {KEY_TEXT_SQL} FROM voided_events"), vec![])?;
        rows.iter().map(|r| Ok(string(r.first().unwrap_or(&V::Null))?.to_owned())).collect()
    }

    /// The live events of every chunk `filter` picks, with their periods.
    fn live_in(
        &self,
        filter: &str,
        args: Vec<V>,
        name: Option<&str>,
    ) -> StoreResult<Vec<(Timestamp, EventRecord<'static>)>> {
        let voided = self.voided_keys()?;
        let mut out = Vec::new();
        self.each_chunk(filter, args, |c| {
            let p = Timestamp(c.period_start);
            let live = c.events.into_iter().filter(|e| name.is_none_or(|n| e.event_name == n));
            out.extend(live.filter(|e| !voided.contains(e.key.as_ref())).map(|e| (p, e)));
        })?;
        Ok(out)
    }

    /// Stores the accepted events: one chunk per service period among them, and a key
    /// row each. (A call whose events are all new and of one period goes by
    /// [`Ledger::chunk_if_new`] instead, which keeps the bytes as received.)
    pub(super) fn insert_chunks(
        &mut self,
        events: &[EventRecord<'_>],
        new: &[NewEvent],
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut by_period: Vec<(Timestamp, Vec<&EventRecord<'_>>)> = Vec::new();
        for n in new {
            match by_period.iter_mut().find(|(p, _)| *p == n.period_start) {
                Some((_, evs)) => evs.push(&events[n.index]),
                None => by_period.push((n.period_start, vec![&events[n.index]])),
            }
        }
        for (period_start, evs) in by_period {
            self.write_chunk(period_start, now, &evs)?;
        }
        Ok(())
    }

    /// Writes `evs` (all of one period) as one chunk, or several when they would take more
    /// than [`CHUNK_BYTES`] (a call carries up to 5,000 events of up to 1 MiB a request,
    /// and a row holds at most 2 MB), each with its events' key rows.
    fn write_chunk(
        &self,
        period_start: Timestamp,
        received_at: Timestamp,
        evs: &[&EventRecord<'_>],
    ) -> StoreResult<()> {
        let mut bytes = Vec::with_capacity((1 + evs.len() * 64).min(CHUNK_BYTES + 4096));
        let mut first = 0;
        event_chunk::begin(&mut bytes);
        for (i, ev) in evs.iter().enumerate() {
            event_chunk::push(ev, &mut bytes).map_err(err)?;
            if bytes.len() >= CHUNK_BYTES || i + 1 == evs.len() {
                let chunk = std::mem::take(&mut bytes);
                self.write_one_chunk(period_start, received_at, chunk, &evs[first..=i])?;
                first = i + 1;
                event_chunk::begin(&mut bytes);
            }
        }
        Ok(())
    }

    fn write_one_chunk(
        &self,
        period_start: Timestamp,
        received_at: Timestamp,
        bytes: Vec<u8>,
        evs: &[&EventRecord<'_>],
    ) -> StoreResult<()> {
        let rows = self.raw_rows(
            "INSERT INTO event_chunks (period_start, received_at, events) VALUES (?, ?, ?) RETURNING id",
            vec![V::Integer(period_start.millis()), V::Integer(received_at.millis()), V::Blob(bytes)],
        )?;
        let id = rows.first().and_then(|r| r.first()).ok_or_else(|| err("an insert returned no chunk id"))?;
        let id = int(id)?;
        for part in evs.chunks(KEYS_PER_STATEMENT) {
            let keys: Vec<&str> = part.iter().map(|e| e.key.as_ref()).collect();
            self.run(
                "INSERT INTO event_keys (key, chunk) SELECT unhex(value, '-'), ? FROM json_each(?)",
                vec![V::Integer(id), V::String(serde_json::to_string(&keys).map_err(err)?)],
            )?;
        }
        Ok(())
    }

    /// Writes `events` (all new, all of one period) as one chunk with their key rows, if no
    /// key of theirs is stored (nor any twice among them) and they fit in one chunk; false,
    /// with nothing written, otherwise. The key rows go first, in one plain `INSERT`: a key
    /// already there fails it with a `UNIQUE` constraint, and SQLite backs out that
    /// statement alone (the call's transaction goes on). So new keys cost one probe each,
    /// in the insert, and no lookup before it. The chunk's id is the one SQLite would give
    /// it next (the largest plus one), named before the chunk is written.
    pub(super) fn chunk_if_new(
        &self,
        events: &[EventRecord<'_>],
        period_start: Timestamp,
        received_at: Timestamp,
        received: Option<&[u8]>,
    ) -> StoreResult<bool> {
        if events.len() > KEYS_PER_STATEMENT {
            return Ok(false);
        }
        let bytes = match received {
            Some(b) => b.to_vec(),
            None => {
                let mut b = Vec::with_capacity(1 + events.len() * 64);
                event_chunk::encode(events, &mut b).map_err(err)?;
                b
            }
        };
        if bytes.len() > CHUNK_BYTES {
            return Ok(false);
        }
        const NEXT_ID: &str = "(SELECT coalesce(max(id), 0) + 1 FROM event_chunks)";
        let keys: Vec<&str> = events.iter().map(|e| e.key.as_ref()).collect();
        let claimed = self.run(
            &format!("INSERT INTO event_keys (key, chunk) SELECT unhex(value, '-'), {NEXT_ID} FROM json_each(?)"),
            vec![V::String(serde_json::to_string(&keys).map_err(err)?)],
        );
        match claimed {
            Err(e) if e.to_string().contains("UNIQUE constraint failed") => return Ok(false),
            other => other?,
        }
        self.run(
            &format!("INSERT INTO event_chunks (id, period_start, received_at, events) VALUES ({NEXT_ID}, ?, ?, ?)"),
            vec![V::Integer(period_start.millis()), V::Integer(received_at.millis()), V::Blob(bytes)],
        )?;
        Ok(true)
    }

    /// The content hash of each key of `keys` that is stored: one lookup of the keys
    /// (which returns nothing for a batch of new events), then the chunks of those found.
    pub(super) fn chunk_hashes(&self, keys: &[&str]) -> StoreResult<HashMap<String, ContentHash>> {
        let found = self.raw_rows(
            "SELECT DISTINCT k.chunk FROM json_each(?) AS j JOIN event_keys AS k ON k.key = unhex(j.value, '-')",
            vec![V::String(serde_json::to_string(keys).map_err(err)?)],
        )?;
        if found.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = found.iter().map(|r| int(r.first().unwrap_or(&V::Null))).collect::<StoreResult<_>>()?;
        let wanted: HashSet<&str> = keys.iter().copied().collect();
        let mut out = HashMap::new();
        let chunks = self.chunks(
            "SELECT id, period_start, events FROM event_chunks WHERE id IN (SELECT value FROM json_each(?))",
            vec![V::String(serde_json::to_string(&ids).map_err(err)?)],
        )?;
        for c in chunks {
            for e in c.events {
                if wanted.contains(e.key.as_ref()) {
                    out.insert(e.key.into_owned(), e.hash);
                }
            }
        }
        Ok(out)
    }

    pub(super) fn chunk_void_target(&self, key: &str) -> StoreResult<Option<VoidTarget>> {
        let rows = self.raw_rows(
            "SELECT c.id, c.period_start, c.events, EXISTS (SELECT 1 FROM voided_events AS v WHERE v.key = k.key)
             FROM event_keys AS k JOIN event_chunks AS c ON c.id = k.chunk WHERE k.key = unhex(?, '-')",
            vec![V::String(key.to_owned())],
        )?;
        let Some([_, period_start, events, voided]) = rows.first().map(Vec::as_slice) else { return Ok(None) };
        let events = event_chunk::decode(blob(events)?).map_err(err)?;
        let ev = events.into_iter().find(|e| e.key == key).ok_or_else(|| err("a key row whose chunk lacks it"))?;
        Ok(Some(VoidTarget {
            event_name: ev.event_name.into_owned(),
            period_start: Timestamp(int(period_start)?),
            voided: int(voided)? != 0,
        }))
    }

    pub(super) fn chunk_mark_voided(&self, key: &str, now: Timestamp) -> StoreResult<()> {
        self.run(
            "INSERT INTO voided_events (key, voided_at) VALUES (unhex(?, '-'), ?) ON CONFLICT (key) DO NOTHING",
            vec![V::String(key.to_owned()), V::Integer(now.millis())],
        )
    }

    pub(super) fn chunk_live_from(
        &self,
        event_name: &str,
        from: i64,
    ) -> StoreResult<Vec<(Timestamp, EventRecord<'static>)>> {
        self.live_in("period_start >= ?", vec![V::Integer(from)], Some(event_name))
    }

    pub(super) fn chunk_live_of(
        &self,
        event_name: &str,
        period_start: Timestamp,
    ) -> StoreResult<Vec<EventRecord<'static>>> {
        let live = self.live_in("period_start = ?", vec![V::Integer(period_start.millis())], Some(event_name))?;
        Ok(live.into_iter().map(|(_, e)| e).collect())
    }

    pub(super) fn chunk_spans(&self, period_start: Timestamp) -> StoreResult<Vec<NameSpan>> {
        let live = self.live_in("period_start = ?", vec![V::Integer(period_start.millis())], None)?;
        let mut spans: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for (_, e) in live {
            let s = spans.entry(e.event_name.into_owned()).or_insert((e.ts, e.ts));
            *s = (s.0.min(e.ts), s.1.max(e.ts));
        }
        Ok(spans
            .into_iter()
            .map(|(event_name, (first, last))| NameSpan { event_name, first: Timestamp(first), last: Timestamp(last) })
            .collect())
    }

    /// A period's live events after `after`: first those an earlier compaction moved to
    /// `invoiced_events`, by key (their positions are their keys, as every cursor was
    /// before chunks), then the chunks', by chunk and place (positions `c:<id>.<n>`).
    pub(super) fn chunk_period_events(
        &self,
        period_start: Timestamp,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<(String, EventRecord<'static>)>> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let in_chunks = after.and_then(|a| a.strip_prefix("c:")).map(|at| {
            let (id, n) = at.split_once('.').unwrap_or((at, ""));
            (id.parse::<i64>().unwrap_or(0), n.parse::<usize>().ok())
        });
        if in_chunks.is_none() {
            let rows = self.raw_rows(
                "SELECT key, body FROM invoiced_events WHERE period_start = ? AND key > ? ORDER BY key LIMIT ?",
                vec![
                    V::Integer(period_start.millis()),
                    V::String(after.unwrap_or("").to_owned()),
                    V::Integer(limit.min(i64::MAX as usize) as i64),
                ],
            )?;
            for r in &rows {
                let [key, body] = r.as_slice() else { return Err(err("an invoiced event row of the wrong shape")) };
                let record: EventRecord = serde_json::from_str(string(body)?).map_err(err)?;
                out.push((string(key)?.to_owned(), record.into_owned()));
            }
        }
        if out.len() >= limit {
            return Ok(out);
        }
        let (from_id, skip_through) = in_chunks.unwrap_or((0, None));
        let voided = self.voided_keys()?;
        let mut after_id = from_id - 1;
        'chunks: loop {
            let page = self.chunks(
                "SELECT id, period_start, events FROM event_chunks WHERE period_start = ? AND id > ? ORDER BY id LIMIT ?",
                vec![V::Integer(period_start.millis()), V::Integer(after_id), V::Integer(CHUNKS_PER_READ)],
            )?;
            let n = page.len() as i64;
            for c in page {
                after_id = c.id;
                for (i, e) in c.events.into_iter().enumerate() {
                    let skipped = c.id == from_id && skip_through.is_some_and(|s| i <= s);
                    if skipped || voided.contains(e.key.as_ref()) {
                        continue;
                    }
                    out.push((format!("c:{}.{i}", c.id), e));
                    if out.len() >= limit {
                        break 'chunks;
                    }
                }
            }
            if n < CHUNKS_PER_READ {
                break;
            }
        }
        Ok(out)
    }

    /// Compaction (see `CustomerStore::compact`): the keys of events of periods before
    /// `closed_before` timestamped before `horizon` stop deduplicating; their chunks stay
    /// as the events behind those periods' invoices, marked once every event is past.
    pub(super) fn chunk_compact(&self, closed_before: Timestamp, horizon: Timestamp) -> StoreResult<()> {
        let mut done = Vec::new();
        let mut gone: Vec<String> = Vec::new();
        self.each_chunk("compacted = 0 AND period_start < ?", vec![V::Integer(closed_before.millis())], |c| {
            let old = c.events.iter().filter(|e| e.ts < horizon.millis());
            gone.extend(old.map(|e| e.key.to_string()));
            if c.events.iter().all(|e| e.ts < horizon.millis()) {
                done.push(c.id);
            }
        })?;
        for part in gone.chunks(KEYS_PER_STATEMENT) {
            self.run(
                "DELETE FROM event_keys WHERE key IN (SELECT unhex(value, '-') FROM json_each(?))",
                vec![V::String(serde_json::to_string(part).map_err(err)?)],
            )?;
        }
        if !done.is_empty() {
            self.run(
                "UPDATE event_chunks SET compacted = 1 WHERE id IN (SELECT value FROM json_each(?))",
                vec![V::String(serde_json::to_string(&done).map_err(err)?)],
            )?;
        }
        Ok(())
    }

    /// Moves the events of an older layout's `events` table (already in the compact row's
    /// layout) into chunks, a page of keys at a time, and drops the table. Runs inside the
    /// first call's transaction: all or nothing.
    pub(super) fn move_rows_to_chunks(&self) -> StoreResult<()> {
        let mut after = String::new();
        loop {
            let rows = self.raw_rows(
                &format!(
                    "SELECT {KEY_TEXT_SQL}, {RECORD_SQL}, period_start, received_at, voided_at FROM events
                     WHERE key > coalesce(unhex(?, '-'), x'') ORDER BY key LIMIT ?"
                ),
                vec![V::String(after.clone()), V::Integer(MOVE_PAGE)],
            )?;
            // By period only: which call brought an event is not kept (a chunk's
            // `received_at` is the latest of its events').
            let mut groups: Vec<((i64, i64), Vec<EventRecord<'static>>)> = Vec::new();
            let mut voided: Vec<(String, i64)> = Vec::new();
            for r in &rows {
                let [key, body, period_start, received_at, voided_at] = r.as_slice() else {
                    return Err(err("an event row of the wrong shape"));
                };
                let record: EventRecord = serde_json::from_str(string(body)?).map_err(err)?;
                let (period_start, received_at) = (int(period_start)?, int(received_at)?);
                match groups.iter_mut().find(|((p, _), _)| *p == period_start) {
                    Some(((_, at), evs)) => {
                        *at = (*at).max(received_at);
                        evs.push(record.into_owned())
                    }
                    None => groups.push(((period_start, received_at), vec![record.into_owned()])),
                }
                if !matches!(voided_at, V::Null) {
                    voided.push((string(key)?.to_owned(), int(voided_at)?));
                }
                after = string(key)?.to_owned();
            }
            for ((period_start, received_at), evs) in &groups {
                let refs: Vec<&EventRecord> = evs.iter().collect();
                self.write_chunk(Timestamp(*period_start), Timestamp(*received_at), &refs)?;
            }
            for (key, at) in voided {
                self.chunk_mark_voided(&key, Timestamp(at))?;
            }
            if (rows.len() as i64) < MOVE_PAGE {
                break;
            }
        }
        self.run("DROP TABLE events", vec![])
    }

    /// Tests only (the migration test's start): every stored event back into an `events`
    /// table in the compact row's layout, the chunk tables emptied, as objects held them
    /// before chunks.
    pub(super) fn move_chunks_to_rows(&self) -> StoreResult<()> {
        self.run(&super::events_table("events", super::Layout::Compact), vec![])?;
        let voided: HashMap<String, i64> = {
            let rows = self.raw_rows(&format!("SELECT {KEY_TEXT_SQL}, voided_at FROM voided_events"), vec![])?;
            rows.iter()
                .map(|r| match r.as_slice() {
                    [k, at] => Ok((string(k)?.to_owned(), int(at)?)),
                    _ => Err(err("a voided row of the wrong shape")),
                })
                .collect::<StoreResult<_>>()?
        };
        let mut rows: Vec<serde_json::Value> = Vec::new();
        self.each_chunk("true", vec![], |c| {
            for e in c.events {
                let body = serde_json::json!({"value": e.value, "ts_given": e.ts_given, "props": e.props});
                let v = voided.get(e.key.as_ref()).copied();
                rows.push(serde_json::json!([e.key, e.hash, e.event_name, body, e.ts, c.period_start, v]));
            }
        })?;
        self.run(
            "INSERT INTO events (key, hash, event_name, body, ts, period_start, received_at, voided_at)
             SELECT unhex(value ->> 0, '-'), unhex(value ->> 1), value ->> 2, value -> 3, value ->> 4, value ->> 5, 0,
               value ->> 6
             FROM json_each(?)",
            vec![V::String(serde_json::to_string(&rows).map_err(err)?)],
        )?;
        self.run("DELETE FROM event_keys; DELETE FROM event_chunks; DELETE FROM voided_events;", vec![])
    }
}
