//! Natural batching of ingest calls to a customer's object, per isolate.
//!
//! While a call to a customer's object is in flight, events for that customer from other
//! requests in this isolate wait, and all of them go together in the next call. No timer
//! sets the pace: at low load a request's events leave at once; under load calls grow in
//! size instead of multiplying. Each request still gets its own events' fates, and only
//! once the object has written them.
//!
//! Roles: every request queues its part in its customer's lane. The request that finds
//! the lane idle drives it: it makes the calls, each carrying everything queued (up to
//! [`MAX_EVENTS`]), and leaves each part's fates in its slot. It answers its own client
//! after the call that carried its part, and keeps driving the lane until the queue is
//! empty under `waitUntil`, so its request context lives on for the calls it makes.
//!
//! Three rules of workerd shape this, each seen under `wrangler dev` (a batcher whose
//! waiters awaited a promise another request settled failed nearly every request under
//! load); `tests/tests/batching.rs` and `make storm` hold the design to them:
//! - Code runs in the request context of whatever woke it. A waiter woken by the driver
//!   (a promise the driver resolves, a waker it calls) is polled inside the driver's
//!   context, and whatever it then makes belongs to the driver's request: under load a
//!   woken waiter's object call failed with "Cannot perform I/O on behalf of a different
//!   request", and so did its own response body (`ReadableStreamSource`). So nothing
//!   wakes a waiter: it polls its slot on timers of its own ([`worker::Delay`]: 1 ms, then
//!   doubling to [`POLL_MAX`]; the parts of one request share them, [`Ticker`]), and
//!   everything it does after runs in its own context.
//!   Only the driver makes object calls.
//! - A request that awaits nothing of its own is cancelled by workerd as hung; a waiter's
//!   timers are its own I/O. They also watch the lane: if its driver makes no progress for
//!   [`STALLED`] (its request died), the waiter takes the lane over.
//! - One request may not use another's I/O objects, so only plain data (event bytes and
//!   fates) passes between them.

use crate::front::lane::{self, clock, Release, Ticker, STALLED, WAIT_LIMIT};
use crate::protocol::{call_raw, customer_stub, decode, Fates};
use crate::respond::internal;
use edgemeter_core::book::Fate;
use edgemeter_core::machine::customer::ingest_frame::{self, EventBytes};
use edgemeter_core::metric::MetricDef;
use edgemeter_core::time::Timestamp;
use edgemeter_core::ApiError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use worker::{Context, Delay, Env};

/// Most events in one object call. A request holds at most 1,000, so a call carries the
/// events of several requests; past this the rest wait for the next call.
pub const MAX_EVENTS: usize = 5_000;
/// The longest a waiting request sleeps between two looks at its slot.
const POLL_MAX: Duration = Duration::from_millis(8);

/// One request's events for one customer: plain data.
pub struct Part {
    /// The events, in the form the call carries them and the object stores them.
    pub events: EventBytes,
    /// The definitions of the metrics these events' names feed.
    pub metrics: Vec<MetricDef>,
    /// The object calls counted to this part's request (`x-edgemeter-do-calls`): each
    /// call counts once, to the request of the first part it carries, which is still
    /// waiting for it; so the counts of all answers add up to the calls made.
    pub calls: Rc<std::cell::Cell<usize>>,
}

type Slot = Rc<RefCell<Option<Result<Vec<Fate>, ApiError>>>>;

struct Queued {
    part: Part,
    /// Where the driver leaves this part's fates; its request looks there.
    slot: Slot,
}

impl Drop for Queued {
    /// A part dropped unanswered (its driver's request was cancelled mid-call) tells its
    /// request that its call was lost (500, safe to retry).
    fn drop(&mut self) {
        if self.slot.borrow().is_none() {
            *self.slot.borrow_mut() = Some(Err(internal("ingest", "the call carrying these events was lost")));
        }
    }
}

impl Queued {
    fn answer(self, r: Result<Vec<Fate>, ApiError>) {
        *self.slot.borrow_mut() = Some(r);
    }
}

