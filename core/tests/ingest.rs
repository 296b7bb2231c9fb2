//! `parse_ingest` through its public entry point (API.md, "Usage ingestion"): every error
//! code it can produce, the envelope rules, and the canonical content hash.

use edgemeter_core::ingest::{parse_ingest, Envelope, Rejected, MAX_BATCH_EVENTS, MAX_BODY_BYTES};
use edgemeter_core::time::{Timestamp, DAY_MS, MINUTE_MS};
use edgemeter_core::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::str::FromStr;

// ---------------------------------------------------------------------------------------
// Helpers.

/// The request's arrival time in every test.
const NOW: &str = "2024-07-15T12:00:00Z";
const KEY: &str = "0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f";

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn now() -> Timestamp {
    ts(NOW)
}

/// A valid event's fields as raw JSON text, in the order they are written.
const BASE: &[(&str, &str)] = &[
    ("idempotency_key", "\"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f\""),
    ("customer_id", "\"cus_acme\""),
    ("event_name", "\"invoices\""),
    ("value", "50"),
    ("timestamp", "\"2024-07-15T11:30:00Z\""),
    ("properties", r#"{"region":"eu"}"#),
];

/// The base event with fields replaced (or added, when not in the base) by raw JSON text.
fn event(changes: &[(&str, &str)]) -> String {
    let mut fields: Vec<(String, String)> = BASE.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (k, v) in changes {
        match fields.iter_mut().find(|(fk, _)| fk == k) {
            Some(f) => f.1 = v.to_string(),
            None => fields.push((k.to_string(), v.to_string())),
        }
    }
    render(&fields)
}

/// The base event without some of its fields.
fn event_without(drop: &[&str]) -> String {
    let fields: Vec<(String, String)> =
        BASE.iter().filter(|(k, _)| !drop.contains(k)).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    render(&fields)
}

fn render(fields: &[(String, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A UUID that differs per `i`.
fn key(i: usize) -> String {
    format!("0192f0c1-0000-7000-8000-{i:012x}")
}

fn batch(events: &[String]) -> String {
    format!("{{\"events\":[{}]}}", events.join(","))
}

fn parse(body: &str) -> Result<Envelope<'_>, ApiError> {
    parse_ingest(body.as_bytes(), now())
}

fn envelope_error(body: &[u8]) -> ApiError {
    match parse_ingest(body, now()) {
        Ok(env) => panic!("expected the envelope to be refused, got {env:?}"),
        Err(e) => e,
    }
}

/// Parses one single-event body that must be accepted.
fn accept(body: &str) -> edgemeter_core::event::ValidEvent<'static> {
    accept_at(body, now())
}

fn accept_at(body: &str, at: Timestamp) -> edgemeter_core::event::ValidEvent<'static> {
    let mut env = parse_ingest(body.as_bytes(), at).unwrap_or_else(|e| panic!("envelope refused: {e}\n{body}"));
    assert!(!env.batch);
    match env.events.pop() {
        Some(Ok(ev)) => ev.into_owned(),
        other => panic!("expected an accepted event, got {other:?}\n{body}"),
    }
}

/// Parses one single-event body that must be rejected, as (echoed key, code, field).
fn reject(body: &str) -> (Option<String>, ErrorCode, Option<String>) {
    let env = parse(body).unwrap_or_else(|e| panic!("envelope refused: {e}\n{body}"));
    assert!(!env.batch);
    assert_eq!(env.events.len(), 1);
    match &env.events[0] {
        Err(r) => summary(r),
        Ok(ev) => panic!("expected a rejection, got {ev:?}\n{body}"),
    }
}

fn summary(r: &Rejected<'_>) -> (Option<String>, ErrorCode, Option<String>) {
    (r.idempotency_key.as_deref().map(str::to_owned), r.error.code, r.error.field.as_deref().map(str::to_owned))
}

/// One invalid event: what it is, its JSON, the code and field it must be rejected with.
struct Case {
    what: &'static str,
    event: String,
    code: ErrorCode,
    field: &'static str,
}

fn case(what: &'static str, event: String, code: ErrorCode, field: &'static str) -> Case {
    Case { what, event, code, field }
}

/// Checks each case alone and in the middle of a batch, where its neighbours must still
/// be accepted. An event with a valid key has it echoed; one without has none.
fn assert_rejected(cases: &[Case]) {
    for c in cases {
        let echo = match c.code {
            ErrorCode::MissingIdempotencyKey | ErrorCode::InvalidIdempotencyKey => None,
            _ => Some(KEY.to_owned()),
        };
        let expected = (echo, c.code, Some(c.field.to_owned()));
        assert_eq!(reject(&c.event), expected, "alone: {}\n{}", c.what, c.event);

        let before = event(&[("idempotency_key", &json_str(&key(1)))]);
        let after = event(&[("idempotency_key", &json_str(&key(2)))]);
        let body = batch(&[before, c.event.clone(), after]);
        let env = parse(&body).unwrap_or_else(|e| panic!("batch refused: {e}: {}", c.what));
        assert!(env.batch);
        assert_eq!(env.events.len(), 3, "{}", c.what);
        assert_eq!(env.events[0].as_ref().map(|e| e.idempotency_key().to_string()), Ok(key(1)), "{}", c.what);
        assert_eq!(summary(env.events[1].as_ref().unwrap_err()), expected, "in a batch: {}", c.what);
        assert_eq!(env.events[2].as_ref().map(|e| e.idempotency_key().to_string()), Ok(key(2)), "{}", c.what);
    }
}

/// `n` distinct property keys with short string values.
fn props_with_keys(n: usize) -> String {
    let pairs: Vec<String> = (0..n).map(|i| format!("\"k{i}\":\"v\"")).collect();
    format!("{{{}}}", pairs.join(","))
}

// ---------------------------------------------------------------------------------------
// Every event error code, by field. Each table is also collected by
// `every_event_error_code_is_exercised`.

fn idempotency_key_cases() -> Vec<Case> {
    use ErrorCode::*;
    vec![
        case("absent", event_without(&["idempotency_key"]), MissingIdempotencyKey, "idempotency_key"),
        case("null", event(&[("idempotency_key", "null")]), MissingIdempotencyKey, "idempotency_key"),
        case("a number", event(&[("idempotency_key", "42")]), InvalidIdempotencyKey, "idempotency_key"),
        case("an object", event(&[("idempotency_key", "{}")]), InvalidIdempotencyKey, "idempotency_key"),
        case("empty", event(&[("idempotency_key", "\"\"")]), InvalidIdempotencyKey, "idempotency_key"),
        case("not a uuid", event(&[("idempotency_key", "\"order-42\"")]), InvalidIdempotencyKey, "idempotency_key"),
        case(
            "no hyphens",
            event(&[("idempotency_key", "\"0192f0c17a2b7c3d8e4f5a6b7c8d9e0f\"")]),
            InvalidIdempotencyKey,
            "idempotency_key",
        ),
        case(
            "braces",
            event(&[("idempotency_key", "\"{0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f}\"")]),
            InvalidIdempotencyKey,
            "idempotency_key",
        ),
        case(
            "hyphen misplaced",
            event(&[("idempotency_key", "\"0192f0c17-a2b-7c3d-8e4f-5a6b7c8d9e0f\"")]),
            InvalidIdempotencyKey,
            "idempotency_key",
        ),
        case(
            "non-hex digit",
            event(&[("idempotency_key", "\"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0g\"")]),
            InvalidIdempotencyKey,
            "idempotency_key",
        ),
    ]
}

fn customer_id_cases() -> Vec<Case> {
    use ErrorCode::*;
    vec![
        case("absent", event_without(&["customer_id"]), MissingCustomerId, "customer_id"),
        case("null", event(&[("customer_id", "null")]), MissingCustomerId, "customer_id"),
        case("a number", event(&[("customer_id", "42")]), InvalidCustomerId, "customer_id"),
        case("empty", event(&[("customer_id", "\"\"")]), InvalidCustomerId, "customer_id"),
        case("a space", event(&[("customer_id", "\"cus_ac me\"")]), InvalidCustomerId, "customer_id"),
        case("non-ascii", event(&[("customer_id", "\"cus_acmé\"")]), InvalidCustomerId, "customer_id"),
        case(
            "65 bytes",
            event(&[("customer_id", &json_str(&format!("cus_{}", "a".repeat(61))))]),
            InvalidCustomerId,
            "customer_id",
        ),
        case("no cus_ prefix", event(&[("customer_id", "\"acme_123\"")]), InvalidCustomerId, "customer_id"),
        case("another resource's id", event(&[("customer_id", "\"item_123\"")]), InvalidCustomerId, "customer_id"),
        case("upper-case prefix", event(&[("customer_id", "\"CUS_acme\"")]), InvalidCustomerId, "customer_id"),
    ]
}

fn event_name_cases() -> Vec<Case> {
    use ErrorCode::*;
    vec![
        case("absent", event_without(&["event_name"]), MissingEventName, "event_name"),
        case("null", event(&[("event_name", "null")]), MissingEventName, "event_name"),
        case("a number", event(&[("event_name", "7")]), InvalidEventName, "event_name"),
        case("an array", event(&[("event_name", "[\"invoices\"]")]), InvalidEventName, "event_name"),
        case("empty", event(&[("event_name", "\"\"")]), InvalidEventName, "event_name"),
        case("129 characters", event(&[("event_name", &json_str(&"e".repeat(129)))]), InvalidEventName, "event_name"),
        case("a control character", event(&[("event_name", r#""invoices\u0007""#)]), InvalidEventName, "event_name"),
        case("a newline", event(&[("event_name", r#""in\nvoices""#)]), InvalidEventName, "event_name"),
    ]
}

fn value_cases() -> Vec<Case> {
    use ErrorCode::*;
    vec![
        case("negative number", event(&[("value", "-1")]), InvalidValue, "value"),
        case("negative string", event(&[("value", "\"-0.5\"")]), InvalidValue, "value"),
        case("NaN string", event(&[("value", "\"NaN\"")]), InvalidValue, "value"),
        case("Infinity string", event(&[("value", "\"Infinity\"")]), InvalidValue, "value"),
        case("words", event(&[("value", "\"fifty\"")]), InvalidValue, "value"),
        case("empty string", event(&[("value", "\"\"")]), InvalidValue, "value"),
        case("padded string", event(&[("value", "\" 5\"")]), InvalidValue, "value"),
        case("hex string", event(&[("value", "\"0x10\"")]), InvalidValue, "value"),
        case("10 decimal places", event(&[("value", "0.0000000001")]), InvalidValue, "value"),
        case("10 decimal places as a string", event(&[("value", "\"1.0000000001\"")]), InvalidValue, "value"),
        // More digits than a 96-bit decimal holds must not be rounded into an accepted 0.
        case("30 decimal places", event(&[("value", "0.000000000000000000000000000001")]), InvalidValue, "value"),
        case("too precise by exponent", event(&[("value", "15e-10")]), InvalidValue, "value"),
        case("1e15", event(&[("value", "1000000000000000")]), InvalidValue, "value"),
        case("huge exponent", event(&[("value", "1e400")]), InvalidValue, "value"),
        case("an object", event(&[("value", r#"{"amount":5}"#)]), InvalidValue, "value"),
        case("an array", event(&[("value", "[5]")]), InvalidValue, "value"),
        case("a bool", event(&[("value", "true")]), InvalidValue, "value"),
    ]
}

fn timestamp_cases() -> Vec<Case> {
    use ErrorCode::*;
    let at = |ms: i64| json_str(&Timestamp(now().millis() + ms).to_rfc3339());
    vec![
        case("naive, no offset", event(&[("timestamp", "\"2024-07-15T11:30:00\"")]), InvalidTimestamp, "timestamp"),
        case("a date only", event(&[("timestamp", "\"2024-07-15\"")]), InvalidTimestamp, "timestamp"),
        case("garbage", event(&[("timestamp", "\"yesterday\"")]), InvalidTimestamp, "timestamp"),
        case("empty", event(&[("timestamp", "\"\"")]), InvalidTimestamp, "timestamp"),
        case("unix seconds as a number", event(&[("timestamp", "1721043000")]), InvalidTimestamp, "timestamp"),
        case("unix millis as a string", event(&[("timestamp", "\"1721043000000\"")]), InvalidTimestamp, "timestamp"),
        case("an object", event(&[("timestamp", "{}")]), InvalidTimestamp, "timestamp"),
        case("before 1970", event(&[("timestamp", "\"1969-12-31T23:59:59Z\"")]), InvalidTimestamp, "timestamp"),
        case(
            "5 minutes and 1 ms ahead",
            event(&[("timestamp", &at(5 * MINUTE_MS + 1))]),
            TimestampInFuture,
            "timestamp",
        ),
        case(
            "ahead, written with an offset",
            event(&[("timestamp", "\"2024-07-15T14:06:00+02:00\"")]),
            TimestampInFuture,
            "timestamp",
        ),
        case("a year ahead", event(&[("timestamp", "\"2025-07-15T12:00:00Z\"")]), TimestampInFuture, "timestamp"),
        case("35 days and 1 ms old", event(&[("timestamp", &at(-35 * DAY_MS - 1))]), TimestampTooOld, "timestamp"),
        case("years old", event(&[("timestamp", "\"2020-01-01T00:00:00Z\"")]), TimestampTooOld, "timestamp"),
    ]
}

fn properties_cases() -> Vec<Case> {
    use ErrorCode::*;
    let with_props = |p: &str| event(&[("properties", p)]);
    vec![
        case("51 keys", with_props(&props_with_keys(51)), InvalidProperties, "properties"),
        case("10,000 keys", with_props(&props_with_keys(10_000)), InvalidProperties, "properties"),
        case(
            "a 65-character key",
            with_props(&format!("{{\"{}\":\"v\"}}", "k".repeat(65))),
            InvalidProperties,
            "properties",
        ),
        case("an empty key", with_props(r#"{"":"v"}"#), InvalidProperties, "properties"),
        case(
            "a 513-character value",
            with_props(&format!("{{\"k\":\"{}\"}}", "v".repeat(513))),
            InvalidProperties,
            "properties",
        ),
        case("a nested object", with_props(r#"{"geo":{"region":"eu"}}"#), InvalidProperties, "properties"),
        case("an array value", with_props(r#"{"tags":["a","b"]}"#), InvalidProperties, "properties"),
        case("a null value", with_props(r#"{"region":null}"#), InvalidProperties, "properties"),
        case(
            "a duplicate key",
            with_props(r#"{"region":"eu","plan":"pro","region":"us"}"#),
            InvalidProperties,
            "properties",
        ),
        case("an array", with_props(r#"[["region","eu"]]"#), InvalidProperties, "properties"),
        case("a string", with_props(r#""region=eu""#), InvalidProperties, "properties"),
        case("a number", with_props("1"), InvalidProperties, "properties"),
    ]
}

fn field_cases() -> Vec<Case> {
    use ErrorCode::*;
    vec![
        case("an unknown field", event(&[("color", "\"red\"")]), UnknownField, "color"),
        case("a misspelt field", event(&[("timestmap", "\"2024-07-15T11:30:00Z\"")]), UnknownField, "timestmap"),
        case("a field twice", format!("{{\"value\":1,{}", &event(&[])[1..]), InvalidRequest, "event"),
    ]
}

fn all_cases() -> Vec<Case> {
    [
        idempotency_key_cases(),
        customer_id_cases(),
        event_name_cases(),
        value_cases(),
        timestamp_cases(),
        properties_cases(),
        field_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn missing_or_malformed_idempotency_key_is_rejected_without_an_echo() {
    assert_rejected(&idempotency_key_cases());
}

#[test]
fn customer_id_must_be_present_and_well_formed() {
    assert_rejected(&customer_id_cases());
}

/// No customer's id lacks the prefix the API gives them all: such an id is a mistake in
/// the caller's code (`invalid_customer_id`, with the shape), not a customer unknown yet.
#[test]
fn customer_id_without_cus_prefix_is_invalid_and_says_the_shape() {
    let body = batch(&[event(&[("customer_id", "\"user-42\"")])]);
    let refused = parse(&body).expect("a valid envelope");
    let e = refused.events[0].as_ref().expect_err("refused");
    assert_eq!(e.error.code, ErrorCode::InvalidCustomerId);
    assert!(e.error.message.contains("`cus_` then letters, digits"), "{}", e.error.message);
}

#[test]
fn event_name_must_be_present_and_a_name() {
    assert_rejected(&event_name_cases());
}

#[test]
fn value_must_be_a_finite_non_negative_decimal_of_at_most_9_places() {
    assert_rejected(&value_cases());
}

#[test]
fn timestamp_must_be_rfc3339_with_an_offset_within_the_window() {
    assert_rejected(&timestamp_cases());
}

#[test]
fn properties_beyond_their_limits_are_invalid_properties() {
    assert_rejected(&properties_cases());
}

#[test]
fn duplicate_property_key_is_invalid_properties() {
    let body = event(&[("properties", r#"{"region":"eu","region":"eu"}"#)]);
    assert_eq!(reject(&body), (Some(KEY.into()), ErrorCode::InvalidProperties, Some("properties".into())));
}

#[test]
fn unknown_or_repeated_event_fields_are_refused() {
    assert_rejected(&field_cases());
}

#[test]
fn every_event_error_code_is_exercised() {
    use ErrorCode::*;
    let covered: BTreeSet<&str> = all_cases().iter().map(|c| c.code.as_str()).collect();
    for code in [
        MissingIdempotencyKey,
        InvalidIdempotencyKey,
        MissingCustomerId,
        InvalidCustomerId,
        // (`unknown_customer` is the customer's object's to say, not the rules'.)
        MissingEventName,
        InvalidEventName,
        InvalidValue,
        InvalidTimestamp,
        TimestampInFuture,
        TimestampTooOld,
        InvalidProperties,
        UnknownField,
        InvalidRequest,
    ] {
        assert!(covered.contains(code.as_str()), "no case for {code}");
    }
}

// ---------------------------------------------------------------------------------------
// Limits that are accepted exactly at the edge.

#[test]
fn limits_are_inclusive() {
    let at = |ms: i64| json_str(&Timestamp(now().millis() + ms).to_rfc3339());
    let bodies = [
        event(&[("properties", &props_with_keys(50))]),
        event(&[("properties", &format!("{{\"{}\":\"v\"}}", "k".repeat(64)))]),
        event(&[("properties", &format!("{{\"{}\":\"v\"}}", "é".repeat(64)))]),
        event(&[("properties", &format!("{{\"k\":\"{}\"}}", "v".repeat(512)))]),
        event(&[("properties", &format!("{{\"k\":\"{}\"}}", "€".repeat(512)))]),
        event(&[("properties", r#"{"s":"x","n":-1.5e3,"t":true,"f":false}"#)]),
        event(&[("properties", "{}")]),
        event(&[("properties", "null")]),
        event(&[("event_name", &json_str(&"e".repeat(128)))]),
        event(&[("customer_id", &json_str(&format!("cus_{}", "a".repeat(60))))]),
        event(&[("timestamp", &at(5 * MINUTE_MS))]),
        event(&[("timestamp", &at(-35 * DAY_MS))]),
        event(&[("value", "0")]),
        event(&[("value", "0.000000001")]),
        event(&[("value", "999999999999999.999999999")]),
    ];
    for body in bodies {
        accept(&body);
    }
}

// ---------------------------------------------------------------------------------------
// The envelope.

#[test]
fn body_that_is_not_json_is_invalid_json() {
    for body in ["", "   ", "{", "{\"events\":[", "not json", "{'idempotency_key': 1}", "{\"events\":[{\"a\":}]}"] {
        assert_eq!(envelope_error(body.as_bytes()).code, ErrorCode::InvalidJson, "{body:?}");
    }
    assert_eq!(envelope_error(b"{\"customer_id\":\"cus_\xff\"}").code, ErrorCode::InvalidJson);
}

#[test]
fn trailing_garbage_after_the_json_is_invalid_json() {
    let one = event(&[]);
    for body in [
        format!("{one} x"),
        format!("{one}{one}"),
        format!("{}]", batch(std::slice::from_ref(&one))),
        format!("{one},"),
    ] {
        assert_eq!(envelope_error(body.as_bytes()).code, ErrorCode::InvalidJson, "{body}");
    }
    // Whitespace is not garbage.
    assert!(parse(&format!(" \n{one}\n ")).is_ok());
}

#[test]
fn body_that_is_not_an_object_is_invalid_request() {
    for body in ["[]", &format!("[{}]", event(&[])), "\"event\"", "42", "-1.5", "true", "null"] {
        assert_eq!(envelope_error(body.as_bytes()).code, ErrorCode::InvalidRequest, "{body}");
    }
}

#[test]
fn events_that_is_not_an_array_is_invalid_field() {
    for events in ["{}", &event(&[]), "\"[]\"", "1", "true", "null"] {
        let body = format!("{{\"events\":{events}}}");
        let e = envelope_error(body.as_bytes());
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("events")), "{body}");
    }
}

#[test]
fn batch_of_more_than_1000_events_is_too_many_events() {
    let events: Vec<String> =
        (0..=MAX_BATCH_EVENTS).map(|i| event(&[("idempotency_key", &json_str(&key(i)))])).collect();
    let e = envelope_error(batch(&events).as_bytes());
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::TooManyEvents, Some("events")));

    let body = batch(&events[..MAX_BATCH_EVENTS]);
    let env = parse(&body).unwrap();
    assert_eq!(env.events.len(), MAX_BATCH_EVENTS);
    assert!(env.events.iter().all(Result::is_ok));
}

#[test]
fn body_over_1_mib_is_payload_too_large() {
    let one = event(&[]);
    let exactly = format!("{one}{}", " ".repeat(MAX_BODY_BYTES - one.len()));
    assert_eq!(exactly.len(), MAX_BODY_BYTES);
    assert!(parse(&exactly).is_ok());

    let over = format!("{exactly} ");
    assert_eq!(envelope_error(over.as_bytes()).code, ErrorCode::PayloadTooLarge);
    // Size is judged before syntax.
    assert_eq!(envelope_error(&vec![b'x'; MAX_BODY_BYTES + 1]).code, ErrorCode::PayloadTooLarge);
}

#[test]
fn batch_mixing_events_with_event_fields_is_invalid_request() {
    let inner = batch(&[event(&[])]);
    let inner = &inner[1..inner.len() - 1]; // `"events":[…]`
    for extra in [
        "\"customer_id\":\"cus_acme\"",
        "\"idempotency_key\":\"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f\"",
        "\"value\":1",
        "\"properties\":{}",
        "\"color\":\"red\"",
    ] {
        for body in [format!("{{{inner},{extra}}}"), format!("{{{extra},{inner}}}")] {
            assert_eq!(envelope_error(body.as_bytes()).code, ErrorCode::InvalidRequest, "{body}");
        }
    }
}

#[test]
fn batch_with_events_twice_is_invalid_request() {
    let a = event(&[("idempotency_key", &json_str(&key(1)))]);
    let b = event(&[("idempotency_key", &json_str(&key(2)))]);
    let body = format!("{{\"events\":[{a}],\"events\":[{b}]}}");
    let e = envelope_error(body.as_bytes());
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidRequest, Some("events")));
}

#[test]
fn empty_batch_is_a_valid_envelope() {
    let env = parse("{\"events\":[]}").unwrap();
    assert!(env.batch);
    assert!(env.events.is_empty());
}

#[test]
fn single_event_is_not_a_batch() {
    let body = event(&[]);
    let env = parse(&body).unwrap();
    assert!(!env.batch);
    assert_eq!(env.events.len(), 1);
    assert!(env.events[0].is_ok());
}

// ---------------------------------------------------------------------------------------
// A batch is judged per event.

#[test]
fn rejected_event_echoes_its_key_when_it_had_a_valid_one() {
    let (echo, code, _) = reject(&event(&[("value", "-1")]));
    assert_eq!((echo.as_deref(), code), (Some(KEY), ErrorCode::InvalidValue));

    // Echoed in canonical form.
    let upper = event(&[("idempotency_key", &json_str(&KEY.to_uppercase())), ("value", "-1")]);
    assert_eq!(reject(&upper).0.as_deref(), Some(KEY));

    let (echo, code, _) = reject(&event(&[("idempotency_key", "\"nope\""), ("value", "-1")]));
    assert_eq!((echo, code), (None, ErrorCode::InvalidIdempotencyKey));
}

#[test]
fn results_keep_request_order() {
    let events: Vec<String> = (0..20)
        .map(|i| {
            let k = json_str(&key(i));
            // Every third event is bad, for a different reason each time.
            match i % 6 {
                0 => event(&[("idempotency_key", &k), ("value", "-1")]),
                3 => event(&[("idempotency_key", &k), ("timestamp", "\"2030-01-01T00:00:00Z\"")]),
                _ => event(&[("idempotency_key", &k), ("value", &i.to_string())]),
            }
        })
        .collect();
    let body = batch(&events);
    let env = parse(&body).unwrap();
    let keys: Vec<String> = env
        .events
        .iter()
        .map(|r| match r {
            Ok(ev) => ev.idempotency_key().to_string(),
            Err(rej) => rej.idempotency_key.as_deref().unwrap().to_owned(),
        })
        .collect();
    assert_eq!(keys, (0..20).map(key).collect::<Vec<_>>());
    for (i, r) in env.events.iter().enumerate() {
        match (i % 6, r) {
            (0, Err(rej)) => assert_eq!(rej.error.code, ErrorCode::InvalidValue),
            (3, Err(rej)) => assert_eq!(rej.error.code, ErrorCode::TimestampInFuture),
            (_, Ok(ev)) => assert_eq!(ev.value(), Decimal::from(i as u64)),
            (_, other) => panic!("event {i}: {other:?}"),
        }
    }
}

#[test]
fn one_bad_event_does_not_spoil_the_batch() {
    let good = |i: usize| event(&[("idempotency_key", &json_str(&key(i)))]);
    let body =
        batch(&[good(0), "42".into(), "[]".into(), "null".into(), "{}".into(), event(&[("value", "{}")]), good(1)]);
    let env = parse(&body).unwrap();
    let got: Vec<Result<String, (Option<String>, ErrorCode)>> = env
        .events
        .iter()
        .map(|r| match r {
            Ok(ev) => Ok(ev.idempotency_key().to_string()),
            Err(rej) => Err((rej.idempotency_key.as_deref().map(str::to_owned), rej.error.code)),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            Ok(key(0)),
            Err((None, ErrorCode::InvalidRequest)),
            Err((None, ErrorCode::InvalidRequest)),
            Err((None, ErrorCode::InvalidRequest)),
            Err((None, ErrorCode::MissingIdempotencyKey)),
            Err((Some(KEY.into()), ErrorCode::InvalidValue)),
            Ok(key(1)),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// What an accepted event holds.

#[test]
fn accepted_event_holds_its_fields() {
    let ev = accept(&event(&[("properties", r#"{"region":"eu","plan":"pro","seats":12,"trial":false}"#)]));
    assert_eq!(ev.idempotency_key(), KEY);
    assert_eq!(ev.customer_id(), "cus_acme");
    assert_eq!(ev.event_name(), "invoices");
    assert_eq!(ev.value(), Decimal::from(50));
    assert_eq!(ev.timestamp(), ts("2024-07-15T11:30:00Z"));
    assert!(ev.timestamp_given());
    // Sorted by key.
    let keys: Vec<&str> = ev.properties().iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["plan", "region", "seats", "trial"]);
    assert_eq!(ev.properties().get("seats").map(|v| v.as_text()), Some("12"));
    assert_eq!(ev.properties().get("trial").map(|v| v.as_text()), Some("false"));
    assert_eq!(
        serde_json::to_string(&ev.properties()).unwrap(),
        r#"{"plan":"pro","region":"eu","seats":12,"trial":false}"#
    );
}

#[test]
fn value_defaults_to_one() {
    assert_eq!(accept(&event_without(&["value"])).value(), Decimal::ONE);
    assert_eq!(accept(&event(&[("value", "null")])).value(), Decimal::ONE);
}

#[test]
fn string_and_number_values_parse_exactly() {
    for (raw, expected) in [
        ("\"85.70\"", "85.7"),
        ("85.70", "85.7"),
        ("0.1", "0.1"),
        ("\"0.1\"", "0.1"),
        ("50", "50"),
        ("\"50.000\"", "50"),
        ("1e3", "1000"),
        ("\"2.5E-1\"", "0.25"),
        ("0", "0"),
        ("-0", "0"),
        ("\"-0.0\"", "0"),
        ("0.000000001", "0.000000001"),
        ("123456789.123456789", "123456789.123456789"),
        ("999999999999999.999999999", "999999999999999.999999999"),
    ] {
        let v = accept(&event(&[("value", raw)])).value();
        assert_eq!(v, Decimal::from_str(expected).unwrap(), "{raw}");
        assert_eq!(v.to_string(), expected, "{raw} keeps no trailing zeros");
    }
}

#[test]
fn offsets_are_converted_to_utc() {
    for raw in [
        "2024-07-15T11:30:00Z",
        "2024-07-15T13:30:00+02:00",
        "2024-07-15T06:30:00-05:00",
        "2024-07-15T17:00:00+05:30",
        "2024-07-14T23:30:00-12:00",
        "2024-07-15t11:30:00z",
        "2024-07-15T11:30:00.000Z",
    ] {
        let ev = accept(&event(&[("timestamp", &json_str(raw))]));
        assert_eq!(ev.timestamp().to_rfc3339(), "2024-07-15T11:30:00Z", "{raw}");
    }
    let ev = accept(&event(&[("timestamp", "\"2024-07-15T13:30:00.250+02:00\"")]));
    assert_eq!(ev.timestamp().to_rfc3339(), "2024-07-15T11:30:00.250Z");
}

#[test]
fn missing_timestamp_defaults_to_arrival_time() {
    let ev = accept(&event_without(&["timestamp"]));
    assert_eq!((ev.timestamp(), ev.timestamp_given()), (now(), false));
    let ev = accept(&event(&[("timestamp", "null")]));
    assert_eq!((ev.timestamp(), ev.timestamp_given()), (now(), false));
}

#[test]
fn upper_case_uuid_is_canonicalised_lower_case() {
    let ev = accept(&event(&[("idempotency_key", "\"0192F0C1-7A2B-7C3D-8E4F-5A6B7C8D9E0F\"")]));
    assert_eq!(ev.idempotency_key(), KEY);
    let ev = accept(&event(&[("idempotency_key", "\"0192f0C1-7a2B-7c3d-8E4f-5a6b7c8d9e0F\"")]));
    assert_eq!(ev.idempotency_key(), KEY);
}

#[test]
fn escaped_strings_are_decoded() {
    let ev = accept(&event(&[
        ("customer_id", r#""cus_\u0061cme""#),
        ("event_name", r#""in\"voices\"""#),
        ("properties", r#"{"re\u0067ion":"e\u0075","note":"a\\b"}"#),
    ]));
    assert_eq!(ev.customer_id(), "cus_acme");
    assert_eq!(ev.event_name(), "in\"voices\"");
    assert_eq!(ev.properties().get("region").map(|v| v.as_text()), Some("eu"));
    assert_eq!(ev.properties().get("note").map(|v| v.as_text()), Some("a\\b"));
}

// ---------------------------------------------------------------------------------------
// The canonical content hash.

fn hash_of(body: &str) -> edgemeter_core::hash::ContentHash {
    accept(body).hash()
}

#[test]
fn same_content_spelled_differently_hashes_equal() {
    let base = r#"{"idempotency_key":"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f","customer_id":"cus_acme","event_name":"invoices","value":50,"timestamp":"2024-07-15T11:30:00Z","properties":{"region":"eu","seats":12,"trial":true}}"#;
    let h = hash_of(base);
    for same in [
        // Key order, at both levels.
        r#"{"properties":{"trial":true,"seats":12,"region":"eu"},"timestamp":"2024-07-15T11:30:00Z","value":50,"event_name":"invoices","customer_id":"cus_acme","idempotency_key":"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f"}"#,
        // The value as a string, with trailing zeros, with an exponent.
        r#"{"idempotency_key":"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f","customer_id":"cus_acme","event_name":"invoices","value":"50.0","timestamp":"2024-07-15T11:30:00Z","properties":{"region":"eu","seats":12,"trial":true}}"#,
        r#"{"idempotency_key":"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f","customer_id":"cus_acme","event_name":"invoices","value":50.000,"timestamp":"2024-07-15T11:30:00Z","properties":{"region":"eu","seats":12,"trial":true}}"#,
        r#"{"idempotency_key":"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f","customer_id":"cus_acme","event_name":"invoices","value":5e1,"timestamp":"2024-07-15T11:30:00Z","properties":{"region":"eu","seats":12,"trial":true}}"#,
        // Another offset for the same instant.
        r#"{"idempotency_key":"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f","customer_id":"cus_acme","event_name":"invoices","value":50,"timestamp":"2024-07-15T13:30:00+02:00","properties":{"region":"eu","seats":12,"trial":true}}"#,
        r#"{"idempotency_key":"0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f","customer_id":"cus_acme","event_name":"invoices","value":50,"timestamp":"2024-07-15T11:30:00.000Z","properties":{"region":"eu","seats":12,"trial":true}}"#,
        // Escapes, whitespace, and the key's case (the key is not content anyway).
        "{ \"idempotency_key\" : \"0192F0C1-7A2B-7C3D-8E4F-5A6B7C8D9E0F\" ,\n \"customer_id\":\"cus_\\u0061cme\", \"event_name\":\"invoices\", \"value\":50, \"timestamp\":\"2024-07-15T11:30:00Z\", \"properties\":{\"region\":\"e\\u0075\",\"seats\":12,\"trial\":true} }",
        // Another idempotency key: the hash is compared under a key, never includes it.
        r#"{"idempotency_key":"0192f0c1-0000-7000-8000-000000000001","customer_id":"cus_acme","event_name":"invoices","value":50,"timestamp":"2024-07-15T11:30:00Z","properties":{"region":"eu","seats":12,"trial":true}}"#,
    ] {
        assert_eq!(hash_of(same), h, "{same}");
    }
}

#[test]
fn absent_null_and_empty_properties_hash_equal() {
    let h = hash_of(&event_without(&["properties"]));
    assert_eq!(hash_of(&event(&[("properties", "null")])), h);
    assert_eq!(hash_of(&event(&[("properties", "{}")])), h);
}

#[test]
fn different_content_hashes_differ() {
    let base = hash_of(&event(&[]));
    let variants = [
        event(&[("customer_id", "\"cus_acme2\"")]),
        event(&[("event_name", "\"invoice\"")]),
        event(&[("value", "51")]),
        event(&[("value", "50.000000001")]),
        event_without(&["value"]),
        event(&[("timestamp", "\"2024-07-15T11:30:00.001Z\"")]),
        event(&[("timestamp", "\"2024-07-15T11:30:00+01:00\"")]),
        event_without(&["timestamp"]),
        event(&[("properties", r#"{"region":"us"}"#)]),
        event(&[("properties", r#"{"Region":"eu"}"#)]),
        event(&[("properties", r#"{"region":"eu","plan":"pro"}"#)]),
        event(&[("properties", "{}")]),
        event_without(&["properties"]),
        event(&[("properties", r#"{"region":"eu "}"#)]),
        event(&[("properties", r#"{"region":true}"#)]),
    ];
    let mut seen = BTreeSet::from([base]);
    for v in &variants {
        let h = hash_of(v);
        assert_ne!(h, base, "{v}");
        seen.insert(h);
    }
    // Each variant also differs from every other, except the two spellings of "no properties".
    assert_eq!(seen.len(), variants.len());

    // A number and the string of its digits are different content.
    assert_ne!(
        hash_of(&event(&[("properties", r#"{"seats":12}"#)])),
        hash_of(&event(&[("properties", r#"{"seats":"12"}"#)]))
    );
    // A key/value boundary cannot shift between properties.
    assert_ne!(
        hash_of(&event(&[("properties", r#"{"ab":"c"}"#)])),
        hash_of(&event(&[("properties", r#"{"a":"bc"}"#)]))
    );
}

#[test]
fn event_without_timestamp_hashes_the_same_whenever_it_arrives() {
    let body = event_without(&["timestamp"]);
    let first = accept_at(&body, now());
    let retry = accept_at(&body, Timestamp(now().millis() + 3 * DAY_MS + 17));
    assert_ne!(first.timestamp(), retry.timestamp());
    assert_eq!(first.hash(), retry.hash());
    // A timestamp the client chose is content, even when it equals the arrival time.
    let explicit = accept(&event(&[("timestamp", &json_str(NOW))]));
    assert_eq!(explicit.timestamp(), first.timestamp());
    assert_ne!(explicit.hash(), first.hash());
}

#[test]
fn hash_renders_as_32_hex_digits() {
    let h = hash_of(&event(&[]));
    let text = h.to_string();
    assert_eq!(text.len(), 32);
    assert!(text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(edgemeter_core::hash::ContentHash::parse_hex(&text), Some(h));
}

/// Hashes are stored with events and compared with later retries, so a change of hash
/// function or encoding would turn every retry after a deploy into `idempotency_key_reused`.
#[test]
fn content_hash_is_stable_across_releases() {
    let long = format!("{{\"k\":\"{}\",\"z\":\"{}\"}}", "v".repeat(512), "w".repeat(300));
    for (body, hex) in [
        (event(&[("properties", r#"{"region":"eu","seats":12,"trial":true}"#)]), "abd3f2036ab7309f7db33483cdedd975"),
        (event_without(&["timestamp", "properties", "value"]), "198217c96028c387efae766a0c96e661"),
        (event(&[("properties", &long)]), "9bc11677a2831055e85772eb43d37bf2"),
    ] {
        assert_eq!(hash_of(&body).to_string(), hex, "{body}");
    }
}

// ---------------------------------------------------------------------------------------
// The checks' fast paths agree with their plain definitions.

mod definitions {
    use edgemeter_core::ingest::{canonical_uuid, valid_name};
    use proptest::prelude::*;
    use std::borrow::Cow;

    fn uuid_by_definition(s: &str) -> Option<String> {
        let groups: Vec<&str> = s.split('-').collect();
        let shape = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
        (shape && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))).then(|| s.to_ascii_lowercase())
    }

    fn name_by_definition(s: &str, max: usize) -> bool {
        !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
    }

    /// A UUID in mixed case, with one character possibly replaced by anything.
    fn near_uuid() -> impl Strategy<Value = String> {
        (
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            any::<prop::sample::Index>(),
            any::<Option<char>>(),
        )
            .prop_map(|(s, at, c)| {
                let mut chars: Vec<char> = s.chars().collect();
                if let Some(c) = c {
                    let i = at.index(chars.len());
                    chars[i] = c;
                }
                chars.into_iter().collect()
            })
    }

    proptest! {
        #[test]
        fn canonical_uuid_is_8_4_4_4_12_hex_digits_lower_cased(
            s in prop_oneof![near_uuid(), "[0-9a-fA-F\\-gGzZ{}é ]{30,40}"]
        ) {
            prop_assert_eq!(canonical_uuid(Cow::Borrowed(&s)).map(Cow::into_owned), uuid_by_definition(&s));
        }

        #[test]
        fn valid_name_is_1_to_max_characters_without_controls(
            s in prop_oneof!["[\\x00-\\x7f]{0,12}", "\\PC{0,12}", ".{0,12}", "[a\\x{80}-\\x{a0}é€]{0,12}"],
            max in 0usize..14,
        ) {
            prop_assert_eq!(valid_name(&s, max), name_by_definition(&s, max), "{:?} max {}", s, max);
        }
    }
}
