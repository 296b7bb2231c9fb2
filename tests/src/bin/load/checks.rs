//! The entitlement-check row of `make bench-load` (BENCHMARKS.md "Entitlement checks"):
//! `GET /v1/customers/{id}/entitlements/{metric_code}` with the ingest key, from every
//! connection at once on one customer with a hard limit (the worst case: every check
//! waits its turn at the same object), beside the null worker's `GET /null` in the same
//! run, rounds alternating between the two.

use crate::report::{median, percentile};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// What one timed run of checks saw.
#[derive(Default)]
pub struct Checks {
    pub connections: usize,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latencies_us: Vec<u64>,
    pub elapsed: Duration,
}

impl Checks {
    pub fn per_second(&self) -> f64 {
        (self.requests - self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `GET url` from `connections` connections, one request after another on each, for
/// `duration`; a check counts when it answers 200 with `"allowed"` in it (or, for the
/// null worker, any 200).
pub fn run(url: &str, auth: Option<&str>, connections: usize, duration: Duration) -> Checks {
    let start = Instant::now();
    let deadline = start + duration;
    let mut total = Checks { connections, ..Checks::default() };
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..connections)
            .map(|_| {
                s.spawn(move || {
                    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
                    let mut mine = Checks::default();
                    while Instant::now() < deadline {
                        let mut req = agent.get(url);
                        if let Some(a) = auth {
                            req = req.set("authorization", a);
                        }
                        let t0 = Instant::now();
                        let answer = match req.call() {
                            Ok(r) => r.into_string().map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        };
                        mine.requests += 1;
                        match answer {
                            Ok(text) if auth.is_none() || text.contains("\"allowed\"") => {
                                mine.latencies_us.push(t0.elapsed().as_micros() as u64)
                            }
                            Ok(text) => {
                                mine.errors += 1;
                                mine.first_error.get_or_insert(text);
                            }
                            Err(e) => {
                                mine.errors += 1;
                                mine.first_error.get_or_insert(e);
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        for t in threads {
            let mine = t.join().expect("a check thread panicked");
            total.requests += mine.requests;
            total.errors += mine.errors;
            total.first_error = total.first_error.take().or(mine.first_error);
            total.latencies_us.extend(mine.latencies_us);
        }
    });
    total.elapsed = start.elapsed();
    total
}

/// The `duration_ms` of the entitlement checks' log lines written to `log` after byte
/// `from`: how long the worker itself took, without wrangler's local proxy in front.
pub fn server_durations(log: &std::path::Path, from: u64) -> Vec<u64> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let _ = f.seek(std::io::SeekFrom::Start(from));
        let _ = f.read_to_string(&mut text);
    }
    let mut ms: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("\"route\":\"/v1/customers/{id}/entitlements/{metric_code}\""))
        .filter_map(|l| l.split("\"duration_ms\":").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    ms.sort_unstable();
    ms
}

/// The section of the report: checks per second (median of the rounds, min–max), p50
/// and p99 over every check of the rounds, and edgemeter over null per round; then one
/// round each at one connection (a check's own latency, no queue), and the worker's own
/// durations (`server`, from its log lines) at `connections`.
pub fn render(
    null: &[Checks],
    edgemeter: &[Checks],
    single: &[Checks; 2],
    server: &[u64],
    connections: usize,
    seconds: u64,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### Entitlement checks\n\n`GET /v1/customers/{{id}}/entitlements/{{metric_code}}` (ingest key, a hard \
         limit set) on one customer from {connections} connections, against the null worker's `GET /null`, \
         {} rounds of {seconds} s each, alternated. Checks/s: median of the rounds (min–max); latencies over \
         every check.\n",
        edgemeter.len()
    );
    let _ = writeln!(out, "| worker | connections | checks/s | p50 ms | p99 ms | errors | / null (checks/s) |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let ratios: Vec<f64> = edgemeter.iter().zip(null).map(|(e, n)| e.per_second() / n.per_second().max(1e-9)).collect();
    let single_ratio = single[1].per_second() / single[0].per_second().max(1e-9);
    /// A row: the worker, its runs, and its ratio to null (median, min, max).
    type Row<'a> = (&'static str, &'a [Checks], Option<(f64, f64, f64)>);
    let rows: [Row; 4] = [
        ("null", null, None),
        ("edgemeter", edgemeter, median(&ratios)),
        ("null", &single[..1], None),
        ("edgemeter", &single[1..], Some((single_ratio, single_ratio, single_ratio))),
    ];
    for (name, runs, ratio) in rows {
        let rates: Vec<f64> = runs.iter().map(Checks::per_second).collect();
        let mut lat: Vec<u64> = runs.iter().flat_map(|r| r.latencies_us.iter().copied()).collect();
        lat.sort_unstable();
        let ms = |p: f64| percentile(&lat, p).map_or("–".to_owned(), |u| format!("{:.1}", u as f64 / 1e3));
        let rate = match median(&rates) {
            Some((m, lo, hi)) if rates.len() > 1 => format!("{m:.0} ({lo:.0}–{hi:.0})"),
            Some((m, ..)) => format!("{m:.0}"),
            None => "–".to_owned(),
        };
        let ratio = match ratio {
            Some((m, lo, hi)) if runs.len() > 1 => format!("{m:.2} ({lo:.2}–{hi:.2})"),
            Some((m, ..)) => format!("{m:.2}"),
            None => "–".to_owned(),
        };
        let errors: u64 = runs.iter().map(|r| r.errors).sum();
        let conns = runs.first().map_or(0, |r| r.connections);
        let _ = writeln!(out, "| {name} | {conns} | {rate} | {} | {} | {errors} | {ratio} |", ms(0.5), ms(0.99));
    }
    let server_ms = |p: f64| percentile(server, p).map_or("–".to_owned(), |v| v.to_string());
    let _ = writeln!(
        out,
        "\nThe worker's own duration of the checks at {connections} connections (its log lines' `duration_ms`, \
         front and object call, without wrangler's local proxy): p50 {} ms, p99 {} ms over {} checks.",
        server_ms(0.5),
        server_ms(0.99),
        server.len()
    );
    out
}
