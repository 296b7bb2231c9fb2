//! Contracts (API.md, "Contracts"): the terms a customer signed, and the document itself,
//! from `draft` to `accepted`, which creates the customer and its items.
//!
//! A contract is validated whole on every write and every problem is reported at once,
//! each with its field path (`items[2].price.tiers[0].unit_amount`), because the one who
//! writes it is a person at a form, not a program retrying one field at a time.
//!
//! Accepting is a state machine whose every step can be repeated: [`Contract::begin_accept`]
//! moves a draft to `accepting` and names the customer and items it will create (ids
//! derived from the contract's, times from the first attempt), the customer's object
//! creates them in one transaction (a repeat finds them), and
//! [`Contract::finish_accept`] records the link. A failure anywhere leaves `accepting`,
//! which the next attempt completes: nothing is created twice or half.

use crate::currency::Currency;
use crate::customer::{Customer, CustomerInput};
use crate::error::{ApiError, ErrorCode};
use crate::id::derived_id;
use crate::input::{Fields, Problems};
use crate::item::{Item, ItemInput, ItemKind};
use crate::metric::MetricDef;
use crate::period::Schedule;
use crate::pricing::Price;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most line items a contract may have.
pub const MAX_ITEMS: usize = 50;
/// The largest signed document, in bytes (10 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// Where a contract is. `expired` is never stored: it is a draft read after its
/// `expires_at` ([`Contract::status_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractStatus {
    Draft,
    /// Acceptance began and has not completed; accepting again completes it.
    Accepting,
    Accepted,
    Canceled,
    Expired,
}

impl ContractStatus {
    pub fn parse(s: &str) -> Option<ContractStatus> {
        Some(match s {
            "draft" => ContractStatus::Draft,
            "accepting" => ContractStatus::Accepting,
            "accepted" => ContractStatus::Accepted,
            "canceled" => ContractStatus::Canceled,
            "expired" => ContractStatus::Expired,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Draft => "draft",
            ContractStatus::Accepting => "accepting",
            ContractStatus::Accepted => "accepted",
            ContractStatus::Canceled => "canceled",
            ContractStatus::Expired => "expired",
        }
    }
}

/// The customer a contract will create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractCustomer {
    pub name: String,
    pub email: String,
    pub external_id: Option<String>,
    pub currency: Currency,
}

/// A line item as the contract states it; accepting makes it an [`Item`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractItem {
    pub name: String,
    pub kind: ItemKind,
    pub metric_code: Option<String>,
    /// The event name that feeds the metric (read from the metric when written).
    pub event_name: Option<String>,
    pub price: Price,
    pub minimum: Option<Decimal>,
}

/// The signed file, kept in R2 under [`Document::key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub uploaded_at: Timestamp,
}

impl Document {
    /// Where a contract's document is kept: by its hash, so that the bytes stored and the
    /// metadata recorded always match, whichever of two racing uploads records last.
    pub fn key(&self, contract_id: &str) -> String {
        format!("contracts/{contract_id}/{}", self.sha256)
    }
}

/// The terms: everything a client writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub customer: ContractCustomer,
    pub items: Vec<ContractItem>,
    pub invoice_schedule: Schedule,
    pub auto_send: bool,
    pub starts_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// A contract as stored and returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    pub id: String,
    pub status: ContractStatus,
    #[serde(flatten)]
    pub terms: Terms,
    pub document: Option<Document>,
    /// The customer accepting created.
    pub customer_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When acceptance began; the customer's `created_at`.
    pub accepted_at: Option<Timestamp>,
    pub canceled_at: Option<Timestamp>,
}

/// What accepting creates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub customer: Customer,
    pub items: Vec<Item>,
}

impl Terms {
    /// Reads a whole contract document. `metrics` are the account's, for usage items'
    /// `metric_code`s.
    pub fn from_body(body: &[u8], now: Timestamp, metrics: &[MetricDef]) -> Result<Terms, ApiError> {
        Terms::read(Fields::parse(body)?, now, metrics).map_err(invalid_contract)
    }

