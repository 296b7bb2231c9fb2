//! Natural batching of ingest calls (README, "Ingesting"): many requests for the same
//! customers at once all get their own fates, every event counts exactly once, and the
//! object calls they share are fewer than one per customer per request.
//!
//! A load like this once made a woken waiter call the object from another request's
//! context, which workerd refuses ("Cannot perform I/O on behalf of a different request"):
//! every request here must answer 200.

use edgemeter_tests::*;
use serde_json::{json, Value};

#[test]
fn concurrent_requests_share_object_calls_and_every_event_counts_once() {
    let (calls, requests, customers) = send_concurrently(&shared().client());
    // Without batching every request makes one call per customer.
    let unbatched = (requests * customers) as u64;
    assert!(calls < unbatched, "{calls} object calls for {requests} requests over {customers} customers");
    eprintln!("{calls} object calls for {requests} requests over {customers} customers ({unbatched} unbatched)");
}

/// A driver hands its lane over after a while (Cloudflare ends `waitUntil` work 30 s after
/// the response); here after every call, so lanes change hands all the time: every
/// request still gets its own fates and every event counts once.
#[test]
fn lanes_handed_from_driver_to_driver_lose_and_double_nothing() {
    let server = Server::start_with(&fresh_state_dir("handoff"), &[("EDGEMETER_LANE_HANDOFF_MS", "0")]);
    send_concurrently(&server.client());
}

/// 24 threads × 8 requests × 3 customers × 5 events, checked exactly; returns the object
/// calls made, the requests and the customers.
fn send_concurrently(c: &Client) -> (u64, usize, usize) {
    const THREADS: usize = 24;
    const ROUNDS: usize = 8;
    const PER_CUSTOMER: usize = 5;
    let name = event_name("batched");
    let metric = c.metric("batched", &name, "sum", json!({}));
    let customers: Vec<String> = (0..3).map(|_| c.customer()).collect();
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let (c, customers, name) = (c.clone(), customers.clone(), name.clone());
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                for r in 0..ROUNDS {
                    let events: Vec<Value> = customers
                        .iter()
                        .flat_map(|cus| (0..PER_CUSTOMER).map(move |i| (cus, i)))
                        .map(|(cus, i)| event(cus, &name, json!((t * ROUNDS + r) % 7 + i)))
                        .collect();
                    answers.push(c.ingest_batch(&events));
                }
                answers
            })
        })
        .collect();
    let mut expected = vec![0u64; customers.len()];
    let mut calls = 0;
    let mut requests = 0;
    for (t, s) in senders.into_iter().enumerate() {
        for (r, a) in s.join().expect("a sender thread").into_iter().enumerate() {
            assert_eq!(a.status, 200, "{}", a.text);
            assert_eq!(a.counts(), ((customers.len() * PER_CUSTOMER) as u64, 0, 0), "{}", a.text);
            calls += a.do_calls.expect("ingest answers count their object calls");
            requests += 1;
            for total in expected.iter_mut() {
                *total += (0..PER_CUSTOMER as u64).map(|i| ((t * ROUNDS + r) % 7) as u64 + i).sum::<u64>();
            }
        }
    }
    for (cus, want) in customers.iter().zip(expected) {
        assert_eq!(c.quantity(cus, &metric), (want.to_string(), (THREADS * ROUNDS * PER_CUSTOMER) as u64));
    }
    (calls, requests, customers.len())
}
