//! The customer book against a straightforward model: any interleaving of batches (with
//! retries, in-batch duplicates and reused keys), voids, period closings, metrics created
//! late and object restarts gives the same fate for every event as the model, and stored
//! aggregates equal to a from-scratch count of the live events: no event counted twice
//! or lost.
//!
//! The shell here is an in-memory stand-in for the worker's ledger: it loads what the book
//! asks for and writes what it returns, and a restart rebuilds the book from it alone.

use edgemeter_core::aggregate::AggState;
use edgemeter_core::book::{Book, Fate, NameSpan, PeriodFacts, StateRow, StateWrites, StepInput, VoidFate, VoidTarget};
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::event::{EventRecord, PropValue, Properties, ValidEvent};
use edgemeter_core::hash::{content_hash, ContentHash};
use edgemeter_core::invoice::{invoice_number, Invoice};
use edgemeter_core::item::{Item, ItemKind};
use edgemeter_core::lifecycle::{final_from, stage, InvoiceStatus, Stage};
use edgemeter_core::metric::{Aggregation, MetricDef};
use edgemeter_core::period::{Interval, Schedule};
use edgemeter_core::pricing::Price;
use edgemeter_core::time::{Timestamp, DAY_MS};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

const CUSTOMER: &str = "cus_book";
/// 2026-01-01T00:00:00Z: monthly periods from here.
const JAN: i64 = 1_767_225_600_000;
const FEB: i64 = JAN + 31 * DAY_MS;
const MAR: i64 = FEB + 28 * DAY_MS;

fn customer() -> Customer {
    Customer {
        id: CUSTOMER.into(),
        name: "Book".into(),
        email: "b@example.com".into(),
        external_id: None,
        currency: Currency::parse("USD").unwrap(),
        invoice_schedule: Schedule {
            interval: Interval::Month,
            anchor: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            pre_generate_days: 3,
            grace_hours: 24,
        },
        auto_send: false,
        contract_id: None,
        created_at: Timestamp(JAN),
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

fn all_metrics() -> Vec<MetricDef> {
    vec![
        metric("a_sum", "a", Aggregation::Sum, None, false),
        metric("a_count", "a", Aggregation::Count, None, false),
        metric("b_max", "b", Aggregation::Max, None, false),
        metric("b_unique", "b", Aggregation::UniqueCount, Some("r"), false),
        metric("a_latest", "a", Aggregation::Latest, None, false),
        metric("a_sum_x", "a", Aggregation::Sum, None, true),
    ]
}

/// An event drawn from a small pool, so keys repeat: key `k`, content variant `v`.
#[derive(Clone, Copy, Debug)]
struct Draw {
    key: u8,
    variant: u8,
}

fn event(d: Draw) -> ValidEvent<'static> {
    // Content depends on (key, variant) only, so a retry is byte-for-byte the same event.
    let k = d.key as i64;
    let v = d.variant as i64;
    let name = if k % 3 == 0 { "b" } else { "a" };
    let ts = Timestamp(JAN + ((k * 7 + v * 13) % 80) * DAY_MS + k * 1000);
    let value = Decimal::new(k * 10 + v * 3 + 1, 1);
    let r = if (k + v) % 2 == 0 { "x" } else { "y" };
    let props = Properties::new(vec![(Cow::Borrowed("r"), PropValue::Str(Cow::Borrowed(r)))]).expect("one key");
    let hash = content_hash(CUSTOMER, name, value, Some(ts), &props);
    let key = Cow::Owned(format!("00000000-0000-7000-8000-{:012}", d.key));
    let record =
        EventRecord { key, event_name: Cow::Borrowed(name), value, ts: ts.millis(), ts_given: true, props, hash };
    record.to_valid(CUSTOMER).into_owned()
}

#[derive(Clone, Debug)]
enum Op {
    Batch(Vec<Draw>),
    Void(u8),
    /// Finalize every period before Feb 1 (0) or Mar 1 (1).
    Close(u8),
    /// One more metric from the list becomes known to callers.
    AddMetric,
    /// The object is evicted and comes back: the book is rebuilt from storage alone.
    Restart,
    /// An invoicing run at one of [`RUN_TIMES`] (in any order: runs fire late or twice).
    Invoice(u8),
    /// The draft of the period with this index (0: January …) is voided by hand.
    VoidDraft(u8),
}

/// Times invoicing runs fire at: around each month's draft point and final point.
const RUN_TIMES: [i64; 7] = [
    JAN + 29 * DAY_MS,        // January's draft
    FEB + DAY_MS + 3_600_000, // January final
    FEB + 26 * DAY_MS,        // February's draft
    MAR + DAY_MS - 1,         // just before February is final
    MAR + 2 * DAY_MS,         // February final
    MAR + 30 * DAY_MS,        // March's draft
    MAR + 40 * DAY_MS,        // March final
];

fn draw() -> impl Strategy<Value = Draw> {
    (0u8..14, 0u8..3).prop_map(|(key, v)| Draw { key, variant: u8::from(v == 2) })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(draw(), 1..12).prop_map(Op::Batch),
        2 => (0u8..14).prop_map(Op::Void),
        1 => (0u8..2).prop_map(Op::Close),
        1 => Just(Op::AddMetric),
        1 => Just(Op::Restart),
    ]
}

