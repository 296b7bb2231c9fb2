//! The SDK's compact reader (what `track()` checks in wasm) on any bytes: never a panic,
//! and an event it accepts is accepted by the server's JSON reader too, once the SDK's
//! queue has written it as the JSON it sends.
#![no_main]

use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::time::Timestamp;
use edgemeter_sdk::compact::check_compact;
use edgemeter_sdk::queue::Queue;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_795_600_000_000;

fuzz_target!(|data: &[u8]| {
    if check_compact(data, NOW).is_err() {
        return;
    }
    let mut queue = Queue::new();
    assert!(queue.push(data, NOW).is_ok(), "the queue refused what the check accepted");
    let mut sent = Vec::new();
    assert_eq!(queue.take(1000, 1 << 20, &mut sent), 1);
    let envelope = parse_ingest(&sent, Timestamp(NOW)).expect("the queue sends an envelope");
    let back = envelope.events.into_iter().next().expect("one event");
    assert!(back.is_ok(), "accepted by the SDK, refused by the server: {}", String::from_utf8_lossy(&sent));
});
