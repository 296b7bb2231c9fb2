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
//! No binary float is involved anywhere: rust_decimal silently rounds a result that needs
//! more than 28 significant digits, so the arithmetic here checks every product and sum and
//! reports [`PricingError::Overflow`] rather than bill a rounded intermediate.

use crate::currency::Currency;
use crate::error::ApiError;
use crate::input::{decimal_text, Fields};
use crate::quantity;
use rust_decimal::{Decimal, RoundingStrategy};
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

/// Why a line could not be priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// An amount needs more than the 28 significant digits exact decimal arithmetic has
    /// (far beyond any real bill: about 1e16 units at the largest unit price).
    #[error("the amount is too large to compute exactly")]
    Overflow,
}

impl PricingError {
    /// A stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            PricingError::Overflow => "amount_overflow",
        }
    }
}

/// What one tier contributed to a priced line. Amounts are exact (not rounded): only the
/// line's `amount` is rounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierLine {
    /// The tier's inclusive upper bound; `None` for the open last tier.
    pub up_to: Option<Decimal>,
    /// Units priced by this tier (for a volume price, all of them).
    pub units: Decimal,
    pub unit_amount: Decimal,
    pub flat_amount: Decimal,
    /// `units × unit_amount + flat_amount`, exactly.
    pub subtotal: Decimal,
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
    pub packages: Option<Decimal>,
    /// Graduated: every tier that received units, in order. Volume: the one tier applied.
    /// Empty for other models and for 0 units.
    pub tiers: Vec<TierLine>,
    /// The price of the quantity before the minimum, unrounded.
    pub subtotal_exact: Decimal,
    pub minimum: Option<Decimal>,
    /// Whether the minimum exceeded the subtotal and so set the amount.
    pub minimum_applied: bool,
    /// `max(subtotal_exact, minimum)` rounded half-even to the currency's minor unit: the
    /// line's only rounding.
    pub amount: Decimal,
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
    pub fn price(
        &self,
        quantity: Decimal,
        currency: Currency,
        minimum: Option<Decimal>,
    ) -> Result<PricedLine, PricingError> {
        let q = if quantity.is_sign_negative() { Decimal::ZERO } else { quantity.normalize() };
        let mut line = PricedLine {
            currency,
            model: self.model(),
            quantity: q,
            unit_amount: None,
            package_size: None,
            packages: None,
            tiers: Vec::new(),
            subtotal_exact: Decimal::ZERO,
            minimum,
            minimum_applied: false,
            amount: Decimal::ZERO,
        };
        line.subtotal_exact = match self {
            Price::PerUnit { unit_amount } => {
                line.unit_amount = Some(*unit_amount);
                mul(q, *unit_amount)?
            }
            Price::Package { package_size, package_amount } => {
                let packages = packages(q, *package_size)?;
                line.unit_amount = Some(*package_amount);
                line.package_size = Some(*package_size);
                line.packages = Some(packages);
                mul(packages, *package_amount)?
            }
            Price::Graduated { tiers } => {
                let mut total = Decimal::ZERO;
                let mut lower = Decimal::ZERO;
                for t in tiers {
                    if q <= lower {
                        break;
                    }
                    // `max(lower)` only matters for tiers whose `up_to` does not increase.
                    let upper = t.up_to.map_or(q, |u| u.min(q)).max(lower);
                    let units = sub(upper, lower)?;
                    if units.is_zero() {
                        continue;
                    }
                    let tier = tier_line(t, units)?;
                    total = add(total, tier.subtotal)?;
                    line.tiers.push(tier);
                    lower = upper;
                }
                total
            }
            Price::Volume { tiers } => {
                let tier = tiers.iter().find(|t| t.up_to.is_none_or(|u| q <= u));
                match tier {
                    Some(t) if !q.is_zero() => {
                        let tier = tier_line(t, q)?;
                        let subtotal = tier.subtotal;
                        line.unit_amount = Some(t.unit_amount);
                        line.tiers.push(tier);
                        subtotal
                    }
                    _ => Decimal::ZERO,
                }
            }
            Price::Fixed { amount } => {
                line.unit_amount = Some(*amount);
                *amount
            }
        };
        let billed = match minimum {
            Some(m) if m > line.subtotal_exact => {
                line.minimum_applied = true;
                m
            }
            _ => line.subtotal_exact,
        };
        line.amount = round(billed, currency);
        Ok(line)
    }

    /// The exact, unrounded amount for `quantity` units, without any minimum. An amount
    /// too large to compute exactly saturates at `Decimal::MAX`; [`Price::price`] reports it.
    pub fn amount_exact(&self, quantity: Decimal) -> Decimal {
        self.price(quantity, Currency::USD, None).map_or(Decimal::MAX, |l| l.subtotal_exact)
    }

    /// The amount rounded half-even to the currency's minor unit, without any minimum.
    pub fn amount(&self, quantity: Decimal, currency: Currency) -> Decimal {
        round(self.amount_exact(quantity), currency)
    }
}

