//! One Durable Object per customer: the authority for that customer's record, items,
//! events and usage. Per-customer objects are how ingest scales across Cloudflare's
//! network: no request touches another customer's object or any global one.
//!
//! The object keeps the customer's [`Book`] in memory between calls and is the only
//! writer of its storage, so the book stays equal to what is stored. Each call runs one
//! `transactionSync`: the ledger loads what the book asks for, the book decides, the
//! ledger writes what it returns. If a transaction fails, the book is dropped and loaded
//! again from storage by the next call, so memory never runs ahead of what is durable.

use crate::objects::invoicing;
use crate::objects::ledger::Ledger;
use crate::objects::tx::atomically;
use crate::protocol::{self, CustomerCall, Fates, Page, RunReport};
use crate::respond::{self, internal};
use edgemeter_core::book::{webhook, Book, VoidFate};
use edgemeter_core::contract::Acceptance;
use edgemeter_core::customer::{Customer, CustomerInput};
use edgemeter_core::event::{EventRecord, ValidEvent};
use edgemeter_core::lifecycle::{self, InvoiceStatus};
use edgemeter_core::metric::MetricDef;
use edgemeter_core::quantity;
use edgemeter_core::rejection::RejectedEvent;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::Serialize;
use serde_json::json;
use std::cell::{Cell, RefCell};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};
use worker::{Fetch, Headers, Method, RequestInit};

#[durable_object]
pub struct CustomerObject {
    state: State,
    env: Env,
    /// Whether this instance has run the schema yet (it does on its first request).
    schema_ready: Cell<bool>,
    /// The customer's book, loaded on first use; `None` until then, after a failed
    /// transaction, or while the customer does not exist.
    book: RefCell<Option<Book>>,
}

impl DurableObject for CustomerObject {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, schema_ready: Cell::new(false), book: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        let answer = match protocol::read::<CustomerCall>(&body) {
            Ok(call) => self.handle(call).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(r) => r,
            Err(e) => respond::error(&e),
        }
    }
}

type Answer = std::result::Result<Result<Response>, ApiError>;

fn unknown_customer() -> ApiError {
    ApiError::new(ErrorCode::UnknownCustomer, "no such customer").field("customer_id")
}

impl CustomerObject {
    fn ledger(&self) -> std::result::Result<Ledger, ApiError> {
        let ledger = Ledger::open(self.state.storage().sql(), !self.schema_ready.get())
            .map_err(|e| internal("opening customer storage", e))?;
        self.schema_ready.set(true);
        Ok(ledger)
    }

    /// Runs `f` on the customer's book in one transaction. On failure the book is
    /// dropped, so the next call reloads it from what was committed.
    fn with_book<T>(
        &self,
        ledger: &Ledger,
        context: &str,
        mut f: impl FnMut(&mut Book) -> std::result::Result<T, String>,
    ) -> std::result::Result<T, ApiError> {
        let mut slot = self.book.borrow_mut();
        if slot.is_none() {
            *slot = ledger.load_book().map_err(|e| internal("loading the customer", e))?;
        }
        let Some(book) = slot.as_mut() else { return Err(unknown_customer()) };
        let out = atomically(&self.state.storage(), || f(book));
        if out.is_err() {
            *slot = None;
        }
        out.map_err(|e| internal(context, e))
    }

    fn customer(&self, ledger: &Ledger) -> std::result::Result<Customer, ApiError> {
        self.with_book(ledger, "reading the customer", |b| Ok(b.customer().clone()))
    }

