//! The native client's `track()` in a tight loop, as `make bench-sdk` measures the npm
//! package's: 200,000 calls after 20,000 warm-up calls, five rounds, each against a local
//! receiver on 127.0.0.1 that answers every batch as accepted and counts the events it
//! got. Reports µs per call (the median round, and every round), and whether every event
//! arrived. Plain std timing, no benchmark framework.
//!
//!     CARGO_BUILD_JOBS=2 cargo bench -p edgemeter-sdk --bench native_track

use edgemeter_sdk::native::{Edgemeter, Event, Options};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CALLS: usize = 200_000;
const WARM_UP: usize = 20_000;
const ROUNDS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (url, received) = receiver().await;
        let mut rounds = Vec::new();
        for round in 1..=ROUNDS {
            let before = received.load(Ordering::Relaxed);
            let options = Options {
                max_queue_size: CALLS + WARM_UP,
                // No timer flush inside the loop: batches go out at `flush_at`, as in a burst.
                flush_interval: Duration::from_secs(600),
                ..Options::new("pk_bench", url.clone())
            };
            let meter = Edgemeter::new(options).expect("client");
            for _ in 0..WARM_UP {
                meter.track(event()).expect("queued");
            }
            let started = Instant::now();
            for _ in 0..CALLS {
                meter.track(event()).expect("queued");
            }
            let per_call = started.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
            let result = meter.shutdown().await.expect("not refused");
            let delivered = received.load(Ordering::Relaxed) - before;
            assert!(result.failed.is_empty() && result.rejected.is_empty(), "round {round}: {result:?}");
            assert_eq!(delivered, (CALLS + WARM_UP) as u64, "round {round}: every event delivered");
            println!("round {round}: {per_call:.2} µs per track(), {delivered} events delivered");
            rounds.push(per_call);
        }
        let mut sorted = rounds.clone();
        sorted.sort_by(f64::total_cmp);
        let every: Vec<String> = rounds.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "native track(): median {:.2} µs per call over {ROUNDS} rounds of {CALLS} (rounds {}); every event delivered",
            sorted[ROUNDS / 2],
            every.join(", ")
        );
    });
}

/// The event `make bench-sdk` sends: one customer, `api_calls`, value 1, one property.
fn event() -> Event {
    Event::new("cus_01jd7m2x9y0000000000000000", "api_calls").value(1u32).property("endpoint", "/v1/ocr")
}

/// A local ingest endpoint: every batch accepted, its events counted.
async fn receiver() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, counted.clone()));
        }
    });
    (url, count)
}

/// HTTP/1.1 with keep-alive: each request's headers, its body by `content-length`, and an
/// answer that accepts every event in it.
async fn serve(mut stream: TcpStream, count: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let Some(end) = find(&buf, b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let events = count_of(&buf[end + 4..end + 4 + length], b"\"idempotency_key\"");
        count.fetch_add(events as u64, Ordering::Relaxed);
        buf.drain(..end + 4 + length);
        let body = format!(r#"{{"accepted":{events},"duplicates":0,"rejected":0,"results":[]}}"#);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count_of(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}
