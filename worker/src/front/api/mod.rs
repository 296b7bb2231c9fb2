//! The API's handlers, one module per resource (API.md's sections). Each parses its
//! input with `core`, makes its object calls, and returns a [`Reply`].

pub mod alerts;
pub mod checking;
pub mod contracts;
pub mod credits;
pub mod customers;
pub mod ingest;
pub mod invoices;
pub mod items;
pub mod limits;
pub mod metrics;
pub mod reservations;
pub mod tokens;
pub mod usage;

use crate::protocol::CatalogCall;
use crate::protocol::Page;
pub use crate::protocol::{ask, call, catalog_stub, customer, customer_call, customer_stub, decode};
use crate::respond::internal;
use edgemeter_core::metric::Metric;
use edgemeter_core::ApiError;
use worker::Env;

/// The object of the customer a path names: a malformed id is a 404 for the resource
/// (`unknown_customer`, no `field`: the path, not a body field, is at fault).
pub fn customer_on_path(env: &Env, id: &str) -> Result<worker::Stub, ApiError> {
    customer_stub(env, id).map_err(|e| ApiError { field: None, ..e })
}

/// Every metric, read from the catalog object (strongly consistent; admin paths).
pub async fn all_metrics(env: &Env) -> Result<Vec<Metric>, ApiError> {
    let reply = call(&catalog_stub(env)?, &CatalogCall::ListMetrics).await?;
    Ok(decode::<Page<Metric>>(&reply)?.data)
}

/// Every metric's definition, as the customers' objects need them.
pub async fn metric_defs(env: &Env) -> Result<Vec<edgemeter_core::metric::MetricDef>, ApiError> {
    Ok(all_metrics(env).await?.into_iter().map(|m| m.def).collect())
}

/// A new id with the given prefix: the time now and 80 random bits, or, for a request
/// with an `Idempotency-Key`, the same id on every copy of it that runs.
pub fn fresh_id(prefix: &str, ctx: &crate::front::Ctx) -> Result<String, ApiError> {
    match ctx.id_seed.get() {
        Some(seed) => Ok(edgemeter_core::id::new_id(prefix, seed.at, seed.random)),
        None => crate::ids::fresh(prefix, ctx.now).map_err(|e| internal("new id", e)),
    }
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

/// An optional filter whose values are an enum (`status`): absent is no filter; any
/// value `parse` refuses, the empty one included, is 400 `invalid_field` naming it, as
/// the document's enum says.
pub fn enum_param<T>(
    query: &[(String, String)],
    name: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
    message: &'static str,
) -> Result<Option<T>, ApiError> {
    match query_value(query, name) {
        None => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| ApiError::invalid(name, message)),
    }
}

/// Runs invoicing at `now`: pages of due customers until the catalog has none left, each
/// added to the run's log line. Bounded, so a run can never loop forever; what is left is
/// caught up by the next run.
pub async fn run_invoicing(
    env: &Env,
    now: edgemeter_core::time::Timestamp,
    line: &mut crate::front::log::RunLine,
) -> Result<(), ApiError> {
    const MAX_PAGES: usize = 400;
    let catalog = catalog_stub(env)?;
    for _ in 0..MAX_PAGES {
        let reply = call(&catalog, &CatalogCall::InvoicingPage { now }).await?;
        let page: crate::protocol::PageReply = decode(&reply)?;
        line.page(&page);
        if !page.more {
            break;
        }
    }
    Ok(())
}
