//! A customer's book: everything a customer's Durable Object decides, with no I/O.
//!
//! Modelled on quinn-proto's `Connection`: a [`Book`] owns the small state a customer's
//! decisions need (the customer, which periods are final, which metrics its aggregates
//! cover, and the aggregate of every open period), and is driven by calls that take "now"
//! and the rows they need, and return what to write and what to answer. The storage shell
//! (the worker's ledger) loads what a call asks for, writes what it returns in one
//! transaction, and decides nothing.
//!
//! The contract with the shell: a call that returns writes has already updated the book.
//! If the shell then fails to commit them, it must drop the book and load a fresh one
//! from storage ([`Book::load`]), so memory never runs ahead of what is durable.

mod ingest;
mod invoicing;
mod limits;
mod void;

pub use ingest::{Fate, Ingested, NewEvent};
pub use invoicing::{webhook, Delivery, NameSpan, PeriodFacts, StepInput, StepOutcome};
pub use limits::Limits;
pub use void::{VoidFate, VoidTarget};

use crate::aggregate::AggState;
use crate::customer::Customer;
use crate::event::ValidEvent;
use crate::metric::MetricDef;
use crate::period::Period;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// One stored aggregate: a metric's state over one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateRow {
    pub metric: String,
    pub period_start: Timestamp,
    pub state: AggState,
}

/// Aggregate writes for the shell: delete a metric's open states first (a back-fill
/// replaces them), then upsert each row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateWrites {
    /// Delete `aggregates` rows of this metric with `period_start >= from`.
    pub clear: Option<(String, Timestamp)>,
    pub put: Vec<StateRow>,
}

/// A customer's decision state. See the module docs for the contract with the shell.
#[derive(Clone, Debug)]
pub struct Book {
    customer: Customer,
    /// Periods starting before this are final: their events are `period_closed`, their
    /// aggregates never change again, and they are not held here.
    closed_before: Option<Timestamp>,
    /// The metric definitions the aggregates cover, by code.
    seen: BTreeMap<String, MetricDef>,
    /// The aggregates of open periods, by (metric code, period start).
    open: BTreeMap<(String, Timestamp), AggState>,
    /// The customer's limits and live holds (`limits.rs`); none until the machine sets
    /// them.
    limits: Limits,
}

impl Book {
    /// A book from what storage holds. `states` may include final periods; only open ones
    /// are kept.
    pub fn load(
        customer: Customer,
        closed_before: Option<Timestamp>,
        seen: Vec<MetricDef>,
        states: Vec<StateRow>,
    ) -> Book {
        let open_from = closed_before.unwrap_or(Timestamp(i64::MIN));
        Book {
            customer,
            closed_before,
            seen: seen.into_iter().map(|m| (m.code.clone(), m)).collect(),
            open: states
                .into_iter()
                .filter(|r| r.period_start >= open_from)
                .map(|r| ((r.metric, r.period_start), r.state))
                .collect(),
            limits: Limits::default(),
        }
    }

    pub fn customer(&self) -> &Customer {
        &self.customer
    }

    /// Replaces the customer record (after a patch); its id never changes.
    pub fn set_customer(&mut self, customer: Customer) {
        self.customer = customer;
    }

    /// Events in periods starting before this are refused as `period_closed`.
    pub fn closed_before(&self) -> Option<Timestamp> {
        self.closed_before
    }

    /// Whether the period's invoice is final.
    pub fn is_closed(&self, period_start: Timestamp) -> bool {
        self.closed_before.is_some_and(|c| period_start < c)
    }

    /// Marks every period starting before `t` final (the invoicing run does, once a
    /// period's invoice is final). Drops their aggregates from memory: storage keeps them.
    pub fn close_before(&mut self, t: Timestamp) {
        if self.closed_before.is_some_and(|c| c >= t) {
            return;
        }
        self.closed_before = Some(t);
        self.open.retain(|(_, p), _| *p >= t);
    }

    /// The metrics among `metrics` whose aggregates this book does not cover yet. Each
    /// must be back-filled ([`Book::backfill`]) from the stored events before a batch or
    /// a read uses it, so a metric created after events arrived still counts them.
    pub fn unseen<'m>(&self, metrics: &'m [MetricDef]) -> Vec<&'m MetricDef> {
        metrics.iter().filter(|m| self.seen.get(&m.code) != Some(*m)).collect()
    }

    /// Back-fills a metric from the live (not voided) stored events of its event name in
    /// open periods, each with its period's start. Returns the writes that replace the
    /// metric's open aggregates.
    pub fn backfill<'e, 'a: 'e>(
        &mut self,
        metric: &MetricDef,
        live: impl IntoIterator<Item = (Timestamp, &'e ValidEvent<'a>)>,
    ) -> StateWrites {
        let from = self.closed_before.unwrap_or(Timestamp(i64::MIN));
        let mut states: BTreeMap<Timestamp, AggState> = BTreeMap::new();
        for (p, ev) in live {
            if p >= from && metric.matches(ev) {
                states
                    .entry(p)
                    .or_insert_with(|| AggState::empty(metric.aggregation))
                    .apply(ev, metric.field.as_deref());
            }
        }
        self.open.retain(|(code, _), _| code != &metric.code);
        self.seen.insert(metric.code.clone(), metric.clone());
        let mut put = Vec::with_capacity(states.len());
        for (p, s) in states {
            self.open.insert((metric.code.clone(), p), s.clone());
            put.push(StateRow { metric: metric.code.clone(), period_start: p, state: s });
        }
        StateWrites { clear: Some((metric.code.clone(), from)), put }
    }

    /// The metrics that apply to events of these names: those given, plus those the
    /// aggregates already cover. A caller's list can lag behind a new metric (ingest reads
    /// it through a cache); once the book covers a metric, an event it missed would be
    /// missed for good.
    fn metrics_for<'s>(&'s self, given: &'s [MetricDef], names: &[&str]) -> Vec<&'s MetricDef> {
        let mut all: Vec<&MetricDef> = given.iter().collect();
        for m in self.seen.values() {
            if names.contains(&m.event_name.as_str()) && !all.iter().any(|x| x.code == m.code) {
                all.push(m);
            }
        }
        all
    }

    /// The metric definitions the aggregates cover: what the object prices with when a
    /// call brings none (the balance, alerts), so it needs no catalog read.
    pub fn metrics(&self) -> Vec<MetricDef> {
        self.seen.values().cloned().collect()
    }

    /// Each metric's state over `period`, or `None` when the period is final (its
    /// aggregates are in storage only, and never change).
    pub fn usage(&self, metrics: &[MetricDef], period: Period) -> Option<Vec<AggState>> {
        if self.is_closed(period.start) {
            return None;
        }
        Some(
            metrics
                .iter()
                .map(|m| {
                    self.open
                        .get(&(m.code.clone(), period.start))
                        .cloned()
                        .unwrap_or_else(|| AggState::empty(m.aggregation))
                })
                .collect(),
        )
    }
}
