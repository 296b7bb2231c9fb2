//! Checkable invoices (API.md, "Checking an invoice"), driven through the customer's
//! machine over the in-memory store as the worker drives it, against a model of our own
//! that never calls the code under test:
//!
//! - the content hash recomputed here from its documented definition (XXH3-128 over
//!   length-prefixed fields), and each digest from its definition in `core::digest`'s
//!   docs (SHA-256 over sorted 16-byte hashes; over the lines' 32-byte digests);
//! - which events a metric counts, as a plain filter over the live events.
//!
//! Each case ingests random events over two periods (some voided before the period is
//! final), finalizes both, sends late events and a void into the next period, and runs
//! again long after, so compaction has moved the final periods' events aside. Then, for
//! each final invoice: every line's `events_digest` and the `usage_digest` are the
//! model's; the events endpoint, read in pages of a random size, lists exactly the
//! model's counted events with their content hashes; `verify_invoice` finds nothing; one
//! event changed is named with every line that counted it; and a simulation under the
//! same items bills the same lines and changes nothing.
//!
//! Mutations it catches (each put in by hand and seen failing, at the commit that added
//! this list): compaction deleting the live events of final periods instead of keeping
//! them; the content hashes left unsorted in an `events_digest`; a metric counting an
//! event when its name *or* its filters match; a filter passing when any one of several
//! properties matches.

use chrono::NaiveDate;
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::event::EventRecord;
use edgemeter_core::ingest::parse_ingest;
use edgemeter_core::invoice::Invoice;
use edgemeter_core::invoice_event::InvoiceEvent;
use edgemeter_core::item::{Item, ItemKind};
use edgemeter_core::machine::customer::{self as m, CustomerCall, CustomerMachine, MemoryObject};
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::page::Page;
use edgemeter_core::period::{Interval, Schedule};
use edgemeter_core::pricing::{Price, Tier};
use edgemeter_core::time::{Timestamp, DAY_MS};
use edgemeter_core::verify::verify_invoice;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const CUSTOMER: &str = "cus_0000000000000000000check";

fn midnight(y: i32, m: u32, d: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis()
}

/// Period starts: January, February, March, April 2026.
fn bounds() -> [i64; 4] {
    [midnight(2026, 1, 1), midnight(2026, 2, 1), midnight(2026, 3, 1), midnight(2026, 4, 1)]
}

fn customer() -> Customer {
    Customer {
        id: CUSTOMER.into(),
        name: "Check".into(),
        email: "c@example.com".into(),
        external_id: None,
        currency: Currency::parse("USD").unwrap(),
        invoice_schedule: Schedule {
            interval: Interval::Month,
            anchor: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            pre_generate_days: 3,
            grace_hours: 24,
        },
        auto_send: false,
        contract_id: None,
        created_at: Timestamp(bounds()[0]),
    }
}

fn metric(code: &str, event_name: &str, aggregation: Aggregation, field: Option<&str>, only_x: bool) -> MetricDef {
    let mut filters = BTreeMap::new();
    if only_x {
        filters.insert("r".to_owned(), vec!["x".to_owned()]);
    }
    MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: event_name.into(),
        aggregation,
        field: field.map(str::to_owned),
        filters,
    }
}

fn metrics() -> Vec<MetricDef> {
    vec![
        metric("a_sum", "a", Aggregation::Sum, None, false),
        metric("a_sum_x", "a", Aggregation::Sum, None, true),
        metric("a_latest", "a", Aggregation::Latest, None, false),
        metric("b_max", "b", Aggregation::Max, None, false),
        metric("b_unique", "b", Aggregation::UniqueCount, Some("r"), false),
        metric("c_count", "c", Aggregation::Count, None, false),
    ]
}

