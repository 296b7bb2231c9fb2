//! API.md "Customer tokens": `POST /v1/tokens` mints a short-lived token that may only
//! ingest events for one customer.

use super::customer_stub;
use crate::front::token::{self, MAX_TTL_SECONDS};
use crate::front::Ctx;
use crate::protocol::{ask, customer};
use crate::respond::Reply;
use edgemeter_core::customer::Customer;
use edgemeter_core::input::Fields;
use edgemeter_core::token::Claims;
use edgemeter_core::ApiError;
use serde_json::json;

pub async fn create(ctx: &Ctx, body: &[u8]) -> Result<Reply, ApiError> {
    let mut f = Fields::parse(body)?;
    let customer_id = f.req_str("customer_id")?;
    let ttl = f.opt_u64("ttl_seconds", 1, MAX_TTL_SECONDS)?.unwrap_or(3600);
    f.finish()?;
    // The customer must exist: a token for nobody would only hide a typo.
    let customer: Customer = ask(&customer_stub(&ctx.env, &customer_id)?, customer::Get {}).await?;
    let claims = Claims::new(customer.id, ctx.now, ttl);
    let token = token::mint(&ctx.env, &claims)?;
    Reply::json(201, &json!({"token": token, "customer_id": claims.customer_id, "expires_at": claims.expires_at}))
}
