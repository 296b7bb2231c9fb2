//! Invoicing inside a customer's object (API.md, "Invoices"): the lifecycle decisions come
//! from `core::lifecycle`, the lines from `core::invoice`; this module applies them to the
//! ledger and delivers webhooks.
//!
//! A run with "now" = the cron's scheduled time walks the customer's periods from the
//! first one not yet final: a period past `end + grace_hours` is finalized (and the next
//! one considered, so missed runs catch up), a period past `end - pre_generate_days` gets
//! or refreshes its draft. `invoices.period_start` is `UNIQUE`, so a period never gets two
//! invoices however often or late runs fire.

use crate::ids;
use crate::ledger::{Ledger, LedgerResult};
use edgemeter_core::customer::Customer;
use edgemeter_core::ingest::LATE_WINDOW_MS;
use edgemeter_core::invoice::{invoice_lines, LineInput, UsageSummary};
use edgemeter_core::item::ItemKind;
use edgemeter_core::lifecycle::{draft_from, stage, InvoiceStatus, Stage};
use edgemeter_core::metric::MetricDef;
use edgemeter_core::period::Period;
use edgemeter_core::time::{Timestamp, HOUR_MS, MINUTE_MS};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

/// What a run (or numbering) tells the catalog: when this customer is next due, and the
/// invoices it created or changed (for a run, plus final ones still waiting for a number).
#[derive(Serialize, Deserialize)]
pub struct RunResult {
    pub next_due: Timestamp,
    pub invoices: Vec<Value>,
}

/// The invoice for period `p`, computed from the usage stored so far.
pub fn compute(
    ledger: &Ledger,
    customer: &Customer,
    metrics: &[MetricDef],
    p: Period,
    status: &str,
) -> LedgerResult<Value> {
    let states = ledger.usage(customer, metrics, p)?;
    let items = ledger.items()?;
    let summaries = ledger.period_summaries(p.start.millis())?;
    let mut inputs = Vec::with_capacity(items.len());
    for item in &items {
        let metric = item.metric_code.as_ref().and_then(|c| metrics.iter().position(|m| &m.code == c));
        let (quantity, usage) = match (item.kind, metric) {
            (ItemKind::Fixed, _) => (Decimal::ONE, None),
            (ItemKind::Usage, None) => (Decimal::ZERO, None),
            (ItemKind::Usage, Some(i)) => {
                let s = &states[i];
                let seen =
                    summaries.iter().find(|n| n.event_name == metrics[i].event_name).filter(|_| s.event_count() > 0);
                let usage = UsageSummary {
                    metric_code: metrics[i].code.clone(),
                    event_count: s.event_count(),
                    first_event_at: seen.map(|n| Timestamp(n.first_ts)),
                    last_event_at: seen.map(|n| Timestamp(n.last_ts)),
                };
                (s.quantity(), Some(usage))
            }
        };
        inputs.push(LineInput { item, quantity, usage });
    }
    let lines = invoice_lines(customer.currency, inputs).map_err(|e| format!("pricing: {e:?}"))?;
    let mut body = json!({
        "id": null,
        "number": null,
        "customer_id": customer.id,
        "period_start": p.start,
        "period_end": p.end,
        "status": status,
        "created_at": null,
        "finalized_at": null,
        "sent_at": null,
    });
    if let (Some(b), Value::Object(l)) =
        (body.as_object_mut(), serde_json::to_value(&lines).map_err(|e| e.to_string())?)
    {
        b.extend(l);
    }
    Ok(body)
}

/// The start of the customer's first period that is not final yet.
fn first_open_period(ledger: &Ledger, customer: &Customer) -> LedgerResult<Timestamp> {
    Ok(match ledger.meta("billing_cursor")?.and_then(|v| v.parse().ok()) {
        Some(c) => Timestamp(c),
        None => customer.invoice_schedule.period_containing(customer.created_at).start,
    })
}

