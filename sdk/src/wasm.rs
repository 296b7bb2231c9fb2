//! The wasm API of the npm package (`sdk/js/` wraps it): one call per event, with no
//! string crossing the boundary on the way in and none on the way back for a valid event.
//!
//! The JS client writes each event in the compact format ([`crate::compact`]) straight
//! into its [`EventQueue`]'s free space (`tail`) and calls `commit`, which checks the
//! event where it lies and keeps it; only a refused event costs more, a [`last_error`]
//! call for its `Error`. A batch leaves the queue as its request body.

use crate::js_error::to_js_error;
use crate::queue::Queue;
use edgemeter_core::ApiError;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

thread_local! {
    static LAST_ERROR: RefCell<Option<ApiError>> = const { RefCell::new(None) };
}

/// The event is valid.
pub const VALID: u32 = 0;
/// Valid, but the idempotency key has upper-case digits: its canonical form is the
/// lower-case one.
pub const VALID_KEY_UPPER: u32 = 1;
/// Refused: [`last_error`] has the error.
pub const REFUSED: u32 = 2;

/// JS: `new EventQueue()`, one per client: its checked events, waiting for their batch
/// ([`crate::queue`]), in wasm memory where the garbage collector does not walk them.
#[wasm_bindgen]
#[derive(Default)]
pub struct EventQueue {
    queue: Queue,
    /// The body of the last [`EventQueue::take`].
    body: Vec<u8>,
}

#[wasm_bindgen]
impl EventQueue {
    #[wasm_bindgen(constructor)]
    pub fn new() -> EventQueue {
        EventQueue::default()
    }

    /// JS: `queue.tail(capacity)` makes room for the next event, at least `capacity`
    /// bytes, and returns its address in wasm memory: write the event there in the
    /// compact format, then `commit`. Valid until the next `tail` that needs more room
    /// (which keeps what was written) or `take`; a view of the memory must be taken
    /// again whenever memory has grown.
    pub fn tail(&mut self, capacity: usize) -> *mut u8 {
        self.queue.tail(capacity).as_mut_ptr()
    }

    /// JS: `queue.commit(len, nowMs)` checks the event written in the first `len` bytes
    /// at `tail`, with `nowMs` as its arrival time, and queues it when valid: [`VALID`],
    /// [`VALID_KEY_UPPER`] or [`REFUSED`] (then [`last_error`] has why).
    pub fn commit(&mut self, len: usize, now_ms: f64) -> u32 {
        match self.queue.commit(len, now_ms as i64) {
            Ok(false) => VALID,
            Ok(true) => VALID_KEY_UPPER,
            Err(e) => {
                LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
                REFUSED
            }
        }
    }

    /// JS: `queue.take(maxEvents, maxBytes)` removes the oldest events whose request
    /// body fits the limits and returns how many (0 when none, or when the oldest alone
    /// does not fit); `takenBody()` then gives the body.
    pub fn take(&mut self, max_events: usize, max_bytes: usize) -> usize {
        self.queue.take(max_events, max_bytes, &mut self.body)
    }

    /// JS: `queue.takeLost()`: how many events takes removed without sending since the
    /// last call, because their record did not read back (an SDK bug; the client reports
    /// them as failed).
    #[wasm_bindgen(js_name = takeLost)]
    pub fn take_lost(&mut self) -> usize {
        self.queue.take_lost()
    }

    /// JS: `queue.takenBody()`: the last take's request body (`{"events":[…]}`), once.
    #[wasm_bindgen(js_name = takenBody)]
    pub fn taken_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// JS: `queue.json()`: every queued event's JSON, comma-separated, leaving the queue
    /// as it is.
    pub fn json(&self) -> String {
        let mut out = Vec::new();
        self.queue.json(&mut out);
        String::from_utf8(out).unwrap_or_default()
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
