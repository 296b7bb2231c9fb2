//! Natural batching of ingest calls to a customer's object, per isolate.
//!
//! While a call to a customer's object is in flight, events for that customer from other
//! requests in this isolate wait, and all of them go together in the next call. No timer
//! sets the pace: at low load a request's events leave at once; under load calls grow in
//! size instead of multiplying. Each request still gets its own events' fates, and only
//! once the object has written them.
//!
//! Roles: the request that finds its customer's lane idle leads: it takes every waiting
//! part along (up to [`MAX_EVENTS`]), makes the call and hands each rider its fates. When
//! its call is done it promotes the first request that queued meanwhile to lead the next
//! call. A lead that is dropped half-way (its client went away) still promotes the next,
//! and its riders learn that their call was lost (500, safe to retry).
//!
//! Three rules of the platform shape this (TOOLCHAIN.md):
//! - A request that only awaits a promise settled by another request's code has no I/O
//!   of its own and workerd cancels it as hung, so a waiting request holds a timer of its
//!   own ([`worker::Delay`], cleared when dropped) until its answer comes.
//! - One request may not use another's I/O objects, so only plain data (JSON text and
//!   fates) passes between them.
//! - Code runs in the request context that woke it. A Rust waker called by the lead
//!   would poll the waiter's future inside the lead's context, and a promoted waiter's
//!   object call would then belong to the lead's request, dying with it. So a waiter is
//!   woken through a JS promise it created and awaits itself: the lead only resolves it,
//!   and workerd runs the continuation in the waiter's own context.

use crate::protocol::{call_raw, customer_stub, decode, Fates};
use crate::respond::internal;
use edgemeter_core::book::Fate;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use futures_util::future::{select, Either};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Delay, Env};

/// Most events in one object call. A request holds at most 1,000, so a call carries the
/// events of several requests; past this the rest wait for the next call.
pub const MAX_EVENTS: usize = 5_000;
/// How long a waiting request waits for its call before answering 500 (safe to retry).
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// One request's events for one customer: plain data.
pub struct Part {
    /// The events as JSON objects (`EventRecord`s), comma-separated, without brackets.
    pub events_json: Vec<u8>,
    pub count: usize,
    /// The definitions of the metrics these events' names feed.
    pub metrics: Vec<MetricDef>,
}

/// What a request gets back: its fates, and whether it made the call itself.
pub struct Sent {
    pub fates: Vec<Fate>,
    pub led: bool,
}

enum Signal {
    Done(Result<Vec<Fate>, ApiError>),
    /// Your turn to lead, with your part back.
    Lead(Part),
}

struct Waiter {
    part: Part,
    /// Where the lead leaves the waiter's signal; shared with the waiting request only.
    slot: Rc<RefCell<Option<Signal>>>,
    /// Resolves the promise the waiter awaits (created in the waiter's context).
    wake: js_sys::Function,
}

impl Drop for Waiter {
    /// A waiter dropped unsignalled (its lead was cancelled half-way) is woken with
    /// nothing, and answers that its call was lost, rather than waiting out its timer.
    fn drop(&mut self) {
        if Rc::strong_count(&self.slot) >= 2 && self.slot.borrow().is_none() {
            let _ = self.wake.call0(&JsValue::UNDEFINED);
        }
    }
}

impl Waiter {
    /// Leaves a signal and wakes the waiter; gives the signal back if it gave up waiting.
    fn signal(self, s: Signal) -> Result<(), Signal> {
        if Rc::strong_count(&self.slot) < 2 {
            return Err(s);
        }
        *self.slot.borrow_mut() = Some(s);
        let _ = self.wake.call0(&JsValue::UNDEFINED);
        Ok(())
    }
}

#[derive(Default)]
struct Lane {
    busy: bool,
    queue: VecDeque<Waiter>,
}

thread_local! {
    static LANES: RefCell<HashMap<String, Lane>> = RefCell::new(HashMap::new());
}

/// Sends one request's events for a customer, batched with other requests' as above.
pub async fn send(env: &Env, customer_id: &str, now: Timestamp, part: Part) -> Result<Sent, ApiError> {
    let queued = LANES.with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        let lane = lanes.entry(customer_id.to_owned()).or_default();
        if lane.busy {
            let mut wake = None;
            let woken = js_sys::Promise::new(&mut |resolve, _| wake = Some(resolve));
            let slot = Rc::new(RefCell::new(None));
            if let Some(wake) = wake {
                lane.queue.push_back(Waiter { part, slot: slot.clone(), wake });
            }
            Err((JsFuture::from(woken), slot))
        } else {
            lane.busy = true;
            Ok(part)
        }
    });
    let mine = match queued {
        Ok(part) => part,
        Err((woken, slot)) => {
            let timer = Delay::from(WAIT_LIMIT);
            let signal = match select(woken, timer).await {
                Either::Left(_) => slot.borrow_mut().take(),
                Either::Right(_) => return Err(internal("ingest", "waited too long for a customer's object")),
            };
            match signal {
                Some(Signal::Done(r)) => return r.map(|fates| Sent { fates, led: false }),
                Some(Signal::Lead(part)) => part,
                None => return Err(internal("ingest", "the call carrying these events was lost")),
            }
        }
    };
    lead(env, customer_id, now, mine).await.map(|fates| Sent { fates, led: true })
}

/// Promotes the next waiter when a lead ends, however it ends.
struct HandOver<'a>(&'a str);

