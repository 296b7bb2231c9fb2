//! Request bodies, read up to a limit. Ingest also takes a gzipped body (`Content-Encoding:
//! gzip`, API.md "Usage ingestion"), which the runtime's own `DecompressionStream`
//! inflates as a stream (no inflater in our wasm): the limit applies to the inflated
//! bytes as they come, so a small body that would inflate to gigabytes (a "zip bomb") is
//! refused with 413 after at most the limit and one chunk of work, never inflated whole.

use edgemeter_core::{ApiError, ErrorCode};
use worker::js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::Request;

/// How the body is encoded, from `Content-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
}

/// Reads the body, refusing more than `limit` bytes (before reading when the client says
/// how much it sends). With `gzip` (ingest only), a gzipped body is inflated, `limit`
/// applying to what it inflates to; any other encoding is 415.
pub async fn read(req: &mut Request, limit: usize, gzip: bool) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new(ErrorCode::PayloadTooLarge, format!("body exceeds {limit} bytes"));
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match encoding(req, gzip)? {
        Encoding::Gzip => inflate(req, limit).await,
        Encoding::Identity => {
            let body = req
                .bytes()
                .await
                .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("could not read the body: {e}")))?;
            if body.len() > limit {
                return Err(too_large());
            }
            Ok(body)
        }
    }
}

fn encoding(req: &Request, gzip: bool) -> Result<Encoding, ApiError> {
    let header = req.headers().get("content-encoding").ok().flatten().unwrap_or_default();
    match header.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" if gzip => Ok(Encoding::Gzip),
        other => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            if gzip {
                format!("`Content-Encoding: {other}` is not supported; send the body as it is, or gzip")
            } else {
                format!("`Content-Encoding: {other}` is not supported here; send the body as it is")
            },
        )),
    }
}

/// The body through `DecompressionStream("gzip")`, chunk by chunk, stopping (and
/// cancelling the stream, so the runtime inflates no further) once past `limit`.
///
/// The compressed bytes are read whole first (at most `limit`: gzip never makes JSON
/// larger) and inflated from a stream of their own: piping the request's own body into
/// the inflater let an inflater error cancel a body that had already arrived, and workerd
/// then dropped the connection (a 503 from the dev server) instead of sending our 400.
async fn inflate(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let raw = req
        .bytes()
        .await
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("could not read the body: {e}")))?;
    if raw.is_empty() {
        return Err(not_gzip("an empty body"));
    }
    if raw.len() > limit {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge, format!("body exceeds {limit} bytes")));
    }
    let stream = bytes_stream(&raw).map_err(|e| internal("Blob", &e))?;
    let reader = gunzip_reader(&stream).map_err(|e| internal("DecompressionStream", &e))?;
    let mut out = Vec::new();
    loop {
        let step = JsFuture::from(call(&reader, "read", &[]).and_then(into_promise).map_err(|e| internal("read", &e))?)
            .await
            .map_err(|e| not_gzip(&js_text(&e)))?;
        let done = Reflect::get(&step, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            return Ok(out);
        }
        let chunk = Reflect::get(&step, &"value".into()).map_err(|e| internal("read", &e))?;
        let chunk: Uint8Array = chunk.dyn_into().map_err(|e| internal("chunk", &e))?;
        if out.len() + chunk.length() as usize > limit {
            // Nothing more is inflated; the promise it returns says nothing we need.
            let _ = call(&reader, "cancel", &[]);
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("body exceeds {limit} bytes once decompressed"),
            ));
        }
        let at = out.len();
        out.resize(at + chunk.length() as usize, 0);
        chunk.copy_to(&mut out[at..]);
    }
}

/// `new Blob([bytes]).stream()`.
fn bytes_stream(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let ctor: Function = Reflect::get(&worker::js_sys::global(), &"Blob".into())?.dyn_into()?;
    let blob = Reflect::construct(&ctor, &Array::of1(&Array::of1(&Uint8Array::from(bytes))))?;
    call(&blob, "stream", &[])
}

/// `stream.pipeThrough(new DecompressionStream("gzip")).getReader()`.
fn gunzip_reader(stream: &JsValue) -> Result<JsValue, JsValue> {
    let ctor: Function = Reflect::get(&worker::js_sys::global(), &"DecompressionStream".into())?.dyn_into()?;
    let gunzip = Reflect::construct(&ctor, &Array::of1(&"gzip".into()))?;
    let inflated = call(stream, "pipeThrough", &[gunzip])?;
    call(&inflated, "getReader", &[])
}

/// `target[name](...args)`.
fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(target, &name.into())?.dyn_into()?;
    Reflect::apply(&f, target, &args.iter().collect::<Array>())
}

fn into_promise(v: JsValue) -> Result<Promise, JsValue> {
    v.dyn_into::<Promise>()
}

fn js_text(v: &JsValue) -> String {
    v.dyn_ref::<worker::js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| String::from(Object::from(v.clone()).to_string()))
}

fn not_gzip(why: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, format!("the body is not valid gzip ({why})"))
}

fn internal(what: &str, e: &JsValue) -> ApiError {
    ApiError::new(ErrorCode::InternalError, format!("could not inflate the body ({what}: {})", js_text(e)))
}
