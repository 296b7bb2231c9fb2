//! Items (API.md, "Items"): what a customer is charged for, a usage metric or a fixed fee,
//! with its price.

use crate::error::{ApiError, ErrorCode};
use crate::ingest::valid_name;
use crate::input::{Fields, Problems};
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
    /// The item this input makes for a customer; `event_name` is its metric's (the
    /// caller looked the metric up), `id` and `now` the caller's.
    pub fn into_item(self, id: String, customer_id: &str, event_name: Option<String>, now: Timestamp) -> Item {
        Item {
            id,
            customer_id: customer_id.to_owned(),
            name: self.name,
            kind: self.kind,
            metric_code: self.metric_code,
            event_name,
            price: self.price,
            minimum: self.minimum,
            created_at: now,
        }
    }

    /// Reads a request body, answering its first problem.
    pub fn from_body(body: &[u8]) -> Result<ItemInput, ApiError> {
        ItemInput::read(Fields::parse(body)?).map_err(|mut problems| problems.swap_remove(0))
    }

    /// Reads an item, reporting every problem (each field's first), with fields named
    /// as the object's own (`price.tiers[1].unit_amount`): a contract prefixes them.
    pub fn read(mut f: Fields) -> Result<ItemInput, Vec<ApiError>> {
        let mut problems = Problems::default();
        let name = problems.keep(f.req_str("name").and_then(|name| {
            if !valid_name(&name, 256) || name.trim().is_empty() {
                return Err(f.invalid("name", "`name` must be 1 to 256 characters"));
            }
            Ok(name)
        }));
        let kind = problems.keep(f.req_str("kind").and_then(|kind| match kind.as_str() {
            "usage" => Ok(ItemKind::Usage),
            "fixed" => Ok(ItemKind::Fixed),
            _ => Err(f.invalid("kind", "`kind` must be usage or fixed")),
        }));
        let metric_code = problems.keep(f.opt_str("metric_code")).flatten();
        let price = problems.keep(f.req_value("price").and_then(Price::from_value));
        let minimum = problems
            .keep(match f.take("minimum") {
                None => Ok(None),
                Some(v) => {
                    parse_money(&v).map(Some).ok_or_else(|| f.invalid("minimum", "`minimum` must be a decimal string"))
                }
            })
            .flatten();
        problems.0.extend(f.unknown());
        if let (Some(kind), Some(price)) = (kind, &price) {
            match (kind, &metric_code, price) {
                (ItemKind::Usage, None, _) => problems.push(
                    ApiError::new(ErrorCode::MissingField, "a usage item needs `metric_code`").field("metric_code"),
                ),
                (ItemKind::Usage, Some(_), Price::Fixed { .. }) => {
                    problems.push(ApiError::invalid("price.model", "a usage item takes a usage price, not `fixed`"))
                }
                (ItemKind::Fixed, Some(_), _) => {
                    problems.push(ApiError::invalid("metric_code", "a fixed item has no `metric_code`"))
                }
                (ItemKind::Fixed, None, p) if !matches!(p, Price::Fixed { .. }) => {
                    problems.push(ApiError::invalid("price.model", "a fixed item takes `{\"model\": \"fixed\"}`"))
                }
                _ => {}
            }
        }
        match (name, kind, price) {
            (Some(name), Some(kind), Some(price)) if problems.is_empty() => {
                Ok(ItemInput { name, kind, metric_code, price, minimum })
            }
            _ => Err(problems.0),
        }
    }
}
