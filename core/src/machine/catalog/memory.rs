//! The catalog kept in memory: the tests' store, with storage failures injected through
//! [`Faults`] and rolled back with [`crate::machine::transact`].

use super::{Billing, CatalogStore, ContractFilter};
use crate::contract::{Contract, ContractStatus};
use crate::customer::Customer;
use crate::invoice::Invoice;
use crate::lifecycle::InvoiceStatus;
use crate::machine::{Faults, StoreResult};
use crate::metric::Metric;
use crate::time::Timestamp;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct MemoryCatalog {
    pub metrics: Vec<Metric>,
    pub customers: BTreeMap<String, Customer>,
    pub billing: BTreeMap<String, Billing>,
    /// (customer, period start) → number.
    pub numbers: BTreeMap<(String, Timestamp), String>,
    pub last_sequence: u64,
    pub invoices: BTreeMap<String, Invoice>,
    pub contracts: BTreeMap<String, Contract>,
    pub faults: Faults,
}

fn after<'a, T: 'a>(map: &'a BTreeMap<String, T>, after: &'a str) -> impl Iterator<Item = &'a T> {
    map.iter().filter(move |(id, _)| id.as_str() > after).map(|(_, v)| v)
}

impl CatalogStore for MemoryCatalog {
    fn metrics(&self) -> StoreResult<Vec<Metric>> {
        let mut all = self.metrics.clone();
        all.sort_by(|a, b| (a.created_at, &a.def.code).cmp(&(b.created_at, &b.def.code)));
        Ok(all)
    }

    fn insert_metric(&mut self, metric: &Metric) -> StoreResult<()> {
        self.faults.write()?;
        self.metrics.push(metric.clone());
        Ok(())
    }

    fn put_customer(&mut self, customer: &Customer) -> StoreResult<()> {
        self.faults.write()?;
        self.customers.insert(customer.id.clone(), customer.clone());
        Ok(())
    }

    fn customers(&self, from: &str, limit: usize) -> StoreResult<Vec<Customer>> {
        Ok(after(&self.customers, from).take(limit).cloned().collect())
    }

    fn billing(&self, customer_id: &str) -> StoreResult<Option<Billing>> {
        Ok(self.billing.get(customer_id).cloned())
    }

    fn put_billing(&mut self, billing: &Billing) -> StoreResult<()> {
        self.faults.write()?;
        self.billing.insert(billing.customer_id.clone(), billing.clone());
        Ok(())
    }

    fn due(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<(Billing, Customer)>> {
        let mut due: Vec<(Billing, Customer)> = self
            .billing
            .values()
            .filter(|b| b.next_due <= now && !matches!(b.last_run, Some(r) if r >= now))
            .filter_map(|b| Some((b.clone(), self.customers.get(&b.customer_id)?.clone())))
            .collect();
        due.sort_by_key(|(b, _)| b.next_due);
        due.truncate(limit);
        Ok(due)
    }

    fn number(&self, customer_id: &str, period_start: Timestamp) -> StoreResult<Option<String>> {
        Ok(self.numbers.get(&(customer_id.to_owned(), period_start)).cloned())
    }

    fn last_sequence(&self) -> StoreResult<u64> {
        Ok(self.last_sequence)
    }

    fn put_number(
        &mut self,
        customer_id: &str,
        period_start: Timestamp,
        sequence: u64,
        number: &str,
    ) -> StoreResult<()> {
        self.faults.write()?;
        self.numbers.insert((customer_id.to_owned(), period_start), number.to_owned());
        self.faults.write()?;
        self.last_sequence = sequence;
        Ok(())
    }

    fn invoice(&self, id: &str) -> StoreResult<Option<Invoice>> {
        Ok(self.invoices.get(id).cloned())
    }

    fn put_invoice(&mut self, invoice: &Invoice) -> StoreResult<()> {
        self.faults.write()?;
        self.invoices.insert(invoice.id.clone(), invoice.clone());
        Ok(())
    }

    fn invoices(&self, from: &str, limit: usize, status: Option<InvoiceStatus>) -> StoreResult<Vec<Invoice>> {
        Ok(after(&self.invoices, from).filter(|i| status.is_none_or(|s| i.status == s)).take(limit).cloned().collect())
    }

    fn contract(&self, id: &str) -> StoreResult<Option<Contract>> {
        Ok(self.contracts.get(id).cloned())
    }

    fn put_contract(&mut self, contract: &Contract) -> StoreResult<()> {
        self.faults.write()?;
        self.contracts.insert(contract.id.clone(), contract.clone());
        Ok(())
    }

    fn contracts(&self, from: &str, limit: usize, filter: ContractFilter) -> StoreResult<Vec<Contract>> {
        let keep = |c: &Contract| match filter {
            ContractFilter::All => true,
            ContractFilter::Status(s) => c.status == s,
            ContractFilter::LiveDrafts(now) => {
                c.status == ContractStatus::Draft && c.terms.expires_at.is_none_or(|e| e > now)
            }
            ContractFilter::ExpiredDrafts(now) => {
                c.status == ContractStatus::Draft && c.terms.expires_at.is_some_and(|e| e <= now)
            }
        };
        Ok(after(&self.contracts, from).filter(|c| keep(c)).take(limit).cloned().collect())
    }
}
