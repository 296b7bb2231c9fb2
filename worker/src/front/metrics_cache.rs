//! Ingest's view of the metrics: the catalog's KV snapshot (`catalog:metrics`), read
//! through a short per-isolate cache. Ingest never calls the catalog object (no global hot
//! spot); an event naming an event name the cached copy does not know makes one fresh
//! read of KV before it is refused.

use crate::protocol::{KV, METRICS_KEY};
use crate::respond::internal;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use std::cell::RefCell;
use std::rc::Rc;
use worker::Env;

/// How long an isolate trusts its copy of the snapshot.
const CACHE_MS: i64 = 10_000;

thread_local! {
    /// The isolate's copy of the metrics snapshot and when it was read.
    static CACHE: RefCell<Option<(i64, Rc<Vec<MetricDef>>)>> = const { RefCell::new(None) };
}

/// The metrics as ingest sees them: the cached KV snapshot, refreshed when older than
/// `CACHE_MS` or when `force` is set.
pub async fn metrics_for_ingest(
    env: &Env,
    now: Timestamp,
    force: bool,
) -> std::result::Result<Rc<Vec<MetricDef>>, ApiError> {
    if !force {
        let cached =
            CACHE.with(|c| c.borrow().as_ref().filter(|(at, _)| now.millis() - at < CACHE_MS).map(|(_, m)| m.clone()));
        if let Some(m) = cached {
            return Ok(m);
        }
    }
    let kv = env.kv(KV).map_err(|e| internal("KV binding", e))?;
    let text = kv.get(METRICS_KEY).text().await.map_err(|e| internal("KV get", e))?;
    let metrics: Vec<MetricDef> = match text {
        Some(t) => serde_json::from_str(&t).map_err(|e| internal("reading catalog snapshot", e))?,
        None => Vec::new(),
    };
    let metrics = Rc::new(metrics);
    CACHE.with(|c| *c.borrow_mut() = Some((now.millis(), metrics.clone())));
    Ok(metrics)
}

/// Drops this isolate's copy, so the next read takes the snapshot from KV: called once a
/// metric is created here, which the catalog has published before it answers.
pub fn forget() {
    CACHE.with(|c| *c.borrow_mut() = None);
}
