//! The native Rust client (not in the wasm build): [`Edgemeter`] tracks usage the way the
//! JS client does (local validation with `core`, batches, retries under one
//! `Idempotency-Key`, a background tokio task), and [`Api`] is the typed client for the
//! rest of the API. See README.md, "SDK".

mod api;
mod batch;
mod error;
mod event;
mod options;
mod tracker;
mod types;

pub use api::{Api, Customers, Invoices, Items, Metrics, Tokens, UsageApi};
pub use batch::{backoff_cap, parse_retry_after, retryable, MAX_BATCH_EVENTS, MAX_BODY_BYTES};
pub use error::{codes, Error};
pub use event::{Event, Quantity};
pub use options::{OnError, Options};
pub use tracker::{Edgemeter, EventError, FlushResult};
pub use types::*;
