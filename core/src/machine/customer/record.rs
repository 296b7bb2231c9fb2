//! The customer record, its items, and the rejected-events log.

use super::{json, CustomerMachine, CustomerStore, Handled, ListRejections, Logged};
use super::{RecordCall, RejectionCall};
use crate::customer::CustomerInput;
use crate::page::Page;
use crate::rejection::{RejectedEvent, LOG_CAPACITY};
use crate::{ApiError, ErrorCode};

impl CustomerMachine {
    pub(super) fn record(&mut self, call: RecordCall, store: &mut impl CustomerStore) -> Result<Handled, ApiError> {
        match call {
            RecordCall::Create(c) => {
                // Ids of keyed creates are the same on every copy that runs, so a customer
                // already here is the one a failed copy began: answer it as created, and
                // the front completes the directory.
                if let Some(existing) = store.customer()? {
                    return json(201, &existing);
                }
                store.put_customer(&c.customer)?;
                self.book = None;
                json(201, &c.customer)
            }
            RecordCall::Get(_) => json(200, self.book(store)?.customer()),
            RecordCall::Patch(p) => {
                let input = CustomerInput::from_body(p.body.as_bytes(), p.now)?;
                let book = self.book(store)?;
                let mut c = book.customer().clone();
                input.apply(&mut c)?;
                store.put_customer(&c)?;
                book.set_customer(c.clone());
                json(200, &c)
            }
            RecordCall::CreateItem(c) => {
                self.book(store)?;
                store.put_item(&c.item)?;
                json(201, &c.item)
            }
            RecordCall::ListItems(_) => {
                self.book(store)?;
                json(200, &store.items()?)
            }
            RecordCall::Adopt(a) => {
                // A customer already here from the same contract is a repeat: its items
                // are completed, nothing doubled.
                let customer = match store.customer()? {
                    Some(c) if c.contract_id == a.acceptance.customer.contract_id => c,
                    Some(_) => {
                        return Err(ApiError::new(
                            ErrorCode::InternalError,
                            "accepting a contract: its customer id names a customer of another origin",
                        ))
                    }
                    None => a.acceptance.customer.clone(),
                };
                store.put_customer(&customer)?;
                for item in &a.acceptance.items {
                    store.put_item(item)?;
                }
                self.book = None;
                json(200, &customer)
            }
        }
    }

    pub(super) fn rejections(
        &mut self,
        call: RejectionCall,
        store: &mut impl CustomerStore,
    ) -> Result<Handled, ApiError> {
        match call {
            RejectionCall::Log(l) => {
                if l.of_customer {
                    self.book(store)?;
                }
                store.log_rejections(&l.entries, LOG_CAPACITY)?;
                json(200, &Logged { logged: l.entries.len() })
            }
            RejectionCall::List(ListRejections { limit, cursor, of_customer }) => {
                if of_customer {
                    self.book(store)?;
                }
                let before = match cursor {
                    None => None,
                    Some(c) => {
                        Some(c.parse::<i64>().map_err(|_| ApiError::invalid("cursor", "not a cursor this list gave"))?)
                    }
                };
                let rows = store.rejections(limit.saturating_add(1), before)?;
                let page = Page::from_rows(rows, limit, |(seq, _)| seq.to_string());
                let data: Vec<RejectedEvent> = page.data.into_iter().map(|(_, r)| r).collect();
                json(200, &Page { data, next_cursor: page.next_cursor })
            }
        }
    }
}
