//! `make bench-load`: edgemeter's ingest under load, against three JavaScript workers of
//! the same design on the same machine in the same run (tests/load/worker.js): a null
//! worker, a plain floor (one object call per customer per request) and a floor with
//! natural batching of object calls. Rounds alternate between the four workers, so
//! noise on this shared machine falls on all of them; the report gives ratios within
//! the run. See BENCHMARKS.md "Ingest under load".
//!
//! Settings (environment): `LOAD_SECONDS` per round (10), `LOAD_ROUNDS` per shape (3),
//! `LOAD_CONNECTIONS` (16), `LOAD_CPU_REQUESTS` for the CPU measurement (30), `LOAD_KEYS`
//! (`v4`, random keys; `v7`: time-ordered keys, as the SDKs make them), `LOAD_ONLY=cpu`
//! (only the warm-up and the CPU per 1,000-event request, about 40 s), `LOAD_ONLY=checks`
//! (only the entitlement checks, `checks.rs`), `LOAD_SHAPES` (only these shapes, by their
//! place in the report from 1, comma-separated: `LOAD_SHAPES=2` is the one-customer
//! shape; the throughput and cost tables only, no CPU or checks sections).

mod checks;
mod cost;
mod generator;
mod report;
mod server;

use cost::Cost;
use edgemeter_tests::{event_name, Client};
use generator::{Load, Stats, Target};
use serde_json::json;
use server::Wrangler;
use std::time::{Duration, Instant};

const SECRET_KEY: &str = "sk_load_bench";
const INGEST_KEY: &str = "pk_load_bench";

/// A batch shape: events per request, spread over this many customers.
#[derive(Clone, Copy)]
pub struct Shape {
    pub name: &'static str,
    pub batch: usize,
    pub customers: usize,
}

pub const SHAPES: [Shape; 3] = [
    Shape { name: "batch 100 over 20 customers", batch: 100, customers: 20 },
    Shape { name: "batch 100, one customer", batch: 100, customers: 1 },
    Shape { name: "batch 1,000 over 20 customers", batch: 1000, customers: 20 },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Worker {
    Null,
    Floor,
    Batched,
    Edgemeter,
}

pub const WORKERS: [Worker; 4] = [Worker::Null, Worker::Floor, Worker::Batched, Worker::Edgemeter];

impl Worker {
    pub fn name(self) -> &'static str {
        match self {
            Worker::Null => "null",
            Worker::Floor => "JS floor",
            Worker::Batched => "batched JS floor",
            Worker::Edgemeter => "edgemeter",
        }
    }
}

/// One measured run: a worker, a shape, a round.
pub struct Run {
    pub shape: usize,
    pub round: usize,
    pub worker: Worker,
    pub stats: Stats,
    /// The exactly-once check: `Ok` with the events counted, or what went wrong.
    /// `None` for the null worker, which stores nothing.
    pub exact: Option<Result<u64, String>>,
    /// What the run's objects did (`None` for the null worker).
    pub cost: Option<Cost>,
}

/// CPU used by the server for one request of a 1,000-event batch, at concurrency 1.
pub struct Cpu {
    pub worker: Worker,
    pub cpu_per_request: Duration,
    /// The part of it spent in workerd (the rest is wrangler's node process).
    pub workerd_per_request: Duration,
    pub median_latency: Duration,
}

/// What one run posts to, and what preparing it left counted already.
struct Prepared {
    target: Target,
    /// Events accepted by the requests that woke the customers' objects.
    woken: u64,
    /// Edgemeter's metric for the run.
    metric: Option<String>,
}

struct Bench {
    js: Wrangler,
    edgemeter: Wrangler,
    admin: Client,
    connections: usize,
    runs: u32,
    /// `LOAD_KEYS=v7`: idempotency keys as the SDKs make them (UUIDv7), not random v4.
    time_ordered_keys: bool,
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let seconds = setting("LOAD_SECONDS", 10);
    let rounds = setting("LOAD_ROUNDS", 3) as usize;
    let connections = setting("LOAD_CONNECTIONS", 16) as usize;
    let cpu_requests = setting("LOAD_CPU_REQUESTS", 30);
    let started = Instant::now();

