//! Customer tokens (API.md, "Customer tokens"): `ct_<customer_id>.<expiry>.<signature>`,
//! where the expiry is in whole Unix seconds and the signature is the lower-case hex
//! HMAC-SHA256 of `<customer_id>.<expiry>` under the account's token secret. A token is
//! self-contained, so checking one needs no storage read; a browser app holds one to
//! report usage for its one customer only.
//!
//! Pure: the caller passes the secret and "now". Only [`mint`] makes a signature, so a
//! token that verifies is byte for byte what [`mint`] writes for its [`Claims`] (the fuzz
//! target `customer_token` holds that, and that no changed byte and no expired token ever
//! verifies).

use crate::error::{ApiError, ErrorCode};
use crate::time::{Timestamp, SECOND_MS};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every customer token starts with (and what tells one from an API key).
pub const PREFIX: &str = "ct_";
/// The longest a token may live.
pub const MAX_TTL_SECONDS: u64 = 24 * 60 * 60;

/// What a token grants: ingesting `customer_id`'s events until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub customer_id: String,
    /// Whole seconds: the token carries no finer time.
    pub expires_at: Timestamp,
}

impl Claims {
    /// Claims for `customer_id` good for `ttl_seconds` from `now`, the expiry rounded down
    /// to the second as the token carries it.
    pub fn new(customer_id: impl Into<String>, now: Timestamp, ttl_seconds: u64) -> Claims {
        let ttl_ms = i64::try_from(ttl_seconds).unwrap_or(i64::MAX).saturating_mul(SECOND_MS);
        let at = now.saturating_add_ms(ttl_ms).millis();
        Claims { customer_id: customer_id.into(), expires_at: Timestamp(at - at.rem_euclid(SECOND_MS)) }
    }
}

/// Why a token was not minted or not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The account has no token secret: the server's misconfiguration, not the caller's.
    #[error("customer tokens need EDGEMETER_TOKEN_SECRET to be set")]
    NoSecret,
    /// Not a token this account signed (malformed, tampered, or another secret's).
    #[error("invalid customer token")]
    Invalid,
    /// Signed here, but `now` is at or past its expiry.
    #[error("the customer token has expired")]
    Expired,
}

