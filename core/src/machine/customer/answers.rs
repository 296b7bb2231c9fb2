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

/// The answer to an ingest call: one fate per event, in order. Written as one letter per
/// fate (`"aaad…"`, see [`fate_letters`]): a call carries up to 5,000 events, and their
/// fates are read back by the front; a list of names is still read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fates {
    #[serde(with = "fate_letters")]
    pub fates: Vec<Fate>,
}

/// Fates as one ASCII letter each.
pub mod fate_letters {
    use crate::book::Fate;
    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde::Serializer;

    /// A new fate fails to compile here until it has a letter.
    fn letter(f: Fate) -> u8 {
        match f {
            Fate::Accepted => b'a',
            Fate::Duplicate => b'd',
            Fate::Reused => b'r',
            Fate::Closed => b'c',
            Fate::Full => b'f',
            Fate::LimitExceeded => b'l',
        }
    }

    fn fate(l: u8) -> Option<Fate> {
        Some(match l {
            b'a' => Fate::Accepted,
            b'd' => Fate::Duplicate,
            b'r' => Fate::Reused,
            b'c' => Fate::Closed,
            b'f' => Fate::Full,
            b'l' => Fate::LimitExceeded,
            _ => return None,
        })
    }

    pub fn serialize<S: Serializer>(fates: &[Fate], s: S) -> Result<S::Ok, S::Error> {
        let text: String = fates.iter().map(|f| letter(*f) as char).collect();
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Fate>, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Vec<Fate>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("fates as letters, or a list of fates")
            }

            fn visit_str<E: Error>(self, s: &str) -> Result<Vec<Fate>, E> {
                s.bytes().map(|l| fate(l).ok_or_else(|| E::custom(format!("no fate `{}`", l as char)))).collect()
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Fate>, A::Error> {
                let mut out = Vec::new();
                while let Some(f) = seq.next_element::<Fate>()? {
                    out.push(f);
                }
                Ok(out)
            }
        }
        d.deserialize_any(Visit)
    }

    #[cfg(test)]
    mod tests {
        use super::super::Fates;
        use crate::book::Fate;

        #[test]
        fn every_fate_goes_as_a_letter_and_comes_back() {
            let all = [Fate::Accepted, Fate::Duplicate, Fate::Reused, Fate::Closed, Fate::Full, Fate::LimitExceeded];
            let fates = Fates { fates: all.to_vec() };
            let text = serde_json::to_string(&fates).unwrap();
            assert_eq!(text, r#"{"fates":"adrcfl"}"#);
            assert_eq!(serde_json::from_str::<Fates>(&text).unwrap(), fates);
            let names: Fates = serde_json::from_str(r#"{"fates":["accepted","limit_exceeded"]}"#).unwrap();
            assert_eq!(names.fates, [Fate::Accepted, Fate::LimitExceeded]);
            assert!(serde_json::from_str::<Fates>(r#"{"fates":"ax"}"#).is_err());
        }
    }
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
