//! Holds `openapi.json` (the document `GET /openapi.json` serves) to the server: its paths
//! and methods are exactly the router's table, and its schemas name exactly the fields the
//! Rust types serialize, both ways. A route or a field added on one side only fails here.
//! What these types cannot reach (the usage answer, rendered in the customer's object) is
//! checked over HTTP by `tests/tests/schemathesis.rs`.

use super::api::ingest::{EventResult, IngestResponse};
use super::{resolve, Op, Resolved, OPENAPI, ROUTES};
use crate::protocol::Page;
use edgemeter_core::alert::{AlertKind, Triggered};
use edgemeter_core::contract::{Acceptance, Contract, Document, Terms};
use edgemeter_core::currency::Currency;
use edgemeter_core::customer::Customer;
use edgemeter_core::invoice::{invoice_lines, CreditApplied, Invoice, LineInput, UsageSummary};
use edgemeter_core::item::{Item, ItemKind};
use edgemeter_core::lifecycle::InvoiceStatus;
use edgemeter_core::metric::{Aggregation, Metric, MetricDef};
use edgemeter_core::period::{Period, Schedule};
use edgemeter_core::pricing::{Price, Tier};
use edgemeter_core::rejection::RejectedEvent;
use edgemeter_core::time::Timestamp;
use edgemeter_core::{ApiError, ErrorCode};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    serde_json::from_slice(OPENAPI).expect("openapi.json is JSON")
}

#[test]
fn the_document_describes_exactly_the_routes_the_router_serves() {
    let doc = document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                documented.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "routes without a description: {undocumented:?}; described but not routed: {unserved:?}"
    );
}

#[test]
fn every_operation_lists_the_statuses_the_front_answers() {
    let doc = document();
    for (method, path, op) in ROUTES {
        let responses = &doc["paths"][path][method.to_lowercase()]["responses"];
        let has = |s: &str| responses.get(s).is_some();
        if matches!(op, Op::Health | Op::OpenApi) {
            continue;
        }
        // Authentication and the key's kind come before any handler.
        assert!(has("401") && has("403"), "{method} {path}: 401 and 403");
        if *method == "POST" || *method == "PATCH" {
            assert!(has("400") && has("413"), "{method} {path}: a body may be bad JSON or too large");
        }
        if *method == "POST" {
            assert!(has("409") && has("422"), "{method} {path}: Idempotency-Key answers");
        }
        if path.contains('{') {
            assert!(has("404"), "{method} {path}: an unknown resource");
        }
    }
}

#[test]
fn a_method_a_path_does_not_take_is_405_with_the_methods_it_takes() {
    assert_eq!(resolve("PROPFIND", &["v1", "customers"]), Resolved::NotAllowed(vec!["GET", "HEAD", "POST"]));
    assert_eq!(resolve("DELETE", &["v1", "customers", "cus_1"]), Resolved::NotAllowed(vec!["GET", "HEAD", "PATCH"]));
    assert_eq!(resolve("POST", &["healthz"]), Resolved::NotAllowed(vec!["GET", "HEAD"]));
    assert_eq!(resolve("get", &["v1", "items"]), Resolved::NotAllowed(vec!["GET", "HEAD"]));
    // HEAD goes where GET goes, and nowhere else.
    assert_eq!(resolve("HEAD", &["v1", "customers", "cus_1"]), Resolved::Found(Op::GetCustomer, vec!["cus_1"]));
    assert_eq!(resolve("HEAD", &["healthz"]), Resolved::Found(Op::Health, vec![]));
    assert_eq!(resolve("HEAD", &["v1", "usage", "ingest"]), Resolved::NotAllowed(vec!["POST"]));
    assert_eq!(resolve("PROPFIND", &["v1", "nope"]), Resolved::NotFound);
    assert_eq!(resolve("GET", &["v1", "customers", "", "usage"]), Resolved::NotFound);
    assert_eq!(resolve("GET", &["v1", "customers", "cus_1", "usage"]), Resolved::Found(Op::Usage, vec!["cus_1"]));
    // Every route resolves to its own operation.
    for (method, path, op) in ROUTES {
        let segments: Vec<&str> =
            path.trim_matches('/').split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect();
        assert!(matches!(resolve(method, &segments), Resolved::Found(o, _) if o == *op), "{method} {path}");
    }
}

// ---------------------------------------------------------------------------------------
// Schemas against serde: every key a sample serializes is a property of its schema, and
// every property of a schema is serialized by some sample.

