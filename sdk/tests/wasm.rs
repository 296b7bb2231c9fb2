//! The wasm API as JavaScript sees it, run under Node by wasm-bindgen-test
//! (`make test-wasm`): an event written into the scratch buffer in the compact format
//! written into an `EventQueue`'s free space (as sdk/js/index.js writes it) is checked
//! and queued by `commit`, a
//! refused one's `lastError()` is an `Error` carrying the server's `code` and `field`,
//! and the queue gives back its events as request bodies.
#![cfg(target_arch = "wasm32")]

use edgemeter_sdk::compact::{Writer, ABSENT, NUMBER, OTHER, STR};
use edgemeter_sdk::wasm::{last_error, EventQueue, REFUSED, VALID, VALID_KEY_UPPER};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

const NOW: f64 = 1_795_600_000_000.0;
const KEY: &str = "0192f0c1-0000-7000-8000-000000000001";

fn prop(v: &JsValue, name: &str) -> Option<String> {
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
        fn reflect_get(target: &JsValue, key: &JsValue) -> JsValue;
    }
    reflect_get(v, &JsValue::from_str(name)).as_string()
}

/// Writes the event into the queue's free space, as the JS client writes it there, and
/// commits it.
fn push(queue: &mut EventQueue, w: &Writer) -> u32 {
    let at = queue.tail(w.buf.len());
    // SAFETY: `tail` returned free space of at least `w.buf.len()` bytes that nothing
    // else borrows until `commit` reads it.
    unsafe { std::ptr::copy_nonoverlapping(w.buf.as_ptr(), at, w.buf.len()) };
    queue.commit(w.buf.len(), NOW)
}

/// Checks the event (pushes it into a queue of its own).
fn check(w: &Writer) -> u32 {
    push(&mut EventQueue::new(), w)
}

fn event(key: &str, value: (u8, &str), timestamp: Option<&str>) -> Writer {
    let mut w = Writer::default();
    w.str(STR, key).str(STR, "cus_1").str(STR, "api_calls").str(value.0, value.1);
    match timestamp {
        Some(t) => w.str(STR, t),
        None => w.tag(ABSENT),
    };
    w.tag(ABSENT).object(1).raw_str("region").str(STR, "eu");
    w
}

#[wasm_bindgen_test]
fn a_valid_event_passes_and_an_upper_case_key_is_flagged() {
    assert_eq!(check(&event(KEY, (NUMBER, "2.5"), None)), VALID);
    assert_eq!(check(&event(&KEY.to_uppercase(), (STR, "2.5"), None)), VALID_KEY_UPPER);
}

#[wasm_bindgen_test]
fn an_invalid_event_gives_the_servers_code_and_field() {
    assert_eq!(check(&event(KEY, (NUMBER, "-1"), None)), REFUSED);
    let err = last_error();
    assert_eq!(prop(&err, "code").as_deref(), Some("invalid_value"));
    assert_eq!(prop(&err, "field").as_deref(), Some("value"));
    assert!(prop(&err, "message").is_some_and(|m| m.starts_with("invalid_value: ")));
}

#[wasm_bindgen_test]
fn a_timestamp_beyond_five_minutes_of_now_is_refused() {
    assert_eq!(check(&event(KEY, (NUMBER, "1"), Some("2099-01-01T00:00:00Z"))), REFUSED);
    assert_eq!(prop(&last_error(), "code").as_deref(), Some("timestamp_in_future"));
}

#[wasm_bindgen_test]
fn a_property_of_the_wrong_kind_is_refused() {
    let mut w = Writer::default();
    w.str(STR, KEY).str(STR, "cus_1").str(STR, "api_calls").tag(ABSENT).tag(ABSENT).tag(ABSENT);
    w.object(1).raw_str("nested").tag(OTHER);
    assert_eq!(check(&w), REFUSED);
    let err = last_error();
    assert_eq!(prop(&err, "code").as_deref(), Some("invalid_properties"));
    assert_eq!(prop(&err, "field").as_deref(), Some("properties"));
}

#[wasm_bindgen_test]
fn free_space_that_grows_keeps_working() {
    let big = "x".repeat(100_000);
    let mut w = Writer::default();
    w.str(STR, KEY).str(STR, "cus_1").str(STR, "api_calls").tag(ABSENT).tag(ABSENT).tag(ABSENT);
    w.object(1).raw_str("region").str(STR, &big);
    assert_eq!(check(&w), REFUSED, "a 100,000-character property is too long");
    assert_eq!(prop(&last_error(), "code").as_deref(), Some("invalid_properties"));
    assert_eq!(check(&event(KEY, (NUMBER, "1"), None)), VALID);
}

#[wasm_bindgen_test]
fn queued_events_leave_as_request_bodies_oldest_first() {
    let mut q = EventQueue::new();
    assert_eq!(push(&mut q, &event(&KEY.to_uppercase(), (NUMBER, "2.5"), None)), VALID_KEY_UPPER);
    assert_eq!(push(&mut q, &event(KEY, (NUMBER, "-1"), None)), REFUSED, "not queued");
    assert_eq!(push(&mut q, &event(KEY, (STR, "3"), Some("2026-11-25T09:00:00Z"))), VALID);
    let listed = q.json();
    assert_eq!(q.take(1000, 1 << 20), 2);
    let body = String::from_utf8(q.taken_body()).unwrap();
    assert_eq!(body, format!("{{\"events\":[{listed}]}}"));
    assert!(body.starts_with(&format!("{{\"events\":[{{\"idempotency_key\":\"{KEY}\"")), "{body}");
    assert!(body.contains("\"value\":2.5,\"timestamp\":\"2026-11-25T09:46:40.000Z\""), "{body}");
    assert!(body.contains("\"value\":\"3\",\"timestamp\":\"2026-11-25T09:00:00Z\""), "{body}");
    assert_eq!(q.take(1000, 1 << 20), 0);
    assert!(q.taken_body().is_empty());
}
