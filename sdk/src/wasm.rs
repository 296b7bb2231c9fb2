//! The wasm API of the npm package (`sdk/js/` wraps it): one call per event, with no
//! string crossing the boundary on the way in and none on the way back for a valid event.
//!
//! The JS client asks for a scratch buffer once ([`scratch`]), writes each event into it
//! in the compact format ([`crate::compact`]) and calls [`check_event`]; only a refused
//! event costs more, a [`last_error`] call for its `Error`.

use crate::compact::check_compact;
use edgemeter_core::ApiError;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static LAST_ERROR: RefCell<Option<ApiError>> = const { RefCell::new(None) };
}

/// JS: `scratch(capacity)` makes the scratch buffer at least `capacity` bytes long and
/// returns its address in wasm memory. It moves when it grows, so callers ask again for a
/// larger event; a view of the memory must be taken again whenever memory has grown.
#[wasm_bindgen]
pub fn scratch(capacity: usize) -> *mut u8 {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < capacity {
            s.resize(capacity, 0);
        }
        s.as_mut_ptr()
    })
}

/// The event is valid.
pub const VALID: u32 = 0;
/// Valid, but the idempotency key has upper-case digits: its canonical form is the
/// lower-case one.
pub const VALID_KEY_UPPER: u32 = 1;
/// Refused: [`last_error`] has the error.
pub const REFUSED: u32 = 2;

/// JS: `checkEvent(len, nowMs)` checks the event written in the first `len` bytes of
/// the scratch buffer, with `nowMs` as its arrival time: [`VALID`], [`VALID_KEY_UPPER`]
/// or [`REFUSED`].
#[wasm_bindgen(js_name = checkEvent)]
pub fn check_event(len: usize, now_ms: f64) -> u32 {
    let outcome = SCRATCH.with(|s| {
        let s = s.borrow();
        match s.get(..len) {
            Some(buf) => {
                check_compact(buf, now_ms as i64).map(|ev| matches!(ev.idempotency_key, std::borrow::Cow::Owned(_)))
            }
            None => Err(ApiError::new(
                edgemeter_core::ErrorCode::InvalidRequest,
                "event beyond the scratch buffer (an SDK bug)",
            )),
        }
    });
    match outcome {
        Ok(false) => VALID,
        Ok(true) => VALID_KEY_UPPER,
        Err(e) => {
            LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
            REFUSED
        }
    }
}

/// JS: `lastError()` is the error of the last refused event: an `Error` whose message
/// is `code: message`, with `code` and (when one field is to blame) `field` set.
#[wasm_bindgen(js_name = lastError)]
pub fn last_error() -> JsValue {
    match LAST_ERROR.with(|l| l.borrow_mut().take()) {
        Some(e) => to_js_error(&e),
        None => JsValue::NULL,
    }
}

fn to_js_error(e: &ApiError) -> JsValue {
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