impl Drop for HandOver<'_> {
    fn drop(&mut self) {
        LANES.with(|lanes| {
            let mut lanes = lanes.borrow_mut();
            let Some(lane) = lanes.get_mut(self.0) else { return };
            while let Some(mut w) = lane.queue.pop_front() {
                // A waiter that gave up is skipped: try the next.
                let part =
                    std::mem::replace(&mut w.part, Part { events_json: Vec::new(), count: 0, metrics: Vec::new() });
                if w.signal(Signal::Lead(part)).is_ok() {
                    return;
                }
            }
            lanes.remove(self.0);
        });
    }
}

async fn lead(env: &Env, customer_id: &str, now: Timestamp, mine: Part) -> Result<Vec<Fate>, ApiError> {
    let _hand_over = HandOver(customer_id);
    let riders: Vec<Waiter> = LANES.with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        let mut taken = Vec::new();
        if let Some(lane) = lanes.get_mut(customer_id) {
            let mut total = mine.count;
            while lane.queue.front().is_some_and(|w| total + w.part.count <= MAX_EVENTS) {
                if let Some(w) = lane.queue.pop_front() {
                    total += w.part.count;
                    taken.push(w);
                }
            }
        }
        taken
    });

    let parts = std::iter::once(&mine).chain(riders.iter().map(|w| &w.part));
    let body = ingest_body(now, parts);
    let result = match customer_stub(env, customer_id) {
        Ok(stub) => match call_raw(&stub, body).await {
            Ok(reply) => decode::<Fates>(&reply).map(|f| f.fates),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let total = mine.count + riders.iter().map(|w| w.part.count).sum::<usize>();
    let result = match result {
        Ok(f) if f.len() != total => Err(internal("customer object answered", "a wrong number of fates")),
        other => other,
    };

    let mut offset = mine.count;
    for w in riders {
        let slice = result.as_ref().map(|f| f[offset..offset + w.part.count].to_vec()).map_err(Clone::clone);
        offset += w.part.count;
        // A rider that gave up is answered 500 already; its events are stored or not,
        // and a retry is told which.
        let _ = w.signal(Signal::Done(slice));
    }
    result.map(|mut f| {
        f.truncate(mine.count);
        f
    })
}

/// The JSON of a `CustomerCall::Ingest` carrying several parts, written from their
/// ready-made JSON so no event is parsed or serialized again.
pub fn ingest_body<'p>(now: Timestamp, parts: impl Iterator<Item = &'p Part> + Clone) -> Vec<u8> {
    let mut metrics: Vec<&MetricDef> = Vec::new();
    for m in parts.clone().flat_map(|p| &p.metrics) {
        if !metrics.iter().any(|x| x.code == m.code) {
            metrics.push(m);
        }
    }
    let size: usize = parts.clone().map(|p| p.events_json.len() + 1).sum();
    let mut body = Vec::with_capacity(size + 256);
    body.extend_from_slice(b"{\"ingest\":{\"now\":");
    // Serializing a time and plain definitions cannot fail.
    body.extend_from_slice(&serde_json::to_vec(&now).unwrap_or_default());
    body.extend_from_slice(b",\"metrics\":");
    body.extend_from_slice(&serde_json::to_vec(&metrics).unwrap_or_else(|_| b"[]".to_vec()));
    body.extend_from_slice(b",\"events\":[");
    let mut first = true;
    for p in parts.filter(|p| p.count > 0) {
        if !first {
            body.push(b',');
        }
        first = false;
        body.extend_from_slice(&p.events_json);
    }
    body.extend_from_slice(b"]}}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CustomerCall;
    use edgemeter_core::event::EventRecord;
    use edgemeter_core::ingest::parse_ingest;

    #[test]
    fn a_batched_body_reads_back_as_one_ingest_call_in_order() {
        let now = Timestamp(1_767_225_600_000);
        let body = br#"{"events":[
            {"idempotency_key":"0192f0c1-0000-7000-8000-000000000001","customer_id":"cus_a","event_name":"x","value":"2.5"},
            {"idempotency_key":"0192f0c1-0000-7000-8000-000000000002","customer_id":"cus_a","event_name":"x","properties":{"r":"eu"}},
            {"idempotency_key":"0192f0c1-0000-7000-8000-000000000003","customer_id":"cus_a","event_name":"y"}]}"#;
        let env = parse_ingest(body, now).unwrap();
        let valid: Vec<_> = env.events.iter().map(|e| e.as_ref().unwrap()).collect();
        let json = |evs: &[&edgemeter_core::event::ValidEvent]| {
            evs.iter()
                .map(|e| serde_json::to_string(&EventRecord::from_valid(e)).unwrap())
                .collect::<Vec<_>>()
                .join(",")
                .into_bytes()
        };
        let def = |code: &str, name: &str| MetricDef {
            code: code.into(),
            name: code.into(),
            event_name: name.into(),
            aggregation: edgemeter_core::metric::Aggregation::Count,
            field: None,
            filters: Default::default(),
        };
        let a = Part { events_json: json(&valid[..2]), count: 2, metrics: vec![def("mx", "x")] };
        let empty = Part { events_json: Vec::new(), count: 0, metrics: vec![def("mx", "x")] };
        let b = Part { events_json: json(&valid[2..]), count: 1, metrics: vec![def("my", "y"), def("mx", "x")] };
        let bytes = ingest_body(now, [&a, &empty, &b].into_iter());
        let CustomerCall::Ingest { now: n, metrics, events } = serde_json::from_slice(&bytes).unwrap() else {
            panic!("not an ingest call")
        };
        assert_eq!(n, now);
        assert_eq!(metrics.iter().map(|m| m.code.as_str()).collect::<Vec<_>>(), ["mx", "my"]);
        let keys: Vec<&str> = events.iter().map(|e| e.key.as_ref()).collect();
        assert_eq!(keys.len(), 3);
        for (e, v) in events.iter().zip(&valid) {
            assert_eq!(&e.to_valid("cus_a"), *v);
        }
    }
}
