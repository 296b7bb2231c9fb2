//! API.md "Limits, entitlements and reservations": a customer's limits (secret keys) and
//! its entitlements (also ingest keys and the customer's own token). Every decision is
//! the customer's object's (`core::machine::customer::limits`); this reads the input and
//! the metric a path or body names, and makes one object call (entitlement reads share
//! theirs with the other reads of the same customer at the same time:
//! `front/entitlement_reads.rs`).

use super::{all_metrics, customer_call, customer_on_path};
use crate::front::auth::Principal;
use crate::front::entitlement_reads::{self, EntitlementRead};
use crate::front::metrics_cache::metrics_for_ingest;
use crate::front::Ctx;
use crate::protocol::customer;
use crate::respond::Reply;
use edgemeter_core::limit::{check_limitable, LimitInput};
use edgemeter_core::metric::MetricDef;
use edgemeter_core::{ApiError, ErrorCode};

/// An unknown metric named by a path or a reservation is a missing resource: 404 (an
/// unknown metric in an item's body stays a 400, as before).
pub fn unknown_metric(code: &str, field: Option<&'static str>) -> Reply {
    let mut e = ApiError::new(ErrorCode::UnknownMetric, format!("no metric with code `{code}`"));
    e.field = field.map(Into::into);
    let mut reply = Reply::error(&e);
    reply.status = 404;
    reply
}

/// The metric with this code as ingest sees them (the cached snapshot, read again once
/// when it lacks the code: a metric made a moment ago is found).
pub async fn cached_metric(ctx: &Ctx, code: &str) -> Result<Option<MetricDef>, ApiError> {
    for force in [false, true] {
        let metrics = metrics_for_ingest(&ctx.env, ctx.now, force).await?;
        if let Some(m) = metrics.iter().find(|m| m.code == code) {
            return Ok(Some(m.clone()));
        }
    }
    Ok(None)
}

/// `PUT /v1/customers/{id}/limits/{metric_code}` `{"max", "mode"? = "hard"}`.
pub async fn put(ctx: &Ctx, customer_id: &str, metric_code: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let input = LimitInput::from_body(body)?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    let Some(metric) = all_metrics(&ctx.env).await?.into_iter().find(|m| m.def.code == metric_code) else {
        return Ok(unknown_metric(metric_code, None));
    };
    check_limitable(&metric.def)?;
    customer_call(&stub, customer::PutLimit { now: ctx.now, metric: metric.def, input }).await
}

/// `GET /v1/customers/{id}/limits`.
pub async fn list(ctx: &Ctx, customer_id: &str) -> Result<Reply, ApiError> {
    customer_call(&customer_on_path(&ctx.env, customer_id)?, customer::ListLimits {}).await
}

/// `DELETE /v1/customers/{id}/limits/{metric_code}`.
pub async fn delete(ctx: &Ctx, customer_id: &str, metric_code: &str) -> Result<Reply, ApiError> {
    let stub = customer_on_path(&ctx.env, customer_id)?;
    customer_call(&stub, customer::DeleteLimit { metric_code: metric_code.to_owned() }).await
}

/// `GET /v1/customers/{id}/entitlements` (every metric) and
/// `GET /v1/customers/{id}/entitlements/{metric_code}` (one): answered from the object's
/// memory, in an object call shared with the other requests reading the same customer's
/// entitlements in this isolate at the time (`front/entitlement_reads.rs`), once the
/// request may read them and its metric is known.
pub async fn entitlements(
    ctx: &Ctx,
    principal: &Principal,
    customer_id: &str,
    metric_code: Option<&str>,
) -> Result<Reply, ApiError> {
    principal.require_customer(customer_id)?;
    // A malformed id is a 404 before anything is queued.
    customer_on_path(&ctx.env, customer_id)?;
    let read = match metric_code {
        None => {
            let metrics = metrics_for_ingest(&ctx.env, ctx.now, false).await?.to_vec();
            EntitlementRead::All(customer::Entitlements { now: ctx.now, metrics })
        }
        Some(code) => {
            let Some(metric) = cached_metric(ctx, code).await? else { return Ok(unknown_metric(code, None)) };
            EntitlementRead::One(customer::GetEntitlement { now: ctx.now, metric })
        }
    };
    entitlement_reads::read(&ctx.env, &ctx.worker, customer_id, read).await
}
