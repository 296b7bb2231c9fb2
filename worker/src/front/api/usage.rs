//! API.md "Usage and upcoming invoice" (usage) and `POST /v1/usage/void`.

use super::{customer_call, customer_stub, metric_defs, query_value};
use crate::front::Ctx;
use crate::protocol::customer;
use crate::respond::Reply;
use edgemeter_core::ingest::canonical_uuid;
use edgemeter_core::input::Fields;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use std::borrow::Cow;

/// `GET /v1/customers/{id}/usage?at=…`, or by day (`…/usage/daily?at=…`).
pub async fn usage(ctx: &Ctx, customer_id: &str, query: &[(String, String)], daily: bool) -> Result<Reply, ApiError> {
    let at = match query_value(query, "at") {
        None => ctx.now,
        Some(s) => Timestamp::parse_rfc3339(s).map_err(|_| {
            ApiError::new(ErrorCode::InvalidTimestamp, "`at` must be RFC 3339 with an offset").field("at")
        })?,
    };
    let metrics = metric_defs(&ctx.env).await?;
    let stub = super::customer_on_path(&ctx.env, customer_id)?;
    if daily {
        customer_call(&stub, customer::Daily { at, metrics }).await
    } else {
        customer_call(&stub, customer::Usage { at, metrics }).await
    }
}

/// `GET /v1/customers/{id}/rejections` (`Some(id)`) and `GET /v1/rejections` (the
/// account's log): the newest rejected events first.
pub async fn rejections(ctx: &Ctx, customer_id: Option<&str>, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let (limit, cursor) = super::list_params(query)?;
    // This log's cursors are positions in it: digits.
    if query_value(query, "cursor")
        .is_some_and(|c| c.is_empty() || c.len() > 15 || !c.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::invalid("cursor", "not a cursor this list gave"));
    }
    let stub = match customer_id {
        Some(id) => super::customer_on_path(&ctx.env, id)?,
        None => crate::protocol::account_log_stub(&ctx.env)?,
    };
    customer_call(&stub, customer::ListRejections { limit, cursor, of_customer: customer_id.is_some() }).await
}

/// `POST /v1/usage/void` `{"idempotency_key", "customer_id"}`. The customer is required:
/// events are stored, and deduped, in their customer's object, and finding a key without
/// it would need a global index on the ingest path.
pub async fn void(ctx: &Ctx, body: &[u8]) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(body)?;
    let key = f.opt_str("idempotency_key")?.ok_or_else(|| {
        ApiError::new(ErrorCode::MissingIdempotencyKey, "`idempotency_key` is required").field("idempotency_key")
    })?;
    let key = canonical_uuid(Cow::Owned(key))
        .ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidIdempotencyKey, "`idempotency_key` must be a UUID").field("idempotency_key")
        })?
        .into_owned();
    let customer_id = f
        .opt_str("customer_id")?
        .ok_or_else(|| ApiError::new(ErrorCode::MissingCustomerId, "`customer_id` is required").field("customer_id"))?;
    f.finish()?;
    let metrics = metric_defs(&ctx.env).await?;
    customer_call(&customer_stub(&ctx.env, &customer_id)?, customer::Void { now: ctx.now, key, metrics }).await
}
