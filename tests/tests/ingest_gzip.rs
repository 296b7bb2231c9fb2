//! Ingest sent gzipped (`Content-Encoding: gzip`, API.md "Usage ingestion"): counted as
//! the same batch sent plain; the 1 MiB limit applies to the inflated body, exactly; a
//! small body that would inflate to far more (a decompression bomb) is refused with 413
//! at once, never inflated whole; a body that is not gzip, or another encoding, is
//! refused.

use edgemeter_tests::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

const LIMIT: usize = 1024 * 1024;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = GzEncoder::new(Vec::new(), Compression::default());
    z.write_all(bytes).expect("gzip in memory");
    z.finish().expect("gzip in memory")
}

fn post_gzipped(c: &Client, body: &[u8], encoding: &str) -> Resp {
    c.send("POST", "/v1/usage/ingest", Some(body), &[("content-encoding", encoding)])
}

#[test]
fn a_gzipped_batch_is_accepted_and_counted_exactly() {
    let c = shared().client();
    let s = c.setup("sum", json!({}));
    let events: Vec<Value> = (0..500)
        .map(|i| {
            let mut e = s.event(json!(format!("{}.{}", i % 7, i % 10)));
            let region = ["eu", "us", "ap"][i % 3];
            e["properties"] = json!({ "region": region, "request": format!("req_{i:06}") });
            e
        })
        .collect();
    let plain = json!({ "events": events }).to_string();
    let body = gzip(plain.as_bytes());
    assert!(body.len() * 3 < plain.len(), "{} bytes gzipped from {}", body.len(), plain.len());
    let r = post_gzipped(&c, &body, "gzip");
    assert_eq!((r.status, r.counts()), (200, (500, 0, 0)), "{}", r.text);
    let tenths: u64 = (0..500u64).map(|i| (i % 7) * 10 + i % 10).sum();
    let quantity =
        if tenths.is_multiple_of(10) { (tenths / 10).to_string() } else { format!("{}.{}", tenths / 10, tenths % 10) };
    assert_eq!(c.quantity(&s.customer, &s.metric), (quantity, 500));
    // The same batch again, plain: every event a duplicate.
    let again = c.send("POST", "/v1/usage/ingest", Some(plain.as_bytes()), &[]);
    assert_eq!((again.status, again.counts()), (200, (0, 500, 0)), "{}", again.text);
}

#[test]
fn the_limit_applies_to_the_inflated_body_exactly() {
    let c = shared().client();
    // `{"events":[]}` padded with JSON whitespace to the limit, then one byte past it.
    let padded = |n: usize| {
        let mut b = br#"{"events":[]}"#.to_vec();
        b.resize(n, b' ');
        b
    };
    let at = post_gzipped(&c, &gzip(&padded(LIMIT)), "gzip");
    assert_ne!(at.status, 413, "{}", at.text);
    let past = post_gzipped(&c, &gzip(&padded(LIMIT + 1)), "gzip");
    past.assert_error(413, "payload_too_large", None);
}

#[test]
fn a_decompression_bomb_is_refused_at_once() {
    let c = shared().client();
    // 512 MiB of spaces after a valid start: about 500 KB gzipped.
    let mut z = GzEncoder::new(Vec::new(), Compression::best());
    z.write_all(br#"{"events":["#).expect("gzip");
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..512 {
        z.write_all(&spaces).expect("gzip");
    }
    z.write_all(b"]}").expect("gzip");
    let bomb = z.finish().expect("gzip");
    assert!(bomb.len() < LIMIT, "{} bytes", bomb.len());
    let started = Instant::now();
    let r = post_gzipped(&c, &bomb, "gzip");
    let took = started.elapsed();
    r.assert_error(413, "payload_too_large", None);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The server is no worse for it.
    assert_eq!(c.get("/healthz").status, 200);
}

#[test]
fn a_body_that_is_not_gzip_or_another_encoding_is_refused() {
    let c = shared().client();
    let plain = br#"{"events":[]}"#;
    post_gzipped(&c, plain, "gzip").assert_error(400, "invalid_request", None);
    // Plain bodies of every size under a gzip header, again and again: an inflater error
    // once cancelled the request's own body and workerd dropped the connection (503),
    // now and then (schemathesis found it).
    let nulls = format!(r#"{{"events": [{}null]}}"#, "null, ".repeat(999));
    for _ in 0..10 {
        for body in [&br#"{"events": [null]}"#[..], b"x", nulls.as_bytes(), &nulls.as_bytes()[..500]] {
            post_gzipped(&c, body, "gzip").assert_error(400, "invalid_request", None);
        }
    }
    post_gzipped(&c, &gzip(plain), "br").assert_error(415, "unsupported_media_type", None);
    // Only ingest takes gzip.
    let r = c.send(
        "POST",
        "/v1/customers",
        Some(&gzip(br#"{"name":"A","email":"a@b.test"}"#)),
        &[("content-encoding", "gzip")],
    );
    r.assert_error(415, "unsupported_media_type", None);
}