    fn read(mut f: Fields, now: Timestamp, metrics: &[MetricDef]) -> Result<Terms, Vec<ApiError>> {
        let mut p = Problems::default();
        let customer = match f.req_value("customer").and_then(|v| Fields::part(v, "customer")) {
            Err(e) => {
                p.push(e);
                None
            }
            Ok(cf) => match CustomerInput::read(cf, now, false) {
                Err(problems) => {
                    p.nest("customer", problems);
                    None
                }
                Ok(c) => {
                    if c.name.is_none() {
                        p.push(ApiError::missing("name").under("customer"));
                    }
                    if c.email.is_none() {
                        p.push(ApiError::missing("email").under("customer"));
                    }
                    match (c.name, c.email) {
                        (Some(name), Some(email)) => Some(ContractCustomer {
                            name,
                            email,
                            external_id: c.external_id,
                            currency: c.currency.unwrap_or(Currency::USD),
                        }),
                        _ => None,
                    }
                }
            },
        };
        let items = p.keep(f.req_value("items").and_then(|v| match v {
            Value::Array(list) if (1..=MAX_ITEMS).contains(&list.len()) => Ok(list),
            _ => Err(ApiError::invalid("items", format!("`items` must be an array of 1 to {MAX_ITEMS} items"))),
        }));
        let mut read_items = Vec::new();
        for (i, v) in items.unwrap_or_default().into_iter().enumerate() {
            let at = format!("items[{i}]");
            // The metric is checked even when the item has other problems.
            let event_name = match v.get("metric_code").and_then(Value::as_str) {
                None => None,
                Some(code) => match metrics.iter().find(|m| m.code == code) {
                    Some(m) => Some(m.event_name.clone()),
                    None => {
                        p.push(
                            ApiError::new(ErrorCode::UnknownMetric, format!("no metric with code `{code}`"))
                                .field(format!("{at}.metric_code")),
                        );
                        None
                    }
                },
            };
            let item = match Fields::part(v, at.clone()) {
                Err(e) => {
                    p.push(e);
                    continue;
                }
                Ok(itf) => match ItemInput::read(itf) {
                    Err(problems) => {
                        p.nest(&at, problems);
                        continue;
                    }
                    Ok(item) => item,
                },
            };
            if item.metric_code.is_some() && event_name.is_none() {
                continue;
            }
            read_items.push(ContractItem {
                name: item.name,
                kind: item.kind,
                metric_code: item.metric_code,
                event_name,
                price: item.price,
                minimum: item.minimum,
            });
        }
        let starts_at = p.keep(time_field(&mut f, "starts_at")).flatten().unwrap_or(now);
        let expires_at = p.keep(time_field(&mut f, "expires_at")).flatten();
        if expires_at.is_some_and(|e| e <= now) {
            p.push(ApiError::invalid("expires_at", "`expires_at` must be in the future"));
        }
        let invoice_schedule = p
            .keep(f.take("invoice_schedule").map(|v| Schedule::from_value(v, starts_at)).transpose())
            .flatten()
            .unwrap_or_else(|| Schedule::default_at(starts_at));
        let auto_send = p.keep(f.opt_bool("auto_send")).flatten().unwrap_or(false);
        p.0.extend(f.unknown());
        match customer {
            Some(customer) if p.is_empty() => {
                Ok(Terms { customer, items: read_items, invoice_schedule, auto_send, starts_at, expires_at })
            }
            _ => Err(p.0),
        }
    }

