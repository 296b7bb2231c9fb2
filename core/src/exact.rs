//! Exact non-negative decimals of any size: what prices are computed in.
//!
//! `rust_decimal` holds 28 significant digits, and a quantity (up to 9 decimals, and a
//! period's sum can grow without bound) times a unit price (up to 12 decimals) needs more:
//! `123456789012.123456789 × 1.23456789` has 30. Rather than refuse to bill a customer
//! whose prices and usage were each accepted, pricing multiplies and adds in [`Exact`],
//! which carries as many digits as a result needs, so every accepted price bills every
//! quantity. Only multiplication, addition, subtraction of a smaller value, whole-number
//! division and half-even rounding are needed, so that is all there is.

use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::fmt;

/// One limb holds nine decimal digits, so scaling by ten and printing are limb-local.
const BASE: u64 = 1_000_000_000;
const LIMB_DIGITS: u32 = 9;

/// A non-negative decimal `mantissa / 10^scale`, exact however many digits it has.
/// Equality and order are by value: `5.00 == 5`.
#[derive(Clone, Default)]
pub struct Exact {
    /// The mantissa in base 10⁹, least significant limb first, without high zero limbs
    /// (zero is no limbs).
    limbs: Vec<u32>,
    scale: u32,
}

impl Exact {
    pub const ZERO: Exact = Exact { limbs: Vec::new(), scale: 0 };

    /// The whole number `n`.
    pub fn from_u64(n: u64) -> Exact {
        Exact::from_parts(n.into(), 0)
    }

    fn from_parts(mut mantissa: u128, scale: u32) -> Exact {
        let mut limbs = Vec::new();
        while mantissa > 0 {
            limbs.push((mantissa % u128::from(BASE)) as u32);
            mantissa /= u128::from(BASE);
        }
        Exact { limbs, scale }
    }

    pub fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    /// Digits after the decimal point, as held (`5.00` has 2).
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// `self × other`, exactly.
    pub fn mul(&self, other: &Exact) -> Exact {
        if self.is_zero() || other.is_zero() {
            return Exact::ZERO;
        }
        let mut out = vec![0u64; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.limbs.iter().enumerate() {
                let t = out[i + j] + u64::from(a) * u64::from(b) + carry;
                out[i + j] = t % BASE;
                carry = t / BASE;
            }
            let mut k = i + other.limbs.len();
            while carry > 0 {
                let t = out[k] + carry;
                out[k] = t % BASE;
                carry = t / BASE;
                k += 1;
            }
        }
        Exact::trimmed(out.into_iter().map(|l| l as u32).collect(), self.scale + other.scale)
    }

    /// `self + other`, exactly, at the larger of the two scales.
    pub fn add(&self, other: &Exact) -> Exact {
        let scale = self.scale.max(other.scale);
        let (a, b) = (self.limbs_at(scale), other.limbs_at(scale));
        let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
        let mut carry = 0u64;
        for i in 0..a.len().max(b.len()) {
            let t = u64::from(*a.get(i).unwrap_or(&0)) + u64::from(*b.get(i).unwrap_or(&0)) + carry;
            out.push((t % BASE) as u32);
            carry = t / BASE;
        }
        if carry > 0 {
            out.push(carry as u32);
        }
        Exact::trimmed(out, scale)
    }

    /// `self − other`, exactly, or `None` when `other` is the larger (there are no
    /// negative values).
    pub fn checked_sub(&self, other: &Exact) -> Option<Exact> {
        if self < other {
            return None;
        }
        let scale = self.scale.max(other.scale);
        let (a, b) = (self.limbs_at(scale), other.limbs_at(scale));
        let mut out = Vec::with_capacity(a.len());
        let mut borrow = 0i64;
        for (i, &x) in a.iter().enumerate() {
            let mut t = i64::from(x) - i64::from(*b.get(i).unwrap_or(&0)) - borrow;
            borrow = i64::from(t < 0);
            if t < 0 {
                t += BASE as i64;
            }
            out.push(t as u32);
        }
        Some(Exact::trimmed(out, scale))
    }

