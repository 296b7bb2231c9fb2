//! The invoicing step (API.md, "Invoices"): drafts, finals, numbers and webhooks for one
//! customer at "now", the cron run's scheduled time.
//!
//! A step walks the periods from the first one not final: a period past `end +
//! grace_hours` is finalized and the next one considered (so missed runs catch up), a
//! period past `end - pre_generate_days` gets or refreshes its draft. Every period gets
//! exactly one invoice, and every invoice that is no longer a draft gets the number the
//! catalog holds for its period: numbers are one gap-free sequence for the account, given
//! by the catalog before the step (see the worker's `billing_index`), so a step is one
//! call. An invoice's `invoice.finalized` (and `invoice.sent`) webhooks are queued when it
//! has both its final state and its number.

use super::Book;
use crate::credit::{self, Grant};
use crate::digest::PeriodScan;
use crate::error::ApiError;
use crate::invoice::{invoice_lines, Invoice, LineInput, UsageSummary};
use crate::item::{Item, ItemKind};
use crate::lifecycle::{draft_from, due_periods, first_open, stage, InvoiceStatus, Stage};
use crate::metric::MetricDef;
use crate::period::Period;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::Serialize;

/// The first and last live event of one event name in a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameSpan {
    pub event_name: String,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// What storage holds for one period the step looks at ([`Book::invoicing_periods`]).
#[derive(Clone, Debug)]
pub struct PeriodFacts {
    pub period: Period,
    pub existing: Option<Invoice>,
    pub spans: Vec<NameSpan>,
    /// Each metric's `events_digest` and first and last counted event over the period
    /// (`crate::digest::scan`), which take the place of `spans`; `None` leaves the
    /// invoice without digests.
    pub scan: Option<PeriodScan>,
}

/// Everything a step needs besides the book.
pub struct StepInput<'a> {
    pub now: Timestamp,
    pub metrics: &'a [MetricDef],
    pub items: &'a [Item],
    /// One per period from [`Book::invoicing_periods`], in order.
    pub periods: Vec<PeriodFacts>,
    /// Final invoices of earlier periods that still have no number.
    pub unnumbered: Vec<Invoice>,
    /// The catalog's numbers for this customer's periods, by period start.
    pub numbers: &'a [(Timestamp, String)],
    /// The id of the invoice this step would create for a period, by period start, for
    /// every period it looks at.
    pub new_ids: Vec<(Timestamp, String)>,
    /// Whether webhooks are configured: deliveries are queued only then.
    pub webhooks: bool,
    /// The customer's credit grants: an invoice finalized by the step draws on them (the
    /// caller writes the grants that changed); a draft shows what it would draw.
    pub grants: &'a mut [Grant],
}

/// A webhook delivery to queue. Its id is derived from the invoice and the type, so
/// queueing it twice is harmless and a receiver can dedupe retries on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub body: String,
}

/// What a step decided.
#[derive(Clone, Debug)]
pub struct StepOutcome {
    /// Invoices created or changed, each once, to write (and to copy to the directory).
    pub invoices: Vec<Invoice>,
    /// Periods starting before this are now final (when the step finalized any).
    pub closed_before: Option<Timestamp>,
    pub deliveries: Vec<Delivery>,
    /// Final periods still waiting for a number: the catalog reserves them next run.
    pub unnumbered: Vec<Timestamp>,
    /// When the next draft is due (the shell adds pending webhook retries).
    pub next_draft: Timestamp,
}

impl Book {
    /// The first period that is not final: where the next step starts.
    pub fn first_open_period(&self) -> Period {
        let c = &self.customer;
        first_open(&c.invoice_schedule, c.created_at, self.closed_before)
    }

    /// The periods a step at `now` looks at, oldest first: every period past its final
    /// point, then the one whose draft is due, if any.
    pub fn invoicing_periods(&self, now: Timestamp) -> Vec<Period> {
        due_periods(&self.customer.invoice_schedule, self.first_open_period(), now)
    }

