//! edgemeter's Cloudflare Worker: the edge shell around `edgemeter-core`.
//!
//! Two sides with a protocol between them (ARCHITECTURE.md has the map):
//! - `front`: the `fetch` and `scheduled` handlers: authenticate, validate with `core`,
//!   and send each customer's work to its Durable Object (ingest through the isolate's
//!   batcher);
//! - `objects`: the Durable Objects: `CustomerObject` (one per customer, driving
//!   `core::book`), `CatalogObject` (metrics, the customer directory, the invoicing
//!   fan-out) and `IdempotencyObject` (one per `Idempotency-Key` of an admin POST);
//! - `protocol`: the typed requests between them. Objects never import from the front.

mod console;
mod front;
mod ids;
mod object_calls;
mod objects;
mod protocol;
mod respond;
mod settings;

pub use objects::{CatalogObject, CustomerObject, IdempotencyObject};

use edgemeter_core::time::Timestamp;
use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// The invoicing run (API.md, "Invoices"), with "now" = the trigger's scheduled time, so a
/// late or replayed trigger computes what was due then. It asks the catalog for pages of
/// due customers until none are left; each page is one bounded request. The run ends
/// with one log line (`front::log::RunLine`): customers due, drafts, finals, failures by
/// code.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = Timestamp(event.schedule() as i64);
    let mut line = front::log::RunLine::new(now);
    let result = front::api::run_invoicing(&env, now, &mut line).await;
    if let Err(e) = &result {
        worker::console_error!("invoicing run at {now}: {}", e.message);
    }
    line.finish(result);
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    front::fetch(req, env, ctx).await
}
