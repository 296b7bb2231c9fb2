//! The customer's machine: every decision a customer's Durable Object makes, driving the
//! customer's [`Book`] over a [`CustomerStore`].
//!
//! The object parses a [`CustomerCall`], runs [`CustomerMachine::handle`] in one
//! transaction, sends the webhooks the answer asks for, and renders the answer
//! ([`CustomerMachine::render`]). The machine keeps the book in memory between calls; a
//! call that fails drops it (the shell rolls the call's writes back), so the next call
//! loads it again from what was committed.

mod alerts;
mod answers;
mod calls;
mod checking;
mod credit_store;
mod credits;
pub mod ingest_frame;
mod invoices;
mod limit_store;
mod limits;
mod memory;
mod record;
mod store;
mod usage;

pub use alerts::{AlertCall, AlertDeleted, CreateAlert, DeleteAlert, ListAlerts};
pub use answers::*;
pub use calls::*;
pub use checking::{CheckCall, InvoiceEvents, Simulate};
pub use credit_store::CreditStore;
pub use credits::{Balance, CreateGrant, CreditBalance, CreditCall, GetBalance, GetGrant, ListGrants, VoidGrant};
pub use invoices::{backoff, DELIVERIES_PER_CALL};
pub use limit_store::LimitStore;
pub use limits::*;
pub use memory::{MemoryObject, MemoryStore};
pub use store::{CustomerStore, Outgoing};

use crate::book::Book;
use crate::{ApiError, ErrorCode};
use serde::Serialize;

/// A customer's decisions; see the module docs.
#[derive(Debug, Default)]
pub struct CustomerMachine {
    /// Loaded on first use; `None` until then, after a failed call, or while the customer
    /// does not exist.
    book: Option<Book>,
    /// Whether webhooks are configured: deliveries are queued only then.
    webhooks: bool,
    /// The credit grants and alerts, loaded with the book and dropped with it.
    credits: Option<credits::Credits>,
}

/// A call's outcome before it is rendered: what to answer, and whether webhook
/// deliveries are due first.
#[derive(Debug)]
pub struct Handled {
    pub status: u16,
    body: Body,
    /// Send the deliveries due at this time ([`CustomerMachine::due_deliveries`]) before
    /// rendering the answer.
    pub deliver: Option<crate::time::Timestamp>,
}

#[derive(Debug)]
enum Body {
    Json(String),
    /// A run's report, whose `next_due` depends on the deliveries' outcome.
    Run(RunReport),
}

fn to_json<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::new(ErrorCode::InternalError, format!("rendering an answer: {e}")))
}

fn json<T: Serialize>(status: u16, v: &T) -> Result<Handled, ApiError> {
    Ok(Handled { status, body: Body::Json(to_json(v)?), deliver: None })
}

pub(crate) fn unknown_customer() -> ApiError {
    ApiError::new(ErrorCode::UnknownCustomer, "no such customer").field("customer_id")
}

impl CustomerMachine {
    pub fn new(webhooks: bool) -> CustomerMachine {
        CustomerMachine { book: None, webhooks, credits: None }
    }

    /// Decides one call; its writes go to `store`, which the shell commits as one
    /// transaction if this returns `Ok` and rolls back if it returns `Err`.
    pub fn handle(&mut self, call: CustomerCall<'_>, store: &mut impl CustomerStore) -> Result<Handled, ApiError> {
        let out = match call {
            CustomerCall::Record(c) => self.record(c, store),
            CustomerCall::Usage(c) => self.usage_call(c, store),
            CustomerCall::Invoices(c) => self.invoices(c, store),
            CustomerCall::Rejections(c) => self.rejections(c, store),
            CustomerCall::Credits(c) => self.credit_call(c, store),
            CustomerCall::Alerts(c) => self.alert_call(c, store),
            CustomerCall::Limits(c) => self.limits_call(c, store),
            CustomerCall::Checks(c) => self.checks(c, store),
        };
        if out.is_err() {
            self.book = None;
            self.credits = None;
        }
        out
    }

    /// The answer's status and JSON body, after any deliveries it asked for.
    pub fn render(&self, handled: Handled, store: &impl CustomerStore) -> Result<(u16, String), ApiError> {
        match handled.body {
            Body::Json(s) => Ok((handled.status, s)),
            Body::Run(mut report) => {
                if let Some(t) = store.next_delivery()? {
                    report.next_due = report.next_due.min(t);
                }
                Ok((handled.status, to_json(&report)?))
            }
        }
    }

    /// The book, loaded from storage if it is not in memory; `unknown_customer` while the
    /// customer does not exist.
    fn book(&mut self, store: &impl CustomerStore) -> Result<&mut Book, ApiError> {
        if self.book.is_none() {
            self.book = load_book(store)?;
        }
        self.book.as_mut().ok_or_else(unknown_customer)
    }

    /// The book and the credit grants and alerts, each loaded if not in memory.
    fn parts(&mut self, store: &impl CustomerStore) -> Result<(&mut Book, &mut credits::Credits), ApiError> {
        self.book(store)?;
        if self.credits.is_none() {
            self.credits = Some(credits::Credits::load(store)?);
        }
        match (self.book.as_mut(), self.credits.as_mut()) {
            (Some(b), Some(c)) => Ok((b, c)),
            _ => Err(unknown_customer()),
        }
    }
}

/// The customer's book, from what storage holds; `None` before the customer exists.
fn load_book(store: &impl CustomerStore) -> Result<Option<Book>, ApiError> {
    let Some(customer) = store.customer()? else { return Ok(None) };
    let closed_before = store.closed_before()?;
    let seen = store.metrics_seen()?;
    let states = store.states_from(closed_before)?;
    let mut book = Book::load(customer, closed_before, seen, states);
    book.set_limits(crate::book::Limits::load(store.limits()?, store.held_reservations()?));
    Ok(Some(book))
}
