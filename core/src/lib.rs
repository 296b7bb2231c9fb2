//! edgemeter's billing domain, with no I/O: no clock, no randomness, no network.
//!
//! The worker and the SDK are thin shells around this crate, so a client and the server
//! can never disagree on what a valid event is. Anything that needs "now" or random bytes
//! takes them as parameters.

pub mod aggregate;
pub mod alert;
pub mod book;
pub mod contract;
pub mod credit;
pub mod currency;
pub mod customer;
pub mod digest;
pub mod error;
pub mod event;
pub mod event_chunk;
pub mod exact;
pub mod hash;
pub mod id;
pub mod ingest;
pub mod input;
pub mod invoice;
pub mod invoice_event;
pub mod item;
pub mod lifecycle;
pub mod limit;
pub mod machine;
pub mod metric;
pub mod page;
pub mod period;
pub mod pricing;
pub mod quantity;
pub mod rejection;
pub mod rules;
pub mod simulate;
pub mod time;
pub mod token;
pub mod verify;
pub mod webhook;

pub use error::{ApiError, ErrorCode};
