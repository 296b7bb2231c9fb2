//! The load generator: `connections` threads, each with its own keep-alive connection,
//! posting ingest batches with fresh UUID idempotency keys until a deadline, and what
//! the answers said.

use std::time::{Duration, Instant};

/// Where and what to post.
#[derive(Clone)]
pub struct Target {
    /// The full ingest URL.
    pub url: String,
    pub auth: Option<String>,
    /// The customers events go to, spread round-robin within each batch.
    pub customers: Vec<String>,
    pub event_name: String,
    /// Keys as the SDKs make them, UUIDv7 (time first, so a batch's keys sort together),
    /// rather than random v4 (`LOAD_KEYS=v7`).
    pub time_ordered_keys: bool,
}

/// How hard and for how long.
#[derive(Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub batch: usize,
    pub duration: Duration,
    /// At most this many requests per connection, whatever the duration.
    pub max_requests: u64,
}

/// What one run's answers said.
#[derive(Default, Debug)]
pub struct Stats {
    pub requests: u64,
    /// Events in requests answered 200.
    pub events: u64,
    /// Sum of the answers' `accepted` (a 200 answer without it counts none).
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Sum of `x-edgemeter-do-calls`; `None` once a 200 answer lacks it.
    pub do_calls: Option<u64>,
    /// Requests not answered 200 (transport failures included).
    pub errors: u64,
    pub first_error: Option<String>,
    /// Each 200 answer's latency, in microseconds.
    pub latencies_us: Vec<u64>,
    pub elapsed: Duration,
}

impl Stats {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn merge(&mut self, other: Stats) {
        self.requests += other.requests;
        self.events += other.events;
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.do_calls = self.do_calls.zip(other.do_calls).map(|(a, b)| a + b);
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Runs the load and returns what it saw. Every event has a fresh random (v4) key.
pub fn run(target: &Target, load: Load) -> Stats {
    let start = Instant::now();
    let deadline = start + load.duration;
    let mut total = Stats { do_calls: Some(0), ..Stats::default() };
    std::thread::scope(|s| {
        let threads: Vec<_> =
            (0..load.connections).map(|i| s.spawn(move || connection(target, load, deadline, i))).collect();
        for t in threads {
            total.merge(t.join().expect("a load thread panicked"));
        }
    });
    total.elapsed = start.elapsed();
    total
}

/// One connection's requests, one after the other, until the deadline.
fn connection(target: &Target, load: Load, deadline: Instant, index: usize) -> Stats {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120)).build();
    let mut rng = Rng::seeded(index as u64);
    let mut stats = Stats { do_calls: Some(0), ..Stats::default() };
    let mut body = Vec::with_capacity(load.batch * 160);
    while Instant::now() < deadline && stats.requests < load.max_requests {
        body.clear();
        write_batch(&mut body, &mut rng, target, load.batch, index);
        let t0 = Instant::now();
        let sent = post(&agent, target, &body);
        stats.requests += 1;
        match sent {
            Ok((calls, text)) => {
                stats.latencies_us.push(t0.elapsed().as_micros() as u64);
                stats.events += load.batch as u64;
                stats.accepted += count(&text, "accepted").unwrap_or(0);
                stats.duplicates += count(&text, "duplicates").unwrap_or(0);
                stats.rejected += count(&text, "rejected").unwrap_or(0);
                stats.do_calls = stats.do_calls.zip(calls).map(|(a, b)| a + b);
            }
            Err(e) => {
                stats.errors += 1;
                stats.first_error.get_or_insert(e);
            }
        }
    }
    stats
}

/// Posts one body; `Ok` with the `x-edgemeter-do-calls` header and the text of a 200
/// answer, `Err` with a description of anything else.
pub fn post(agent: &ureq::Agent, target: &Target, body: &[u8]) -> Result<(Option<u64>, String), String> {
    let mut req = agent.post(&target.url).set("content-type", "application/json");
    if let Some(a) = &target.auth {
        req = req.set("authorization", a);
    }
    match req.send_bytes(body) {
        Ok(r) if r.status() == 200 => {
            let calls = r.header("x-edgemeter-do-calls").and_then(|v| v.trim().parse().ok());
            let text = r.into_string().map_err(|e| format!("reading the answer: {e}"))?;
            Ok((calls, text))
        }
        Ok(r) => Err(format!("{} {}", r.status(), r.into_string().unwrap_or_default())),
        Err(ureq::Error::Status(code, r)) => Err(format!("{code} {}", r.into_string().unwrap_or_default())),
        Err(e) => Err(e.to_string()),
    }
}

