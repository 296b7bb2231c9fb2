//! API.md "Invoices" and "Usage and upcoming invoice" (upcoming). Each invoice lives in
//! its customer's object; the catalog keeps a directory copy for account-wide lists and
//! for finding an invoice's customer from its id.

use super::{call, catalog_stub, customer_stub, decode, enum_param, list_params, metric_defs, query_value};
use crate::front::Ctx;
use crate::protocol::{customer, customer_call, Ack, CatalogCall, InvoiceOwner};
use crate::respond::Reply;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::{ApiError, ErrorCode};
use serde_json::{json, Value};

/// `GET /v1/invoices?customer_id=&status=`.
pub async fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let status =
        enum_param(query, "status", InvoiceStatus::parse, "`status` must be draft, pending_approval, sent or void")?;
    match query_value(query, "customer_id").filter(|c| !c.is_empty()) {
        Some(customer_id) => {
            let reply =
                customer_call(&customer_stub(&ctx.env, customer_id)?, customer::ListInvoices { status }).await?;
            let data: Vec<Value> = decode(&reply)?;
            Reply::json(200, &json!({"data": data, "next_cursor": null}))
        }
        None => {
            let (limit, cursor) = list_params(query)?;
            call(&catalog_stub(&ctx.env)?, &CatalogCall::ListInvoices { limit, cursor, status }).await
        }
    }
}

/// The customer an invoice belongs to, or 404.
pub(super) async fn owner(ctx: &Ctx, id: &str) -> Result<String, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, format!("no invoice `{id}`"));
    if !edgemeter_core::id::is_id(id, "inv") {
        return Err(not_found());
    }
    let reply = call(&catalog_stub(&ctx.env)?, &CatalogCall::InvoiceOwner { id: id.to_owned() }).await?;
    Ok(decode::<InvoiceOwner>(&reply)?.customer_id)
}

pub async fn get(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let customer = owner(ctx, id).await?;
    customer_call(&customer_stub(&ctx.env, &customer)?, customer::GetInvoice { id: id.to_owned() }).await
}

/// `POST /v1/invoices/{id}/approve` (`approve`) and `/void`.
pub async fn transition(ctx: &Ctx, id: &str, approve: bool) -> Result<Reply, ApiError> {
    let customer = owner(ctx, id).await?;
    let (now, id) = (ctx.now, id.to_owned());
    let stub = customer_stub(&ctx.env, &customer)?;
    let reply = if approve {
        customer_call(&stub, customer::Approve { now, id }).await?
    } else {
        customer_call(&stub, customer::VoidInvoice { now, id }).await?
    };
    if reply.ok() {
        let inv: Invoice = decode(&reply)?;
        decode::<Ack>(&call(&catalog_stub(&ctx.env)?, &CatalogCall::PutInvoices { invoices: vec![inv] }).await?)?;
    }
    Ok(reply)
}

/// `GET /v1/customers/{id}/invoices/upcoming`: the current period as if it ended now.
pub async fn upcoming(ctx: &Ctx, customer_id: &str) -> Result<Reply, ApiError> {
    let metrics = metric_defs(&ctx.env).await?;
    let stub = super::customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::Upcoming { now: ctx.now, metrics }).await
}
