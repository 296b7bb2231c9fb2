//! Fresh resource ids: `core::id` with the runtime's clock reading and random bytes.

use edgemeter_core::id::new_id;
use edgemeter_core::time::Timestamp;

/// A new id with the given prefix (`cus`, `inv`, …), time-ordered by `now`.
pub fn fresh(prefix: &str, now: Timestamp) -> Result<String, String> {
    let mut random = [0u8; 10];
    getrandom::getrandom(&mut random).map_err(|e| format!("random source: {e}"))?;
    Ok(new_id(prefix, now, random))
}
