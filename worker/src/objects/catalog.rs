//! The account-wide catalog: billable metrics, the customer directory, the billing index
//! and invoice directory (`billing_index.rs`) and contracts (`contracts.rs`).
//!
//! Admin writes go to one `CatalogObject` (metric codes must be unique, lists must page
//! consistently); it is never called on the ingest path. Every decision is
//! `core::machine::catalog`'s: this object runs each call in one transaction over its
//! SQLite tables and does the I/O the answer asks for. Ingest learns the metrics from a
//! snapshot written to KV (`catalog:metrics`) after every change, read through a short
//! per-isolate cache: a rarely-changing, read-mostly value, which is what KV is for. On
//! real Cloudflare a new metric reaches ingest within KV's propagation (up to about a
//! minute); an ingest request that meets an unknown event name re-reads the snapshot once
//! before rejecting, so a stale cache never outlives a fresh KV copy.

use crate::objects::sql::{self, bodies, text};
use crate::objects::tx::transaction;
use crate::objects::{billing_index, contracts};
use crate::protocol::{self, CatalogCall, KV, METRICS_KEY};
use crate::respond::{self, internal};
use edgemeter_core::contract::Contract;
use edgemeter_core::customer::Customer;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::machine::catalog::{
    self as machine, billing, Billing, CatalogAnswer, CatalogStore, ContractFilter,
};
use edgemeter_core::machine::StoreResult;
use edgemeter_core::metric::{Metric, MetricDef};
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue as V, State};

#[durable_object]
pub struct CatalogObject {
    state: State,
    env: Env,
    /// Whether this instance has brought an older schema up to date.
    migrated: std::cell::Cell<bool>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metrics (code TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, body TEXT NOT NULL);
";

impl DurableObject for CatalogObject {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, migrated: std::cell::Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.bytes().await?;
        let sql = self.state.storage().sql();
        for schema in [SCHEMA, billing_index::SCHEMA, contracts::SCHEMA] {
            sql.exec(schema, None)?;
        }
        if !self.migrated.replace(true) {
            // Columns added since the first schema; a store that has them refuses the
            // statement, which is then the answer wanted.
            for column in billing_index::ADDED_COLUMNS {
                let _ = sql.exec(&format!("ALTER TABLE billing_index ADD COLUMN {column}"), None);
            }
        }
        let answer = match protocol::read::<CatalogCall>(&body) {
            Ok(call) => self.answer(&sql, call).await,
            Err(e) => Err(e),
        };
        answer.unwrap_or_else(|e| respond::error(&e))
    }
}

impl CatalogObject {
    /// Runs the call in one transaction, then does what its answer asks and renders it.
    async fn answer(&self, sql: &SqlStorage, call: CatalogCall) -> std::result::Result<Result<Response>, ApiError> {
        let storage = self.state.storage();
        let mut call = Some(call);
        let answer = transaction(&storage, || match call.take() {
            Some(call) => machine::handle(call, &mut Sql(sql)),
            None => Err(internal("catalog", "a transaction ran its call twice")),
        })?;
        Ok(match answer {
            CatalogAnswer::MetricCreated { metric, snapshot } => {
                // Published before answering, so a client that sees 201 can ingest at once
                // (locally; on Cloudflare, after KV propagation).
                self.publish(&snapshot).await?;
                respond::json(201, &metric)
            }
            CatalogAnswer::Plan(plan) => {
                let outcomes = billing_index::run(&self.env, &plan).await;
                let counts = billing_index::tally(plan.now, &outcomes);
                let mut outcomes = Some(outcomes);
                let filed = transaction(&storage, || {
                    billing::file_page(plan.now, outcomes.take().unwrap_or_default(), &mut Sql(sql))
                })?;
                respond::json(200, &billing_index::reply(filed, counts))
            }
            CatalogAnswer::Metrics(page) => respond::json(200, &page),
            CatalogAnswer::Customers(page) => respond::json(200, &page),
            CatalogAnswer::Ack(ack) => respond::json(200, &ack),
            CatalogAnswer::Invoices(page) => respond::json(200, &page),
            CatalogAnswer::Owner(owner) => respond::json(200, &owner),
            CatalogAnswer::ContractCreated(c) => respond::json(201, &c),
            CatalogAnswer::Contract(c) => respond::json(200, &c),
            CatalogAnswer::Contracts(page) => respond::json(200, &page),
            CatalogAnswer::Accepting(a) => respond::json(200, &a),
        })
    }

