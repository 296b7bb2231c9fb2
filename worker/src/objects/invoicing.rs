//! Invoicing inside a customer's object (API.md, "Invoices"): the storage side of
//! `core::book`'s invoicing step, and webhook signatures.
//!
//! A step loads what the book asks for (the periods it looks at, their invoices and
//! event spans, the items, final invoices still without a number), lets the book decide,
//! and writes what it returns: each changed invoice once, the closing of final periods,
//! the webhook deliveries to queue. `invoices.period_start` is `UNIQUE`, so a period never
//! gets two invoices however often or late runs fire.

use crate::ids;
use crate::objects::ledger::{Ledger, LedgerResult};
use edgemeter_core::book::{Book, PeriodFacts, StepInput, StepOutcome};
use edgemeter_core::ingest::LATE_WINDOW_MS;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::time::{Timestamp, HOUR_MS, MINUTE_MS};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One invoicing step at `now` with the catalog's `numbers`. Synchronous: the caller runs
/// it in one transaction.
pub fn step(
    ledger: &Ledger,
    book: &mut Book,
    metrics: &[MetricDef],
    numbers: &[(Timestamp, String)],
    now: Timestamp,
    webhooks: bool,
) -> LedgerResult<StepOutcome> {
    ledger.ensure_metrics(book, metrics)?;
    let periods = book.invoicing_periods(now);
    let mut facts = Vec::with_capacity(periods.len());
    for p in &periods {
        facts.push(PeriodFacts {
            period: *p,
            existing: ledger.invoice_for_period(p.start)?,
            spans: ledger.period_spans(p.start)?,
        });
    }
    let new_ids = periods.iter().map(|_| ids::fresh("inv", now)).collect::<LedgerResult<Vec<_>>>()?;
    let items = ledger.items()?;
    let out = book
        .invoicing_step(StepInput {
            now,
            metrics,
            items: &items,
            periods: facts,
            unnumbered: ledger.unnumbered_invoices()?,
            numbers,
            new_ids,
            webhooks,
        })
        .map_err(|e| e.message.to_string())?;
    for inv in &out.invoices {
        ledger.put_invoice(inv)?;
    }
    if let Some(c) = out.closed_before {
        ledger.put_meta("closed_before", &c.millis().to_string())?;
    }
    for d in &out.deliveries {
        ledger.enqueue(&d.id, &d.body, now)?;
    }
    // Compaction: once a period is final and its late window has passed, its events
    // can neither be invoiced again nor retried into it (older timestamps are refused),
    // so their rows go. Aggregates and invoices stay: they are small and are the record.
    if let Some(closed) = book.closed_before() {
        ledger.compact(closed, now.saturating_add_ms(-LATE_WINDOW_MS))?;
    }
    Ok(out)
}

/// When the customer next needs a run: its next draft point (in the past while a draft
/// is open, so every run refreshes it) or its next webhook retry, whichever is first.
/// Call it after deliveries, which move the retries.
pub fn next_due(ledger: &Ledger, next_draft: Timestamp) -> LedgerResult<Timestamp> {
    Ok(match ledger.next_delivery()? {
        Some(t) => next_draft.min(t),
        None => next_draft,
    })
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Backoff after `attempts` failures: 1 minute doubling, at most 6 hours.
pub fn backoff(attempts: i64) -> i64 {
    (MINUTE_MS << attempts.clamp(0, 20)).min(6 * HOUR_MS)
}
