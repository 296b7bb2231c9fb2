//! The answers of a customer's object, typed: the object renders them as the API's JSON
//! and the front reads them back as these types.

use crate::book::Fate;
use crate::currency::Currency;
use crate::invoice::Invoice;
use crate::item::ItemKind;
use crate::lifecycle::InvoiceStatus;
use crate::metric::Aggregation;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The answer to an ingest call: one fate per event, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fates {
    pub fates: Vec<Fate>,
}

/// Whether a void changed anything (API.md "Voiding an event").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidStatus {
    Voided,
    AlreadyVoided,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voided {
    pub idempotency_key: String,
    pub customer_id: String,
    pub status: VoidStatus,
}

/// A service period as the API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodOut {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// One metric's quantity over a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricUsage {
    pub code: String,
    pub event_name: String,
    pub aggregation: Aggregation,
    pub quantity: String,
    pub event_count: u64,
}

/// One item priced at the period's usage so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemUsage {
    pub item_id: String,
    pub name: String,
    pub kind: ItemKind,
    pub metric_code: Option<String>,
    pub quantity: String,
    pub amount: String,
}

/// API.md "Usage": `GET /v1/customers/{id}/usage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub customer_id: String,
    pub currency: Currency,
    pub period: PeriodOut,
    pub metrics: Vec<MetricUsage>,
    pub items: Vec<ItemUsage>,
}

/// One UTC day of a metric.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayUsage {
    pub date: String,
    pub quantity: String,
    pub event_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricDays {
    pub code: String,
    pub event_name: String,
    pub aggregation: Aggregation,
    pub days: Vec<DayUsage>,
}

/// API.md "Usage": usage by day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub customer_id: String,
    pub period: PeriodOut,
    pub metrics: Vec<MetricDays>,
}

/// The answer to an invoicing run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// When the customer next needs a run: its next draft point (in the past while a
    /// draft is open) or its next webhook retry, whichever is first.
    pub next_due: Timestamp,
    /// The start of its first period that is not final.
    pub open_from: Timestamp,
    /// Invoices the step created or changed, for the directory.
    pub invoices: Vec<Invoice>,
    /// Final periods still without a number.
    pub unnumbered: Vec<Timestamp>,
}

/// `GET …/invoices/upcoming`: what the current period's invoice would be now. It is no
/// invoice yet: no id, number or lifecycle times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpcomingInvoice {
    pub customer_id: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    /// Always `upcoming`.
    pub status: String,
    pub currency: Currency,
    pub lines: serde_json::Value,
    pub subtotal: String,
    pub total: String,
    /// What the credit grants would pay now ("Credits and the live balance").
    #[serde(default)]
    pub credits_applied: Vec<crate::invoice::CreditApplied>,
    #[serde(default)]
    pub amount_due: String,
}

impl UpcomingInvoice {
    pub fn of(inv: Invoice) -> UpcomingInvoice {
        debug_assert_eq!(inv.status, InvoiceStatus::Draft);
        UpcomingInvoice {
            customer_id: inv.customer_id,
            period_start: inv.period_start,
            period_end: inv.period_end,
            status: "upcoming".into(),
            currency: inv.currency,
            lines: inv.lines,
            subtotal: inv.subtotal,
            total: inv.total,
            credits_applied: inv.credits_applied,
            amount_due: inv.amount_due,
        }
    }
}

/// How many rejected events were logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logged {
    pub logged: usize,
}
