//! How many Durable Object calls a request made, for its log line (`front::log`).
//!
//! Requests share one isolate and one thread and interleave at every `await`, so a plain
//! counter would mix them. [`counting`] makes a request's own counter the current one
//! while its future is being polled, and only then; every object call begins inside such
//! a poll ([`crate::protocol::call_raw`] calls [`count`] first thing), so it is counted
//! to the request whose code made it, as `tracing` attributes events to the span whose
//! future is running. Work a request hands to `waitUntil` (the rejected-events logs, a
//! batch lane driven on after its answer) is polled by the runtime, outside any
//! request's counter, and counted to none: the line tells what the request waited for.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

thread_local! {
    static CURRENT: RefCell<Option<Rc<Cell<usize>>>> = const { RefCell::new(None) };
}

/// Counts one object call to the request being polled, if any (inside an object, or in
/// `waitUntil` work, there is none).
pub fn count() {
    CURRENT.with(|current| {
        if let Some(calls) = &*current.borrow() {
            calls.set(calls.get() + 1);
        }
    });
}

/// Runs `future` and answers its output with the object calls made while it ran.
pub async fn counting<F: Future>(future: F) -> (F::Output, usize) {
    let calls = Rc::new(Cell::new(0));
    let output = Scoped { inner: Box::pin(future), calls: calls.clone() }.await;
    (output, calls.get())
}

/// A future whose counter is the current one while it is polled.
struct Scoped<F> {
    inner: Pin<Box<F>>,
    calls: Rc<Cell<usize>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let outer = CURRENT.with(|current| current.replace(Some(self.calls.clone())));
        let poll = self.inner.as_mut().poll(cx);
        CURRENT.with(|current| current.replace(outer));
        poll
    }
}
