//! API.md "Dedupe" through a crash: "an event reported `accepted` is durably stored".
//! Concurrent clients send distinct events over many customers; in the middle of the load
//! `wrangler dev` is killed with SIGKILL (its whole process group, no shutdown), started
//! again on the same state, and every event is sent again. Before the resend, usage is
//! exactly the acknowledged events plus those of the requests in flight at the kill that
//! the resend finds stored (each counted once or not at all); the resend answers
//! `duplicate` for every acknowledged event and `accepted` for every event never sent;
//! afterwards usage is exactly every event once.
//!
//! The fast default runs in `make test`; `make crash` runs the full size (RELIABILITY.md).
//! Sizes: `EDGEMETER_CRASH_EVENTS` (4,000), `EDGEMETER_CRASH_CUSTOMERS` (16),
//! `EDGEMETER_LOAD_THREADS` (8), `EDGEMETER_LOAD_BATCH` (largest batch, 50);
//! `EDGEMETER_LOAD_SEED` repeats a run's events and batches.

use edgemeter_tests::load::*;
use edgemeter_tests::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Tries per request: a 5xx or a transport failure is sent again, same bytes, same header.
const TRIES: usize = 8;

/// Where an event stood when the server was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Its request was never sent.
    Unsent,
    /// Its request was sent and not answered: it may or may not be stored.
    InFlight,
    /// Its request was answered 200.
    Acknowledged,
}

/// `0..n` in shuffled batches of 1 to `max` events.
fn batches(n: usize, max: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let mut out = Vec::new();
    let mut rest = &order[..];
    while !rest.is_empty() {
        let (batch, tail) = rest.split_at(rng.between(1, max).min(rest.len()));
        out.push(batch.to_vec());
        rest = tail;
    }
    out
}

/// Sends `batches` of `plan` from `threads` threads until all are sent or `stop()`; the
/// log is each sent batch with what became of it.
fn send(
    c: &Client,
    fixture: &Fixture,
    plan: &[Planned],
    batches: &[Vec<usize>],
    threads: usize,
    stop: &(dyn Fn() -> bool + Sync),
    acknowledged: &AtomicUsize,
) -> Vec<(usize, Sent)> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let senders: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut log = Vec::new();
                    while !stop() {
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(b) else { break };
                        let events: Vec<_> = batch.iter().map(|&e| fixture.event(&plan[e], 0)).collect();
                        let body = json!({ "events": events }).to_string();
                        let sent = post_ingest(c, body.as_bytes(), &key(), TRIES, stop);
                        if sent.answer.as_ref().is_some_and(|r| r.status == 200) {
                            acknowledged.fetch_add(batch.len(), Ordering::SeqCst);
                        }
                        log.push((b, sent));
                    }
                    log
                })
            })
            .collect();
        senders.into_iter().flat_map(|h| h.join().expect("a sender thread")).collect()
    })
}

/// Each event's status in the answers, and whether its request had a failed try first
/// (then a lost answer may have accepted it, and the one seen says `duplicate`).
fn statuses(log: &[(usize, Sent)], batches: &[Vec<usize>], plan: &[Planned]) -> Vec<Option<(String, bool)>> {
    let mut out = vec![None; plan.len()];
    for (b, s) in log {
        let Some(r) = &s.answer else { continue };
        assert_eq!(r.status, 200, "{}", r.text);
        let results = r.body["results"].as_array().unwrap_or_else(|| panic!("no results in {}", r.text));
        assert_eq!(results.len(), batches[*b].len(), "one result per event: {}", r.text);
        for (&e, res) in batches[*b].iter().zip(results) {
            assert_eq!(res["idempotency_key"], plan[e].key.as_str(), "results in request order: {}", r.text);
            let status = res["status"].as_str().unwrap_or_default().to_owned();
            assert!(status == "accepted" || status == "duplicate", "no event is rejected: {res}");
            out[e] = Some((status, !s.failures.is_empty()));
        }
    }
    out
}

