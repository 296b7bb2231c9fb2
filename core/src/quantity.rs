//! Exact decimal quantities: parsing from JSON numbers or numeric strings, and the wire
//! form without trailing zeros (`"85.7"`, `"3"`). No binary float is ever involved.

use rust_decimal::Decimal;
use std::str::FromStr;

/// The largest event value accepted (exclusive). With at most [`MAX_SCALE`] decimals this
/// keeps sums exact in a 96-bit decimal for far more events than a period holds.
pub const MAX_VALUE: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0); // 1e15
/// The most decimal places an event value may carry.
pub const MAX_SCALE: u32 = 9;

/// Why a quantity was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityError {
    NotANumber,
    Negative,
    TooLarge,
    TooPrecise,
}

impl QuantityError {
    pub fn message(self) -> &'static str {
        match self {
            QuantityError::NotANumber => "`value` must be a finite decimal number or numeric string",
            QuantityError::Negative => "`value` must not be negative",
            QuantityError::TooLarge => "`value` must be below 1e15",
            QuantityError::TooPrecise => "`value` may have at most 9 decimal places",
        }
    }
}

/// Parses a non-negative decimal from its JSON text: `50`, `85.7`, `1e3`, `-0`.
/// Exponents are accepted because JSON allows them; the result is exact.
pub fn parse_value(text: &str) -> Result<Decimal, QuantityError> {
    match parse_plain(text.as_bytes()) {
        Some(d) => check_value(d),
        None => parse_value_slow(text),
    }
}

/// The common shape: at most 18 digits with an optional `.` between digits (`50`,
/// `85.70`), read straight into the mantissa. `None` for anything else. Such a text is
/// exact, and the places it needs are those of its normalized value, which
/// [`check_value`] bounds.
fn parse_plain(bytes: &[u8]) -> Option<Decimal> {
    let (mut mantissa, mut digits, mut scale) = (0u64, 0u32, None);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 18 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
            }
            b'.' if scale.is_none() && i > 0 && i + 1 < bytes.len() => scale = Some((bytes.len() - i - 1) as u32),
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    Some(Decimal::from_parts(mantissa as u32, (mantissa >> 32) as u32, 0, false, scale.unwrap_or(0)))
}

/// [`parse_value`] without its fast path for plain decimals: what that path must agree
/// with.
#[doc(hidden)]
pub fn parse_value_slow(text: &str) -> Result<Decimal, QuantityError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 64 {
        return Err(QuantityError::NotANumber);
    }
    // Only JSON-number characters: refuses "NaN", "inf", "0x10", " 1", "+1", "1_000".
    let plain = bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.' || *b == b'-');
    let d = if plain {
        Decimal::from_str(text).map_err(|_| QuantityError::NotANumber)?
    } else if bytes.iter().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'e' | b'E' | b'+')) {
        Decimal::from_scientific(text).map_err(|_| QuantityError::NotANumber)?
    } else {
        return Err(QuantityError::NotANumber);
    };
    if bytes[0] == b'.' || text.ends_with('.') {
        return Err(QuantityError::NotANumber);
    }
    let d = check_value(d)?;
    // rust_decimal rounds digits beyond its 28-digit precision instead of failing, so
    // `0.000…0001` (30 places) would read as 0: judge the places the text itself needs.
    if needed_scale(text) > MAX_SCALE as i64 {
        return Err(QuantityError::TooPrecise);
    }
    Ok(d)
}

/// Decimal places the exact value of a number's text needs (`1.50` → 1, `15e-3` → 3,
/// `0.0` → 0), from its digits rather than from a parsed, possibly rounded, value.
fn needed_scale(text: &str) -> i64 {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        // An exponent too large for an i64 is refused by the decimal parser already.
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let frac_len = mantissa.find('.').map_or(0, |i| mantissa.len() - i - 1) as i64;
    let digits = mantissa.bytes().filter(u8::is_ascii_digit);
    let trailing_zeros = digits.clone().rev().take_while(|b| *b == b'0').count() as i64;
    if trailing_zeros == digits.count() as i64 {
        return 0; // all zeros
    }
    frac_len.saturating_sub(exp).saturating_sub(trailing_zeros).max(0)
}

/// The bounds every stored value keeps; see [`MAX_VALUE`] and [`MAX_SCALE`].
pub fn check_value(d: Decimal) -> Result<Decimal, QuantityError> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(QuantityError::Negative);
    }
    let d = d.normalize();
    if d >= MAX_VALUE {
        return Err(QuantityError::TooLarge);
    }
    if d.scale() > MAX_SCALE {
        return Err(QuantityError::TooPrecise);
    }
    // `-0` normalizes to a signed zero; store a plain zero.
    Ok(if d.is_zero() { Decimal::ZERO } else { d })
}

/// The wire form: no trailing zeros, no exponent.
pub fn format(d: Decimal) -> String {
    d.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(format(parse_value("85.70").unwrap()), "85.7");
        assert_eq!(format(parse_value("50").unwrap()), "50");
        assert_eq!(format(parse_value("1e3").unwrap()), "1000");
        assert_eq!(format(parse_value("2.5E-1").unwrap()), "0.25");
        assert_eq!(format(parse_value("-0").unwrap()), "0");
        assert_eq!(format(parse_value("0.000000001").unwrap()), "0.000000001");
        assert_eq!(format(parse_value("1.5000000000000000000000000000000").unwrap()), "1.5");
        assert_eq!(format(parse_value("1500e-9").unwrap()), "0.0000015");
    }

    #[test]
    fn refuses_what_is_not_a_plain_non_negative_decimal() {
        use QuantityError::*;
        for (s, e) in [
            ("-1", Negative),
            ("NaN", NotANumber),
            ("inf", NotANumber),
            ("", NotANumber),
            (" 1", NotANumber),
            ("1.", NotANumber),
            (".5", NotANumber),
            ("0x10", NotANumber),
            ("1000000000000000", TooLarge),
            ("0.0000000001", TooPrecise),
            // Beyond rust_decimal's 28 digits, which would round them away.
            ("0.000000000000000000000000000001", TooPrecise),
            ("1.00000000000000000000000000001", TooPrecise),
            ("1.00000000000000000000000000001e0", TooPrecise),
        ] {
            assert_eq!(parse_value(s), Err(e), "{s}");
        }
    }

    #[test]
    fn max_value_is_1e15() {
        assert_eq!(MAX_VALUE, Decimal::from(1_000_000_000_000_000u64));
    }
}