    let state = edgemeter_tests::root().join("target/bench-load");
    let _ = std::fs::remove_dir_all(&state);
    eprintln!("bench-load: starting the JS workers and edgemeter (state and logs in {})", state.display());
    let js = Wrangler::start("floors", "tests/load/wrangler.toml", &[], &state);
    let edgemeter = Wrangler::start(
        "edgemeter",
        &served_as_built(&state),
        &[
            ("EDGEMETER_SECRET_KEYS", SECRET_KEY),
            ("EDGEMETER_INGEST_KEYS", INGEST_KEY),
            ("EDGEMETER_TOKEN_SECRET", "load-bench-token-secret"),
            ("EDGEMETER_COST_LOG", "1"),
        ],
        &state,
    );
    let admin = Client { base: edgemeter.base.clone(), key: Some(SECRET_KEY.to_owned()) };
    let time_ordered_keys = std::env::var("LOAD_KEYS").is_ok_and(|k| k == "v7");
    let mut bench = Bench { js, edgemeter, admin, connections, runs: 0, time_ordered_keys };

    let only_checks = std::env::var("LOAD_ONLY").is_ok_and(|v| v == "checks");
    // `LOAD_ONLY=cpu`: only the CPU per 1,000-event request, every worker (about a minute).
    let only_cpu = std::env::var("LOAD_ONLY").is_ok_and(|v| v == "cpu");
    if only_cpu {
        // Warmed as in the full run (the wasm tiers up under load): without it the CPU
        // measured is mostly that of code not yet optimized.
        eprintln!("bench-load: warming up each worker (2 s each, not measured)");
        for w in WORKERS {
            bench.measure(w, SHAPES[0], Duration::from_secs(2));
        }
        eprintln!("bench-load: CPU time of one 1,000-event request, {cpu_requests} requests at concurrency 1");
        let mut text =
            String::from("| worker | CPU ms per 1,000-event request | of which workerd | median latency ms |\n");
        text.push_str("| --- | ---: | ---: | ---: |\n");
        for w in WORKERS {
            let c = bench.cpu(w, cpu_requests);
            text.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.1} |\n",
                w.name(),
                c.cpu_per_request.as_secs_f64() * 1e3,
                c.workerd_per_request.as_secs_f64() * 1e3,
                c.median_latency.as_secs_f64() * 1e3
            ));
        }
        bench.js.stop();
        bench.edgemeter.stop();
        println!("{text}");
        let _ = std::fs::write(state.join("report.md"), &text);
        return;
    }
    if !only_checks {
        eprintln!("bench-load: warming up each worker (2 s each, not measured)");
        for w in WORKERS {
            bench.measure(w, SHAPES[0], Duration::from_secs(2));
        }
    }

    let picked: Option<Vec<usize>> = std::env::var("LOAD_SHAPES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse::<usize>().ok()).map(|n| n.saturating_sub(1)).collect());
    let wanted = |s: usize| !only_checks && picked.as_ref().is_none_or(|p| p.contains(&s));
    let mut runs = Vec::new();
    for (s, shape) in SHAPES.iter().enumerate().filter(|(s, _)| wanted(*s)) {
        for round in 0..rounds {
            // Each round starts with another worker, so none always follows the same one.
            for i in 0..WORKERS.len() {
                let worker = WORKERS[(i + round) % WORKERS.len()];
                let (stats, exact, cost) = bench.measure(worker, *shape, Duration::from_secs(seconds));
                eprintln!(
                    "bench-load: {} | round {} | {:<16} {:>9.0} events/s, {} requests, {} errors{}",
                    shape.name,
                    round + 1,
                    worker.name(),
                    stats.events_per_second(),
                    stats.requests,
                    stats.errors,
                    match &exact {
                        Some(Ok(n)) => format!(", {n} counted exactly once"),
                        Some(Err(e)) => format!(", NOT EXACT: {e}"),
                        None => String::new(),
                    }
                );
                if let Some(e) = &stats.first_error {
                    eprintln!("bench-load:   first error: {}", e.chars().take(300).collect::<String>());
                }
                runs.push(Run { shape: s, round, worker, stats, exact, cost });
            }
        }
    }

    if picked.is_some() {
        bench.js.stop();
        bench.edgemeter.stop();
        let keys = if bench.time_ordered_keys { "UUIDv7 (time-ordered)" } else { "random UUIDv4" };
        println!("{}", report::render(&runs, &[], seconds, rounds, connections, started.elapsed(), keys));
        return;
    }
    let cpu: Vec<Cpu> = if only_checks {
        Vec::new()
    } else {
        eprintln!("bench-load: CPU time of one 1,000-event request, {cpu_requests} requests at concurrency 1");
        WORKERS.iter().map(|w| bench.cpu(*w, cpu_requests)).collect()
    };

    let (null_checks, checks, single, server_ms) = bench.checks(Duration::from_secs(seconds), rounds);

    bench.js.stop();
    bench.edgemeter.stop();
    let keys = if bench.time_ordered_keys { "UUIDv7 (time-ordered)" } else { "random UUIDv4" };
    let mut text = if only_checks {
        String::new()
    } else {
        report::render(&runs, &cpu, seconds, rounds, connections, started.elapsed(), keys)
    };
    text.push_str(&checks::render(&null_checks, &checks, &single, &server_ms, connections, seconds));
    println!("{text}");
    let _ = std::fs::write(state.join("report.md"), &text);
    if runs.iter().any(|r| r.stats.errors > 0) {
        eprintln!("bench-load: some requests failed (the report's errors column; first errors above)");
    }
    if runs.iter().any(|r| matches!(r.exact, Some(Err(_)))) {
        eprintln!("bench-load: some runs did not count every acknowledged event exactly once (see above)");
        std::process::exit(1);
    }
}

