//! Money held for a customer (API.md, "Credits and the live balance", "Alerts"): credit
//! grants, the live balance and alerts, as resources of [`Api`]. Amounts are decimal
//! strings in the customer's currency, as on the wire; inputs take anything that makes a
//! [`Quantity`] (integers, [`rust_decimal::Decimal`], decimal text), never a float.
//!
//! Keys: the balance may be read with an ingest key or the customer's own token; grants
//! and alerts need a secret key.

use super::api::Api;
use super::error::Error;
use super::event::Quantity;
use super::types::{ListParams, Page, Period};
use serde::{Deserialize, Serialize};

/// `POST /v1/customers/{id}/credit_grants`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreditGrantInput {
    /// More than 0, with at most the currency's minor digits (else `invalid_amount`).
    pub amount: String,
    pub name: String,
    /// Lower draws first; default 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// RFC 3339; default now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<String>,
    /// RFC 3339, after `effective_at`; default never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl CreditGrantInput {
    /// A grant of `amount` (`"100.00"`, a `Decimal`, an integer), effective now, forever.
    pub fn new(name: impl Into<String>, amount: impl Into<Quantity>) -> CreditGrantInput {
        CreditGrantInput {
            amount: amount.into().as_str().to_owned(),
            name: name.into(),
            priority: None,
            effective_at: None,
            expires_at: None,
        }
    }

    pub fn priority(mut self, priority: i64) -> CreditGrantInput {
        self.priority = Some(priority);
        self
    }

    pub fn effective_at(mut self, rfc3339: impl Into<String>) -> CreditGrantInput {
        self.effective_at = Some(rfc3339.into());
        self
    }

    pub fn expires_at(mut self, rfc3339: impl Into<String>) -> CreditGrantInput {
        self.expires_at = Some(rfc3339.into());
        self
    }
}

/// `pending` (not yet effective), `active`, `depleted`, `expired` or `voided`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditGrantStatus {
    Pending,
    Active,
    Depleted,
    Expired,
    Voided,
    /// One this client does not know yet.
    #[serde(other, skip_serializing)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CreditGrant {
    /// `cg_…`
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub amount: String,
    /// What is left to draw.
    pub remaining: String,
    pub priority: i64,
    pub effective_at: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    pub status: CreditGrantStatus,
    pub created_at: String,
    #[serde(default)]
    pub voided_at: Option<String>,
}

/// One grant's part in paying an invoice (`Invoice::credits_applied`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CreditApplied {
    pub grant_id: String,
    pub amount: String,
}

/// `GET /v1/customers/{id}/balance`: true as of the last accepted event.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Balance {
    pub customer_id: String,
    pub currency: String,
    pub as_of: String,
    pub credits: BalanceCredits,
    pub period: Period,
    pub period_total: String,
    pub amount_due_so_far: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct BalanceCredits {
    /// The active grants' `remaining`, summed.
    pub remaining: String,
    /// What the open, not yet finalized periods would draw now.
    pub pending_draw: String,
    /// `remaining` − `pending_draw`, not below 0.
    pub available: String,
}

/// `usage` (a metric's period quantity reaches the threshold), `spend` (the period's
/// total reaches it), `credit_balance` (the available credit falls to or below it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Usage,
    Spend,
    CreditBalance,
    /// One this client does not know yet (responses only).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `POST /v1/customers/{id}/alerts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertInput {
    pub name: String,
    pub kind: AlertKind,
    /// For `usage` alerts only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_code: Option<String>,
    pub threshold: String,
}

impl AlertInput {
    /// When the metric's quantity in the current period reaches `threshold`.
    pub fn usage(name: impl Into<String>, metric_code: impl Into<String>, threshold: impl Into<Quantity>) -> Self {
        AlertInput::new(name, AlertKind::Usage, Some(metric_code.into()), threshold)
    }

    /// When the period's total reaches `threshold`.
    pub fn spend(name: impl Into<String>, threshold: impl Into<Quantity>) -> Self {
        AlertInput::new(name, AlertKind::Spend, None, threshold)
    }

    /// When the available credit falls to or below `threshold`.
    pub fn credit_balance(name: impl Into<String>, threshold: impl Into<Quantity>) -> Self {
        AlertInput::new(name, AlertKind::CreditBalance, None, threshold)
    }

