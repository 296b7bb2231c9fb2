//! Credit grants (API.md, "Credits and the live balance"): money a customer paid up
//! front, or was given, that its invoices draw on before anything is due.
//!
//! Everything here is a pure decision over a grant list: which grants pay a period's
//! invoice and in what order ([`payers`]), what each pays ([`draw`]), what voiding an
//! invoice gives back ([`give_back`]) and a grant's status at a time ([`Grant::status`]).
//! The customer's machine keeps the grants in memory and writes what these return.
//!
//! The payer set depends only on the invoice's period (`effective_at < period_end`,
//! `expires_at` null or `>= period_end`, not voided when it draws), so a late, repeated
//! or caught-up invoicing run draws exactly what a punctual one would. A grant that was
//! active at a period's end pays that period's invoice even when the invoice is finalized
//! after the grant expired (the grace hours): it paid for usage made while it was valid.

use crate::currency::Currency;
use crate::error::{ApiError, ErrorCode};
use crate::ingest::valid_name;
use crate::input::{decimal_text, Fields};
use crate::invoice::{CreditApplied, Invoice};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The priority a grant gets when none is given: lower pays first.
pub const DEFAULT_PRIORITY: u64 = 100;
/// The largest grant amount accepted (a trillion in the currency's major unit).
const MAX_AMOUNT: u64 = 1_000_000_000_000;

/// A credit grant as stored (amounts exact, the status derived at read time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub amount: Decimal,
    pub remaining: Decimal,
    pub priority: u64,
    pub effective_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub voided_at: Option<Timestamp>,
}

/// A grant's state at a time (API.md's `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Not yet effective.
    Pending,
    Active,
    /// Nothing left.
    Depleted,
    Expired,
    Voided,
}

/// One grant's part of an invoice's payment, as exact money.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draw {
    pub grant_id: String,
    pub amount: Decimal,
}

/// A grant as the API shows it: amounts with the currency's digits, its status now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub amount: String,
    pub remaining: String,
    pub priority: u64,
    pub effective_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub status: GrantStatus,
    pub created_at: Timestamp,
    pub voided_at: Option<Timestamp>,
}

impl Grant {
    /// Its status at `now`: voided, then expired, pending, depleted, active.
    pub fn status(&self, now: Timestamp) -> GrantStatus {
        if self.voided_at.is_some() {
            GrantStatus::Voided
        } else if self.expires_at.is_some_and(|e| e <= now) {
            GrantStatus::Expired
        } else if self.effective_at > now {
            GrantStatus::Pending
        } else if self.remaining.is_zero() {
            GrantStatus::Depleted
        } else {
            GrantStatus::Active
        }
    }

    /// Whether it pays the invoice of a period ending at `period_end` (API.md's rule;
    /// a voided grant pays nothing more).
    pub fn pays_for(&self, period_end: Timestamp) -> bool {
        self.voided_at.is_none()
            && self.effective_at < period_end
            && self.expires_at.is_none_or(|e| e >= period_end)
            && self.remaining > Decimal::ZERO
    }

    pub fn view(&self, now: Timestamp, currency: Currency) -> GrantView {
        GrantView {
            id: self.id.clone(),
            customer_id: self.customer_id.clone(),
            name: self.name.clone(),
            amount: money_text(self.amount, currency),
            remaining: money_text(self.remaining, currency),
            priority: self.priority,
            effective_at: self.effective_at,
            expires_at: self.expires_at,
            status: self.status(now),
            created_at: self.created_at,
            voided_at: self.voided_at,
        }
    }
}

/// An amount of money as the API writes it: the currency's digits exactly (`"4.50"`).
pub fn money_text(d: Decimal, currency: Currency) -> String {
    let mut d = d.normalize();
    d.rescale(currency.exponent());
    d.to_string()
}

/// Reads an amount of money the API wrote ([`money_text`], an invoice's `total`).
pub fn parse_amount(s: &str) -> Result<Decimal, ApiError> {
    Decimal::from_str(s)
        .map_err(|_| ApiError::new(ErrorCode::InternalError, format!("an amount that does not parse: `{s}`")))
}

