//! A customer's storage in memory, for tests: the same tables as the worker's ledger,
//! with storage failures injected by [`Faults`].

use super::store::{CustomerStore, Outgoing};
use crate::aggregate::AggState;
use crate::book::{NameSpan, NewEvent, StateRow, StateWrites, VoidTarget};
use crate::customer::Customer;
use crate::event::EventRecord;
use crate::hash::ContentHash;
use crate::invoice::Invoice;
use crate::item::Item;
use crate::lifecycle::InvoiceStatus;
use crate::machine::{Faults, StoreResult};
use crate::metric::MetricDef;
use crate::rejection::RejectedEvent;
use crate::time::Timestamp;
use std::collections::{BTreeMap, HashMap};

/// A stored event.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub record: EventRecord<'static>,
    pub period_start: Timestamp,
    pub received_at: Timestamp,
    pub voided_at: Option<Timestamp>,
}

/// A queued webhook delivery.
#[derive(Clone, Debug)]
pub struct Queued {
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// Queued in this order (the outbox's oldest-first).
    pub seq: u64,
}

/// Everything a customer's object stores, in memory. Public so that tests can look at
/// what a machine wrote, as an operator would read the SQL tables.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    pub faults: Faults,
    pub customer: Option<Customer>,
    pub items: BTreeMap<String, Item>,
    pub closed_before: Option<Timestamp>,
    pub seen: BTreeMap<String, MetricDef>,
    pub aggregates: BTreeMap<(String, Timestamp), AggState>,
    pub events: BTreeMap<String, StoredEvent>,
    /// The live events compaction took out of `events`, by (period start, key): the
    /// ledger's `invoiced_events`.
    pub invoiced_events: BTreeMap<(Timestamp, String), EventRecord<'static>>,
    /// By id.
    pub invoices: BTreeMap<String, Invoice>,
    pub outbox: BTreeMap<String, Queued>,
    pub rejections: BTreeMap<i64, RejectedEvent>,
    /// Credit grants and alerts by id (`credit_store.rs`).
    pub grants: BTreeMap<String, crate::credit::Grant>,
    pub alerts: BTreeMap<String, crate::alert::Alert>,
    /// Limits by metric code, reservations by id (`limit_store.rs`).
    pub limits: BTreeMap<String, crate::limit::Limit>,
    pub reservations: BTreeMap<String, crate::limit::Reservation>,
    next_seq: u64,
}

impl MemoryStore {
    fn write(&mut self) -> StoreResult<()> {
        self.faults.write()
    }
}

impl CustomerStore for MemoryStore {
    fn customer(&self) -> StoreResult<Option<Customer>> {
        Ok(self.customer.clone())
    }

    fn put_customer(&mut self, c: &Customer) -> StoreResult<()> {
        self.write()?;
        self.customer = Some(c.clone());
        Ok(())
    }

    fn items(&self) -> StoreResult<Vec<Item>> {
        Ok(self.items.values().cloned().collect())
    }

    fn put_item(&mut self, item: &Item) -> StoreResult<()> {
        self.write()?;
        self.items.entry(item.id.clone()).or_insert_with(|| item.clone());
        Ok(())
    }

    fn closed_before(&self) -> StoreResult<Option<Timestamp>> {
        Ok(self.closed_before)
    }

    fn put_closed_before(&mut self, t: Timestamp) -> StoreResult<()> {
        self.write()?;
        self.closed_before = Some(t);
        Ok(())
    }

    fn metrics_seen(&self) -> StoreResult<Vec<MetricDef>> {
        Ok(self.seen.values().cloned().collect())
    }

    fn put_metric_seen(&mut self, m: &MetricDef) -> StoreResult<()> {
        self.write()?;
        self.seen.insert(m.code.clone(), m.clone());
        Ok(())
    }