    async fn handle(&self, call: CustomerCall<'_>) -> Answer {
        let ledger = self.ledger()?;
        match call {
            CustomerCall::Create { customer } => {
                // Ids of keyed creates are the same on every copy that runs (`replay::IdSeed`),
                // so a customer already here is the one a failed copy began: answer it as
                // created, and the front completes the directory.
                if let Some(c) = ledger.customer().map_err(|e| internal("reading customer", e))? {
                    return Ok(respond::json(201, &c));
                }
                ledger.put_customer(&customer).map_err(|e| internal("storing customer", e))?;
                *self.book.borrow_mut() = None;
                Ok(respond::json(201, &customer))
            }
            CustomerCall::Get => Ok(respond::json(200, &self.customer(&ledger)?)),
            CustomerCall::Patch { now, body } => {
                let input = CustomerInput::from_body(body.as_bytes(), now)?;
                let mut c = self.customer(&ledger)?;
                input.apply(&mut c)?;
                self.with_book(&ledger, "storing customer", |b| {
                    ledger.put_customer(&c)?;
                    b.set_customer(c.clone());
                    Ok(())
                })?;
                Ok(respond::json(200, &c))
            }
            CustomerCall::CreateItem { item } => {
                self.customer(&ledger)?;
                ledger.put_item(&item).map_err(|e| internal("storing item", e))?;
                Ok(respond::json(201, &item))
            }
            CustomerCall::ListItems => {
                self.customer(&ledger)?;
                let items = ledger.items().map_err(|e| internal("reading items", e))?;
                Ok(respond::json(200, &items))
            }
            CustomerCall::Ingest { now, metrics, events } => self.ingest(&ledger, now, &metrics, &events),
            CustomerCall::Void { now, key, metrics } => self.void(&ledger, now, &key, &metrics),
            CustomerCall::Usage { at, metrics } => self.usage(&ledger, at, &metrics),
            CustomerCall::Daily { at, metrics } => self.daily(&ledger, at, &metrics),
            CustomerCall::Adopt { acceptance } => self.adopt(&ledger, acceptance),
            CustomerCall::LogRejections { entries, of_customer } => {
                if of_customer {
                    self.customer(&ledger)?;
                }
                atomically(&self.state.storage(), || ledger.log_rejections(&entries))
                    .map_err(|e| internal("logging rejected events", e))?;
                Ok(respond::json(200, &json!({"logged": entries.len()})))
            }
            CustomerCall::ListRejections { limit, cursor, of_customer } => {
                if of_customer {
                    self.customer(&ledger)?;
                }
                let before = match cursor {
                    None => None,
                    Some(c) => {
                        Some(c.parse::<i64>().map_err(|_| ApiError::invalid("cursor", "not a cursor this list gave"))?)
                    }
                };
                let rows = ledger.rejections(limit + 1, before).map_err(|e| internal("reading rejected events", e))?;
                let page = Page::from_rows(rows, limit, |(seq, _)| seq.to_string());
                let data: Vec<RejectedEvent> = page.data.into_iter().map(|(_, r)| r).collect();
                Ok(respond::json(200, &Page { data, next_cursor: page.next_cursor }))
            }
            other => self.invoicing(&ledger, other).await,
        }
    }

    /// Creates a contract's customer and items in one transaction. A customer already
    /// here from the same contract is a repeat: its items are completed, nothing doubled.
    fn adopt(&self, ledger: &Ledger, acceptance: Acceptance) -> Answer {
        let existing = ledger.customer().map_err(|e| internal("reading customer", e))?;
        let customer = match existing {
            Some(c) if c.contract_id == acceptance.customer.contract_id => c,
            Some(_) => {
                return Err(internal("accepting a contract", "its customer id names a customer of another origin"))
            }
            None => acceptance.customer.clone(),
        };
        atomically(&self.state.storage(), || {
            ledger.put_customer(&customer)?;
            acceptance.items.iter().try_for_each(|i| ledger.put_item(i))
        })
        .map_err(|e| internal("creating the contract's customer", e))?;
        *self.book.borrow_mut() = None;
        Ok(respond::json(200, &customer))
    }

