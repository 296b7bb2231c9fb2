//! `Schedule::period_containing` (API.md, "Customers"): service periods are `[start, end)`
//! in UTC, laid out from the anchor date; a monthly anchor on the 31st clamps to shorter
//! months and returns to the 31st.

use chrono::{Datelike, NaiveDate};
use edgemeter_core::period::{Interval, Period, Schedule};
use edgemeter_core::time::{Timestamp, DAY_MS};
use proptest::prelude::*;

fn schedule(interval: Interval, anchor: &str) -> Schedule {
    Schedule {
        interval,
        anchor: NaiveDate::parse_from_str(anchor, "%Y-%m-%d").unwrap(),
        pre_generate_days: 3,
        grace_hours: 24,
    }
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// `[start, end)` as the dates it runs between (periods start at 00:00 UTC).
fn dates(p: Period) -> (String, String) {
    let day = |t: Timestamp| {
        let dt = t.to_datetime();
        assert_eq!(t.millis() % DAY_MS, 0, "{} is not midnight UTC", t);
        dt.date_naive().to_string()
    };
    (day(p.start), day(p.end))
}

/// (interval, anchor, instant, expected start date, expected end date).
type Case = (Interval, &'static str, &'static str, &'static str, &'static str);

fn assert_periods(cases: &[Case]) {
    for &(interval, anchor, at, start, end) in cases {
        let s = schedule(interval, anchor);
        let p = s.period_containing(ts(at));
        assert_eq!(dates(p), (start.to_owned(), end.to_owned()), "{interval:?} from {anchor}, at {at}");
        assert!(p.contains(ts(at)));
    }
}

#[test]
fn monthly_anchor_on_the_1st_gives_calendar_months() {
    use Interval::Month;
    assert_periods(&[
        (Month, "2026-11-01", "2026-11-25T10:00:00Z", "2026-11-01", "2026-12-01"),
        (Month, "2026-11-01", "2026-11-01T00:00:00Z", "2026-11-01", "2026-12-01"),
        (Month, "2026-11-01", "2026-11-30T23:59:59.999Z", "2026-11-01", "2026-12-01"),
        (Month, "2026-11-01", "2027-02-14T08:00:00Z", "2027-02-01", "2027-03-01"),
        (Month, "2026-11-01", "2026-11-30T23:30:00-02:00", "2026-12-01", "2027-01-01"),
    ]);
}

#[test]
fn monthly_anchor_on_the_31st_clamps_to_short_months_and_returns() {
    use Interval::Month;
    assert_periods(&[
        (Month, "2026-01-31", "2026-01-31T00:00:00Z", "2026-01-31", "2026-02-28"),
        (Month, "2026-01-31", "2026-02-15T12:00:00Z", "2026-01-31", "2026-02-28"),
        (Month, "2026-01-31", "2026-02-27T23:59:59.999Z", "2026-01-31", "2026-02-28"),
        (Month, "2026-01-31", "2026-02-28T00:00:00Z", "2026-02-28", "2026-03-31"),
        (Month, "2026-01-31", "2026-03-30T12:00:00Z", "2026-02-28", "2026-03-31"),
        (Month, "2026-01-31", "2026-03-31T00:00:00Z", "2026-03-31", "2026-04-30"),
        (Month, "2026-01-31", "2026-04-30T00:00:00Z", "2026-04-30", "2026-05-31"),
        (Month, "2026-01-31", "2026-05-30T23:00:00Z", "2026-04-30", "2026-05-31"),
        (Month, "2026-01-30", "2026-02-28T12:00:00Z", "2026-02-28", "2026-03-30"),
        (Month, "2026-01-29", "2026-02-28T12:00:00Z", "2026-02-28", "2026-03-29"),
        // An anchor in a short month still means the 31st wherever there is one.
        (Month, "2026-03-31", "2026-05-31T00:00:00Z", "2026-05-31", "2026-06-30"),
    ]);
}

#[test]
fn leap_years_give_february_its_29th() {
    use Interval::{Month, Year};
    assert_periods(&[
        (Month, "2028-01-31", "2028-02-28T12:00:00Z", "2028-01-31", "2028-02-29"),
        (Month, "2028-01-31", "2028-02-29T00:00:00Z", "2028-02-29", "2028-03-31"),
        (Month, "2028-02-29", "2028-03-15T00:00:00Z", "2028-02-29", "2028-03-29"),
        (Month, "2028-02-29", "2029-02-28T10:00:00Z", "2029-02-28", "2029-03-29"),
        (Month, "2028-01-29", "2028-02-29T00:00:00Z", "2028-02-29", "2028-03-29"),
        (Year, "2028-02-29", "2028-02-29T00:00:00Z", "2028-02-29", "2029-02-28"),
        (Year, "2028-02-29", "2029-03-01T00:00:00Z", "2029-02-28", "2030-02-28"),
        (Year, "2028-02-29", "2032-03-01T00:00:00Z", "2032-02-29", "2033-02-28"),
        // 2100 is not a leap year.
        (Month, "2096-01-31", "2100-02-28T00:00:00Z", "2100-02-28", "2100-03-31"),
    ]);
}

#[test]
fn periods_cross_the_year_end() {
    use Interval::Month;
    assert_periods(&[
        (Month, "2026-01-01", "2026-12-31T23:59:59.999Z", "2026-12-01", "2027-01-01"),
        (Month, "2026-01-01", "2027-01-01T00:00:00Z", "2027-01-01", "2027-02-01"),
        (Month, "2026-01-15", "2026-12-31T23:59:59Z", "2026-12-15", "2027-01-15"),
        (Month, "2026-01-15", "2027-01-01T00:00:00Z", "2026-12-15", "2027-01-15"),
        (Month, "2026-01-15", "2027-01-15T00:00:00Z", "2027-01-15", "2027-02-15"),
        (Month, "2026-12-31", "2027-01-10T00:00:00Z", "2026-12-31", "2027-01-31"),
    ]);
}

#[test]
fn quarterly_and_yearly_periods() {
    use Interval::{Quarter, Year};
    assert_periods(&[
        (Quarter, "2026-01-01", "2026-05-20T09:00:00Z", "2026-04-01", "2026-07-01"),
        (Quarter, "2026-01-01", "2026-12-31T23:59:59Z", "2026-10-01", "2027-01-01"),
        (Quarter, "2026-02-15", "2026-02-14T00:00:00Z", "2025-11-15", "2026-02-15"),
        (Quarter, "2026-11-30", "2027-03-01T00:00:00Z", "2027-02-28", "2027-05-30"),
        (Quarter, "2026-08-31", "2026-12-01T00:00:00Z", "2026-11-30", "2027-02-28"),
        (Year, "2026-03-15", "2027-01-01T00:00:00Z", "2026-03-15", "2027-03-15"),
        (Year, "2026-03-15", "2027-03-15T00:00:00Z", "2027-03-15", "2028-03-15"),
        (Year, "2026-01-01", "2026-12-31T23:59:59.999Z", "2026-01-01", "2027-01-01"),
    ]);
}

#[test]
fn weekly_periods_start_on_the_anchor_weekday() {
    use Interval::Week;
    // 2026-11-02 is a Monday.
    assert_periods(&[
        (Week, "2026-11-02", "2026-11-02T00:00:00Z", "2026-11-02", "2026-11-09"),
        (Week, "2026-11-02", "2026-11-25T10:00:00Z", "2026-11-23", "2026-11-30"),
        (Week, "2026-11-02", "2026-11-29T23:59:59.999Z", "2026-11-23", "2026-11-30"),
        (Week, "2026-11-02", "2026-11-30T00:00:00Z", "2026-11-30", "2026-12-07"),
        (Week, "2026-11-02", "2026-12-29T12:00:00Z", "2026-12-28", "2027-01-04"),
        (Week, "2026-11-05", "2026-11-25T10:00:00Z", "2026-11-19", "2026-11-26"),
    ]);
}

#[test]
fn an_instant_on_a_boundary_belongs_to_the_later_period() {
    for (interval, anchor, boundary) in [
        (Interval::Month, "2026-01-01", "2026-03-01T00:00:00Z"),
        (Interval::Month, "2026-01-31", "2026-02-28T00:00:00Z"),
        (Interval::Quarter, "2026-01-01", "2026-07-01T00:00:00Z"),
        (Interval::Year, "2026-06-01", "2027-06-01T00:00:00Z"),
        (Interval::Week, "2026-11-02", "2026-11-16T00:00:00Z"),
    ] {
        let s = schedule(interval, anchor);
        let b = ts(boundary);
        let at = s.period_containing(b);
        let before = s.period_containing(Timestamp(b.millis() - 1));
        assert_eq!(at.start, b, "{interval:?} {anchor}");
        assert_eq!(before.end, b, "{interval:?} {anchor}");
        assert!(!before.contains(b) && at.contains(b));
        assert_eq!(s.next(before), at);
    }
}

#[test]
fn instants_before_the_anchor_fall_in_earlier_periods() {
    use Interval::{Month, Quarter, Week, Year};
    assert_periods(&[
        (Month, "2026-11-01", "2026-09-15T00:00:00Z", "2026-09-01", "2026-10-01"),
        (Month, "2026-11-01", "2026-10-31T23:59:59.999Z", "2026-10-01", "2026-11-01"),
        (Month, "2026-03-31", "2026-02-10T00:00:00Z", "2026-01-31", "2026-02-28"),
        (Month, "2026-03-31", "2026-03-30T00:00:00Z", "2026-02-28", "2026-03-31"),
        (Quarter, "2026-11-30", "2026-06-01T00:00:00Z", "2026-05-30", "2026-08-30"),
        (Year, "2026-03-15", "2020-01-01T00:00:00Z", "2019-03-15", "2020-03-15"),
        (Week, "2026-11-02", "2026-10-30T00:00:00Z", "2026-10-26", "2026-11-02"),
        (Week, "2026-11-02", "2026-01-01T00:00:00Z", "2025-12-29", "2026-01-05"),
        (Month, "2026-11-01", "1970-01-01T00:00:00Z", "1970-01-01", "1970-02-01"),
    ]);
}

// ---------------------------------------------------------------------------------------
// Properties for any anchor, interval and instant.

fn days_in_month(y: i32, m: u32) -> u32 {
    let next = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1) } else { NaiveDate::from_ymd_opt(y, m + 1, 1) };
    (next.unwrap() - NaiveDate::from_ymd_opt(y, m, 1).unwrap()).num_days() as u32
}