    fn states_from(&self, from: Option<Timestamp>) -> StoreResult<Vec<StateRow>> {
        Ok(self
            .aggregates
            .iter()
            .filter(|((_, p), _)| from.is_none_or(|f| *p >= f))
            .map(|((m, p), s)| StateRow { metric: m.clone(), period_start: *p, state: s.clone() })
            .collect())
    }

    fn state(&self, metric: &str, period_start: Timestamp) -> StoreResult<Option<AggState>> {
        Ok(self.aggregates.get(&(metric.to_owned(), period_start)).cloned())
    }

    fn write_states(&mut self, w: &StateWrites) -> StoreResult<()> {
        if w.clear.is_none() && w.put.is_empty() {
            return Ok(());
        }
        self.write()?;
        if let Some((code, from)) = &w.clear {
            self.aggregates.retain(|(c, p), _| !(c == code && p >= from));
        }
        for r in &w.put {
            self.aggregates.insert((r.metric.clone(), r.period_start), r.state.clone());
        }
        Ok(())
    }

    fn stored_hashes(&self, keys: &[&str]) -> StoreResult<HashMap<String, ContentHash>> {
        Ok(keys.iter().filter_map(|k| self.events.get(*k).map(|e| ((*k).to_owned(), e.record.hash))).collect())
    }

