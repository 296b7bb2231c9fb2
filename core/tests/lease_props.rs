//! The idempotency lease (`core::machine::lease`) driven through its in-memory store, with
//! storage failures injected and rolled back (`machine::transact`), against a plain model
//! written from API.md's promises, not from the code:
//! - a live lease lets one copy run at a time; a copy that held it `LEASE_MS` or more
//!   without an answer is taken over (the boundary exactly at `LEASE_MS` included);
//! - the first kept success is replayed byte for byte to every later copy;
//! - another body is refused while the key is bound (running or answered), and not after
//!   a failure; a failure lets the next copy run from the same `first_at`;
//! - the key is forgotten `KEEP_MS` after its first claim, by the alarm or at a claim,
//!   but not under a copy that holds a live lease: then once that lease is over.

use edgemeter_core::machine::lease::{self, Claim, ClaimKey, FinishKey, KeyAnswer, KeyCall, Staged, KEEP_MS, LEASE_MS};
use edgemeter_core::machine::transact;
use edgemeter_core::time::Timestamp;
use edgemeter_core::ErrorCode;
use proptest::prelude::*;

/// 25 hours and one minute, written out rather than taken from the code.
const KEEP: i64 = 25 * 3_600_000;
const LEASE: i64 = 60_000;

#[derive(Clone, Debug)]
enum Op {
    /// A copy with body `0..3` arrives `dt` ms after the previous step.
    Claim { dt: i64, body: u8 },
    /// The `nth` copy that was let run (from the oldest still unfinished) finishes.
    Finish { dt: i64, nth: usize, ok: bool },
    /// The alarm fires (whenever the runtime delivers it: not before its time).
    Alarm { dt: i64 },
}

/// Steps that land exactly on the lease and keep boundaries, and around them.
fn dt() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        1..1_000i64,
        Just(LEASE - 1),
        Just(LEASE),
        Just(LEASE + 1),
        Just(KEEP - 1),
        Just(KEEP),
        0..3 * LEASE,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (dt(), 0u8..3).prop_map(|(dt, body)| Op::Claim { dt, body }),
        3 => (dt(), 0usize..3, any::<bool>()).prop_map(|(dt, nth, ok)| Op::Finish { dt, nth, ok }),
        1 => dt().prop_map(|dt| Op::Alarm { dt }),
    ]
}

/// What the model knows of the key; `expires` is when it is to be forgotten.
#[derive(Clone, Debug, PartialEq)]
enum Model {
    Free,
    Running { body: u8, since: i64, first_at: i64, expires: i64 },
    Answered { body: u8, reply: String, expires: i64 },
    Failed { body: u8, first_at: i64, expires: i64 },
}

impl Model {
    fn expires(&self) -> Option<i64> {
        match self {
            Model::Free => None,
            Model::Running { expires, .. } | Model::Answered { expires, .. } | Model::Failed { expires, .. } => {
                Some(*expires)
            }
        }
    }
}

/// The key's time is over: forgotten, unless a copy holds a live lease (then when it ends).
fn model_expire(m: &Model, now: i64) -> Model {
    match m {
        Model::Running { body, since, first_at, .. } if now - since < LEASE => {
            Model::Running { body: *body, since: *since, first_at: *first_at, expires: since + LEASE }
        }
        _ => Model::Free,
    }
}

/// What the model expects of a claim, and its next state.
fn model_claim(m: &Model, body: u8, now: i64) -> (Result<Claim, ErrorCode>, Model) {
    // Past its time the key is forgotten, unless a copy holds a live lease: then the
    // claim finds it as it is, and the alarm waits.
    let live = matches!(m, Model::Running { since, .. } if now - since < LEASE);
    let m = match m.expires() {
        Some(e) if now >= e && !live => Model::Free,
        _ => m.clone(),
    };
    let run = |first_at: i64, expires: i64| {
        (
            Ok(Claim::Run { first_at: Timestamp(first_at), holder: Timestamp(now) }),
            Model::Running { body, since: now, first_at, expires },
        )
    };
    match m {
        // Kept 25 hours from the first claim.
        Model::Free => run(now, now + KEEP),
        Model::Failed { body: b, first_at, expires } => run(if b == body { first_at } else { now }, expires),
        Model::Running { body: b, .. } | Model::Answered { body: b, .. } if b != body => {
            (Err(ErrorCode::IdempotencyKeyReused), m)
        }
        Model::Answered { ref reply, .. } => (Ok(Claim::Answered { status: 201, body: reply.clone() }), m.clone()),
        Model::Running { since, .. } if now - since < LEASE => (Err(ErrorCode::IdempotencyKeyInUse), m),
        Model::Running { first_at, expires, .. } => run(first_at, expires),
    }
}

