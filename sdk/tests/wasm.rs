//! The wasm API as JavaScript sees it, run under Node by wasm-bindgen-test
//! (`make test-wasm`): `validateEvent` gives the canonical key, or throws an `Error`
//! carrying the server's `code` and `field`.
#![cfg(target_arch = "wasm32")]

use edgemeter_sdk::wasm::validate_event;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

const NOW: f64 = 1_795_600_000_000.0;

fn prop(v: &JsValue, name: &str) -> Option<String> {
    js_sys_get(v, name)
}

fn js_sys_get(v: &JsValue, name: &str) -> Option<String> {
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
        fn reflect_get(target: &JsValue, key: &JsValue) -> JsValue;
    }
    reflect_get(v, &JsValue::from_str(name)).as_string()
}

#[wasm_bindgen_test]
fn a_valid_event_gives_its_canonical_key() {
    let key = validate_event(
        r#"{"idempotency_key":"0192F0C1-0000-7000-8000-000000000001","customer_id":"cus_1","event_name":"x","value":"2.5"}"#,
        NOW,
    );
    assert_eq!(key.ok().as_deref(), Some("0192f0c1-0000-7000-8000-000000000001"));
}

#[wasm_bindgen_test]
fn an_invalid_event_throws_the_servers_code_and_field() {
    let err = validate_event(r#"{"idempotency_key":"0192f0c1-0000-7000-8000-000000000001","customer_id":"cus_1","event_name":"x","value":-1}"#, NOW)
        .expect_err("a negative value is refused");
    assert_eq!(prop(&err, "code").as_deref(), Some("invalid_value"));
    assert_eq!(prop(&err, "field").as_deref(), Some("value"));
    assert!(prop(&err, "message").is_some_and(|m| m.starts_with("invalid_value")));
}

#[wasm_bindgen_test]
fn a_timestamp_beyond_five_minutes_of_now_is_refused() {
    let err = validate_event(
        r#"{"idempotency_key":"0192f0c1-0000-7000-8000-000000000001","customer_id":"cus_1","event_name":"x","timestamp":"2099-01-01T00:00:00Z"}"#,
        NOW,
    )
    .expect_err("future");
    assert_eq!(prop(&err, "code").as_deref(), Some("timestamp_in_future"));
}