impl Bench {
    /// Fresh customers (and for edgemeter a fresh `count` metric) for one run, each
    /// customer's object woken by one single-event request.
    fn prepare(&mut self, worker: Worker, customers: usize) -> Prepared {
        self.runs += 1;
        let run = self.runs;
        let mut metric = None;
        let (target, wake) = match worker {
            Worker::Edgemeter => {
                let name = event_name("load");
                metric = Some(self.admin.metric("load", &name, "count", json!({})));
                let customers = (0..customers).map(|_| self.admin.customer()).collect();
                let target = Target {
                    url: format!("{}/v1/usage/ingest", self.edgemeter.base),
                    auth: Some(format!("Bearer {INGEST_KEY}")),
                    customers,
                    event_name: name,
                    time_ordered_keys: self.time_ordered_keys,
                };
                (target, true)
            }
            _ => {
                let path = match worker {
                    Worker::Null => "null",
                    Worker::Floor => "floor",
                    _ => "batched",
                };
                let target = Target {
                    url: format!("{}/{path}", self.js.base),
                    auth: Some(format!("Bearer {INGEST_KEY}")),
                    customers: (0..customers).map(|i| format!("cus_load{run}x{i}")).collect(),
                    event_name: format!("load_{run}"),
                    time_ordered_keys: self.time_ordered_keys,
                };
                (target, worker != Worker::Null)
            }
        };
        let mut woken = 0;
        if wake {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
            let mut rng = generator::Rng::seeded(u64::from(run));
            for (i, _) in target.customers.iter().enumerate() {
                let mut body = Vec::new();
                generator::write_batch(&mut body, &mut rng, &target, 1, i);
                let (_, text) = generator::post(&agent, &target, &body)
                    .unwrap_or_else(|e| panic!("waking {}'s object failed: {e}", worker.name()));
                woken += generator::count(&text, "accepted").unwrap_or(0);
            }
        }
        Prepared { target, woken, metric }
    }

