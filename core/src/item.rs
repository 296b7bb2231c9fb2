//! Items (API.md, "Items"): what a customer is charged for, a usage metric or a fixed fee,
//! with its price.

use crate::error::{ApiError, ErrorCode};
use crate::ingest::valid_name;
use crate::input::Fields;
use crate::pricing::{parse_money, Price};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Usage,
    Fixed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub kind: ItemKind,
    pub metric_code: Option<String>,
    /// The event name that feeds the metric, so a client knows what it may send.
    pub event_name: Option<String>,
    pub price: Price,
    pub minimum: Option<Decimal>,
    pub created_at: Timestamp,
}

/// `POST /v1/customers/{id}/items`'s body, checked except for the metric's existence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemInput {
    pub name: String,
    pub kind: ItemKind,
    pub metric_code: Option<String>,
    pub price: Price,
    pub minimum: Option<Decimal>,
}

impl ItemInput {
    pub fn from_body(body: &[u8]) -> Result<ItemInput, ApiError> {
        let mut f = Fields::parse(body)?;
        let name = f.req_str("name")?;
        if !valid_name(&name, 256) || name.trim().is_empty() {
            return Err(f.invalid("name", "`name` must be 1 to 256 characters"));
        }
        let kind = match f.req_str("kind")?.as_str() {
            "usage" => ItemKind::Usage,
            "fixed" => ItemKind::Fixed,
            _ => return Err(f.invalid("kind", "`kind` must be usage or fixed")),
        };
        let metric_code = f.opt_str("metric_code")?;
        let price = Price::from_value(f.req_value("price")?)?;
        let minimum = match f.take("minimum") {
            None => None,
            Some(v) => Some(parse_money(&v).ok_or_else(|| f.invalid("minimum", "`minimum` must be a decimal string"))?),
        };
        f.finish()?;
        match (kind, &metric_code, &price) {
            (ItemKind::Usage, None, _) => {
                return Err(
                    ApiError::new(ErrorCode::MissingField, "a usage item needs `metric_code`").field("metric_code")
                )
            }
            (ItemKind::Usage, Some(_), Price::Fixed { .. }) => {
                return Err(ApiError::invalid("price.model", "a usage item takes a usage price, not `fixed`"))
            }
            (ItemKind::Fixed, Some(_), _) => {
                return Err(ApiError::invalid("metric_code", "a fixed item has no `metric_code`"))
            }
            (ItemKind::Fixed, None, p) if !matches!(p, Price::Fixed { .. }) => {
                return Err(ApiError::invalid("price.model", "a fixed item takes `{\"model\": \"fixed\"}`"))
            }
            _ => {}
        }
        Ok(ItemInput { name, kind, metric_code, price, minimum })
    }
}
