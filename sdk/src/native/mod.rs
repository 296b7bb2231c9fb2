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
//!
//! // Credits, the live balance, limits and a reservation around work of unknown size
//! // (credits.rs, limits.rs).
//! use edgemeter_sdk::native::{CreditGrantInput, LimitInput, ReservationCommit, ReservationInput};
//! api.credit_grants().create("cus_…", &CreditGrantInput::new("Prepaid", "50.00")).await?;
//! let available = api.balance().get("cus_…").await?.credits.available;
//! api.limits().put("cus_…", "llm_tokens", &LimitInput::hard(100_000u32)).await?;
//! let committed = api
//!     .reservations()
//!     .with_reservation("cus_…", &ReservationInput::new("llm_tokens", 4000u32), |_held| async {
//!         Ok::<_, edgemeter_sdk::native::Error>(ReservationCommit::value(1234u32)) // what the work used
//!     })
//!     .await?;
//! println!("{available} {:?}", committed.event.status);
//! # Ok(())
//! # }
//! ```

mod api;
mod batch;
mod credits;
mod error;
mod event;
mod keys;
mod limits;
mod options;
mod refusal;
mod retry;
mod tracker;
mod types;
mod verify;

pub use api::{Api, Contracts, Customers, Invoices, Items, Metrics, Rejections, Tokens, UsageApi};
pub use batch::{backoff_cap, parse_retry_after, retryable, MAX_BATCH_EVENTS, MAX_BODY_BYTES};
pub use credits::{
    Alert, AlertInput, AlertKind, AlertTriggered, Alerts, Balance, BalanceApi, BalanceCredits, CreditApplied,
    CreditGrant, CreditGrantInput, CreditGrantStatus, CreditGrants, WebhookEvent,
};
pub use error::{codes, Error, FieldError};
pub use event::{Event, Quantity};
pub use limits::{
    CommittedEvent, Entitlement, Entitlements, EntitlementsApi, Limit, LimitInput, LimitMode, Limits, Reservation,
    ReservationCommit, ReservationCommitted, ReservationFilter, ReservationInput, ReservationStatus, Reservations,
};
pub use options::{OnError, Options};
pub use refusal::Refused;
pub use tracker::{Edgemeter, EventError, FlushResult};
pub use types::*;
pub use verify::{
    price, price_in, verify_invoice, Difference, InvoiceEvent, Quote, QuoteTier, SimulatedInvoice, SimulationInput,
};
