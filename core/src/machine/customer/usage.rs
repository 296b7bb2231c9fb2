//! Usage: a batch of events, a void, and what the period adds up to (API.md "Usage
//! ingestion", "Voiding an event", "Usage").

use super::{json, CustomerMachine, CustomerStore, Handled, UsageCall};
use super::{DailyUsage, DayUsage, Fates, ItemUsage, MetricDays, MetricUsage, PeriodOut, UsageReport};
use super::{VoidStatus, Voided};
use crate::aggregate::{by_day, AggState};
use crate::book::{Book, VoidFate};
use crate::event::ValidEvent;
use crate::item::Item;
use crate::metric::MetricDef;
use crate::period::Period;
use crate::pricing::format_amount;
use crate::quantity;
use crate::{ApiError, ErrorCode};
use rust_decimal::Decimal;

impl CustomerMachine {
    pub(super) fn usage_call(
        &mut self,
        call: UsageCall<'_>,
        store: &mut impl CustomerStore,
    ) -> Result<Handled, ApiError> {
        match call {
            UsageCall::Ingest(c) => {
                let book = self.book(store)?;
                book.limits_mut().expire(c.now);
                ensure_metrics(book, &c.metrics, store)?;
                let customer_id = book.customer().id.clone();
                let valid: Vec<ValidEvent> = c.events.iter().map(|e| e.to_valid(&customer_id)).collect();
                let out = match ingest_if_all_new(book, &c, &valid, store)? {
                    Some(out) => out,
                    None => {
                        let keys: Vec<&str> = c.events.iter().map(|e| e.key.as_ref()).collect();
                        let stored = store.stored_hashes(&keys)?;
                        let out = book.ingest(&c.metrics, &valid, &stored);
                        store.insert_events(&c.events, &out.new_events, c.now)?;
                        out
                    }
                };
                store.write_states(&out.states)?;
                let alerted = !out.new_events.is_empty() && self.evaluate_alerts(store, c.now)?;
                let mut handled = json(200, &Fates { fates: out.fates })?;
                handled.deliver = alerted.then_some(c.now);
                Ok(handled)
            }
            UsageCall::Void(v) => {
                let book = self.book(store)?;
                ensure_metrics(book, &v.metrics, store)?;
                let target = store.void_target(&v.key)?;
                let fate = book.void(target.as_ref());
                if let (VoidFate::Void, Some(t)) = (&fate, &target) {
                    store.mark_voided(&v.key, v.now)?;
                    let customer_id = book.customer().id.clone();
                    let live = store.live_events_of(&t.event_name, t.period_start)?;
                    let live: Vec<ValidEvent> = live.iter().map(|r| r.to_valid(&customer_id)).collect();
                    let writes = book.recompute(&v.metrics, &t.event_name, t.period_start, live.iter());
                    store.write_states(&writes)?;
                }
                let status = match fate {
                    VoidFate::NotFound => {
                        return Err(ApiError::new(
                            ErrorCode::EventNotFound,
                            "no event with this idempotency key for this customer",
                        )
                        .field("idempotency_key"))
                    }
                    VoidFate::PeriodClosed => {
                        return Err(ApiError::new(
                            ErrorCode::PeriodClosed,
                            "the event's service period is already invoiced; it can no longer be voided",
                        )
                        .field("idempotency_key"))
                    }
                    VoidFate::Void => VoidStatus::Voided,
                    VoidFate::Already => VoidStatus::AlreadyVoided,
                };
                let customer_id = book.customer().id.clone();
                // A void lowers usage and spend: a `credit_balance` alert re-arms now.
                let alerted = status == VoidStatus::Voided && self.evaluate_alerts(store, v.now)?;
                let mut handled = json(200, &Voided { idempotency_key: v.key, customer_id, status })?;
                handled.deliver = alerted.then_some(v.now);
                Ok(handled)
            }
            UsageCall::Usage(u) => {
                let book = self.book(store)?;
                let period = book.customer().invoice_schedule.period_containing(u.at);
                let states = period_states(book, &u.metrics, period, store)?;
                let items = store.items()?;
                json(200, &usage_report(book, &u.metrics, &states, &items, period))
            }
            UsageCall::Daily(d) => {
                let book = self.book(store)?;
                let customer = book.customer();
                let period = customer.invoice_schedule.period_containing(d.at);
                let items = store.items()?;
                let mut series = Vec::new();
                for m in d.metrics.iter().filter(|m| priced(&items, m)) {
                    let records = store.live_events_of(&m.event_name, period.start)?;
                    let events: Vec<ValidEvent> = records.iter().map(|r| r.to_valid(&customer.id)).collect();
                    let days = by_day(m, period, events.iter())
                        .into_iter()
                        .map(|d| DayUsage {
                            date: d.date.to_string(),
                            quantity: quantity::format(d.state.quantity()),
                            event_count: d.state.event_count(),
                        })
                        .collect();
                    series.push(MetricDays {
                        code: m.code.clone(),
                        event_name: m.event_name.clone(),
                        aggregation: m.aggregation,
                        days,
                    });
                }
                let period = PeriodOut { start: period.start, end: period.end };
                json(200, &DailyUsage { customer_id: customer.id.clone(), period, metrics: series })
            }
        }
    }
}

