//! Minting customer tokens (API.md, "Customer tokens"), the shell around `core::token`:
//! it passes the account's `EDGEMETER_TOKEN_SECRET` to the pure minting. Checking a token
//! is part of authenticating a request (`front::auth`), which this module builds on and
//! which never calls back into it.

use crate::front::auth::token_secret;
use edgemeter_core::token::{self, Claims};
use edgemeter_core::ApiError;
use worker::Env;

pub use edgemeter_core::token::MAX_TTL_SECONDS;

/// A token for `claims`.
pub fn mint(env: &Env, claims: &Claims) -> Result<String, ApiError> {
    Ok(token::mint(&token_secret(env), claims)?)
}
