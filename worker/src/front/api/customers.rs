//! API.md "Customers": create, get, list, patch.

use super::list_params;
use super::{call, catalog_stub, customer, customer_call, customer_on_path, customer_stub, decode, fresh_id};
use crate::front::Ctx;
use crate::protocol::{Ack, CatalogCall};
use crate::respond::Reply;
use edgemeter_core::customer::{Customer, CustomerInput};
use edgemeter_core::ApiError;

pub async fn create(ctx: &Ctx, body: &[u8]) -> Result<Reply, ApiError> {
    let customer = CustomerInput::from_body(body, ctx.now)?.create(fresh_id("cus", ctx)?, ctx.now)?;
    // The customer's own object is the authority; the directory copy only serves lists.
    let reply = customer_call(&customer_stub(&ctx.env, &customer.id)?, customer::Create { customer }).await?;
    let created: Customer = decode(&reply)?;
    if ctx.fault.as_deref() == Some("after-object") {
        return Err(ApiError::new(
            edgemeter_core::ErrorCode::InternalError,
            format!("fault injected after writing {} and before the directory", created.id),
        ));
    }
    decode::<Ack>(&call(&catalog_stub(&ctx.env)?, &CatalogCall::PutCustomer { customer: created }).await?)?;
    Ok(reply)
}

pub async fn get(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    customer_call(&customer_on_path(&ctx.env, id)?, customer::Get {}).await
}

pub async fn patch(ctx: &Ctx, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let body = std::str::from_utf8(body)
        .map_err(|_| ApiError::new(edgemeter_core::ErrorCode::InvalidJson, "body is not UTF-8"))?;
    // Validate here too, so a bad patch never reaches the object.
    CustomerInput::from_body(body.as_bytes(), ctx.now)?;
    let patch = customer::Patch { now: ctx.now, body: body.to_owned() };
    let reply = customer_call(&customer_on_path(&ctx.env, id)?, patch).await?;
    if reply.ok() {
        let c: Customer = decode(&reply)?;
        decode::<Ack>(&call(&catalog_stub(&ctx.env)?, &CatalogCall::PutCustomer { customer: c }).await?)?;
    }
    Ok(reply)
}

pub async fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let (limit, cursor) = list_params(query)?;
    call(&catalog_stub(&ctx.env)?, &CatalogCall::ListCustomers { limit, cursor }).await
}
