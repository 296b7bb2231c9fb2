//! A customer's limits and live holds, and the decisions that read them: whether an event
//! or a new hold fits under a hard `max`, and what a metric's entitlement is
//! (API.md "Limits, entitlements and reservations").
//!
//! Both are small (a limit per metric, holds that live minutes), so the book keeps them
//! in memory with the aggregates and the machine writes every change through to storage.
//! An expired hold is dropped from memory at the next decision ([`Limits::expire`], with
//! "now"), so `reserved` never counts one, whether or not anyone called.

use super::Book;
use crate::aggregate::{value_digest, AggState};
use crate::event::ValidEvent;
use crate::hash::ContentHash;
use crate::limit::{Entitlement, Limit, Reservation};
use crate::metric::{Aggregation, MetricDef};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};

/// The customer's limits, by metric code, and its live holds, by reservation id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    limits: BTreeMap<String, Limit>,
    holds: BTreeMap<String, Reservation>,
}

impl Limits {
    /// From storage: every limit and every reservation stored as held (expired ones are
    /// dropped at the first decision).
    pub fn load(limits: Vec<Limit>, held: Vec<Reservation>) -> Limits {
        Limits {
            limits: limits.into_iter().map(|l| (l.metric.code.clone(), l)).collect(),
            holds: held.into_iter().map(|r| (r.id.clone(), r)).collect(),
        }
    }

    pub fn get(&self, code: &str) -> Option<&Limit> {
        self.limits.get(code)
    }

    pub fn all(&self) -> impl Iterator<Item = &Limit> {
        self.limits.values()
    }

    pub fn put(&mut self, limit: Limit) {
        self.limits.insert(limit.metric.code.clone(), limit);
    }

    pub fn remove(&mut self, code: &str) -> Option<Limit> {
        self.limits.remove(code)
    }

    /// Drops the holds that have expired at `now`: called before every decision.
    pub fn expire(&mut self, now: Timestamp) {
        self.holds.retain(|_, r| r.holds_at(now));
    }

    pub fn hold(&mut self, r: Reservation) {
        self.holds.insert(r.id.clone(), r);
    }

    /// Ends a hold (committed or released); the hold it was, if live.
    pub fn unhold(&mut self, id: &str) -> Option<Reservation> {
        self.holds.remove(id)
    }

    /// The live holds, by id.
    pub fn holds(&self) -> impl Iterator<Item = &Reservation> {
        self.holds.values()
    }

    /// What the live holds on a metric reserve in a period.
    pub fn reserved(&self, code: &str, period_start: Timestamp) -> Decimal {
        self.holds
            .values()
            .filter(|r| r.metric_code == code && r.period_start == period_start)
            .map(|r| r.quantity)
            .sum()
    }

    /// The hard limits, for a batch to check its events against; empty (the common
    /// case) when the customer has none, and then the batch checks nothing.
    pub(super) fn hard(&self) -> Vec<Limit> {
        self.limits.values().filter(|l| l.is_hard()).cloned().collect()
    }
}

/// A batch's running totals per hard limit (by its index in the batch's list) and
/// period: what the period held before the batch, with the live holds (read once per
/// batch, not once per event), and what the batch's accepted events have added.
///
/// A batch touches a few (limit, period) pairs, so they sit in a short list; the event
/// being decided leaves its increments in `scratch`, reused from event to event, so
/// deciding an event allocates nothing.
#[derive(Default)]
pub(super) struct Pending {
    running: Vec<((usize, Timestamp), Running)>,
    scratch: Vec<Increment>,
}

#[derive(Default)]
struct Running {
    /// The period's quantity before the batch, plus what the live holds reserve.
    base: Decimal,
    added: Decimal,
    /// `unique_count`: the values the batch has added.
    digests: HashSet<ContentHash>,
}

/// What one event adds under one limit: a quantity, and for a `unique_count` the new
/// value's digest.
pub(super) struct Increment {
    key: (usize, Timestamp),
    by: Decimal,
    digest: Option<ContentHash>,
}

impl Pending {
    /// Counts the increments of the event [`Book::limit_room`] last found room for: it
    /// was accepted.
    pub(super) fn add(&mut self) {
        for a in self.scratch.drain(..) {
            if let Some((_, r)) = self.running.iter_mut().find(|(k, _)| *k == a.key) {
                r.added += a.by;
                r.digests.extend(a.digest);
            }
        }
    }
}

