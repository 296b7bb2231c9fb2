//! All-or-nothing writes in a SQLite Durable Object.
//!
//! workers-rs 0.8.7 has no binding for `ctx.storage.transactionSync(fn)`, which runs `fn`
//! in a SQLite transaction and rolls it back if `fn` throws. This small extern reaches it:
//! the closure's `Err` becomes a JS exception inside `transactionSync`, so nothing written
//! before it is kept. The ingest test `failed_batch_keeps_nothing` holds this.

use edgemeter_core::{ApiError, ErrorCode};
use wasm_bindgen::prelude::*;
use worker::Storage;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(extends = js_sys::Object)]
    type TxStorage;

    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(this: &TxStorage, f: &mut dyn FnMut() -> Result<JsValue, JsValue>) -> Result<JsValue, JsValue>;
}

/// Runs a machine's call in one transaction: committed if it returns `Ok`, rolled back on
/// `Err`, which keeps its error code across the rollback (a `409` stays a `409`).
pub fn transaction<T>(storage: &Storage, mut f: impl FnMut() -> Result<T, ApiError>) -> Result<T, ApiError> {
    let raw: &TxStorage = storage.as_raw().unchecked_ref();
    let mut out = None;
    let mut err = None;
    let mut body = || match f() {
        Ok(v) => {
            out = Some(v);
            Ok(JsValue::UNDEFINED)
        }
        Err(e) => {
            let message = JsValue::from_str(&e.to_string());
            err = Some(e);
            Err(message)
        }
    };
    let result = raw.transaction_sync(&mut body);
    let failed = |m: String| ApiError::new(ErrorCode::InternalError, m);
    match (result, out, err) {
        (Ok(_), Some(v), _) => Ok(v),
        (_, _, Some(e)) => Err(e),
        (Err(e), _, None) => Err(failed(format!("transaction failed: {e:?}"))),
        (Ok(_), None, None) => Err(failed("transaction returned nothing".into())),
    }
}
