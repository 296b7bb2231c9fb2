//! The parsers' fast paths agree with the general code they shortcut: timestamps with
//! chrono, plain decimals with the decimal parser.

use chrono::DateTime;
use edgemeter_core::quantity::{parse_value, parse_value_slow};
use edgemeter_core::time::{Timestamp, TimestampError};
use proptest::prelude::*;

/// What `Timestamp::parse_rfc3339` did before its fast path: chrono, then the range.
fn chrono_parse(s: &str) -> Result<Timestamp, TimestampError> {
    let ms = DateTime::parse_from_rfc3339(s).map_err(|_| TimestampError::Invalid)?.timestamp_millis();
    if !(0..=253_402_300_799_999).contains(&ms) {
        return Err(TimestampError::Invalid);
    }
    Ok(Timestamp(ms))
}

fn assert_same_timestamp(s: &str) {
    assert_eq!(Timestamp::parse_rfc3339(s), chrono_parse(s), "{s:?}");
}

#[test]
fn timestamp_edge_cases_match_chrono() {
    for s in [
        "2024-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2000-02-29T12:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-12-31T23:59:59.999999999Z",
        "2026-12-31T23:59:60Z",
        "2026-12-31T23:59:60.500Z",
        "2026-06-30T12:30:60+02:00",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z",
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00+23:59",
        "2026-01-01T00:00:00-23:59",
        "2026-01-01T00:00:00+05:60",
        "2026-01-01T00:00:00-00:00",
        "2026-01-01T00:00:00+0530",
        "2026-01-01t00:00:00z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00.1234567891Z",
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00+00:01",
        "1969-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59.999-00:01",
        "0000-01-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-1-01T00:00:00Z",
        "+2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z ",
        "2026-01-01T00:00:00",
        "",
    ] {
        assert_same_timestamp(s);
    }
}

fn offset() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Z".to_string()),
        Just("z".to_string()),
        Just(String::new()),
        (prop_oneof![Just('+'), Just('-')], 0u32..=25, 0u32..=61).prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
        (prop_oneof![Just('+'), Just('-')], 0u32..=25, 0u32..=61).prop_map(|(s, h, m)| format!("{s}{h:02}{m:02}")),
    ]
}

fn fraction() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "\\.[0-9]{0,11}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8_000, ..ProptestConfig::default() })]

    #[test]
    fn timestamp_fast_path_matches_chrono(
        year in prop_oneof![1968i64..=2030, 0i64..=10_000],
        month in 0u32..=13,
        day in 0u32..=32,
        hour in 0u32..=25,
        minute in 0u32..=61,
        second in 0u32..=61,
        sep in prop_oneof![Just('T'), Just('t'), Just(' '), Just('x')],
        frac in fraction(),
        off in offset(),
    ) {
        let s = format!("{year:04}-{month:02}-{day:02}{sep}{hour:02}:{minute:02}:{second:02}{frac}{off}");
        assert_same_timestamp(&s);
    }

    #[test]
    fn valid_timestamps_round_trip_through_the_fast_path(ms in 0i64..=253_402_300_799_999, off_min in -1439i32..=1439) {
        let offset = chrono::FixedOffset::east_opt(off_min * 60).expect("offset in range");
        let dt = DateTime::from_timestamp_millis(ms).expect("ms in range").with_timezone(&offset);
        for format in [chrono::SecondsFormat::Secs, chrono::SecondsFormat::Millis, chrono::SecondsFormat::Nanos] {
            for z in [true, false] {
                assert_same_timestamp(&dt.to_rfc3339_opts(format, z));
            }
        }
    }

    #[test]
    fn near_timestamps_match_chrono(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}[.0-9]{0,4}[Zz+\\-:0-9]{0,7}") {
        assert_same_timestamp(&s);
    }

    #[test]
    fn plain_values_match_the_decimal_parser(s in "[0-9]{1,20}(\\.[0-9]{0,20})?") {
        assert_eq!(parse_value(&s), parse_value_slow(&s), "{:?}", s);
    }

    #[test]
    fn scaled_integers_match_the_decimal_parser(m in any::<u64>(), places in 0usize..=20) {
        let digits = m.to_string();
        let s = if places == 0 || places >= digits.len() {
            digits
        } else {
            format!("{}.{}", &digits[..digits.len() - places], &digits[digits.len() - places..])
        };
        assert_eq!(parse_value(&s), parse_value_slow(&s), "{:?}", s);
    }

    #[test]
    fn other_values_match_the_decimal_parser(s in "[0-9.\\-+eE ]{0,24}") {
        assert_eq!(parse_value(&s), parse_value_slow(&s), "{:?}", s);
    }
}

#[test]
fn value_edge_cases_match_the_decimal_parser() {
    for s in [
        "0",
        "00",
        "-0",
        "0.0",
        "007.50",
        "1.",
        ".5",
        "1..2",
        "1.2.3",
        "999999999999999",
        "999999999999999.999",
        "1000000000000000",
        "999999999999999999",
        "9999999999999999999",
        "0.000000001",
        "0.0000000010",
        "0.0000000001",
        "123456789.123456789",
        "",
    ] {
        assert_eq!(parse_value(s), parse_value_slow(s), "{s:?}");
    }
}