    /// The entitlement-check rounds: one customer with a hard limit on a `sum` metric and
    /// one event, checked from every connection; each round runs the null worker and
    /// edgemeter, starting with each in turn. Then one round of each at one connection,
    /// and the worker's own durations of the checks from every connection.
    fn checks(
        &mut self,
        duration: Duration,
        rounds: usize,
    ) -> (Vec<checks::Checks>, Vec<checks::Checks>, [checks::Checks; 2], Vec<u64>) {
        let name = event_name("check");
        let metric = self.admin.metric("check", &name, "sum", json!({}));
        let customer = self.admin.customer();
        let limit = json!({"max": "1000000000", "mode": "hard"}).to_string();
        let path = format!("/v1/customers/{customer}/limits/{metric}");
        let r = self.admin.send("PUT", &path, Some(limit.as_bytes()), &[]);
        assert_eq!(r.status, 200, "setting the benchmark's limit: {}", r.text);
        let r = self.admin.ingest(&edgemeter_tests::event(&customer, &name, json!(5)));
        assert_eq!(r.status, 200, "the benchmark's first event: {}", r.text);
        let em_url = format!("{}/v1/customers/{customer}/entitlements/{metric}", self.edgemeter.base);
        let null_url = format!("{}/null", self.js.base);
        let auth = format!("Bearer {INGEST_KEY}");
        eprintln!("bench-load: entitlement checks, warming up (2 s each, not measured)");
        checks::run(&null_url, None, self.connections, Duration::from_secs(2));
        checks::run(&em_url, Some(&auth), self.connections, Duration::from_secs(2));
        let (mut null, mut em) = (Vec::new(), Vec::new());
        let log_from = cost::log_position(&self.edgemeter.log);
        for round in 0..rounds {
            for i in 0..2 {
                let edgemeter = (i + round) % 2 == 1;
                let c = if edgemeter {
                    checks::run(&em_url, Some(&auth), self.connections, duration)
                } else {
                    checks::run(&null_url, None, self.connections, duration)
                };
                eprintln!(
                    "bench-load: entitlement checks | round {} | {:<9} {:>7.0} checks/s, {} errors",
                    round + 1,
                    if edgemeter { "edgemeter" } else { "null" },
                    c.per_second(),
                    c.errors
                );
                if let Some(e) = &c.first_error {
                    eprintln!("bench-load:   first error: {}", e.chars().take(300).collect::<String>());
                }
                if edgemeter {
                    em.push(c);
                } else {
                    null.push(c);
                }
            }
        }
        // Every check was answered; give wrangler a moment to pass its log lines on.
        std::thread::sleep(Duration::from_millis(1000));
        let server_ms = checks::server_durations(&self.edgemeter.log, log_from);
        eprintln!("bench-load: entitlement checks at one connection");
        let single = [checks::run(&null_url, None, 1, duration), checks::run(&em_url, Some(&auth), 1, duration)];
        (null, em, single, server_ms)
    }

    fn server(&self, worker: Worker) -> &Wrangler {
        if worker == Worker::Edgemeter {
            &self.edgemeter
        } else {
            &self.js
        }
    }

    /// One timed run, then the exactly-once check: the events the answers called
    /// accepted, and those the customers' usage counts, must be the same number; and
    /// what the run's object calls cost (see `cost.rs`).
    fn measure(
        &mut self,
        worker: Worker,
        shape: Shape,
        duration: Duration,
    ) -> (Stats, Option<Result<u64, String>>, Option<Cost>) {
        let log = self.server(worker).log.clone();
        let objects_from = cost::log_position(&log);
        let Prepared { target, woken, metric } = self.prepare(worker, shape.customers);
        let load_from = cost::log_position(&log);
        let cpu_before = self.server(worker).cpu_time().1;
        let load = Load { connections: self.connections, batch: shape.batch, duration, max_requests: 100_000 };
        let stats = generator::run(&target, load);
        let workerd_cpu = self.server(worker).cpu_time().1.saturating_sub(cpu_before);
        // Every call was answered; give wrangler a moment to pass its log lines on.
        std::thread::sleep(Duration::from_millis(1000));
        let cost = (worker != Worker::Null)
            .then(|| cost::measured(&log, objects_from, load_from, cost::log_position(&log), workerd_cpu));
        let exact = (worker != Worker::Null).then(|| {
            let acknowledged = woken + stats.accepted;
            let counted: u64 =
                target.customers.iter().map(|c| self.counted(worker, &target, metric.as_deref(), c)).sum();
            if counted == acknowledged && stats.duplicates == 0 && stats.rejected == 0 {
                Ok(counted)
            } else {
                Err(format!(
                    "{acknowledged} acknowledged as accepted, {counted} counted; {} duplicates, {} rejected",
                    stats.duplicates, stats.rejected
                ))
            }
        });
        (stats, exact, cost)
    }

