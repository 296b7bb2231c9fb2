//! The JS `Error` both wasm builds (the tracking client's and the checks') throw or
//! return for an [`ApiError`]: its message is `code: message`, with `code` and (when one
//! field is to blame) `field` set, so JS code reads it like the API's error shape.

use edgemeter_core::ApiError;
use wasm_bindgen::prelude::*;

pub(crate) fn to_js_error(e: &ApiError) -> JsValue {
    let err = js_error_ctor(&format!("{}: {}", e.code.as_str(), e.message));
    let _ = reflect_set(&err, &JsValue::from_str("code"), &JsValue::from_str(e.code.as_str()));
    if let Some(f) = &e.field {
        let _ = reflect_set(&err, &JsValue::from_str("field"), &JsValue::from_str(f));
    }
    err
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Error)]
    fn js_error_ctor(message: &str) -> JsValue;
    #[wasm_bindgen(js_namespace = Reflect, js_name = set, catch)]
    fn reflect_set(target: &JsValue, key: &JsValue, value: &JsValue) -> Result<bool, JsValue>;
}
