//! What a customer's machine stores of its credit grants and alerts (API.md, "Credits
//! and the live balance", "Alerts"): small tables the machine loads once, with the book,
//! and writes through. Implemented over SQLite in the worker (`objects/ledger/credits.rs`)
//! and in memory here.

use super::MemoryStore;
use crate::alert::Alert;
use crate::credit::Grant;
use crate::machine::StoreResult;

/// A customer's grants and alerts.
pub trait CreditStore {
    /// Every grant, oldest first.
    fn grants(&self) -> StoreResult<Vec<Grant>>;
    /// Stores a grant (new or changed), by id.
    fn put_grant(&mut self, g: &Grant) -> StoreResult<()>;
    /// Every alert, oldest first.
    fn alerts(&self) -> StoreResult<Vec<Alert>>;
    /// Stores an alert (new or changed), by id.
    fn put_alert(&mut self, a: &Alert) -> StoreResult<()>;
    fn delete_alert(&mut self, id: &str) -> StoreResult<()>;
}

impl CreditStore for MemoryStore {
    fn grants(&self) -> StoreResult<Vec<Grant>> {
        let mut all: Vec<Grant> = self.grants.values().cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    fn put_grant(&mut self, g: &Grant) -> StoreResult<()> {
        self.faults.write()?;
        self.grants.insert(g.id.clone(), g.clone());
        Ok(())
    }

    fn alerts(&self) -> StoreResult<Vec<Alert>> {
        let mut all: Vec<Alert> = self.alerts.values().cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    fn put_alert(&mut self, a: &Alert) -> StoreResult<()> {
        self.faults.write()?;
        self.alerts.insert(a.id.clone(), a.clone());
        Ok(())
    }

    fn delete_alert(&mut self, id: &str) -> StoreResult<()> {
        self.faults.write()?;
        self.alerts.remove(id);
        Ok(())
    }
}
