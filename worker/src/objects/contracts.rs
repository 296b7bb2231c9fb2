//! The storage of the contracts the catalog keeps (API.md, "Contracts"). Every step of a
//! contract is decided by `core::machine::catalog` and `core::contract`; this reads and
//! writes their rows.

use crate::objects::sql::{self, bodies, text};
use edgemeter_core::contract::Contract;
use edgemeter_core::machine::catalog::ContractFilter;
use edgemeter_core::machine::StoreResult;
use worker::{SqlStorage, SqlStorageValue as V};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS contracts (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, expires_at INTEGER, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contracts_by_status ON contracts (status, id);
";

pub fn contract(sql: &SqlStorage, id: &str) -> StoreResult<Option<Contract>> {
    Ok(bodies(sql, "SELECT body FROM contracts WHERE id = ?", vec![V::String(id.to_owned())])?.into_iter().next())
}

pub fn put_contract(sql: &SqlStorage, c: &Contract) -> StoreResult<()> {
    let expires = c.terms.expires_at.map_or(V::Null, |t| V::Integer(t.millis()));
    sql::exec(
        sql,
        "INSERT INTO contracts (id, status, expires_at, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at, body = excluded.body",
        vec![V::String(c.id.clone()), V::String(c.status.as_str().into()), expires, text(c)?],
    )
}

/// Contracts after `after` by id, at most `limit`, that `filter` keeps.
pub fn contracts(sql: &SqlStorage, after: &str, limit: usize, filter: ContractFilter) -> StoreResult<Vec<Contract>> {
    let after = V::String(after.to_owned());
    let n = V::Integer(limit as i64);
    let (q, args) = match filter {
        ContractFilter::All => ("SELECT body FROM contracts WHERE id > ? ORDER BY id LIMIT ?", vec![after, n]),
        ContractFilter::LiveDrafts(now) => (
            "SELECT body FROM contracts WHERE status = 'draft' AND (expires_at IS NULL OR expires_at > ?)
             AND id > ? ORDER BY id LIMIT ?",
            vec![V::Integer(now.millis()), after, n],
        ),
        ContractFilter::ExpiredDrafts(now) => (
            "SELECT body FROM contracts WHERE status = 'draft' AND expires_at <= ? AND id > ? ORDER BY id LIMIT ?",
            vec![V::Integer(now.millis()), after, n],
        ),
        ContractFilter::Status(s) => (
            "SELECT body FROM contracts WHERE status = ? AND id > ? ORDER BY id LIMIT ?",
            vec![V::String(s.as_str().into()), after, n],
        ),
    };
    bodies(sql, q, args)
}
