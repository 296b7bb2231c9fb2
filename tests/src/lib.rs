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

/// A running `wrangler dev`.
pub struct Server {
    pub base: String,
    pub state_dir: PathBuf,
    pgid: u32,
    port: u16,
    pub log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free local port")
}

/// Builds the worker once per test process, unless a build is there already
/// (`make test` builds it before running the tests).
fn ensure_built() {
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
    let dir = root().join("target/e2e").join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the state folder");
    dir
}

impl Server {
    /// Starts a server on a fresh state folder.
    pub fn start(name: &str) -> Server {
        Server::start_on(&fresh_state_dir(name))
    }

    /// Starts a server on the given state folder (to restart on the same state).
    pub fn start_on(state_dir: &Path) -> Server {
        ensure_built();
        let port = free_port();
        let inspector = free_port();
        let log = state_dir.join(format!("wrangler-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the server log");
        let script = format!(
            "node_modules/.bin/wrangler dev --ip 127.0.0.1 --port {port} --inspector-port {inspector} \
             --persist-to '{state}' --show-interactive-dev-session=false \
             --var EDGEMETER_SECRET_KEYS:{SECRET_KEY} --var EDGEMETER_INGEST_KEYS:{INGEST_KEY} \
             --var EDGEMETER_TOKEN_SECRET:e2e-token-secret --var EDGEMETER_FAULT_INJECTION:1 & \
             w=$!; while kill -0 {parent} 2>/dev/null && kill -0 $w 2>/dev/null; do sleep 1; done; kill -TERM 0",
            state = state_dir.join("state").display(),
            parent = std::process::id(),
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(root())
            .env("WRANGLER_SEND_METRICS", "false")
            .env("EDGEMETER_SKIP_BUILD", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .expect("start wrangler dev");
        let server = Server {
            base: format!("http://127.0.0.1:{port}"),
            state_dir: state_dir.to_path_buf(),
            pgid: child.id(),
            port,
            log,
        };
        server.wait_healthy(Duration::from_secs(90));
        server
    }

    fn wait_healthy(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(r) = ureq::get(&format!("{}/healthz", self.base)).timeout(Duration::from_secs(2)).call() {
                if r.status() == 200 {
                    return;
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("wrangler dev did not become healthy on {}:\n{log}", self.base);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the whole process group and waits until the port is free.
    pub fn stop(&mut self) {
        let group = format!("-{}", self.pgid);
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Give workerd a moment to release its SQLite files before a restart reuses them.
        std::thread::sleep(Duration::from_millis(300));
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

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
}

impl Resp {
    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
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
        let mut r = ureq::request(method, &format!("{}{path}", self.base)).timeout(Duration::from_secs(60));
        if let Some(k) = &self.key {
            r = r.set("authorization", &format!("Bearer {k}"));
        }
        r
    }

    fn finish(result: Result<ureq::Response, ureq::Error>) -> Resp {
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().unwrap_or_default();
        Resp { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    pub fn get(&self, path: &str) -> Resp {
        Self::finish(self.request("GET", path).call())
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.post_raw(path, body.to_string().as_bytes(), &[])
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        Self::finish(self.request("PATCH", path).set("content-type", "application/json").send_bytes(body.to_string().as_bytes()))
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
