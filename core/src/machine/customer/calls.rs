//! The calls a customer's object answers, each naming its answer ([`Ask`]), grouped in
//! nested enums by what they touch so the object's dispatch is routed by the compiler.
//!
//! On the wire a call is externally tagged JSON: `{"usage": {"ingest": {…}}}`.

use super::alerts::{AlertCall, AlertDeleted, CreateAlert, DeleteAlert, ListAlerts};
use super::answers::{DailyUsage, Fates, Logged, RunReport, UpcomingInvoice, UsageReport, Voided};
use super::checking::{CheckCall, InvoiceEvents, Simulate};
use super::credits::{Balance, CreateGrant, CreditCall, GetBalance, GetGrant, ListGrants, VoidGrant};
use crate::alert::AlertView;
use crate::contract::Acceptance;
use crate::credit::GrantView;
use crate::customer::Customer;
use crate::event::EventRecord;
use crate::invoice::Invoice;
use crate::item::Item;
use crate::lifecycle::InvoiceStatus;
use crate::machine::Ask;
use crate::metric::MetricDef;
use crate::page::Page;
use crate::rejection::RejectedEvent;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What a customer's object is asked to do.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerCall<'a> {
    Record(RecordCall),
    #[serde(borrow)]
    Usage(UsageCall<'a>),
    Invoices(InvoiceCall),
    Rejections(RejectionCall),
    Credits(CreditCall),
    Alerts(AlertCall),
    Limits(super::LimitCall),
    /// Checking an invoice: its events, and simulations (`checking.rs`).
    Checks(CheckCall),
}

/// The customer record and its items.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordCall {
    Create(Create),
    Get(Get),
    Patch(Patch),
    CreateItem(CreateItem),
    ListItems(ListItems),
    Adopt(Adopt),
}

/// Usage: events in, voids, and what they add up to.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageCall<'a> {
    #[serde(borrow)]
    Ingest(Ingest<'a>),
    Void(Void),
    Usage(Usage),
    Daily(Daily),
}

/// The customer's invoices.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceCall {
    Run(Run),
    List(ListInvoices),
    Get(GetInvoice),
    Approve(Approve),
    Void(VoidInvoice),
    Upcoming(Upcoming),
}

/// The rejected-events log this object keeps.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCall {
    Log(LogRejections),
    List(ListRejections),
}

/// Stores a new customer; the same customer again is answered as created (a retry whose
/// ids came from the same `Idempotency-Key`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Create {
    pub customer: Customer,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Get {}

/// A `PATCH` body, validated against the stored customer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Patch {
    pub now: Timestamp,
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateItem {
    pub item: Item,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListItems {}

/// Creates the customer a contract names, with its items, in one transaction; a repeat
/// finds them and answers the same (`core::contract`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Adopt {
    pub acceptance: Acceptance,
}

/// Events from one or more requests, with the metrics their names feed; answered with
/// one fate per event, in order, once they are durably written. The front sends it in
/// its binary form ([`super::ingest_frame`]); as JSON it is still read.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ingest<'a> {
    pub now: Timestamp,
    pub metrics: Vec<MetricDef>,
    #[serde(borrow)]
    pub events: Vec<EventRecord<'a>>,
    /// The events as received, when the call came in its binary form: an
    /// [`crate::event_chunk`] of exactly `events`, which storage may keep as it is.
    #[serde(skip)]
    pub received: Option<&'a [u8]>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Void {
    pub now: Timestamp,
    pub key: String,
    pub metrics: Vec<MetricDef>,
}

/// The period containing `at` and each metric's quantity in it, priced per item.
#[derive(Debug, Serialize, Deserialize)]
pub struct Usage {
    pub at: Timestamp,
    pub metrics: Vec<MetricDef>,
}

/// Each metric the customer's items use, by UTC day over the period containing `at`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Daily {
    pub at: Timestamp,
    pub metrics: Vec<MetricDef>,
}

