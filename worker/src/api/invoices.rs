//! API.md "Invoices" and "Usage and upcoming invoice" (upcoming). Each invoice lives in
//! its customer's object; the catalog keeps a directory copy for account-wide lists and
//! for finding an invoice's customer from its id.

use super::{call, catalog_stub, customer_stub, decode, list_params, metric_defs, query_value};
use crate::respond::Reply;
use crate::Ctx;
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::{ApiError, ErrorCode};
use serde_json::{json, Value};

fn status_param(query: &[(String, String)]) -> Result<Option<String>, ApiError> {
    match query_value(query, "status") {
        None | Some("") => Ok(None),
        Some(s) => InvoiceStatus::parse(s)
            .map(|st| Some(st.as_str().to_owned()))
            .ok_or_else(|| ApiError::invalid("status", "`status` must be draft, pending_approval, sent or void")),
    }
}

/// `GET /v1/invoices?customer_id=&status=`.
pub async fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let status = status_param(query)?;
    match query_value(query, "customer_id").filter(|c| !c.is_empty()) {
        Some(customer_id) => {
            let reply = call(
                &customer_stub(&ctx.env, customer_id)?,
                "invoices/list",
                &json!({"now": ctx.now, "status": status}),
            )
            .await?;
            let data: Vec<Value> = decode(&reply)?;
            Reply::json(200, &json!({"data": data, "next_cursor": null}))
        }
        None => {
            let (limit, cursor) = list_params(query)?;
            call(
                &catalog_stub(&ctx.env)?,
                "invoices/list",
                &json!({"limit": limit, "cursor": cursor, "status": status}),
            )
            .await
        }
    }
}

/// The customer an invoice belongs to, or 404.
async fn owner(ctx: &Ctx, id: &str) -> Result<String, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, format!("no invoice `{id}`"));
    if !edgemeter_core::id::is_id(id, "inv") {
        return Err(not_found());
    }
    let reply = call(&catalog_stub(&ctx.env)?, "invoices/owner", &json!({"id": id})).await?;
    let v: Value = decode(&reply)?;
    v["customer_id"].as_str().map(str::to_owned).ok_or_else(not_found)
}

pub async fn get(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let customer = owner(ctx, id).await?;
    call(&customer_stub(&ctx.env, &customer)?, "invoices/get", &json!({"now": ctx.now, "id": id})).await
}

/// `POST /v1/invoices/{id}/approve` and `/void`.
pub async fn transition(ctx: &Ctx, id: &str, op: &str) -> Result<Reply, ApiError> {
    let customer = owner(ctx, id).await?;
    let reply = call(&customer_stub(&ctx.env, &customer)?, op, &json!({"now": ctx.now, "id": id})).await?;
    if reply.ok() {
        let inv: Value = decode(&reply)?;
        decode::<Value>(&call(&catalog_stub(&ctx.env)?, "invoices/put", &[inv]).await?)?;
    }
    Ok(reply)
}

/// `GET /v1/customers/{id}/invoices/upcoming`: the current period as if it ended now.
pub async fn upcoming(ctx: &Ctx, customer_id: &str) -> Result<Reply, ApiError> {
    let metrics = metric_defs(&ctx.env).await?;
    let stub = customer_stub(&ctx.env, customer_id).map_err(|e| ApiError { field: None, ..e })?;
    call(&stub, "invoices/upcoming", &json!({"now": ctx.now, "metrics": metrics})).await
}