impl TokenError {
    /// The API's code: a token that does not verify is bad credentials (401).
    pub fn code(self) -> ErrorCode {
        match self {
            TokenError::NoSecret => ErrorCode::InternalError,
            TokenError::Invalid | TokenError::Expired => ErrorCode::Unauthorized,
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> ApiError {
        ApiError::new(e.code(), e.to_string())
    }
}

/// The token for `claims`, signed with `secret`.
pub fn mint(secret: &str, claims: &Claims) -> Result<String, TokenError> {
    let payload = format!("{}.{}", claims.customer_id, claims.expires_at.millis().div_euclid(SECOND_MS));
    let signature = mac(secret, &payload)?.finalize().into_bytes();
    let mut token = String::with_capacity(PREFIX.len() + payload.len() + 1 + 2 * signature.len());
    token.push_str(PREFIX);
    token.push_str(&payload);
    token.push('.');
    for b in signature {
        token.push(HEX[usize::from(b >> 4)] as char);
        token.push(HEX[usize::from(b & 15)] as char);
    }
    Ok(token)
}

/// The claims of `token` if `secret` signed it and it has not expired at `now`.
///
/// The signature is checked first (in constant time), so an unsigned token says nothing
/// about its expiry.
pub fn verify(secret: &str, token: &str, now: Timestamp) -> Result<Claims, TokenError> {
    let rest = token.strip_prefix(PREFIX).ok_or(TokenError::Invalid)?;
    let (payload, signature) = rest.rsplit_once('.').ok_or(TokenError::Invalid)?;
    let signature = decode_hex(signature).ok_or(TokenError::Invalid)?;
    mac(secret, payload)?.verify_slice(&signature).map_err(|_| TokenError::Invalid)?;
    let (customer_id, expiry) = payload.rsplit_once('.').ok_or(TokenError::Invalid)?;
    let expiry: i64 = expiry.parse().map_err(|_| TokenError::Invalid)?;
    let expires_at = Timestamp(expiry.saturating_mul(SECOND_MS));
    if now >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(Claims { customer_id: customer_id.to_owned(), expires_at })
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn mac(secret: &str, payload: &str) -> Result<Hmac<Sha256>, TokenError> {
    if secret.is_empty() {
        return Err(TokenError::NoSecret);
    }
    // HMAC takes a key of any length; the error arm is for the trait's other users.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map_err(|_| TokenError::NoSecret)?;
    mac.update(payload.as_bytes());
    Ok(mac)
}

/// Lower-case hex only, as [`mint`] writes it: one spelling per signature.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| HEX.iter().position(|&h| h == c).map(|d| d as u8);
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "token-secret";
    const NOW: Timestamp = Timestamp(1_795_600_000_123);
    const CUSTOMER: &str = "cus_0000000000000000000000000a";

    fn token(ttl: u64) -> (Claims, String) {
        let claims = Claims::new(CUSTOMER, NOW, ttl);
        let token = mint(SECRET, &claims).expect("a secret is set");
        (claims, token)
    }

    #[test]
    fn a_minted_token_verifies_to_its_claims_until_it_expires() {
        let (claims, token) = token(3600);
        assert_eq!(claims.expires_at, Timestamp(1_795_603_600_000), "whole seconds, rounded down");
        assert_eq!(token, format!("{PREFIX}{CUSTOMER}.1795603600.{}", &token[token.len() - 64..]));
        assert_eq!(verify(SECRET, &token, NOW), Ok(claims.clone()));
        assert_eq!(verify(SECRET, &token, Timestamp(claims.expires_at.millis() - 1)), Ok(claims.clone()));
        assert_eq!(verify(SECRET, &token, claims.expires_at), Err(TokenError::Expired));
        assert_eq!(verify(SECRET, &token, Timestamp(i64::MAX)), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_with_any_byte_changed_does_not_verify() {
        let (_, token) = token(3600);
        for i in 0..token.len() {
            for replacement in [b'0', b'a', b'f', b'.', b'_', b'Z', b'9'] {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == replacement {
                    continue;
                }
                bytes[i] = replacement;
                let changed = String::from_utf8(bytes).expect("ASCII");
                assert!(verify(SECRET, &changed, NOW).is_err(), "{changed} verified");
            }
        }
        // Dropping or adding a byte is no better.
        assert_eq!(verify(SECRET, &token[..token.len() - 1], NOW), Err(TokenError::Invalid));
        assert_eq!(verify(SECRET, &format!("{token}0"), NOW), Err(TokenError::Invalid));
        assert_eq!(verify(SECRET, &token.to_uppercase().replacen("CT_", "ct_", 1), NOW), Err(TokenError::Invalid));
    }

    #[test]
    fn another_secret_or_another_customer_does_not_verify() {
        let (_, token) = token(3600);
        assert_eq!(verify("another-secret", &token, NOW), Err(TokenError::Invalid));
        let swapped = token.replacen(CUSTOMER, "cus_0000000000000000000000000b", 1);
        assert_eq!(verify(SECRET, &swapped, NOW), Err(TokenError::Invalid));
    }

    #[test]
    fn malformed_tokens_are_invalid_not_a_panic() {
        for t in ["", "ct_", "ct_.", "ct_..", "ct_cus.1.", "ct_cus.1.zz", "ct_cus.1.abc", "sk_x", "ct_ü.1.ab", "ct_x.y"]
        {
            assert_eq!(verify(SECRET, t, NOW), Err(TokenError::Invalid), "{t:?}");
        }
    }

    #[test]
    fn no_secret_mints_nothing_and_verifies_nothing() {
        let claims = Claims::new(CUSTOMER, NOW, 60);
        assert_eq!(mint("", &claims), Err(TokenError::NoSecret));
        let (_, token) = token(60);
        assert_eq!(verify("", &token, NOW), Err(TokenError::NoSecret));
        assert_eq!(ApiError::from(TokenError::NoSecret).code, ErrorCode::InternalError);
        assert_eq!(ApiError::from(TokenError::Expired).code, ErrorCode::Unauthorized);
    }

    #[test]
    fn a_huge_ttl_saturates_instead_of_overflowing() {
        let claims = Claims::new(CUSTOMER, NOW, u64::MAX);
        let token = mint(SECRET, &claims).expect("minted");
        assert!(verify(SECRET, &token, NOW).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn any_claims_round_trip(customer in "\\PC{0,40}", now in 0i64..4_000_000_000_000, ttl in 1u64..=MAX_TTL_SECONDS) {
            let claims = Claims::new(customer, Timestamp(now), ttl);
            let token = mint(SECRET, &claims).expect("a secret is set");
            proptest::prop_assert_eq!(verify(SECRET, &token, Timestamp(now)), Ok(claims.clone()));
            proptest::prop_assert_eq!(verify(SECRET, &token, claims.expires_at), Err(TokenError::Expired));
        }
    }
}