#[test]
fn sigkill_mid_load_keeps_every_acknowledged_event_and_a_resend_counts_each_once() {
    let events = size("EDGEMETER_CRASH_EVENTS", 4_000);
    let customers = size("EDGEMETER_CRASH_CUSTOMERS", 16);
    let threads = size("EDGEMETER_LOAD_THREADS", 8);
    // Small batches make a request's customer writes a larger part of its time, so the
    // kill usually finds requests with some of their customers' events stored.
    let max_batch = size("EDGEMETER_LOAD_BATCH", 50);
    let (mut rng, seed) = Rng::seeded();
    let mut server = Server::start("crash");
    let dir = server.state_dir.clone();
    let fixture = Fixture::create(&server.client(), customers);
    let plan = fixture.plan(events, &mut rng);

    // 1. The load, and the kill once 40% of it is acknowledged, with every sender busy.
    let first = batches(events, max_batch, &mut rng);
    let ingest = server.client().with_key(Some(INGEST_KEY));
    let (acknowledged, killed) = (AtomicUsize::new(0), AtomicBool::new(false));
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(1800);
    let (log, killed_at) = std::thread::scope(|s| {
        let load = s.spawn(|| {
            send(&ingest, &fixture, &plan, &first, threads, &|| killed.load(Ordering::SeqCst), &acknowledged)
        });
        while acknowledged.load(Ordering::SeqCst) < events * 2 / 5 && !load.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        killed.store(true, Ordering::SeqCst);
        let at = t0.elapsed();
        server.kill();
        (load.join().expect("the load"), at)
    });
    drop(server);
    assert!(killed_at < deadline - t0, "the load did not reach 40% in 30 minutes");

    let mut stage = vec![Stage::Unsent; events];
    for (b, s) in &log {
        let now = match &s.answer {
            Some(_) => Stage::Acknowledged,
            None if s.tries == 0 => Stage::Unsent,
            None if s.tries < TRIES => Stage::InFlight,
            None => panic!("a request failed {TRIES} times before the kill: {:?}", s.failures),
        };
        first[*b].iter().for_each(|&e| stage[e] = now);
    }
    let count = |st: Stage| stage.iter().filter(|&&s| s == st).count();
    let (acked, in_flight, unsent) = (count(Stage::Acknowledged), count(Stage::InFlight), count(Stage::Unsent));
    assert!(
        acked > 0 && unsent > 0,
        "the kill came in the middle of the load: {acked} acknowledged, {unsent} not sent"
    );
    assert!(in_flight > 0, "the kill caught requests in flight");
    // A request answered before the kill accepted each of its events, each sent once so far
    // (a try whose answer was lost may have accepted some first).
    for (e, got) in statuses(&log, &first, &plan).into_iter().enumerate() {
        if let Some((status, retried)) = got {
            assert!(status == "accepted" || retried, "{}: a fresh event is accepted, not {status}", plan[e].key);
        }
    }

    // 2. The same state, started again: what survived the kill.
    let t1 = Instant::now();
    let server = Server::start_on(&dir);
    let restart = t1.elapsed();
    let admin = server.client();
    let before = fixture.usage(&admin);

    // 3. Everything sent again, in other batches, with fresh Idempotency-Key headers.
    let second = batches(events, max_batch, &mut rng);
    let t2 = Instant::now();
    let log2 =
        send(&admin.with_key(Some(INGEST_KEY)), &fixture, &plan, &second, threads, &|| false, &AtomicUsize::new(0));
    let resend = t2.elapsed();
    assert_eq!(log2.len(), second.len(), "every batch was sent");
    if let Some((_, s)) = log2.iter().find(|(_, s)| s.answer.is_none()) {
        panic!("a batch of the resend failed {TRIES} times: {:?}", s.failures);
    }
    let resent = statuses(&log2, &second, &plan);

    // Stored before the resend: the acknowledged events and the in-flight events the
    // resend finds. An in-flight event answered `duplicate` by a request with a failed
    // try may have been stored by that try instead: it is left uncertain.
    let mut stored = Vec::new();
    let mut uncertain = Vec::new();
    for (e, got) in resent.iter().enumerate() {
        let (status, retried) = got.as_ref().expect("every event answered");
        let key = &plan[e].key;
        match (stage[e], status.as_str()) {
            (Stage::Acknowledged, "duplicate") => stored.push(&plan[e]),
            (Stage::Acknowledged, _) => panic!("{key}: acknowledged before the kill, but new after it: lost"),
            (Stage::InFlight, "duplicate") if *retried => uncertain.push(&plan[e]),
            (Stage::InFlight, "duplicate") => stored.push(&plan[e]),
            (Stage::InFlight, _) => {}
            (Stage::Unsent, "accepted") => {}
            (Stage::Unsent, _) => assert!(*retried, "{key}: never sent before the kill, yet a duplicate"),
        }
    }
    let stored_in_flight = stored.len() - acked;
    let exact = fixture.expected(stored.iter().copied());
    for (i, (got, want)) in before.iter().zip(&exact).enumerate() {
        let customer = &fixture.customers[i];
        if uncertain.is_empty() {
            assert_eq!(got, want, "customer {i} ({customer}) after the restart: the events stored, once each");
        } else {
            let most = fixture.expected(stored.iter().chain(&uncertain).copied());
            assert!(
                (want.count.1..=most[i].count.1).contains(&got.count.1),
                "customer {i} ({customer}) after the restart: {got:?}, expected {want:?} to {:?}",
                most[i]
            );
        }
    }
    let after = fixture.usage(&admin);
    for (i, (got, want)) in after.iter().zip(&fixture.expected(&plan)).enumerate() {
        assert_eq!(got, want, "customer {i} ({}) after the resend: every event once", fixture.customers[i]);
    }

    let retried =
        |log: &[(usize, Sent)]| log.iter().filter(|(_, s)| s.answer.is_some() && !s.failures.is_empty()).count();
    println!(
        "crash: {events} events over {customers} customers from {threads} threads; SIGKILL at {:.1} s with \
         {acked} acknowledged, {in_flight} in flight ({stored_in_flight} of them found stored, {} uncertain) \
         and {unsent} not sent; restart {:.1} s; resend of all {events} in {:.1} s; requests answered after a \
         failed try: {} before the kill, {} in the resend; seed {seed}",
        killed_at.as_secs_f64(),
        uncertain.len(),
        restart.as_secs_f64(),
        resend.as_secs_f64(),
        retried(&log),
        retried(&log2),
    );
    for (_, s) in log.iter().chain(&log2).filter(|(_, s)| s.answer.is_some() && !s.failures.is_empty()).take(5) {
        println!("crash: a request answered after failed tries: {:?}", s.failures);
    }
}