thread_local! {
    static LANES: lane::Lanes<Queued> = RefCell::new(HashMap::new());
}

/// Sends one request's events for a customer, batched with other requests' as above.
pub async fn send(
    env: &Env,
    ctx: &Context,
    ticker: &Ticker,
    customer_id: &str,
    part: Part,
) -> Result<Vec<Fate>, ApiError> {
    let slot: Slot = Rc::new(RefCell::new(None));
    let drive_now = LANES.with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        let lane = lanes.entry(customer_id.to_owned()).or_default();
        lane.queue.push_back(Queued { part, slot: slot.clone() });
        !std::mem::replace(&mut lane.driven, true)
    });
    if drive_now {
        return drive_until_answered(env, ctx, customer_id, &slot).await;
    }
    let started = clock();
    let mut seen = 0;
    loop {
        seen = ticker.next(seen, POLL_MAX).await;
        if let Some(answer) = slot.borrow_mut().take() {
            return answer;
        }
        let t = clock();
        let take_over = LANES.with(|lanes| {
            let mut lanes = lanes.borrow_mut();
            let lane = lanes.entry(customer_id.to_owned()).or_default();
            let stalled = !lane.driven || t - lane.beat > STALLED;
            if stalled {
                lane.driven = true;
                lane.beat = t;
            }
            stalled
        });
        if take_over {
            return drive_until_answered(env, ctx, customer_id, &slot).await;
        }
        if t - started > WAIT_LIMIT {
            return Err(internal("ingest", "waited too long for a customer's object"));
        }
    }
}

/// Drives the lane until this request's own part is answered, then hands the rest of
/// the queue to `waitUntil`, in this same request's context.
async fn drive_until_answered(env: &Env, ctx: &Context, customer_id: &str, slot: &Slot) -> Result<Vec<Fate>, ApiError> {
    let guard = Release::new(&LANES, customer_id);
    while slot.borrow().is_none() {
        if !one_call(env, customer_id).await {
            break;
        }
    }
    if lane::has_queued(&LANES, customer_id) {
        let (env, id) = (env.clone(), customer_id.to_owned());
        std::mem::forget(guard);
        let hand_off_after = lane::hand_off_after(&env);
        let since = clock();
        ctx.wait_until(async move {
            // Dropped when this driver stops, marking the lane undriven: a waiting
            // request's next look (within `POLL_MAX`) takes it over in its own context.
            let _guard = Release::new(&LANES, &id);
            loop {
                // Let the event loop take in the requests already waiting to be read, so
                // they ride in this call rather than the next: under load the lane is
                // never idle, and this yield costs nothing but a turn of the loop.
                Delay::from(Duration::ZERO).await;
                if !one_call(&env, &id).await || clock() - since >= hand_off_after {
                    break;
                }
            }
        });
    }
    let answer = slot.borrow_mut().take();
    answer.unwrap_or_else(|| Err(internal("ingest", "the lane closed before this request's call")))
}

