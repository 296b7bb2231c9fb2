//! API.md "Credits and the live balance": a customer's credit grants and its live
//! balance, kept and decided in the customer's own object (`core::machine::customer`'s
//! credits). The balance is one object call: the object prices its in-memory aggregates.

use super::{customer_call, customer_on_path, fresh_id};
use crate::front::auth::Principal;
use crate::front::metrics_cache::metrics_for_ingest;
use crate::front::Ctx;
use crate::protocol::customer;
use crate::respond::Reply;
use edgemeter_core::{ApiError, ErrorCode};

/// A JSON body as text for the object, which reads it with the customer's currency.
pub(super) fn body_text(body: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::new(ErrorCode::InvalidJson, "body is not valid JSON: it is not UTF-8"))
}

/// `POST /v1/customers/{id}/credit_grants`.
pub async fn create(ctx: &Ctx, customer_id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let body = body_text(body)?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::CreateGrant { now: ctx.now, id: fresh_id("cg", ctx)?, body }).await
}

/// `limit` and `cursor` of a list whose cursors are ids with `prefix`.
pub(super) fn id_page(query: &[(String, String)], prefix: &str) -> Result<(usize, Option<String>), ApiError> {
    let (limit, cursor) = super::list_params(query)?;
    if cursor.as_deref().is_some_and(|c| !edgemeter_core::id::is_id(c, prefix)) {
        return Err(ApiError::invalid("cursor", "not a cursor this list gave"));
    }
    Ok((limit, cursor))
}

/// `GET /v1/customers/{id}/credit_grants?limit=&cursor=`.
pub async fn list(ctx: &Ctx, customer_id: &str, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let (limit, cursor) = id_page(query, "cg")?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::ListGrants { now: ctx.now, limit, cursor }).await
}

/// `GET /v1/customers/{id}/credit_grants/{grant_id}`.
pub async fn get(ctx: &Ctx, customer_id: &str, grant_id: &str) -> Result<Reply, ApiError> {
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::GetGrant { now: ctx.now, id: grant_id.to_owned() }).await
}

/// `POST /v1/customers/{id}/credit_grants/{grant_id}/void`.
pub async fn void(ctx: &Ctx, customer_id: &str, grant_id: &str) -> Result<Reply, ApiError> {
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::VoidGrant { now: ctx.now, id: grant_id.to_owned() }).await
}

/// `GET /v1/customers/{id}/balance`: secret and ingest keys, and the customer's own token.
pub async fn balance(ctx: &Ctx, principal: &Principal, customer_id: &str) -> Result<Reply, ApiError> {
    principal.require_customer(customer_id)?;
    // The isolate's cached snapshot (`metrics_cache`), never the catalog object: balance
    // reads are frequent, and a metric newer than the cache is back-filled on a later read.
    let metrics = metrics_for_ingest(&ctx.env, ctx.now, false).await?.to_vec();
    customer_call(&customer_on_path(&ctx.env, customer_id)?, customer::GetBalance { now: ctx.now, metrics }).await
}
