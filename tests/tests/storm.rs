//! API.md "Dedupe" under load, a duplicate storm: distinct events over many customers,
//! each sent three times by concurrent clients in shuffled batches. Every key is
//! `accepted` exactly once across its copies (the others `duplicate`, none rejected),
//! and each customer's usage is exactly its distinct events, for a `sum` of varied
//! values and for a `count`.
//!
//! The fast default runs in `make test`; `make storm` runs the full size (RELIABILITY.md).
//! Sizes: `EDGEMETER_STORM_EVENTS` (distinct events, 4,000), `EDGEMETER_STORM_CUSTOMERS`
//! (16), `EDGEMETER_LOAD_THREADS` (8), `EDGEMETER_LOAD_BATCH` (largest batch, 200);
//! `EDGEMETER_LOAD_SEED` repeats a run's events and batches.

use edgemeter_tests::load::*;
use edgemeter_tests::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const COPIES: usize = 3;
/// Tries per request: a 5xx or a transport failure is sent again, same bytes, same header.
const TRIES: usize = 8;

/// What the answers said about one distinct event, over all its copies.
#[derive(Clone, Default)]
struct Tally {
    accepted: usize,
    duplicate: usize,
    /// Some copy went in a request with a failed try, whose lost answer may have been
    /// the one `accepted`.
    in_failed_request: bool,
}

#[test]
fn duplicate_storm_counts_every_event_exactly_once() {
    let events = size("EDGEMETER_STORM_EVENTS", 4_000);
    let customers = size("EDGEMETER_STORM_CUSTOMERS", 16);
    let threads = size("EDGEMETER_LOAD_THREADS", 8);
    let max_batch = size("EDGEMETER_LOAD_BATCH", 200);
    let (mut rng, seed) = Rng::seeded();
    let server = Server::start("storm");
    let admin = server.client();
    let fixture = Fixture::create(&admin, customers);
    let plan = fixture.plan(events, &mut rng);

    // The copies of each event are shuffled within a window about as large as what the
    // threads have in flight at once, so copies of one event race each other rather than
    // arrive minutes apart; the batches of a window span every customer.
    let window = (threads * max_batch / 2 / COPIES).max(1);
    let mut batches: Vec<Vec<(usize, usize)>> = Vec::new();
    for start in (0..events).step_by(window) {
        let mut copies: Vec<(usize, usize)> =
            (start..events.min(start + window)).flat_map(|e| (0..COPIES).map(move |k| (e, k))).collect();
        rng.shuffle(&mut copies);
        let mut rest = &copies[..];
        while !rest.is_empty() {
            let (batch, tail) = rest.split_at(rng.between(1, max_batch).min(rest.len()));
            batches.push(batch.to_vec());
            rest = tail;
        }
    }

    let ingest = admin.with_key(Some(INGEST_KEY));
    let next = AtomicUsize::new(0);
    let t0 = Instant::now();
    let sent: Vec<(usize, Sent)> = std::thread::scope(|s| {
        let senders: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut log = Vec::new();
                    loop {
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(b) else { break log };
                        let body: Vec<_> = batch.iter().map(|&(e, k)| fixture.event(&plan[e], k)).collect();
                        let body = serde_json::json!({ "events": body }).to_string();
                        log.push((b, post_ingest(&ingest, body.as_bytes(), &key(), TRIES, &|| false)));
                    }
                })
            })
            .collect();
        senders.into_iter().flat_map(|h| h.join().expect("a sender thread")).collect()
    });
    let elapsed = t0.elapsed();

    let mut tally = vec![Tally::default(); events];
    let mut rejected = Vec::new();
    let mut failed_tries = 0;
    for (b, s) in &sent {
        let batch = &batches[*b];
        let r = s.answer.as_ref().unwrap_or_else(|| panic!("a batch failed {TRIES} times: {:?}", s.failures));
        assert_eq!(r.status, 200, "{}", r.text);
        let results = r.body["results"].as_array().unwrap_or_else(|| panic!("no results in {}", r.text));
        assert_eq!(results.len(), batch.len(), "one result per event: {}", r.text);
        let (mut accepted, mut duplicates) = (0u64, 0u64);
        for (&(e, _), res) in batch.iter().zip(results) {
            assert_eq!(res["idempotency_key"], plan[e].key.as_str(), "results in request order: {}", r.text);
            let t = &mut tally[e];
            t.in_failed_request |= !s.failures.is_empty();
            match res["status"].as_str() {
                Some("accepted") => {
                    t.accepted += 1;
                    accepted += 1;
                }
                Some("duplicate") => {
                    t.duplicate += 1;
                    duplicates += 1;
                }
                _ => rejected.push(res.to_string()),
            }
        }
        assert_eq!(r.counts(), (accepted, duplicates, batch.len() as u64 - accepted - duplicates), "{}", r.text);
        failed_tries += s.failures.len();
    }
    let retried: Vec<&Vec<String>> = sent.iter().map(|(_, s)| &s.failures).filter(|f| !f.is_empty()).collect();
    let lost = tally.iter().filter(|t| t.accepted == 0).count();
    println!(
        "storm: {events} distinct events x {COPIES} = {} sent in {} requests over {customers} customers \
         from {threads} threads in {:.1} s ({:.0} events/s); {} requests sent again after {failed_tries} \
         failed tries; {lost} keys accepted only by a try whose answer was lost; seed {seed}",
        events * COPIES,
        batches.len(),
        elapsed.as_secs_f64(),
        (events * COPIES) as f64 / elapsed.as_secs_f64(),
        retried.len(),
    );
    for f in retried.iter().take(5) {
        println!("storm: a request sent again after: {f:?}");
    }

    assert!(rejected.is_empty(), "{} copies rejected, e.g. {:?}", rejected.len(), &rejected[..rejected.len().min(5)]);
    let twice: Vec<&str> = (0..events).filter(|&e| tally[e].accepted > 1).map(|e| plan[e].key.as_str()).collect();
    assert!(twice.is_empty(), "{} keys accepted more than once, e.g. {:?}", twice.len(), &twice[..twice.len().min(5)]);
    // A key never answered `accepted` is only explained by a lost answer.
    let never: Vec<&str> = (0..events)
        .filter(|&e| tally[e].accepted == 0 && !tally[e].in_failed_request)
        .map(|e| plan[e].key.as_str())
        .collect();
    assert!(never.is_empty(), "{} keys never accepted, e.g. {:?}", never.len(), &never[..never.len().min(5)]);
    assert!(tally.iter().all(|t| t.accepted + t.duplicate == COPIES), "every copy answered");
    let keys: HashSet<&str> = plan.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys.len(), events, "the plan's keys are distinct");

    let usage = fixture.usage(&admin);
    let expected = fixture.expected(&plan);
    for (i, (got, want)) in usage.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "customer {} ({}): usage is its distinct events, once each", i, fixture.customers[i]);
    }
}
