//! Log lines written from a shallow stack.
//!
//! A `console.log` made from wasm runs at the top of a deep stack (the futures queue, the
//! handler's state machines, wasm-bindgen's shims). Wherever an inspector listens
//! (`wrangler dev` reads every log line through one), the runtime records the caller's
//! stack with each line, frame by frame, and sends it along. [`log`] instead queues
//! `console.log`, bound to the line, as a microtask: it runs as soon as the current turn
//! of wasm returns, still inside the request's context (so `wrangler tail` and Workers
//! Logs file it under the same request), with no frame of ours beneath it. The line's
//! own cost stays (BENCHMARKS.md, "What an event costs": under `wrangler dev` it is most
//! of what the one-customer shape lacks).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    type Console;

    #[wasm_bindgen(thread_local_v2, js_name = console)]
    static CONSOLE: Console;

    #[wasm_bindgen(method, getter, js_name = log)]
    fn log_function(this: &Console) -> js_sys::Function;

    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &JsValue);
}

/// Writes `line` with `console.log`, from a microtask of its own.
pub fn log(line: &str) {
    CONSOLE.with(|console| {
        let bound = console.log_function().bind1(console, &JsValue::from_str(line));
        queue_microtask(&bound);
    });
}