/// A batch's common case in one write: decided as if none of its keys were stored, every
/// event is accepted into one period; the store then writes it all if that holds (no key
/// stored, none twice), and the decision stands, being the one the stored keys give.
/// `None`, with nothing written or counted, sends the batch the general way: look its
/// keys up, decide, store what is accepted.
fn ingest_if_all_new(
    book: &mut Book,
    c: &super::Ingest<'_>,
    valid: &[ValidEvent<'_>],
    store: &mut impl CustomerStore,
) -> Result<Option<crate::book::Ingested>, ApiError> {
    let (fates, new) = book.decide(&c.metrics, valid, &std::collections::HashMap::new());
    let Some(first) = new.first().copied() else { return Ok(None) };
    if new.len() != valid.len() || new.iter().any(|n| n.period_start != first.period_start) {
        return Ok(None);
    }
    if !store.insert_if_new(&c.events, first.period_start, c.now, c.received)? {
        return Ok(None);
    }
    Ok(Some(book.apply(&c.metrics, valid, fates, new)))
}

/// Whether one of the customer's items is priced on the metric.
fn priced(items: &[Item], m: &MetricDef) -> bool {
    items.iter().any(|i| i.metric_code.as_deref() == Some(m.code.as_str()))
}

/// Back-fills, from the stored events, every metric the book does not cover yet, and
/// records that it now does: a metric created after events arrived still counts them.
pub(super) fn ensure_metrics(
    book: &mut Book,
    metrics: &[MetricDef],
    store: &mut impl CustomerStore,
) -> Result<(), ApiError> {
    for m in book.unseen(metrics).into_iter().cloned().collect::<Vec<_>>() {
        let records = store.live_events_from(&m.event_name, book.closed_before())?;
        let customer_id = book.customer().id.clone();
        let live: Vec<_> = records.iter().map(|(p, r)| (*p, r.to_valid(&customer_id))).collect();
        let writes = book.backfill(&m, live.iter().map(|(p, e)| (*p, e)));
        store.write_states(&writes)?;
        store.put_metric_seen(&m)?;
    }
    Ok(())
}

/// Each metric's state over a period: the book's for an open one, storage's for a final
/// one. Back-fills metrics new to the book first.
pub(super) fn period_states(
    book: &mut Book,
    metrics: &[MetricDef],
    period: Period,
    store: &mut impl CustomerStore,
) -> Result<Vec<AggState>, ApiError> {
    ensure_metrics(book, metrics, store)?;
    if let Some(states) = book.usage(metrics, period) {
        return Ok(states);
    }
    let mut states = Vec::with_capacity(metrics.len());
    for m in metrics {
        states.push(store.state(&m.code, period.start)?.unwrap_or_else(|| AggState::empty(m.aggregation)));
    }
    Ok(states)
}

/// Each metric's quantity, and each item priced at it (a fixed item at quantity one).
fn usage_report(
    book: &Book,
    metrics: &[MetricDef],
    states: &[AggState],
    items: &[Item],
    period: Period,
) -> UsageReport {
    let customer = book.customer();
    let quantity_of =
        |code: &str| metrics.iter().position(|m| m.code == code).map_or(Decimal::ZERO, |i| states[i].quantity());
    UsageReport {
        customer_id: customer.id.clone(),
        currency: customer.currency,
        period: PeriodOut { start: period.start, end: period.end },
        metrics: metrics
            .iter()
            .zip(states)
            .map(|(m, s)| MetricUsage {
                code: m.code.clone(),
                event_name: m.event_name.clone(),
                aggregation: m.aggregation,
                quantity: quantity::format(s.quantity()),
                event_count: s.event_count(),
            })
            .collect(),
        items: items
            .iter()
            .map(|it| {
                let q = it.metric_code.as_deref().map_or(Decimal::ONE, quantity_of);
                ItemUsage {
                    item_id: it.id.clone(),
                    name: it.name.clone(),
                    kind: it.kind,
                    metric_code: it.metric_code.clone(),
                    quantity: quantity::format(q),
                    amount: format_amount(it.price.amount(q, customer.currency), customer.currency),
                }
            })
            .collect(),
    }
}