    /// The events one customer's usage counts for the run: edgemeter's `count` metric,
    /// or a floor's aggregate for the run's event name.
    fn counted(&self, worker: Worker, target: &Target, metric: Option<&str>, customer: &str) -> u64 {
        if let Some(metric) = metric {
            let (quantity, _) = self.admin.quantity(customer, metric);
            return quantity.parse().unwrap_or_else(|_| panic!("a count is a whole number: {quantity}"));
        }
        let kind = if worker == Worker::Batched { "batched" } else { "floor" };
        let url = format!("{}/usage?kind={kind}&customer={customer}&event_name={}", self.js.base, target.event_name);
        let v: serde_json::Value = ureq::get(&url)
            .call()
            .ok()
            .and_then(|r| r.into_json().ok())
            .unwrap_or_else(|| panic!("reading {url} failed"));
        v["count"].as_u64().unwrap_or(0)
    }

    /// CPU time the server spends on one 1,000-event request over one warm customer, from
    /// the CPU its process group used over `n` requests sent one at a time.
    fn cpu(&mut self, worker: Worker, n: u64) -> Cpu {
        let Prepared { target, .. } = self.prepare(worker, 1);
        let server = if worker == Worker::Edgemeter { &self.edgemeter } else { &self.js };
        let warm = Load { connections: 1, batch: 1000, duration: Duration::from_secs(60), max_requests: 3 };
        generator::run(&target, warm);
        let before = server.cpu_time();
        let stats = generator::run(&target, Load { max_requests: n, ..warm });
        let after = server.cpu_time();
        let (used, workerd) = (after.0.saturating_sub(before.0), after.1.saturating_sub(before.1));
        if stats.errors > 0 {
            eprintln!(
                "bench-load: {} failed {} of {n} CPU requests: {:?}",
                worker.name(),
                stats.errors,
                stats.first_error
            );
        }
        let mut l = stats.latencies_us.clone();
        l.sort_unstable();
        Cpu {
            worker,
            cpu_per_request: used / n.max(1) as u32,
            workerd_per_request: workerd / n.max(1) as u32,
            median_latency: Duration::from_micros(l.get(l.len() / 2).copied().unwrap_or(0)),
        }
    }
}

/// The repository's `wrangler.toml` without its `[build]` table, written under `dir` (its
/// `main` and assets `directory` made absolute): the
/// worker as `make build` left it, and nothing for wrangler to watch and rebuild. (With
/// the build table, wrangler restarted the worker in the middle of a run once, answering
/// the requests in flight 503 "Your worker restarted mid-request".)
fn served_as_built(dir: &std::path::Path) -> String {
    let root = edgemeter_tests::root();
    let toml = std::fs::read_to_string(root.join("wrangler.toml")).expect("read wrangler.toml");
    let mut out = String::new();
    let mut in_build = false;
    for line in toml.lines() {
        let table = line.trim_start().starts_with('[');
        if table {
            in_build = line.trim() == "[build]";
        }
        if in_build {
            continue;
        }
        match line.split_once('=') {
            // Paths in the file are relative to it: the copy names them from the root.
            Some((key, value)) if !table && matches!(key.trim(), "main" | "directory") => {
                let path = root.join(value.trim().trim_matches('"'));
                out.push_str(&format!("{} = \"{}\"\n", key.trim(), path.display()));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    std::fs::create_dir_all(dir).expect("create the state folder");
    let path = dir.join("edgemeter.wrangler.toml");
    std::fs::write(&path, out).expect("write the benchmark's wrangler.toml");
    path.display().to_string()
}