    /// One invoicing step. `input.periods` must be what storage holds for
    /// [`Book::invoicing_periods`] at the same `now`, and every metric must be back-filled.
    pub fn invoicing_step(&mut self, mut input: StepInput<'_>) -> Result<StepOutcome, ApiError> {
        let now = input.now;
        let schedule = self.customer.invoice_schedule.clone();
        let mut out = StepOutcome {
            invoices: Vec::new(),
            closed_before: None,
            deliveries: Vec::new(),
            unnumbered: Vec::new(),
            next_draft: now,
        };
        let number_for = |p: Timestamp| input.numbers.iter().find(|(s, _)| *s == p).map(|(_, n)| n.clone());
        let ids = std::mem::take(&mut input.new_ids);
        for facts in std::mem::take(&mut input.periods) {
            let p = facts.period;
            let existing_status = facts.existing.as_ref().map(|i| i.status);
            match stage(&schedule, p, now) {
                Stage::NotYet => break,
                Stage::Draft => {
                    if matches!(existing_status, None | Some(InvoiceStatus::Draft)) {
                        let mut inv = self.compute(&input, &facts, InvoiceStatus::Draft, &ids)?;
                        credit::apply(&mut inv, &mut input.grants.to_vec())?;
                        out.invoices.push(inv);
                    }
                    break;
                }
                Stage::Final => {
                    // A draft voided by hand stays void; anything else becomes final now.
                    let (mut inv, changed) = match facts.existing.clone() {
                        Some(e) if e.status != InvoiceStatus::Draft => (e, false),
                        _ => {
                            let status = if self.customer.auto_send {
                                InvoiceStatus::Sent
                            } else {
                                InvoiceStatus::PendingApproval
                            };
                            let mut inv = self.compute(&input, &facts, status, &ids)?;
                            credit::apply(&mut inv, input.grants)?;
                            inv.finalized_at = Some(now);
                            if self.customer.auto_send {
                                inv.sent_at = Some(now);
                            }
                            (inv, true)
                        }
                    };
                    let numbered = give_number(&mut inv, number_for(p.start), now, input.webhooks, &mut out);
                    if changed || numbered {
                        out.invoices.push(inv);
                    }
                    self.close_before(p.end);
                    out.closed_before = Some(p.end);
                }
            }
        }
        // Only a final period's invoice takes a number: a draft voided by hand before its
        // period is final waits for it like any other.
        for mut inv in std::mem::take(&mut input.unnumbered) {
            if out.invoices.iter().any(|i| i.id == inv.id) || !self.is_closed(inv.period_start) {
                continue;
            }
            let number = number_for(inv.period_start);
            if give_number(&mut inv, number, now, input.webhooks, &mut out) {
                out.invoices.push(inv);
            }
        }
        out.unnumbered = out
            .invoices
            .iter()
            .filter(|i| i.needs_number() && self.is_closed(i.period_start))
            .map(|i| i.period_start)
            .collect();
        out.next_draft = draft_from(&schedule, self.first_open_period());
        Ok(out)
    }

    /// The invoice of one period from the usage recorded so far (an existing draft keeps
    /// its id and creation time).
    fn compute(
        &self,
        input: &StepInput<'_>,
        facts: &PeriodFacts,
        status: InvoiceStatus,
        ids: &[(Timestamp, String)],
    ) -> Result<Invoice, ApiError> {
        let (id, created_at, number) = match &facts.existing {
            Some(e) => (e.id.clone(), e.created_at, e.number.clone()),
            None => {
                let id =
                    ids.iter().find(|(p, _)| *p == facts.period.start).map(|(_, id)| id.clone()).ok_or_else(|| {
                        ApiError::new(crate::ErrorCode::InternalError, "an invoicing step ran out of invoice ids")
                    })?;
                (id, input.now, None)
            }
        };
        let states = self.usage(input.metrics, facts.period);
        let mut inv =
            self.priced(input.metrics, input.items, facts.period, states, &facts.spans, facts.scan.as_ref(), status)?;
        inv.id = id;
        inv.created_at = created_at;
        inv.number = number;
        Ok(inv)
    }

