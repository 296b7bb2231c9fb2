//! The end-to-end harness: a real `wrangler dev` (workerd with local KV and SQLite
//! Durable Objects) on a free port, a fresh state folder and its own keys, driven over
//! HTTP.
//!
//! Each test binary shares one server ([`shared`]) for tests that cannot disturb each
//! other (every test makes its own customers), and starts its own [`Server`] where it must
//! stop and restart one. Servers run in their own process group and are stopped as a
//! group: wrangler leaves workerd behind if only its own process is signalled. A watchdog
//! in that group stops the server when the test process exits, since a shared server is
//! never dropped.

use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const SECRET_KEY: &str = "sk_test_e2e";
pub const INGEST_KEY: &str = "pk_test_e2e";

/// The repository root (the folder with `wrangler.toml`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").to_path_buf()
}

/// The HTTP agent for every test request. It keeps no idle connections: after a long
/// quiet spell the dev server can drop a pooled keep-alive connection without the client
/// noticing, and the next request on it would wait for an answer that never comes.
pub fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| ureq::AgentBuilder::new().max_idle_connections(0).build())
}

/// Starts `wrangler dev ARGS` in its own process group, logging to `log`, with a watchdog
/// in the group that stops it when this process exits (even if this process is killed).
/// Stop it by signalling the group: wrangler leaves workerd behind otherwise.
pub fn spawn_wrangler(args: &str, log: std::fs::File) -> std::process::Child {
    let script = format!(
        "node_modules/.bin/wrangler dev {args} & \
         w=$!; while kill -0 {parent} 2>/dev/null && kill -0 $w 2>/dev/null; do sleep 1; done; kill -TERM 0",
        parent = std::process::id(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(root())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("EDGEMETER_SKIP_BUILD", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start wrangler dev")
}

/// A running `wrangler dev`.
pub struct Server {
    pub base: String,
    pub state_dir: PathBuf,
    pgid: u32,
    port: u16,
    pub log: PathBuf,
    /// The group's leader, reaped in [`Server::stop`].
    child: std::process::Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free local port")
}

/// Builds the worker once per test process, unless a build is there already
/// (`make test` builds it before running the tests).
pub fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if root().join("worker/build/index.js").exists() {
            return;
        }
        let ok = Command::new("sh")
            .arg("scripts/build-worker.sh")
            .current_dir(root())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "building the worker failed (run `make setup` first)");
    });
}

/// A fresh, empty state folder under `target/e2e/`.
pub fn fresh_state_dir(name: &str) -> PathBuf {
    static N: Mutex<u32> = Mutex::new(0);
    let n = {
        let mut g = N.lock().unwrap_or_else(|e| e.into_inner());
        *g += 1;
        *g
    };
    let base = root().join("target/e2e");
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| sweep_dead_state_dirs(&base));
    let dir = base.join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the state folder");
    dir
}