    /// Writes the metrics snapshot ingest reads.
    async fn publish(&self, snapshot: &[MetricDef]) -> std::result::Result<(), ApiError> {
        let kv = self.env.kv(KV).map_err(|e| internal("KV binding", e))?;
        kv.put(METRICS_KEY, serde_json::to_string(snapshot).map_err(|e| internal("rendering catalog", e))?)
            .map_err(|e| internal("KV put", e))?
            .execute()
            .await
            .map_err(|e| internal("KV put", e))
    }
}

/// The catalog's store: its SQLite tables.
struct Sql<'a>(&'a SqlStorage);

impl CatalogStore for Sql<'_> {
    fn metrics(&self) -> StoreResult<Vec<Metric>> {
        bodies(self.0, "SELECT body FROM metrics ORDER BY created_at, code", vec![])
    }

    fn insert_metric(&mut self, m: &Metric) -> StoreResult<()> {
        sql::exec(
            self.0,
            "INSERT INTO metrics (code, body, created_at) VALUES (?, ?, ?)",
            vec![V::String(m.def.code.clone()), text(m)?, V::Integer(m.created_at.millis())],
        )
    }

    fn put_customer(&mut self, c: &Customer) -> StoreResult<()> {
        sql::exec(
            self.0,
            "INSERT INTO customers (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            vec![V::String(c.id.clone()), text(c)?],
        )
    }

    fn customers(&self, after: &str, limit: usize) -> StoreResult<Vec<Customer>> {
        bodies(
            self.0,
            "SELECT body FROM customers WHERE id > ? ORDER BY id LIMIT ?",
            vec![V::String(after.to_owned()), V::Integer(limit as i64)],
        )
    }

    fn billing(&self, customer_id: &str) -> StoreResult<Option<Billing>> {
        billing_index::billing(self.0, customer_id)
    }

    fn put_billing(&mut self, b: &Billing) -> StoreResult<()> {
        billing_index::put_billing(self.0, b)
    }

    fn due(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<(Billing, Customer)>> {
        billing_index::due(self.0, now, limit)
    }

    fn number(&self, customer_id: &str, period_start: Timestamp) -> StoreResult<Option<String>> {
        billing_index::number(self.0, customer_id, period_start)
    }

    fn last_sequence(&self) -> StoreResult<u64> {
        billing_index::last_sequence(self.0)
    }

    fn put_number(&mut self, customer_id: &str, period_start: Timestamp, sequence: u64, n: &str) -> StoreResult<()> {
        billing_index::put_number(self.0, customer_id, period_start, sequence, n)
    }

    fn invoice(&self, id: &str) -> StoreResult<Option<Invoice>> {
        billing_index::invoice(self.0, id)
    }

    fn put_invoice(&mut self, inv: &Invoice) -> StoreResult<()> {
        billing_index::put_invoice(self.0, inv)
    }

    fn invoices(&self, after: &str, limit: usize, status: Option<InvoiceStatus>) -> StoreResult<Vec<Invoice>> {
        billing_index::invoices(self.0, after, limit, status)
    }

    fn contract(&self, id: &str) -> StoreResult<Option<Contract>> {
        contracts::contract(self.0, id)
    }

    fn put_contract(&mut self, c: &Contract) -> StoreResult<()> {
        contracts::put_contract(self.0, c)
    }

    fn contracts(&self, after: &str, limit: usize, filter: ContractFilter) -> StoreResult<Vec<Contract>> {
        contracts::contracts(self.0, after, limit, filter)
    }
}
