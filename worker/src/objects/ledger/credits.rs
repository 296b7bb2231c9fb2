//! The ledger's credit grants and alerts (`core::machine::customer::CreditStore`): two
//! small tables of JSON bodies, read whole once per object instance (the machine keeps
//! them in memory) and written one row per change.

use super::{text, Ledger, TextRow};
use crate::objects::sql::parse;
use edgemeter_core::alert::Alert;
use edgemeter_core::credit::Grant;
use edgemeter_core::machine::customer::CreditStore;
use edgemeter_core::machine::StoreResult;
use worker::SqlStorageValue as V;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS credit_grants (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, body TEXT NOT NULL);
";

impl Ledger {
    fn bodies<T: serde::de::DeserializeOwned>(&self, q: &str) -> StoreResult<Vec<T>> {
        let rows: Vec<TextRow> = self.rows(q, vec![])?;
        rows.iter().map(|r| parse(&r.v)).collect()
    }

    fn put_body(&self, table: &str, id: &str, created_at: i64, body: String) -> StoreResult<()> {
        self.run(
            &format!(
                "INSERT INTO {table} (id, created_at, body) VALUES (?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body"
            ),
            vec![V::String(id.to_owned()), V::Integer(created_at), V::String(body)],
        )
    }
}

impl CreditStore for Ledger {
    fn grants(&self) -> StoreResult<Vec<Grant>> {
        self.bodies("SELECT body AS v FROM credit_grants ORDER BY created_at, id")
    }

    fn put_grant(&mut self, g: &Grant) -> StoreResult<()> {
        self.put_body("credit_grants", &g.id, g.created_at.millis(), text(g)?)
    }

    fn alerts(&self) -> StoreResult<Vec<Alert>> {
        self.bodies("SELECT body AS v FROM alerts ORDER BY created_at, id")
    }

    fn put_alert(&mut self, a: &Alert) -> StoreResult<()> {
        self.put_body("alerts", &a.id, a.created_at.millis(), text(a)?)
    }

    fn delete_alert(&mut self, id: &str) -> StoreResult<()> {
        self.run("DELETE FROM alerts WHERE id = ?", vec![V::String(id.to_owned())])
    }
}
