//! All-or-nothing writes in a SQLite Durable Object.
//!
//! workers-rs 0.8.7 has no binding for `ctx.storage.transactionSync(fn)`, which runs `fn`
//! in a SQLite transaction and rolls it back if `fn` throws. This small extern reaches it:
//! the closure's `Err` becomes a JS exception inside `transactionSync`, so nothing written
//! before it is kept. The ingest test `failed_batch_keeps_nothing` holds this.

use wasm_bindgen::prelude::*;
use worker::Storage;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(extends = js_sys::Object)]
    type TxStorage;

    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(this: &TxStorage, f: &mut dyn FnMut() -> Result<JsValue, JsValue>) -> Result<JsValue, JsValue>;
}

/// Runs `f` in one transaction: committed if it returns `Ok`, rolled back on `Err`.
pub fn atomically<T>(storage: &Storage, mut f: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let raw: &TxStorage = storage.as_raw().unchecked_ref();
    let mut out = None;
    let mut err = None;
    let mut body = || match f() {
        Ok(v) => {
            out = Some(v);
            Ok(JsValue::UNDEFINED)
        }
        Err(e) => {
            err = Some(e.clone());
            Err(JsValue::from_str(&e))
        }
    };
    let result = raw.transaction_sync(&mut body);
    match (result, out, err) {
        (Ok(_), Some(v), _) => Ok(v),
        (_, _, Some(e)) => Err(e),
        (Err(e), _, None) => Err(format!("transaction failed: {e:?}")),
        (Ok(_), None, None) => Err("transaction returned nothing".into()),
    }
}

/// Runs a machine's call in one transaction: committed if it returns `Ok`, rolled back on
/// `Err`, which keeps its error code (a refused call is not a storage failure).
pub fn transaction<T>(
    storage: &Storage,
    mut f: impl FnMut() -> Result<T, edgemeter_core::ApiError>,
) -> Result<T, edgemeter_core::ApiError> {
    let mut refused = None;
    let out = atomically(storage, || {
        f().map_err(|e| {
            let message = e.message.to_string();
            refused = Some(e);
            message
        })
    });
    out.map_err(|message| refused.take().unwrap_or_else(|| crate::respond::internal("a transaction", message)))
}