fn items(unit: Decimal) -> Vec<Item> {
    let tiers = vec![
        Tier { up_to: Some(Decimal::from(3)), unit_amount: unit, flat_amount: Decimal::ONE },
        Tier { up_to: None, unit_amount: Decimal::new(5, 3), flat_amount: Decimal::ZERO },
    ];
    let item = |n: u8, kind, metric: Option<(&str, &str)>, price, minimum| Item {
        id: format!("item_{n}"),
        customer_id: CUSTOMER.into(),
        name: format!("item {n}"),
        kind,
        metric_code: metric.map(|(m, _)| m.to_owned()),
        event_name: metric.map(|(_, e)| e.to_owned()),
        price,
        minimum,
        created_at: Timestamp(0),
    };
    vec![
        item(1, ItemKind::Usage, Some(("a_sum", "a")), Price::PerUnit { unit_amount: unit }, None),
        item(2, ItemKind::Usage, Some(("a_sum_x", "a")), Price::Graduated { tiers: tiers.clone() }, None),
        item(3, ItemKind::Fixed, None, Price::Fixed { amount: Decimal::new(999, 2) }, None),
        item(4, ItemKind::Usage, Some(("a_latest", "a")), Price::Volume { tiers }, Some(Decimal::ONE)),
        item(5, ItemKind::Usage, Some(("b_max", "b")), Price::PerUnit { unit_amount: unit }, None),
        item(
            6,
            ItemKind::Usage,
            Some(("b_unique", "b")),
            Price::Package { package_size: 2, package_amount: unit },
            None,
        ),
        // Counts events of a name no case sends: its digest is the empty one.
        item(7, ItemKind::Usage, Some(("c_count", "c")), Price::PerUnit { unit_amount: unit }, None),
    ]
}

/// One drawn event.
#[derive(Clone, Debug)]
struct Ev {
    key: String,
    name: &'static str,
    value: Decimal,
    ts: i64,
    r: &'static str,
    /// A number property, sent as this JSON text.
    n: &'static str,
    /// Whether the client sent the timestamp.
    ts_given: bool,
}

fn events() -> impl Strategy<Value = Vec<(Ev, bool)>> {
    let one = (0usize..2, 0i64..27 * DAY_MS, 0u8..2, 0i64..100_000, 0u32..4, 0u8..2, 0u8..3, any::<bool>(), 0u8..8);
    prop::collection::vec(one, 1..40).prop_map(|draws| {
        draws
            .into_iter()
            .enumerate()
            .map(|(i, (period, offset, name, value, scale, r, n, given, void))| {
                let ev = Ev {
                    key: format!("00000000-0000-7000-8000-{i:012}"),
                    name: if name == 0 { "a" } else { "b" },
                    value: Decimal::new(value, scale),
                    ts: bounds()[period] + DAY_MS + offset,
                    r: if r == 0 { "x" } else { "y" },
                    n: ["12", "1.5e3", "-0"][n as usize],
                    ts_given: given,
                };
                (ev, void == 0)
            })
            .collect()
    })
}

/// The event as a client sends it, through the public parser (as the worker's front).
/// A server-chosen timestamp is the time received, which is `ts` here.
fn record(e: &Ev) -> EventRecord<'static> {
    let ts = if e.ts_given { format!(r#","timestamp":"{}""#, Timestamp(e.ts).to_rfc3339()) } else { String::new() };
    let body = format!(
        r#"{{"idempotency_key":"{}","customer_id":"{CUSTOMER}","event_name":"{}","value":"{}"{ts},"properties":{{"r":"{}","n":{}}}}}"#,
        e.key, e.name, e.value, e.r, e.n
    );
    let env = parse_ingest(body.as_bytes(), Timestamp(e.ts)).expect("a well-formed body");
    let ev = env.events.into_iter().next().expect("one event").expect("a valid event");
    EventRecord::from_valid(&ev).into_owned()
}

// ---------------------------------------------------------------------------------------
// The model.

/// The content hash by its definition: XXH3-128 over (u32 LE length, bytes) fields:
/// customer id, event name, the normalized value's 16-byte form, the timestamp's
/// milliseconds (i64 LE) or nothing, then per property in key order its key, and `s` +
/// text, `n` + JSON text, or `t`/`f`.
fn model_hash(e: &Ev) -> u128 {
    let mut bytes = Vec::new();
    let mut field = |b: &[u8]| {
        bytes.extend_from_slice(&(b.len() as u32).to_le_bytes());
        bytes.extend_from_slice(b);
    };
    field(CUSTOMER.as_bytes());
    field(e.name.as_bytes());
    field(&e.value.normalize().serialize());
    if e.ts_given {
        field(&e.ts.to_le_bytes());
    } else {
        field(b"");
    }
    field(b"n");
    field(b"n");
    field(e.n.as_bytes());
    field(b"r");
    field(b"s");
    field(e.r.as_bytes());
    xxhash_rust::xxh3::xxh3_128(&bytes)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The live events of period `p` a metric counts.
fn counted<'a>(m: &MetricDef, events: &'a [(Ev, bool)], p: usize) -> Vec<&'a Ev> {
    let (start, end) = (bounds()[p], bounds()[p + 1]);
    events
        .iter()
        .filter(|(e, voided)| !voided && e.ts >= start && e.ts < end && e.name == m.event_name)
        .filter(|(e, _)| m.filters.get("r").is_none_or(|allowed| allowed.iter().any(|a| a == e.r)))
        .map(|(e, _)| e)
        .collect()
}

