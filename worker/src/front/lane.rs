//! What the isolate's lanes share: ingest's natural batching (`batcher.rs`, whose module
//! doc gives the three workerd rules every lane follows) and coalesced entitlement reads
//! (`entitlement_reads.rs`). A lane is one customer's queue of requests' work, driven by
//! one request at a time; these are its state, its clock, and the guard that marks it
//! undriven however its driver stops.

use futures_util::future::{FutureExt, Shared};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::thread::LocalKey;
use std::time::Duration;
use worker::{Delay, Env};

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
    crate::settings::get(env, "EDGEMETER_LANE_HANDOFF_MS").parse::<i64>().unwrap_or(HAND_OFF_AFTER)
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

/// The timer a request's waiting parts share. An ingest request waits for one part per
/// customer it names, each looking at its own slot on a timer of the request's own
/// (batcher.rs's first rule); with one `Ticker` per request, one `setTimeout` serves each
/// round of looks, and the request's task is woken once a round rather than once per
/// part (its parts are joined in one task, which polls all of them at every wake).
#[derive(Clone, Default)]
pub struct Ticker(Rc<RefCell<Option<Tick>>>);

struct Tick {
    n: u64,
    nap: Duration,
    fired: Shared<Delay>,
}

impl Ticker {
    /// Waits for the round after the one numbered `seen` (0: none yet) and returns its
    /// number. Rounds come 1 ms apart at first, then twice as far apart each time, up to
    /// `max`; the first waiter to need a round sets its timer, the others share it.
    pub async fn next(&self, seen: u64, max: Duration) -> u64 {
        let (n, fired) = {
            let mut tick = self.0.borrow_mut();
            match &*tick {
                Some(t) if t.n > seen => (t.n, t.fired.clone()),
                current => {
                    let (n, nap) =
                        current.as_ref().map_or((1, Duration::from_millis(1)), |t| (t.n + 1, (t.nap * 2).min(max)));
                    let fired = Delay::from(nap).shared();
                    *tick = Some(Tick { n, nap, fired: fired.clone() });
                    (n, fired)
                }
            }
        };
        fired.await;
        n
    }
}
