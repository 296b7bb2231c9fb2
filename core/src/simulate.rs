//! `POST /v1/customers/{id}/simulate` (API.md, "Checking an invoice"): the invoice a
//! period would have produced under other items, from its stored events. This module
//! reads the request; the customer's machine answers it (`machine::customer`'s checks).

use crate::currency::Currency;
use crate::error::{ApiError, ErrorCode};
use crate::input::{Fields, Problems};
use crate::item::{Item, ItemInput};
use crate::metric::MetricDef;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most items one simulation prices.
pub const MAX_SIMULATED_ITEMS: usize = 500;

/// A simulation's request, read and checked: its items are items as
/// `POST /v1/customers/{id}/items` would create them (ids `sim_1`, `sim_2`, … in
/// request order), each naming a metric that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    pub items: Vec<Item>,
    /// A time in the period to simulate; `None` for the period containing "now".
    pub period_start: Option<Timestamp>,
}

impl Simulation {
    /// Reads the body: `{"items": [item specs], "period_start"?}`. Each item is checked
    /// exactly as item creation checks it, its problems named under `items[i]`; the first
    /// problem is answered.
    pub fn from_body(body: &[u8], metrics: &[MetricDef], customer_id: &str, now: Timestamp) -> Result<Self, ApiError> {
        let mut f = Fields::parse(body)?;
        let mut p = Problems::default();
        let list = p.keep(f.req_value("items").and_then(|v| match v {
            Value::Array(list) if (1..=MAX_SIMULATED_ITEMS).contains(&list.len()) => Ok(list),
            _ => {
                Err(ApiError::invalid("items", format!("`items` must be an array of 1 to {MAX_SIMULATED_ITEMS} items")))
            }
        }));
        let period_start = p
            .keep(match f.take("period_start") {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Timestamp::parse_rfc3339(&s).map(Some).map_err(|_| {
                    ApiError::new(ErrorCode::InvalidTimestamp, "`period_start` must be an RFC 3339 time with an offset")
                        .field("period_start")
                }),
                Some(_) => Err(ApiError::invalid("period_start", "`period_start` must be an RFC 3339 time")),
            })
            .flatten();
        p.0.extend(f.unknown());
        let mut items = Vec::new();
        for (i, v) in list.unwrap_or_default().into_iter().enumerate() {
            let at = format!("items[{i}]");
            let input = match Fields::part(v, at.clone()) {
                Err(e) => {
                    p.push(e);
                    continue;
                }
                Ok(part) => match ItemInput::read(part) {
                    Err(problems) => {
                        p.nest(&at, problems);
                        continue;
                    }
                    Ok(input) => input,
                },
            };
            let event_name = match &input.metric_code {
                None => None,
                Some(code) => match metrics.iter().find(|m| &m.code == code) {
                    Some(m) => Some(m.event_name.clone()),
                    None => {
                        p.push(
                            ApiError::new(ErrorCode::UnknownMetric, format!("no metric with code `{code}`"))
                                .field(format!("{at}.metric_code")),
                        );
                        continue;
                    }
                },
            };
            items.push(input.into_item(format!("sim_{}", i + 1), customer_id, event_name, now));
        }
        match p.0.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(Simulation { items, period_start }),
        }
    }
}

/// The answer: the invoice the period would have produced. It is no invoice: no id,
/// number or lifecycle times; `status` is always `simulated`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatedInvoice {
    pub customer_id: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub status: String,
    pub currency: Currency,
    pub lines: Value,
    pub subtotal: String,
    pub total: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_digest: Option<String>,
}

impl SimulatedInvoice {
    pub fn of(inv: crate::invoice::Invoice) -> SimulatedInvoice {
        SimulatedInvoice {
            customer_id: inv.customer_id,
            period_start: inv.period_start,
            period_end: inv.period_end,
            status: "simulated".into(),
            currency: inv.currency,
            lines: inv.lines,
            subtotal: inv.subtotal,
            total: inv.total,
            usage_digest: inv.usage_digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Aggregation;

    fn metrics() -> Vec<MetricDef> {
        vec![MetricDef {
            code: "calls".into(),
            name: "Calls".into(),
            event_name: "call".into(),
            aggregation: Aggregation::Count,
            field: None,
            filters: Default::default(),
        }]
    }

    fn read(body: &str) -> Result<Simulation, ApiError> {
        Simulation::from_body(body.as_bytes(), &metrics(), "cus_1", Timestamp(0))
    }

    #[test]
    fn items_are_checked_as_item_creation_checks_them() {
        let ok = read(
            r#"{"items": [{"name": "Calls", "kind": "usage", "metric_code": "calls",
                "price": {"model": "per_unit", "unit_amount": "0.01"}}], "period_start": "2026-11-01T00:00:00Z"}"#,
        )
        .expect("a valid simulation");
        assert_eq!(ok.items[0].id, "sim_1");
        assert_eq!(ok.items[0].event_name.as_deref(), Some("call"));
        let cases = [
            (r#"{"items": []}"#, "items", ErrorCode::InvalidField),
            (r#"{}"#, "items", ErrorCode::MissingField),
            (
                r#"{"items": [{"name": "x", "kind": "usage", "metric_code": "nope", "price": {"model": "per_unit", "unit_amount": "1"}}]}"#,
                "items[0].metric_code",
                ErrorCode::UnknownMetric,
            ),
            (
                r#"{"items": [{"name": "x", "kind": "usage", "metric_code": "calls", "price": {"model": "per_unit", "unit_amount": "-1"}}]}"#,
                "items[0].price.unit_amount",
                ErrorCode::InvalidField,
            ),
            (
                r#"{"items": [{"name": "x", "kind": "fixed", "price": {"model": "fixed", "amount": "1"}}], "period_start": "2026-11-01"}"#,
                "period_start",
                ErrorCode::InvalidTimestamp,
            ),
            (
                r#"{"items": [{"name": "x", "kind": "fixed", "price": {"model": "fixed", "amount": "1"}}], "extra": 1}"#,
                "extra",
                ErrorCode::UnknownField,
            ),
        ];
        for (body, field, code) in cases {
            let e = read(body).expect_err(body);
            assert_eq!((e.code, e.field.as_deref()), (code, Some(field)), "{body}");
        }
    }
}
