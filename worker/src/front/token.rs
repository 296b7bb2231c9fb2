//! Customer tokens (API.md, "Customer tokens"), the shell around `core::token`: it reads
//! the account's `EDGEMETER_TOKEN_SECRET` and passes it, with the request's "now", to the
//! pure minting and checking.

use crate::front::auth::setting;
use edgemeter_core::time::Timestamp;
use edgemeter_core::token::{self, Claims};
use edgemeter_core::ApiError;
use worker::Env;

pub use edgemeter_core::token::{MAX_TTL_SECONDS, PREFIX};

fn secret(env: &Env) -> String {
    setting(env, "EDGEMETER_TOKEN_SECRET")
}

/// A token for `claims`.
pub fn mint(env: &Env, claims: &Claims) -> Result<String, ApiError> {
    Ok(token::mint(&secret(env), claims)?)
}

/// The customer a token names, if it is intact and not expired at `now`.
pub fn verify(env: &Env, token: &str, now: Timestamp) -> Result<String, ApiError> {
    Ok(token::verify(&secret(env), token, now)?.customer_id)
}