/// One invoicing run at `now`. Synchronous: the caller runs it in one transaction.
pub fn run(ledger: &Ledger, customer: &Customer, metrics: &[MetricDef], now: Timestamp) -> LedgerResult<RunResult> {
    let s = &customer.invoice_schedule;
    let mut cursor = first_open_period(ledger, customer)?;
    let mut changed = Vec::new();
    loop {
        let p = s.period_containing(cursor);
        let existing = ledger.invoice_for_period(p.start.millis())?;
        let existing_status = existing.as_ref().and_then(|i| i["status"].as_str()).and_then(InvoiceStatus::parse);
        match stage(s, p, now) {
            Stage::NotYet => break,
            Stage::Draft => {
                if existing_status.is_none() || existing_status == Some(InvoiceStatus::Draft) {
                    let inv = refreshed(ledger, customer, metrics, p, existing, "draft", now)?;
                    ledger.put_invoice(&inv, p.start.millis())?;
                    changed.push(inv);
                }
                break;
            }
            Stage::Final => {
                // A draft voided by hand stays void; anything else becomes final now.
                if existing_status.is_none() || existing_status == Some(InvoiceStatus::Draft) {
                    let status = if customer.auto_send { InvoiceStatus::Sent } else { InvoiceStatus::PendingApproval };
                    let mut inv = refreshed(ledger, customer, metrics, p, existing, status.as_str(), now)?;
                    inv["finalized_at"] = json!(now);
                    if customer.auto_send {
                        inv["sent_at"] = json!(now);
                    }
                    ledger.put_invoice(&inv, p.start.millis())?;
                    changed.push(inv);
                }
                cursor = p.end;
                ledger.put_meta("billing_cursor", &cursor.millis().to_string())?;
                ledger.put_meta("closed_before", &cursor.millis().to_string())?;
            }
        }
    }
    // Final invoices from earlier runs whose number never arrived are offered again.
    for inv in ledger.invoices(None)? {
        let unnumbered = inv["number"].is_null() && inv["status"] != "draft";
        if unnumbered && !changed.iter().any(|c| c["id"] == inv["id"]) {
            changed.push(inv);
        }
    }
    // Compaction: once a period is final and its late window has passed, its events
    // can neither be invoiced again nor retried into it (older timestamps are refused),
    // so their rows go. Aggregates and invoices stay: they are small and are the record.
    if let Some(closed) = ledger.closed_before()? {
        ledger.compact(closed, now.saturating_add_ms(-LATE_WINDOW_MS))?;
    }
    Ok(RunResult { next_due: next_due(ledger, customer)?, invoices: changed })
}

/// When the customer next needs a run: its next draft point (in the past while a draft
/// is open, so every run refreshes it) or its next webhook retry, whichever is first.
/// Call it after deliveries, which move the retries.
pub fn next_due(ledger: &Ledger, customer: &Customer) -> LedgerResult<Timestamp> {
    let s = &customer.invoice_schedule;
    let cursor = first_open_period(ledger, customer)?;
    let due = draft_from(s, s.period_containing(cursor));
    Ok(match ledger.next_delivery()? {
        Some(t) => due.min(t),
        None => due,
    })
}

fn refreshed(
    ledger: &Ledger,
    customer: &Customer,
    metrics: &[MetricDef],
    p: Period,
    existing: Option<Value>,
    status: &str,
    now: Timestamp,
) -> LedgerResult<Value> {
    let mut inv = compute(ledger, customer, metrics, p, status)?;
    match existing {
        Some(e) => {
            inv["id"] = e["id"].clone();
            inv["number"] = e["number"].clone();
            inv["created_at"] = e["created_at"].clone();
        }
        None => {
            inv["id"] = json!(ids::fresh("inv", now)?);
            inv["created_at"] = json!(now);
        }
    }
    Ok(inv)
}

/// Queues a webhook for an invoice; the event id is derived from the invoice and the type,
/// so queueing twice is harmless and a receiver can dedupe retries on it.
pub fn enqueue_webhook(ledger: &Ledger, kind: &str, invoice: &Value, now: Timestamp) -> LedgerResult<()> {
    let invoice_id = invoice["id"].as_str().unwrap_or_default();
    let suffix = invoice_id.strip_prefix("inv_").unwrap_or(invoice_id);
    let id = format!("evt_{}_{suffix}", kind.trim_start_matches("invoice.").replace('.', "_"));
    let body = json!({"id": id, "type": kind, "created_at": now, "data": invoice});
    ledger.enqueue(&id, &body.to_string(), now)
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
