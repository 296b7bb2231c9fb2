//! Price models (API.md, "Items"): how a quantity becomes money, exactly. Amounts are
//! computed in full decimal precision and rounded half-even to the currency's minor unit
//! once, per line.
//!
//! [`Price::price`] prices one invoice line and explains it: the quantity, the unit price
//! or the units each tier received, the exact subtotal, the minimum, and the rounded
//! amount. Where API.md is silent, the rules are Stripe's:
//!
//! - `package`: whole packages, rounded up (101 units at 100 per package are 2 packages);
//!   0 units are 0 packages.
//! - `graduated`: each unit is priced by the tier it falls in; a tier's `flat_amount` is
//!   charged only when that tier receives units, so 0 units cost nothing.
//! - `volume`: the first tier whose `up_to` (inclusive) holds the quantity prices every
//!   unit, plus that tier's `flat_amount`; 0 units cost nothing. A volume price is not
//!   monotone when later tiers are cheaper: 1,000 units at 0.05 cost more than 1,001 at 0.03.
//! - minimum: an item's `minimum` applies per line per period, with or without usage:
//!   the line amount is `round(max(subtotal, minimum))`, which equals
//!   `max(round(subtotal), round(minimum))` because rounding is monotone.
//!
//! No binary float is involved anywhere, and nothing is rounded but the line's amount:
//! products and sums are computed in [`Exact`], which carries as many digits as they need
//! (rust_decimal's 28 would not hold a large quantity times a unit price with 12
//! decimals). So every price [`Price::from_value`] accepts prices every quantity a period
//! can reach: pricing cannot fail.

use crate::currency::Currency;
use crate::error::ApiError;
use crate::exact::Exact;
use crate::input::{decimal_text, Fields};
use crate::quantity;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
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

/// A price, as `POST /v1/customers/{id}/items` takes it. [`Price::from_value`] guarantees
/// non-negative amounts and tiers with increasing `up_to` ending in an open tier; pricing
/// never panics on a price that breaks these, but only a checked price has sensible amounts.
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

/// The `model` of a [`Price`], as the API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceModel {
    PerUnit,
    Package,
    Graduated,
    Volume,
    Fixed,
}

/// Why an invoice could not be priced: nothing, since [`Exact`] arithmetic holds any
/// product and sum. It has no values; it remains the error type of
/// [`crate::invoice::invoice_lines`] so that callers written when pricing could overflow
/// still compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PricingError {}

impl std::fmt::Display for PricingError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for PricingError {}

/// What one tier contributed to a priced line. Amounts are exact (not rounded): only the
/// line's `amount` is rounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierLine {
    /// The tier's inclusive upper bound; `None` for the open last tier.
    pub up_to: Option<Decimal>,
    /// Units priced by this tier (for a volume price, all of them).
    pub units: Exact,
    pub unit_amount: Decimal,
    pub flat_amount: Decimal,
    /// `units × unit_amount + flat_amount`, exactly.
    pub subtotal: Exact,
}

/// One priced line and how its amount came about.
///
/// Serialized for the API with decimal strings: quantities without trailing zeros
/// (`"101"`), exact amounts (unit prices, tier subtotals, `subtotal_exact`, `minimum`) with
/// all their decimals but at least the currency's (`"0.0025"`, `"4.285"`, `"5.00"`), and the
/// rounded `amount` with exactly the currency's decimals (`"4.28"`). `package_size` and
/// `packages` appear for package prices only; the currency itself is not repeated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    /// The currency the amount is rounded to.
    pub currency: Currency,
    pub model: PriceModel,
    /// The quantity priced (a negative one counts as 0).
    pub quantity: Decimal,
    /// The one rate applied: the unit price (per unit, volume), the price of one package
    /// (package) or the fixed amount; `None` for graduated prices and unmatched volumes.
    pub unit_amount: Option<Decimal>,
    pub package_size: Option<u64>,
    /// Packages billed, rounded up.
    pub packages: Option<Exact>,
    /// Graduated: every tier that received units, in order. Volume: the one tier applied.
    /// Empty for other models and for 0 units.
    pub tiers: Vec<TierLine>,
    /// The price of the quantity before the minimum, unrounded.
    pub subtotal_exact: Exact,
    pub minimum: Option<Decimal>,
    /// Whether the minimum exceeded the subtotal and so set the amount.
    pub minimum_applied: bool,
    /// `max(subtotal_exact, minimum)` rounded half-even to the currency's minor unit: the
    /// line's only rounding.
    pub amount: Exact,
}