/// One object call carrying everything queued (up to [`MAX_EVENTS`]); each part's fates
/// go to its slot. False when the queue was empty. The call's "now" (when its events
/// are received for storage) is the time of the call: a lane may be driven for a while
/// by a request that arrived earlier.
async fn one_call(env: &Env, customer_id: &str) -> bool {
    let batch: Vec<Queued> = LANES.with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        let mut taken = Vec::new();
        if let Some(lane) = lanes.get_mut(customer_id) {
            lane.beat = clock();
            let mut total = 0;
            while let Some(q) = lane.queue.front() {
                if !taken.is_empty() && total + q.part.events.count > MAX_EVENTS {
                    break;
                }
                total += q.part.events.count;
                taken.extend(lane.queue.pop_front());
            }
        }
        taken
    });
    let Some(first) = batch.first() else { return false };
    first.part.calls.set(first.part.calls.get() + 1);
    let body = ingest_body(Timestamp(clock()), batch.iter().map(|q| &q.part));
    let result = match customer_stub(env, customer_id) {
        Ok(stub) => match call_raw(&stub, body, ingest_frame::CONTENT_TYPE).await {
            Ok(reply) => decode::<Fates>(&reply).map(|f| f.fates),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let total: usize = batch.iter().map(|q| q.part.events.count).sum();
    let result = match result {
        Ok(f) if f.len() != total => Err(internal("customer object answered", "a wrong number of fates")),
        other => other,
    };
    let mut offset = 0;
    for q in batch {
        let n = q.part.events.count;
        let r = result.as_ref().map(|f| f[offset..offset + n].to_vec()).map_err(Clone::clone);
        offset += n;
        q.answer(r);
    }
    lane::beat(&LANES, customer_id);
    true
}

/// The body of a customer's `Ingest` call carrying several parts
/// (`core::machine::customer::ingest_frame`), joined from their ready-made event bytes
/// so no event is encoded again.
pub fn ingest_body<'p>(now: Timestamp, parts: impl Iterator<Item = &'p Part> + Clone) -> Vec<u8> {
    let mut metrics: Vec<&MetricDef> = Vec::new();
    for m in parts.clone().flat_map(|p| &p.metrics) {
        if !metrics.iter().any(|x| x.code == m.code) {
            metrics.push(m);
        }
    }
    ingest_frame::write(now, &metrics, parts.map(|p| &p.events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgemeter_core::event::EventRecord;
    use edgemeter_core::ingest::parse_ingest;
    use edgemeter_core::machine::customer::ingest_frame::read_call;
    use edgemeter_core::machine::customer::{CustomerCall, Ingest, UsageCall};

    #[test]
    fn a_batched_body_reads_back_as_one_ingest_call_in_order() {
        let now = Timestamp(1_767_225_600_000);
        let body = br#"{"events":[
            {"idempotency_key":"0192f0c1-0000-7000-8000-000000000001","customer_id":"cus_a","event_name":"x","value":"2.5"},
            {"idempotency_key":"0192f0c1-0000-7000-8000-000000000002","customer_id":"cus_a","event_name":"x","properties":{"r":"eu"}},
            {"idempotency_key":"0192f0c1-0000-7000-8000-000000000003","customer_id":"cus_a","event_name":"y"}]}"#;
        let env = parse_ingest(body, now).unwrap();
        let valid: Vec<_> = env.events.iter().map(|e| e.as_ref().unwrap()).collect();
        let bytes = |evs: &[&edgemeter_core::event::ValidEvent]| {
            let mut out = EventBytes::default();
            for e in evs {
                out.push(&EventRecord::from_valid(e)).unwrap();
            }
            out
        };
        let def = |code: &str, name: &str| MetricDef {
            code: code.into(),
            name: code.into(),
            event_name: name.into(),
            aggregation: edgemeter_core::metric::Aggregation::Count,
            field: None,
            filters: Default::default(),
        };
        let calls = Rc::new(std::cell::Cell::new(0));
        let part = |events, metrics| Part { events, metrics, calls: calls.clone() };
        let a = part(bytes(&valid[..2]), vec![def("mx", "x")]);
        let empty = part(EventBytes::default(), vec![def("mx", "x")]);
        let b = part(bytes(&valid[2..]), vec![def("my", "y"), def("mx", "x")]);
        let body = ingest_body(now, [&a, &empty, &b].into_iter());
        let CustomerCall::Usage(UsageCall::Ingest(Ingest { now: n, metrics, events, received })) =
            read_call(&body).unwrap()
        else {
            panic!("not an ingest call")
        };
        assert_eq!(n, now);
        assert_eq!(metrics.iter().map(|m| m.code.as_str()).collect::<Vec<_>>(), ["mx", "my"]);
        assert_eq!(events.len(), 3);
        assert!(received.is_some());
        for (e, v) in events.iter().zip(&valid) {
            assert_eq!(&e.to_valid("cus_a"), *v);
        }
    }
}