/// The grants that pay the invoice of a period ending at `period_end`, as indexes into
/// `grants`, in the order they pay: priority (lower first), then earliest expiry (none
/// last), then oldest, then id.
pub fn payers(grants: &[Grant], period_end: Timestamp) -> Vec<usize> {
    let mut order: Vec<usize> = (0..grants.len()).filter(|i| grants[*i].pays_for(period_end)).collect();
    order.sort_by(|a, b| {
        let (a, b) = (&grants[*a], &grants[*b]);
        let expiry = |g: &Grant| g.expires_at.map_or(i64::MAX, |t| t.millis());
        (a.priority, expiry(a), a.created_at, &a.id).cmp(&(b.priority, expiry(b), b.created_at, &b.id))
    });
    order
}

/// Draws up to `amount` from the grants that pay a period ending at `period_end`, in
/// their order, lowering their `remaining`; returns what each paid (grants that paid
/// nothing left out). Exact: the draws add up to `min(amount, what the payers hold)`.
pub fn draw(grants: &mut [Grant], period_end: Timestamp, amount: Decimal) -> Vec<Draw> {
    let mut left = amount.max(Decimal::ZERO);
    let mut out = Vec::new();
    for i in payers(grants, period_end) {
        if left.is_zero() {
            break;
        }
        let g = &mut grants[i];
        let take = left.min(g.remaining);
        g.remaining -= take;
        left -= take;
        out.push(Draw { grant_id: g.id.clone(), amount: take });
    }
    out
}

/// Gives an invoice's draws back when it is voided at `now`, to each grant that has
/// neither expired nor been voided since; returns what was given back to whom.
pub fn give_back(grants: &mut [Grant], draws: &[Draw], now: Timestamp) -> Vec<Draw> {
    let mut out = Vec::new();
    for d in draws {
        let Some(g) = grants.iter_mut().find(|g| g.id == d.grant_id) else { continue };
        if g.voided_at.is_some() || g.expires_at.is_some_and(|e| e <= now) {
            continue;
        }
        let back = d.amount.min(g.amount - g.remaining).max(Decimal::ZERO);
        g.remaining += back;
        out.push(Draw { grant_id: g.id.clone(), amount: back });
    }
    out
}

/// Draws an invoice's total from the grants that pay its period and writes what they pay
/// into it (`credits_applied`, `amount_due`). On a copy of the grants, this is what a
/// draft or the upcoming invoice would draw now.
pub fn apply(inv: &mut Invoice, grants: &mut [Grant]) -> Result<(), ApiError> {
    let total = parse_amount(&inv.total)?;
    let draws = draw(grants, inv.period_end, total);
    let paid: Decimal = draws.iter().map(|d| d.amount).sum();
    inv.credits_applied = draws
        .iter()
        .map(|d| CreditApplied { grant_id: d.grant_id.clone(), amount: money_text(d.amount, inv.currency) })
        .collect();
    inv.amount_due = money_text((total - paid).max(Decimal::ZERO), inv.currency);
    Ok(())
}

/// What an invoice drew, read back from it.
pub fn drawn(inv: &Invoice) -> Result<Vec<Draw>, ApiError> {
    inv.credits_applied
        .iter()
        .map(|c| Ok(Draw { grant_id: c.grant_id.clone(), amount: parse_amount(&c.amount)? }))
        .collect()
}

/// `POST /v1/customers/{id}/credit_grants`'s body, checked with the customer's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantInput {
    pub name: String,
    pub amount: Decimal,
    pub priority: u64,
    pub effective_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

impl GrantInput {
    /// Reads a body: `amount` > 0 with at most the currency's minor digits
    /// (`invalid_amount`), `name` 1 to 256 characters (required), `priority` 0 to 1,000,000,
    /// times in RFC 3339 with an offset, `expires_at` after `effective_at` (or after
    /// `now` when `effective_at` is absent), no other field.
    pub fn from_body(body: &[u8], currency: Currency, now: Timestamp) -> Result<GrantInput, ApiError> {
        let mut f = Fields::parse(body)?;
        let amount = f.req_value("amount")?;
        let amount = parse_grant_amount(&amount, currency)?;
        let name = f.req_str("name")?;
        if !valid_name(&name, 256) || name.trim().is_empty() {
            return Err(f.invalid("name", "`name` must be 1 to 256 characters"));
        }
        let priority = f.opt_u64("priority", 0, 1_000_000)?.unwrap_or(DEFAULT_PRIORITY);
        let effective_at = time_field(&mut f, "effective_at")?;
        let expires_at = time_field(&mut f, "expires_at")?;
        f.finish()?;
        if let Some(e) = expires_at {
            if e <= effective_at.unwrap_or(now) {
                return Err(ApiError::invalid("expires_at", "`expires_at` must be after `effective_at`"));
            }
        }
        Ok(GrantInput { name, amount, priority, effective_at, expires_at })
    }

