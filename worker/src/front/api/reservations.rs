//! API.md "Limits, entitlements and reservations": reservations, which secret keys,
//! ingest keys and the customer's own token may make, list, commit and release. Each is
//! one call to the customer's object, which decides it.

use super::limits::{cached_metric, check_customer, unknown_metric};
use super::{customer_call, customer_on_path, enum_param, fresh_id, list_params};
use crate::front::auth::Principal;
use crate::front::metrics_cache::metrics_for_ingest;
use crate::front::Ctx;
use crate::protocol::customer;
use crate::respond::Reply;
use edgemeter_core::limit::{ReservationInput, ReservationStatus};
use edgemeter_core::{ApiError, ErrorCode};

/// `POST /v1/customers/{id}/reservations` `{"metric_code", "quantity", "ttl_seconds"?,
/// "idempotency_key"}` → 201, or 409 `limit_exceeded` with nothing held.
pub async fn create(ctx: &Ctx, principal: &Principal, customer_id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    check_customer(principal, customer_id)?;
    let input = ReservationInput::from_body(body)?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    let Some(metric) = cached_metric(ctx, &input.metric_code).await? else {
        return Ok(unknown_metric(&input.metric_code, Some("metric_code")));
    };
    let id = fresh_id("rsv", ctx)?;
    customer_call(&stub, customer::Reserve { now: ctx.now, id, metric, input }).await
}

/// `GET /v1/customers/{id}/reservations?status=held` (a documented extension): newest
/// first, paged.
pub async fn list(
    ctx: &Ctx,
    principal: &Principal,
    customer_id: &str,
    query: &[(String, String)],
) -> Result<Reply, ApiError> {
    check_customer(principal, customer_id)?;
    let (limit, cursor) = list_params(query)?;
    let status =
        enum_param(query, "status", ReservationStatus::parse, "`status` must be held, committed, released or expired")?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::ListReservations { now: ctx.now, status, limit, cursor }).await
}

/// `GET /v1/customers/{id}/reservations/{rid}`.
pub async fn get(ctx: &Ctx, principal: &Principal, customer_id: &str, id: &str) -> Result<Reply, ApiError> {
    check_customer(principal, customer_id)?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::GetReservation { now: ctx.now, id: id.to_owned() }).await
}

/// `POST /v1/customers/{id}/reservations/{rid}/commit` `{"value"?, "timestamp"?,
/// "properties"?}`: records the reservation's one event, exactly once.
pub async fn commit(
    ctx: &Ctx,
    principal: &Principal,
    customer_id: &str,
    id: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    check_customer(principal, customer_id)?;
    let body =
        String::from_utf8(body.to_vec()).map_err(|_| ApiError::new(ErrorCode::InvalidJson, "the body is not UTF-8"))?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    let metrics = metrics_for_ingest(&ctx.env, ctx.now, false).await?.to_vec();
    customer_call(&stub, customer::Commit { now: ctx.now, id: id.to_owned(), body, metrics }).await
}

/// `POST /v1/customers/{id}/reservations/{rid}/release`.
pub async fn release(ctx: &Ctx, principal: &Principal, customer_id: &str, id: &str) -> Result<Reply, ApiError> {
    check_customer(principal, customer_id)?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::Release { now: ctx.now, id: id.to_owned() }).await
}