/// A top-level count in an ingest answer (`"accepted":98`). The first `"name":` in the
/// text is the top-level field: in `results`, fates are values (`"status":"accepted"`).
pub fn count(text: &str, name: &str) -> Option<u64> {
    let pattern = format!("\"{name}\":");
    let at = text.find(&pattern)? + pattern.len();
    let digits: String = text[at..].chars().skip_while(|c| *c == ' ').take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Writes `{"events": [...]}` with `batch` events, customers taken round-robin from the
/// `first`-th on, each with a fresh key.
pub fn write_batch(out: &mut Vec<u8>, rng: &mut Rng, target: &Target, batch: usize, first: usize) {
    out.extend_from_slice(b"{\"events\":[");
    for i in 0..batch {
        if i > 0 {
            out.push(b',');
        }
        let customer = &target.customers[(first + i) % target.customers.len()];
        out.extend_from_slice(b"{\"idempotency_key\":\"");
        if target.time_ordered_keys {
            rng.write_uuid_v7(out);
        } else {
            rng.write_uuid_v4(out);
        }
        out.extend_from_slice(b"\",\"customer_id\":\"");
        out.extend_from_slice(customer.as_bytes());
        out.extend_from_slice(b"\",\"event_name\":\"");
        out.extend_from_slice(target.event_name.as_bytes());
        out.extend_from_slice(b"\",\"value\":1}");
    }
    out.extend_from_slice(b"]}");
}

/// SplitMix64: fast random bits for idempotency keys, seeded from the OS once per thread.
pub struct Rng(u64);

impl Rng {
    pub fn seeded(salt: u64) -> Rng {
        let os = uuid::Uuid::new_v4().as_u64_pair();
        Rng(os.0 ^ os.1.rotate_left(17) ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random (version 4) UUID in its hyphenated lower-case form.
    pub fn write_uuid_v4(&mut self, out: &mut Vec<u8>) {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        write_uuid(out, b);
    }

    /// A version 7 UUID: the Unix time in milliseconds in its first 48 bits, then random.
    pub fn write_uuid_v7(&mut self, out: &mut Vec<u8>) {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next().to_le_bytes());
        b[8..].copy_from_slice(&self.next().to_le_bytes());
        b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
        b[6] = (b[6] & 0x0f) | 0x70;
        write_uuid(out, b);
    }
}

/// Writes 16 bytes as a hyphenated lower-case UUID of the RFC 9562 variant.
fn write_uuid(out: &mut Vec<u8>, mut b: [u8; 16]) {
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0xf)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    fn target(url: &str) -> Target {
        Target {
            url: url.to_owned(),
            auth: Some("Bearer k".into()),
            customers: vec!["cus_a".into(), "cus_b".into()],
            event_name: "ev".into(),
            time_ordered_keys: false,
        }
    }

    #[test]
    fn time_ordered_keys_are_uuidv7_of_now() {
        let mut body = Vec::new();
        let t = target("http://x");
        write_batch(&mut body, &mut Rng::seeded(1), &Target { time_ordered_keys: true, ..t }, 3, 0);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("the body is JSON");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis();
        for e in v["events"].as_array().expect("events") {
            let k = uuid::Uuid::parse_str(e["idempotency_key"].as_str().unwrap_or("")).expect("a UUID");
            assert_eq!((k.get_version_num(), k.get_variant()), (7, uuid::Variant::RFC4122));
            let ms = u128::from_be_bytes({
                let mut b = [0u8; 16];
                b[10..].copy_from_slice(&k.as_bytes()[..6]);
                b
            });
            assert!(now.abs_diff(ms) < 60_000, "the key's time {ms} is now ({now})");
        }
    }

    #[test]
    fn batches_are_json_with_fresh_v4_keys_spread_over_the_customers() {
        let mut body = Vec::new();
        write_batch(&mut body, &mut Rng::seeded(1), &target("http://x"), 4, 1);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("the body is JSON");
        let events = v["events"].as_array().expect("events");
        let customers: Vec<&str> = events.iter().map(|e| e["customer_id"].as_str().unwrap_or("")).collect();
        assert_eq!(customers, ["cus_b", "cus_a", "cus_b", "cus_a"]);
        let mut keys: Vec<uuid::Uuid> =
            events.iter().map(|e| e["idempotency_key"].as_str().unwrap_or("").parse().expect("a UUID")).collect();
        assert!(keys.iter().all(|k| k.get_version_num() == 4 && k.get_variant() == uuid::Variant::RFC4122));
        keys.dedup();
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn counts_are_read_from_the_top_level_not_from_the_fates() {
        let text = r#"{"accepted":98,"duplicates":1,"rejected":1,"results":[{"status":"accepted"}]}"#;
        assert_eq!(
            (count(text, "accepted"), count(text, "duplicates"), count(text, "rejected")),
            (Some(98), Some(1), Some(1))
        );
        assert_eq!(count(r#"{"results":[{"status":"accepted"}]}"#, "accepted"), None);
    }

    /// A one-second run against a local server that answers every request 200 with one
    /// accepted event per event sent and two object calls.
    #[test]
    fn a_short_run_counts_what_the_server_answered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/ingest", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut stream = stream;
                    loop {
                        let (mut line, mut length) = (String::new(), 0usize);
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            line.clear();
                            reader.read_line(&mut line).unwrap_or(0);
                            if line == "\r\n" || line.is_empty() {
                                break;
                            }
                            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        let n = String::from_utf8_lossy(&body).matches("idempotency_key").count();
                        let answer = format!("{{\"accepted\":{n},\"duplicates\":0}}");
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nx-edgemeter-do-calls: 2\r\n\r\n{answer}",
                            answer.len()
                        );
                    }
                });
            }
        });
        let load = Load { connections: 2, batch: 10, duration: Duration::from_secs(1), max_requests: 50 };
        let stats = run(&target(&url), load);
        assert_eq!(stats.errors, 0, "{:?}", stats.first_error);
        assert!(stats.requests > 0 && stats.requests <= 100);
        assert_eq!(stats.events, stats.requests * 10);
        assert_eq!(stats.accepted, stats.events);
        assert_eq!(stats.do_calls, Some(stats.requests * 2));
        assert_eq!(stats.latencies_us.len() as u64, stats.requests);
    }
}