    fn new(name: impl Into<String>, kind: AlertKind, metric_code: Option<String>, t: impl Into<Quantity>) -> Self {
        AlertInput { name: name.into(), kind, metric_code, threshold: t.into().as_str().to_owned() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Alert {
    /// `alr_…`
    pub id: String,
    #[serde(default)]
    pub customer_id: Option<String>,
    pub name: String,
    pub kind: AlertKind,
    #[serde(default)]
    pub metric_code: Option<String>,
    pub threshold: String,
    #[serde(default)]
    pub last_triggered_at: Option<String>,
    /// The value that last crossed the threshold.
    #[serde(default)]
    pub last_value: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A webhook delivery's body, `{"id", "type", "created_at", "data"}`, once its signature
/// is verified (`edgemeter_sdk::webhook::verify_signature`): the `id` is stable across
/// retries, so a receiver dedupes on it. `data` is the invoice for `invoice.*` events and
/// [`AlertTriggered`] for `alert.triggered`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct WebhookEvent<T> {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: String,
    pub data: T,
}

/// `alert.triggered`'s `data` (API.md, "Alerts"): the value that reached the threshold,
/// in the period it did.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AlertTriggered {
    pub alert_id: String,
    pub customer_id: String,
    pub kind: AlertKind,
    pub threshold: String,
    pub value: String,
    pub period: Period,
}

impl Api {
    pub fn credit_grants(&self) -> CreditGrants<'_> {
        CreditGrants(self)
    }

    pub fn balance(&self) -> BalanceApi<'_> {
        BalanceApi(self)
    }

    pub fn alerts(&self) -> Alerts<'_> {
        Alerts(self)
    }
}

/// API.md "Credits and the live balance": a customer's grants.
#[derive(Clone, Copy, Debug)]
pub struct CreditGrants<'a>(&'a Api);

impl CreditGrants<'_> {
    /// `POST /v1/customers/{id}/credit_grants` → 201.
    pub async fn create(&self, customer_id: &str, input: &CreditGrantInput) -> Result<CreditGrant, Error> {
        Ok(self.0.post_json(&["v1", "customers", customer_id, "credit_grants"], Some(input), None).await?)
    }

    /// [`CreditGrants::create`] under your own `Idempotency-Key` (a payment's id, say), so
    /// a retry after a restart of your process cannot grant twice (for 24 hours).
    pub async fn create_with_key(
        &self,
        customer_id: &str,
        input: &CreditGrantInput,
        idempotency_key: &str,
    ) -> Result<CreditGrant, Error> {
        let path = ["v1", "customers", customer_id, "credit_grants"];
        Ok(self.0.post_json(&path, Some(input), Some(idempotency_key)).await?)
    }

    pub async fn list(&self, customer_id: &str, params: &ListParams) -> Result<Page<CreditGrant>, Error> {
        self.0.page(&["v1", "customers", customer_id, "credit_grants"], params).await
    }

    /// Every grant of the customer, page after page.
    pub async fn list_all(&self, customer_id: &str) -> Result<Vec<CreditGrant>, Error> {
        self.0.all_pages(&["v1", "customers", customer_id, "credit_grants"]).await
    }

    pub async fn get(&self, customer_id: &str, grant_id: &str) -> Result<CreditGrant, Error> {
        self.0.get_json(&["v1", "customers", customer_id, "credit_grants", grant_id], &[]).await
    }

    /// The grant pays nothing more (what it paid stays paid); a voided grant is a 409.
    pub async fn void(&self, customer_id: &str, grant_id: &str) -> Result<CreditGrant, Error> {
        let path = ["v1", "customers", customer_id, "credit_grants", grant_id, "void"];
        match self.0.post_json(&path, NO_BODY, None).await {
            Ok(grant) => Ok(grant),
            // A retry whose first attempt voided it: the voided grant is success.
            Err(f) if f.retried && f.error.code == "grant_voided" => {
                let grant = self.get(customer_id, grant_id).await?;
                if grant.status == CreditGrantStatus::Voided {
                    Ok(grant)
                } else {
                    Err(f.error)
                }
            }
            Err(f) => Err(f.error),
        }
    }
}

/// `GET /v1/customers/{id}/balance`.
#[derive(Clone, Copy, Debug)]
pub struct BalanceApi<'a>(&'a Api);

impl BalanceApi<'_> {
    /// The live balance: any event acknowledged before the call is in it.
    pub async fn get(&self, customer_id: &str) -> Result<Balance, Error> {
        self.0.get_json(&["v1", "customers", customer_id, "balance"], &[]).await
    }
}

