//! What a run's events cost on Cloudflare's bill: rows read and written (from the SQL
//! cursors' own counters), object calls, workerd CPU and bytes stored, priced at the list
//! prices of BENCHMARKS.md "What an event costs".
//!
//! The objects report their rows: each object call of edgemeter (under
//! `EDGEMETER_COST_LOG=1`) and of the JS floors logs one line
//! `edgemeter-cost object=<id> rows_read=<n> rows_written=<n> db_bytes=<n>`, which lands in
//! the server's log; a run sums the lines written to the log during it. A log line costs
//! the object one `console.log` per call (about one per 50–1,000 events), the same for
//! every worker measured.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Rows written, per million ($1.00 per million).
pub const PER_ROW_WRITTEN: f64 = 1.00 / 1e6;
/// Rows read ($0.001 per million).
pub const PER_ROW_READ: f64 = 0.001 / 1e6;
/// Durable Object requests ($0.15 per million).
pub const PER_OBJECT_CALL: f64 = 0.15 / 1e6;
/// Workers CPU ($0.02 per million ms).
pub const PER_CPU_MS: f64 = 0.02 / 1e6;
/// Stored data ($0.20 per GB-month).
pub const PER_GB_MONTH: f64 = 0.20;
/// How long the storage figure keeps a million events: 35 days, in 30-day months.
pub const KEPT_MONTHS: f64 = 35.0 / 30.0;

/// A place in a server's log.
pub fn log_position(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// One object call's line.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    object: String,
    read: u64,
    written: u64,
    db_bytes: u64,
}

fn parse(line: &str) -> Option<Line> {
    let rest = &line[line.find("edgemeter-cost ")? + "edgemeter-cost ".len()..];
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for f in rest.split_whitespace() {
        let (k, v) = f.split_once('=')?;
        fields.insert(k, v);
    }
    let n = |k: &str| fields.get(k).and_then(|v| v.parse().ok());
    Some(Line {
        object: (*fields.get("object")?).to_owned(),
        read: n("rows_read")?,
        written: n("rows_written")?,
        db_bytes: n("db_bytes")?,
    })
}

fn lines(log: &Path, from: u64, to: u64) -> Vec<Line> {
    let bytes = std::fs::read(log).unwrap_or_default();
    let (from, to) = ((from as usize).min(bytes.len()), (to as usize).min(bytes.len()));
    String::from_utf8_lossy(&bytes[from..to.max(from)]).lines().filter_map(parse).collect()
}

/// What one run's objects did, summed over its calls.
#[derive(Clone, Copy, Default, Debug)]
pub struct Cost {
    pub rows_read: u64,
    pub rows_written: u64,
    /// Object calls that logged a line.
    pub calls: u64,
    /// How much the run's objects grew: per object, its largest size seen less its
    /// smallest (the objects are new to the run; the first size is after the schema).
    pub bytes_grown: u64,
    /// CPU workerd used during the run.
    pub workerd_cpu: Duration,
}

/// The cost of a run whose load went to the log between `load_from` and `to`; sizes are
/// read from `objects_from` on (before its objects were made).
pub fn measured(log: &Path, objects_from: u64, load_from: u64, to: u64, workerd_cpu: Duration) -> Cost {
    let mut cost = Cost { workerd_cpu, ..Cost::default() };
    for l in lines(log, load_from, to) {
        cost.rows_read += l.read;
        cost.rows_written += l.written;
        cost.calls += 1;
    }
    let mut sizes: HashMap<String, (u64, u64)> = HashMap::new();
    for l in lines(log, objects_from, to) {
        let e = sizes.entry(l.object).or_insert((l.db_bytes, l.db_bytes));
        e.0 = e.0.min(l.db_bytes);
        e.1 = e.1.max(l.db_bytes);
    }
    cost.bytes_grown = sizes.values().map(|(lo, hi)| hi - lo).sum();
    cost
}

/// Per event, and the bill for a million events.
#[derive(Clone, Copy, Debug)]
pub struct PerEvent {
    pub rows_written: f64,
    pub rows_read: f64,
    pub calls_per_1000: f64,
    pub cpu_ms_per_1000: f64,
    pub bytes: f64,
}

impl PerEvent {
    /// `events`: the events the runs accepted.
    pub fn of(costs: &[Cost], events: u64) -> Option<PerEvent> {
        let n = events as f64;
        if events == 0 || costs.is_empty() {
            return None;
        }
        let sum = |f: fn(&Cost) -> f64| costs.iter().map(f).sum::<f64>();
        Some(PerEvent {
            rows_written: sum(|c| c.rows_written as f64) / n,
            rows_read: sum(|c| c.rows_read as f64) / n,
            calls_per_1000: sum(|c| c.calls as f64) * 1000.0 / n,
            cpu_ms_per_1000: sum(|c| c.workerd_cpu.as_secs_f64() * 1e3) * 1000.0 / n,
            bytes: sum(|c| c.bytes_grown as f64) / n,
        })
    }

    /// Dollars per million events: rows written, rows read, object calls, CPU.
    pub fn dollars(&self) -> [f64; 4] {
        let m = 1e6;
        [
            self.rows_written * m * PER_ROW_WRITTEN,
            self.rows_read * m * PER_ROW_READ,
            self.calls_per_1000 / 1000.0 * m * PER_OBJECT_CALL,
            self.cpu_ms_per_1000 / 1000.0 * m * PER_CPU_MS,
        ]
    }

    /// Dollars to keep a million events stored for 35 days.
    pub fn storage_dollars(&self) -> f64 {
        self.bytes * 1e6 / 1e9 * PER_GB_MONTH * KEPT_MONTHS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cost_line_reads_back_from_a_wrangler_log_line() {
        let l = "[wrangler:info] edgemeter-cost object=abc123 rows_read=4 rows_written=301 db_bytes=69632";
        assert_eq!(parse(l), Some(Line { object: "abc123".into(), read: 4, written: 301, db_bytes: 69632 }));
        assert_eq!(parse("POST /v1/usage/ingest 200 OK"), None);
    }

    #[test]
    fn a_million_events_at_one_row_each_cost_a_dollar_in_rows() {
        let c = Cost {
            rows_written: 1000,
            rows_read: 0,
            calls: 10,
            bytes_grown: 100_000,
            workerd_cpu: Duration::from_millis(50),
        };
        let p = PerEvent::of(&[c], 1000).unwrap();
        let [w, r, calls, cpu] = p.dollars();
        assert!((w - 1.0).abs() < 1e-9 && r == 0.0);
        assert!((calls - 0.0015).abs() < 1e-12, "10 calls per 1,000 events: 10,000 per million at $0.15/M");
        assert!((cpu - 0.001).abs() < 1e-12, "50 ms per 1,000 events: 50,000 ms per million at $0.02/M");
        // 100 bytes per event: 0.1 GB per million, $0.02 a month, 35/30 of it.
        assert!((p.storage_dollars() - 0.02 * 35.0 / 30.0).abs() < 1e-12);
    }
}