    /// The grant this input makes, with its id and creation time.
    pub fn grant(self, id: String, customer_id: String, now: Timestamp) -> Grant {
        Grant {
            id,
            customer_id,
            name: self.name,
            amount: self.amount,
            remaining: self.amount,
            priority: self.priority,
            effective_at: self.effective_at.unwrap_or(now),
            expires_at: self.expires_at,
            created_at: now,
            voided_at: None,
        }
    }
}

/// A money amount of a request (`amount`, an alert's `threshold`): a decimal string (or a
/// whole JSON number) with at most the currency's minor digits, `min_exclusive` above 0
/// when `positive`. Errors are `invalid_amount` on `field`.
pub fn parse_money_field(
    v: &serde_json::Value,
    field: &'static str,
    currency: Currency,
    positive: bool,
) -> Result<Decimal, ApiError> {
    let bad = |m: String| ApiError::new(ErrorCode::InvalidAmount, m).field(field);
    let text = decimal_text(v).ok_or_else(|| bad(format!("`{field}` must be a decimal string such as \"100.00\"")))?;
    let well_formed = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !text.starts_with('.')
        && !text.ends_with('.')
        && text.bytes().filter(|b| *b == b'.').count() <= 1;
    let d = Decimal::from_str(&text)
        .ok()
        .filter(|_| well_formed)
        .ok_or_else(|| bad(format!("`{field}` must be a non-negative decimal string such as \"100.00\"")))?;
    if d.scale() > currency.exponent() {
        return Err(bad(format!("`{field}` has more decimals than {currency} has ({})", currency.exponent())));
    }
    if positive && d <= Decimal::ZERO {
        return Err(bad(format!("`{field}` must be greater than 0")));
    }
    if d >= Decimal::from(MAX_AMOUNT) {
        return Err(bad(format!("`{field}` must be less than {MAX_AMOUNT}")));
    }
    Ok(d)
}

fn parse_grant_amount(v: &serde_json::Value, currency: Currency) -> Result<Decimal, ApiError> {
    parse_money_field(v, "amount", currency, true)
}