    fn insert_events(&mut self, events: &[EventRecord<'_>], new: &[NewEvent], now: Timestamp) -> StoreResult<()> {
        if new.is_empty() {
            return Ok(());
        }
        self.write()?;
        for n in new {
            let record = events[n.index].clone().into_owned();
            let key = record.key.to_string();
            let stored = StoredEvent { record, period_start: n.period_start, received_at: now, voided_at: None };
            // A key is stored once (`PRIMARY KEY` in SQL): a second insert is a bug the
            // store refuses, as SQLite would.
            if self.events.insert(key.clone(), stored).is_some() {
                return Err(crate::machine::StoreError(format!("UNIQUE constraint failed: events.key ({key})")));
            }
        }
        Ok(())
    }

    fn insert_if_new(
        &mut self,
        events: &[EventRecord<'_>],
        period_start: Timestamp,
        now: Timestamp,
        _received: Option<&[u8]>,
    ) -> StoreResult<bool> {
        let mut keys = std::collections::HashSet::new();
        if events.iter().any(|e| self.events.contains_key(e.key.as_ref()) || !keys.insert(e.key.as_ref())) {
            return Ok(false);
        }
        let new: Vec<NewEvent> = (0..events.len()).map(|index| NewEvent { index, period_start }).collect();
        self.insert_events(events, &new, now).map(|()| true)
    }

    fn live_events_from(
        &self,
        event_name: &str,
        from: Option<Timestamp>,
    ) -> StoreResult<Vec<(Timestamp, EventRecord<'static>)>> {
        Ok(self
            .events
            .values()
            .filter(|e| e.voided_at.is_none() && e.record.event_name == event_name)
            .filter(|e| from.is_none_or(|f| e.period_start >= f))
            .map(|e| (e.period_start, e.record.clone()))
            .collect())
    }

    fn live_events_of(&self, event_name: &str, period_start: Timestamp) -> StoreResult<Vec<EventRecord<'static>>> {
        Ok(self
            .events
            .values()
            .filter(|e| e.voided_at.is_none() && e.record.event_name == event_name && e.period_start == period_start)
            .map(|e| e.record.clone())
            .collect())
    }

    fn void_target(&self, key: &str) -> StoreResult<Option<VoidTarget>> {
        Ok(self.events.get(key).map(|e| VoidTarget {
            event_name: e.record.event_name.to_string(),
            period_start: e.period_start,
            voided: e.voided_at.is_some(),
        }))
    }

    fn mark_voided(&mut self, key: &str, now: Timestamp) -> StoreResult<()> {
        self.write()?;
        if let Some(e) = self.events.get_mut(key) {
            e.voided_at = Some(now);
        }
        Ok(())
    }

    fn period_spans(&self, period_start: Timestamp) -> StoreResult<Vec<NameSpan>> {
        let mut spans: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for e in self.events.values().filter(|e| e.voided_at.is_none() && e.period_start == period_start) {
            let s = spans.entry(e.record.event_name.to_string()).or_insert((e.record.ts, e.record.ts));
            s.0 = s.0.min(e.record.ts);
            s.1 = s.1.max(e.record.ts);
        }
        Ok(spans
            .into_iter()
            .map(|(event_name, (a, b))| NameSpan { event_name, first: Timestamp(a), last: Timestamp(b) })
            .collect())
    }

    fn period_events(
        &self,
        period_start: Timestamp,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<(String, EventRecord<'static>)>> {
        let live = self
            .events
            .values()
            .filter(|e| e.voided_at.is_none() && e.period_start == period_start)
            .map(|e| &e.record)
            .chain(self.invoiced_events.iter().filter(|((p, _), _)| *p == period_start).map(|(_, r)| r));
        let mut out: Vec<EventRecord<'static>> =
            live.filter(|r| after.is_none_or(|a| r.key.as_ref() > a)).cloned().collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out.truncate(limit.unwrap_or(usize::MAX));
        // In key order, so a key is the position after its event.
        Ok(out.into_iter().map(|r| (r.key.to_string(), r)).collect())
    }

    fn compact(&mut self, closed_before: Timestamp, horizon: Timestamp) -> StoreResult<()> {
        self.write()?;
        let gone = |e: &StoredEvent| e.period_start < closed_before && e.record.ts < horizon.millis();
        for e in self.events.values().filter(|e| gone(e) && e.voided_at.is_none()) {
            self.invoiced_events.insert((e.period_start, e.record.key.to_string()), e.record.clone());
        }
        self.events.retain(|_, e| !gone(e));
        self.outbox.retain(|_, q| q.delivered_at.is_none_or(|d| d >= horizon));
        Ok(())
    }

    fn invoice(&self, id: &str) -> StoreResult<Option<Invoice>> {
        Ok(self.invoices.get(id).cloned())
    }

    fn invoice_for_period(&self, period_start: Timestamp) -> StoreResult<Option<Invoice>> {
        Ok(self.invoices.values().find(|i| i.period_start == period_start).cloned())
    }

    fn invoices(&self, status: Option<InvoiceStatus>) -> StoreResult<Vec<Invoice>> {
        let mut all: Vec<Invoice> =
            self.invoices.values().filter(|i| status.is_none_or(|s| i.status == s)).cloned().collect();
        all.sort_by_key(|i| i.period_start);
        Ok(all)
    }

    fn unnumbered_invoices(&self) -> StoreResult<Vec<Invoice>> {
        let mut all: Vec<Invoice> = self.invoices.values().filter(|i| i.needs_number()).cloned().collect();
        all.sort_by_key(|i| i.period_start);
        Ok(all)
    }

    fn put_invoice(&mut self, inv: &Invoice) -> StoreResult<()> {
        self.write()?;
        // One invoice per period (`UNIQUE (period_start)` in SQL).
        if self.invoices.values().any(|i| i.period_start == inv.period_start && i.id != inv.id) {
            return Err(crate::machine::StoreError("UNIQUE constraint failed: invoices.period_start".into()));
        }
        self.invoices.insert(inv.id.clone(), inv.clone());
        Ok(())
    }

    fn enqueue(&mut self, id: &str, body: &str, at: Timestamp) -> StoreResult<()> {
        self.write()?;
        if !self.outbox.contains_key(id) {
            self.next_seq += 1;
            let q = Queued {
                body: body.to_owned(),
                attempts: 0,
                next_attempt_at: at,
                delivered_at: None,
                seq: self.next_seq,
            };
            self.outbox.insert(id.to_owned(), q);
        }
        Ok(())
    }

    fn due_deliveries(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<Outgoing>> {
        let mut due: Vec<(&String, &Queued)> =
            self.outbox.iter().filter(|(_, q)| q.delivered_at.is_none() && q.next_attempt_at <= now).collect();
        due.sort_by_key(|(_, q)| (q.next_attempt_at, q.seq));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(id, q)| Outgoing { id: id.clone(), body: q.body.clone(), attempts: q.attempts })
            .collect())
    }

    fn next_delivery(&self) -> StoreResult<Option<Timestamp>> {
        Ok(self.outbox.values().filter(|q| q.delivered_at.is_none()).map(|q| q.next_attempt_at).min())
    }

    fn delivered(&mut self, id: &str, now: Timestamp) -> StoreResult<()> {
        self.write()?;
        if let Some(q) = self.outbox.get_mut(id) {
            q.delivered_at = Some(now);
            q.attempts += 1;
        }
        Ok(())
    }

    fn delivery_failed(&mut self, id: &str, retry_at: Timestamp, _error: &str) -> StoreResult<()> {
        self.write()?;
        if let Some(q) = self.outbox.get_mut(id) {
            q.attempts += 1;
            q.next_attempt_at = retry_at;
        }
        Ok(())
    }

    fn log_rejections(&mut self, entries: &[RejectedEvent], capacity: usize) -> StoreResult<()> {
        self.write()?;
        let mut seq = self.rejections.keys().next_back().copied().unwrap_or(0);
        for e in entries {
            seq += 1;
            self.rejections.insert(seq, e.clone());
        }
        while self.rejections.len() > capacity {
            self.rejections.pop_first();
        }
        Ok(())
    }

    fn rejections(&self, limit: usize, before: Option<i64>) -> StoreResult<Vec<(i64, RejectedEvent)>> {
        Ok(self
            .rejections
            .range(..before.unwrap_or(i64::MAX))
            .rev()
            .take(limit)
            .map(|(s, r)| (*s, r.clone()))
            .collect())
    }
}

/// What the worker's customer object does with a call, over a [`MemoryStore`]: the
/// machine's decision in one transaction (rolled back if it fails), then the answer
/// rendered. The property tests drive the machine through it, as the object does.
#[derive(Debug, Default)]
pub struct MemoryObject {
    pub machine: super::CustomerMachine,
    pub store: MemoryStore,
    /// Fail the next call's `n`-th write (the call's transaction rolls back).
    pub fail_next: Option<u32>,
}

impl MemoryObject {
    pub fn new(machine: super::CustomerMachine) -> MemoryObject {
        MemoryObject { machine, store: MemoryStore::default(), fail_next: None }
    }