/// Operations of a customer whose periods close only through invoicing runs.
fn billed_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(draw(), 1..12).prop_map(Op::Batch),
        1 => (0u8..14).prop_map(Op::Void),
        3 => (0u8..RUN_TIMES.len() as u8).prop_map(Op::Invoice),
        1 => (0u8..3).prop_map(Op::VoidDraft),
        1 => Just(Op::Restart),
    ]
}

// ---------------------------------------------------------------------------------------
// The shell: storage as the worker's ledger keeps it, and the calls it makes.

#[derive(Default)]
struct Storage {
    invoices: BTreeMap<Timestamp, Invoice>,
    /// The catalog's side: numbers reserved per period, and its view of the open period.
    numbers: BTreeMap<Timestamp, String>,
    catalog_open_from: Option<Timestamp>,
    catalog_pending: Vec<Timestamp>,
    next_id: u32,
    events: BTreeMap<String, (EventRecord<'static>, Timestamp, bool)>,
    aggregates: BTreeMap<(String, Timestamp), AggState>,
    seen: BTreeMap<String, MetricDef>,
    closed_before: Option<Timestamp>,
}

impl Storage {
    fn write(&mut self, w: StateWrites) {
        if let Some((code, from)) = w.clear {
            self.aggregates.retain(|(c, p), _| !(c == &code && *p >= from));
        }
        for StateRow { metric, period_start, state } in w.put {
            self.aggregates.insert((metric, period_start), state);
        }
    }

    fn load(&self) -> Book {
        let states = self
            .aggregates
            .iter()
            .map(|((m, p), s)| StateRow { metric: m.clone(), period_start: *p, state: s.clone() })
            .collect();
        Book::load(customer(), self.closed_before, self.seen.values().cloned().collect(), states)
    }

    /// Back-fills what the book has not seen, as the ledger does before every call.
    fn ensure(&mut self, book: &mut Book, metrics: &[MetricDef]) {
        for m in book.unseen(metrics).into_iter().cloned().collect::<Vec<_>>() {
            let live: Vec<(Timestamp, ValidEvent)> = self
                .events
                .values()
                .filter(|(r, _, voided)| !voided && r.event_name == m.event_name)
                .map(|(r, p, _)| (*p, r.to_valid(CUSTOMER)))
                .collect();
            let w = book.backfill(&m, live.iter().map(|(p, e)| (*p, e)));
            self.write(w);
            self.seen.insert(m.code.clone(), m);
        }
    }