fn model_digest(evs: &[&Ev]) -> String {
    let mut hashes: Vec<[u8; 16]> = evs.iter().map(|e| model_hash(e).to_be_bytes()).collect();
    hashes.sort();
    hex(&Sha256::digest(hashes.concat()))
}

// ---------------------------------------------------------------------------------------
// The shell.

struct Object {
    shell: MemoryObject,
}

impl Object {
    fn call<'a>(&mut self, call: impl Into<CustomerCall<'a>>) -> Value {
        serde_json::from_str(&self.call_text(call)).expect("an answer is JSON")
    }

    /// The answer's text: read straight into a type, a number property keeps its text
    /// (through a `Value` `1.5e3` would come back `1500.0`, another hash).
    fn call_text<'a>(&mut self, call: impl Into<CustomerCall<'a>>) -> String {
        self.shell.call_text(call).expect("the call succeeds")
    }

    fn run(&mut self, now: i64) {
        let numbers = (0..4).map(|i| (Timestamp(bounds()[i]), format!("INV-{:06}", i + 1))).collect();
        self.call(m::Run { now: Timestamp(now), metrics: metrics(), numbers });
    }

    fn events(&mut self, id: &str, limit: usize) -> Vec<InvoiceEvent> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page: Page<InvoiceEvent> = serde_json::from_str(&self.call_text(m::InvoiceEvents {
                id: id.to_owned(),
                limit,
                cursor: cursor.take(),
            }))
            .expect("a page of events");
            assert!(page.data.len() <= limit);
            all.extend(page.data);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return all,
            }
        }
    }
}

