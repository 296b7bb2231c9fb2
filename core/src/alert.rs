//! Alerts (API.md, "Alerts"): a threshold on a customer's usage, spend or available
//! credit, and the decision to fire it.
//!
//! `usage` and `spend` fire once per service period, when the period's quantity or total
//! reaches the threshold; `credit_balance` fires once per crossing, when the available
//! credit falls to or below it, and is armed again when the balance rises above. The
//! customer's machine observes the values in the same transaction as the change that
//! moved them and asks [`Alert::observe`] whether to fire; the alert keeps what it needs
//! (the periods it fired in, whether it is armed) so that a retry, a concurrent batch or a
//! restart never fires it twice.

use crate::credit::parse_money_field;
use crate::currency::Currency;
use crate::error::{ApiError, ErrorCode};
use crate::ingest::valid_name;
use crate::input::{decimal_text, Fields};
use crate::metric::MetricDef;
use crate::period::Period;
use crate::quantity;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What an alert watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A metric's quantity in a period reaches the threshold.
    Usage,
    /// A period's total reaches the threshold.
    Spend,
    /// The available credit falls to or below the threshold.
    CreditBalance,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Usage => "usage",
            AlertKind::Spend => "spend",
            AlertKind::CreditBalance => "credit_balance",
        }
    }
}

/// An alert as stored: its definition and its firing state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub kind: AlertKind,
    pub metric_code: Option<String>,
    pub threshold: Decimal,
    pub created_at: Timestamp,
    pub last_triggered_at: Option<Timestamp>,
    /// The value that fired it last, as the webhook gave it.
    pub last_value: Option<String>,
    /// `usage`, `spend`: the starts of the open periods it fired in (final ones are
    /// dropped: they never change again).
    #[serde(default)]
    pub fired: Vec<Timestamp>,
    /// `credit_balance`: whether it may fire (false after firing until the balance rises
    /// above the threshold).
    #[serde(default)]
    pub armed: bool,
    /// `credit_balance`: how many times it fired; names each crossing's event.
    #[serde(default)]
    pub crossings: u64,
}

/// An alert as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub kind: AlertKind,
    pub metric_code: Option<String>,
    pub threshold: String,
    pub created_at: Timestamp,
    pub last_triggered_at: Option<Timestamp>,
    pub last_value: Option<String>,
}

/// What an alert is shown: the value it watches, and the period it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub period: Period,
    pub value: Decimal,
}

/// An alert that fired: the `alert.triggered` event to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triggered {
    /// `evt_alert_…`: derived from the alert and the period or crossing, so queueing it
    /// again is harmless and a receiver can dedupe on it.
    pub event_id: String,
    pub alert_id: String,
    pub kind: AlertKind,
    pub threshold: String,
    pub value: String,
    pub period: Period,
}

impl Alert {
    /// Whether `obs` fires the alert; records the firing (or the re-arming) in the alert.
    /// `currency` writes money values; `now` is when it fired.
    pub fn observe(&mut self, obs: &Observation, currency: Currency, now: Timestamp) -> Option<Triggered> {
        let fire = match self.kind {
            AlertKind::Usage | AlertKind::Spend => {
                obs.value >= self.threshold && !self.fired.contains(&obs.period.start)
            }
            AlertKind::CreditBalance => {
                if obs.value > self.threshold {
                    self.armed = true;
                    false
                } else {
                    self.armed
                }
            }
        };
        if !fire {
            return None;
        }
        let suffix = self.id.strip_prefix("alr_").unwrap_or(&self.id);
        let event_id = match self.kind {
            AlertKind::CreditBalance => {
                self.armed = false;
                self.crossings += 1;
                format!("evt_alert_{suffix}_c{}", self.crossings)
            }
            _ => {
                self.fired.push(obs.period.start);
                format!("evt_alert_{suffix}_{}", obs.period.start.millis())
            }
        };
        let value = self.text(obs.value, currency);
        self.last_triggered_at = Some(now);
        self.last_value = Some(value.clone());
        Some(Triggered {
            event_id,
            alert_id: self.id.clone(),
            kind: self.kind,
            threshold: self.text(self.threshold, currency),
            value,
            period: obs.period,
        })
    }

    /// Forgets the firings of final periods (before `closed_before`).
    pub fn forget_before(&mut self, closed_before: Timestamp) {
        self.fired.retain(|p| *p >= closed_before);
    }

    /// A value as the alert's kind writes it: a quantity, or money with the currency's
    /// digits.
    fn text(&self, v: Decimal, currency: Currency) -> String {
        match self.kind {
            AlertKind::Usage => quantity::format(v),
            _ => crate::credit::money_text(v, currency),
        }
    }

    pub fn view(&self, currency: Currency) -> AlertView {
        AlertView {
            id: self.id.clone(),
            customer_id: self.customer_id.clone(),
            name: self.name.clone(),
            kind: self.kind,
            metric_code: self.metric_code.clone(),
            threshold: self.text(self.threshold, currency),
            created_at: self.created_at,
            last_triggered_at: self.last_triggered_at,
            last_value: self.last_value.clone(),
        }
    }
}

impl Triggered {
    /// The webhook body: `{"id", "type": "alert.triggered", "created_at", "data":
    /// {"alert_id", "customer_id", "kind", "threshold", "value", "period"}}`.
    pub fn body(&self, customer_id: &str, now: Timestamp) -> String {
        serde_json::json!({
            "id": self.event_id,
            "type": "alert.triggered",
            "created_at": now,
            "data": {
                "alert_id": self.alert_id,
                "customer_id": customer_id,
                "kind": self.kind,
                "threshold": self.threshold,
                "value": self.value,
                "period": {"start": self.period.start, "end": self.period.end},
            }
        })
        .to_string()
    }
}

