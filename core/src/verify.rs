//! Checking an invoice from its events (API.md, "Checking an invoice"): the customer it
//! bills recomputes every line with the same aggregation and pricing the server ran, and
//! reads what differs.
//!
//! [`verify_invoice`] takes the invoice, its events (`GET /v1/invoices/{id}/events`), the
//! customer's items (`GET /v1/items?customer_id=`) and the metrics
//! (`GET /v1/billing/metrics`), all as the API returns them. For each event it
//! recomputes the content hash from the event's fields (so a changed event is named, and
//! the digests are taken over what the fields say, not what the event claims); for each
//! line it folds the events its metric counts ([`crate::aggregate::AggState`]), prices the
//! quantity with the item's price ([`crate::invoice::invoice_lines`]), and compares every
//! field of the line it would have produced, `usage` included, with the invoice's; then
//! the subtotal, total and `usage_digest`. No difference means the invoice is what the
//! events and prices make.

use crate::aggregate::AggState;
use crate::digest::{self, Scanner};
use crate::event::EventRecord;
use crate::invoice::{invoice_lines, Invoice, LineInput, UsageSummary};
use crate::invoice_event::InvoiceEvent;
use crate::item::{Item, ItemKind};
use crate::metric::MetricDef;
use crate::pricing::format_amount;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// One thing that is not as recomputed: on a line (`item_id`, `name`), an event
/// (`idempotency_key`), or the invoice itself (neither). `field` is a path in the line,
/// the event or the invoice (`amount`, `usage.events_digest`, `content_hash`, `total`);
/// `expected` is what the events and prices make, `found` what the invoice (or the event)
/// says; `null` where one side has nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    pub field: String,
    pub expected: Value,
    pub found: Value,
}

impl Difference {
    fn invoice(field: &str, expected: Value, found: Value) -> Difference {
        Difference { item_id: None, name: None, idempotency_key: None, field: field.to_owned(), expected, found }
    }
}