#[test]
fn the_schemas_name_exactly_the_fields_the_types_serialize() {
    let doc = document();
    let mut check = Check { doc: &doc, seen: BTreeMap::new(), errors: Vec::new() };
    let now = Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").expect("a time");
    let customer = sample_customer(now);
    let items = sample_items(now);
    let metrics = sample_metrics(now);
    let invoice = sample_invoice(&customer, &items, now);

    check.value("#/components/schemas/Customer", &to_value(&customer));
    check.value("#/components/schemas/Customer", &to_value(&Customer { external_id: None, ..customer.clone() }));
    check.value(&response_schema(&doc, "/v1/customers", "get", "200"), &to_value(&page(vec![customer.clone()])));
    for item in &items {
        check.value("#/components/schemas/Item", &to_value(item));
    }
    check.value(&response_schema(&doc, "/v1/items", "get", "200"), &to_value(&page(items.clone())));
    for metric in &metrics {
        check.value("#/components/schemas/Metric", &to_value(metric));
    }
    check.value(&response_schema(&doc, "/v1/billing/metrics", "get", "200"), &to_value(&page(metrics)));
    check.value("#/components/schemas/Invoice", &to_value(&invoice));
    // The webhooks' bodies, as the objects queue them.
    for kind in ["invoice.finalized", "invoice.sent"] {
        let body = edgemeter_core::book::webhook(kind, &invoice, now).body;
        check.value("#/components/schemas/InvoiceWebhook", &serde_json::from_str(&body).expect("a JSON body"));
    }
    for kind in [AlertKind::Usage, AlertKind::Spend, AlertKind::CreditBalance] {
        let fired = Triggered {
            event_id: "evt_alert_alr_1_1".into(),
            alert_id: "alr_1".into(),
            kind,
            threshold: "10".into(),
            value: "12.5".into(),
            period: Period { start: now, end: now.saturating_add_ms(86_400_000) },
        };
        let body = fired.body(&customer.id, now);
        check.value("#/components/schemas/AlertTriggeredWebhook", &serde_json::from_str(&body).expect("a JSON body"));
    }
    check.value(&response_schema(&doc, "/v1/invoices", "get", "200"), &to_value(&page(vec![invoice])));
    check.value("#/components/schemas/IngestResponse", &to_value(&sample_ingest_response()));
    let error = ApiError::new(ErrorCode::InvalidField, "bad").field("name");
    check.value("#/components/schemas/Error", &serde_json::json!({ "error": error }));
    let mut whole = ApiError::new(ErrorCode::InvalidContract, "1 problem in the contract").field("items");
    whole.errors = vec![ApiError::invalid("items", "`items` must be an array")];
    check.value("#/components/schemas/Error", &serde_json::json!({ "error": whole }));

    let (draft, accepted, acceptance) = sample_contracts(&metrics_defs(now), now);
    check.value("#/components/schemas/Contract", &to_value(&draft));
    check.value(&response_schema(&doc, "/v1/contracts", "get", "200"), &to_value(&page(vec![draft, accepted.clone()])));
    check.value(
        &response_schema(&doc, "/v1/contracts/{id}/accept", "post", "200"),
        &serde_json::json!({ "contract": accepted, "customer": acceptance.customer }),
    );
    let rejected = RejectedEvent::new(
        now,
        &ApiError::new(ErrorCode::TimestampInFuture, "ahead").field("timestamp"),
        r#"{"idempotency_key":"k","customer_id":"cus_1","event_name":"ocr","value":2}"#,
    );
    check.value(&response_schema(&doc, "/v1/rejections", "get", "200"), &to_value(&page(vec![rejected])));

    // Every schema a sample reached, with the properties no sample produced.
    for (pointer, (properties, keys)) in &check.seen {
        for p in properties.difference(keys) {
            check.errors.push(format!("{pointer}: property `{p}` is in the schema but no type serializes it"));
        }
    }
    assert!(check.errors.is_empty(), "openapi.json and the Rust types differ:\n{}", check.errors.join("\n"));
}

/// Every error code the server may answer is listed in the document's `ApiError.code`.
#[test]
fn the_document_lists_every_error_code() {
    let doc = document();
    let listed: BTreeSet<&str> = doc["components"]["schemas"]["ApiError"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the codes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, codes);
}

struct Check<'d> {
    doc: &'d Value,
    /// Per schema reached (by its JSON pointer): its properties, and the keys seen in it.
    seen: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    errors: Vec<String>,
}

