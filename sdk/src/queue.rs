//! The npm package's event queue: checked events kept as bytes in wasm memory, and
//! written out as the JSON of `POST /v1/usage/ingest` when a batch is sent.
//!
//! Why bytes and not JavaScript objects: a burst of `track()` calls keeps every event
//! alive until its batch is sent, and JavaScript objects that stay alive are what the
//! garbage collector copies and walks, again and again, for as long as they wait (about
//! a third of `track()`'s cost when the queue held an object, a key string, a
//! properties copy and a boxed timestamp per event). Here an event is one record in a
//! `Vec<u8>`: its compact bytes (see [`crate::compact`]) after its arrival time. The
//! collector never sees it.
//!
//! ```text
//! record := u32 len, i64 now_ms, len bytes (the event in the compact format)
//! ```
//!
//! Nor is an event copied: the JS client writes it straight into the free space after
//! the last record ([`Queue::tail`]), and [`Queue::commit`] checks it there and makes it
//! a record by writing its header in front (a refused one is simply overwritten by the
//! next). The free space is kept initialized, so it is plain bytes to Rust.
//!
//! The JSON is written here too, so the bytes the check accepted are the bytes that are
//! sent: the canonical (lower-case) key, the value's own text, the arrival time as the
//! default timestamp (`YYYY-MM-DDTHH:MM:SS.mmmZ`), and the properties in their order.

use crate::compact::{check_compact, Reader, ABSENT, FALSE, NULL, NUMBER, OBJECT, STR, TRUE};
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};

/// `{"events":[` … `]}` around a batch's events.
const OPEN: &[u8] = b"{\"events\":[";
const CLOSE: &[u8] = b"]}";
/// A record's header: the compact length and the arrival time.
const HEADER: usize = 4 + 8;
/// The arrival times a default timestamp can be written for (`Timestamp::iso_millis`):
/// 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
const MIN_NOW_MS: i64 = -62_167_219_200_000;
const MAX_NOW_MS: i64 = 253_402_300_799_999;

/// Checked events, oldest first, waiting for their batch.
#[derive(Default)]
pub struct Queue {
    /// Sent records up to `head` (reclaimed in bulk), records up to `end`, then free space.
    buf: Vec<u8>,
    head: usize,
    end: usize,
    len: usize,
    /// Records that did not read back when taken (an SDK bug: `commit` checked them),
    /// until [`Queue::take_lost`] reports them.
    lost: usize,
}

/// Free space kept at the end after a burst is sent, at most.
const KEEP_FREE: usize = 64 * 1024;

