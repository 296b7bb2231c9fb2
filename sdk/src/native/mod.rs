//! The native Rust client (not in the wasm build): [`Edgemeter`] tracks usage the way the
//! JS client does (local validation with `core`, batches, retries under one
//! `Idempotency-Key`, a background tokio task), and [`Api`] is the typed client for the
//! rest of the API. See README.md, "SDK".
//!
//! ```no_run
//! # async fn example() -> Result<(), edgemeter_sdk::native::Error> {
//! use edgemeter_sdk::native::{Api, Edgemeter, Event, Options};
//!
//! let meter = Edgemeter::new(Options::new("pk_test_local", "http://127.0.0.1:8787"))?;
//! let key = meter.track(Event::new("cus_…", "invoices").value("35.7").property("region", "eu"))?;
//! let result = meter.flush().await.map_err(|refused| *refused.error)?;
//! assert!(result.failed.is_empty());
//! meter.shutdown().await.map_err(|refused| *refused.error)?;
//!
//! let api = Api::new("sk_test_local", "http://127.0.0.1:8787")?;
//! let usage = api.usage().get("cus_…", None).await?;
//! println!("{key}: {:?}", usage.metrics);
//! # Ok(())
//! # }
//! ```

mod api;
mod batch;
mod error;
mod event;
mod keys;
mod options;
mod refusal;
mod retry;
mod tracker;
mod types;
mod verify;

pub use api::{Api, Contracts, Customers, Invoices, Items, Metrics, Rejections, Tokens, UsageApi};
pub use batch::{backoff_cap, parse_retry_after, retryable, MAX_BATCH_EVENTS, MAX_BODY_BYTES};
pub use error::{codes, Error, FieldError};
pub use event::{Event, Quantity};
pub use options::{OnError, Options};
pub use refusal::Refused;
pub use tracker::{Edgemeter, EventError, FlushResult};
pub use types::*;
pub use verify::{
    price, price_in, verify_invoice, Difference, InvoiceEvent, Quote, QuoteTier, SimulatedInvoice, SimulationInput,
};
