//! A batch of a customer's events: each event's fate and the aggregate changes.

use super::{Book, StateRow, StateWrites};
use crate::aggregate::{value_digest, AggState, MAX_DISTINCT_VALUES};
use crate::event::ValidEvent;
use crate::hash::ContentHash;
use crate::metric::{Aggregation, MetricDef};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One event's fate, in the order sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// New: stored and counted.
    Accepted,
    /// Its key was stored (or accepted earlier in the batch) with the same content.
    Duplicate,
    /// Its key was stored with different content (`idempotency_key_reused`).
    Reused,
    /// It falls in a period whose invoice is final (`period_closed`).
    Closed,
    /// It would add a distinct value to a `unique_count` metric that holds
    /// [`MAX_DISTINCT_VALUES`] in its period already (`unique_count_limit`).
    Full,
    /// It would take a hard-limited metric's quantity in its period, with the live
    /// holds, above the limit's `max` (`limit_exceeded`); not stored.
    LimitExceeded,
}

/// An accepted event the shell must store, by its index in the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub index: usize,
    pub period_start: Timestamp,
}

/// What a batch decided: one fate per event, the events to store, the aggregates to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    pub fates: Vec<Fate>,
    pub new_events: Vec<NewEvent>,
    pub states: StateWrites,
}

/// How a key was judged the first time the batch met it; later copies follow it.
#[derive(Clone, Copy)]
struct FirstCopy {
    /// The content the key stands for: the stored event's, or else the first copy's.
    hash: ContentHash,
    /// What a later copy with that content is: a duplicate when the content is (or is
    /// now) stored; else the first copy's refusal (closed, full), which it shares.
    same: Fate,
}

