//! Alerts (API.md, "Alerts"): create, list, delete, and the evaluation every change that
//! can cross a threshold runs in its own transaction (an ingest batch, a grant created or
//! voided, an invoicing run, an invoice voided, an alert created).
//!
//! A customer without alerts pays nothing for them on ingest: [`evaluate`] returns at
//! once. With alerts, `usage` reads the book's open aggregates, and `spend` and
//! `credit_balance` price the open periods from them ([`super::credits::snapshot`]).
//! A firing is written with the alert and its `alert.triggered` delivery is queued in the
//! outbox in the same transaction, under an id derived from the alert and the period or
//! crossing: a concurrent batch sees the alert already fired, a retried call finds the
//! delivery queued.

use super::credits::{open_periods, snapshot, Credits};
use super::{json, CustomerMachine, CustomerStore, Handled};
use crate::alert::{read_alert, AlertKind, Observation};
use crate::book::Book;
use crate::credit;
use crate::metric::MetricDef;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Alerts.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertCall {
    Create(CreateAlert),
    List(ListAlerts),
    Delete(DeleteAlert),
}

/// A new alert from a request body, with the account's metrics (a `usage` alert names
/// one); `id` is the front's, as for grants.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateAlert {
    pub now: Timestamp,
    pub id: String,
    pub body: String,
    pub metrics: Vec<MetricDef>,
}

/// A page of alerts by id, after `cursor`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListAlerts {
    #[serde(default = "super::credits::default_limit")]
    pub limit: usize,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteAlert {
    pub id: String,
}

/// The answer to a delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDeleted {
    pub id: String,
    pub deleted: bool,
}

impl CustomerMachine {
    pub(super) fn alert_call(&mut self, call: AlertCall, store: &mut impl CustomerStore) -> Result<Handled, ApiError> {
        let webhooks = self.webhooks;
        let (book, credits) = self.parts(store)?;
        let currency = book.customer().currency;
        match call {
            AlertCall::Create(c) => {
                if let Some(a) = credits.alerts.iter().find(|a| a.id == c.id) {
                    return json(201, &a.view(currency));
                }
                let customer_id = book.customer().id.clone();
                let alert = read_alert(c.body.as_bytes(), &c.metrics, currency, c.id.clone(), customer_id, c.now)?;
                store.put_alert(&alert)?;
                credits.alerts.push(alert);
                // An alert whose threshold is already reached fires now, once.
                let queued = evaluate(book, credits, store, c.now, webhooks)?;
                let alert =
                    credits.alerts.iter().find(|a| a.id == c.id).ok_or_else(|| {
                        ApiError::new(ErrorCode::InternalError, "an alert just created is not in memory")
                    })?;
                let mut handled = json(201, &alert.view(currency))?;
                handled.deliver = queued.then_some(c.now);
                Ok(handled)
            }
            AlertCall::List(l) => {
                let page = super::credits::page_by_id(
                    &credits.alerts,
                    |a| &a.id,
                    l.limit,
                    l.cursor.as_deref(),
                    |a| a.view(currency),
                );
                json(200, &page)
            }
            AlertCall::Delete(d) => {
                let at = credits
                    .alerts
                    .iter()
                    .position(|a| a.id == d.id)
                    .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such alert"))?;
                store.delete_alert(&d.id)?;
                credits.alerts.remove(at);
                json(200, &AlertDeleted { id: d.id, deleted: true })
            }
        }
    }
}

impl CustomerMachine {
    /// [`evaluate`] after a change the caller made (an ingest batch): nothing to do, and
    /// nothing read, for a customer without alerts once they are in memory.
    pub(super) fn evaluate_alerts(&mut self, store: &mut impl CustomerStore, now: Timestamp) -> Result<bool, ApiError> {
        let webhooks = self.webhooks;
        let (book, credits) = self.parts(store)?;
        evaluate(book, credits, store, now, webhooks)
    }
}

/// Shows every alert the values it watches at `now`, fires those that cross, writes the
/// alerts that changed and queues their deliveries (when webhooks are configured).
/// Whether any delivery was queued.
pub(crate) fn evaluate(
    book: &Book,
    credits: &mut Credits,
    store: &mut impl CustomerStore,
    now: Timestamp,
    webhooks: bool,
) -> Result<bool, ApiError> {
    if credits.alerts.is_empty() {
        return Ok(false);
    }
    let currency = book.customer().currency;
    let customer_id = book.customer().id.clone();
    let priced = credits.alerts.iter().any(|a| a.kind != AlertKind::Usage);
    let snap = if priced { Some(snapshot(book, &credits.grants, store, now)?) } else { None };
    let metrics = book.metrics();
    let periods = open_periods(book, now);
    let mut queued = false;
    for alert in credits.alerts.iter_mut() {
        let before = alert.clone();
        if let Some(c) = book.closed_before() {
            alert.forget_before(c);
        }
        let observations: Vec<Observation> = match (alert.kind, &snap) {
            (AlertKind::Usage, _) => {
                let Some(m) = metrics.iter().find(|m| Some(&m.code) == alert.metric_code.as_ref()) else {
                    continue;
                };
                periods
                    .iter()
                    .filter_map(|p| {
                        let states = book.usage(std::slice::from_ref(m), *p)?;
                        Some(Observation { period: *p, value: states[0].quantity() })
                    })
                    .collect()
            }
            (AlertKind::Spend, Some(s)) => s
                .periods
                .iter()
                .map(|inv| Observation {
                    period: crate::period::Period { start: inv.period_start, end: inv.period_end },
                    value: credit::parse_amount(&inv.total).unwrap_or(Decimal::ZERO),
                })
                .collect(),
            (AlertKind::CreditBalance, Some(s)) => vec![Observation { period: s.current, value: s.available() }],
            _ => Vec::new(),
        };
        for obs in &observations {
            if let Some(t) = alert.observe(obs, currency, now) {
                if webhooks {
                    store.enqueue(&t.event_id, &t.body(&customer_id, now), now)?;
                    queued = true;
                }
            }
        }
        if *alert != before {
            store.put_alert(alert)?;
        }
    }
    Ok(queued)
}
