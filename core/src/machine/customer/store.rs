//! What a customer's machine needs from storage: a small synchronous trait, implemented
//! over the object's SQLite database in the worker (`objects/ledger.rs`) and in memory
//! here ([`super::MemoryStore`]) for tests.
//!
//! Reads take `&self`, writes `&mut self`; every method is one or a few set-based
//! statements, never one per event. A method decides nothing: the machine does.

use super::credit_store::CreditStore;
use crate::aggregate::AggState;
use crate::book::{NameSpan, NewEvent, StateRow, StateWrites, VoidTarget};
use crate::customer::Customer;
use crate::event::EventRecord;
use crate::hash::ContentHash;
use crate::invoice::Invoice;
use crate::item::Item;
use crate::lifecycle::InvoiceStatus;
use crate::machine::StoreResult;
use crate::metric::MetricDef;
use crate::rejection::RejectedEvent;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A webhook delivery waiting in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub id: String,
    pub body: String,
    /// Failed attempts so far.
    pub attempts: i64,
}

/// One customer's storage (its credit grants and alerts: [`CreditStore`]; its limits and
/// reservations: [`super::LimitStore`]).
pub trait CustomerStore: CreditStore + super::LimitStore {
    // The record and its items.
    fn customer(&self) -> StoreResult<Option<Customer>>;
    fn put_customer(&mut self, c: &Customer) -> StoreResult<()>;
    /// Every item, by id.
    fn items(&self) -> StoreResult<Vec<Item>>;
    /// Stores an item; one already stored under its id is kept as it is.
    fn put_item(&mut self, item: &Item) -> StoreResult<()>;

    // What the book is loaded from.
    /// Periods starting before this are final.
    fn closed_before(&self) -> StoreResult<Option<Timestamp>>;
    fn put_closed_before(&mut self, t: Timestamp) -> StoreResult<()>;
    /// The metric definitions the aggregates cover.
    fn metrics_seen(&self) -> StoreResult<Vec<MetricDef>>;
    fn put_metric_seen(&mut self, m: &MetricDef) -> StoreResult<()>;
    /// Every aggregate of a period starting at or after `from` (all with `None`).
    fn states_from(&self, from: Option<Timestamp>) -> StoreResult<Vec<StateRow>>;
    /// One stored aggregate (of a final period: the book holds the open ones).
    fn state(&self, metric: &str, period_start: Timestamp) -> StoreResult<Option<AggState>>;
    fn write_states(&mut self, w: &StateWrites) -> StoreResult<()>;

    // Events.
    /// The content hash of every key among `keys` that is stored.
    fn stored_hashes(&self, keys: &[&str]) -> StoreResult<HashMap<String, ContentHash>>;
    /// Stores the batch's new events (`new` indexes `events`), received at `now`.
    fn insert_events(&mut self, events: &[EventRecord<'_>], new: &[NewEvent], now: Timestamp) -> StoreResult<()>;
    /// Stores all of `events`, every one new and of the period starting at
    /// `period_start`, received at `now`, if none of their keys is stored yet nor any
    /// twice among them, and the store can write them in one piece; `false`, with nothing
    /// written, otherwise. A batch's common case so costs no separate lookup of its keys.
    /// `received`, when given, is `events` exactly as an [`crate::event_chunk`]: the
    /// store may keep those bytes as they are.
    fn insert_if_new(
        &mut self,
        events: &[EventRecord<'_>],
        period_start: Timestamp,
        now: Timestamp,
        received: Option<&[u8]>,
    ) -> StoreResult<bool>;
    /// The live (not voided) events of `event_name` in periods starting at or after
    /// `from`, each with its period's start.
    fn live_events_from(
        &self,
        event_name: &str,
        from: Option<Timestamp>,
    ) -> StoreResult<Vec<(Timestamp, EventRecord<'static>)>>;
    /// The live events of `event_name` in the period starting at `period_start`.
    fn live_events_of(&self, event_name: &str, period_start: Timestamp) -> StoreResult<Vec<EventRecord<'static>>>;
    /// What is stored for a key about to be voided.
    fn void_target(&self, key: &str) -> StoreResult<Option<VoidTarget>>;
    fn mark_voided(&mut self, key: &str, now: Timestamp) -> StoreResult<()>;
    /// Per event name, the first and last live event of a period.
    fn period_spans(&self, period_start: Timestamp) -> StoreResult<Vec<NameSpan>>;
    /// Up to `limit` (all with `None`) live events of the period starting at
    /// `period_start` that come after the position `after` (from the start with `None`),
    /// each with its own position: the cursor a next call passes to go on after it. The
    /// order is the store's, the same on every call; positions are opaque to callers.
    /// Events still in the events table and those compaction moved aside both count, since
    /// an invoice's events stay readable (API.md "Checking an invoice").
    fn period_events(
        &self,
        period_start: Timestamp,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<(String, EventRecord<'static>)>>;
    /// Takes out of the events table the events of periods starting before
    /// `closed_before` whose timestamps are before `horizon` (keeping the live ones aside,
    /// for [`CustomerStore::period_events`]), and deletes the deliveries acknowledged
    /// before `horizon`.
    fn compact(&mut self, closed_before: Timestamp, horizon: Timestamp) -> StoreResult<()>;

    // Invoices.
    fn invoice(&self, id: &str) -> StoreResult<Option<Invoice>>;
    fn invoice_for_period(&self, period_start: Timestamp) -> StoreResult<Option<Invoice>>;
    /// Every invoice, oldest period first, optionally of one status.
    fn invoices(&self, status: Option<InvoiceStatus>) -> StoreResult<Vec<Invoice>>;
    /// Invoices past draft that still wait for their number, oldest period first.
    fn unnumbered_invoices(&self) -> StoreResult<Vec<Invoice>>;
    /// Stores an invoice (one per period; its id names it).
    fn put_invoice(&mut self, inv: &Invoice) -> StoreResult<()>;

    // The webhook outbox.
    /// Queues a delivery, due at `at`; one already queued under its id is kept.
    fn enqueue(&mut self, id: &str, body: &str, at: Timestamp) -> StoreResult<()>;
    /// Up to `limit` deliveries due at `now`, the longest waiting first.
    fn due_deliveries(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<Outgoing>>;
    /// When the earliest pending delivery is due, if any.
    fn next_delivery(&self) -> StoreResult<Option<Timestamp>>;
    fn delivered(&mut self, id: &str, now: Timestamp) -> StoreResult<()>;
    /// Counts a failed attempt and sets when to try again.
    fn delivery_failed(&mut self, id: &str, retry_at: Timestamp, error: &str) -> StoreResult<()>;

    // The rejected-events log.
    /// Appends entries (oldest first) and keeps only the newest `capacity`.
    fn log_rejections(&mut self, entries: &[RejectedEvent], capacity: usize) -> StoreResult<()>;
    /// Up to `limit` entries before position `before` (all with `None`), newest first,
    /// each with its position.
    fn rejections(&self, limit: usize, before: Option<i64>) -> StoreResult<Vec<(i64, RejectedEvent)>>;
}