    /// API.md "Usage": each metric the customer's items use, by UTC day over the period
    /// containing `at`, from the
    /// period's stored events (a read that grows with one customer's period, for a person
    /// looking at a chart; never on the ingest path).
    fn daily(&self, ledger: &Ledger, at: Timestamp, metrics: &[MetricDef]) -> Answer {
        let customer = self.customer(ledger)?;
        let period = customer.invoice_schedule.period_containing(at);
        #[derive(Serialize)]
        struct Day {
            date: String,
            quantity: String,
            event_count: u64,
        }
        #[derive(Serialize)]
        struct Series<'a> {
            code: &'a str,
            event_name: &'a str,
            aggregation: edgemeter_core::metric::Aggregation,
            days: Vec<Day>,
        }
        let items = ledger.items().map_err(|e| internal("reading items", e))?;
        let mut series = Vec::with_capacity(metrics.len());
        for m in metrics.iter().filter(|m| items.iter().any(|i| i.metric_code.as_deref() == Some(m.code.as_str()))) {
            let records =
                ledger.period_events(&m.event_name, period.start).map_err(|e| internal("reading events", e))?;
            let events: Vec<ValidEvent> = records.iter().map(|r| r.to_valid(&customer.id)).collect();
            let days = edgemeter_core::aggregate::by_day(m, period, events.iter())
                .into_iter()
                .map(|d| Day {
                    date: d.date.to_string(),
                    quantity: quantity::format(d.state.quantity()),
                    event_count: d.state.event_count(),
                })
                .collect();
            series.push(Series { code: &m.code, event_name: &m.event_name, aggregation: m.aggregation, days });
        }
        Ok(respond::json(
            200,
            &json!({
                "customer_id": customer.id,
                "period": {"start": period.start, "end": period.end},
                "metrics": series,
            }),
        ))
    }

    /// API.md "Usage ingestion": one transaction per call, one fate per event.
    fn ingest(&self, ledger: &Ledger, now: Timestamp, metrics: &[MetricDef], events: &[EventRecord<'_>]) -> Answer {
        let fault = self.fault_key(events);
        let fates = self.with_book(ledger, "recording usage", |book| {
            let customer_id = book.customer().id.clone();
            let valid: Vec<ValidEvent> = events.iter().map(|e| e.to_valid(&customer_id)).collect();
            ledger.ensure_metrics(book, metrics)?;
            let stored = ledger.stored_hashes(events.iter().map(|e| e.key.as_ref()))?;
            let out = book.ingest(metrics, &valid, &stored);
            ledger.insert_events(events, &out.new_events, now)?;
            if let Some(k) = fault.as_deref() {
                if out.new_events.iter().any(|n| events[n.index].key == k) {
                    return Err(format!("fault injected after writing event {k}"));
                }
            }
            ledger.write_states(&out.states)?;
            Ok(out.fates)
        })?;
        Ok(respond::json(200, &Fates { fates }))
    }

    /// With `EDGEMETER_FAULT_INJECTION=1` (tests only), an event carrying the property
    /// `edgemeter_fault: "abort"` makes its call fail after the events are written.
    fn fault_key(&self, events: &[EventRecord<'_>]) -> Option<String> {
        let enabled = self.env.var("EDGEMETER_FAULT_INJECTION").map(|v| v.to_string() == "1").unwrap_or(false);
        if !enabled {
            return None;
        }
        events
            .iter()
            .find(|e| e.props.get("edgemeter_fault").is_some_and(|v| v.as_text() == "abort"))
            .map(|e| e.key.to_string())
    }

    fn void(&self, ledger: &Ledger, now: Timestamp, key: &str, metrics: &[MetricDef]) -> Answer {
        let (fate, customer_id) = self.with_book(ledger, "voiding event", |book| {
            ledger.ensure_metrics(book, metrics)?;
            let target = ledger.void_target(key)?;
            let fate = book.void(target.as_ref());
            if let (VoidFate::Void, Some(t)) = (&fate, &target) {
                let live = ledger.mark_voided(key, t, now)?;
                let customer_id = book.customer().id.clone();
                let live: Vec<ValidEvent> = live.iter().map(|r| r.to_valid(&customer_id)).collect();
                let writes = book.recompute(metrics, &t.event_name, t.period_start, live.iter());
                ledger.write_states(&writes)?;
            }
            Ok((fate, book.customer().id.clone()))
        })?;
        match fate {
            VoidFate::NotFound => {
                Err(ApiError::new(ErrorCode::EventNotFound, "no event with this idempotency key for this customer")
                    .field("idempotency_key"))
            }
            VoidFate::PeriodClosed => Err(ApiError::new(
                ErrorCode::PeriodClosed,
                "the event's service period is already invoiced; it can no longer be voided",
            )
            .field("idempotency_key")),
            VoidFate::Void | VoidFate::Already => {
                #[derive(Serialize)]
                struct VoidAnswer<'a> {
                    idempotency_key: &'a str,
                    customer_id: &'a str,
                    status: &'static str,
                }
                let status = if fate == VoidFate::Void { "voided" } else { "already_voided" };
                Ok(respond::json(200, &VoidAnswer { idempotency_key: key, customer_id: &customer_id, status }))
            }
        }
    }

    /// API.md "Usage": the period containing `at` and each metric's quantity in it.
    fn usage(&self, ledger: &Ledger, at: Timestamp, metrics: &[MetricDef]) -> Answer {
        let (customer, period, states) = self.with_book(ledger, "reading usage", |book| {
            let customer = book.customer().clone();
            let period = customer.invoice_schedule.period_containing(at);
            let states = ledger.usage(book, metrics, period)?;
            Ok((customer, period, states))
        })?;
        let items = ledger.items().map_err(|e| internal("reading items", e))?;
        #[derive(Serialize)]
        struct PeriodOut {
            start: String,
            end: String,
        }
        #[derive(Serialize)]
        struct MetricOut<'a> {
            code: &'a str,
            event_name: &'a str,
            aggregation: edgemeter_core::metric::Aggregation,
            quantity: String,
            event_count: u64,
        }
        #[derive(Serialize)]
        struct ItemOut<'a> {
            item_id: &'a str,
            name: &'a str,
            kind: edgemeter_core::item::ItemKind,
            metric_code: Option<&'a str>,
            quantity: String,
            amount: String,
        }
        #[derive(Serialize)]
        struct Usage<'a> {
            customer_id: &'a str,
            currency: &'a str,
            period: PeriodOut,
            metrics: Vec<MetricOut<'a>>,
            items: Vec<ItemOut<'a>>,
        }
        let metrics: Vec<MetricOut> = metrics
            .iter()
            .zip(&states)
            .map(|(m, s)| MetricOut {
                code: &m.code,
                event_name: &m.event_name,
                aggregation: m.aggregation,
                quantity: quantity::format(s.quantity()),
                event_count: s.event_count(),
            })
            .collect();
        let items_out = items
            .iter()
            .map(|it| {
                let q = match &it.metric_code {
                    Some(code) => metrics
                        .iter()
                        .position(|m| m.code == *code)
                        .map_or(rust_decimal::Decimal::ZERO, |i| states[i].quantity()),
                    None => rust_decimal::Decimal::ONE,
                };
                ItemOut {
                    item_id: &it.id,
                    name: &it.name,
                    kind: it.kind,
                    metric_code: it.metric_code.as_deref(),
                    quantity: quantity::format(q),
                    amount: edgemeter_core::pricing::format_amount(
                        it.price.amount(q, customer.currency),
                        customer.currency,
                    ),
                }
            })
            .collect();
        Ok(respond::json(
            200,
            &Usage {
                customer_id: &customer.id,
                currency: customer.currency.code(),
                period: PeriodOut { start: period.start.to_rfc3339(), end: period.end.to_rfc3339() },
                metrics,
                items: items_out,
            },
        ))
    }
}

