//! The wasm API of the npm package (`sdk/js/` wraps it).

use wasm_bindgen::prelude::*;

/// JS: `validateEvent(json, nowMs)` returns the canonical idempotency key, or throws
/// an `Error` whose message is `code: message` and whose `field` names the culprit.
#[wasm_bindgen(js_name = validateEvent)]
pub fn validate_event(json: &str, now_ms: f64) -> Result<String, JsValue> {
    super::validate_event(json, now_ms as i64).map_err(|e| {
        let err = js_sys_error(&format!("{}: {}", e.code, e.message));
        let _ = js_set(&err, "code", &JsValue::from_str(e.code.as_str()));
        if let Some(f) = &e.field {
            let _ = js_set(&err, "field", &JsValue::from_str(f));
        }
        err
    })
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Error)]
    fn js_error_ctor(message: &str) -> JsValue;
    #[wasm_bindgen(js_namespace = Reflect, js_name = set, catch)]
    fn reflect_set(target: &JsValue, key: &JsValue, value: &JsValue) -> Result<bool, JsValue>;
}

fn js_sys_error(message: &str) -> JsValue {
    js_error_ctor(message)
}

fn js_set(target: &JsValue, key: &str, value: &JsValue) -> Result<bool, JsValue> {
    reflect_set(target, &JsValue::from_str(key), value)
}
