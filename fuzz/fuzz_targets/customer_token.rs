//! Customer tokens (`core::token`) on any bytes, read two ways:
//! - as the bearer token a client sends: never a panic, and one that verifies is what
//!   minting its claims writes, byte for byte (only `mint` makes a signature), and is not
//!   expired;
//! - as claims (a signed expiry offset, a byte to change, the customer id): the token
//!   minted for them verifies to the same claims before its expiry and never at or after
//!   it, and the same token with that one byte changed never verifies.
#![no_main]

use edgemeter_core::time::Timestamp;
use edgemeter_core::token::{mint, verify, Claims, TokenError};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "tok_fuzz";
const NOW: Timestamp = Timestamp(1_795_600_000_000);

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(claims) = verify(SECRET, text, NOW) {
            assert!(claims.expires_at > NOW, "expired token accepted: {text}");
            assert_eq!(mint(SECRET, &claims).as_deref(), Ok(text), "verified but mints differently");
        }
    }

    // [expiry offset in seconds: i32 LE][position: u16 LE][xor mask: u8][customer id…]
    let Some((head, customer)) = data.split_first_chunk::<7>() else { return };
    let offset = i64::from(i32::from_le_bytes([head[0], head[1], head[2], head[3]]));
    let position = usize::from(u16::from_le_bytes([head[4], head[5]]));
    let mask = head[6].max(1);
    let claims = Claims {
        customer_id: String::from_utf8_lossy(customer).into_owned(),
        expires_at: Timestamp(NOW.millis() + offset * 1000),
    };
    let token = mint(SECRET, &claims).expect("the secret is set");
    let before = Timestamp(claims.expires_at.millis() - 1);
    assert_eq!(verify(SECRET, &token, before), Ok(claims.clone()), "{token}");
    assert_eq!(verify(SECRET, &token, claims.expires_at), Err(TokenError::Expired), "{token}");
    assert_eq!(verify(SECRET, &token, NOW.max(claims.expires_at)), Err(TokenError::Expired), "{token}");

    let mut bytes = token.clone().into_bytes();
    let at = position % bytes.len();
    bytes[at] ^= mask;
    if let Ok(changed) = String::from_utf8(bytes) {
        // Before its expiry, so only the signature can refuse it.
        assert_eq!(verify(SECRET, &changed, before), Err(TokenError::Invalid), "{token} changed at {at}: {changed}");
    }
});