/// API.md "Alerts".
#[derive(Clone, Copy, Debug)]
pub struct Alerts<'a>(&'a Api);

impl Alerts<'_> {
    /// `POST /v1/customers/{id}/alerts` → 201.
    pub async fn create(&self, customer_id: &str, input: &AlertInput) -> Result<Alert, Error> {
        Ok(self.0.post_json(&["v1", "customers", customer_id, "alerts"], Some(input), None).await?)
    }

    pub async fn list(&self, customer_id: &str, params: &ListParams) -> Result<Page<Alert>, Error> {
        self.0.page(&["v1", "customers", customer_id, "alerts"], params).await
    }

    /// Every alert of the customer, page after page.
    pub async fn list_all(&self, customer_id: &str) -> Result<Vec<Alert>, Error> {
        self.0.all_pages(&["v1", "customers", customer_id, "alerts"]).await
    }

    /// Deletes the alert; a retry that finds it gone (404) is a success.
    pub async fn delete(&self, customer_id: &str, alert_id: &str) -> Result<(), Error> {
        match self.0.delete(&["v1", "customers", customer_id, "alerts", alert_id]).await {
            Err(f) if f.retried && f.error.status == Some(404) && f.error.code != "unknown_customer" => Ok(()),
            other => Ok(other?),
        }
    }
}

/// `Option::<&()>::None` for a `POST` without a body.
const NO_BODY: Option<&()> = None;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_grant_sends_exact_money_and_only_what_is_set() {
        let d: rust_decimal::Decimal = "100.50".parse().unwrap();
        let g = CreditGrantInput::new("Prepaid", d).priority(10).expires_at("2027-01-01T00:00:00Z");
        assert_eq!(
            serde_json::to_value(&g).unwrap(),
            json!({"amount": "100.5", "name": "Prepaid", "priority": 10, "expires_at": "2027-01-01T00:00:00Z"})
        );
        assert_eq!(serde_json::to_value(CreditGrantInput::new("x", "0.01")).unwrap()["amount"], "0.01");
    }

    #[test]
    fn alerts_name_a_metric_only_for_usage() {
        assert_eq!(
            serde_json::to_value(AlertInput::usage("80%", "ocr", 800u32)).unwrap(),
            json!({"name": "80%", "kind": "usage", "metric_code": "ocr", "threshold": "800"})
        );
        assert_eq!(
            serde_json::to_value(AlertInput::credit_balance("low", "10.00")).unwrap(),
            json!({"name": "low", "kind": "credit_balance", "threshold": "10.00"})
        );
    }

    #[test]
    fn an_alert_webhook_reads_as_sent() {
        let body = br#"{"id": "evt_alert_1", "type": "alert.triggered", "created_at": "2026-12-07T10:00:00Z",
            "data": {"alert_id": "alr_1", "customer_id": "cus_1", "kind": "credit_balance", "threshold": "10.00",
                     "value": "9.50", "period": {"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}}}"#;
        let e: WebhookEvent<AlertTriggered> = serde_json::from_slice(body).unwrap();
        assert_eq!((e.id.as_str(), e.event_type.as_str()), ("evt_alert_1", "alert.triggered"));
        assert_eq!((e.data.kind, e.data.value.as_str()), (AlertKind::CreditBalance, "9.50"));
    }

    #[test]
    fn a_balance_and_a_grant_read_from_the_wire() {
        let b: Balance = serde_json::from_value(json!({
            "customer_id": "cus_1", "currency": "USD", "as_of": "2026-12-07T10:00:00Z",
            "credits": {"remaining": "100.00", "pending_draw": "4.28", "available": "95.72"},
            "period": {"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
            "period_total": "4.28", "amount_due_so_far": "0.00"
        }))
        .unwrap();
        assert_eq!(b.credits.available, "95.72");
        let g: CreditGrant = serde_json::from_value(json!({
            "id": "cg_1", "customer_id": "cus_1", "name": "n", "amount": "5.00", "remaining": "5.00",
            "priority": 100, "effective_at": "2026-12-01T00:00:00Z", "expires_at": null, "status": "frozen",
            "created_at": "2026-12-01T00:00:00Z", "voided_at": null
        }))
        .unwrap();
        assert_eq!(g.status, CreditGrantStatus::Unknown);
    }
}