impl Book {
    /// Decides a batch of this customer's events. `stored` gives the content hash of
    /// every key of the batch that storage already holds (keys it lacks are new).
    /// `metrics` are the definitions for the batch's event names; each must have been
    /// back-filled first (see [`Book::unseen`]).
    ///
    /// A key is judged once, by its first copy in the batch: against the stored event
    /// when there is one, else it is new (accepted, or closed if its period is final).
    /// Later copies with the same content share that verdict as `duplicate` (or `closed`);
    /// with other content they are `reused`.
    pub fn ingest(
        &mut self,
        metrics: &[MetricDef],
        events: &[ValidEvent<'_>],
        stored: &HashMap<String, ContentHash>,
    ) -> Ingested {
        let (fates, new_events) = self.decide(metrics, events, stored);
        self.apply(metrics, events, fates, new_events)
    }

    /// Each event's fate and the events to store, as [`Book::ingest`] decides them,
    /// changing nothing: a caller may decide a batch as if no key were stored, store it
    /// only if that holds, and then [`Book::apply`] the decision.
    pub fn decide(
        &self,
        metrics: &[MetricDef],
        events: &[ValidEvent<'_>],
        stored: &HashMap<String, ContentHash>,
    ) -> (Vec<Fate>, Vec<NewEvent>) {
        debug_assert!(self.unseen(metrics).is_empty(), "metrics must be back-filled before a batch");
        let schedule = &self.customer.invoice_schedule;
        let mut fates = Vec::with_capacity(events.len());
        let mut new_events = Vec::new();
        let mut first: HashMap<&str, FirstCopy> = HashMap::with_capacity(events.len());
        let mut last_period: Option<crate::period::Period> = None;
        // The `unique_count` metrics the batch may feed, and the distinct values its
        // accepted events add to each (metric, period), to hold the cap across the batch.
        // (Most batches feed none: then nothing is collected.)
        let is_unique = |m: &MetricDef| m.aggregation == Aggregation::UniqueCount && m.field.is_some();
        let uniques: Vec<MetricDef> = if metrics.iter().chain(self.seen.values()).any(is_unique) {
            let names: Vec<&str> = events.iter().map(|e| e.event_name()).collect();
            self.metrics_for(metrics, &names).into_iter().filter(|m| is_unique(m)).cloned().collect()
        } else {
            Vec::new()
        };
        let mut added: HashMap<(String, Timestamp), HashSet<ContentHash>> = HashMap::new();
        // The hard limits the batch is decided against, in request order (most customers
        // have none: then nothing is checked).
        let hard = self.limits.hard();
        let mut pending = super::limits::Pending::default();
        for (index, ev) in events.iter().enumerate() {
            let key = ev.idempotency_key();
            if let Some(f) = first.get(key) {
                fates.push(if f.hash == ev.hash() { f.same } else { Fate::Reused });
                continue;
            }
            // Most events of a batch share a period: reuse the last one when it fits.
            let period = match last_period {
                Some(p) if p.contains(ev.timestamp()) => p,
                _ => schedule.period_containing(ev.timestamp()),
            };
            last_period = Some(period);
            let period_start = period.start;
            let fate = match stored.get(key) {
                Some(h) => {
                    first.insert(key, FirstCopy { hash: *h, same: Fate::Duplicate });
                    if *h == ev.hash() {
                        Fate::Duplicate
                    } else {
                        Fate::Reused
                    }
                }
                None => {
                    let fate = if self.is_closed(period_start) {
                        Fate::Closed
                    } else {
                        // The hard limits are checked first and counted last: a refused
                        // event leaves nothing in the batch's running totals.
                        if !hard.is_empty() && !self.limit_room(&hard, ev, period_start, &mut pending) {
                            Fate::LimitExceeded
                        } else if !self.room_for(&uniques, ev, period_start, &mut added) {
                            Fate::Full
                        } else {
                            if !hard.is_empty() {
                                pending.add();
                            }
                            new_events.push(NewEvent { index, period_start });
                            Fate::Accepted
                        }
                    };
                    let same = if fate == Fate::Accepted { Fate::Duplicate } else { fate };
                    first.insert(key, FirstCopy { hash: ev.hash(), same });
                    fate
                }
            };
            fates.push(fate);
        }
        (fates, new_events)
    }

    /// Counts a decided batch ([`Book::decide`]) into the aggregates.
    pub fn apply(
        &mut self,
        metrics: &[MetricDef],
        events: &[ValidEvent<'_>],
        fates: Vec<Fate>,
        new_events: Vec<NewEvent>,
    ) -> Ingested {
        let states = self.fold(metrics, events, &new_events);
        Ingested { fates, new_events, states }
    }

    /// Whether `ev` fits under every `unique_count` cap it feeds; if so, its values are
    /// counted in `added`.
    fn room_for(
        &self,
        uniques: &[MetricDef],
        ev: &ValidEvent<'_>,
        period_start: Timestamp,
        added: &mut HashMap<(String, Timestamp), HashSet<ContentHash>>,
    ) -> bool {
        let mut new_values: Vec<(String, ContentHash)> = Vec::new();
        for m in uniques.iter().filter(|m| m.matches(ev)) {
            let Some(v) = m.field.as_deref().and_then(|f| ev.properties().get(f)) else { continue };
            let k = (m.code.clone(), period_start);
            let state = self.open.get(&k);
            let digest = value_digest(v.as_text());
            let batch = added.get(&k);
            if state.is_some_and(|s| s.has_value(v.as_text())) || batch.is_some_and(|b| b.contains(&digest)) {
                continue;
            }
            let held = state.map_or(0, AggState::distinct) + batch.map_or(0, HashSet::len);
            if held >= MAX_DISTINCT_VALUES {
                return false;
            }
            new_values.push((m.code.clone(), digest));
        }
        for (code, digest) in new_values {
            added.entry((code, period_start)).or_default().insert(digest);
        }
        true
    }

    /// Folds the new events into each (metric, period) they feed: one write per pair
    /// touched, whatever the batch size.
    fn fold(&mut self, metrics: &[MetricDef], events: &[ValidEvent<'_>], new: &[NewEvent]) -> StateWrites {
        let mut names: Vec<&str> = new.iter().map(|n| events[n.index].event_name()).collect();
        names.sort_unstable();
        names.dedup();
        let applicable: Vec<MetricDef> = self.metrics_for(metrics, &names).into_iter().cloned().collect();
        let mut touched: BTreeMap<(String, Timestamp), AggState> = BTreeMap::new();
        for n in new {
            let ev = &events[n.index];
            for m in applicable.iter().filter(|m| m.matches(ev)) {
                let k = (m.code.clone(), n.period_start);
                let state = match touched.entry(k) {
                    Entry::Occupied(o) => o.into_mut(),
                    Entry::Vacant(v) => {
                        let current = self.open.get(v.key()).cloned();
                        v.insert(current.unwrap_or_else(|| AggState::empty(m.aggregation)))
                    }
                };
                state.apply(ev, m.field.as_deref());
            }
        }
        let mut put = Vec::with_capacity(touched.len());
        for ((metric, period_start), state) in touched {
            self.open.insert((metric.clone(), period_start), state.clone());
            put.push(StateRow { metric, period_start, state });
        }
        StateWrites { clear: None, put }
    }
}