/// One invoicing step at `now` (drafts, finals, numbers, webhooks), with the numbers the
/// catalog reserved for this customer's final periods, by period start.
#[derive(Debug, Serialize, Deserialize)]
pub struct Run {
    pub now: Timestamp,
    pub metrics: Vec<MetricDef>,
    pub numbers: Vec<(Timestamp, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListInvoices {
    pub status: Option<InvoiceStatus>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GetInvoice {
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Approve {
    pub now: Timestamp,
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct VoidInvoice {
    pub now: Timestamp,
    pub id: String,
}

/// What the invoice of the period containing `now` would be now.
#[derive(Debug, Serialize, Deserialize)]
pub struct Upcoming {
    pub now: Timestamp,
    pub metrics: Vec<MetricDef>,
}

/// Adds entries to the log (newest kept). `of_customer`: only if the customer exists
/// (else `unknown_customer`, nothing kept); the account's log has none.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogRejections {
    pub entries: Vec<RejectedEvent>,
    pub of_customer: bool,
}

/// The log, newest first; `of_customer` asks that the customer exist.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListRejections {
    pub limit: usize,
    pub cursor: Option<String>,
    pub of_customer: bool,
}

macro_rules! asks {
    ($($call:ident $(<$l:lifetime>)? => $group:ident :: $variant:ident ($outer:ident) => $answer:ty,)*) => {$(
        impl $(<$l>)? Ask for $call $(<$l>)? {
            type Answer = $answer;
        }
        impl<'a> From<$call $(<$l>)?> for CustomerCall<'a> $(where $l: 'a)? {
            fn from(c: $call $(<$l>)?) -> CustomerCall<'a> {
                CustomerCall::$outer($group::$variant(c))
            }
        }
    )*};
}

asks! {
    Create => RecordCall::Create(Record) => Customer,
    Get => RecordCall::Get(Record) => Customer,
    Patch => RecordCall::Patch(Record) => Customer,
    CreateItem => RecordCall::CreateItem(Record) => Item,
    ListItems => RecordCall::ListItems(Record) => Vec<Item>,
    Adopt => RecordCall::Adopt(Record) => Customer,
    Ingest<'a> => UsageCall::Ingest(Usage) => Fates,
    Void => UsageCall::Void(Usage) => Voided,
    Usage => UsageCall::Usage(Usage) => UsageReport,
    Daily => UsageCall::Daily(Usage) => DailyUsage,
    Run => InvoiceCall::Run(Invoices) => RunReport,
    ListInvoices => InvoiceCall::List(Invoices) => Vec<Invoice>,
    GetInvoice => InvoiceCall::Get(Invoices) => Invoice,
    Approve => InvoiceCall::Approve(Invoices) => Invoice,
    VoidInvoice => InvoiceCall::Void(Invoices) => Invoice,
    Upcoming => InvoiceCall::Upcoming(Invoices) => UpcomingInvoice,
    LogRejections => RejectionCall::Log(Rejections) => Logged,
    ListRejections => RejectionCall::List(Rejections) => Page<RejectedEvent>,
    CreateGrant => CreditCall::Create(Credits) => GrantView,
    ListGrants => CreditCall::List(Credits) => Page<GrantView>,
    GetGrant => CreditCall::Get(Credits) => GrantView,
    VoidGrant => CreditCall::Void(Credits) => GrantView,
    GetBalance => CreditCall::Balance(Credits) => Balance,
    CreateAlert => AlertCall::Create(Alerts) => AlertView,
    ListAlerts => AlertCall::List(Alerts) => Page<AlertView>,
    DeleteAlert => AlertCall::Delete(Alerts) => AlertDeleted,
    InvoiceEvents => CheckCall::Events(Checks) => Page<crate::invoice_event::InvoiceEvent>,
    Simulate => CheckCall::Simulate(Checks) => crate::simulate::SimulatedInvoice,
}
