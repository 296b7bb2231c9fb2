//! Price models (API.md, "Items"): how a quantity becomes money, exactly. Amounts are
//! computed in full decimal precision and rounded half-even to the currency's minor unit
//! once, per line.

use crate::currency::Currency;
use crate::error::ApiError;
use crate::input::{decimal_text, Fields};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::str::FromStr;

/// One tier of a graduated or volume price. `up_to: None` is the last, open tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub up_to: Option<Decimal>,
    pub unit_amount: Decimal,
    #[serde(default)]
    pub flat_amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Price {
    PerUnit {
        unit_amount: Decimal,
    },
    /// Whole packages, rounded up: 101 units at 100 per package bill 2 packages.
    Package {
        package_size: u64,
        package_amount: Decimal,
    },
    /// Each unit priced by the tier it falls in.
    Graduated {
        tiers: Vec<Tier>,
    },
    /// All units priced by the one tier the total falls in.
    Volume {
        tiers: Vec<Tier>,
    },
    Fixed {
        amount: Decimal,
    },
}

/// Most tiers a price may have.
pub const MAX_TIERS: usize = 50;
/// Most decimals a unit amount may carry.
pub const MAX_AMOUNT_SCALE: u32 = 12;

impl Price {
    /// Reads a `price` object.
    pub fn from_value(v: Value) -> Result<Price, ApiError> {
        let mut f = Fields::from_value(v, "price", "price.")?;
        let model = f.req_str("model")?;
        let price = match model.as_str() {
            "per_unit" => Price::PerUnit { unit_amount: money(&mut f, "unit_amount")? },
            "package" => Price::Package {
                package_size: f
                    .opt_u64("package_size", 1, 1_000_000_000)?
                    .ok_or_else(|| missing("price.package_size"))?,
                package_amount: money(&mut f, "package_amount")?,
            },
            "graduated" | "volume" => {
                let tiers = tiers(&mut f)?;
                if model == "graduated" {
                    Price::Graduated { tiers }
                } else {
                    Price::Volume { tiers }
                }
            }
            "fixed" => Price::Fixed { amount: money(&mut f, "amount")? },
            _ => return Err(f.invalid("model", "`price.model` must be per_unit, package, graduated, volume or fixed")),
        };
        f.finish()?;
        Ok(price)
    }

    /// The exact, unrounded amount for `quantity` units.
    pub fn amount_exact(&self, quantity: Decimal) -> Decimal {
        let q = quantity.max(Decimal::ZERO);
        match self {
            Price::PerUnit { unit_amount } => q * unit_amount,
            Price::Package { package_size, package_amount } => {
                (q / Decimal::from(*package_size)).ceil() * package_amount
            }
            Price::Graduated { tiers } => {
                let mut total = Decimal::ZERO;
                let mut lower = Decimal::ZERO;
                for t in tiers {
                    if q <= lower {
                        break;
                    }
                    let upper = t.up_to.map_or(q, |u| u.min(q));
                    total += (upper - lower) * t.unit_amount + t.flat_amount;
                    lower = upper;
                }
                total
            }
            Price::Volume { tiers } => {
                if q.is_zero() {
                    return Decimal::ZERO;
                }
                tiers
                    .iter()
                    .find(|t| t.up_to.is_none_or(|u| q <= u))
                    .map_or(Decimal::ZERO, |t| q * t.unit_amount + t.flat_amount)
            }
            Price::Fixed { amount } => *amount,
        }
    }

    /// The amount rounded half-even to the currency's minor unit.
    pub fn amount(&self, quantity: Decimal, currency: Currency) -> Decimal {
        round(self.amount_exact(quantity), currency)
    }
}

/// Rounds half-even to the currency's minor unit.
pub fn round(amount: Decimal, currency: Currency) -> Decimal {
    amount.round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointNearestEven)
}

/// Formats an amount with exactly the currency's decimals (`"12.50"`, `"1200"`).
pub fn format_amount(amount: Decimal, currency: Currency) -> String {
    let mut a = round(amount, currency);
    a.rescale(currency.exponent());
    a.to_string()
}

fn missing(field: &'static str) -> ApiError {
    ApiError::missing(field)
}

/// A non-negative decimal amount from a string (or whole number).
pub fn parse_money(v: &Value) -> Option<Decimal> {
    let text = decimal_text(v)?;
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || text.starts_with('.')
        || text.ends_with('.')
    {
        return None;
    }
    Decimal::from_str(&text).ok().filter(|d| d.scale() <= MAX_AMOUNT_SCALE && *d < Decimal::from(1_000_000_000_000u64))
}

fn money(f: &mut Fields, key: &'static str) -> Result<Decimal, ApiError> {
    let v = f.req_value(key)?;
    parse_money(&v).ok_or_else(|| f.invalid(key, "amounts are non-negative decimal strings such as \"0.05\""))
}

fn tiers(f: &mut Fields) -> Result<Vec<Tier>, ApiError> {
    let bad = |m: &str| ApiError::invalid("price.tiers", m.to_owned());
    let Value::Array(list) = f.req_value("tiers")? else {
        return Err(bad("`price.tiers` must be an array"));
    };
    if list.is_empty() || list.len() > MAX_TIERS {
        return Err(bad("`price.tiers` must have 1 to 50 tiers"));
    }
    let n = list.len();
    let mut out = Vec::with_capacity(n);
    let mut prev = Decimal::ZERO;
    for (i, t) in list.into_iter().enumerate() {
        let mut tf = Fields::from_value(t, "price.tiers", "price.tiers.")?;
        let up_to = match tf.take("up_to") {
            None => None,
            Some(v) => Some(parse_money(&v).ok_or_else(|| bad("`up_to` must be a non-negative number or null"))?),
        };
        let unit_amount = money(&mut tf, "unit_amount")?;
        let flat_amount = match tf.take("flat_amount") {
            None => Decimal::ZERO,
            Some(v) => parse_money(&v).ok_or_else(|| bad("`flat_amount` must be a decimal string"))?,
        };
        tf.finish()?;
        match (up_to, i + 1 == n) {
            (None, true) => {}
            (None, false) => return Err(bad("only the last tier may have `up_to: null`")),
            (Some(_), true) => return Err(bad("the last tier must have `up_to: null`")),
            (Some(u), false) if u <= prev => return Err(bad("`up_to` must increase from tier to tier")),
            (Some(u), false) => prev = u,
        }
        out.push(Tier { up_to, unit_amount, flat_amount });
    }
    Ok(out)
}
