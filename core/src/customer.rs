//! Customers (API.md, "Customers"): who is billed, in which currency, on which schedule.

use crate::currency::Currency;
use crate::error::ApiError;
use crate::ingest::valid_name;
use crate::input::{Fields, Problems};
use crate::period::Schedule;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A customer as stored and returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: String,
    pub external_id: Option<String>,
    pub currency: Currency,
    pub invoice_schedule: Schedule,
    pub auto_send: bool,
    /// The contract this customer was created from (`ctr_…`), if any.
    #[serde(default)]
    pub contract_id: Option<String>,
    pub created_at: Timestamp,
}

/// The writable fields of `POST /v1/customers` and `PATCH /v1/customers/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub currency: Option<Currency>,
    pub invoice_schedule: Option<Schedule>,
    pub auto_send: Option<bool>,
}

impl CustomerInput {
    /// Reads a create or patch body; `now` anchors a default schedule.
    pub fn from_body(body: &[u8], now: Timestamp) -> Result<CustomerInput, ApiError> {
        CustomerInput::read(Fields::parse(body)?, now, true).map_err(|mut problems| problems.swap_remove(0))
    }

    /// Reads a customer's fields, reporting every problem (each field's first). Without
    /// `billing`, only the details a contract's `customer` holds (name, email, external
    /// id, currency); the schedule and `auto_send` are the contract's own.
    pub fn read(mut f: Fields, now: Timestamp, billing: bool) -> Result<CustomerInput, Vec<ApiError>> {
        let mut p = Problems::default();
        let name = p
            .keep(f.opt_str("name").and_then(|name| match name {
                Some(n) if !valid_name(&n, 256) || n.trim().is_empty() => {
                    Err(f.invalid("name", "`name` must be 1 to 256 characters"))
                }
                n => Ok(n),
            }))
            .flatten();
        let email = p
            .keep(f.opt_str("email").and_then(|email| match email {
                Some(e) if !valid_email(&e) => {
                    Err(f.invalid("email", "`email` must be an address such as billing@example.com"))
                }
                e => Ok(e),
            }))
            .flatten();
        let external_id = p
            .keep(f.opt_str("external_id").and_then(|x| match x {
                Some(x) if !valid_name(&x, 128) => {
                    Err(f.invalid("external_id", "`external_id` must be 1 to 128 characters"))
                }
                x => Ok(x),
            }))
            .flatten();
        let currency = p
            .keep(f.opt_str("currency").and_then(|c| {
                match c {
                    None => Ok(None),
                    Some(c) => Currency::parse(&c)
                        .map(Some)
                        .ok_or_else(|| f.invalid("currency", "`currency` must be an ISO 4217 code such as USD")),
                }
            }))
            .flatten();
        let (invoice_schedule, auto_send) = if billing {
            let schedule =
                p.keep(f.take("invoice_schedule").map(|v| Schedule::from_value(v, now)).transpose()).flatten();
            (schedule, p.keep(f.opt_bool("auto_send")).flatten())
        } else {
            (None, None)
        };
        p.0.extend(f.unknown());
        if p.is_empty() {
            Ok(CustomerInput { name, email, external_id, currency, invoice_schedule, auto_send })
        } else {
            Err(p.0)
        }
    }

    /// Builds a new customer; `name` and `email` are required.
    pub fn create(self, id: String, now: Timestamp) -> Result<Customer, ApiError> {
        Ok(Customer {
            id,
            name: self.name.ok_or_else(|| ApiError::missing("name"))?,
            email: self.email.ok_or_else(|| ApiError::missing("email"))?,
            external_id: self.external_id,
            currency: self.currency.unwrap_or(Currency::USD),
            invoice_schedule: self.invoice_schedule.unwrap_or_else(|| Schedule::default_at(now)),
            auto_send: self.auto_send.unwrap_or(false),
            contract_id: None,
            created_at: now,
        })
    }

    /// Applies a patch. Currency and schedule are fixed once usage may have been recorded
    /// against them, so changing them is refused.
    pub fn apply(self, c: &mut Customer) -> Result<(), ApiError> {
        if self.currency.is_some_and(|x| x != c.currency) {
            return Err(ApiError::invalid("currency", "`currency` cannot change after creation"));
        }
        if self.invoice_schedule.as_ref().is_some_and(|s| *s != c.invoice_schedule) {
            return Err(ApiError::invalid("invoice_schedule", "`invoice_schedule` cannot change after creation"));
        }
        if let Some(n) = self.name {
            c.name = n;
        }
        if let Some(e) = self.email {
            c.email = e;
        }
        if let Some(x) = self.external_id {
            c.external_id = Some(x);
        }
        if let Some(a) = self.auto_send {
            c.auto_send = a;
        }
        Ok(())
    }
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn valid_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn create_applies_defaults() {
        let now = Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap();
        let c = CustomerInput::from_body(br#"{"name":"Acme","email":"ap@acme.test"}"#, now)
            .unwrap()
            .create("cus_1".into(), now)
            .unwrap();
        assert_eq!(c.currency, Currency::USD);
        assert_eq!(c.invoice_schedule.anchor.to_string(), "2026-11-01");
        assert!(!c.auto_send);
    }

    #[test]
    fn bad_fields_are_named() {
        let now = Timestamp(0);
        for (body, field) in [
            (r#"{"name":"","email":"a@b.co"}"#, "name"),
            (r#"{"name":"A","email":"nope"}"#, "email"),
            (r#"{"name":"A","email":"a@b.co","currency":"usd"}"#, "currency"),
            (r#"{"name":"A","email":"a@b.co","invoice_schedule":{"interval":"day"}}"#, "invoice_schedule.interval"),
            (r#"{"name":"A","email":"a@b.co","invoice_schedule":{"anchor":"2026-02-30"}}"#, "invoice_schedule.anchor"),
            (r#"{"name":"A","email":"a@b.co","auto_send":"yes"}"#, "auto_send"),
        ] {
            let e = CustomerInput::from_body(body.as_bytes(), now).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{body}");
        }
        let e = CustomerInput::from_body(br#"{"email":"a@b.co"}"#, now).unwrap().create("c".into(), now).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::MissingField, Some("name")));
    }
}
