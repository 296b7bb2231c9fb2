//! The customer's invoices (API.md, "Invoices"): the invoicing step, a person's approve
//! and void, the upcoming invoice, and the webhook outbox.
//!
//! A run walks the book's periods (drafts, finals, numbers), writes each changed invoice
//! once, closes final periods, queues the webhooks of invoices that became final and
//! numbered, and compacts: once a period is final and its late window has passed, its
//! events can neither be invoiced again nor retried into it (older timestamps are
//! refused), so their rows go; aggregates and invoices stay.

use super::usage::ensure_metrics;
use super::{json, Body, CustomerMachine, CustomerStore, Handled, InvoiceCall, Outgoing, RunReport, UpcomingInvoice};
use crate::book::{webhook, PeriodFacts, StepInput};
use crate::digest::{PeriodScan, Scanner};
use crate::id;
use crate::ingest::LATE_WINDOW_MS;
use crate::lifecycle::{self, InvoiceStatus};
use crate::time::{Timestamp, HOUR_MS, MINUTE_MS};
use crate::{ApiError, ErrorCode};

/// Deliveries sent per call at most: a backlog drains over several runs.
pub const DELIVERIES_PER_CALL: usize = 20;

/// When to try a delivery again after `attempts` failures: 1 minute doubling, at most 6
/// hours.
pub fn backoff(attempts: i64) -> i64 {
    (MINUTE_MS << attempts.clamp(0, 20)).min(6 * HOUR_MS)
}

fn invoice_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such invoice")
}

impl CustomerMachine {
    pub(super) fn invoices(&mut self, call: InvoiceCall, store: &mut impl CustomerStore) -> Result<Handled, ApiError> {
        let webhooks = self.webhooks;
        match call {
            InvoiceCall::Run(r) => {
                let now = r.now;
                let (book, credits) = self.parts(store)?;
                let grants_before = credits.grants.clone();
                ensure_metrics(book, &r.metrics, store)?;
                let periods = book.invoicing_periods(now);
                let mut facts = Vec::with_capacity(periods.len());
                let mut new_ids = Vec::with_capacity(periods.len());
                for p in &periods {
                    let existing = store.invoice_for_period(p.start)?;
                    // Only an invoice the step may compute needs the period's events.
                    let scan = match &existing {
                        Some(e) if e.status != InvoiceStatus::Draft => None,
                        _ => Some(scan_period(store, &r.metrics, p.start)?),
                    };
                    facts.push(PeriodFacts { period: *p, existing, spans: Vec::new(), scan });
                    new_ids.push((p.start, invoice_id(&book.customer().id, p.start, now)));
                }
                let items = store.items()?;
                let out = book.invoicing_step(StepInput {
                    now,
                    metrics: &r.metrics,
                    items: &items,
                    periods: facts,
                    unnumbered: store.unnumbered_invoices()?,
                    numbers: &r.numbers,
                    new_ids,
                    webhooks,
                    grants: &mut credits.grants,
                })?;
                super::credits::write_changed(&grants_before, &credits.grants, store)?;
                for inv in &out.invoices {
                    store.put_invoice(inv)?;
                }
                if let Some(c) = out.closed_before {
                    store.put_closed_before(c)?;
                }
                for d in &out.deliveries {
                    store.enqueue(&d.id, &d.body, now)?;
                }
                if let Some(closed) = book.closed_before() {
                    store.compact(closed, now.saturating_add_ms(-LATE_WINDOW_MS))?;
                }
                super::alerts::evaluate(book, credits, store, now, webhooks)?;
                let report = RunReport {
                    next_due: out.next_draft,
                    open_from: book.first_open_period().start,
                    invoices: out.invoices,
                    unnumbered: out.unnumbered,
                };
                Ok(Handled { status: 200, body: Body::Run(report), deliver: webhooks.then_some(now) })
            }
            InvoiceCall::List(l) => {
                self.book(store)?;
                json(200, &store.invoices(l.status)?)
            }
            InvoiceCall::Get(g) => {
                self.book(store)?;
                json(200, &store.invoice(&g.id)?.ok_or_else(invoice_not_found)?)
            }
            InvoiceCall::Approve(a) => self.change(store, &a.id, a.now, true),
            InvoiceCall::Void(v) => self.change(store, &v.id, v.now, false),
            InvoiceCall::Upcoming(u) => {
                let book = self.book(store)?;
                ensure_metrics(book, &u.metrics, store)?;
                let p = book.customer().invoice_schedule.period_containing(u.now);
                let spans = store.period_spans(p.start)?;
                let items = store.items()?;
                let mut inv = book.preview(&u.metrics, &items, p, &spans, InvoiceStatus::Draft)?;
                let (book, credits) = self.parts(store)?;
                let mut grants = super::credits::grants_before(book, &credits.grants, store, p)?;
                crate::credit::apply(&mut inv, &mut grants)?;
                json(200, &UpcomingInvoice::of(inv))
            }
        }
    }