    /// What the period's invoice would be now, from the usage recorded so far: the draft
    /// and final lines, and `GET …/invoices/upcoming`. Fixed fees in full, no proration.
    pub fn preview(
        &self,
        metrics: &[MetricDef],
        items: &[Item],
        p: Period,
        spans: &[NameSpan],
        status: InvoiceStatus,
    ) -> Result<Invoice, ApiError> {
        self.priced(metrics, items, p, self.usage(metrics, p), spans, None, status)
    }

    /// A period's invoice from each metric's state over it (`None`: no usage, as for a
    /// final period the book no longer holds). With a `scan` of the period's events, each
    /// usage line's first and last event are those its metric counted, and the invoice
    /// carries its digests; without, they are its event name's, from `spans`.
    /// Simulation prices other items through here, so it bills exactly as the run does.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn priced(
        &self,
        metrics: &[MetricDef],
        items: &[Item],
        p: Period,
        states: Option<Vec<crate::aggregate::AggState>>,
        spans: &[NameSpan],
        scan: Option<&PeriodScan>,
        status: InvoiceStatus,
    ) -> Result<Invoice, ApiError> {
        let mut inputs = Vec::with_capacity(items.len());
        for item in items {
            let metric = item.metric_code.as_ref().and_then(|c| metrics.iter().position(|m| &m.code == c));
            let (quantity, usage) = match (item.kind, metric, &states) {
                (ItemKind::Fixed, _, _) => (Decimal::ONE, None),
                (ItemKind::Usage, Some(i), Some(states)) => {
                    let s = &states[i];
                    let seen = match scan {
                        Some(scan) => scan.get(&metrics[i].code).and_then(|m| m.first.zip(m.last)),
                        None => spans.iter().find(|n| n.event_name == metrics[i].event_name).map(|n| (n.first, n.last)),
                    }
                    .filter(|_| s.event_count() > 0);
                    let usage = UsageSummary {
                        metric_code: metrics[i].code.clone(),
                        event_count: s.event_count(),
                        first_event_at: seen.map(|n| n.0),
                        last_event_at: seen.map(|n| n.1),
                        events_digest: None,
                    };
                    (s.quantity(), Some(usage))
                }
                (ItemKind::Usage, _, _) => (Decimal::ZERO, None),
            };
            inputs.push(LineInput { item, quantity, usage });
        }
        let mut lines = invoice_lines(self.customer.currency, inputs)
            .map_err(|e| ApiError::new(crate::ErrorCode::InternalError, format!("pricing: {e:?}")))?;
        let usage_digest = scan.map(|d| crate::digest::stamp_lines(&mut lines.lines, d));
        let mut inv = Invoice::from_lines(&self.customer, p, status, &lines);
        inv.usage_digest = usage_digest;
        Ok(inv)
    }
}

/// Gives a final invoice its number when it has none and the catalog sent one, and
/// queues its webhooks then. Whether it changed.
fn give_number(
    inv: &mut Invoice,
    number: Option<String>,
    now: Timestamp,
    webhooks: bool,
    out: &mut StepOutcome,
) -> bool {
    if !inv.needs_number() {
        return false;
    }
    let Some(n) = number else { return false };
    inv.number = Some(n);
    if webhooks {
        out.deliveries.push(webhook("invoice.finalized", inv, now));
        if inv.status == InvoiceStatus::Sent {
            out.deliveries.push(webhook("invoice.sent", inv, now));
        }
    }
    true
}

/// The webhook delivery of an invoice event (`invoice.finalized`, `invoice.sent`).
pub fn webhook(kind: &str, invoice: &Invoice, now: Timestamp) -> Delivery {
    let suffix = invoice.id.strip_prefix("inv_").unwrap_or(&invoice.id);
    let id = format!("evt_{}_{suffix}", kind.trim_start_matches("invoice.").replace('.', "_"));
    #[derive(Serialize)]
    struct Body<'a> {
        id: &'a str,
        #[serde(rename = "type")]
        kind: &'a str,
        created_at: Timestamp,
        data: &'a Invoice,
    }
    let body = serde_json::to_string(&Body { id: &id, kind, created_at: now, data: invoice }).unwrap_or_default();
    Delivery { id, body }
}
