//! Coalesced entitlement reads, per isolate: the read side of natural batching
//! (`batcher.rs` is the write side, and its module doc the three rules of workerd that
//! shape both).
//!
//! While a customer's object is answering a read, other requests in this isolate reading
//! the same customer's entitlements wait, and the next call carries all of them
//! ([`customer::ReadEntitlements`]): checks arriving together share a few object calls
//! instead of each queueing its own at the object (`tests/tests/entitlements.rs`: 32 at
//! once took 4 to 7; BENCHMARKS.md "After coalescing"). A read carried by a call that began after
//! its request arrived is as exact as one the request made itself, and each read keeps
//! its own `now`, so every answer (status and JSON) is the one its own call would give.
//!
//! Roles, as in `batcher.rs`: every request queues its read in its customer's lane; the
//! one that finds the lane idle drives it (makes the calls, each carrying everything
//! queued, up to [`MAX_READS`], and leaves each read's answer in its slot), answers its
//! own client after the call that carried its read, and keeps driving under `waitUntil`
//! while reads are queued. The others poll their own slot on timers of their own
//! ([`worker::Delay`]), never woken by another request, and take the lane over if its
//! driver stalls ([`STALLED`]). Only plain data (the reads, and statuses and JSON bytes
//! back) passes between requests.
//!
//! Unlike an ingest part, a read is safe to send twice: a read whose call was lost (its
//! driver's request cancelled mid-call, or stalled) is queued again by its own request.
//!
//! Each object call counts once in the request log's `object_calls`: to the driver's
//! request when made in its context, else (under `waitUntil`) to the request of the first
//! read it carried, which counts it when it takes its answer. So the counts of the
//! requests' log lines add up to the calls made (but for a call whose first read was a
//! copy sent again, whose request had its answer already: it counts to none).

use crate::front::lane::{self, clock, Release, STALLED, WAIT_LIMIT};
use crate::protocol::{call, customer, customer_stub, decode, CustomerCall};
use crate::respond::{internal, Reply};
use edgemeter_core::ApiError;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use worker::{Context, Delay, Env};

pub use customer::EntitlementRead;

/// Most reads in one object call; past this the rest wait for the next call.
const MAX_READS: usize = 128;
/// The longest a waiting request sleeps between two looks at its slot: a read's call
/// takes a few milliseconds, so waiters look more often than ingest's (8 ms).
const POLL_MAX: Duration = Duration::from_millis(2);

/// What a read's slot receives: plain data.
enum Outcome {
    /// The object's answer to this read (status and JSON), or the failure of the call;
    /// `charged`: the call was made outside any request's context and counts to this one.
    Answered { answer: Result<(u16, Vec<u8>), ApiError>, charged: bool },
    /// The call carrying this read was dropped unanswered: read again.
    Lost,
}

type Slot = Rc<RefCell<Option<Outcome>>>;

struct Queued {
    read: EntitlementRead,
    slot: Slot,
}

impl Drop for Queued {
    /// A read dropped unanswered (its driver's request was cancelled mid-call) tells its
    /// request to queue it again.
    fn drop(&mut self) {
        if self.slot.borrow().is_none() {
            *self.slot.borrow_mut() = Some(Outcome::Lost);
        }
    }
}

thread_local! {
    static LANES: lane::Lanes<Queued> = RefCell::new(HashMap::new());
}

/// Looks at the lane for a read not yet answered: takes the lane over if no one drives it
/// (or, `take_stalled`, its driver made no progress for [`STALLED`]), and queues the read
/// again (unless it is queued) if it must be sent (`send`: new, or its call was lost) or
/// if it is taken over (its call may be stuck with its driver). True if this request now
/// drives the lane.
fn enqueue(customer_id: &str, read: &EntitlementRead, slot: &Slot, send: bool, take_stalled: bool) -> bool {
    LANES.with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        let lane = lanes.entry(customer_id.to_owned()).or_default();
        let t = clock();
        let idle = !lane.driven || (take_stalled && t - lane.beat > STALLED);
        if (send || idle) && !lane.queue.iter().any(|q| Rc::ptr_eq(&q.slot, slot)) {
            lane.queue.push_back(Queued { read: read.clone(), slot: slot.clone() });
        }
        if idle {
            lane.driven = true;
            lane.beat = t;
        }
        idle
    })
}

