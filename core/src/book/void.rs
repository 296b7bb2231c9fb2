//! `POST /v1/usage/void`: retracting an accepted event, and recomputing what it fed.

use super::{Book, StateRow, StateWrites};
use crate::aggregate::AggState;
use crate::event::ValidEvent;
use crate::metric::MetricDef;
use crate::time::Timestamp;

/// What storage holds for the key being voided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoidTarget {
    pub event_name: String,
    pub period_start: Timestamp,
    pub voided: bool,
}

/// The decision on a void.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoidFate {
    /// Mark the event voided, then recompute its period with [`Book::recompute`].
    Void,
    /// It was voided before: nothing changes.
    Already,
    /// No event with this key for this customer.
    NotFound,
    /// Its period is final: the invoice must not change.
    PeriodClosed,
}

impl Book {
    /// Decides a void from what storage holds for the key.
    pub fn void(&self, target: Option<&VoidTarget>) -> VoidFate {
        match target {
            None => VoidFate::NotFound,
            Some(t) if t.voided => VoidFate::Already,
            Some(t) if self.is_closed(t.period_start) => VoidFate::PeriodClosed,
            Some(_) => VoidFate::Void,
        }
    }

    /// Recomputes every metric of `event_name` over one open period from its live events
    /// (after a void: `max`, `latest` and `unique_count` cannot be subtracted).
    pub fn recompute<'e, 'a: 'e>(
        &mut self,
        metrics: &[MetricDef],
        event_name: &str,
        period_start: Timestamp,
        live: impl IntoIterator<Item = &'e ValidEvent<'a>> + Clone,
    ) -> StateWrites {
        let names = [event_name];
        let applicable: Vec<MetricDef> = self.metrics_for(metrics, &names).into_iter().cloned().collect();
        let mut put = Vec::new();
        for m in applicable.iter().filter(|m| m.event_name == event_name) {
            let mut state = AggState::empty(m.aggregation);
            for ev in live.clone() {
                if m.matches(ev) {
                    state.apply(ev, m.field.as_deref());
                }
            }
            self.open.insert((m.code.clone(), period_start), state.clone());
            put.push(StateRow { metric: m.code.clone(), period_start, state });
        }
        StateWrites { clear: None, put }
    }
}
