//! Who is calling (API.md, "Conventions", Auth). Keys come from worker variables
//! (`EDGEMETER_SECRET_KEYS`, `EDGEMETER_INGEST_KEYS`, comma-separated) and are compared in
//! constant time: both sides are hashed to 32 bytes and every configured key is compared
//! in full, so timing says nothing about how much of a guess was right. A customer token
//! (`ct_…`) is checked by `core::token` with `EDGEMETER_TOKEN_SECRET`; minting one is
//! `front::token`'s, which reads the same secret through [`token_secret`].

use edgemeter_core::time::Timestamp;
use edgemeter_core::token;
use edgemeter_core::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};
use worker::{Env, Request};

/// What a credential may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// `sk_…`: everything.
    Secret,
    /// `pk_…`: only `POST /v1/usage/ingest`, and a customer's entitlements and
    /// reservations (`api::limits::open_to_customer_keys`).
    Ingest,
    /// `ct_…`: the same as an ingest key, and only for this customer.
    Customer(String),
}

impl Principal {
    /// Refuses an ingest key on a route that needs a secret key (403, not 401: the key is
    /// valid, it just may not do this).
    pub fn require_secret(&self) -> Result<(), ApiError> {
        match self {
            Principal::Secret => Ok(()),
            Principal::Ingest | Principal::Customer(_) => {
                Err(ApiError::new(ErrorCode::Forbidden, "this route needs a secret key (sk_…)"))
            }
        }
    }

    /// The one customer this credential may report for, if it is limited to one.
    pub fn only_customer(&self) -> Option<&str> {
        match self {
            Principal::Customer(c) => Some(c),
            _ => None,
        }
    }
}

/// A variable or secret's text; absent means empty.
pub fn setting(env: &Env, name: &str) -> String {
    env.var(name).map(|v| v.to_string()).or_else(|_| env.secret(name).map(|v| v.to_string())).unwrap_or_default()
}

/// The account's secret for customer tokens.
pub fn token_secret(env: &Env) -> String {
    setting(env, "EDGEMETER_TOKEN_SECRET")
}

/// Reads a comma-separated key list from a variable or secret; absent means none.
pub fn configured_keys(env: &Env, name: &str) -> Vec<String> {
    setting(env, name).split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

/// Authenticates the request's bearer key.
pub fn authenticate(req: &Request, env: &Env, now: Timestamp) -> Result<Principal, ApiError> {
    let unauthorized = |m: &'static str| ApiError::new(ErrorCode::Unauthorized, m);
    let header = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .ok_or_else(|| unauthorized("send `Authorization: Bearer <key>`"))?;
    let key = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| unauthorized("send `Authorization: Bearer <key>`"))?;
    if key.starts_with(token::PREFIX) {
        return Ok(Principal::Customer(token::verify(&token_secret(env), key, now)?.customer_id));
    }
    let digest = Sha256::digest(key.as_bytes());
    let secret = any_matches(&digest, &configured_keys(env, "EDGEMETER_SECRET_KEYS"));
    let ingest = any_matches(&digest, &configured_keys(env, "EDGEMETER_INGEST_KEYS"));
    if secret {
        Ok(Principal::Secret)
    } else if ingest {
        Ok(Principal::Ingest)
    } else {
        Err(unauthorized("unknown API key"))
    }
}

fn any_matches(digest: &[u8], keys: &[String]) -> bool {
    let mut found = 0u8;
    for k in keys {
        found |= ct_eq(digest, &Sha256::digest(k.as_bytes())) as u8;
    }
    found == 1
}

/// Constant-time equality of two equal-length digests.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}
