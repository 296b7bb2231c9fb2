//! Credit grants and the live balance (API.md, "Credits and the live balance").
//!
//! The grants and alerts are small, so the machine keeps them in memory ([`Credits`]),
//! loaded once with the book and written through the store; a failed call drops them
//! with the book. The balance is answered from memory: the book's open aggregates, priced
//! with the items as `/usage` is, and the grants: no event is read.
//!
//! Open periods (from the first one not final up to the one containing "now") would draw
//! on the grants in order, oldest first, if they were finalized now: that is the
//! balance's `pending_draw`, a draft's and the upcoming invoice's `credits_applied`.

use super::{json, CustomerMachine, CustomerStore, Handled};
use crate::alert::Alert;
use crate::book::Book;
use crate::credit::{self, Grant, GrantInput, GrantStatus};
use crate::currency::Currency;
use crate::invoice::Invoice;
use crate::lifecycle::InvoiceStatus;
use crate::metric::MetricDef;
use crate::page::Page;
use crate::period::Period;
use crate::time::Timestamp;
use crate::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How many open periods a balance looks at, at most (a customer whose runs stopped
/// long ago has many; the run catches them up).
const MAX_OPEN_PERIODS: usize = 24;

/// The customer's grants and alerts, in memory.
#[derive(Clone, Debug, Default)]
pub(crate) struct Credits {
    pub grants: Vec<Grant>,
    pub alerts: Vec<Alert>,
}

impl Credits {
    pub fn load(store: &impl CustomerStore) -> Result<Credits, ApiError> {
        Ok(Credits { grants: store.grants()?, alerts: store.alerts()? })
    }
}

/// Credit grants and the balance.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditCall {
    Create(CreateGrant),
    List(ListGrants),
    Get(GetGrant),
    Void(VoidGrant),
    Balance(GetBalance),
}

/// A new grant from a request body (checked here, with the customer's currency); `id`
/// is the front's, the same on every copy of a keyed request, so a retry finds it.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateGrant {
    pub now: Timestamp,
    pub id: String,
    pub body: String,
}

/// A page of grants by id (ids are time-ordered: oldest first), after `cursor`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListGrants {
    pub now: Timestamp,
    #[serde(default = "default_limit")]
    pub limit: usize,
    #[serde(default)]
    pub cursor: Option<String>,
}

pub(crate) fn default_limit() -> usize {
    50
}