impl Queue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Events queued.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The space the next event is written into, at least `n` bytes: write it at the
    /// start, then [`Queue::commit`]. Growing it keeps what was written, at the same
    /// offset; anything else that moves records ([`Queue::take`]) moves this space too.
    pub fn tail(&mut self, n: usize) -> &mut [u8] {
        let need = self.end + HEADER + n;
        if self.buf.len() < need {
            // Only what is asked for is zeroed (the capacity still doubles): the JS
            // client asks for 64 KiB at a time, which it then writes while that space
            // is still in cache.
            self.buf.resize(need, 0);
        }
        &mut self.buf[self.end + HEADER..]
    }

    /// Checks the event written in the first `len` bytes of [`Queue::tail`] with
    /// `now_ms` as its arrival time (its timestamp when it has none) and queues it.
    /// `Ok(true)` when its key had upper-case digits (the queue sends the lower-case
    /// form). A refused event is not queued.
    pub fn commit(&mut self, len: usize, now_ms: i64) -> Result<bool, ApiError> {
        let start = self.end + HEADER;
        let compact = start.checked_add(len).and_then(|stop| self.buf.get(start..stop)).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidRequest, "event beyond the queue's free space (an SDK bug)")
        })?;
        let upper = {
            let ev = check_compact(compact, now_ms)?;
            matches!(ev.idempotency_key, std::borrow::Cow::Owned(_))
        };
        if !(MIN_NOW_MS..=MAX_NOW_MS).contains(&now_ms) {
            return Err(ApiError::new(ErrorCode::InvalidTimestamp, "the clock is outside years 0 to 9999"));
        }
        let len32 =
            u32::try_from(len).map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "event too large (an SDK bug)"))?;
        let header = &mut self.buf[self.end..start];
        header[..4].copy_from_slice(&len32.to_le_bytes());
        header[4..].copy_from_slice(&now_ms.to_le_bytes());
        self.end = start + len;
        self.len += 1;
        Ok(upper)
    }

    /// Copies the event into [`Queue::tail`] and commits it (the JS client writes there
    /// itself).
    pub fn push(&mut self, compact: &[u8], now_ms: i64) -> Result<bool, ApiError> {
        self.tail(compact.len())[..compact.len()].copy_from_slice(compact);
        self.commit(compact.len(), now_ms)
    }

    /// Removes the oldest events, at most `max_events` whose request body fits in
    /// `max_bytes`, and writes that body (`{"events":[…]}`) into `out`, replacing what
    /// it held. Returns how many; 0 (and `out` empty) when the queue is empty or its
    /// oldest event alone does not fit.
    pub fn take(&mut self, max_events: usize, max_bytes: usize, out: &mut Vec<u8>) -> usize {
        out.clear();
        out.extend_from_slice(OPEN);
        let mut n = 0;
        let mut iso = LastIso::default();
        while n < max_events {
            let Some((record, now_ms, next)) = self.record_at(self.head) else { break };
            let mark = out.len();
            if n > 0 {
                out.push(b',');
            }
            // A record that does not read back (an SDK bug: `commit` checked it) is
            // counted as lost, for the client to report, rather than stopping the queue
            // for good.
            let ok = write_event(record, now_ms, &mut iso, out).is_some();
            if ok && out.len() + CLOSE.len() > max_bytes {
                out.truncate(mark);
                break;
            }
            if !ok {
                out.truncate(mark);
                self.lost += 1;
            }
            self.head = next;
            self.len -= 1;
            n += usize::from(ok);
        }
        out.extend_from_slice(CLOSE);
        if n == 0 {
            out.clear();
        }
        self.reclaim();
        n
    }

    /// How many records takes removed without sending since the last call, because they
    /// did not read back (never, short of an SDK bug); the client reports them.
    pub fn take_lost(&mut self) -> usize {
        std::mem::take(&mut self.lost)
    }

    /// Every queued event's JSON, comma-separated (the elements of an `events` array),
    /// leaving the queue as it is: what a browser page saves when it is hidden.
    pub fn json(&self, out: &mut Vec<u8>) {
        let mut at = self.head;
        let mut iso = LastIso::default();
        while let Some((record, now_ms, next)) = self.record_at(at) {
            let mark = out.len();
            if mark > 0 {
                out.push(b',');
            }
            if write_event(record, now_ms, &mut iso, out).is_none() {
                out.truncate(mark);
            }
            at = next;
        }
    }

    /// The record at `at`: its compact bytes, its arrival time and where the next starts.
    fn record_at(&self, at: usize) -> Option<(&[u8], i64, usize)> {
        let header = self.buf[..self.end].get(at..at + HEADER)?;
        let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
        let now_ms = i64::from_le_bytes(header[4..].try_into().ok()?);
        let start = at + HEADER;
        Some((self.buf[..self.end].get(start..start + len)?, now_ms, start + len))
    }

    /// Gives back the space of sent records once it is half the buffer: each byte is
    /// moved at most once per time the queue doubles, so a take costs O(its events).
    fn reclaim(&mut self) {
        if self.head == self.end {
            (self.head, self.end) = (0, 0);
            if self.buf.len() > KEEP_FREE {
                // After a burst: give the space back to the allocator.
                self.buf = Vec::new();
            }
        } else if self.head > 0 && self.head >= self.end / 2 {
            self.buf.copy_within(self.head..self.end, 0);
            self.end -= self.head;
            self.head = 0;
        }
    }
}

