//! One Durable Object per customer: the authority for that customer's record, items,
//! events and usage. Per-customer objects are how ingest scales across Cloudflare's
//! network: no request touches another customer's object or any global one.
//!
//! Handlers stay short: parse the call, run one ledger method, render the answer.

use crate::ledger::Ledger;
use crate::respond::{self, internal};
use crate::rpc::{CreateItemCall, IngestCall, IngestReply, UsageCall, VoidCall};
use crate::tx::atomically;
use edgemeter_core::customer::{Customer, CustomerInput};
use edgemeter_core::quantity;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use serde::Serialize;
use std::cell::Cell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

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
        let body = req.bytes().await?;
        match self.handle(op.trim_start_matches('/'), &body) {
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
            None => {
                Err(ApiError::new(ErrorCode::EventNotFound, "no event with this idempotency key for this customer")
                    .field("idempotency_key"))
            }
            Some(newly) => {
                #[derive(Serialize)]
                struct Voided<'a> {
                    idempotency_key: &'a str,
                    customer_id: &'a str,
                    status: &'static str,
                }
                let status = if newly { "voided" } else { "already_voided" };
                Ok(respond::json(200, &Voided { idempotency_key: &call.key, customer_id: &customer.id, status }))
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
