//! One Durable Object per customer: the authority for that customer's record, items,
//! events and usage. Per-customer objects are how ingest scales across Cloudflare's
//! network: no request touches another customer's object or any global one.
//!
//! Handlers stay short: parse the call, run one ledger method, render the answer.

use crate::invoicing::{self, RunResult};
use crate::ledger::{Ledger, Voided};
use crate::respond::{self, internal};
use crate::rpc::{CreateItemCall, IngestCall, IngestReply, UsageCall, VoidCall};
use crate::tx::atomically;
use edgemeter_core::customer::{Customer, CustomerInput};
use edgemeter_core::lifecycle::{self, InvoiceStatus};
use edgemeter_core::metric::MetricDef;
use edgemeter_core::quantity;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::Deserialize;
use serde::Serialize;
use serde_json::{json, Value};
use std::cell::Cell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};
use worker::{Fetch, Headers, Method, RequestInit};

#[durable_object]
pub struct CustomerObject {
    state: State,
    env: Env,
    /// Whether this instance has run the schema yet (it does on its first request).
    schema_ready: Cell<bool>,
}

impl DurableObject for CustomerObject {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, schema_ready: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op = req.path();
        let op = op.trim_start_matches('/');
        let body = req.bytes().await?;
        let answer = if op.starts_with("invoic") { self.invoicing(op, &body).await } else { self.handle(op, &body) };
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

fn bad_call(e: serde_json::Error) -> ApiError {
    internal("malformed internal call", e)
}

impl CustomerObject {
    fn ledger(&self) -> std::result::Result<Ledger, ApiError> {
        let ledger = Ledger::open(self.state.storage().sql(), !self.schema_ready.get())
            .map_err(|e| internal("opening customer storage", e))?;
        self.schema_ready.set(true);
        Ok(ledger)
    }

    fn existing(&self, ledger: &Ledger) -> std::result::Result<Customer, ApiError> {
        ledger.customer().map_err(|e| internal("reading customer", e))?.ok_or_else(unknown_customer)
    }

    fn handle(&self, op: &str, body: &[u8]) -> Answer {
        let ledger = self.ledger()?;
        match op {
            "create" => {
                let c: Customer = serde_json::from_slice(body).map_err(bad_call)?;
                if ledger.customer().map_err(|e| internal("reading customer", e))?.is_some() {
                    return Err(internal("customer id collision", &c.id));
                }
                ledger.put_customer(&c).map_err(|e| internal("storing customer", e))?;
                Ok(respond::json(201, &c))
            }
            "get" => Ok(respond::json(200, &self.existing(&ledger)?)),
            "patch" => {
                #[derive(serde::Deserialize)]
                struct Patch {
                    now: Timestamp,
                    body: String,
                }
                let p: Patch = serde_json::from_slice(body).map_err(bad_call)?;
                let mut c = self.existing(&ledger)?;
                CustomerInput::from_body(p.body.as_bytes(), p.now)?.apply(&mut c)?;
                ledger.put_customer(&c).map_err(|e| internal("storing customer", e))?;
                Ok(respond::json(200, &c))
            }
            "items/create" => {
                let call: CreateItemCall = serde_json::from_slice(body).map_err(bad_call)?;
                self.existing(&ledger)?;
                ledger.put_item(&call.item).map_err(|e| internal("storing item", e))?;
                Ok(respond::json(201, &call.item))
            }
            "items/list" => {
                self.existing(&ledger)?;
                let items = ledger.items().map_err(|e| internal("reading items", e))?;
                Ok(respond::json(200, &items))
            }
            "ingest" => self.ingest(&ledger, body),
            "void" => self.void(&ledger, body),
            "usage" => self.usage(&ledger, body),
            _ => Err(ApiError::new(ErrorCode::NotFound, format!("no object operation `{op}`"))),
        }
    }

