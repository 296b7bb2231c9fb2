//! The benchmark's report, in Markdown: per shape, each worker's throughput, latency and
//! Durable Object calls, and edgemeter's ratios to the others, taken round by round
//! (each round ran the four workers back to back) so that the machine's drift cancels.

use crate::cost::{PerEvent, KEPT_MONTHS, PER_GB_MONTH};
use crate::{Cpu, Run, Worker, SHAPES, WORKERS};
use std::fmt::Write;
use std::time::Duration;

pub fn render(
    runs: &[Run],
    cpu: &[Cpu],
    seconds: u64,
    rounds: usize,
    connections: usize,
    took: Duration,
    keys: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## make bench-load, {}", machine());
    let _ = writeln!(
        out,
        "\n{rounds} rounds of {seconds} s per shape and worker, {connections} connections, {keys} idempotency \
         keys, workers alternated \
         within each round; took {:.0} s. Events/s: median of the rounds (min–max); ratios: edgemeter's \
         events/s over the other worker's in the same round, median (min–max); latencies over every \
         request of the shape's rounds.\n",
        took.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| shape | null | JS floor | batched JS floor | edgemeter | edgemeter / null | edgemeter / floor | edgemeter / batched floor |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (s, shape) in SHAPES.iter().enumerate() {
        let rate = |w: Worker| spread(&of(runs, s, w).map(|r| r.stats.events_per_second()).collect::<Vec<_>>());
        let ratio = |w: Worker| {
            let em: Vec<&Run> = of(runs, s, Worker::Edgemeter).collect();
            let r: Vec<f64> = em
                .iter()
                .filter_map(|e| {
                    let other = of(runs, s, w).find(|o| o.round == e.round)?;
                    Some(e.stats.events_per_second() / other.stats.events_per_second().max(1e-9))
                })
                .collect();
            spread_ratio(&r)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            shape.name,
            rate(Worker::Null),
            rate(Worker::Floor),
            rate(Worker::Batched),
            rate(Worker::Edgemeter),
            ratio(Worker::Null),
            ratio(Worker::Floor),
            ratio(Worker::Batched),
        );
    }

    let _ = writeln!(
        out,
        "\n| shape | worker | events/s | p50 ms | p99 ms | object calls / 1,000 events | errors | exactly once |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for (s, shape) in SHAPES.iter().enumerate() {
        for w in WORKERS {
            let mine: Vec<&Run> = of(runs, s, w).collect();
            let mut lat: Vec<u64> = mine.iter().flat_map(|r| r.stats.latencies_us.iter().copied()).collect();
            lat.sort_unstable();
            let events: u64 = mine.iter().map(|r| r.stats.events).sum();
            let calls = match (w, mine.iter().map(|r| r.stats.do_calls).sum::<Option<u64>>()) {
                (Worker::Null, _) => "–".to_owned(),
                (_, Some(c)) if events > 0 => format!("{:.1}", c as f64 * 1000.0 / events as f64),
                _ => "n/a".to_owned(),
            };
            let errors: u64 = mine.iter().map(|r| r.stats.errors).sum();
            let exact = if w == Worker::Null {
                "–".to_owned()
            } else if let Some(Err(e)) = mine.iter().find_map(|r| r.exact.as_ref().filter(|x| x.is_err())) {
                format!("**no**: {e}")
            } else {
                let n: u64 = mine.iter().filter_map(|r| r.exact.as_ref().and_then(|x| x.as_ref().ok())).sum();
                format!("yes ({n} events)")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {calls} | {errors} | {exact} |",
                shape.name,
                w.name(),
                spread(&mine.iter().map(|r| r.stats.events_per_second()).collect::<Vec<_>>()),
                ms(percentile(&lat, 0.50)),
                ms(percentile(&lat, 0.99)),
            );
        }
    }

    render_cost(&mut out, runs);

    let _ = writeln!(
        out,
        "\nCPU time of one 1,000-event request over one warm customer, sent one at a time: the CPU \
         (user + system) that the server's process group (wrangler's node and workerd, which runs the \
         worker and its objects, SQLite included) used over the requests, divided by their number.\n"
    );
    let _ =
        writeln!(out, "| worker | CPU ms per 1,000-event request | of which workerd | over null | median latency ms |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    let null = cpu.iter().find(|c| c.worker == Worker::Null).map_or(Duration::ZERO, |c| c.cpu_per_request);
    for c in cpu {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:+.1} | {:.1} |",
            c.worker.name(),
            c.cpu_per_request.as_secs_f64() * 1e3,
            c.workerd_per_request.as_secs_f64() * 1e3,
            (c.cpu_per_request.as_secs_f64() - null.as_secs_f64()) * 1e3,
            c.median_latency.as_secs_f64() * 1e3,
        );
    }
    out
}

