//! API.md "Items": a customer's items, kept in the customer's own object.

use super::{all_metrics, ask, customer_stub, fresh_id, query_value};
use crate::front::Ctx;
use crate::protocol::Page;
use crate::protocol::{customer, customer_call};
use crate::respond::Reply;
use edgemeter_core::item::ItemInput;
use edgemeter_core::{ApiError, ErrorCode};

pub async fn create(ctx: &Ctx, customer_id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let input = ItemInput::from_body(body)?;
    let event_name = match &input.metric_code {
        None => None,
        Some(code) => {
            let metrics = all_metrics(&ctx.env).await?;
            let m = metrics.into_iter().find(|m| &m.def.code == code).ok_or_else(|| {
                ApiError::new(ErrorCode::UnknownMetric, format!("no metric with code `{code}`")).field("metric_code")
            })?;
            Some(m.def.event_name)
        }
    };
    let item = input.into_item(fresh_id("item", ctx)?, customer_id, event_name, ctx.now);
    customer_call(&customer_stub(&ctx.env, customer_id)?, customer::CreateItem { item }).await
}

/// `GET /v1/items?customer_id=…`.
pub async fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let customer_id = query_value(query, "customer_id").ok_or_else(|| {
        ApiError::new(ErrorCode::MissingField, "`customer_id` query parameter is required").field("customer_id")
    })?;
    let items = ask(&customer_stub(&ctx.env, customer_id)?, customer::ListItems {}).await?;
    Reply::json(200, &Page { data: items, next_cursor: None })
}
