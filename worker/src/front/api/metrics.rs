//! API.md "Billable metrics": create, list, get.

use super::{all_metrics, call, catalog_stub, fresh_id, list_params};
use crate::front::Ctx;
use crate::protocol::CatalogCall;
use crate::protocol::Page;
use crate::respond::Reply;
use edgemeter_core::metric::{Metric, MetricDef};
use edgemeter_core::{ApiError, ErrorCode};

pub async fn create(ctx: &Ctx, body: &[u8]) -> Result<Reply, ApiError> {
    let def = MetricDef::from_body(body)?;
    let metric = Metric { id: fresh_id("met", ctx)?, def, created_at: ctx.now };
    let reply = call(&catalog_stub(&ctx.env)?, &CatalogCall::CreateMetric { metric }).await?;
    crate::front::metrics_cache::forget();
    Ok(reply)
}

/// Metrics in creation order; the cursor is the last code of the previous page.
pub async fn list(ctx: &Ctx, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let (limit, cursor) = list_params(query)?;
    let all = all_metrics(&ctx.env).await?;
    let start = match cursor {
        None => 0,
        Some(c) => all.iter().position(|m| m.def.code == c).map_or(all.len(), |i| i + 1),
    };
    let data: Vec<Metric> = all.iter().skip(start).take(limit).cloned().collect();
    let next_cursor = (start + data.len() < all.len()).then(|| data.last().map(|m| m.def.code.clone())).flatten();
    Reply::json(200, &Page { data, next_cursor })
}

pub async fn get(ctx: &Ctx, code: &str) -> Result<Reply, ApiError> {
    let all = all_metrics(&ctx.env).await?;
    match all.into_iter().find(|m| m.def.code == code) {
        Some(m) => Reply::json(200, &m),
        None => Err(ApiError::new(ErrorCode::NotFound, format!("no metric with code `{code}`"))),
    }
}