/// Most tiers a price may have.
pub const MAX_TIERS: usize = 50;
/// Most decimals a unit amount may carry.
pub const MAX_AMOUNT_SCALE: u32 = 12;

impl Price {
    /// Reads a `price` object.
    pub fn from_value(v: Value) -> Result<Price, ApiError> {
        let mut f = Fields::from_value(v, "price")?;
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

    /// The price's model.
    pub fn model(&self) -> PriceModel {
        match self {
            Price::PerUnit { .. } => PriceModel::PerUnit,
            Price::Package { .. } => PriceModel::Package,
            Price::Graduated { .. } => PriceModel::Graduated,
            Price::Volume { .. } => PriceModel::Volume,
            Price::Fixed { .. } => PriceModel::Fixed,
        }
    }

    /// Prices `quantity` units as one line in `currency`, with the item's `minimum` for the
    /// period, and explains the result (see the module docs for the rules). A fixed price
    /// ignores the quantity. A negative quantity counts as 0.
    pub fn price(&self, quantity: Decimal, currency: Currency, minimum: Option<Decimal>) -> PricedLine {
        let q = if quantity.is_sign_negative() { Decimal::ZERO } else { quantity.normalize() };
        let units = Exact::from(q);
        let mut line = PricedLine {
            currency,
            model: self.model(),
            quantity: q,
            unit_amount: None,
            package_size: None,
            packages: None,
            tiers: Vec::new(),
            subtotal_exact: Exact::ZERO,
            minimum,
            minimum_applied: false,
            amount: Exact::ZERO,
        };
        line.subtotal_exact = match self {
            Price::PerUnit { unit_amount } => {
                line.unit_amount = Some(*unit_amount);
                units.mul(&Exact::from(*unit_amount))
            }
            Price::Package { package_size, package_amount } => {
                let packages = units.div_ceil(*package_size);
                line.unit_amount = Some(*package_amount);
                line.package_size = Some(*package_size);
                let subtotal = packages.mul(&Exact::from(*package_amount));
                line.packages = Some(packages);
                subtotal
            }
            Price::Graduated { tiers } => {
                let mut total = Exact::ZERO;
                let mut lower = Exact::ZERO;
                for t in tiers {
                    if units <= lower {
                        break;
                    }
                    // `max(lower)` only matters for tiers whose `up_to` does not increase.
                    let upper = t.up_to.map_or(units.clone(), |u| Exact::from(u).min(units.clone())).max(lower.clone());
                    let Some(in_tier) = upper.checked_sub(&lower).filter(|u| !u.is_zero()) else {
                        continue;
                    };
                    let tier = tier_line(t, in_tier);
                    total = total.add(&tier.subtotal);
                    line.tiers.push(tier);
                    lower = upper;
                }
                total
            }
            Price::Volume { tiers } => {
                let tier = tiers.iter().find(|t| t.up_to.is_none_or(|u| q <= u));
                match tier {
                    Some(t) if !q.is_zero() => {
                        let tier = tier_line(t, units);
                        let subtotal = tier.subtotal.clone();
                        line.unit_amount = Some(t.unit_amount);
                        line.tiers.push(tier);
                        subtotal
                    }
                    _ => Exact::ZERO,
                }
            }
            Price::Fixed { amount } => {
                line.unit_amount = Some(*amount);
                Exact::from(*amount)
            }
        };
        let minimum = minimum.map(Exact::from);
        let billed = match minimum {
            Some(m) if m > line.subtotal_exact => {
                line.minimum_applied = true;
                m
            }
            _ => line.subtotal_exact.clone(),
        };
        line.amount = round(&billed, currency);
        line
    }

    /// The exact, unrounded amount for `quantity` units, without any minimum.
    pub fn amount_exact(&self, quantity: Decimal) -> Exact {
        self.price(quantity, Currency::USD, None).subtotal_exact
    }

    /// The amount rounded half-even to the currency's minor unit, without any minimum.
    pub fn amount(&self, quantity: Decimal, currency: Currency) -> Exact {
        round(&self.amount_exact(quantity), currency)
    }
}

fn tier_line(t: &Tier, units: Exact) -> TierLine {
    let subtotal = units.mul(&Exact::from(t.unit_amount)).add(&Exact::from(t.flat_amount));
    TierLine { up_to: t.up_to, units, unit_amount: t.unit_amount, flat_amount: t.flat_amount, subtotal }
}

/// Rounds half-even to the currency's minor unit.
pub fn round(amount: &Exact, currency: Currency) -> Exact {
    amount.round_dp(currency.exponent())
}

/// Formats an amount with exactly the currency's decimals (`"12.50"`, `"1200"`).
pub fn format_amount(amount: impl Into<Exact>, currency: Currency) -> String {
    let a = round(&amount.into(), currency).normalize();
    a.with_min_scale(currency.exponent()).to_string()
}

/// Formats an exact amount (a unit price, a tier subtotal) with all its decimals but at
/// least the currency's: `"0.0025"`, `"4.285"`, `"5.00"`, `"1200"` (JPY).
pub fn format_exact(amount: impl Into<Exact>, currency: Currency) -> String {
    amount.into().normalize().with_min_scale(currency.exponent()).to_string()
}

impl Serialize for PricedLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.currency;
        PricedLineWire {
            model: self.model,
            quantity: quantity::format(self.quantity),
            unit_amount: self.unit_amount.map(|a| format_exact(a, c)),
            package_size: self.package_size,
            packages: self.packages.as_ref().map(|p| p.normalize().to_string()),
            tiers: self
                .tiers
                .iter()
                .map(|t| TierLineWire {
                    up_to: t.up_to.map(quantity::format),
                    units: t.units.normalize().to_string(),
                    unit_amount: format_exact(t.unit_amount, c),
                    flat_amount: format_exact(t.flat_amount, c),
                    subtotal: format_exact(t.subtotal.clone(), c),
                })
                .collect(),
            subtotal_exact: format_exact(self.subtotal_exact.clone(), c),
            minimum: self.minimum.map(|m| format_exact(m, c)),
            minimum_applied: self.minimum_applied,
            amount: format_amount(self.amount.clone(), c),
        }
        .serialize(s)
    }
}