    /// A person approves (`approve`) or voids an invoice: the lifecycle allows it or
    /// answers `invalid_invoice_state`; sending queues `invoice.sent`.
    fn change(
        &mut self,
        store: &mut impl CustomerStore,
        id: &str,
        now: Timestamp,
        approve: bool,
    ) -> Result<Handled, ApiError> {
        let webhooks = self.webhooks;
        let (book, credits) = self.parts(store)?;
        let mut inv = store.invoice(id)?.ok_or_else(invoice_not_found)?;
        let next = if approve { lifecycle::approve(inv.status)? } else { lifecycle::void(inv.status)? };
        inv.status = next;
        if next == InvoiceStatus::Void {
            if inv.finalized_at.is_some() {
                // A final invoice drew on the grants: voiding it gives that back.
                let before = credits.grants.clone();
                crate::credit::give_back(&mut credits.grants, &crate::credit::drawn(&inv)?, now);
                super::credits::write_changed(&before, &credits.grants, store)?;
            } else {
                // A draft drew nothing, and a void one never will.
                inv.credits_applied.clear();
                inv.amount_due = inv.total.clone();
            }
        }
        match next {
            InvoiceStatus::Sent => inv.sent_at = Some(now),
            InvoiceStatus::Void => inv.voided_at = Some(now),
            _ => {}
        }
        store.put_invoice(&inv)?;
        // After the write: the balance must see this invoice void.
        let alerted = next == InvoiceStatus::Void && super::alerts::evaluate(book, credits, store, now, webhooks)?;
        if self.webhooks && next == InvoiceStatus::Sent {
            let d = webhook("invoice.sent", &inv, now);
            store.enqueue(&d.id, &d.body, now)?;
        }
        let mut handled = json(200, &inv)?;
        handled.deliver = (self.webhooks || alerted).then_some(now);
        Ok(handled)
    }

    /// The deliveries to send now, oldest first (at most [`DELIVERIES_PER_CALL`]).
    pub fn due_deliveries(&self, now: Timestamp, store: &impl CustomerStore) -> Result<Vec<Outgoing>, ApiError> {
        if !self.webhooks {
            return Ok(Vec::new());
        }
        Ok(store.due_deliveries(now, DELIVERIES_PER_CALL)?)
    }

    /// Records how a delivery went: done, or tried again after [`backoff`].
    pub fn delivery_outcome(
        &self,
        d: &Outgoing,
        outcome: Result<(), String>,
        now: Timestamp,
        store: &mut impl CustomerStore,
    ) -> Result<(), ApiError> {
        match outcome {
            Ok(()) => store.delivered(&d.id, now)?,
            Err(e) => store.delivery_failed(&d.id, now.saturating_add_ms(backoff(d.attempts)), &e)?,
        }
        Ok(())
    }
}

/// Events read per statement by [`scan_period`].
const SCAN_CHUNK: usize = 2048;

/// One pass over a period's live events, in chunks: each metric's `events_digest` and
/// first and last counted event (`crate::digest`).
pub(super) fn scan_period(
    store: &impl CustomerStore,
    metrics: &[crate::metric::MetricDef],
    period_start: Timestamp,
) -> Result<PeriodScan, ApiError> {
    let mut scanner = Scanner::new(metrics);
    let mut after: Option<String> = None;
    loop {
        let chunk = store.period_events(period_start, after.as_deref(), Some(SCAN_CHUNK))?;
        chunk.iter().for_each(|(_, ev)| scanner.add(ev));
        match chunk.last() {
            Some((at, _)) if chunk.len() == SCAN_CHUNK => after = Some(at.clone()),
            _ => return Ok(scanner.finish()),
        }
    }
}

/// The id of the invoice a run at `now` creates for a period: time-ordered by `now`, its
/// other 80 bits from a hash of the customer and the period rather than a random source,
/// so the machine needs none and two periods or customers never share one.
fn invoice_id(customer_id: &str, period_start: Timestamp, now: Timestamp) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(customer_id).chain_update(period_start.millis().to_be_bytes()).finalize();
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&digest[..10]);
    id::new_id("inv", now, bits)
}