impl Check<'_> {
    /// Checks `value` against the schema at `pointer` (`#/…`).
    fn value(&mut self, pointer: &str, value: &Value) {
        let schema = self.doc.pointer(pointer.trim_start_matches('#')).unwrap_or_else(|| panic!("{pointer} exists"));
        self.schema(pointer, schema, value);
    }

    fn schema(&mut self, pointer: &str, schema: &Value, value: &Value) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return self.value(r, value);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = schema.get(key).and_then(Value::as_array) {
                let fits: Vec<usize> = (0..variants.len()).filter(|&i| self.fits(&variants[i], value)).collect();
                match fits.first() {
                    Some(&i) => self.schema(&format!("{pointer}/{key}/{i}"), &variants[i], value),
                    None => self.errors.push(format!("{pointer}: no variant fits {value}")),
                }
                return;
            }
        }
        if let Some(types) = schema.get("type") {
            let name = json_type(value);
            let ok = match types {
                Value::String(t) => same_type(t, name),
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| same_type(t, name)),
                _ => true,
            };
            if !ok {
                self.errors.push(format!("{pointer}: {value} is a {name}, the schema says {types}"));
                return;
            }
        }
        match value {
            Value::Object(map) => {
                let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
                    // A map (`filters`): check its values.
                    if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                        for v in map.values() {
                            self.schema(&format!("{pointer}/additionalProperties"), values, v);
                        }
                    }
                    return;
                };
                let entry = self.seen.entry(pointer.to_owned()).or_default();
                entry.0.extend(properties.keys().cloned());
                entry.1.extend(map.keys().cloned());
                for (k, v) in map {
                    match properties.get(k) {
                        Some(s) => self.schema(&format!("{pointer}/properties/{k}"), s, v),
                        None => self.errors.push(format!("{pointer}: the type serializes `{k}`, the schema lacks it")),
                    }
                }
                if let Some(required) = schema.get("required").and_then(Value::as_array) {
                    for r in required.iter().filter_map(Value::as_str) {
                        if !map.contains_key(r) {
                            self.errors.push(format!("{pointer}: `{r}` is required, the type left it out"));
                        }
                    }
                }
            }
            Value::Array(list) => {
                if let Some(items) = schema.get("items") {
                    for v in list {
                        self.schema(&format!("{pointer}/items"), items, v);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether a `oneOf` variant is the one `value` means: its type, its `const` or `enum`
    /// discriminators, and its property names.
    fn fits(&self, schema: &Value, value: &Value) -> bool {
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.doc.pointer(r.trim_start_matches('#')).unwrap_or(&Value::Null),
            None => schema,
        };
        if let Some(c) = schema.get("const") {
            return c == value;
        }
        match schema.get("type") {
            Some(Value::String(t)) if !same_type(t, json_type(value)) => return false,
            Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| same_type(t, json_type(value))) => {
                return false
            }
            _ => {}
        }
        if let Value::Object(map) = value {
            let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return false };
            return map.iter().all(|(k, v)| {
                properties.get(k).is_some_and(|p| match (p.get("const"), p.get("enum")) {
                    (Some(c), _) => c == v,
                    (_, Some(Value::Array(e))) => e.contains(v),
                    _ => true,
                })
            });
        }
        true
    }
}

/// Whether a value of JSON type `name` is of the schema's type `t`.
fn same_type(t: &str, name: &str) -> bool {
    t == name || (t == "number" && name == "integer")
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn response_schema(doc: &Value, path: &str, method: &str, status: &str) -> String {
    let pointer = format!(
        "#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
        path.replace('~', "~0").replace('/', "~1")
    );
    assert!(doc.pointer(pointer.trim_start_matches('#')).is_some(), "{pointer} exists");
    pointer
}

fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("a sample serializes")
}

fn page<T>(data: Vec<T>) -> Page<T> {
    Page { data, next_cursor: Some("cursor".into()) }
}