/// An optional RFC 3339 time with an offset.
fn time_field(f: &mut Fields, key: &'static str) -> Result<Option<Timestamp>, ApiError> {
    match f.opt_str(key)? {
        None => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(&s).map(Some).map_err(|_| {
            ApiError::new(ErrorCode::InvalidTimestamp, format!("`{key}` must be RFC 3339 with an offset")).field(key)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, amount: i64, priority: u64, expires: Option<i64>, created: i64) -> Grant {
        Grant {
            id: id.into(),
            customer_id: "cus_x".into(),
            name: id.into(),
            amount: Decimal::from(amount),
            remaining: Decimal::from(amount),
            priority,
            effective_at: Timestamp(0),
            expires_at: expires.map(Timestamp),
            created_at: Timestamp(created),
            voided_at: None,
        }
    }

    #[test]
    fn payers_follow_priority_then_expiry_then_age() {
        let gs = vec![
            grant("a", 10, 100, None, 1),
            grant("b", 10, 100, Some(500), 2),
            grant("c", 10, 50, None, 3),
            grant("d", 10, 100, Some(400), 4),
            grant("e", 10, 100, None, 0),
            grant("f", 10, 100, Some(99), 0),
        ];
        let order: Vec<&str> = payers(&gs, Timestamp(100)).into_iter().map(|i| gs[i].id.as_str()).collect();
        assert_eq!(order, ["c", "d", "b", "e", "a"]);
    }

    #[test]
    fn a_draw_is_exact_and_never_below_zero() {
        let mut gs = vec![grant("a", 3, 1, None, 0), grant("b", 10, 2, None, 0)];
        let d = draw(&mut gs, Timestamp(10), Decimal::new(450, 2));
        assert_eq!(
            d,
            vec![
                Draw { grant_id: "a".into(), amount: Decimal::from(3) },
                Draw { grant_id: "b".into(), amount: Decimal::new(150, 2) }
            ]
        );
        assert_eq!(gs[1].remaining, Decimal::new(850, 2));
        let d = draw(&mut gs, Timestamp(10), Decimal::from(100));
        assert_eq!(d[0].amount, Decimal::new(850, 2));
        assert!(gs.iter().all(|g| g.remaining.is_zero()));
    }

    #[test]
    fn amounts_take_the_currency_digits() {
        let usd = Currency::USD;
        let v = |s: &str| serde_json::Value::String(s.into());
        assert_eq!(parse_grant_amount(&v("100.00"), usd).unwrap(), Decimal::new(10000, 2));
        assert_eq!(parse_grant_amount(&v("1.005"), usd).unwrap_err().code, ErrorCode::InvalidAmount);
        assert_eq!(parse_grant_amount(&v("0"), usd).unwrap_err().code, ErrorCode::InvalidAmount);
        assert_eq!(parse_grant_amount(&v("-1"), usd).unwrap_err().code, ErrorCode::InvalidAmount);
        assert!(parse_grant_amount(&serde_json::json!(0.5), usd).is_err());
        let jpy = Currency::parse("JPY").unwrap();
        assert!(parse_grant_amount(&v("1.5"), jpy).is_err());
        assert_eq!(money_text(Decimal::new(45, 1), usd), "4.50");
    }

    #[test]
    fn an_invoice_stored_before_credits_is_due_its_total() {
        let old = r#"{"id":"inv_1","number":null,"customer_id":"cus_1","period_start":"2026-01-01T00:00:00Z",
            "period_end":"2026-02-01T00:00:00Z","status":"draft","currency":"USD","lines":[],"subtotal":"4.28",
            "total":"4.28","created_at":"2026-01-01T00:00:00Z","finalized_at":null,"sent_at":null}"#;
        let inv: Invoice = serde_json::from_str::<Invoice>(old).unwrap().with_defaults();
        assert_eq!((inv.amount_due.as_str(), inv.credits_applied.len()), ("4.28", 0));
        let mut inv = inv;
        let mut gs = vec![grant("a", 3, 1, None, 0)];
        apply(&mut inv, &mut gs).unwrap();
        assert_eq!(inv.amount_due, "1.28");
        assert_eq!(drawn(&inv).unwrap(), vec![Draw { grant_id: "a".into(), amount: Decimal::from(3) }]);
        assert_eq!(give_back(&mut gs, &drawn(&inv).unwrap(), Timestamp(5))[0].amount, Decimal::from(3));
        assert_eq!(gs[0].remaining, Decimal::from(3));
    }

    #[test]
    fn input_checks_every_field() {
        let now = Timestamp(1_800_000_000_000);
        let read = |b: &str| GrantInput::from_body(b.as_bytes(), Currency::USD, now);
        assert!(read(r#"{"amount": "10.00", "name": "Promo"}"#).is_ok());
        assert_eq!(read(r#"{"name": "x"}"#).unwrap_err().field.as_deref(), Some("amount"));
        assert_eq!(read(r#"{"amount": "1"}"#).unwrap_err().field.as_deref(), Some("name"));
        assert_eq!(read(r#"{"amount": "1", "name": "x", "bogus": 1}"#).unwrap_err().code, ErrorCode::UnknownField);
        let e =
            read(r#"{"amount": "1", "name": "x", "effective_at": "2027-01-02T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z"}"#)
                .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("expires_at"));
        assert_eq!(
            read(r#"{"amount": "1", "name": "x", "expires_at": "2027-01-01"}"#).unwrap_err().code,
            ErrorCode::InvalidTimestamp
        );
        assert_eq!(
            read(r#"{"amount": "1", "name": "x", "priority": -1}"#).unwrap_err().field.as_deref(),
            Some("priority")
        );
    }
}