/// Every difference between the invoice and what its events, items and metrics make; an
/// empty list when it checks out. See the module docs.
pub fn verify_invoice(
    invoice: &Invoice,
    events: &[InvoiceEvent],
    items: &[Item],
    metrics: &[MetricDef],
) -> Vec<Difference> {
    let mut out = Vec::new();
    let period = invoice.period_start..invoice.period_end;
    // The events as their fields say, each once (the first copy of a key wins, as in the
    // customer's object), inside the invoice's period.
    let mut seen = HashSet::new();
    let mut records: Vec<EventRecord<'_>> = Vec::with_capacity(events.len());
    for ev in events {
        let key = || Some(ev.idempotency_key.clone());
        let record = ev.to_record(&invoice.customer_id);
        if record.hash != ev.content_hash {
            out.push(Difference {
                idempotency_key: key(),
                ..Difference::invoice("content_hash", text(record.hash), text(ev.content_hash))
            });
        }
        if !period.contains(&ev.timestamp) {
            out.push(Difference {
                idempotency_key: key(),
                ..Difference::invoice("timestamp", Value::Null, text(ev.timestamp))
            });
            continue;
        }
        if !seen.insert(ev.idempotency_key.as_str()) {
            out.push(Difference {
                idempotency_key: key(),
                ..Difference::invoice("idempotency_key", Value::Null, text(&ev.idempotency_key))
            });
            continue;
        }
        records.push(record);
    }

    let found_lines: Vec<Value> = match &invoice.lines {
        Value::Array(lines) => lines.clone(),
        other => {
            out.push(Difference::invoice("lines", Value::Null, other.clone()));
            return out;
        }
    };
    // The metrics the lines name, in line order, for one pass over the events.
    let line_items: Vec<Option<&Item>> = found_lines
        .iter()
        .map(|l| l.get("item_id").and_then(Value::as_str).and_then(|id| items.iter().find(|i| i.id == id)))
        .collect();
    let used: Vec<MetricDef> = line_items
        .iter()
        .filter_map(|i| i.and_then(|i| i.metric_code.as_ref()))
        .filter_map(|code| metrics.iter().find(|m| &m.code == code))
        .cloned()
        .collect();
    let mut scanner = Scanner::new(&used);
    let mut states: Vec<AggState> = used.iter().map(|m| AggState::empty(m.aggregation)).collect();
    for r in &records {
        scanner.add(r);
        let valid = r.to_valid(&invoice.customer_id);
        for (m, s) in used.iter().zip(states.iter_mut()) {
            if digest::counts(m, r) {
                s.apply(&valid, m.field.as_deref());
            }
        }
    }
    let scan = scanner.finish();

    let mut subtotal = crate::exact::Exact::ZERO;
    let mut line_digests = Vec::new();
    for (found, item) in found_lines.iter().zip(&line_items) {
        let id = found.get("item_id").and_then(Value::as_str).map(str::to_owned);
        let name = found.get("name").and_then(Value::as_str).map(str::to_owned);
        let on_line = |field: &str, expected: Value, found: Value| Difference {
            item_id: id.clone(),
            name: name.clone(),
            ..Difference::invoice(field, expected, found)
        };
        let Some(item) = item else {
            out.push(on_line("item_id", Value::Null, found.get("item_id").cloned().unwrap_or(Value::Null)));
            continue;
        };
        let metric = item.metric_code.as_ref().and_then(|c| used.iter().position(|m| &m.code == c));
        if item.kind == ItemKind::Usage && metric.is_none() {
            out.push(on_line("usage.metric_code", Value::Null, text(item.metric_code.as_deref().unwrap_or(""))));
        }
        let scanned = metric.and_then(|i| Some((i, scan.get(&used[i].code)?)));
        let (quantity, usage) = match scanned {
            Some((i, m)) if item.kind == ItemKind::Usage => {
                let s = &states[i];
                let usage = UsageSummary {
                    metric_code: used[i].code.clone(),
                    event_count: s.event_count(),
                    first_event_at: m.first.filter(|_| s.event_count() > 0),
                    last_event_at: m.last.filter(|_| s.event_count() > 0),
                    events_digest: Some(m.events_digest.clone()),
                };
                (s.quantity(), Some(usage))
            }
            _ => (Decimal::ZERO, None),
        };
        let mut lines = match invoice_lines(invoice.currency, [LineInput { item, quantity, usage }]) {
            Ok(l) => l,
            Err(e) => match e {},
        };
        // As the run does: a usage line whose metric counted nothing has the empty digest.
        digest::stamp_lines(&mut lines.lines, &scan);
        let Some(line) = lines.lines.first() else { continue };
        subtotal = subtotal.add(&line.priced.amount);
        line_digests.extend(line.usage.as_ref().and_then(|u| u.events_digest.clone()));
        let expected = serde_json::to_value(line).unwrap_or(Value::Null);
        compare("", &expected, found, invoice.usage_digest.is_some(), &mut |f, e, g| out.push(on_line(f, e, g)));
    }

    let amount = text(format_amount(subtotal, invoice.currency));
    for (field, found) in [("subtotal", &invoice.subtotal), ("total", &invoice.total)] {
        if amount != text(found) {
            out.push(Difference::invoice(field, amount.clone(), text(found)));
        }
    }
    if let Some(found) = &invoice.usage_digest {
        let expected = digest::usage_digest(line_digests.iter().map(String::as_str));
        if &expected != found {
            out.push(Difference::invoice("usage_digest", text(expected), text(found)));
        }
    }
    out
}

/// Reports every key of `expected` (an object, compared a level down for `usage`) whose
/// value differs in `found`, and every key `found` has beyond it. `digests`: whether the
/// invoice carries digests (one made before they existed has none to compare).
fn compare(prefix: &str, expected: &Value, found: &Value, digests: bool, report: &mut impl FnMut(&str, Value, Value)) {
    let (Value::Object(e), Value::Object(f)) = (expected, found) else {
        if expected != found {
            report(prefix.trim_end_matches('.'), expected.clone(), found.clone());
        }
        return;
    };
    let keys: std::collections::BTreeSet<&String> = e.keys().chain(f.keys()).collect();
    for k in keys {
        if k == "events_digest" && !digests {
            continue;
        }
        let (ev, fv) = (e.get(k).unwrap_or(&Value::Null), f.get(k).unwrap_or(&Value::Null));
        let path = format!("{prefix}{k}");
        if k == "usage" && ev.is_object() && fv.is_object() {
            compare(&format!("{path}."), ev, fv, digests, report);
        } else if ev != fv && !same_time(ev, fv) {
            report(&path, ev.clone(), fv.clone());
        }
    }
}

/// Two renderings of one instant (a client may have re-rendered a time).
fn same_time(a: &Value, b: &Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) => {
            matches!((Timestamp::parse_rfc3339(a), Timestamp::parse_rfc3339(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

fn text(v: impl ToString) -> Value {
    Value::String(v.to_string())
}