/// Reads a customer's entitlements (one metric's, or all), coalesced with the other
/// requests' reads of the same customer as above; the object's answer to this read.
pub async fn read(env: &Env, ctx: &Context, customer_id: &str, read: EntitlementRead) -> Result<Reply, ApiError> {
    let slot: Slot = Rc::new(RefCell::new(None));
    let started = clock();
    let mut drive = enqueue(customer_id, &read, &slot, true, false);
    let mut nap = Duration::from_millis(1);
    loop {
        if drive {
            drive_until_answered(env, ctx, customer_id, &slot).await;
        } else {
            Delay::from(nap).await;
            nap = (nap * 2).min(POLL_MAX);
        }
        let outcome = slot.borrow_mut().take();
        let lost = match outcome {
            Some(Outcome::Answered { answer, charged }) => {
                if charged {
                    crate::object_calls::count();
                }
                return answer.map(|(status, body)| Reply::new(status, body));
            }
            // Sent again: a read may be sent twice.
            Some(Outcome::Lost) => true,
            None => false,
        };
        if clock() - started > WAIT_LIMIT {
            return Err(internal("entitlements", "waited too long for a customer's object"));
        }
        drive = enqueue(customer_id, &read, &slot, lost, true);
    }
}

/// Drives the lane until this request's own read is answered (or the queue is empty),
/// then hands the rest of the queue to `waitUntil`, in this same request's context.
async fn drive_until_answered(env: &Env, ctx: &Context, customer_id: &str, slot: &Slot) {
    let guard = Release::new(&LANES, customer_id);
    while slot.borrow().is_none() {
        if !one_call(env, customer_id, false).await {
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
            // No yield before a call (ingest's lane has one): the reads that ride it queued
            // while the previous call was in flight.
            loop {
                if !one_call(&env, &id, true).await || clock() - since >= hand_off_after {
                    break;
                }
            }
        });
    }
}

/// One object call carrying every queued read (up to [`MAX_READS`]); each read's answer
/// goes to its slot. False when the queue was empty. `charge_first`: the call is made
/// outside any request's context (`waitUntil`), so it counts to its first read's request.
async fn one_call(env: &Env, customer_id: &str, charge_first: bool) -> bool {
    let batch: Vec<Queued> = LANES.with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        let Some(lane) = lanes.get_mut(customer_id) else { return Vec::new() };
        lane.beat = clock();
        let n = lane.queue.len().min(MAX_READS);
        lane.queue.drain(..n).collect()
    });
    if batch.is_empty() {
        return false;
    }
    let reads = batch.iter().map(|q| q.read.clone()).collect();
    let request = CustomerCall::from(customer::ReadEntitlements { reads });
    let answers: Result<Vec<(u16, Vec<u8>)>, ApiError> = match customer_stub(env, customer_id) {
        Ok(stub) => match call(&stub, &request).await {
            // Each read's answer, exactly as the object wrote it.
            Ok(reply) if reply.ok() => decode::<Vec<Box<RawValue>>>(&reply).and_then(|answers| {
                if answers.len() == batch.len() {
                    Ok(answers.iter().map(|a| (reply.status, a.get().as_bytes().to_vec())).collect())
                } else {
                    Err(internal("customer object answered", "a wrong number of entitlement reads"))
                }
            }),
            // The call failed as a whole (no such customer): every read's own call would
            // have failed the same way, with this answer.
            Ok(reply) => Ok(vec![(reply.status, reply.body); batch.len()]),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    for (i, q) in batch.into_iter().enumerate() {
        let answer = match &answers {
            Ok(a) => Ok(a[i].clone()),
            Err(e) => Err(e.clone()),
        };
        *q.slot.borrow_mut() = Some(Outcome::Answered { answer, charged: charge_first && i == 0 });
    }
    lane::beat(&LANES, customer_id);
    true
}