    /// API.md "Usage ingestion": one transaction per batch, one fate per event.
    fn ingest(&self, ledger: &Ledger, body: &[u8]) -> Answer {
        let call: IngestCall = serde_json::from_slice(body).map_err(bad_call)?;
        let customer = self.existing(ledger)?;
        let fault = self.fault_key(&call);
        let fates = atomically(&self.state.storage(), || {
            ledger.record_batch(&customer, &call.metrics, &call.events, call.now, fault.as_deref())
        })
        .map_err(|e| internal("recording usage", e))?;
        Ok(respond::json(200, &IngestReply { fates }))
    }

    /// With `EDGEMETER_FAULT_INJECTION=1` (tests only), an event carrying the property
    /// `edgemeter_fault: "abort"` makes its batch fail after that event is written.
    fn fault_key(&self, call: &IngestCall) -> Option<String> {
        let enabled = self.env.var("EDGEMETER_FAULT_INJECTION").map(|v| v.to_string() == "1").unwrap_or(false);
        if !enabled {
            return None;
        }
        call.events
            .iter()
            .find(|e| e.props.get("edgemeter_fault").is_some_and(|v| v.as_text() == "abort"))
            .map(|e| e.key.to_string())
    }

    fn void(&self, ledger: &Ledger, body: &[u8]) -> Answer {
        let call: VoidCall = serde_json::from_slice(body).map_err(bad_call)?;
        let customer = self.existing(ledger)?;
        let outcome = atomically(&self.state.storage(), || ledger.void(&customer, &call.metrics, &call.key, call.now))
            .map_err(|e| internal("voiding event", e))?;
        match outcome {
            Voided::NotFound => {
                Err(ApiError::new(ErrorCode::EventNotFound, "no event with this idempotency key for this customer")
                    .field("idempotency_key"))
            }
            Voided::PeriodClosed => Err(ApiError::new(
                ErrorCode::PeriodClosed,
                "the event's service period is already invoiced; it can no longer be voided",
            )
            .field("idempotency_key")),
            Voided::Now | Voided::Already => {
                #[derive(Serialize)]
                struct VoidAnswer<'a> {
                    idempotency_key: &'a str,
                    customer_id: &'a str,
                    status: &'static str,
                }
                let status = if outcome == Voided::Now { "voided" } else { "already_voided" };
                Ok(respond::json(200, &VoidAnswer { idempotency_key: &call.key, customer_id: &customer.id, status }))
            }
        }
    }