fn invoice_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such invoice")
}

impl CustomerObject {
    /// API.md "Invoices", inside the customer's object. State changes run in one
    /// transaction; webhook deliveries (which await the network) come after it.
    async fn invoicing(&self, ledger: &Ledger, call: CustomerCall<'_>) -> Answer {
        let webhooks = self.env.var("EDGEMETER_WEBHOOK_URL").is_ok_and(|v| !v.to_string().is_empty());
        let answer = match call {
            CustomerCall::InvoicingRun { now, metrics, numbers } => {
                let (out, open_from) = self.with_book(ledger, "invoicing run", |book| {
                    let out = invoicing::step(ledger, book, &metrics, &numbers, now, webhooks)?;
                    Ok((out, book.first_open_period().start))
                })?;
                self.deliver(ledger, now).await;
                let next_due = invoicing::next_due(ledger, out.next_draft).map_err(|e| internal("invoicing run", e))?;
                respond::json(
                    200,
                    &RunReport { next_due, open_from, invoices: out.invoices, unnumbered: out.unnumbered },
                )
            }
            CustomerCall::ListInvoices { status } => {
                let status = status.as_deref().and_then(InvoiceStatus::parse);
                let list = ledger.invoices(status).map_err(|e| internal("reading invoices", e))?;
                respond::json(200, &list)
            }
            CustomerCall::GetInvoice { id } => {
                let inv =
                    ledger.invoice(&id).map_err(|e| internal("reading invoices", e))?.ok_or_else(invoice_not_found)?;
                respond::json(200, &inv)
            }
            CustomerCall::ApproveInvoice { now, ref id } | CustomerCall::VoidInvoice { now, ref id } => {
                let approve = matches!(call, CustomerCall::ApproveInvoice { .. });
                let mut inv =
                    ledger.invoice(id).map_err(|e| internal("reading invoices", e))?.ok_or_else(invoice_not_found)?;
                let next = if approve { lifecycle::approve(inv.status)? } else { lifecycle::void(inv.status)? };
                inv.status = next;
                if next == InvoiceStatus::Sent {
                    inv.sent_at = Some(now);
                }
                if next == InvoiceStatus::Void {
                    inv.voided_at = Some(now);
                }
                self.with_book(ledger, "updating invoice", |_| {
                    ledger.put_invoice(&inv)?;
                    if webhooks && next == InvoiceStatus::Sent {
                        let d = webhook("invoice.sent", &inv, now);
                        ledger.enqueue(&d.id, &d.body, now)?;
                    }
                    Ok(())
                })?;
                self.deliver(ledger, now).await;
                respond::json(200, &inv)
            }
            CustomerCall::Upcoming { now, metrics } => {
                let inv = self.with_book(ledger, "computing the upcoming invoice", |book| {
                    ledger.ensure_metrics(book, &metrics)?;
                    let p = book.customer().invoice_schedule.period_containing(now);
                    let spans = ledger.period_spans(p.start)?;
                    let items = ledger.items()?;
                    book.preview(&metrics, &items, p, &spans, InvoiceStatus::Draft).map_err(|e| e.message.to_string())
                })?;
                let mut inv = serde_json::to_value(&inv).map_err(|e| internal("rendering the upcoming invoice", e))?;
                if let Some(o) = inv.as_object_mut() {
                    o.insert("status".into(), json!("upcoming"));
                    for k in ["id", "number", "created_at", "finalized_at", "sent_at", "voided_at"] {
                        o.remove(k);
                    }
                }
                respond::json(200, &inv)
            }
            _ => return Err(internal("customer object", "a call routed to invoicing that is not one")),
        };
        Ok(answer)
    }

