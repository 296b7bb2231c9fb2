//! Reading and writing rows of an object's SQLite storage as a machine's store does:
//! every failure a [`StoreError`], which the call answers as a retryable 500.

use edgemeter_core::machine::{StoreError, StoreResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{SqlStorage, SqlStorageValue as V};

/// The rows a query reads.
pub fn rows<T: DeserializeOwned>(sql: &SqlStorage, q: &str, args: Vec<V>) -> StoreResult<Vec<T>> {
    sql.exec(q, args).and_then(|c| c.to_array()).map_err(StoreError::new)
}

/// Runs a write.
pub fn exec(sql: &SqlStorage, q: &str, args: Vec<V>) -> StoreResult<()> {
    sql.exec(q, args).map(|_| ()).map_err(StoreError::new)
}

/// A stored JSON body.
pub fn parse<T: DeserializeOwned>(body: &str) -> StoreResult<T> {
    serde_json::from_str(body).map_err(StoreError::new)
}

/// A value as the JSON body to store.
pub fn text<T: Serialize>(value: &T) -> StoreResult<V> {
    serde_json::to_string(value).map(V::String).map_err(StoreError::new)
}

/// A `body` column.
#[derive(serde::Deserialize)]
pub struct BodyRow {
    pub body: String,
}

/// Parses each row's body.
pub fn bodies<T: DeserializeOwned>(sql: &SqlStorage, q: &str, args: Vec<V>) -> StoreResult<Vec<T>> {
    rows::<BodyRow>(sql, q, args)?.iter().map(|r| parse(&r.body)).collect()
}
