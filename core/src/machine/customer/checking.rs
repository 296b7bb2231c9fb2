//! Checking an invoice (API.md, "Checking an invoice"): the events behind an invoice, and
//! the invoice a period would have produced under other items. Neither changes anything
//! a client can see (a metric new to the book is back-filled first, as for every read).

use super::invoices::scan_period;
use super::usage::ensure_metrics;
use super::{json, CustomerMachine, CustomerStore, Handled};
use crate::aggregate::AggState;
use crate::digest::counts;
use crate::invoice_event::InvoiceEvent;
use crate::item::Item;
use crate::lifecycle::InvoiceStatus;
use crate::metric::MetricDef;
use crate::page::Page;
use crate::simulate::SimulatedInvoice;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The checks a customer's object answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckCall {
    Events(InvoiceEvents),
    Simulate(Simulate),
}

/// A page of the events an invoice counted, in idempotency-key order, after `cursor`
/// (the last key of the page before).
#[derive(Debug, Serialize, Deserialize)]
pub struct InvoiceEvents {
    pub id: String,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// The invoice of the period containing `period_start` (default: `now`) under `items`
/// (`crate::simulate::Simulation`, checked by the front).
#[derive(Debug, Serialize, Deserialize)]
pub struct Simulate {
    pub now: Timestamp,
    pub period_start: Option<Timestamp>,
    pub items: Vec<Item>,
    pub metrics: Vec<MetricDef>,
}

/// Events read per statement while a page fills.
const READ_CHUNK: usize = 512;

impl CustomerMachine {
    pub(super) fn checks(&mut self, call: CheckCall, store: &mut impl CustomerStore) -> Result<Handled, ApiError> {
        match call {
            CheckCall::Events(c) => {
                self.book(store)?;
                let inv = store
                    .invoice(&c.id)?
                    .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no invoice `{}`", c.id)))?;
                // The metrics its lines counted, as the aggregates knew them (definitions
                // never change, so these are the ones the digests were taken with).
                let seen = store.metrics_seen()?;
                let metrics: Vec<&MetricDef> =
                    line_metrics(&inv.lines).iter().filter_map(|code| seen.iter().find(|m| &m.code == code)).collect();
                let mut data = Vec::new();
                let mut after = c.cursor.clone();
                loop {
                    let chunk = store.period_events(inv.period_start, after.as_deref(), Some(READ_CHUNK))?;
                    for (at, ev) in &chunk {
                        if metrics.iter().any(|m| counts(m, ev)) && data.len() <= c.limit {
                            data.push((at.clone(), InvoiceEvent::of(ev)));
                        }
                    }
                    match chunk.last() {
                        Some((at, _)) if chunk.len() == READ_CHUNK && data.len() <= c.limit => after = Some(at.clone()),
                        _ => break,
                    }
                }
                // The page's cursor is the store's position after its last event.
                let page = Page::from_rows(data, c.limit, |(at, _)| at.clone());
                let data = page.data.into_iter().map(|(_, e)| e).collect();
                json(200, &Page { data, next_cursor: page.next_cursor })
            }
            CheckCall::Simulate(s) => {
                let book = self.book(store)?;
                ensure_metrics(book, &s.metrics, store)?;
                let p = book.customer().invoice_schedule.period_containing(s.period_start.unwrap_or(s.now));
                let scan = scan_period(store, &s.metrics, p.start)?;
                let states = match book.usage(&s.metrics, p) {
                    Some(states) => states,
                    None => final_states(store, &s.metrics, p.start)?,
                };
                let inv = book.priced(&s.metrics, &s.items, p, Some(states), &[], Some(&scan), InvoiceStatus::Draft)?;
                json(200, &SimulatedInvoice::of(inv))
            }
        }
    }
}

/// The metric codes an invoice's usage lines name, in line order.
fn line_metrics(lines: &Value) -> Vec<String> {
    let lines = lines.as_array().map(Vec::as_slice).unwrap_or_default();
    lines.iter().filter_map(|l| l.get("usage")?.get("metric_code")?.as_str().map(str::to_owned)).collect()
}

/// Each metric's state over a final period: its stored aggregate, or, for a metric the
/// customer's aggregates did not cover when the period closed, one fold over the period's
/// stored events.
fn final_states(
    store: &impl CustomerStore,
    metrics: &[MetricDef],
    period_start: Timestamp,
) -> Result<Vec<AggState>, ApiError> {
    let mut states = Vec::with_capacity(metrics.len());
    let mut missing = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        match store.state(&m.code, period_start)? {
            Some(s) => states.push(s),
            None => {
                states.push(AggState::empty(m.aggregation));
                missing.push(i);
            }
        }
    }
    if missing.is_empty() {
        return Ok(states);
    }
    let customer_id = store.customer()?.map(|c| c.id).unwrap_or_default();
    let mut after: Option<String> = None;
    loop {
        let chunk = store.period_events(period_start, after.as_deref(), Some(READ_CHUNK))?;
        for (_, ev) in &chunk {
            let valid = ev.to_valid(&customer_id);
            for &i in &missing {
                if counts(&metrics[i], ev) {
                    states[i].apply(&valid, metrics[i].field.as_deref());
                }
            }
        }
        match chunk.last() {
            Some((at, _)) if chunk.len() == READ_CHUNK => after = Some(at.clone()),
            _ => return Ok(states),
        }
    }
}