/// Up to `limit` items after `cursor` in id order, as a page.
pub(crate) fn page_by_id<T, V>(
    items: &[T],
    id: impl Fn(&T) -> &str,
    limit: usize,
    cursor: Option<&str>,
    view: impl Fn(&T) -> V,
) -> Page<V> {
    let mut sorted: Vec<&T> = items.iter().filter(|x| cursor.is_none_or(|c| id(x) > c)).collect();
    sorted.sort_by(|a, b| id(a).cmp(id(b)));
    sorted.truncate(limit.saturating_add(1));
    let page = Page::from_rows(sorted, limit, |x| id(x).to_owned());
    Page { data: page.data.into_iter().map(view).collect(), next_cursor: page.next_cursor }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GetGrant {
    pub now: Timestamp,
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct VoidGrant {
    pub now: Timestamp,
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct GetBalance {
    pub now: Timestamp,
    /// The metrics as the front knows them: one the book has not seen yet (created after
    /// its events arrived) is back-filled first, so the balance counts those events at
    /// once, as `/usage` and the upcoming invoice do.
    #[serde(default)]
    pub metrics: Vec<MetricDef>,
}

/// `GET /v1/customers/{id}/balance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub customer_id: String,
    pub currency: Currency,
    pub as_of: Timestamp,
    pub credits: CreditBalance,
    pub period: super::PeriodOut,
    pub period_total: String,
    pub amount_due_so_far: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditBalance {
    pub remaining: String,
    pub pending_draw: String,
    pub available: String,
}

/// What the open periods would draw now, and what is left.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    /// Each open period that will be invoiced (not voided by hand), oldest first, as it
    /// would be finalized now.
    pub periods: Vec<Invoice>,
    /// The period containing "now".
    pub current: Period,
    /// The grants active now: what they hold, what the open periods would take of it.
    pub remaining: Decimal,
    pub pending_draw: Decimal,
}

impl Snapshot {
    pub fn available(&self) -> Decimal {
        (self.remaining - self.pending_draw).max(Decimal::ZERO)
    }

    /// The current period's invoice as it would be now (none if it was voided by hand).
    pub fn current_invoice(&self) -> Option<&Invoice> {
        self.periods.iter().find(|i| i.period_start == self.current.start)
    }
}

/// The open periods up to the one containing `now`, oldest first.
pub(crate) fn open_periods(book: &Book, now: Timestamp) -> Vec<Period> {
    let schedule = &book.customer().invoice_schedule;
    let mut p = book.first_open_period();
    let mut out = Vec::new();
    while p.start <= now && out.len() < MAX_OPEN_PERIODS {
        out.push(p);
        p = schedule.next(p);
    }
    out
}

/// Prices every open period from the book's aggregates and draws each, in order, on a
/// copy of the grants.
pub(crate) fn snapshot(
    book: &Book,
    grants: &[Grant],
    store: &impl CustomerStore,
    now: Timestamp,
) -> Result<Snapshot, ApiError> {
    let metrics = book.metrics();
    let items = store.items()?;
    let mut sim = grants.to_vec();
    let mut periods = Vec::new();
    for p in open_periods(book, now) {
        if store.invoice_for_period(p.start)?.is_some_and(|i| i.status == InvoiceStatus::Void) {
            continue;
        }
        let mut inv = book.preview(&metrics, &items, p, &[], InvoiceStatus::Draft)?;
        credit::apply(&mut inv, &mut sim)?;
        periods.push(inv);
    }
    let (mut remaining, mut pending_draw) = (Decimal::ZERO, Decimal::ZERO);
    for (g, after) in grants.iter().zip(&sim) {
        if g.status(now) == GrantStatus::Active {
            remaining += g.remaining;
            pending_draw += g.remaining - after.remaining;
        }
    }
    let current = book.customer().invoice_schedule.period_containing(now);
    Ok(Snapshot { periods, current, remaining, pending_draw })
}

/// The grants as they would be after the open periods before `period` drew on them:
/// what the upcoming invoice of `period` draws from.
pub(crate) fn grants_before(
    book: &Book,
    grants: &[Grant],
    store: &impl CustomerStore,
    period: Period,
) -> Result<Vec<Grant>, ApiError> {
    let metrics = book.metrics();
    let items = store.items()?;
    let mut sim = grants.to_vec();
    for p in open_periods(book, period.start).into_iter().filter(|p| p.start < period.start) {
        if store.invoice_for_period(p.start)?.is_some_and(|i| i.status == InvoiceStatus::Void) {
            continue;
        }
        let mut inv = book.preview(&metrics, &items, p, &[], InvoiceStatus::Draft)?;
        credit::apply(&mut inv, &mut sim)?;
    }
    Ok(sim)
}

/// Writes the grants that differ from `before`.
pub(crate) fn write_changed(before: &[Grant], after: &[Grant], store: &mut impl CustomerStore) -> Result<(), ApiError> {
    for g in after {
        if before.iter().find(|b| b.id == g.id) != Some(g) {
            store.put_grant(g)?;
        }
    }
    Ok(())
}

fn grant_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such credit grant")
}

impl CustomerMachine {
    pub(super) fn credit_call(
        &mut self,
        call: CreditCall,
        store: &mut impl CustomerStore,
    ) -> Result<Handled, ApiError> {
        let webhooks = self.webhooks;
        let (book, credits) = self.parts(store)?;
        let currency = book.customer().currency;
        match call {
            CreditCall::Create(c) => {
                // A keyed retry names the grant a first copy made: answer it as created.
                if let Some(g) = credits.grants.iter().find(|g| g.id == c.id) {
                    return json(201, &g.view(c.now, currency));
                }
                let input = GrantInput::from_body(c.body.as_bytes(), currency, c.now)?;
                let grant = input.grant(c.id, book.customer().id.clone(), c.now);
                store.put_grant(&grant)?;
                credits.grants.push(grant.clone());
                let queued = super::alerts::evaluate(book, credits, store, c.now, webhooks)?;
                let mut handled = json(201, &grant.view(c.now, currency))?;
                handled.deliver = queued.then_some(c.now);
                Ok(handled)
            }
            CreditCall::List(l) => {
                let page =
                    page_by_id(&credits.grants, |g| &g.id, l.limit, l.cursor.as_deref(), |g| g.view(l.now, currency));
                json(200, &page)
            }
            CreditCall::Get(g) => {
                let grant = credits.grants.iter().find(|x| x.id == g.id).ok_or_else(grant_not_found)?;
                json(200, &grant.view(g.now, currency))
            }
            CreditCall::Void(v) => {
                let grant = credits.grants.iter_mut().find(|x| x.id == v.id).ok_or_else(grant_not_found)?;
                if grant.voided_at.is_some() {
                    return Err(
                        ApiError::new(ErrorCode::GrantVoided, "the credit grant is already void").field("status")
                    );
                }
                grant.voided_at = Some(v.now);
                let grant = grant.clone();
                store.put_grant(&grant)?;
                let queued = super::alerts::evaluate(book, credits, store, v.now, webhooks)?;
                let mut handled = json(200, &grant.view(v.now, currency))?;
                handled.deliver = queued.then_some(v.now);
                Ok(handled)
            }
            CreditCall::Balance(b) => {
                super::usage::ensure_metrics(book, &b.metrics, store)?;
                let snap = snapshot(book, &credits.grants, store, b.now)?;
                let (total, due) = match snap.current_invoice() {
                    Some(inv) => (inv.total.clone(), inv.amount_due.clone()),
                    None => (credit::money_text(Decimal::ZERO, currency), credit::money_text(Decimal::ZERO, currency)),
                };
                json(
                    200,
                    &Balance {
                        customer_id: book.customer().id.clone(),
                        currency,
                        as_of: b.now,
                        credits: CreditBalance {
                            remaining: credit::money_text(snap.remaining, currency),
                            pending_draw: credit::money_text(snap.pending_draw, currency),
                            available: credit::money_text(snap.available(), currency),
                        },
                        period: super::PeriodOut { start: snap.current.start, end: snap.current.end },
                        period_total: total,
                        amount_due_so_far: due,
                    },
                )
            }
        }
    }
}
