//! Customer tokens (API.md, "Customer tokens"): `ct_<customer_id>.<expiry>.<signature>`,
//! signed with HMAC-SHA256 under `EDGEMETER_TOKEN_SECRET`, so checking one needs no
//! storage read. A browser app holds one to report usage for its one customer only.

use crate::front::auth::ct_eq;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const PREFIX: &str = "ct_";
/// The longest a token may live.
pub const MAX_TTL_SECONDS: u64 = 24 * 60 * 60;

fn sign(secret: &str, payload: &str) -> Result<Vec<u8>, ApiError> {
    if secret.is_empty() {
        return Err(ApiError::new(ErrorCode::InternalError, "customer tokens need EDGEMETER_TOKEN_SECRET to be set"));
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .map_err(|_| ApiError::new(ErrorCode::InternalError, "unusable EDGEMETER_TOKEN_SECRET"))?;
    mac.update(payload.as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A token for `customer_id` valid until `expires_at` (whole seconds).
pub fn mint(secret: &str, customer_id: &str, expires_at: Timestamp) -> Result<String, ApiError> {
    let payload = format!("{customer_id}.{}", expires_at.millis().div_euclid(1000));
    Ok(format!("{PREFIX}{payload}.{}", hex(&sign(secret, &payload)?)))
}

/// The customer a token names, if it is intact and not expired at `now`.
pub fn verify(secret: &str, token: &str, now: Timestamp) -> Result<String, ApiError> {
    let bad = || ApiError::new(ErrorCode::Unauthorized, "invalid customer token");
    let rest = token.strip_prefix(PREFIX).ok_or_else(bad)?;
    let (payload, sig) = rest.rsplit_once('.').ok_or_else(bad)?;
    let (customer, exp) = payload.rsplit_once('.').ok_or_else(bad)?;
    let expected = hex(&sign(secret, payload)?);
    if !ct_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(bad());
    }
    let exp: i64 = exp.parse().map_err(|_| bad())?;
    if now.millis() >= exp.saturating_mul(1000) {
        return Err(ApiError::new(ErrorCode::Unauthorized, "the customer token has expired"));
    }
    Ok(customer.to_owned())
}
