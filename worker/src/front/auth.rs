//! Who is calling (API.md, "Conventions", Auth). Keys come from worker variables
//! (`EDGEMETER_SECRET_KEYS`, `EDGEMETER_INGEST_KEYS`, comma-separated) and are compared in
//! constant time: both sides are hashed to 32 bytes and every configured key is compared
//! in full, so timing says nothing about how much of a guess was right. A customer token
//! (`ct_…`) is checked by `core::token` with `EDGEMETER_TOKEN_SECRET`; minting one is
//! `front::token`'s, which reads the same secret through [`token_secret`].

use crate::settings;
use edgemeter_core::time::Timestamp;
use edgemeter_core::token;
use edgemeter_core::{ApiError, ErrorCode};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Env, Request};

/// What a credential may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// `sk_…`: everything.
    Secret,
    /// `pk_…`: only `POST /v1/usage/ingest`, and a customer's balance, entitlements and
    /// reservations (`front::open_to_customer_keys`).
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

    /// Refuses a customer token on another customer's route (403 `forbidden_customer`);
    /// keys are not limited to one customer.
    pub fn require_customer(&self, customer_id: &str) -> Result<(), ApiError> {
        match self.only_customer() {
            Some(c) if c != customer_id => Err(ApiError::new(
                ErrorCode::ForbiddenCustomer,
                "this customer token may only act for its own customer",
            )
            .field("customer_id")),
            _ => Ok(()),
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

thread_local! {
    /// The digests of each key list's keys, by setting name: settings never change under
    /// an isolate (`crate::settings`), so neither do these.
    static KEY_DIGESTS: RefCell<HashMap<&'static str, Rc<[Key]>>> = RefCell::new(HashMap::new());
}

type Key = [u8; 32];

/// The account's secret for customer tokens.
pub fn token_secret(env: &Env) -> Rc<str> {
    settings::get(env, "EDGEMETER_TOKEN_SECRET")
}

/// Reads a comma-separated key list from a variable or secret; absent means none.
pub fn configured_keys(env: &Env, name: &'static str) -> Vec<String> {
    settings::get(env, name).split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

/// The SHA-256 digests of a key list's keys ([`configured_keys`]).
fn key_digests(env: &Env, name: &'static str) -> Rc<[Key]> {
    if let Some(d) = KEY_DIGESTS.with(|k| k.borrow().get(name).cloned()) {
        return d;
    }
    let digests: Rc<[Key]> = configured_keys(env, name).iter().map(|k| Sha256::digest(k.as_bytes()).into()).collect();
    KEY_DIGESTS.with(|k| k.borrow_mut().insert(name, digests.clone()));
    digests
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
    let secret = any_matches(&digest, &key_digests(env, "EDGEMETER_SECRET_KEYS"));
    let ingest = any_matches(&digest, &key_digests(env, "EDGEMETER_INGEST_KEYS"));
    if secret {
        Ok(Principal::Secret)
    } else if ingest {
        Ok(Principal::Ingest)
    } else {
        Err(unauthorized("unknown API key"))
    }
}

fn any_matches(digest: &[u8], keys: &[Key]) -> bool {
    let mut found = 0u8;
    for k in keys {
        found |= ct_eq(digest, k) as u8;
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