    /// API.md "Usage": the period containing `at` and each metric's quantity in it.
    fn usage(&self, ledger: &Ledger, body: &[u8]) -> Answer {
        let call: UsageCall = serde_json::from_slice(body).map_err(bad_call)?;
        let customer = self.existing(ledger)?;
        let period = customer.invoice_schedule.period_containing(call.at);
        let states = ledger.usage(&customer, &call.metrics, period).map_err(|e| internal("reading usage", e))?;
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
        let metrics: Vec<MetricOut> = call
            .metrics
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
                    Some(code) => call
                        .metrics
                        .iter()
                        .position(|m| &m.code == code)
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

#[derive(Deserialize)]
struct InvoicingCall {
    now: Timestamp,
    #[serde(default)]
    metrics: Vec<MetricDef>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    numbers: Vec<(String, String)>,
}

fn invoice_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such invoice")
}

impl CustomerObject {
    /// API.md "Invoices", inside the customer's object. State changes run in one
    /// transaction; webhook deliveries (which await the network) come after it.
    async fn invoicing(&self, op: &str, body: &[u8]) -> Answer {
        let call: InvoicingCall = serde_json::from_slice(body).map_err(bad_call)?;
        let ledger = self.ledger()?;
        let customer = self.existing(&ledger)?;
        let now = call.now;
        let webhooks = self.env.var("EDGEMETER_WEBHOOK_URL").is_ok_and(|v| !v.to_string().is_empty());
        let answer = match op {
            "invoicing/run" => {
                let mut result: RunResult =
                    atomically(&self.state.storage(), || invoicing::run(&ledger, &customer, &call.metrics, now))
                        .map_err(|e| internal("invoicing run", e))?;
                self.deliver(&ledger, now).await;
                result.next_due = invoicing::next_due(&ledger, &customer).map_err(|e| internal("invoicing run", e))?;
                respond::json(200, &result)
            }
            "invoices/number" => {
                let updated = atomically(&self.state.storage(), || {
                    let mut out = Vec::new();
                    for (id, number) in &call.numbers {
                        let Some(mut inv) = ledger.invoice(id)? else { continue };
                        if !inv["number"].is_null() {
                            out.push(inv);
                            continue;
                        }
                        inv["number"] = json!(number);
                        let start = period_start(&inv)?;
                        ledger.put_invoice(&inv, start)?;
                        if webhooks {
                            invoicing::enqueue_webhook(&ledger, "invoice.finalized", &inv, now)?;
                            if inv["status"] == "sent" {
                                invoicing::enqueue_webhook(&ledger, "invoice.sent", &inv, now)?;
                            }
                        }
                        out.push(inv);
                    }
                    Ok(out)
                })
                .map_err(|e| internal("numbering invoices", e))?;
                self.deliver(&ledger, now).await;
                let next_due =
                    invoicing::next_due(&ledger, &customer).map_err(|e| internal("numbering invoices", e))?;
                respond::json(200, &RunResult { next_due, invoices: updated })
            }
            "invoices/list" => {
                let list = ledger.invoices(call.status.as_deref()).map_err(|e| internal("reading invoices", e))?;
                respond::json(200, &list)
            }
            "invoices/get" => {
                let id = call.id.as_deref().unwrap_or_default();
                let inv =
                    ledger.invoice(id).map_err(|e| internal("reading invoices", e))?.ok_or_else(invoice_not_found)?;
                respond::json(200, &inv)
            }
            "invoices/approve" | "invoices/void" => {
                let id = call.id.as_deref().unwrap_or_default();
                let mut inv =
                    ledger.invoice(id).map_err(|e| internal("reading invoices", e))?.ok_or_else(invoice_not_found)?;
                let status = inv["status"]
                    .as_str()
                    .and_then(InvoiceStatus::parse)
                    .ok_or_else(|| internal("invoice status", id))?;
                let next =
                    if op == "invoices/approve" { lifecycle::approve(status)? } else { lifecycle::void(status)? };
                inv["status"] = json!(next.as_str());
                if next == InvoiceStatus::Sent {
                    inv["sent_at"] = json!(now);
                }
                atomically(&self.state.storage(), || {
                    ledger.put_invoice(&inv, period_start(&inv)?)?;
                    if webhooks && next == InvoiceStatus::Sent {
                        invoicing::enqueue_webhook(&ledger, "invoice.sent", &inv, now)?;
                    }
                    Ok(())
                })
                .map_err(|e| internal("updating invoice", e))?;
                self.deliver(&ledger, now).await;
                respond::json(200, &inv)
            }
            "invoices/upcoming" => {
                let p = customer.invoice_schedule.period_containing(now);
                let mut inv = invoicing::compute(&ledger, &customer, &call.metrics, p, "upcoming")
                    .map_err(|e| internal("computing the upcoming invoice", e))?;
                if let Some(o) = inv.as_object_mut() {
                    for k in ["id", "number", "created_at", "finalized_at", "sent_at"] {
                        o.remove(k);
                    }
                }
                respond::json(200, &inv)
            }
            _ => return Err(ApiError::new(ErrorCode::NotFound, format!("no object operation `{op}`"))),
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
            let outcome = post(&url, &secret, &p.body, now).await;
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

fn period_start(inv: &Value) -> Result<i64, String> {
    inv["period_start"]
        .as_str()
        .and_then(|s| Timestamp::parse_rfc3339(s).ok())
        .map(|t| t.millis())
        .ok_or_else(|| "invoice without period_start".to_owned())
}

async fn post(url: &str, secret: &str, body: &str, now: Timestamp) -> std::result::Result<(), String> {
    let headers = Headers::new();
    let sig = invoicing::signature(secret, now.millis().div_euclid(1000), body);
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
