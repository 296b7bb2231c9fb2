//! What the isolate's lanes share: ingest's natural batching (`batcher.rs`, whose module
//! doc gives the three workerd rules every lane follows) and coalesced entitlement reads
//! (`entitlement_reads.rs`). A lane is one customer's queue of requests' work, driven by
//! one request at a time; these are its state, its clock, and the guard that marks it
//! undriven however its driver stops.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::thread::LocalKey;
use worker::Env;

/// A lane whose driver made no progress this long is taken over by a waiter.
pub const STALLED: i64 = 10_000;
/// How long a request waits for its answer in all before answering 500 (safe to retry).
pub const WAIT_LIMIT: i64 = 60_000;
/// How long a driver keeps driving its lane after answering its own client, before it
/// hands the lane to a waiting request: Cloudflare ends `waitUntil` work 30 s after the
/// response, and a driver cut off mid-call would leave its waiters to find the lane
/// stalled ([`STALLED`]). Tests set it with `EDGEMETER_LANE_HANDOFF_MS` (0: hand off
/// after every call).
const HAND_OFF_AFTER: i64 = 20_000;

/// One customer's lane.
pub struct Lane<Q> {
    pub driven: bool,
    /// When the driver last made progress (ms).
    pub beat: i64,
    pub queue: VecDeque<Q>,
}

impl<Q> Default for Lane<Q> {
    fn default() -> Self {
        Lane { driven: false, beat: 0, queue: VecDeque::new() }
    }
}

/// The isolate's lanes of one kind, by customer id (a `thread_local!`).
pub type Lanes<Q> = RefCell<HashMap<String, Lane<Q>>>;

/// Milliseconds since the epoch, as the runtime tells them.
pub fn clock() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// [`HAND_OFF_AFTER`], or the test setting.
pub fn hand_off_after(env: &Env) -> i64 {
    env.var("EDGEMETER_LANE_HANDOFF_MS").ok().and_then(|v| v.to_string().parse::<i64>().ok()).unwrap_or(HAND_OFF_AFTER)
}

/// Whether the customer's lane has work queued.
pub fn has_queued<Q: 'static>(lanes: &'static LocalKey<Lanes<Q>>, customer_id: &str) -> bool {
    lanes.with(|l| l.borrow().get(customer_id).is_some_and(|l| !l.queue.is_empty()))
}

/// Records that the lane's driver made progress now.
pub fn beat<Q: 'static>(lanes: &'static LocalKey<Lanes<Q>>, customer_id: &str) {
    lanes.with(|l| {
        if let Some(lane) = l.borrow_mut().get_mut(customer_id) {
            lane.beat = clock();
        }
    });
}

/// Marks the lane undriven when its driver stops, however it stops (a dropped request
/// included), so a waiter's next look takes it over; an empty lane is removed.
pub struct Release<Q: 'static> {
    lanes: &'static LocalKey<Lanes<Q>>,
    customer_id: String,
}

impl<Q: 'static> Release<Q> {
    pub fn new(lanes: &'static LocalKey<Lanes<Q>>, customer_id: &str) -> Release<Q> {
        Release { lanes, customer_id: customer_id.to_owned() }
    }
}

impl<Q: 'static> Drop for Release<Q> {
    fn drop(&mut self) {
        self.lanes.with(|lanes| {
            let mut lanes = lanes.borrow_mut();
            if let Some(lane) = lanes.get_mut(&self.customer_id) {
                if lane.queue.is_empty() {
                    lanes.remove(&self.customer_id);
                } else {
                    lane.driven = false;
                }
            }
        });
    }
}