fn interval() -> impl Strategy<Value = Interval> {
    prop::sample::select(vec![Interval::Week, Interval::Month, Interval::Quarter, Interval::Year])
}

fn anchor() -> impl Strategy<Value = NaiveDate> {
    (1970i32..=2100, 1u32..=12, 1u32..=31)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d.min(days_in_month(y, m))).unwrap())
}

/// From 1970 to 2200, in milliseconds.
fn instant() -> impl Strategy<Value = Timestamp> {
    (0i64..7_258_118_400_000).prop_map(Timestamp)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_period_containing_an_instant_contains_it_and_chains(
        interval in interval(),
        anchor in anchor(),
        t in instant(),
    ) {
        let s = Schedule { interval, anchor, pre_generate_days: 3, grace_hours: 24 };
        let p = s.period_containing(t);
        prop_assert!(p.start < p.end, "{:?}", p);
        prop_assert!(p.contains(t), "{:?} does not contain {}", p, t);
        prop_assert_eq!(p.start.millis().rem_euclid(DAY_MS), 0);
        prop_assert_eq!(p.end.millis().rem_euclid(DAY_MS), 0);

        let next = s.next(p);
        prop_assert_eq!(next.start, p.end);
        prop_assert!(next.end > next.start);
        // Either end of a period finds that same period.
        prop_assert_eq!(s.period_containing(p.start), p);
        prop_assert_eq!(s.period_containing(Timestamp(p.end.millis() - 1)), p);

        let days = (p.end.millis() - p.start.millis()) / DAY_MS;
        let start = p.start.to_datetime().date_naive();
        match interval {
            Interval::Week => {
                prop_assert_eq!(days, 7);
                prop_assert_eq!(start.weekday(), anchor.weekday());
            }
            Interval::Month | Interval::Quarter | Interval::Year => {
                let (lo, hi) = match interval {
                    Interval::Month => (28, 31),
                    Interval::Quarter => (89, 92),
                    _ => (365, 366),
                };
                prop_assert!((lo..=hi).contains(&days), "{:?} of {} days", interval, days);
                // Starts on the anchor's day, or the month's last day when it is shorter.
                prop_assert_eq!(start.day(), anchor.day().min(days_in_month(start.year(), start.month())));
                let step = match interval { Interval::Month => 1, Interval::Quarter => 3, _ => 12 };
                prop_assert_eq!((start.month0() as i32 - anchor.month0() as i32).rem_euclid(step), 0);
            }
        }
    }
}