/// The last default timestamp written, as text: the events of one millisecond share it.
#[derive(Default)]
struct LastIso(Option<(i64, [u8; 24])>);

impl LastIso {
    fn of(&mut self, ms: i64) -> Option<[u8; 24]> {
        match self.0 {
            Some((at, text)) if at == ms => Some(text),
            _ => {
                let text = Timestamp(ms).iso_millis()?;
                self.0 = Some((ms, text));
                Some(text)
            }
        }
    }
}

/// One checked event as the API's JSON. `None` if the record does not read back.
fn write_event(record: &[u8], now_ms: i64, iso: &mut LastIso, out: &mut Vec<u8>) -> Option<()> {
    let mut r = Reader { buf: record, at: 0 };
    out.extend_from_slice(b"{\"idempotency_key\":\"");
    let key = string_field(&mut r)?;
    out.extend(key.bytes().map(|b| b.to_ascii_lowercase()));
    out.extend_from_slice(b"\",\"customer_id\":");
    json_str(string_field(&mut r)?, out);
    out.extend_from_slice(b",\"event_name\":");
    json_str(string_field(&mut r)?, out);
    match r.tag().ok()? {
        ABSENT | NULL => {}
        tag => {
            out.extend_from_slice(b",\"value\":");
            json_value(&mut r, tag, out)?;
        }
    }
    out.extend_from_slice(b",\"timestamp\":");
    match r.tag().ok()? {
        ABSENT | NULL => {
            out.push(b'"');
            out.extend_from_slice(&iso.of(now_ms)?);
            out.push(b'"');
        }
        STR => json_str(r.str().ok()?, out),
        _ => return None,
    }
    if r.tag().ok()? != ABSENT {
        return None; // an unknown field: `push` refused it
    }
    match r.tag().ok()? {
        ABSENT | NULL => {}
        OBJECT => {
            let n = r.u32().ok()?;
            if n > 0 {
                out.extend_from_slice(b",\"properties\":{");
                for i in 0..n {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_str(r.str().ok()?, out);
                    out.push(b':');
                    let tag = r.tag().ok()?;
                    json_value(&mut r, tag, out)?;
                }
                out.push(b'}');
            }
        }
        _ => return None,
    }
    out.push(b'}');
    Some(())
}

fn string_field<'a>(r: &mut Reader<'a>) -> Option<&'a str> {
    match r.tag().ok()? {
        STR => r.str().ok(),
        _ => None,
    }
}

/// A value the check accepted: a string, a number (its JSON text, as written by
/// JavaScript's `String(n)`), or a bool.
fn json_value(r: &mut Reader<'_>, tag: u8, out: &mut Vec<u8>) -> Option<()> {
    match tag {
        STR => json_str(r.str().ok()?, out),
        NUMBER => out.extend_from_slice(r.str().ok()?.as_bytes()),
        TRUE => out.extend_from_slice(b"true"),
        FALSE => out.extend_from_slice(b"false"),
        _ => return None,
    }
    Some(())
}

/// Per byte: whether a JSON string must escape it (`"`, `\\`, control characters).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = c < 0x20 || c == b'"' as usize || c == b'\\' as usize;
        c += 1;
    }
    t
};

/// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t`… or `\u00XX`,
/// everything else as its UTF-8 bytes (valid JSON, read back to the same text).
fn json_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => &[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]],
        };
        out.extend_from_slice(&bytes[from..i]);
        out.extend_from_slice(escape);
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compact::{Writer, OTHER};
    use edgemeter_core::ingest::parse_ingest;

    const NOW: i64 = 1_795_600_000_123;
    const KEY: &str = "0192f0c1-0000-7000-8000-000000000001";

    fn event(key: &str, value: Option<(u8, &str)>, props: &[(&str, u8, &str)]) -> Vec<u8> {
        let mut w = Writer::default();
        let (tag, text) = value.unwrap_or((ABSENT, ""));
        w.str(STR, key).str(STR, "cus_1").str(STR, "api\"calls\\").field(tag, text);
        w.tag(ABSENT).tag(ABSENT).props(props);
        w.buf
    }

    fn take_all(q: &mut Queue) -> (usize, String) {
        let mut out = Vec::new();
        let n = q.take(1000, 1 << 20, &mut out);
        (n, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_batch_is_the_json_the_server_reads_back_to_the_same_events() {
        let mut q = Queue::new();
        let upper = q.push(&event(&KEY.to_uppercase(), Some((NUMBER, "2.50")), &[("région", STR, "e\\u")]), NOW);
        assert_eq!(upper, Ok(true));
        q.push(&event(KEY, None, &[("ok", TRUE, ""), ("n", NUMBER, "-1e3")]), NOW + 1).unwrap();
        assert_eq!(q.len(), 2);
        let (n, body) = take_all(&mut q);
        assert_eq!((n, q.len()), (2, 0));
        let env = parse_ingest(body.as_bytes(), Timestamp(NOW + 60_000)).unwrap();
        let events: Vec<_> = env.events.into_iter().map(Result::unwrap).collect();
        assert_eq!(events[0].idempotency_key(), KEY);
        assert_eq!(events[0].event_name(), "api\"calls\\");
        assert_eq!(events[0].value(), rust_decimal::Decimal::new(25, 1));
        assert!(body.contains("\"value\":2.50,"), "the value's own text: {body}");
        assert_eq!(events[0].timestamp(), Timestamp(NOW), "the arrival time, as given");
        assert!(events[0].timestamp_given(), "sent explicitly, so a retry later counts the same instant");
        assert_eq!(events[1].timestamp(), Timestamp(NOW + 1));
        assert!(body.contains("\"timestamp\":\"2026-11-25T09:46:40.124Z\""), "{body}");
        assert_eq!(body.matches("\"value\"").count(), 1, "a default value is left out: {body}");
    }

    #[test]
    fn the_clock_range_is_the_one_a_default_timestamp_can_be_written_for() {
        for (ms, ok) in [(MIN_NOW_MS, true), (MIN_NOW_MS - 1, false), (MAX_NOW_MS, true), (MAX_NOW_MS + 1, false)] {
            assert_eq!(Timestamp(ms).iso_millis().is_some(), ok, "{ms}");
        }
    }

    #[test]
    fn an_event_written_into_the_tail_is_queued_in_place_and_a_refused_one_is_overwritten() {
        let mut q = Queue::new();
        let bad = event(KEY, Some((NUMBER, "-1")), &[]);
        q.tail(bad.len())[..bad.len()].copy_from_slice(&bad);
        assert!(q.commit(bad.len(), NOW).is_err());
        let good = event(KEY, Some((NUMBER, "2")), &[]);
        // A tail that grows keeps what was written, where it was written.
        q.tail(4)[..good.len().min(4)].copy_from_slice(&good[..4]);
        q.tail(1 << 20)[4..good.len()].copy_from_slice(&good[4..]);
        assert_eq!(q.commit(good.len(), NOW), Ok(false));
        for len in [usize::MAX / 2, usize::MAX] {
            assert!(q.commit(len, NOW).is_err(), "beyond the buffer: an error, not a panic");
        }
        let (n, body) = take_all(&mut q);
        assert_eq!(n, 1);
        assert!(body.contains("\"value\":2,"), "{body}");
    }

    #[test]
    fn a_record_that_does_not_read_back_is_counted_as_lost_not_dropped_silently() {
        let mut q = Queue::new();
        q.push(&event(KEY, None, &[]), NOW).unwrap();
        q.push(&event(KEY, None, &[]), NOW).unwrap();
        // Corrupt the first record's first tag (a bug elsewhere, or a stray write).
        q.buf[HEADER] = 0xff;
        let (n, body) = take_all(&mut q);
        assert_eq!((n, q.len(), q.take_lost(), q.take_lost()), (1, 0, 1, 0));
        assert_eq!(body.matches("idempotency_key").count(), 1, "{body}");
    }

    #[test]
    fn refused_events_are_not_queued() {
        let mut q = Queue::new();
        let e = q.push(&event(KEY, Some((NUMBER, "-1")), &[]), NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidValue);
        let e = q.push(&event(KEY, None, &[("x", OTHER, "")]), NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidProperties);
        assert!(q.is_empty());
        assert_eq!(take_all(&mut q), (0, String::new()));
    }

    #[test]
    fn a_take_stops_at_its_event_and_byte_limits_and_keeps_the_rest_in_order() {
        let mut q = Queue::new();
        let keys: Vec<String> = (0..50).map(|i| format!("0192f0c1-0000-7000-8000-{i:012}")).collect();
        for k in &keys {
            q.push(&event(k, Some((NUMBER, "1")), &[]), NOW).unwrap();
        }
        let mut out = Vec::new();
        assert_eq!(q.take(7, 1 << 20, &mut out), 7);
        let one = {
            let mut single = Queue::new();
            single.push(&event(&keys[0], Some((NUMBER, "1")), &[]), NOW).unwrap();
            let (_, body) = take_all(&mut single);
            body.len()
        };
        // Room for three events and the commas between them, not four.
        let each = one - OPEN.len() - CLOSE.len();
        let budget = OPEN.len() + 3 * each + 2 + CLOSE.len();
        let n = q.take(1000, budget + each, &mut out);
        assert_eq!((n, out.len()), (3, budget));
        assert_eq!(q.take(1000, OPEN.len() + CLOSE.len() + 3, &mut out), 0, "the oldest alone does not fit");
        assert!(out.is_empty());
        let (rest, body) = take_all(&mut q);
        assert_eq!(7 + n + rest, 50);
        let env = parse_ingest(body.as_bytes(), Timestamp(NOW)).unwrap();
        let first = env.events.into_iter().next().unwrap().unwrap();
        assert_eq!(first.idempotency_key(), keys[7 + n], "oldest first");
    }

    #[test]
    fn json_lists_the_queue_without_taking_it() {
        let mut q = Queue::new();
        let mut out = Vec::new();
        q.json(&mut out);
        assert!(out.is_empty());
        for _ in 0..3 {
            q.push(&event(KEY, None, &[]), NOW).unwrap();
        }
        q.json(&mut out);
        let all = format!("{{\"events\":[{}]}}", String::from_utf8(out).unwrap());
        assert_eq!(q.len(), 3);
        assert_eq!(all, take_all(&mut q).1);
    }

    #[test]
    fn space_is_reclaimed_as_batches_leave() {
        let mut q = Queue::new();
        let mut out = Vec::new();
        for round in 0..20 {
            for _ in 0..100 {
                q.push(&event(KEY, None, &[]), NOW).unwrap();
            }
            assert_eq!(q.take(100, 1 << 20, &mut out), 100, "round {round}");
        }
        assert!(q.is_empty() && q.head == 0 && q.end == 0);
        for _ in 0..10 {
            q.push(&event(KEY, None, &[]), NOW).unwrap();
        }
        q.take(6, 1 << 20, &mut out);
        assert_eq!((q.head, q.len()), (0, 4), "more than half was sent: moved to the front");
    }

    #[test]
    fn control_characters_and_quotes_are_escaped() {
        let mut out = Vec::new();
        json_str("a\"b\\c\u{1}\u{1f}\u{7f}é\u{2028}", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "\"a\\\"b\\\\c\\u0001\\u001f\u{7f}é\u{2028}\"");
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, "a\"b\\c\u{1}\u{1f}\u{7f}é\u{2028}");
    }
}