/// `POST /v1/customers/{id}/alerts`'s body: `{"name", "kind", "metric_code"? (usage),
/// "threshold"}`. A `usage` alert's metric must be one of `metrics`; its threshold is a
/// quantity (a non-negative decimal), the others' money in the customer's currency.
pub fn read_alert(
    body: &[u8],
    metrics: &[MetricDef],
    currency: Currency,
    id: String,
    customer_id: String,
    now: Timestamp,
) -> Result<Alert, ApiError> {
    let mut f = Fields::parse(body)?;
    let name = f.req_str("name")?;
    if !valid_name(&name, 256) || name.trim().is_empty() {
        return Err(f.invalid("name", "`name` must be 1 to 256 characters"));
    }
    let kind = match f.req_str("kind")?.as_str() {
        "usage" => AlertKind::Usage,
        "spend" => AlertKind::Spend,
        "credit_balance" => AlertKind::CreditBalance,
        _ => return Err(f.invalid("kind", "`kind` must be usage, spend or credit_balance")),
    };
    let metric_code = f.opt_str("metric_code")?;
    let threshold = f.req_value("threshold")?;
    f.finish()?;
    let threshold = match kind {
        AlertKind::Usage => decimal_text(&threshold)
            .and_then(|t| Decimal::from_str(&t).ok())
            .filter(|d| *d >= Decimal::ZERO)
            .ok_or_else(|| ApiError::invalid("threshold", "`threshold` must be a non-negative decimal"))?,
        _ => parse_money_field(&threshold, "threshold", currency, false)?,
    };
    match (kind, &metric_code) {
        (AlertKind::Usage, None) => {
            return Err(ApiError::new(ErrorCode::MissingField, "a usage alert needs `metric_code`").field("metric_code"))
        }
        (AlertKind::Usage, Some(code)) if !metrics.iter().any(|m| &m.code == code) => {
            return Err(
                ApiError::new(ErrorCode::UnknownMetric, format!("no metric with code `{code}`")).field("metric_code")
            )
        }
        (AlertKind::Spend | AlertKind::CreditBalance, Some(_)) => {
            return Err(ApiError::invalid("metric_code", "only a usage alert has `metric_code`"))
        }
        _ => {}
    }
    Ok(Alert {
        id,
        customer_id,
        name,
        kind,
        metric_code,
        threshold,
        created_at: now,
        last_triggered_at: None,
        last_value: None,
        fired: Vec::new(),
        armed: true,
        crossings: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: AlertKind, threshold: i64) -> Alert {
        read_alert(
            format!(r#"{{"name": "a", "kind": "{}", "threshold": "{threshold}"}}"#, kind.as_str()).as_bytes(),
            &[],
            Currency::USD,
            "alr_1".into(),
            "cus_1".into(),
            Timestamp(0),
        )
        .unwrap()
    }

    fn obs(start: i64, value: i64) -> Observation {
        Observation {
            period: Period { start: Timestamp(start), end: Timestamp(start + 10) },
            value: Decimal::from(value),
        }
    }

    #[test]
    fn spend_fires_once_per_period() {
        let mut a = alert(AlertKind::Spend, 10);
        assert!(a.observe(&obs(0, 9), Currency::USD, Timestamp(1)).is_none());
        let t = a.observe(&obs(0, 10), Currency::USD, Timestamp(2)).unwrap();
        assert_eq!((t.value.as_str(), t.threshold.as_str()), ("10.00", "10.00"));
        assert!(a.observe(&obs(0, 20), Currency::USD, Timestamp(3)).is_none());
        assert!(a.observe(&obs(10, 20), Currency::USD, Timestamp(4)).is_some());
    }

    #[test]
    fn credit_balance_fires_once_per_crossing() {
        let mut a = alert(AlertKind::CreditBalance, 10);
        let ids: Vec<Option<String>> = [20, 10, 5, 0, 11, 3, 3]
            .iter()
            .map(|v| a.observe(&obs(0, *v), Currency::USD, Timestamp(1)).map(|t| t.event_id))
            .collect();
        assert_eq!(ids, [None, Some("evt_alert_1_c1".into()), None, None, None, Some("evt_alert_1_c2".into()), None]);
    }

    #[test]
    fn a_usage_alert_names_a_known_metric() {
        let e = read_alert(
            br#"{"name": "a", "kind": "usage", "threshold": "5"}"#,
            &[],
            Currency::USD,
            "alr_1".into(),
            "c".into(),
            Timestamp(0),
        );
        assert_eq!(e.unwrap_err().field.as_deref(), Some("metric_code"));
        let e = read_alert(
            br#"{"name": "a", "kind": "spend", "threshold": "5.001"}"#,
            &[],
            Currency::USD,
            "a".into(),
            "c".into(),
            Timestamp(0),
        );
        assert_eq!(e.unwrap_err().code, ErrorCode::InvalidAmount);
        let e = read_alert(
            br#"{"name": "a", "kind": "nope", "threshold": "5"}"#,
            &[],
            Currency::USD,
            "a".into(),
            "c".into(),
            Timestamp(0),
        );
        assert_eq!(e.unwrap_err().field.as_deref(), Some("kind"));
    }
}