    fn ingest(&mut self, book: &mut Book, metrics: &[MetricDef], events: &[ValidEvent<'static>]) -> Vec<Fate> {
        self.ensure(book, metrics);
        let stored: HashMap<String, ContentHash> = events
            .iter()
            .filter_map(|e| {
                self.events.get(e.idempotency_key()).map(|(r, _, _)| (e.idempotency_key().to_string(), r.hash))
            })
            .collect();
        let out = book.ingest(metrics, events, &stored);
        for n in &out.new_events {
            let ev = &events[n.index];
            let rec = EventRecord::from_valid(ev);
            // Stored as the ledger stores it: JSON, read back.
            let text = serde_json::to_string(&rec).unwrap();
            let rec = serde_json::from_str::<EventRecord>(&text).unwrap().into_owned();
            assert!(self.events.insert(ev.idempotency_key().to_string(), (rec, n.period_start, false)).is_none());
        }
        self.write(out.states);
        out.fates
    }

    /// An invoicing run: the catalog reserves numbers for the periods it sees finalizing,
    /// then the customer's step runs, as in the worker.
    fn invoice(&mut self, book: &mut Book, metrics: &[MetricDef], items: &[Item], now: Timestamp) {
        let c = customer();
        let s = &c.invoice_schedule;
        let mut p = s.period_containing(self.catalog_open_from.unwrap_or(c.created_at));
        let mut wanted = std::mem::take(&mut self.catalog_pending);
        while final_from(s, p) <= now {
            wanted.push(p.start);
            p = s.next(p);
        }
        let mut numbers = Vec::new();
        for start in wanted {
            let n = self.numbers.len() + 1;
            let number = self.numbers.entry(start).or_insert_with(|| invoice_number(n as u64)).clone();
            numbers.push((start, number));
        }
        self.ensure(book, metrics);
        let periods = book.invoicing_periods(now);
        let facts = periods
            .iter()
            .map(|p| PeriodFacts {
                period: *p,
                existing: self.invoices.get(&p.start).cloned(),
                spans: self.spans(p.start),
            })
            .collect();
        let new_ids = periods
            .iter()
            .map(|_| {
                self.next_id += 1;
                format!("inv_{:026}", self.next_id)
            })
            .collect();
        let unnumbered = self.invoices.values().filter(|i| i.needs_number()).cloned().collect();
        let out = book
            .invoicing_step(StepInput {
                now,
                metrics,
                items,
                periods: facts,
                unnumbered,
                numbers: &numbers,
                new_ids,
                webhooks: true,
            })
            .unwrap();
        for inv in out.invoices {
            self.invoices.insert(inv.period_start, inv);
        }
        if let Some(c) = out.closed_before {
            self.closed_before = Some(c);
        }
        self.catalog_open_from = Some(book.first_open_period().start);
        self.catalog_pending = out.unnumbered;
    }

    fn spans(&self, period: Timestamp) -> Vec<NameSpan> {
        let mut spans: BTreeMap<String, (Timestamp, Timestamp)> = BTreeMap::new();
        for (r, p, voided) in self.events.values() {
            if *p == period && !voided {
                let t = Timestamp(r.ts);
                let e = spans.entry(r.event_name.to_string()).or_insert((t, t));
                e.0 = e.0.min(t);
                e.1 = e.1.max(t);
            }
        }
        spans.into_iter().map(|(event_name, (first, last))| NameSpan { event_name, first, last }).collect()
    }

    fn void(&mut self, book: &mut Book, metrics: &[MetricDef], key: &str) -> VoidFate {
        self.ensure(book, metrics);
        let target = self.events.get(key).map(|(r, p, voided)| VoidTarget {
            event_name: r.event_name.to_string(),
            period_start: *p,
            voided: *voided,
        });
        let fate = book.void(target.as_ref());
        if fate == VoidFate::Void {
            let t = target.unwrap();
            self.events.get_mut(key).unwrap().2 = true;
            let live: Vec<ValidEvent> = self
                .events
                .values()
                .filter(|(r, p, voided)| !voided && *p == t.period_start && r.event_name == t.event_name)
                .map(|(r, _, _)| r.to_valid(CUSTOMER))
                .collect();
            let w = book.recompute(metrics, &t.event_name, t.period_start, live.iter());
            self.write(w);
        }
        fate
    }
}

// ---------------------------------------------------------------------------------------
// The model: a list of what was stored, and the rules in their plainest form.

#[derive(Default)]
struct Model {
    stored: HashMap<String, (ValidEvent<'static>, bool)>,
    closed_before: i64,
    /// Aggregates of periods as they stood when they were closed.
    frozen: BTreeMap<(String, Timestamp), Decimal>,
}

fn period_of(ts: Timestamp) -> Timestamp {
    Timestamp(if ts.millis() >= MAR {
        MAR
    } else if ts.millis() >= FEB {
        FEB
    } else {
        JAN
    })
}

impl Model {
    fn batch(&mut self, events: &[ValidEvent<'static>]) -> Vec<Fate> {
        // Keys the batch refused as closed, by the content first sent.
        let mut closed_in_batch: HashMap<String, ContentHash> = HashMap::new();
        let mut fates = Vec::new();
        for ev in events {
            let key = ev.idempotency_key().to_string();
            let fate = if let Some((stored, _)) = self.stored.get(&key) {
                if stored.hash() == ev.hash() {
                    Fate::Duplicate
                } else {
                    Fate::Reused
                }
            } else if let Some(h) = closed_in_batch.get(&key) {
                if *h == ev.hash() {
                    Fate::Closed
                } else {
                    Fate::Reused
                }
            } else if period_of(ev.timestamp()).millis() < self.closed_before {
                closed_in_batch.insert(key, ev.hash());
                Fate::Closed
            } else {
                self.stored.insert(key, (ev.clone(), false));
                Fate::Accepted
            };
            fates.push(fate);
        }
        fates
    }

    fn void(&mut self, key: &str) -> VoidFate {
        let closed_before = self.closed_before;
        match self.stored.get_mut(key) {
            None => VoidFate::NotFound,
            Some((_, true)) => VoidFate::Already,
            Some((ev, _)) if period_of(ev.timestamp()).millis() < closed_before => VoidFate::PeriodClosed,
            Some((_, voided)) => {
                *voided = true;
                VoidFate::Void
            }
        }
    }

    /// A metric's quantity over a period, counted from scratch.
    fn quantity(&self, m: &MetricDef, period: Timestamp) -> (Decimal, u64) {
        let live = self.stored.values().filter(|(e, voided)| !voided && period_of(e.timestamp()) == period);
        let state = edgemeter_core::aggregate::aggregate(m, live.map(|(e, _)| e));
        (state.quantity(), state.event_count())
    }

    fn close(&mut self, before: i64, metrics: &[MetricDef]) {
        if before <= self.closed_before {
            return;
        }
        for p in [JAN, FEB] {
            if p < before && p >= self.closed_before {
                for m in metrics {
                    self.frozen.insert((m.code.clone(), Timestamp(p)), self.quantity(m, Timestamp(p)).0);
                }
            }
        }
        self.closed_before = before;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_book_agrees_with_the_model(ops in prop::collection::vec(op(), 1..40), first_metrics in 1usize..=6) {
        let all = all_metrics();
        let mut known = first_metrics;
        let mut storage = Storage::default();
        let mut book = storage.load();
        let mut model = Model::default();
        for op in ops {
            let metrics = &all[..known];
            match op {
                Op::Batch(draws) => {
                    let events: Vec<ValidEvent<'static>> = draws.iter().map(|d| event(*d)).collect();
                    let got = storage.ingest(&mut book, metrics, &events);
                    let want = model.batch(&events);
                    prop_assert_eq!(got, want, "batch {:?}", draws);
                }
                Op::Void(k) => {
                    let key = format!("00000000-0000-7000-8000-{k:012}");
                    prop_assert_eq!(storage.void(&mut book, metrics, &key), model.void(&key));
                }
                Op::Close(which) => {
                    let before = if which == 0 { FEB } else { MAR };
                    // What the invoicing run does: aggregates are complete for every metric
                    // callers know when a period closes.
                    storage.ensure(&mut book, &all[..known]);
                    model.close(before, &all[..known]);
                    book.close_before(Timestamp(before));
                    storage.closed_before = book.closed_before();
                }
                Op::AddMetric => known = (known + 1).min(all.len()),
                Op::Restart => book = storage.load(),
                Op::Invoice(_) | Op::VoidDraft(_) => unreachable!("only in the invoicing test"),
            }
        }
        // Every metric's stored quantity in every period equals the model's.
        let metrics = &all[..known];
        storage.ensure(&mut book, metrics);
        for m in metrics {
            for p in [JAN, FEB, MAR] {
                let p = Timestamp(p);
                let stored = storage.aggregates.get(&(m.code.clone(), p)).map_or(Decimal::ZERO, |s| s.quantity());
                let want = if p.millis() < model.closed_before {
                    model.frozen.get(&(m.code.clone(), p)).copied().unwrap_or(Decimal::ZERO)
                } else {
                    model.quantity(m, p).0
                };
                prop_assert_eq!(stored, want, "metric {} period {}", &m.code, p);
                if p.millis() >= model.closed_before {
                    let (q, n) = model.quantity(m, p);
                    let from_book = book.usage(std::slice::from_ref(m), edgemeter_core::period::Period { start: p, end: p });
                    let s = from_book.expect("open period").remove(0);
                    prop_assert_eq!((s.quantity(), s.event_count()), (q, n));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Invoicing: runs at any time, in any order, against a plain model of the lifecycle.

fn items() -> Vec<Item> {
    vec![Item {
        id: "item_sum".into(),
        customer_id: CUSTOMER.into(),
        name: "A".into(),
        kind: ItemKind::Usage,
        metric_code: Some("a_sum".into()),
        event_name: Some("a".into()),
        price: Price::PerUnit { unit_amount: Decimal::ONE },
        minimum: None,
        created_at: Timestamp(JAN),
    }]
}

/// A period's invoice as the model sees it: status, and the quantity of `a_sum` it bills.
#[derive(Clone, Debug, PartialEq)]
struct ModelInvoice {
    status: InvoiceStatus,
    quantity: Decimal,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn invoicing_gives_each_period_one_invoice_with_exact_usage_and_gap_free_numbers(
        ops in prop::collection::vec(billed_op(), 1..40),
    ) {
        let metrics = all_metrics();
        let sum = metrics[0].clone();
        let items = items();
        let schedule = customer().invoice_schedule;
        let mut storage = Storage::default();
        let mut book = storage.load();
        let mut model = Model::default();
        let mut invoices: BTreeMap<i64, ModelInvoice> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Batch(draws) => {
                    let events: Vec<ValidEvent<'static>> = draws.iter().map(|d| event(*d)).collect();
                    let got = storage.ingest(&mut book, &metrics, &events);
                    prop_assert_eq!(got, model.batch(&events), "batch {:?}", draws);
                }
                Op::Void(k) => {
                    let key = format!("00000000-0000-7000-8000-{k:012}");
                    prop_assert_eq!(storage.void(&mut book, &metrics, &key), model.void(&key));
                }
                Op::Invoice(i) => {
                    let now = Timestamp(RUN_TIMES[i as usize]);
                    storage.invoice(&mut book, &metrics, &items, now);
                    // The model: walk the periods from the first open one.
                    let mut p = schedule.period_containing(Timestamp(model.closed_before.max(JAN)));
                    loop {
                        let st = stage(&schedule, p, now);
                        if st == Stage::NotYet {
                            break;
                        }
                        let q = model.quantity(&sum, p.start).0;
                        let entry = invoices.get(&p.start.millis()).cloned();
                        let is_draft = entry.as_ref().is_none_or(|e| e.status == InvoiceStatus::Draft);
                        if st == Stage::Draft {
                            if is_draft {
                                invoices.insert(p.start.millis(), ModelInvoice { status: InvoiceStatus::Draft, quantity: q });
                            }
                            break;
                        }
                        if is_draft {
                            invoices.insert(p.start.millis(), ModelInvoice { status: InvoiceStatus::PendingApproval, quantity: q });
                        }
                        model.close(p.end.millis(), &metrics);
                        p = schedule.next(p);
                    }
                }
                Op::VoidDraft(i) => {
                    let start = [JAN, FEB, MAR][i as usize];
                    if let Some(inv) = storage.invoices.get_mut(&Timestamp(start)) {
                        if inv.status == InvoiceStatus::Draft {
                            inv.status = InvoiceStatus::Void;
                            if let Some(m) = invoices.get_mut(&start) {
                                m.status = InvoiceStatus::Void;
                            }
                        }
                    }
                }
                Op::Restart => book = storage.load(),
                Op::Close(_) | Op::AddMetric => unreachable!(),
            }
            // One invoice per period, as the model says, billing exactly its usage.
            prop_assert_eq!(storage.invoices.len(), invoices.len());
            for (start, inv) in &storage.invoices {
                let want = &invoices[&start.millis()];
                prop_assert_eq!(inv.period_start, *start);
                prop_assert_eq!(inv.status, want.status, "period {}", start);
                let billed: Decimal = inv.lines[0]["quantity"].as_str().unwrap().parse().unwrap();
                prop_assert_eq!(billed, want.quantity.normalize(), "period {}", start);
                // Past draft, an invoice has its period's number; a draft has none.
                let number = storage.numbers.get(start);
                match inv.status {
                    InvoiceStatus::Draft => prop_assert!(inv.number.is_none()),
                    _ => prop_assert_eq!(inv.number.as_ref(), number),
                }
            }
            // Numbers are one gap-free sequence, each on exactly one invoice.
            let mut given: Vec<&String> = storage.invoices.values().filter_map(|i| i.number.as_ref()).collect();
            given.sort();
            let expected: Vec<String> = (1..=given.len()).map(|n| invoice_number(n as u64)).collect();
            prop_assert_eq!(given.iter().map(|s| s.as_str()).collect::<Vec<_>>(), expected.iter().map(|s| s.as_str()).collect::<Vec<_>>());
            let ids: std::collections::BTreeSet<&String> = storage.invoices.values().map(|i| &i.id).collect();
            prop_assert_eq!(ids.len(), storage.invoices.len(), "invoice ids are unique");
        }
    }
}

/// A `unique_count` metric holds at most `MAX_DISTINCT_VALUES` values per period (its
/// state is one stored row): an event that would add one more is `full`, a value already
/// held is still accepted, a retry of a refused event is refused the same way, and the
/// state stays within a Durable Object row however long the values are.
#[test]
fn a_unique_count_stops_at_its_cap_and_says_so() {
    use edgemeter_core::aggregate::MAX_DISTINCT_VALUES;
    let unique = metric("u", "u", Aggregation::UniqueCount, Some("r"), false);
    let metrics = vec![unique.clone()];
    let mut storage = Storage::default();
    let mut book = storage.load();
    let ev = |i: usize, value: String| {
        let props = Properties::new(vec![
            (Cow::Borrowed("r"), PropValue::Str(Cow::Owned(value))),
            (Cow::Borrowed("s"), PropValue::Str(Cow::Owned(i.to_string()))),
        ])
        .expect("two keys");
        let ts = Timestamp(JAN + DAY_MS);
        let hash = content_hash(CUSTOMER, "u", Decimal::ONE, Some(ts), &props);
        let key = Cow::Owned(format!("00000000-0000-7000-8000-{i:012}"));
        let event_name = Cow::Borrowed("u");
        let record = EventRecord { key, event_name, value: Decimal::ONE, ts: ts.millis(), ts_given: true, props, hash };
        record.to_valid(CUSTOMER).into_owned()
    };
    // Values of the longest kind a property may hold.
    let value = |i: usize| format!("{i:0>512}");
    let batch = 1000;
    for start in (0..MAX_DISTINCT_VALUES - 1).step_by(batch) {
        let end = (start + batch).min(MAX_DISTINCT_VALUES - 1);
        let events: Vec<_> = (start..end).map(|i| ev(i, value(i))).collect();
        let fates = storage.ingest(&mut book, &metrics, &events);
        assert!(fates.iter().all(|f| *f == Fate::Accepted));
    }
    // One place left: the first new value takes it, the next is refused, and so is its
    // copy later in the batch and a retry; a value already held still counts its event.
    let n = MAX_DISTINCT_VALUES;
    let events = vec![ev(n, value(n)), ev(n + 1, value(n + 1)), ev(n + 1, value(n + 1)), ev(n + 2, value(7))];
    let fates = storage.ingest(&mut book, &metrics, &events);
    assert_eq!(fates, vec![Fate::Accepted, Fate::Full, Fate::Full, Fate::Accepted]);
    assert_eq!(storage.ingest(&mut book, &metrics, &[ev(n + 1, value(n + 1))]), vec![Fate::Full]);
    let state = &storage.aggregates[&("u".to_owned(), Timestamp(JAN))];
    assert_eq!(state.quantity(), Decimal::from(MAX_DISTINCT_VALUES as u64));
    assert_eq!(state.event_count(), MAX_DISTINCT_VALUES as u64 + 1);
    let row = serde_json::to_string(state).unwrap();
    assert!(row.len() < 1_500_000, "a state row of {} bytes", row.len());
    // A metric made later is back-filled from the stored events: 40,001 distinct `s`,
    // counted up to the cap, so its state too stays within a row; and it is full, so a
    // new `s` is refused.
    let late = metric("s", "u", Aggregation::UniqueCount, Some("s"), false);
    let both = vec![unique.clone(), late];
    assert_eq!(storage.ingest(&mut book, &both, &[ev(n + 4, value(7))]), vec![Fate::Full]);
    let backfilled = &storage.aggregates[&("s".to_owned(), Timestamp(JAN))];
    assert_eq!(backfilled.distinct(), MAX_DISTINCT_VALUES);
    // The next period starts empty.
    let mut next = EventRecord::from_valid(&ev(n + 3, value(n + 1))).into_owned();
    next.ts = FEB + DAY_MS;
    next.hash = content_hash(CUSTOMER, "u", Decimal::ONE, Some(Timestamp(next.ts)), &next.props);
    let next = next.to_valid(CUSTOMER).into_owned();
    assert_eq!(storage.ingest(&mut book, &metrics, &[next]), vec![Fate::Accepted]);
}
