//! RFC 3339 timestamps and decimal values on any text: never a panic, and what is
//! accepted writes back and reads again to the same value.
#![no_main]

use edgemeter_core::quantity::{format, parse_value, parse_value_slow};
use edgemeter_core::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Timestamp::parse_rfc3339(text) {
        let written = t.to_rfc3339();
        assert_eq!(Timestamp::parse_rfc3339(&written), Ok(t), "{text} → {written}");
    }
    let fast = parse_value(text);
    assert_eq!(fast, parse_value_slow(text), "the fast and the plain decimal readers disagree on {text:?}");
    if let Ok(d) = fast {
        let written = format(d);
        assert_eq!(parse_value(&written), Ok(d.normalize()), "{text} → {written}");
    }
});
