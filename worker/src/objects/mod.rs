//! The Durable Objects. Each parses its typed request (`crate::protocol`), runs it, and
//! answers with the API's JSON. Nothing here imports from the front.

mod billing_index;
mod catalog;
mod contracts;
mod customer;
mod idempotency;
mod ledger;
mod sql;
mod tx;

pub use catalog::CatalogObject;
pub use customer::CustomerObject;
pub use idempotency::IdempotencyObject;
