//! One Durable Object per customer: the authority for that customer's record, items,
//! events and usage. Per-customer objects are how ingest scales across Cloudflare's
//! network: no request touches another customer's object or any global one.
//!
//! The object is dispatch, storage and I/O around `core::machine::customer`: it parses a
//! [`CustomerCall`], runs the machine in one `transactionSync` over its SQLite ledger,
//! sends the webhooks the answer asks for, and renders the answer. The machine keeps the
//! customer's book in memory between calls; a failed call drops it and its writes are
//! rolled back, so memory never runs ahead of what is durable.

use crate::objects::ledger::Ledger;
use crate::objects::tx::transaction;
use crate::protocol::{customer, CustomerCall};
use crate::respond::{self, internal};
use crate::settings;
use edgemeter_core::machine::customer::{ingest_frame, CustomerMachine, CustomerStore, Outgoing};
use edgemeter_core::time::Timestamp;
use edgemeter_core::webhook::signature_header;
use edgemeter_core::ApiError;
use std::cell::{Cell, RefCell};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};
use worker::{Fetch, Headers, Method, RequestInit};

#[durable_object]
pub struct CustomerObject {
    state: State,
    env: Env,
    /// Whether this instance has run the schema yet (it does on its first request).
    schema_ready: Cell<bool>,
    machine: RefCell<CustomerMachine>,
    /// Tests only (`EDGEMETER_FAULT_INJECTION=1`): the ledger fails on request.
    faults: bool,
    /// `make bench-load` only (`EDGEMETER_COST_LOG=1`): rows counted and logged per call.
    cost_log: bool,
    /// Whether deliveries are being sent: the object serves other calls (and its alarm)
    /// while it awaits a receiver, and one delivery must not be sent by two of them.
    delivering: Cell<bool>,
}

impl DurableObject for CustomerObject {
    fn new(state: State, env: Env) -> Self {
        let webhooks = !settings::get(&env, "EDGEMETER_WEBHOOK_URL").is_empty();
        let faults = &*settings::get(&env, "EDGEMETER_FAULT_INJECTION") == "1";
        let cost_log = &*settings::get(&env, "EDGEMETER_COST_LOG") == "1";
        let machine = RefCell::new(CustomerMachine::new(webhooks));
        Self { state, env, schema_ready: Cell::new(false), machine, faults, cost_log, delivering: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        match self.answer(&body).await {
            Ok((status, json)) => respond::raw_json(status, json.into_bytes()),
            Err(e) => respond::error(&e),
        }
    }

    /// The outbox's next delivery is due (API.md "Alerts": delivered within seconds, and
    /// retried without waiting for an invoicing run): send what is due, and set the alarm
    /// again for what is left.
    async fn alarm(&self) -> Result<Response> {
        let mut ledger = match self.ledger() {
            Ok(l) => l,
            Err(e) => return Response::error(e.message.to_string(), 500),
        };
        self.deliver(&mut ledger, Timestamp(worker::Date::now().as_millis() as i64)).await;
        Response::empty()
    }
}

impl CustomerObject {
    fn ledger(&self) -> std::result::Result<Ledger, ApiError> {
        let (faults, counts) = (self.faults, self.cost_log);
        let storage = self.state.storage();
        // Under fault injection (tests) every call opens the ledger as an instance's first
        // call does, so a test that leaves an older layout behind sees it moved at once.
        let create = !self.schema_ready.get() || faults;
        // The first call of an instance runs the schema and may move stored events to a
        // new layout: all or nothing, like every call's writes.
        let ledger = if create {
            transaction(&storage, || Ok(Ledger::open(storage.sql(), true, faults, counts)?))?
        } else {
            Ledger::open(storage.sql(), false, faults, counts)?
        };
        self.schema_ready.set(true);
        Ok(ledger)
    }