    /// The terms as a client writes them, so that a patch can be laid over them and the
    /// whole read again.
    fn to_document(&self) -> Map<String, Value> {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|i| {
                serde_json::json!({
                    "name": i.name, "kind": i.kind, "metric_code": i.metric_code,
                    "price": i.price, "minimum": i.minimum,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "customer": self.customer,
            "items": items,
            "invoice_schedule": self.invoice_schedule,
            "auto_send": self.auto_send,
            "starts_at": self.starts_at,
            "expires_at": self.expires_at,
        });
        match doc {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// An optional RFC 3339 time field.
fn time_field(f: &mut Fields, key: &'static str) -> Result<Option<Timestamp>, ApiError> {
    match f.opt_str(key)? {
        None => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(&s).map(Some).map_err(|_| {
            ApiError::new(ErrorCode::InvalidTimestamp, format!("`{key}` must be an RFC 3339 time with an offset"))
                .field(key)
        }),
    }
}

/// The one error for a document with problems: `invalid_contract`, naming the first
/// problem's field, with every problem in `errors`.
fn invalid_contract(problems: Vec<ApiError>) -> ApiError {
    let n = problems.len();
    let mut e = ApiError::new(
        ErrorCode::InvalidContract,
        if n == 1 { "1 problem in the contract".to_owned() } else { format!("{n} problems in the contract") },
    );
    e.field = problems.first().and_then(|p| p.field.clone());
    e.errors = problems;
    e
}

fn not_draft(status: ContractStatus) -> ApiError {
    ApiError::new(ErrorCode::ContractNotDraft, format!("the contract is {}, not a draft", status.as_str()))
}

impl Contract {
    /// A new draft.
    pub fn new(id: String, terms: Terms, now: Timestamp) -> Contract {
        Contract {
            id,
            status: ContractStatus::Draft,
            terms,
            document: None,
            customer_id: None,
            created_at: now,
            updated_at: now,
            accepted_at: None,
            canceled_at: None,
        }
    }

    /// The status as read at `now`: a draft past `expires_at` is `expired`.
    pub fn status_at(&self, now: Timestamp) -> ContractStatus {
        match (self.status, self.terms.expires_at) {
            (ContractStatus::Draft, Some(e)) if e <= now => ContractStatus::Expired,
            (s, _) => s,
        }
    }

    /// The contract as answered at `now`.
    pub fn at(mut self, now: Timestamp) -> Contract {
        self.status = self.status_at(now);
        self
    }

    /// Only a draft changes (an expired one too: a patch can move `expires_at`).
    fn require_draft(&self) -> Result<(), ApiError> {
        match self.status {
            ContractStatus::Draft => Ok(()),
            s => Err(not_draft(s)),
        }
    }

    /// `PATCH`: each top-level field given replaces the stored one, and the result is
    /// validated whole.
    pub fn patch(&mut self, body: &[u8], now: Timestamp, metrics: &[MetricDef]) -> Result<(), ApiError> {
        self.require_draft()?;
        let mut f = Fields::parse(body)?;
        let mut doc = self.terms.to_document();
        for key in f.keys() {
            if let Some(v) = f.take_raw(&key) {
                doc.insert(key, v);
            }
        }
        let merged = serde_json::to_vec(&Value::Object(doc))
            .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("patch: {e}")))?;
        self.terms = Terms::from_body(&merged, now, metrics)?;
        self.updated_at = now;
        Ok(())
    }

    /// Attaches (or replaces) the signed document, while a draft.
    pub fn set_document(&mut self, document: Document, now: Timestamp) -> Result<(), ApiError> {
        self.require_draft()?;
        self.document = Some(document);
        self.updated_at = now;
        Ok(())
    }

    pub fn cancel(&mut self, now: Timestamp) -> Result<(), ApiError> {
        self.require_draft()?;
        self.status = ContractStatus::Canceled;
        self.canceled_at = Some(now);
        self.updated_at = now;
        Ok(())
    }

    /// Begins (or, from `accepting`, repeats) acceptance and names what it creates: the
    /// same customer and items on every attempt.
    pub fn begin_accept(&mut self, now: Timestamp) -> Result<Acceptance, ApiError> {
        match self.status_at(now) {
            ContractStatus::Draft => {
                self.status = ContractStatus::Accepting;
                self.accepted_at = Some(now);
                self.updated_at = now;
            }
            ContractStatus::Accepting => {}
            ContractStatus::Expired => {
                return Err(ApiError::new(
                    ErrorCode::ContractExpired,
                    "the contract expired before it was accepted; patch `expires_at` to offer it again",
                ))
            }
            s => return Err(not_draft(s)),
        }
        self.acceptance()
    }

    /// What accepting creates (for a contract that is `accepting` or `accepted`).
    pub fn acceptance(&self) -> Result<Acceptance, ApiError> {
        let at = self.accepted_at.unwrap_or(self.updated_at);
        let bad_id = || ApiError::new(ErrorCode::InternalError, format!("contract id `{}` is malformed", self.id));
        let customer_id = derived_id("cus", &self.id, 0).ok_or_else(bad_id)?;
        let t = &self.terms;
        let customer = Customer {
            id: customer_id.clone(),
            name: t.customer.name.clone(),
            email: t.customer.email.clone(),
            external_id: t.customer.external_id.clone(),
            currency: t.customer.currency,
            invoice_schedule: t.invoice_schedule.clone(),
            auto_send: t.auto_send,
            contract_id: Some(self.id.clone()),
            created_at: at,
        };
        let items = t
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                Ok(Item {
                    id: derived_id("item", &self.id, i).ok_or_else(bad_id)?,
                    customer_id: customer_id.clone(),
                    name: it.name.clone(),
                    kind: it.kind,
                    metric_code: it.metric_code.clone(),
                    event_name: it.event_name.clone(),
                    price: it.price.clone(),
                    minimum: it.minimum,
                    created_at: at,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Acceptance { customer, items })
    }

    /// Completes acceptance once the customer exists. Repeating it changes nothing.
    pub fn finish_accept(&mut self, customer_id: &str, now: Timestamp) -> Result<(), ApiError> {
        match self.status {
            ContractStatus::Accepting => {
                self.status = ContractStatus::Accepted;
                self.customer_id = Some(customer_id.to_owned());
                self.updated_at = now;
                Ok(())
            }
            ContractStatus::Accepted if self.customer_id.as_deref() == Some(customer_id) => Ok(()),
            s => Err(not_draft(s)),
        }
    }
}

/// The type of a document, read from its first bytes (never from what the client says):
/// PDF, PNG, JPEG, GIF or WebP, with the extension a download gets.
pub fn sniff_document(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    let starts = |p: &[u8]| bytes.starts_with(p);
    if starts(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if starts(b"\xff\xd8\xff") {
        Some(("image/jpeg", "jpg"))
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// A document's file name: the client's, cut to a safe form (no paths, quotes or
/// control characters, at most 128 characters), or `document.<ext>`.
pub fn document_name(given: Option<&str>, ext: &str) -> String {
    let base = given.and_then(|g| g.rsplit(['/', '\\']).next()).unwrap_or("");
    let clean: String =
        base.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/' | ';')).take(128).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        format!("document.{ext}")
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Aggregation;
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-12-03T10:00:00Z").unwrap()
    }

    fn metrics() -> Vec<MetricDef> {
        vec![MetricDef {
            code: "ocr_pages".into(),
            name: "OCR pages".into(),
            event_name: "ocr".into(),
            aggregation: Aggregation::Sum,
            field: None,
            filters: Default::default(),
        }]
    }

    fn good() -> Value {
        json!({
            "customer": {"name": "Acme", "email": "ap@acme.test", "currency": "EUR"},
            "items": [
                {"name": "OCR", "kind": "usage", "metric_code": "ocr_pages",
                 "price": {"model": "graduated", "tiers": [
                     {"up_to": 1000, "unit_amount": "0.05"}, {"up_to": null, "unit_amount": "0.03"}]}},
                {"name": "Platform", "kind": "fixed", "price": {"model": "fixed", "amount": "99.00"}}
            ],
            "expires_at": "2026-12-31T00:00:00Z"
        })
    }

    fn read(v: &Value) -> Result<Terms, ApiError> {
        Terms::from_body(v.to_string().as_bytes(), now(), &metrics())
    }

    fn draft() -> Contract {
        let id = crate::id::new_id("ctr", now(), [3; 10]);
        Contract::new(id, read(&good()).unwrap(), now())
    }

    #[test]
    fn a_good_contract_reads_with_defaults() {
        let t = read(&good()).unwrap();
        assert_eq!(t.customer.currency.code(), "EUR");
        assert_eq!(t.starts_at, now());
        assert_eq!(t.invoice_schedule.anchor.to_string(), "2026-12-01");
        assert_eq!(t.items[0].event_name.as_deref(), Some("ocr"));
        assert!(!t.auto_send);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut v = good();
        v["customer"]["email"] = json!("nope");
        v["customer"]["colour"] = json!("red");
        v["items"][0]["price"]["tiers"][1]["unit_amount"] = json!("-1");
        v["items"][1]["metric_code"] = json!("ocr_pages");
        v["items"].as_array_mut().unwrap().push(json!({"name": "X", "kind": "usage", "metric_code": "nope",
            "price": {"model": "per_unit", "unit_amount": "x"}}));
        v["expires_at"] = json!("2020-01-01T00:00:00Z");
        v["starts_at"] = json!("yesterday");
        let e = read(&v).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidContract);
        let fields: Vec<(&str, ErrorCode)> =
            e.errors.iter().map(|p| (p.field.as_deref().unwrap_or(""), p.code)).collect();
        assert_eq!(
            fields,
            vec![
                ("customer.email", ErrorCode::InvalidField),
                ("customer.colour", ErrorCode::UnknownField),
                ("items[0].price.tiers[1].unit_amount", ErrorCode::InvalidField),
                ("items[1].metric_code", ErrorCode::InvalidField),
                ("items[2].metric_code", ErrorCode::UnknownMetric),
                ("items[2].price.unit_amount", ErrorCode::InvalidField),
                ("starts_at", ErrorCode::InvalidTimestamp),
                ("expires_at", ErrorCode::InvalidField),
            ]
        );
        assert_eq!(e.field.as_deref(), Some("customer.email"));
        assert_eq!(e.message, "8 problems in the contract");
    }

    #[test]
    fn missing_parts_are_named() {
        let e = read(&json!({"customer": {}, "items": []})).unwrap_err();
        let fields: Vec<&str> = e.errors.iter().filter_map(|p| p.field.as_deref()).collect();
        assert_eq!(fields, vec!["customer.name", "customer.email", "items"]);
        let e = read(&json!({})).unwrap_err();
        let fields: Vec<&str> = e.errors.iter().filter_map(|p| p.field.as_deref()).collect();
        assert_eq!(fields, vec!["customer", "items"]);
        assert_eq!(Terms::from_body(b"[1]", now(), &[]).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn a_patch_replaces_fields_and_is_checked_whole() {
        let mut c = draft();
        c.patch(
            br#"{"auto_send": true, "customer": {"name": "Acme GmbH", "email": "x@acme.test"}}"#,
            now(),
            &metrics(),
        )
        .unwrap();
        assert!(c.terms.auto_send);
        assert_eq!(c.terms.customer.name, "Acme GmbH");
        // The customer was replaced whole: its currency went back to the default.
        assert_eq!(c.terms.customer.currency, Currency::USD);
        assert_eq!(c.terms.items.len(), 2, "items kept");
        let before = c.clone();
        let e = c.patch(br#"{"items": [], "bogus": 1}"#, now(), &metrics()).unwrap_err();
        assert_eq!(e.errors.len(), 2);
        assert_eq!(c, before, "a refused patch changes nothing");
    }

    #[test]
    fn acceptance_is_the_same_on_every_attempt_and_happens_once() {
        let mut c = draft();
        let later = Timestamp(now().millis() + 1000);
        let first = c.begin_accept(now()).unwrap();
        assert_eq!(c.status, ContractStatus::Accepting);
        let again = c.begin_accept(later).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.customer.contract_id.as_deref(), Some(c.id.as_str()));
        assert_eq!(first.items.len(), 2);
        assert!(first.items.iter().all(|i| i.customer_id == first.customer.id));
        c.finish_accept(&first.customer.id, later).unwrap();
        c.finish_accept(&first.customer.id, later).unwrap();
        assert_eq!(c.status, ContractStatus::Accepted);
        assert_eq!(c.begin_accept(later).unwrap_err().code, ErrorCode::ContractNotDraft);
        assert_eq!(c.cancel(later).unwrap_err().code, ErrorCode::ContractNotDraft);
        assert_eq!(c.patch(b"{}", later, &metrics()).unwrap_err().code, ErrorCode::ContractNotDraft);
    }

    #[test]
    fn an_expired_or_canceled_contract_is_not_accepted() {
        let mut c = draft();
        let after = Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(c.status_at(after), ContractStatus::Expired);
        assert_eq!(c.begin_accept(after).unwrap_err().code, ErrorCode::ContractExpired);
        assert_eq!(c.status, ContractStatus::Draft);
        c.cancel(now()).unwrap();
        assert_eq!(c.begin_accept(now()).unwrap_err().code, ErrorCode::ContractNotDraft);
    }

    #[test]
    fn documents_are_typed_by_their_bytes_and_named_safely() {
        assert_eq!(sniff_document(b"%PDF-1.7\n..."), Some(("application/pdf", "pdf")));
        assert_eq!(sniff_document(b"\x89PNG\r\n\x1a\n...."), Some(("image/png", "png")));
        assert_eq!(sniff_document(b"RIFF\0\0\0\0WEBPVP8 "), Some(("image/webp", "webp")));
        assert_eq!(sniff_document(b"<html>"), None);
        assert_eq!(sniff_document(b""), None);
        assert_eq!(document_name(Some("../../etc/msa \"v2\".pdf"), "pdf"), "msa v2.pdf");
        assert_eq!(document_name(Some(".."), "pdf"), "document.pdf");
        assert_eq!(document_name(None, "png"), "document.png");
    }

    #[test]
    fn a_contract_round_trips_through_its_stored_form() {
        let c = draft();
        let text = serde_json::to_string(&c).unwrap();
        let back: Contract = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], "draft");
        assert_eq!(v["customer"]["name"], "Acme");
        assert!(v["items"][0]["price"]["tiers"].is_array());
    }
}