/// Removes the state folders of test processes that have exited (`<name>-<pid>-<n>`),
/// so runs do not pile up state under `target/e2e/`.
fn sweep_dead_state_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Server {
    /// Starts a server on a fresh state folder.
    pub fn start(name: &str) -> Server {
        Server::start_on(&fresh_state_dir(name))
    }

    /// Starts a server on the given state folder (to restart on the same state).
    pub fn start_on(state_dir: &Path) -> Server {
        Server::start_with(state_dir, &[])
    }

    /// Starts a server on the given state folder with extra worker variables.
    ///
    /// Tried up to three times, on fresh ports: at start, wrangler's file watcher may
    /// report a change nobody made and restart workerd, and the new workerd can find its
    /// port still held by the old one ("Address already in use") and exit, leaving no
    /// server. That is wrangler's race, not the worker's, so a new try is the answer.
    pub fn start_with(state_dir: &Path, vars: &[(&str, &str)]) -> Server {
        ensure_built();
        const TRIES: usize = 3;
        for attempt in 1..=TRIES {
            let mut server = Server::spawn(state_dir, vars);
            match server.wait_healthy(Duration::from_secs(90)) {
                Ok(()) => return server,
                Err(log) if attempt < TRIES && log.contains("Address already in use") => {
                    eprintln!("wrangler dev lost its port on {} (try {attempt}); starting it again", server.base);
                    server.stop();
                }
                Err(log) => panic!("wrangler dev did not become healthy on {}:\n{log}", server.base),
            }
        }
        unreachable!("the last try returns or panics")
    }

    /// One `wrangler dev` on fresh ports, not yet known to be serving.
    fn spawn(state_dir: &Path, vars: &[(&str, &str)]) -> Server {
        let extra: String = vars.iter().map(|(k, v)| format!(" --var '{k}:{v}'")).collect();
        let port = free_port();
        let inspector = free_port();
        let log = state_dir.join(format!("wrangler-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the server log");
        let args = format!(
            "--ip 127.0.0.1 --port {port} --inspector-port {inspector} \
             --persist-to '{state}' --show-interactive-dev-session=false \
             --var EDGEMETER_SECRET_KEYS:{SECRET_KEY} --var EDGEMETER_INGEST_KEYS:{INGEST_KEY} \
             --var EDGEMETER_TOKEN_SECRET:e2e-token-secret --var EDGEMETER_FAULT_INJECTION:1{extra}",
            state = state_dir.join("state").display(),
        );
        let child = spawn_wrangler(&args, log_file);
        Server {
            base: format!("http://127.0.0.1:{port}"),
            state_dir: state_dir.to_path_buf(),
            pgid: child.id(),
            port,
            log,
            child,
        }
    }

    /// Waits until `/healthz` answers; `Err` with the server's log if it does not within
    /// `limit`, or as soon as the log says workerd lost its port (then nothing will).
    fn wait_healthy(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(r) = ureq::get(&format!("{}/healthz", self.base)).timeout(Duration::from_secs(2)).call() {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            let log = || std::fs::read_to_string(&self.log).unwrap_or_default();
            if Instant::now() > deadline {
                return Err(log());
            }
            let log = log();
            if log.contains("Address already in use") {
                return Err(log);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the whole process group and waits until the port is free.
    pub fn stop(&mut self) {
        self.signal("TERM");
    }

    /// Kills the whole process group at once (SIGKILL, no shutdown), as a crash would,
    /// and waits until the port is free.
    pub fn kill(&mut self) {
        self.signal("KILL");
    }

    fn signal(&mut self, signal: &str) {
        signal_group(self.pgid, self.port, signal);
        let _ = self.child.wait();
        // Give workerd a moment to release its SQLite files before a restart reuses them.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Runs the cron handler as if triggered at `ms` (unix milliseconds), and waits for it.
    pub fn run_cron_at(&self, ms: i64) {
        let url = format!("{}/cdn-cgi/handler/scheduled?cron=0+*+*+*+*&time={ms}", self.base);
        let r = agent().get(&url).timeout(Duration::from_secs(300)).call();
        assert!(r.is_ok(), "the scheduled handler failed: {:?}", r.err());
        // After a long run the dev server can leave the next connection unanswered once;
        // the health check's short retries get past that before the test goes on.
        if let Err(log) = self.wait_healthy(Duration::from_secs(30)) {
            panic!("wrangler dev stopped answering on {} after a cron run:\n{log}", self.base);
        }
    }

    pub fn client(&self) -> Client {
        Client { base: self.base.clone(), key: Some(SECRET_KEY.to_owned()) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One server per test binary, stopped by its watchdog when the binary exits.
pub fn shared() -> &'static Server {
    static SHARED: OnceLock<Server> = OnceLock::new();
    SHARED.get_or_init(|| Server::start("shared"))
}

/// A response: status, JSON body (`Value::Null` when the body is not JSON) and the body
/// as sent.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    /// On ingest: the object calls counted to this request (`x-edgemeter-do-calls`).
    pub do_calls: Option<u64>,
}

impl Resp {
    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The field an error response names.
    pub fn field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }

    /// An ingest answer's `(accepted, duplicates, rejected)`.
    pub fn counts(&self) -> (u64, u64, u64) {
        let n = |k: &str| self.body[k].as_u64().unwrap_or_else(|| panic!("`{k}` missing in {}", self.text));
        (n("accepted"), n("duplicates"), n("rejected"))
    }

    /// An ingest answer's per-event statuses, in request order.
    pub fn statuses(&self) -> Vec<&str> {
        self.body["results"]
            .as_array()
            .map_or_else(Vec::new, |r| r.iter().map(|e| e["status"].as_str().unwrap_or("")).collect())
    }

    /// An ingest answer's per-event error codes (`""` for events not rejected).
    pub fn event_codes(&self) -> Vec<&str> {
        self.body["results"]
            .as_array()
            .map_or_else(Vec::new, |r| r.iter().map(|e| e["error"]["code"].as_str().unwrap_or("")).collect())
    }

    /// Asserts an error answer: status, code and (when given) field, with the message
    /// every error carries.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.text);
        assert!(self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "no message: {}", self.text);
        if field.is_some() {
            assert_eq!(self.field(), field, "{}", self.text);
        }
    }
}

/// An HTTP client with a bearer key.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: Option<String>,
}

impl Client {
    pub fn with_key(&self, key: Option<&str>) -> Client {
        Client { base: self.base.clone(), key: key.map(str::to_owned) }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let mut r = agent().request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(60));
        if let Some(k) = &self.key {
            r = r.set("authorization", &format!("Bearer {k}"));
        }
        r
    }

    fn finish(result: Result<ureq::Response, ureq::Error>) -> Resp {
        Self::try_finish(result).unwrap_or_else(|e| panic!("request failed: {e}"))
    }

    fn try_finish(result: Result<ureq::Response, ureq::Error>) -> Result<Resp, String> {
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(e.to_string()),
        };
        let status = resp.status();
        let do_calls = resp.header("x-edgemeter-do-calls").and_then(|v| v.parse().ok());
        let text = resp.into_string().unwrap_or_default();
        Ok(Resp { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text, do_calls })
    }

    /// Any method, an optional raw body and extra headers; `Err` only when the transport
    /// fails (the server closed the connection without answering).
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let mut r = self.request(method, path);
        for (k, v) in headers {
            r = r.set(k, v);
        }
        Self::try_finish(match body {
            Some(b) => r.set("content-type", "application/json").send_bytes(b),
            None => r.call(),
        })
    }

    /// [`Client::try_send`] that panics on a transport failure.
    pub fn send(&self, method: &str, path: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> Resp {
        self.try_send(method, path, body, headers).unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
    }

    /// POSTs a body of unknown length (chunked transfer encoding, no `Content-Length`).
    pub fn post_chunked(&self, path: &str, body: Vec<u8>) -> Result<Resp, String> {
        let r = self.request("POST", path).set("content-type", "application/json");
        Self::try_finish(r.send(std::io::Cursor::new(body)))
    }

    pub fn get(&self, path: &str) -> Resp {
        Self::finish(self.request("GET", path).call())
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.post_raw(path, body.to_string().as_bytes(), &[])
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        Self::finish(
            self.request("PATCH", path).set("content-type", "application/json").send_bytes(body.to_string().as_bytes()),
        )
    }

    /// POSTs raw bytes with extra headers.
    pub fn post_raw(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Resp {
        let mut r = self.request("POST", path).set("content-type", "application/json");
        for (k, v) in headers {
            r = r.set(k, v);
        }
        Self::finish(r.send_bytes(body))
    }

    // --- The seed flow's steps, as small helpers. ---

    /// Creates a customer and returns its id.
    pub fn customer(&self) -> String {
        let r = self.post("/v1/customers", &json!({"name": "Acme Corp", "email": "billing@acme.test"}));
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_str().expect("customer id").to_owned()
    }

    /// Creates a metric with a unique code (prefixed `code`) and returns the code.
    pub fn metric(&self, code: &str, event_name: &str, aggregation: &str, extra: Value) -> String {
        let code = format!("{code}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut body = json!({"code": code, "name": code, "event_name": event_name, "aggregation": aggregation});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post("/v1/billing/metrics", &body);
        assert_eq!(r.status, 201, "{:?}", r.body);
        code
    }

    /// `GET /v1/customers/{id}/usage`, as `code → (quantity, event_count)`.
    pub fn usage(&self, customer: &str) -> std::collections::HashMap<String, (String, u64)> {
        let r = self.get(&format!("/v1/customers/{customer}/usage"));
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .map(|m| {
                (
                    m["code"].as_str().unwrap_or_default().to_owned(),
                    (m["quantity"].as_str().unwrap_or_default().to_owned(), m["event_count"].as_u64().unwrap_or(0)),
                )
            })
            .collect()
    }

    pub fn ingest(&self, body: &Value) -> Resp {
        self.post("/v1/usage/ingest", body)
    }

    /// Ingests a batch of events.
    pub fn ingest_batch(&self, events: &[Value]) -> Resp {
        self.ingest(&json!({ "events": events }))
    }

    /// A customer and one metric on a fresh event name: where most tests start.
    pub fn setup(&self, aggregation: &str, extra: Value) -> Setup {
        let customer = self.customer();
        let event_name = event_name("ev");
        let metric = self.metric("m", &event_name, aggregation, extra);
        Setup { customer, event_name, metric }
    }

    /// The whole `GET /v1/customers/{id}/usage` answer, for the period containing `at`
    /// (default now).
    pub fn usage_body(&self, customer: &str, at: Option<&str>) -> Value {
        let path = match at {
            Some(at) => format!("/v1/customers/{customer}/usage?at={}", at.replace('+', "%2B")),
            None => format!("/v1/customers/{customer}/usage"),
        };
        let r = self.get(&path);
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    /// One metric's `(quantity, event_count)` in the current period.
    pub fn quantity(&self, customer: &str, metric: &str) -> (String, u64) {
        self.usage(customer).remove(metric).unwrap_or_else(|| panic!("metric {metric} missing from usage"))
    }
}

/// What [`Client::setup`] made.
pub struct Setup {
    pub customer: String,
    pub event_name: String,
    pub metric: String,
}

impl Setup {
    /// An event for this setup's customer and event name, with a fresh key.
    pub fn event(&self, value: Value) -> Value {
        event(&self.customer, &self.event_name, value)
    }
}

/// Sends `signal` to the process group `pgid` (a server started by [`spawn_wrangler`])
/// and waits until its `port` is free, killing the group if it is still serving after
/// 15 s.
pub fn signal_group(pgid: u32, port: u16, signal: &str) {
    let group = format!("-{pgid}");
    let _ = Command::new("kill").args([&format!("-{signal}"), "--", &group]).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("the clock is after 1970");
    d.as_millis() as i64
}

/// RFC 3339 in UTC for a time `offset_ms` from now (`2026-11-25T10:00:00.123Z`).
pub fn time_from_now(offset_ms: i64) -> String {
    rfc3339(now_ms() + offset_ms)
}

/// Milliseconds since the epoch for an RFC 3339 time in UTC as the API returns them
/// (`2026-11-01T00:00:00Z`, `2026-11-01T00:00:00.123Z`).
pub fn parse_utc(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> i64 {
        s.get(r).and_then(|d| d.parse().ok()).unwrap_or_else(|| panic!("not UTC RFC 3339: {s}"))
    };
    assert!(s.ends_with('Z') && s.len() >= 20, "not UTC RFC 3339: {s}");
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let millis = if s.len() > 20 { n(20..23) } else { 0 };
    days * 86_400_000 + n(11..13) * 3_600_000 + n(14..16) * 60_000 + n(17..19) * 1000 + millis
}

/// RFC 3339 in UTC (with milliseconds) for milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// A new idempotency key.
pub fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A unique event name, so tests sharing a server never feed each other's metrics.
pub fn event_name(prefix: &str) -> String {
    format!("{prefix}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// An event for `customer` with a fresh key.
pub fn event(customer: &str, name: &str, value: Value) -> Value {
    json!({"idempotency_key": key(), "customer_id": customer, "event_name": name, "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for ms in [0, 951_782_400_000, 1_709_164_799_999, 1_795_000_000_123, 253_402_300_799_999] {
            assert_eq!(parse_utc(&rfc3339(ms)), ms);
        }
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T00:00:00.000Z");
        assert_eq!(parse_utc("2024-02-29T00:00:00Z"), 1_709_164_800_000);
    }
}

/// A webhook receiver on a local port: records every request, and answers 500 to the
/// first `fail_first` ones (to test retries), 200 after that.
pub struct Receiver {
    pub url: String,
    requests: std::sync::Arc<Mutex<Vec<Received>>>,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub signature: String,
    pub body: String,
    pub answered: u16,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Receiver {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("receiver address"));
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
                let (mut length, mut signature) = (0usize, String::new());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("edgemeter-signature:") {
                        signature = line["edgemeter-signature:".len()..].trim().to_owned();
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let mut all = seen.lock().unwrap_or_else(|e| e.into_inner());
                let answered = if all.len() < fail_first { 500 } else { 200 };
                all.push(Received { signature, body: String::from_utf8_lossy(&body).into_owned(), answered });
                drop(all);
                let _ = write!(stream, "HTTP/1.1 {answered} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Receiver { url, requests }
    }

    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The newest modification time of any file under `dir`.
fn newest_mtime(dir: &Path) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(t);
    }
    newest
}

/// Builds the npm package (`npm run sdk:build`, into sdk/pkg/) unless it is there and no
/// older than its sources (`sdk/js/`, `sdk/src/`, `core/src/`), for the SDK's Node and
/// browser tests.
pub fn ensure_sdk_built() {
    let root = root();
    let built = std::fs::metadata(root.join("sdk/pkg/package.json")).and_then(|m| m.modified()).ok();
    let sources = ["sdk/js", "sdk/src", "core/src"].iter().map(|d| newest_mtime(&root.join(d))).max();
    if built.is_some_and(|b| sources.is_some_and(|s| s <= b)) {
        return;
    }
    let ok = Command::new("npm")
        .args(["run", "sdk:build"])
        .current_dir(&root)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "`npm run sdk:build` failed (run `make setup` first)");
}

/// Load for the exactly-once tests (`storm.rs`, `crash.rs`): distinct events over many
/// customers, the usage they must add up to, and a sender that retries as a client would.
pub mod load {
    use super::{key, now_ms, rfc3339, Client, Resp};
    use serde_json::{json, Value};
    use std::time::Duration;

    /// The number in the environment variable `var`, else `default`.
    pub fn size(var: &str, default: usize) -> usize {
        std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    /// A small seeded generator (SplitMix64): a run prints its seed, and
    /// `EDGEMETER_LOAD_SEED` makes the same events, batches and shuffles again.
    pub struct Rng(u64);

    impl Rng {
        /// Seeded from `EDGEMETER_LOAD_SEED`, else the clock; returns the seed too.
        pub fn seeded() -> (Rng, u64) {
            let seed = std::env::var("EDGEMETER_LOAD_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                d.as_nanos() as u64
            });
            (Rng(seed), seed)
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// A number in `lo..=hi`.
        pub fn between(&mut self, lo: usize, hi: usize) -> usize {
            lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
        }

        pub fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                v.swap(i, self.between(0, i));
            }
        }
    }

    /// One distinct event of a load: its key, its customer (an index into
    /// [`Fixture::customers`]) and its value in thousandths.
    #[derive(Clone, Debug)]
    pub struct Planned {
        pub key: String,
        pub customer: usize,
        pub milli: u64,
    }

    /// One customer's usage of the fixture's two metrics.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Usage {
        /// The `sum` metric: quantity and event count.
        pub sum: (String, u64),
        /// The `count` metric: quantity and event count.
        pub count: (String, u64),
    }

    /// Customers, and one event name read by two metrics: the `sum` of the values and the
    /// `count` of events. Every event carries the same timestamp, a minute before the
    /// fixture was made, so usage is read for that time's period whenever the test ends.
    pub struct Fixture {
        pub customers: Vec<String>,
        pub event_name: String,
        pub sum_metric: String,
        pub count_metric: String,
        pub timestamp: String,
    }

    impl Fixture {
        /// Makes `customers` customers and the two metrics (`c` holds the secret key).
        pub fn create(c: &Client, customers: usize) -> Fixture {
            let event_name = super::event_name("load");
            Fixture {
                sum_metric: c.metric("load_sum", &event_name, "sum", json!({})),
                count_metric: c.metric("load_count", &event_name, "count", json!({})),
                customers: (0..customers).map(|_| c.customer()).collect(),
                event_name,
                timestamp: rfc3339(now_ms() - 60_000),
            }
        }

        /// `n` distinct events, each for a random customer, with values from 0 to 99.999.
        pub fn plan(&self, n: usize, rng: &mut Rng) -> Vec<Planned> {
            (0..n)
                .map(|_| Planned {
                    key: key(),
                    customer: rng.between(0, self.customers.len() - 1),
                    milli: rng.next_u64() % 100_000,
                })
                .collect()
        }

        /// The event as sent. `spelling` (0, 1 or 2) writes its value another way (a
        /// trailing zero, a JSON number), which must not make it another event.
        pub fn event(&self, e: &Planned, spelling: usize) -> Value {
            let value = match spelling % 3 {
                0 => json!(decimal(u128::from(e.milli))),
                1 => json!(format!("{}.{:03}0", e.milli / 1000, e.milli % 1000)),
                _ if e.milli.is_multiple_of(1000) => json!(e.milli / 1000),
                _ => json!(decimal(u128::from(e.milli))),
            };
            json!({"idempotency_key": e.key, "customer_id": self.customers[e.customer],
                   "event_name": self.event_name, "value": value, "timestamp": self.timestamp})
        }

        /// Every customer's usage as the server reports it.
        pub fn usage(&self, c: &Client) -> Vec<Usage> {
            self.customers
                .iter()
                .map(|id| {
                    let body = c.usage_body(id, Some(&self.timestamp));
                    let metric = |code: &str| {
                        let m = body["metrics"].as_array().and_then(|ms| ms.iter().find(|m| m["code"] == code));
                        let m = m.unwrap_or_else(|| panic!("metric {code} missing from {body}"));
                        (m["quantity"].as_str().unwrap_or_default().to_owned(), m["event_count"].as_u64().unwrap_or(0))
                    };
                    Usage { sum: metric(&self.sum_metric), count: metric(&self.count_metric) }
                })
                .collect()
        }

        /// The usage that `events`, each counted once, add up to for every customer.
        pub fn expected<'a>(&self, events: impl IntoIterator<Item = &'a Planned>) -> Vec<Usage> {
            let mut totals = vec![(0u128, 0u64); self.customers.len()];
            for e in events {
                totals[e.customer].0 += u128::from(e.milli);
                totals[e.customer].1 += 1;
            }
            totals.into_iter().map(|(milli, n)| Usage { sum: (decimal(milli), n), count: (n.to_string(), n) }).collect()
        }
    }

    /// Thousandths as the API writes a quantity: a decimal without trailing zeros.
    pub fn decimal(milli: u128) -> String {
        let (int, frac) = (milli / 1000, milli % 1000);
        if frac == 0 {
            return int.to_string();
        }
        format!("{int}.{frac:03}").trim_end_matches('0').to_owned()
    }

    /// What became of one ingest request.
    #[derive(Debug)]
    pub struct Sent {
        /// The answer that ended it: a whole JSON answer, not a 5xx. `None` if every try
        /// failed.
        pub answer: Option<Resp>,
        /// How many times it went out.
        pub tries: usize,
        /// Each failed try: a 5xx, an answer cut short or a transport error. Events of a
        /// request with failures may have been accepted by a try whose answer was lost.
        pub failures: Vec<String>,
    }

    /// POSTs an ingest body with its `Idempotency-Key` header and, as a client would,
    /// sends the same bytes again after a 5xx, an answer cut short or a transport failure:
    /// at most `tries` times, backing off, and no more once `stop()` says so.
    pub fn post_ingest(c: &Client, body: &[u8], header: &str, tries: usize, stop: &dyn Fn() -> bool) -> Sent {
        let mut sent = Sent { answer: None, tries: 0, failures: Vec::new() };
        while sent.tries < tries && !stop() {
            if sent.tries > 0 {
                std::thread::sleep(Duration::from_millis(50 << sent.tries.min(5)));
            }
            sent.tries += 1;
            match c.try_send("POST", "/v1/usage/ingest", Some(body), &[("idempotency-key", header)]) {
                // Every answer of the API is JSON: one that is not was cut short (the server
                // died after the status line), and its events are not acknowledged.
                Ok(r) if r.status < 500 && !r.body.is_null() => {
                    sent.answer = Some(r);
                    break;
                }
                Ok(r) => sent.failures.push(format!("{} {:?}", r.status, r.text)),
                Err(e) => sent.failures.push(e),
            }
        }
        sent
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn decimals_have_no_trailing_zeros() {
            use super::decimal;
            assert_eq!(
                [decimal(0), decimal(5000), decimal(12_340), decimal(7), decimal(99_999)],
                ["0", "5", "12.34", "0.007", "99.999"]
            );
        }
    }
}