    /// Decides a call in one transaction, failing a write if [`MemoryObject::fail_next`]
    /// says so; the store's faults are healed afterwards.
    pub fn handle<'a>(&mut self, call: impl Into<super::CustomerCall<'a>>) -> Result<super::Handled, crate::ApiError> {
        if let Some(n) = self.fail_next.take() {
            self.store.faults.fail_after(n);
        }
        let machine = &mut self.machine;
        let out = crate::machine::transact(&mut self.store, |s| machine.handle(call.into(), s));
        self.store.faults.heal();
        out
    }

    /// The answer's JSON text.
    pub fn render(&self, handled: super::Handled) -> Result<String, crate::ApiError> {
        Ok(self.machine.render(handled, &self.store)?.1)
    }

    /// [`MemoryObject::handle`] then [`MemoryObject::render`]: the answer's text (a number
    /// property keeps the text it was sent with).
    pub fn call_text<'a>(&mut self, call: impl Into<super::CustomerCall<'a>>) -> Result<String, crate::ApiError> {
        let handled = self.handle(call)?;
        self.render(handled)
    }

    /// The answer as JSON.
    pub fn call<'a>(&mut self, call: impl Into<super::CustomerCall<'a>>) -> Result<serde_json::Value, crate::ApiError> {
        let text = self.call_text(call)?;
        serde_json::from_str(&text).map_err(|e| {
            crate::ApiError::new(crate::ErrorCode::InternalError, format!("an answer that is not JSON: {e}"))
        })
    }
}
