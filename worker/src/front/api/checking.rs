//! API.md "Checking an invoice": the events behind an invoice, and simulation. Both are
//! answered by the customer's object (`core::machine::customer`'s checks); nothing here
//! decides anything.

use super::{customer_on_path, list_params, metric_defs};
use crate::front::api::invoices::owner;
use crate::front::Ctx;
use crate::protocol::{customer, customer_call, customer_stub};
use crate::respond::Reply;
use edgemeter_core::simulate::Simulation;
use edgemeter_core::ApiError;

/// `GET /v1/invoices/{id}/events?limit=&cursor=`: the events the invoice counted, as
/// stored, in idempotency-key order.
pub async fn events(ctx: &Ctx, id: &str, query: &[(String, String)]) -> Result<Reply, ApiError> {
    let (limit, cursor) = list_params(query)?;
    let customer_id = owner(ctx, id).await?;
    let call = customer::InvoiceEvents { id: id.to_owned(), limit, cursor };
    customer_call(&customer_stub(&ctx.env, &customer_id)?, call).await
}

/// `POST /v1/customers/{id}/simulate` `{"items": [item specs], "period_start"?}`: the
/// invoice that period would have produced under those items; nothing is changed.
pub async fn simulate(ctx: &Ctx, customer_id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let metrics = metric_defs(&ctx.env).await?;
    let sim = Simulation::from_body(body, &metrics, customer_id, ctx.now)?;
    let stub = customer_on_path(&ctx.env, customer_id)?;
    let call = customer::Simulate { now: ctx.now, period_start: sim.period_start, items: sim.items, metrics };
    customer_call(&stub, call).await
}
