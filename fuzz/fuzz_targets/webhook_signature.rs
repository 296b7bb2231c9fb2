//! `Edgemeter-Signature` headers on any text (`edgemeter_sdk::verify_signature`, what a
//! receiver runs): never a panic, and a header that verifies is one made with the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    let body = b"{\"id\":\"evt_1\"}";
    let ok = edgemeter_sdk::verify_signature("whsec_fuzz", header, body, 1_795_600_000, 300);
    // Without the secret's HMAC no header can verify; libFuzzer finding one is a forgery.
    assert!(ok.is_err(), "forged signature accepted: {header}");
});