    /// Sends the webhooks due at `now`; a failure is kept for a later run with backoff.
    async fn deliver(&self, ledger: &Ledger, now: Timestamp) {
        let Ok(url) = self.env.var("EDGEMETER_WEBHOOK_URL").map(|v| v.to_string()) else { return };
        if url.is_empty() {
            return;
        }
        let secret = self.env.var("EDGEMETER_WEBHOOK_SECRET").map(|v| v.to_string()).unwrap_or_default();
        let Ok(due) = ledger.due_deliveries(now) else { return };
        for p in due {
            // Signed with the time of sending, not the run's: a run that fires late, or a
            // retry hours later, must still pass the receiver's tolerance window.
            let sent_at = Timestamp(worker::Date::now().as_millis() as i64);
            let outcome = post(&url, &secret, &p.body, sent_at).await;
            let recorded = match outcome {
                Ok(()) => ledger.delivered(&p.id, now),
                Err(e) => ledger.delivery_failed(&p.id, now.saturating_add_ms(invoicing::backoff(p.attempts)), &e),
            };
            if let Err(e) = recorded {
                worker::console_error!("recording a webhook delivery: {e}");
            }
        }
    }
}

async fn post(url: &str, secret: &str, body: &str, sent_at: Timestamp) -> std::result::Result<(), String> {
    let headers = Headers::new();
    let sig = invoicing::signature(secret, sent_at.millis().div_euclid(1000), body);
    headers.set("content-type", "application/json").map_err(|e| e.to_string())?;
    headers.set("edgemeter-signature", &sig).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let resp = Fetch::Request(req).send().await.map_err(|e| e.to_string())?;
    match resp.status_code() {
        200..=299 => Ok(()),
        s => Err(format!("receiver answered {s}")),
    }
}
