//! Invoice lines (API.md, "Invoices"): what a customer owes for one service period, from
//! its items and the usage recorded for them. Pure arithmetic: the worker reads the items
//! and usage, stores the invoice and drives its lifecycle.
//!
//! Each line is priced and rounded once ([`Price::price`]); the subtotal and total are the
//! exact sums of the rounded lines, never rounded again, so the lines a customer reads
//! always add up to the total.

use crate::currency::Currency;
use crate::customer::Customer;
use crate::exact::Exact;
use crate::item::{Item, ItemKind};
use crate::lifecycle::InvoiceStatus;
use crate::period::Period;
use crate::pricing::{format_amount, PricedLine, PricingError};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};

/// What was recorded for a usage line's metric in the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSummary {
    pub metric_code: String,
    pub event_count: u64,
    pub first_event_at: Option<Timestamp>,
    pub last_event_at: Option<Timestamp>,
    /// SHA-256 over the content hashes of the events counted (`crate::digest`); set by
    /// the invoicing run, absent from previews and from invoices made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_digest: Option<String>,
}

/// One item to bill, with its metric's quantity and usage for the period.
#[derive(Clone, Debug)]
pub struct LineInput<'a> {
    pub item: &'a Item,
    /// The metric's quantity; ignored for a fixed item, which bills quantity 1.
    pub quantity: Decimal,
    /// `None` for a usage item means no event was recorded.
    pub usage: Option<UsageSummary>,
}

/// One invoice line: an item, its priced quantity, and the usage behind it.
///
/// Serialized with the [`PricedLine`] fields inline: `{"item_id", "name", "kind",
/// "model", "quantity", "unit_amount", "tiers", …, "amount", "usage"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvoiceLine {
    pub item_id: String,
    pub name: String,
    pub kind: ItemKind,
    #[serde(flatten)]
    pub priced: PricedLine,
    /// `None` for a fixed item.
    pub usage: Option<UsageSummary>,
}

/// The lines of an invoice and their sums, in the invoice's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceLines {
    pub currency: Currency,
    /// In the order the items were given.
    pub lines: Vec<InvoiceLine>,
    /// The exact sum of the lines' rounded amounts.
    pub subtotal: Exact,
    /// What is due: the subtotal (there are no discounts, credits or taxes yet).
    pub total: Exact,
}

/// Prices every item for the period in the customer's `currency`. A fixed item bills its
/// amount once per period (quantity 1, no proration); an item's minimum applies to its
/// line. Never fails: every amount is computed exactly however large ([`PricingError`]
/// has no values).
pub fn invoice_lines<'a>(
    currency: Currency,
    inputs: impl IntoIterator<Item = LineInput<'a>>,
) -> Result<InvoiceLines, PricingError> {
    let mut lines = Vec::new();
    let mut subtotal = Exact::ZERO;
    for input in inputs {
        let item = input.item;
        let (quantity, usage) = match item.kind {
            ItemKind::Fixed => (Decimal::ONE, None),
            ItemKind::Usage => {
                let usage = input.usage.unwrap_or_else(|| UsageSummary {
                    metric_code: item.metric_code.clone().unwrap_or_default(),
                    event_count: 0,
                    first_event_at: None,
                    last_event_at: None,
                    events_digest: None,
                });
                (input.quantity, Some(usage))
            }
        };
        let priced = item.price.price(quantity, currency, item.minimum);
        subtotal = subtotal.add(&priced.amount);
        lines.push(InvoiceLine { item_id: item.id.clone(), name: item.name.clone(), kind: item.kind, priced, usage });
    }
    Ok(InvoiceLines { currency, lines, total: subtotal.clone(), subtotal })
}

/// An invoice as stored and as the API shows it. The lifecycle fields are typed; the
/// lines are kept as rendered when computed ([`InvoiceLines`]), since a final invoice's
/// lines never change again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    /// `INV-000001`: given by the account's sequence once the invoice is final.
    pub number: Option<String>,
    pub customer_id: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub status: InvoiceStatus,
    pub currency: Currency,
    /// The priced lines, each with its usage (see [`InvoiceLine`]).
    pub lines: serde_json::Value,
    pub subtotal: String,
    pub total: String,
    pub created_at: Timestamp,
    pub finalized_at: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    /// When it was voided (the last of its state changes a person makes).
    #[serde(default)]
    pub voided_at: Option<Timestamp>,
    /// SHA-256 over the usage lines' `events_digest`s (`crate::digest`); absent from
    /// invoices made before digests existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_digest: Option<String>,
    /// What credit grants pay (API.md "Credits and the live balance"): a final invoice's
    /// draws, made once at finalization; a draft's, what it would draw now.
    #[serde(default)]
    pub credits_applied: Vec<CreditApplied>,
    /// `total` minus the credits applied. Invoices stored before credits existed read it
    /// back empty: [`Invoice::with_defaults`] makes it the total.
    #[serde(default)]
    pub amount_due: String,
}

/// One grant's part of an invoice's payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditApplied {
    pub grant_id: String,
    pub amount: String,
}

impl Invoice {
    /// A period's invoice from its priced lines; the caller sets `id` and `created_at`.
    pub fn from_lines(customer: &Customer, p: Period, status: InvoiceStatus, lines: &InvoiceLines) -> Invoice {
        Invoice {
            id: String::new(),
            number: None,
            customer_id: customer.id.clone(),
            period_start: p.start,
            period_end: p.end,
            status,
            currency: lines.currency,
            // Lines of strings, numbers and options always render.
            lines: serde_json::to_value(&lines.lines).unwrap_or_default(),
            subtotal: format_amount(lines.subtotal.clone(), lines.currency),
            total: format_amount(lines.total.clone(), lines.currency),
            created_at: p.start,
            finalized_at: None,
            sent_at: None,
            voided_at: None,
            credits_applied: Vec::new(),
            amount_due: format_amount(lines.total.clone(), lines.currency),
            usage_digest: None,
        }
    }

    /// An invoice as read from storage: one stored before credits existed is due its
    /// total.
    pub fn with_defaults(mut self) -> Invoice {
        if self.amount_due.is_empty() {
            self.amount_due = self.total.clone();
        }
        self
    }

    /// Whether it is past draft and still waits for its number.
    pub fn needs_number(&self) -> bool {
        self.number.is_none() && self.status != InvoiceStatus::Draft
    }
}

/// An invoice's number from its sequence number (counted from 1): `INV-000001`, and with
/// more digits past 999,999 (`INV-1000000`).
pub fn invoice_number(seq: u64) -> String {
    format!("INV-{seq:06}")
}

impl Serialize for InvoiceLines {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        InvoiceLinesWire {
            currency: self.currency,
            lines: &self.lines,
            subtotal: format_amount(self.subtotal.clone(), self.currency),
            total: format_amount(self.total.clone(), self.currency),
        }
        .serialize(s)
    }
}

/// [`InvoiceLines`] as the API shows it, inside an invoice.
#[derive(Serialize)]
struct InvoiceLinesWire<'a> {
    currency: Currency,
    lines: &'a [InvoiceLine],
    subtotal: String,
    total: String,
}
