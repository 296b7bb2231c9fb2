//! The API's handlers, one module per resource (API.md's sections). Each parses its
//! input with `core`, makes its object calls, and returns a [`Reply`].

pub mod customers;
pub mod ingest;
pub mod invoices;
pub mod items;
pub mod metrics;
pub mod tokens;
pub mod usage;

use crate::catalog::Page;
use crate::respond::{internal, Reply};
use crate::rpc;
use edgemeter_core::id::is_id;
use edgemeter_core::metric::Metric;
use edgemeter_core::{ApiError, ErrorCode};
use serde::Serialize;
use worker::{Env, Stub};

const CUSTOMERS: &str = "CUSTOMERS";
const CATALOG: &str = "CATALOG";

/// The customer's own object. Only well-formed ids get one, so a typo never creates
/// an empty object.
pub fn customer_stub(env: &Env, id: &str) -> Result<Stub, ApiError> {
    if !is_id(id, "cus") {
        return Err(ApiError::new(ErrorCode::UnknownCustomer, format!("no customer `{id}`")).field("customer_id"));
    }
    env.durable_object(CUSTOMERS).and_then(|ns| ns.get_by_name(id)).map_err(|e| internal("customer object binding", e))
}

/// The one catalog object (admin routes only, never ingest).
pub fn catalog_stub(env: &Env) -> Result<Stub, ApiError> {
    env.durable_object(CATALOG)
        .and_then(|ns| ns.get_by_name("catalog"))
        .map_err(|e| internal("catalog object binding", e))
}

/// Calls an object and returns its answer as is.
pub async fn call<T: Serialize + ?Sized>(stub: &Stub, op: &str, body: &T) -> Result<Reply, ApiError> {
    let r = rpc::call(stub, op, body).await.map_err(|e| internal("calling a durable object", e))?;
    Reply::from_response(r).await
}

/// Turns an object's error answer back into an error, or decodes its success.
pub fn decode<T: serde::de::DeserializeOwned>(reply: &Reply) -> Result<T, ApiError> {
    if reply.ok() {
        return serde_json::from_slice(&reply.body).map_err(|e| internal("decoding an object's answer", e));
    }
    #[derive(serde::Deserialize)]
    struct ErrBody {
        error: ApiError,
    }
    Err(serde_json::from_slice::<ErrBody>(&reply.body)
        .map(|b| b.error)
        .unwrap_or_else(|e| internal("decoding an object's error", e)))
}

/// Every metric, read from the catalog object (strongly consistent; admin paths).
pub async fn all_metrics(env: &Env) -> Result<Vec<Metric>, ApiError> {
    let reply = call(&catalog_stub(env)?, "metrics/list", &serde_json::json!({})).await?;
    Ok(decode::<Page<Metric>>(&reply)?.data)
}

/// Every metric's definition, as the customers' objects need them.
pub async fn metric_defs(env: &Env) -> Result<Vec<edgemeter_core::metric::MetricDef>, ApiError> {
    Ok(all_metrics(env).await?.into_iter().map(|m| m.def).collect())
}

/// A new id with the given prefix: the time now and 80 random bits.
pub fn fresh_id(prefix: &str, ctx: &crate::Ctx) -> Result<String, ApiError> {
    crate::ids::fresh(prefix, ctx.now).map_err(|e| internal("new id", e))
}

/// `limit` (default 50, 1..=500) and `cursor` from a list's query.
pub fn list_params(query: &[(String, String)]) -> Result<(usize, Option<String>), ApiError> {
    let mut limit = 50;
    let mut cursor = None;
    for (k, v) in query {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| ApiError::invalid("limit", "`limit` must be a whole number from 1 to 500"))?;
            }
            "cursor" => cursor = Some(v.clone()).filter(|c| !c.is_empty()),
            _ => {}
        }
    }
    Ok((limit, cursor))
}

/// The value of one query parameter.
pub fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Runs invoicing at `now`: pages of due customers until the catalog has none left.
/// Bounded, so a run can never loop forever; what is left is caught up by the next run.
pub async fn run_invoicing(env: &Env, now: edgemeter_core::time::Timestamp) -> Result<(), ApiError> {
    const MAX_PAGES: usize = 400;
    let catalog = catalog_stub(env)?;
    for _ in 0..MAX_PAGES {
        let reply = call(&catalog, "invoicing/page", &serde_json::json!({"now": now})).await?;
        let page: crate::billing_index::PageReply = decode(&reply)?;
        if !page.more {
            break;
        }
    }
    Ok(())
}
