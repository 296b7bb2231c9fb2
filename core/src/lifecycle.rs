//! The invoice lifecycle (API.md, "Invoices"), as pure decisions over a schedule, a
//! period and "now" (the cron run's scheduled time): when a draft exists, when it is
//! finalized, and which status changes are allowed.

use crate::error::{ApiError, ErrorCode};
use crate::period::{Period, Schedule};
use crate::time::{Timestamp, DAY_MS, HOUR_MS};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Refreshed with the usage so far by every run, until finalized.
    Draft,
    /// Finalized for a customer without `auto_send`: held for manual review.
    PendingApproval,
    /// Finalized and sent (automatically, or when approved).
    Sent,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::PendingApproval => "pending_approval",
            InvoiceStatus::Sent => "sent",
            InvoiceStatus::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<InvoiceStatus> {
        Some(match s {
            "draft" => InvoiceStatus::Draft,
            "pending_approval" => InvoiceStatus::PendingApproval,
            "sent" => InvoiceStatus::Sent,
            "void" => InvoiceStatus::Void,
            _ => return None,
        })
    }
}

/// Where a period stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Before `end - pre_generate_days`: no invoice yet.
    NotYet,
    /// A draft exists and follows the usage.
    Draft,
    /// From `end + grace_hours`: the invoice is final.
    Final,
}

/// When a period's draft appears.
pub fn draft_from(s: &Schedule, p: Period) -> Timestamp {
    p.end.saturating_add_ms(-(s.pre_generate_days as i64) * DAY_MS)
}

/// When a period's invoice is finalized: late events are accepted until then.
pub fn final_from(s: &Schedule, p: Period) -> Timestamp {
    p.end.saturating_add_ms(s.grace_hours as i64 * HOUR_MS)
}

pub fn stage(s: &Schedule, p: Period, now: Timestamp) -> Stage {
    if now >= final_from(s, p) {
        Stage::Final
    } else if now >= draft_from(s, p) {
        Stage::Draft
    } else {
        Stage::NotYet
    }
}

/// The first period of a customer that is not final: the one containing `open_from` (the
/// end of its last final period), or its creation time before any. The customer's book
/// and the catalog (which reserves invoice numbers) walk from here alike.
pub fn first_open(s: &Schedule, created_at: Timestamp, open_from: Option<Timestamp>) -> Period {
    s.period_containing(open_from.unwrap_or(created_at).max(created_at))
}

/// The periods an invoicing run at `now` handles, oldest first from `first`: every period
/// past its final point, then the one whose draft is due, if any.
pub fn due_periods(s: &Schedule, first: Period, now: Timestamp) -> Vec<Period> {
    let mut p = first;
    let mut out = Vec::new();
    loop {
        match stage(s, p, now) {
            Stage::NotYet => break,
            Stage::Draft => {
                out.push(p);
                break;
            }
            Stage::Final => {
                out.push(p);
                p = s.next(p);
            }
        }
    }
    out
}

/// `approve`: only an invoice held for review can be sent by hand.
pub fn approve(status: InvoiceStatus) -> Result<InvoiceStatus, ApiError> {
    match status {
        InvoiceStatus::PendingApproval => Ok(InvoiceStatus::Sent),
        other => Err(ApiError::new(
            ErrorCode::InvalidInvoiceState,
            format!("only a pending_approval invoice can be approved; this one is {}", other.as_str()),
        )
        .field("status")),
    }
}

/// `void`: from any status but void.
pub fn void(status: InvoiceStatus) -> Result<InvoiceStatus, ApiError> {
    match status {
        InvoiceStatus::Void => {
            Err(ApiError::new(ErrorCode::InvalidInvoiceState, "the invoice is already void").field("status"))
        }
        _ => Ok(InvoiceStatus::Void),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::Interval;
    use chrono::NaiveDate;

    fn schedule() -> Schedule {
        Schedule {
            interval: Interval::Month,
            anchor: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            pre_generate_days: 3,
            grace_hours: 24,
        }
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn stages_follow_the_schedule() {
        let s = schedule();
        let p = s.period_containing(t("2026-11-15T00:00:00Z"));
        assert_eq!(stage(&s, p, t("2026-11-27T23:59:59Z")), Stage::NotYet);
        assert_eq!(stage(&s, p, t("2026-11-28T00:00:00Z")), Stage::Draft);
        assert_eq!(stage(&s, p, t("2026-12-01T23:59:59Z")), Stage::Draft);
        assert_eq!(stage(&s, p, t("2026-12-02T00:00:00Z")), Stage::Final);
    }

    #[test]
    fn transitions() {
        assert_eq!(approve(InvoiceStatus::PendingApproval), Ok(InvoiceStatus::Sent));
        assert!(approve(InvoiceStatus::Void).is_err());
        assert!(approve(InvoiceStatus::Draft).is_err());
        assert_eq!(void(InvoiceStatus::Sent), Ok(InvoiceStatus::Void));
        assert!(void(InvoiceStatus::Void).is_err());
    }
}