/// How much `ev`, which `metric` counts, adds to its quantity whose state is `state`
/// (needed for `unique_count` only), with the distinct values the batch has already
/// added; `None` for an aggregation limits do not apply to.
fn increment(
    metric: &MetricDef,
    state: Option<&AggState>,
    batch: Option<&HashSet<ContentHash>>,
    ev: &ValidEvent<'_>,
) -> Option<(Decimal, Option<ContentHash>)> {
    Some(match metric.aggregation {
        Aggregation::Sum => (ev.value(), None),
        Aggregation::Count => (Decimal::ONE, None),
        Aggregation::UniqueCount => {
            let Some(v) = metric.field.as_deref().and_then(|f| ev.properties().get(f)) else {
                return Some((Decimal::ZERO, None));
            };
            let digest = value_digest(v.as_text());
            let known = state.is_some_and(|s| s.has_value(v.as_text())) || batch.is_some_and(|b| b.contains(&digest));
            if known {
                (Decimal::ZERO, None)
            } else {
                (Decimal::ONE, Some(digest))
            }
        }
        // Limits are refused on these (`limit::check_limitable`).
        Aggregation::Max | Aggregation::Latest => return None,
    })
}

impl Book {
    /// The customer's limits and live holds.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn limits_mut(&mut self) -> &mut Limits {
        &mut self.limits
    }

    /// Replaces the limits and holds (the machine, once it has loaded them).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// A metric's definition as the aggregates know it.
    pub fn seen_metric(&self, code: &str) -> Option<&MetricDef> {
        self.seen.get(code)
    }

    /// A metric's quantity in an open period (zero for a period the book does not hold).
    pub fn quantity(&self, code: &str, period_start: Timestamp) -> Decimal {
        self.open.get(&(code.to_owned(), period_start)).map_or(Decimal::ZERO, AggState::quantity)
    }

    /// Whether `ev` fits under every hard limit it counts for, with what the batch has
    /// accepted so far (`pending`) and the live holds; if so, its increments wait in
    /// `pending` for [`Pending::add`] once the event is accepted. An event that adds
    /// nothing (a value already counted, a zero) always fits: it takes no quantity above
    /// `max`.
    pub(super) fn limit_room(
        &self,
        hard: &[Limit],
        ev: &ValidEvent<'_>,
        period_start: Timestamp,
        pending: &mut Pending,
    ) -> bool {
        pending.scratch.clear();
        for (i, l) in hard.iter().enumerate() {
            if !l.metric.matches(ev) {
                continue;
            }
            let code = &l.metric.code;
            let unique = l.metric.aggregation == Aggregation::UniqueCount;
            // The period's state is looked up once per batch, and per event only for a
            // `unique_count` (whether the value is new).
            let state = || self.open.get(&(code.clone(), period_start));
            let key = (i, period_start);
            let at = match pending.running.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    let base =
                        state().map_or(Decimal::ZERO, AggState::quantity) + self.limits.reserved(code, period_start);
                    pending.running.push((key, Running { base, ..Running::default() }));
                    pending.running.len() - 1
                }
            };
            let running = &pending.running[at].1;
            let current = if unique { state() } else { None };
            let Some((inc, digest)) = increment(&l.metric, current, Some(&running.digests), ev) else { continue };
            if inc.is_zero() {
                continue;
            }
            if running.base + running.added + inc > l.max {
                return false;
            }
            pending.scratch.push(Increment { key, by: inc, digest });
        }
        true
    }

    /// Whether a new hold of `quantity` on `code` in the period fits under its limit: a
    /// hard one counts what was used and what is held; a soft one, or none, always fits.
    pub fn hold_fits(&self, code: &str, period_start: Timestamp, quantity: Decimal) -> bool {
        match self.limits.get(code) {
            Some(l) if l.is_hard() => {
                self.quantity(code, period_start) + self.limits.reserved(code, period_start) + quantity <= l.max
            }
            _ => true,
        }
    }

    /// A metric's entitlement in the period starting at `period_start`.
    pub fn entitlement(&self, metric: &MetricDef, period_start: Timestamp) -> Entitlement {
        Entitlement::new(
            &metric.code,
            self.limits.get(&metric.code),
            self.quantity(&metric.code, period_start),
            self.limits.reserved(&metric.code, period_start),
        )
    }
}