fn line<'a>(inv: &'a Invoice, item_id: &str) -> &'a Value {
    inv.lines.as_array().unwrap().iter().find(|l| l["item_id"] == item_id).expect("a line per item")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invoices_check_out_from_their_events(
        evs in events(),
        unit in (1i64..5_000, 0u32..4).prop_map(|(n, s)| Decimal::new(n, s)),
        page in 1usize..7,
        tamper in any::<prop::sample::Index>(),
    ) {
        let items = items(unit);
        let mut o = Object { shell: MemoryObject::new(CustomerMachine::new(false)) };
        o.call(m::Create { customer: customer() });
        for item in &items {
            o.call(m::CreateItem { item: item.clone() });
        }
        let records: Vec<EventRecord> = evs.iter().map(|(e, _)| record(e)).collect();
        o.call(m::Ingest { now: Timestamp(bounds()[0]), metrics: metrics(), events: records, received: None });
        for (e, voided) in &evs {
            if *voided {
                o.call(m::Void { now: Timestamp(bounds()[0]), key: e.key.clone(), metrics: metrics() });
            }
        }
        // A draft of February, then both periods final.
        o.run(bounds()[2] - 2 * DAY_MS);
        o.run(bounds()[2] + 2 * DAY_MS);
        // Late events and a void in March change nothing of January's and February's.
        let late = Ev { key: "00000000-0000-7000-8000-900000000000".into(), name: "a", value: Decimal::TEN,
            ts: bounds()[2] + DAY_MS, r: "x", n: "1", ts_given: true };
        let late2 = Ev { key: "00000000-0000-7000-8000-900000000001".into(), ..late.clone() };
        o.call(m::Ingest { now: Timestamp(bounds()[2]), metrics: metrics(), events: vec![record(&late), record(&late2)], received: None });
        o.call(m::Void { now: Timestamp(bounds()[2] + DAY_MS), key: late.key.clone(), metrics: metrics() });
        // Long after: March final too, and January's and February's events compacted.
        o.run(bounds()[3] + 40 * DAY_MS);
        prop_assert!(o.shell.store.events.values().all(|e| e.period_start >= Timestamp(bounds()[2])), "compacted");

        for p in 0..2 {
            let inv = o.shell.store.invoices.values().find(|i| i.period_start == Timestamp(bounds()[p])).cloned()
                .expect("an invoice per period");
            let mut line_digests = Vec::new();
            let mut counted_keys = std::collections::BTreeSet::new();
            for item in items.iter().filter(|i| i.kind == ItemKind::Usage) {
                let m = metrics().into_iter().find(|m| Some(&m.code) == item.metric_code.as_ref()).unwrap();
                let evs_counted = counted(&m, &evs, p);
                counted_keys.extend(evs_counted.iter().map(|e| e.key.clone()));
                let digest = model_digest(&evs_counted);
                prop_assert_eq!(&line(&inv, &item.id)["usage"]["events_digest"], &Value::String(digest.clone()));
                line_digests.push(hex_decode(&digest));
            }
            let usage_digest = hex(&Sha256::digest(line_digests.concat()));
            prop_assert_eq!(inv.usage_digest.as_deref(), Some(usage_digest.as_str()));

            let listed = o.events(&inv.id, page);
            let keys: Vec<&str> = listed.iter().map(|e| e.idempotency_key.as_str()).collect();
            prop_assert_eq!(keys, counted_keys.iter().map(String::as_str).collect::<Vec<_>>(), "exactly the counted events, in key order");
            for le in &listed {
                let (e, _) = evs.iter().find(|(e, _)| e.key == le.idempotency_key).unwrap();
                prop_assert_eq!(le.content_hash.0, model_hash(e));
                prop_assert_eq!((le.value, le.timestamp.millis(), le.timestamp_given), (e.value.normalize(), e.ts, e.ts_given));
            }

            prop_assert_eq!(verify_invoice(&inv, &listed, &items, &metrics()), vec![]);
            // An invoice stored before digests existed checks out on everything else.
            let mut old = inv.clone();
            old.usage_digest = None;
            for l in old.lines.as_array_mut().unwrap() {
                if let Some(u) = l.get_mut("usage").and_then(Value::as_object_mut) {
                    u.remove("events_digest");
                }
            }
            prop_assert_eq!(verify_invoice(&old, &listed, &items, &metrics()), vec![]);
            if let Some(first) = listed.first() {
                // A missing event, and one listed twice, do not check out.
                prop_assert!(!verify_invoice(&inv, &listed[1..], &items, &metrics()).is_empty());
                let twice: Vec<InvoiceEvent> = listed.iter().chain(Some(first)).cloned().collect();
                let diffs = verify_invoice(&inv, &twice, &items, &metrics());
                prop_assert!(diffs.iter().any(|d| d.field == "idempotency_key"), "{:?}", diffs);
            }

            if !listed.is_empty() {
                let mut changed = listed.clone();
                let i = tamper.index(changed.len());
                changed[i].value += Decimal::ONE;
                let diffs = verify_invoice(&inv, &changed, &items, &metrics());
                let key = changed[i].idempotency_key.clone();
                prop_assert!(diffs.iter().any(|d| d.idempotency_key.as_deref() == Some(key.as_str()) && d.field == "content_hash"), "{:?}", diffs);
                let (e, _) = evs.iter().find(|(e, _)| e.key == key).unwrap();
                for item in items.iter().filter(|i| i.kind == ItemKind::Usage) {
                    let m = metrics().into_iter().find(|m| Some(&m.code) == item.metric_code.as_ref()).unwrap();
                    let counts = counted(&m, &evs, p).iter().any(|c| c.key == e.key);
                    let named = diffs.iter().any(|d| d.item_id.as_deref() == Some(item.id.as_str()) && d.field == "usage.events_digest");
                    prop_assert_eq!(counts, named, "item {} named iff it counted the changed event: {:?}", item.id, diffs);
                }
                prop_assert!(diffs.iter().any(|d| d.field == "usage_digest"));
            }

            let before = (o.shell.store.invoices.clone(), o.shell.store.events.len(), o.shell.store.invoiced_events.len(), o.shell.store.aggregates.clone());
            let sim = o.call(m::Simulate { now: Timestamp(bounds()[3]), period_start: Some(inv.period_start), items: items.clone(), metrics: metrics() });
            prop_assert_eq!(&sim["lines"], &inv.lines, "a simulation under the same items bills the same lines");
            prop_assert_eq!(&sim["total"], &Value::String(inv.total.clone()));
            prop_assert_eq!(&sim["status"], "simulated");
            let after = (o.shell.store.invoices.clone(), o.shell.store.events.len(), o.shell.store.invoiced_events.len(), o.shell.store.aggregates.clone());
            prop_assert!(before == after, "a simulation changes nothing");
        }
    }
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