    /// The smallest whole number of `size`s that holds `self`: `ceil(self / size)`. A
    /// size of 0 counts as 1.
    pub fn div_ceil(&self, size: u64) -> Exact {
        let mut whole = self.clone();
        let mut rest = false;
        while whole.scale > 0 {
            let step = whole.scale.min(LIMB_DIGITS - 1);
            rest |= whole.div_small(10u64.pow(step)) != 0;
            whole.scale -= step;
        }
        if rest {
            whole = whole.add(&Exact::from_u64(1));
        }
        if whole.div_small(size.max(1)) != 0 {
            whole = whole.add(&Exact::from_u64(1));
        }
        whole
    }

    /// Rounded half-even to `dp` decimals (a value with fewer keeps its own).
    pub fn round_dp(&self, dp: u32) -> Exact {
        if self.scale <= dp {
            return self.clone();
        }
        let mut q = self.clone();
        // Everything below the last kept digit but the first: only whether it is zero
        // matters, to tell a tie from just above one.
        let mut below_half = self.scale - dp - 1;
        let mut sticky = false;
        while below_half > 0 {
            let step = below_half.min(LIMB_DIGITS - 1);
            sticky |= q.div_small(10u64.pow(step)) != 0;
            below_half -= step;
        }
        let digit = q.div_small(10);
        q.scale = dp;
        let odd = q.limbs.first().is_some_and(|l| l % 2 == 1);
        if digit > 5 || (digit == 5 && (sticky || odd)) {
            q = q.add(&Exact { limbs: vec![1], scale: dp });
        }
        q
    }

    /// The same value without trailing zero decimals (`5.00` → `5`).
    pub fn normalize(&self) -> Exact {
        let mut v = self.clone();
        while v.scale > 0 && v.limbs.first().is_some_and(|l| l % 10 == 0) {
            v.div_small(10);
            v.scale -= 1;
        }
        if v.is_zero() {
            v.scale = 0;
        }
        v
    }

    /// The same value with at least `scale` decimals (`5` → `5.00`).
    pub fn with_min_scale(&self, scale: u32) -> Exact {
        if self.scale >= scale {
            return self.clone();
        }
        Exact { limbs: self.limbs_at(scale), scale }
    }

    /// The value as a `Decimal`, when it fits one exactly.
    pub fn to_decimal(&self) -> Option<Decimal> {
        if self.limbs.len() > 4 || self.scale > 28 {
            return None;
        }
        let mut mantissa = 0u128;
        for &l in self.limbs.iter().rev() {
            mantissa = mantissa * u128::from(BASE) + u128::from(l);
        }
        let m = i128::try_from(mantissa).ok().filter(|m| *m < 1i128 << 96)?;
        Some(Decimal::from_i128_with_scale(m, self.scale))
    }

    /// The mantissa's limbs as if the value had `scale` decimals (`scale >= self.scale`).
    fn limbs_at(&self, scale: u32) -> Vec<u32> {
        let mut v = self.clone();
        let mut up = scale.saturating_sub(self.scale);
        while up > 0 {
            let step = up.min(LIMB_DIGITS - 1);
            v.mul_small(10u32.pow(step));
            up -= step;
        }
        v.limbs
    }

    /// Multiplies the mantissa by `m` (below 10⁹).
    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in &mut self.limbs {
            let t = u64::from(*l) * u64::from(m) + carry;
            *l = (t % BASE) as u32;
            carry = t / BASE;
        }
        while carry > 0 {
            self.limbs.push((carry % BASE) as u32);
            carry /= BASE;
        }
        self.trim();
    }

    /// Divides the mantissa by `d` (not 0), keeping the scale; the remainder.
    fn div_small(&mut self, d: u64) -> u64 {
        let (d, mut rem) = (u128::from(d), 0u128);
        for l in self.limbs.iter_mut().rev() {
            let t = rem * u128::from(BASE) + u128::from(*l);
            // Below BASE: `rem < d`, so `t < d × BASE`.
            *l = (t / d) as u32;
            rem = t % d;
        }
        self.trim();
        rem as u64
    }

    fn trimmed(limbs: Vec<u32>, scale: u32) -> Exact {
        let mut v = Exact { limbs, scale };
        v.trim();
        v
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }
}

