//! Service periods (API.md, "Customers"): `[start, end)` in UTC, laid out from an anchor
//! date by a weekly, monthly, quarterly or yearly interval. A monthly anchor on the 31st
//! bills from the last day of shorter months and returns to the 31st when it can.

use crate::error::ApiError;
use crate::input::Fields;
use crate::time::{Timestamp, DAY_MS};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Week,
    Month,
    Quarter,
    Year,
}

impl Interval {
    fn months(self) -> Option<i64> {
        match self {
            Interval::Week => None,
            Interval::Month => Some(1),
            Interval::Quarter => Some(3),
            Interval::Year => Some(12),
        }
    }
}

/// When a customer is invoiced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub interval: Interval,
    /// A day on which a period starts (00:00 UTC).
    pub anchor: NaiveDate,
    /// A draft invoice exists from this many days before a period ends.
    pub pre_generate_days: u32,
    /// Late events are accepted this many hours after a period ends, before finalizing.
    pub grace_hours: u32,
}

/// A service period, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Period {
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

pub const MAX_PRE_GENERATE_DAYS: u64 = 31;
pub const MAX_GRACE_HOURS: u64 = 24 * 30;

impl Schedule {
    /// The default schedule: monthly from the 1st of the creation month, drafts 3 days
    /// ahead, 24 hours' grace.
    pub fn default_at(created: Timestamp) -> Schedule {
        let d = created.to_datetime().date_naive();
        Schedule {
            interval: Interval::Month,
            anchor: d.with_day(1).unwrap_or(d),
            pre_generate_days: 3,
            grace_hours: 24,
        }
    }

    /// Reads `invoice_schedule` from a request; missing parts take their defaults.
    pub fn from_value(v: Value, created: Timestamp) -> Result<Schedule, ApiError> {
        let mut f = Fields::from_value(v, "invoice_schedule")?;
        let mut s = Schedule::default_at(created);
        if let Some(i) = f.opt_str("interval")? {
            s.interval = match i.as_str() {
                "week" => Interval::Week,
                "month" => Interval::Month,
                "quarter" => Interval::Quarter,
                "year" => Interval::Year,
                _ => {
                    return Err(
                        f.invalid("interval", "`invoice_schedule.interval` must be week, month, quarter or year")
                    )
                }
            };
        }
        if let Some(a) = f.opt_str("anchor")? {
            s.anchor = NaiveDate::parse_from_str(&a, "%Y-%m-%d")
                .ok()
                .filter(|d| (1970..=9000).contains(&d.year()))
                .ok_or_else(|| f.invalid("anchor", "`invoice_schedule.anchor` must be a date such as 2026-11-01"))?;
        }
        if let Some(d) = f.opt_u64("pre_generate_days", 0, MAX_PRE_GENERATE_DAYS)? {
            s.pre_generate_days = d as u32;
        }
        if let Some(h) = f.opt_u64("grace_hours", 0, MAX_GRACE_HOURS)? {
            s.grace_hours = h as u32;
        }
        f.finish()?;
        Ok(s)
    }

    /// The period that contains `t`.
    pub fn period_containing(&self, t: Timestamp) -> Period {
        match self.interval.months() {
            None => {
                let a = midnight(self.anchor);
                let week = 7 * DAY_MS;
                let k = (t.millis() - a).div_euclid(week);
                Period { start: Timestamp(a + k * week), end: Timestamp(a + (k + 1) * week) }
            }
            Some(n) => {
                let td = t.to_datetime().date_naive();
                let diff = month_index(td) - month_index(self.anchor);
                let mut k = diff.div_euclid(n);
                // The clamped start of month k may fall after `t` (anchor 31st, `t` on the
                // 30th), or the next start before it; step until `t` is inside.
                while self.start_of(k, n) > t {
                    k -= 1;
                }
                while self.start_of(k + 1, n) <= t {
                    k += 1;
                }
                Period { start: self.start_of(k, n), end: self.start_of(k + 1, n) }
            }
        }
    }

    /// The period right after `p`.
    pub fn next(&self, p: Period) -> Period {
        self.period_containing(p.end)
    }

    fn start_of(&self, k: i64, months: i64) -> Timestamp {
        let idx = month_index(self.anchor) + k * months;
        let (y, m) = (idx.div_euclid(12) as i32, idx.rem_euclid(12) as u32 + 1);
        let day = self.anchor.day().min(days_in_month(y, m));
        // `day` is clamped to the month, and years stay well inside chrono's range for
        // any anchor we accept and any timestamp we parse.
        let date = NaiveDate::from_ymd_opt(y, m, day).unwrap_or(self.anchor);
        Timestamp(midnight(date))
    }
}

fn month_index(d: NaiveDate) -> i64 {
    d.year() as i64 * 12 + d.month0() as i64
}

fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map_or(0, |dt| dt.and_utc().timestamp_millis())
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    match (NaiveDate::from_ymd_opt(ny, nm, 1), NaiveDate::from_ymd_opt(y, m, 1)) {
        (Some(next), Some(first)) => (next - first).num_days() as u32,
        _ => 28,
    }
}