/// [`PricedLine`] as the API shows it.
#[derive(Serialize)]
struct PricedLineWire {
    model: PriceModel,
    quantity: String,
    unit_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    packages: Option<String>,
    tiers: Vec<TierLineWire>,
    subtotal_exact: String,
    minimum: Option<String>,
    minimum_applied: bool,
    amount: String,
}

#[derive(Serialize)]
struct TierLineWire {
    up_to: Option<String>,
    units: String,
    unit_amount: String,
    flat_amount: String,
    subtotal: String,
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
    let bad = |field: String, m: &str| ApiError::invalid(field, m.to_owned());
    let Value::Array(list) = f.req_value("tiers")? else {
        return Err(bad("price.tiers".into(), "`price.tiers` must be an array"));
    };
    if list.is_empty() || list.len() > MAX_TIERS {
        return Err(bad("price.tiers".into(), "`price.tiers` must have 1 to 50 tiers"));
    }
    let n = list.len();
    let mut out = Vec::with_capacity(n);
    let mut prev = Decimal::ZERO;
    for (i, t) in list.into_iter().enumerate() {
        let at = format!("price.tiers[{i}]");
        let mut tf = Fields::from_value(t, at.clone())?;
        let up_to = match tf.take("up_to") {
            None => None,
            Some(v) => Some(
                parse_money(&v)
                    .ok_or_else(|| bad(format!("{at}.up_to"), "`up_to` must be a non-negative number or null"))?,
            ),
        };
        let unit_amount = money(&mut tf, "unit_amount")?;
        let flat_amount = match tf.take("flat_amount") {
            None => Decimal::ZERO,
            Some(v) => parse_money(&v)
                .ok_or_else(|| bad(format!("{at}.flat_amount"), "`flat_amount` must be a decimal string"))?,
        };
        tf.finish()?;
        let up_to_field = format!("{at}.up_to");
        match (up_to, i + 1 == n) {
            (None, true) => {}
            (None, false) => return Err(bad(up_to_field, "only the last tier may have `up_to: null`")),
            (Some(_), true) => return Err(bad(up_to_field, "the last tier must have `up_to: null`")),
            (Some(u), false) if u <= prev => return Err(bad(up_to_field, "`up_to` must increase from tier to tier")),
            (Some(u), false) => prev = u,
        }
        out.push(Tier { up_to, unit_amount, flat_amount });
    }
    Ok(out)
}