    async fn answer(&self, body: &[u8]) -> std::result::Result<(u16, String), ApiError> {
        let call = ingest_frame::read_call(body)?;
        let ingest = matches!(call, CustomerCall::Usage(customer::UsageCall::Ingest(_)));
        let mut ledger = self.ledger()?;
        let mut call = Some(call);
        let handled = transaction(&self.state.storage(), || {
            let call = call.take().ok_or_else(|| internal("customer object", "a transaction ran its call twice"))?;
            self.machine.borrow_mut().handle(call, &mut ledger)
        })?;
        match handled.deliver {
            // An ingest call that fired an alert answers at once: its customer's next
            // batches wait for it, and must not wait for a receiver. The alarm sends it
            // right after.
            Some(now) if ingest => self.set_alarm(now).await,
            Some(now) => self.deliver(&mut ledger, now).await,
            None => {}
        }
        let answer = self.machine.borrow().render(handled, &ledger);
        if self.cost_log {
            self.log_cost(&ledger);
        }
        answer
    }

    /// `make bench-load` only (`EDGEMETER_COST_LOG=1`): one log line per call with the
    /// rows it read and wrote and the database's size, which the benchmark sums from
    /// wrangler's output (BENCHMARKS.md "What an event costs").
    fn log_cost(&self, ledger: &Ledger) {
        let rows = ledger.rows_counted();
        crate::console::log(&format!(
            "edgemeter-cost object={} rows_read={} rows_written={} db_bytes={}",
            self.state.id(),
            rows.read,
            rows.written,
            ledger.database_size()
        ));
    }

    /// Sends the webhooks due at `now`, one at a time; the machine records each outcome
    /// (a failure is tried again later, with backoff).
    async fn deliver(&self, ledger: &mut Ledger, now: Timestamp) {
        if self.delivering.replace(true) {
            // Another call is sending: what this one queued goes a second from now.
            return self.set_alarm(now.saturating_add_ms(1000)).await;
        }
        self.send_due(ledger, now).await;
        self.delivering.set(false);
        self.arm(ledger).await;
    }

    async fn send_due(&self, ledger: &mut Ledger, now: Timestamp) {
        let url = settings::get(&self.env, "EDGEMETER_WEBHOOK_URL");
        let secret = settings::get(&self.env, "EDGEMETER_WEBHOOK_SECRET");
        let due = match self.machine.borrow().due_deliveries(now, ledger) {
            Ok(d) => d,
            Err(e) => return worker::console_error!("reading the webhook outbox: {e}"),
        };
        for d in due {
            // Signed with the time of sending, not the run's: a run that fires late, or a
            // retry hours later, must still pass the receiver's tolerance window.
            let sent_at = Timestamp(worker::Date::now().as_millis() as i64);
            let outcome = post(&url, &secret, &d, sent_at).await;
            let recorded = transaction(&self.state.storage(), || {
                self.machine.borrow().delivery_outcome(&d, outcome.clone(), now, ledger)
            });
            if let Err(e) = recorded {
                worker::console_error!("recording a webhook delivery: {e}");
            }
        }
    }

    /// Sets the object's alarm at the outbox's next due delivery, if any: a delivery that
    /// failed, or one left over from a backlog, is sent by the alarm when it is due.
    async fn arm(&self, ledger: &Ledger) {
        let next = match ledger.next_delivery() {
            Ok(n) => n,
            Err(e) => return worker::console_error!("reading the webhook outbox: {e}"),
        };
        if let Some(at) = next {
            self.set_alarm(at).await;
        }
    }

    async fn set_alarm(&self, at: Timestamp) {
        if let Err(e) = self.state.storage().set_alarm(super::alarm_at(at)).await {
            worker::console_error!("setting the delivery alarm: {e}");
        }
    }
}

async fn post(url: &str, secret: &str, d: &Outgoing, sent_at: Timestamp) -> std::result::Result<(), String> {
    let headers = Headers::new();
    let sig = signature_header(secret, sent_at.millis().div_euclid(1000), d.body.as_bytes());
    headers.set("content-type", "application/json").map_err(|e| e.to_string())?;
    headers.set("edgemeter-signature", &sig).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(d.body.as_str().into()));
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let resp = Fetch::Request(req).send().await.map_err(|e| e.to_string())?;
    match resp.status_code() {
        200..=299 => Ok(()),
        s => Err(format!("receiver answered {s}")),
    }
}