/// A copy that ran finishes: the first success is kept; a failure frees the key only if
/// this copy still holds the lease.
fn model_finish(m: &Model, body: u8, holder: i64, reply: Option<String>) -> Model {
    match (m, reply) {
        (Model::Running { body: b, expires, .. }, Some(reply)) if *b == body => {
            Model::Answered { body, reply, expires: *expires }
        }
        (Model::Running { body: b, since, first_at, expires }, None) if *b == body && *since == holder => {
            Model::Failed { body, first_at: *first_at, expires: *expires }
        }
        _ => m.clone(),
    }
}

fn sha(body: u8) -> String {
    format!("sha-{body}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_lease_runs_one_copy_and_replays_the_first_success(
        ops in prop::collection::vec((op(), prop::option::weighted(0.2, 0u32..3)), 1..40),
    ) {
        let mut store = Staged::default();
        let mut model = Model::Free;
        let mut now = 1_700_000_000_000i64;
        // Copies let run and not finished yet: (body, holder).
        let mut running: Vec<(u8, i64)> = Vec::new();
        // Every reply is distinct, so "the first success" is checkable byte for byte.
        let mut replies = 0u32;
        for (op, fault) in ops {
            let dt = match &op { Op::Claim { dt, .. } | Op::Finish { dt, .. } | Op::Alarm { dt } => *dt };
            now += dt;
            let (call, expected_claim, next_model) = match &op {
                Op::Claim { body, .. } => {
                    let (expected, next) = model_claim(&model, *body, now);
                    (KeyCall::Claim(ClaimKey { body_sha256: sha(*body) }), Some(expected), next)
                }
                Op::Finish { nth, ok, .. } => {
                    if running.is_empty() {
                        continue;
                    }
                    let (body, holder) = running[nth % running.len()];
                    replies += 1;
                    let reply = format!("{{\"copy\":{replies}}}");
                    let status = if *ok { 201 } else { 500 };
                    let next = model_finish(&model, body, holder, ok.then(|| reply.clone()));
                    let call = KeyCall::Finish(FinishKey {
                        body_sha256: sha(body), holder: Timestamp(holder), status, body: reply,
                    });
                    (call, None, next)
                }
                Op::Alarm { .. } => {
                    // The runtime delivers an alarm at or after its time, never before.
                    match store.alarm {
                        Some(at) if now >= at.millis() => (KeyCall::Expire, None, model_expire(&model, now)),
                        _ => continue,
                    }
                }
            };
            let before = store.clone();
            if let Some(n) = fault {
                store.faults.fail_after(n);
            }
            let answer = transact(&mut store, |s| lease::handle(call.clone(), Timestamp(now), s));
            store.faults.heal();
            match answer {
                Err(e) if e.code == ErrorCode::InternalError => {
                    prop_assert!(fault.is_some(), "a storage failure nobody injected: {e:?}");
                    prop_assert_eq!(&store.record, &before.record, "a failed call kept a write");
                    prop_assert_eq!(store.alarm, before.alarm, "a failed call kept its alarm");
                    continue;
                }
                Err(e) => prop_assert_eq!(expected_claim.clone().map(|c| c.map(|_| ())), Some(Err(e.code))),
                Ok(KeyAnswer::Claim(c)) => {
                    prop_assert_eq!(expected_claim.clone(), Some(Ok(c.clone())));
                    if let Claim::Run { holder, .. } = c {
                        // At most one copy holds a live lease: every other running copy's
                        // lease is over.
                        for (_, h) in &running {
                            prop_assert!(now - h >= LEASE, "two copies run at once ({h} and {now})");
                        }
                        if let Op::Claim { body, .. } = op {
                            running.push((body, holder.millis()));
                        }
                    }
                }
                Ok(KeyAnswer::Done(_)) => {
                    prop_assert!(expected_claim.is_none());
                    if let Op::Finish { nth, .. } = op {
                        let i = nth % running.len();
                        running.remove(i);
                    }
                }
            }
            // Forgetting the key, or keeping a success, ends every lease: from then on the
            // key answers with what was kept, and a copy still running on a lease taken
            // over makes the same resource as the one kept.
            if matches!(next_model, Model::Free | Model::Answered { .. }) {
                running.clear();
            }
            model = next_model;
            // The alarm is set for exactly when the key is to be forgotten.
            prop_assert_eq!(store.alarm.map(|a| a.millis()), model.expires());
        }
    }
}

#[test]
fn the_constants_are_what_the_api_promises() {
    assert_eq!(KEEP_MS, KEEP);
    assert_eq!(LEASE_MS, LEASE);
}
