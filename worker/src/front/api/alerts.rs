//! API.md "Alerts": a customer's alerts, kept, evaluated and delivered by the customer's
//! own object.

use super::credits::body_text;
use super::{customer_call, customer_on_path, fresh_id, metric_defs};
use crate::front::Ctx;
use crate::protocol::customer;
use crate::respond::Reply;
use edgemeter_core::ApiError;

/// `POST /v1/customers/{id}/alerts`; a `usage` alert's metric is checked against the
/// catalog's.
pub async fn create(ctx: &Ctx, customer_id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let body = body_text(body)?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    let metrics = metric_defs(&ctx.env).await?;
    customer_call(&stub, customer::CreateAlert { now: ctx.now, id: fresh_id("alr", ctx)?, body, metrics }).await
}

/// `GET /v1/customers/{id}/alerts?limit=&cursor=`.
pub async fn list(ctx: &Ctx, customer_id: &str, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let (limit, cursor) = super::credits::id_page(query, "alr")?;
    customer_call(&customer_on_path(&ctx.env, customer_id)?, customer::ListAlerts { limit, cursor }).await
}

/// `DELETE /v1/customers/{id}/alerts/{alert_id}`.
pub async fn delete(ctx: &Ctx, customer_id: &str, alert_id: &str) -> Result<Reply, ApiError> {
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::DeleteAlert { id: alert_id.to_owned() }).await
}