impl From<Decimal> for Exact {
    /// The decimal's magnitude: every value priced is non-negative (pricing counts a
    /// negative quantity as 0 before it gets here).
    fn from(d: Decimal) -> Exact {
        Exact::from_parts(d.mantissa().unsigned_abs(), d.scale())
    }
}

impl From<u64> for Exact {
    fn from(n: u64) -> Exact {
        Exact::from_u64(n)
    }
}

impl PartialEq for Exact {
    fn eq(&self, other: &Exact) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Exact {}

impl PartialEq<Decimal> for Exact {
    fn eq(&self, other: &Decimal) -> bool {
        let theirs = Exact::from(*other);
        !other.is_sign_negative() && *self == theirs
    }
}

impl Ord for Exact {
    fn cmp(&self, other: &Exact) -> Ordering {
        let scale = self.scale.max(other.scale);
        let (a, b) = (self.limbs_at(scale), other.limbs_at(scale));
        a.len().cmp(&b.len()).then_with(|| a.iter().rev().cmp(b.iter().rev()))
    }
}

impl PartialOrd for Exact {
    fn partial_cmp(&self, other: &Exact) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Exact {
    /// As written (`Exact(4.285)`), rather than as limbs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Exact({self})")
    }
}

impl fmt::Display for Exact {
    /// Plain decimal notation with exactly `scale` decimals: `0.0025`, `1200`, `5.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = String::new();
        for (i, l) in self.limbs.iter().rev().enumerate() {
            if i == 0 {
                digits.push_str(&l.to_string());
            } else {
                digits.push_str(&format!("{l:09}"));
            }
        }
        let scale = self.scale as usize;
        if digits.len() <= scale {
            digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
        }
        let (int, frac) = digits.split_at(digits.len() - scale);
        if frac.is_empty() {
            f.write_str(int)
        } else {
            write!(f, "{int}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn e(s: &str) -> Exact {
        Exact::from(Decimal::from_str(s).unwrap_or_else(|err| panic!("{s}: {err}")))
    }

    #[test]
    fn rounds_half_even_across_limbs() {
        for (v, dp, expected) in [
            ("4.285", 2, "4.28"),
            ("4.275", 2, "4.28"),
            ("4.2850000000000000001", 2, "4.29"),
            ("0.5", 0, "0"),
            ("1.5", 0, "2"),
            ("999999999.9999999995", 9, "1000000000.000000000"),
            ("12", 2, "12"),
            ("0.000", 2, "0.00"),
        ] {
            assert_eq!(e(v).round_dp(dp).to_string(), expected, "{v} to {dp}");
        }
    }

    #[test]
    fn arithmetic_is_exact_past_28_digits() {
        let big = e("79228162514264337593543950335");
        assert_eq!(big.mul(&big).add(&e("0.000000001")).to_string(), {
            "6277101735386680763835789423049210091073826769276946612225.000000001"
        });
        assert_eq!(e("1").checked_sub(&e("1.000000001")), None);
        assert_eq!(e("10").checked_sub(&e("0.25")).map(|d| d.to_string()), Some("9.75".to_owned()));
        assert_eq!(e("100.5").div_ceil(100).to_string(), "2");
        assert_eq!(e("5.00").normalize().to_string(), "5");
        assert_eq!(e("5").with_min_scale(2).to_string(), "5.00");
        assert_eq!(e("5.00"), e("5"));
        assert_eq!(e("0.01").to_decimal(), Decimal::from_str("0.01").ok());
        assert_eq!(big.mul(&big).to_decimal(), None);
    }
}