fn d(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

fn metrics_defs(now: Timestamp) -> Vec<MetricDef> {
    sample_metrics(now).into_iter().map(|m| m.def).collect()
}

/// A draft with an expiry and none of the later fields, and an accepted one with all.
fn sample_contracts(metrics: &[MetricDef], now: Timestamp) -> (Contract, Contract, Acceptance) {
    let code = &metrics[0].code;
    let body = serde_json::json!({
        "customer": {"name": "Acme", "email": "ap@acme.test", "external_id": "crm-1"},
        "items": [
            {"name": "Pages", "kind": "usage", "metric_code": code, "minimum": "5",
             "price": {"model": "per_unit", "unit_amount": "0.1"}},
            {"name": "Fee", "kind": "fixed", "price": {"model": "fixed", "amount": "9"}}
        ],
        "expires_at": "2027-01-01T00:00:00Z"
    });
    let terms = Terms::from_body(body.to_string().as_bytes(), now, metrics).expect("sample terms");
    let draft = Contract::new(edgemeter_core::id::new_id("ctr", now, [1; 10]), terms, now);
    let mut accepted = draft.clone();
    accepted
        .set_document(
            Document {
                name: "msa.pdf".into(),
                content_type: "application/pdf".into(),
                size: 10,
                sha256: "0".repeat(64),
                uploaded_at: now,
            },
            now,
        )
        .expect("a draft takes a document");
    let acceptance = accepted.begin_accept(now).expect("accepting");
    accepted.finish_accept(&acceptance.customer.id, now).expect("accepted");
    let mut canceled = draft.clone();
    canceled.cancel(now).expect("a draft cancels");
    accepted.canceled_at = canceled.canceled_at;
    (draft, accepted, acceptance)
}

fn sample_customer(now: Timestamp) -> Customer {
    Customer {
        id: "cus_01".into(),
        name: "Acme".into(),
        email: "ap@acme.test".into(),
        external_id: Some("acme-1".into()),
        currency: Currency::parse("EUR").expect("EUR"),
        invoice_schedule: Schedule::default_at(now),
        auto_send: true,
        contract_id: None,
        created_at: now,
    }
}

/// One item per price model.
fn sample_items(now: Timestamp) -> Vec<Item> {
    let tiers = vec![
        Tier { up_to: Some(d("1000")), unit_amount: d("0.05"), flat_amount: d("1") },
        Tier { up_to: None, unit_amount: d("0.03"), flat_amount: Decimal::ZERO },
    ];
    let usage = |n: &str, price: Price| Item {
        id: format!("item_{n}"),
        customer_id: "cus_01".into(),
        name: n.into(),
        kind: ItemKind::Usage,
        metric_code: Some("calls".into()),
        event_name: Some("call".into()),
        price,
        minimum: Some(d("10")),
        created_at: now,
    };
    vec![
        usage("per_unit", Price::PerUnit { unit_amount: d("0.05") }),
        usage("package", Price::Package { package_size: 100, package_amount: d("5") }),
        usage("graduated", Price::Graduated { tiers: tiers.clone() }),
        usage("volume", Price::Volume { tiers }),
        Item {
            id: "item_fixed".into(),
            customer_id: "cus_01".into(),
            name: "Platform fee".into(),
            kind: ItemKind::Fixed,
            metric_code: None,
            event_name: None,
            price: Price::Fixed { amount: d("99") },
            minimum: None,
            created_at: now,
        },
    ]
}

fn sample_metrics(now: Timestamp) -> Vec<Metric> {
    let def = |code: &str, aggregation, field: Option<&str>| MetricDef {
        code: code.into(),
        name: code.into(),
        event_name: "call".into(),
        aggregation,
        field: field.map(str::to_owned),
        filters: BTreeMap::from([("region".to_owned(), vec!["eu".to_owned()])]),
    };
    vec![
        Metric { id: "met_1".into(), def: def("calls", Aggregation::Sum, None), created_at: now },
        Metric { id: "met_2".into(), def: def("users", Aggregation::UniqueCount, Some("user")), created_at: now },
    ]
}

/// A final invoice with a line of each item.
fn sample_invoice(customer: &Customer, items: &[Item], now: Timestamp) -> Invoice {
    let usage = Some(UsageSummary {
        metric_code: "calls".into(),
        event_count: 3,
        first_event_at: Some(now),
        last_event_at: Some(now),
        events_digest: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
    });
    let inputs = items.iter().map(|item| LineInput { item, quantity: d("1500"), usage: usage.clone() });
    let lines = invoice_lines(customer.currency, inputs).expect("priced");
    let period = Period { start: now, end: now.saturating_add_ms(1000) };
    let mut invoice = Invoice::from_lines(customer, period, InvoiceStatus::Sent, &lines);
    invoice.id = "inv_1".into();
    invoice.number = Some("INV-000001".into());
    invoice.finalized_at = Some(now);
    invoice.sent_at = Some(now);
    invoice.voided_at = Some(now);
    invoice.usage_digest = Some("5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456".into());
    invoice.credits_applied = vec![CreditApplied { grant_id: "cg_1".into(), amount: "5.00".into() }];
    invoice
}

fn sample_ingest_response() -> IngestResponse<'static> {
    IngestResponse {
        accepted: 1,
        duplicates: 1,
        rejected: 2,
        results: vec![
            EventResult { idempotency_key: Some("k1"), status: "accepted", error: None },
            EventResult { idempotency_key: Some("k1"), status: "duplicate", error: None },
            EventResult {
                idempotency_key: None,
                status: "rejected",
                error: Some(ApiError::new(ErrorCode::MissingIdempotencyKey, "no key").field("idempotency_key")),
            },
            EventResult {
                idempotency_key: Some("k2"),
                status: "rejected",
                error: Some(ApiError::new(ErrorCode::InvalidRequest, "not an object")),
            },
        ],
    }
}