fn tier_line(t: &Tier, units: Decimal) -> Result<TierLine, PricingError> {
    let subtotal = add(mul(units, t.unit_amount)?, t.flat_amount)?;
    Ok(TierLine { up_to: t.up_to, units, unit_amount: t.unit_amount, flat_amount: t.flat_amount, subtotal })
}

/// Whole packages of `size` needed for `q` units: `ceil(q / size)`, exactly.
fn packages(q: Decimal, size: u64) -> Result<Decimal, PricingError> {
    if q.is_zero() {
        return Ok(Decimal::ZERO);
    }
    // A size of 0 is refused by `from_value`; count it as 1 rather than divide by zero.
    let size = Decimal::from(size.max(1));
    let mut n = q.checked_div(size).ok_or(PricingError::Overflow)?.ceil();
    // The quotient is rounded past 28 significant digits, so its ceiling may be one off:
    // settle it with exact products.
    if n > Decimal::ZERO && mul(n - Decimal::ONE, size)? >= q {
        n -= Decimal::ONE;
    } else if mul(n, size)? < q {
        n += Decimal::ONE;
    }
    Ok(n)
}

/// `a × b`, or an error where rust_decimal would round the product to fit 96 bits.
fn mul(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    let (a, b) = (a.normalize(), b.normalize());
    let p = a.checked_mul(b).ok_or(PricingError::Overflow)?;
    // An exact product keeps the sum of the scales; a rounded one has fewer.
    if p.is_zero() || p.scale() == a.scale() + b.scale() {
        Ok(p)
    } else {
        Err(PricingError::Overflow)
    }
}

/// `a + b`, or an error where rust_decimal would round the sum.
pub(crate) fn add(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    // rust_decimal returns the other operand as it is when one is zero (`0.000 + 528.1` is
    // `528.1`, scale 1), which the scale check below would take for a rounded sum.
    if a.is_zero() {
        return Ok(b);
    }
    if b.is_zero() {
        return Ok(a);
    }
    let s = a.checked_add(b).ok_or(PricingError::Overflow)?;
    if s.is_zero() || s.scale() == a.scale().max(b.scale()) {
        Ok(s)
    } else {
        Err(PricingError::Overflow)
    }
}

fn sub(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    add(a, -b)
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

/// Formats an exact amount (a unit price, a tier subtotal) with all its decimals but at
/// least the currency's: `"0.0025"`, `"4.285"`, `"5.00"`, `"1200"` (JPY).
pub fn format_exact(amount: Decimal, currency: Currency) -> String {
    let mut a = amount.normalize();
    if a.scale() < currency.exponent() {
        a.rescale(currency.exponent());
    }
    a.to_string()
}

impl Serialize for PricedLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.currency;
        PricedLineWire {
            model: self.model,
            quantity: quantity::format(self.quantity),
            unit_amount: self.unit_amount.map(|a| format_exact(a, c)),
            package_size: self.package_size,
            packages: self.packages.map(quantity::format),
            tiers: self
                .tiers
                .iter()
                .map(|t| TierLineWire {
                    up_to: t.up_to.map(quantity::format),
                    units: quantity::format(t.units),
                    unit_amount: format_exact(t.unit_amount, c),
                    flat_amount: format_exact(t.flat_amount, c),
                    subtotal: format_exact(t.subtotal, c),
                })
                .collect(),
            subtotal_exact: format_exact(self.subtotal_exact, c),
            minimum: self.minimum.map(|m| format_exact(m, c)),
            minimum_applied: self.minimum_applied,
            amount: format_amount(self.amount, c),
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