/// Per shape and worker: what an accepted event cost (rows from the SQL cursors' counters,
/// object calls, workerd CPU over the runs, the objects' growth), and the bill for a
/// million events at the list prices in `cost.rs`.
fn render_cost(out: &mut String, runs: &[Run]) {
    let _ = writeln!(
        out,
        "\nWhat an accepted event costs, summed over the shape's rounds: rows read and written as the \
         objects' SQL cursors count them (an index entry is a row), object calls, CPU of workerd during \
         the runs (all of it: front, objects, SQLite, under load), bytes the objects grew by. Dollars per \
         million events at $1.00/M rows written, $0.001/M rows read, $0.15/M object requests, $0.02/M CPU \
         ms; storage: a million events kept {:.0} days at ${PER_GB_MONTH:.2}/GB-month.\n",
        KEPT_MONTHS * 30.0
    );
    let _ = writeln!(
        out,
        "| shape | worker | rows written / event | rows read / event | object calls / 1,000 | workerd CPU ms / 1,000 | \
         bytes stored / event | $ rows written | $ calls | $ CPU | $ / million events | $ storage, 1M events 35 days |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (s, shape) in SHAPES.iter().enumerate() {
        for w in WORKERS.into_iter().filter(|w| *w != Worker::Null) {
            let mine: Vec<&Run> = of(runs, s, w).collect();
            let costs: Vec<_> = mine.iter().filter_map(|r| r.cost).collect();
            let accepted: u64 = mine.iter().map(|r| r.stats.accepted).sum();
            let Some(p) = PerEvent::of(&costs, accepted) else { continue };
            let d = p.dollars();
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.0} | {:.2} | {:.3} | {:.3} | {:.2} | {:.4} |",
                shape.name,
                w.name(),
                p.rows_written,
                p.rows_read,
                p.calls_per_1000,
                p.cpu_ms_per_1000,
                p.bytes,
                d[0],
                d[2],
                d[3],
                d.iter().sum::<f64>(),
                p.storage_dollars(),
            );
        }
    }
}

fn of(runs: &[Run], shape: usize, worker: Worker) -> impl Iterator<Item = &Run> {
    runs.iter().filter(move |r| r.shape == shape && r.worker == worker)
}

pub fn median(v: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let (lo, hi) = (*v.first()?, *v.last()?);
    let n = v.len();
    let mid = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some((mid, lo, hi))
}

/// Events/s as `12.3k (11.0–13.1k)`.
fn spread(v: &[f64]) -> String {
    let k = |x: f64| if x >= 100_000.0 { format!("{:.0}", x / 1e3) } else { format!("{:.1}", x / 1e3) };
    match median(v) {
        Some((m, lo, hi)) if v.len() > 1 => format!("{}k ({}–{}k)", k(m), k(lo), k(hi)),
        Some((m, ..)) => format!("{}k", k(m)),
        None => "–".to_owned(),
    }
}

fn spread_ratio(v: &[f64]) -> String {
    match median(v) {
        Some((m, lo, hi)) if v.len() > 1 => format!("{m:.2} ({lo:.2}–{hi:.2})"),
        Some((m, ..)) => format!("{m:.2}"),
        None => "–".to_owned(),
    }
}

pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    let i = ((sorted.len() as f64 * p).ceil() as usize).max(1) - 1;
    sorted.get(i).copied()
}

fn ms(us: Option<u64>) -> String {
    us.map_or("–".to_owned(), |u| format!("{:.1}", u as f64 / 1e3))
}

/// The date, commit and machine the figures come from.
fn machine() -> String {
    let cmd = |c: &str, args: &[&str]| {
        std::process::Command::new(c)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!(
        "{} UTC, commit {}; `nproc` {}, {cpu}",
        cmd("date", &["-u", "+%Y-%m-%d %H:%M"]),
        cmd("git", &["rev-parse", "--short", "HEAD"]),
        cmd("nproc", &[]),
    )
}
