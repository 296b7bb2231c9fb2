//! Invoicing fans out: one cron run over 2,000 customers gives each exactly one draft,
//! with no request doing work that grows with the number of customers (the run pages
//! through due customers, 50 objects at a time). The run's duration is printed for
//! BENCHMARKS.md (`cargo test -p edgemeter-tests --test scale -- --nocapture`).

use edgemeter_tests::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::Instant;

const THREADS: usize = 8;

/// 2,000 by default; `EDGEMETER_SCALE_CUSTOMERS` changes it (a multiple of 8).
fn customers() -> usize {
    std::env::var("EDGEMETER_SCALE_CUSTOMERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

#[test]
fn one_run_gives_each_of_2000_customers_exactly_one_draft() {
    let n = customers();
    let server = Server::start("scale");
    let c = server.client();
    let name = event_name("scale");
    c.metric("scale", &name, "count", json!({}));

    let t0 = Instant::now();
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let c = c.clone();
                s.spawn(move || (0..n / THREADS).map(|_| c.customer()).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a creating thread")).collect()
    });
    let created = t0.elapsed();
    assert_eq!(ids.len(), n);

    // Every customer was created this month with the default monthly schedule.
    let usage = c.get(&format!("/v1/customers/{}/usage", ids[0]));
    let end = parse_utc(usage.body["period"]["end"].as_str().expect("end"));
    let t1 = Instant::now();
    server.run_cron_at(end - 3 * 24 * 3_600_000 + 3_600_000);
    let run = t1.elapsed();

    let mut drafts: Vec<String> = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = c.get(&format!("/v1/invoices?status=draft&limit=500&cursor={cursor}"));
        assert_eq!(r.status, 200, "{:?}", r.body);
        for inv in r.body["data"].as_array().expect("data") {
            drafts.push(inv["customer_id"].as_str().expect("customer_id").to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(n) => cursor = n.to_owned(),
            None => break,
        }
    }
    let distinct: HashSet<&String> = drafts.iter().collect();
    assert_eq!(drafts.len(), n, "one draft per customer");
    assert_eq!(distinct.len(), n);
    assert!(ids.iter().all(|id| distinct.contains(id)));
    println!(
        "scale: created {n} customers in {:.1} s; one invoicing run made {} drafts in {:.1} s",
        created.as_secs_f64(),
        drafts.len(),
        run.as_secs_f64()
    );
}
