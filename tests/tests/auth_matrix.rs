//! The auth matrix (API.md "Conventions", Auth; "Customer tokens"): every route the
//! server serves × every kind of credential → the status and error code it answers. The
//! routes come from the `openapi.json` the server itself serves, so a route added later is
//! in the matrix without an edit here; the table below gives each route the resources its
//! path names, a body and what the secret key gets. Routes the spec promises but the
//! server does not serve yet are in the table too, marked so, and asserted once served.
//!
//! The test prints the matrix as markdown (`-- --nocapture`); RELIABILITY.md shows it.
//! Its own server: the setup runs the invoicing cron, which invoices every due customer.

use edgemeter_core::time::Timestamp;
use edgemeter_core::token::{self, Claims};
use edgemeter_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// `EDGEMETER_TOKEN_SECRET` as the harness starts the server (`tests/src/lib.rs`).
const HARNESS_TOKEN_SECRET: &str = "e2e-token-secret";
const H: i64 = 3_600_000;
const D: i64 = 24 * H;

/// The credentials each route is tried with, in the table's column order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cred {
    None,
    Malformed,
    WrongKey,
    IngestKey,
    TokenThis,
    TokenOther,
    Expired,
    Tampered,
    SecretKey,
}

const CREDS: [Cred; 9] = [
    Cred::None,
    Cred::Malformed,
    Cred::WrongKey,
    Cred::IngestKey,
    Cred::TokenThis,
    Cred::TokenOther,
    Cred::Expired,
    Cred::Tampered,
    Cred::SecretKey,
];

impl Cred {
    fn title(self) -> &'static str {
        match self {
            Cred::None => "no key",
            Cred::Malformed => "malformed header",
            Cred::WrongKey => "wrong key",
            Cred::IngestKey => "ingest key",
            Cred::TokenThis => "token, this customer",
            Cred::TokenOther => "token, other customer",
            Cred::Expired => "expired token",
            Cred::Tampered => "tampered token",
            Cred::SecretKey => "secret key",
        }
    }
}

/// The `Authorization` header each credential sends.
struct Creds {
    token_this: String,
    token_other: String,
    expired: String,
    tampered: String,
}

impl Creds {
    fn header(&self, cred: Cred) -> Option<String> {
        let bearer = |k: &str| Some(format!("Bearer {k}"));
        match cred {
            Cred::None => None,
            // A secret key, but not as a bearer token.
            Cred::Malformed => Some(format!("Basic {SECRET_KEY}")),
            Cred::WrongKey => bearer("sk_test_wrong"),
            Cred::IngestKey => bearer(INGEST_KEY),
            Cred::TokenThis => bearer(&self.token_this),
            Cred::TokenOther => bearer(&self.token_other),
            Cred::Expired => bearer(&self.expired),
            Cred::Tampered => bearer(&self.tampered),
            Cred::SecretKey => bearer(SECRET_KEY),
        }
    }
}

/// What a credential gets on a route.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    /// This status; for an error, with this code.
    Is(u16, Option<&'static str>),
    /// A route without a fixture here: anything but 401, 403 or a 5xx (the credential was
    /// let in, and the server did not fail).
    LetIn,
}

impl Expect {
    fn cell(&self) -> String {
        match self {
            // The usual codes go without saying (see the legend); others are named.
            Expect::Is(s, Some("unauthorized")) if *s == 401 => "401".to_owned(),
            Expect::Is(s, Some("forbidden")) if *s == 403 => "403".to_owned(),
            Expect::Is(s, Some(code)) => format!("{s} `{code}`"),
            Expect::Is(s, None) => s.to_string(),
            Expect::LetIn => "let in".to_owned(),
        }
    }

    fn holds(&self, r: &Answer) -> bool {
        match self {
            Expect::Is(s, code) => r.status == *s && code.is_none_or(|c| r.code() == c),
            Expect::LetIn => !matches!(r.status, 401 | 403 | 500..=599),
        }
    }
}

/// How a route treats credentials.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// No key needed: the same answer whatever is sent.
    Public,
    /// `POST /v1/usage/ingest`: ingest and secret keys, and a token for the event's customer.
    Ingest,
    /// A customer's entitlements and reservations: ingest and secret keys, and a token
    /// for the customer the path names (another's: 403 `forbidden_customer`).
    Customer,
    /// Everything else: the secret key only.
    Secret,
    /// A customer's balance: secret and ingest keys, and that customer's own token.
    Reader,
}

/// One row of the table: a route, the path it is called on, its body, what the secret
/// key gets, and whether the server serves it.
struct Row {
    method: String,
    /// As `openapi.json` names it (`/v1/customers/{id}`), for the table.
    shown: String,
    path: String,
    body: Option<Vec<u8>>,
    kind: Kind,
    /// What the secret key (and, for a public route, everyone) gets.
    success: Expect,
    served: bool,
    /// In `openapi.json` but not in [`fixture`]: called with made-up ids.
    no_fixture: bool,
}

impl Row {
    fn expect(&self, cred: Cred) -> Expect {
        let unauthorized = Expect::Is(401, Some("unauthorized"));
        match (self.kind, cred) {
            (Kind::Public, _) | (_, Cred::SecretKey) => self.success.clone(),
            (_, Cred::None | Cred::Malformed | Cred::WrongKey | Cred::Expired | Cred::Tampered) => unauthorized,
            (Kind::Ingest | Kind::Customer, Cred::IngestKey | Cred::TokenThis) => self.success.clone(),
            (Kind::Ingest | Kind::Customer, Cred::TokenOther) => Expect::Is(403, Some("forbidden_customer")),
            (Kind::Reader, Cred::IngestKey | Cred::TokenThis) => self.success.clone(),
            (Kind::Reader, Cred::TokenOther) => Expect::Is(403, Some("forbidden_customer")),
            (Kind::Secret, Cred::IngestKey | Cred::TokenThis | Cred::TokenOther) => Expect::Is(403, Some("forbidden")),
        }
    }
}

/// The resources the rows' paths name, made before the matrix runs.
struct World {
    this: String,
    event_name: String,
    metric: String,
    /// An accepted event of `this`, for `POST /v1/usage/void`.
    voidable: String,
    /// Two `pending_approval` invoices: one to approve, one to void.
    invoices: [String; 2],
    /// A credit grant and an alert of `this` (the grant is voided, the alert deleted).
    grant: String,
    alert: String,
    /// Draft contracts when the contracts routes are served: one to read, patch and
    /// upload to, one to accept, one to cancel.
    contracts: Option<[String; 3]>,
    /// Two reservations of `this` on `metric` (one to read and commit, one to release),
    /// and the body that made a third (the same body again answers the same one).
    reservations: [String; 2],
    reserve_body: Value,
}

/// A route's call: the values of its path's `{…}` segments, a query (`THIS` stands for
/// the customer's id), a body, and the status the secret key gets.
struct Fixture {
    params: Vec<String>,
    query: &'static str,
    body: Option<Vec<u8>>,
    status: u16,
}

/// What a route needs to succeed for the secret key, made from the world's resources;
/// `None` for a route not known here.
fn fixture(w: &World, method: &str, template: &str) -> Option<Fixture> {
    let this = || vec![w.this.clone()];
    let contract =
        |i: usize| w.contracts.as_ref().map_or_else(|| "ctr_00000000000000000000000000".to_owned(), |c| c[i].clone());
    let body = |v: Value| Some(v.to_string().into_bytes());
    let empty = || body(json!({}));
    let (params, query, body, status) = match (method, template) {
        ("GET", "/healthz") | ("GET", "/openapi.json") | ("GET", "/") | ("GET", "/dashboard/") => {
            (vec![], "", None, if template == "/" { 302 } else { 200 })
        }
        ("POST", "/v1/customers") => (vec![], "", body(json!({"name": "Matrix", "email": "m@acme.test"})), 201),
        ("GET", "/v1/customers") => (vec![], "", None, 200),
        ("GET", "/v1/customers/{}") => (this(), "", None, 200),
        ("PATCH", "/v1/customers/{}") => (this(), "", body(json!({"name": "Matrix renamed"})), 200),
        ("POST", "/v1/customers/{}/items") => (
            this(),
            "",
            body(json!({"name": "OCR", "kind": "usage", "metric_code": w.metric,
                        "price": {"model": "per_unit", "unit_amount": "0.05"}})),
            201,
        ),
        ("GET", "/v1/customers/{}/usage") => (this(), "", None, 200),
        ("GET", "/v1/customers/{}/usage/daily") => (this(), "", None, 200),
        ("GET", "/v1/customers/{}/invoices/upcoming") => (this(), "", None, 200),
        ("GET", "/v1/customers/{}/rejections") => (this(), "", None, 200),
        ("GET", "/v1/items") => (vec![], "?customer_id=THIS", None, 200),
        ("POST", "/v1/billing/metrics") => (
            vec![],
            "",
            body(
                json!({"code": format!("matrix_{}", &key()[..8]), "name": "n", "event_name": "e", "aggregation": "sum"}),
            ),
            201,
        ),
        ("GET", "/v1/billing/metrics") => (vec![], "", None, 200),
        ("GET", "/v1/billing/metrics/{}") => (vec![w.metric.clone()], "", None, 200),
        ("POST", "/v1/usage/ingest") => (vec![], "", body(event(&w.this, &w.event_name, json!(1))), 200),
        ("POST", "/v1/usage/void") => {
            (vec![], "", body(json!({"idempotency_key": w.voidable, "customer_id": w.this})), 200)
        }
        ("GET", "/v1/invoices") => (vec![], "", None, 200),
        ("GET", "/v1/invoices/{}") => (vec![w.invoices[0].clone()], "", None, 200),
        ("POST", "/v1/invoices/{}/approve") => (vec![w.invoices[0].clone()], "", empty(), 200),
        ("POST", "/v1/invoices/{}/void") => (vec![w.invoices[1].clone()], "", empty(), 200),
        ("POST", "/v1/tokens") => (vec![], "", body(json!({"customer_id": w.this, "ttl_seconds": 60})), 201),
        ("POST", "/v1/contracts") => (vec![], "", body(contract_body()), 201),
        ("GET", "/v1/contracts") => (vec![], "", None, 200),
        ("GET", "/v1/contracts/{}") => (vec![contract(0)], "", None, 200),
        ("PATCH", "/v1/contracts/{}") => (vec![contract(0)], "", body(json!({"auto_send": true})), 200),
        ("PUT", "/v1/contracts/{}/document") => (vec![contract(0)], "?filename=msa.pdf", Some(PDF.to_vec()), 200),
        ("GET", "/v1/contracts/{}/document") => (vec![contract(0)], "", None, 200),
        ("POST", "/v1/contracts/{}/accept") => (vec![contract(1)], "", empty(), 200),
        ("POST", "/v1/contracts/{}/cancel") => (vec![contract(2)], "", empty(), 200),
        ("GET", "/v1/rejections") => (vec![], "", None, 200),
        // A limit is set in the world: the secret key deletes it, then sets it again.
        ("GET", "/v1/customers/{}/limits") => (this(), "", None, 200),
        ("PUT", "/v1/customers/{}/limits/{}") => {
            (vec![w.this.clone(), w.metric.clone()], "", body(json!({"max": "1000", "mode": "hard"})), 200)
        }
        ("DELETE", "/v1/customers/{}/limits/{}") => (vec![w.this.clone(), w.metric.clone()], "", None, 200),
        ("GET", "/v1/customers/{}/entitlements") => (this(), "", None, 200),
        ("GET", "/v1/customers/{}/entitlements/{}") => (vec![w.this.clone(), w.metric.clone()], "", None, 200),
        ("GET", "/v1/customers/{}/reservations") => (this(), "?status=held", None, 200),
        ("POST", "/v1/customers/{}/reservations") => (this(), "", body(w.reserve_body.clone()), 201),
        ("GET", "/v1/customers/{}/reservations/{}") => (vec![w.this.clone(), w.reservations[0].clone()], "", None, 200),
        ("POST", "/v1/customers/{}/reservations/{}/commit") => {
            (vec![w.this.clone(), w.reservations[0].clone()], "", empty(), 200)
        }
        ("POST", "/v1/customers/{}/reservations/{}/release") => {
            (vec![w.this.clone(), w.reservations[1].clone()], "", empty(), 200)
        }
        ("POST", "/v1/customers/{}/credit_grants") => {
            (this(), "", body(json!({"name": "Credit", "amount": "10.00"})), 201)
        }
        ("GET", "/v1/customers/{}/credit_grants") => (this(), "", None, 200),
        ("GET", "/v1/customers/{}/credit_grants/{}") => (vec![w.this.clone(), w.grant.clone()], "", None, 200),
        ("POST", "/v1/customers/{}/credit_grants/{}/void") => (vec![w.this.clone(), w.grant.clone()], "", empty(), 200),
        ("GET", "/v1/customers/{}/balance") => (this(), "", None, 200),
        ("POST", "/v1/customers/{}/alerts") => {
            (this(), "", body(json!({"name": "Alert", "kind": "spend", "threshold": "1000.00"})), 201)
        }
        ("GET", "/v1/customers/{}/alerts") => (this(), "", None, 200),
        ("DELETE", "/v1/customers/{}/alerts/{}") => (vec![w.this.clone(), w.alert.clone()], "", None, 200),
        _ => return None,
    };
    Some(Fixture { params, query, body, status })
}

/// The routes the spec promises (API.md, spec of issue 11) that the matrix must cover
/// once they are served: the contracts, rejections and daily usage routes, and the
/// dashboard's static files (which `openapi.json` does not list).
const PROMISED: &[(&str, &str, Kind)] = &[
    ("GET", "/", Kind::Public),
    ("GET", "/dashboard/", Kind::Public),
    ("POST", "/v1/contracts", Kind::Secret),
    ("GET", "/v1/contracts", Kind::Secret),
    ("GET", "/v1/contracts/{id}", Kind::Secret),
    ("PATCH", "/v1/contracts/{id}", Kind::Secret),
    ("PUT", "/v1/contracts/{id}/document", Kind::Secret),
    ("GET", "/v1/contracts/{id}/document", Kind::Secret),
    ("POST", "/v1/contracts/{id}/accept", Kind::Secret),
    ("POST", "/v1/contracts/{id}/cancel", Kind::Secret),
    ("GET", "/v1/rejections", Kind::Secret),
    ("GET", "/v1/customers/{id}/rejections", Kind::Secret),
    ("GET", "/v1/customers/{id}/usage/daily", Kind::Secret),
    ("GET", "/v1/customers/{id}/limits", Kind::Secret),
    ("PUT", "/v1/customers/{id}/limits/{metric_code}", Kind::Secret),
    ("DELETE", "/v1/customers/{id}/limits/{metric_code}", Kind::Secret),
    ("GET", "/v1/customers/{id}/entitlements", Kind::Customer),
    ("GET", "/v1/customers/{id}/entitlements/{metric_code}", Kind::Customer),
    ("GET", "/v1/customers/{id}/reservations", Kind::Customer),
    ("POST", "/v1/customers/{id}/reservations", Kind::Customer),
    ("GET", "/v1/customers/{id}/reservations/{rid}", Kind::Customer),
    ("POST", "/v1/customers/{id}/reservations/{rid}/commit", Kind::Customer),
    ("POST", "/v1/customers/{id}/reservations/{rid}/release", Kind::Customer),
    ("POST", "/v1/customers/{id}/credit_grants", Kind::Secret),
    ("GET", "/v1/customers/{id}/credit_grants", Kind::Secret),
    ("GET", "/v1/customers/{id}/credit_grants/{grant_id}", Kind::Secret),
    ("POST", "/v1/customers/{id}/credit_grants/{grant_id}/void", Kind::Secret),
    ("GET", "/v1/customers/{id}/balance", Kind::Reader),
    ("POST", "/v1/customers/{id}/alerts", Kind::Secret),
    ("GET", "/v1/customers/{id}/alerts", Kind::Secret),
    ("DELETE", "/v1/customers/{id}/alerts/{alert_id}", Kind::Secret),
];

/// The smallest file the document route takes: a PDF header and trailer.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

fn contract_body() -> Value {
    json!({
        "customer": {"name": "Matrix Corp", "email": "ap@matrix.test"},
        "items": [{"name": "Platform fee", "kind": "fixed", "price": {"model": "fixed", "amount": "99.00"}}],
    })
}

/// `/v1/customers/{id}` → `/v1/customers/{}`: templates compared whatever their `{…}` names.
fn normalize(template: &str) -> String {
    template.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// An answer, from an agent that does not follow redirects (`GET /` is a 302).
struct Answer {
    status: u16,
    body: Value,
    text: String,
    elapsed: Duration,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

fn send(base: &str, method: &str, path: &str, auth: Option<&str>, body: Option<&[u8]>) -> Answer {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    let agent = AGENT.get_or_init(|| ureq::AgentBuilder::new().redirects(0).max_idle_connections(0).build());
    let mut r = agent.request(method, &format!("{base}{path}")).timeout(Duration::from_secs(60));
    if let Some(a) = auth {
        r = r.set("authorization", a);
    }
    let started = std::time::Instant::now();
    let result = match body {
        Some(b) => r.set("content-type", "application/json").send_bytes(b),
        None => r.call(),
    };
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text, elapsed: started.elapsed() }
}

/// A customer with a metric, an accepted event to void and two invoices waiting for
/// approval, another customer, the tokens, and draft contracts if they are served.
fn world(server: &Server, contracts_served: bool) -> (World, Creds) {
    let c = server.client();
    // Invoices first: the run finalizes every period of its server's customers up to its
    // "now", so the customers that ingest today are made after it.
    let billed = c.customer();
    let r = c.post(
        &format!("/v1/customers/{billed}/items"),
        &json!({"name": "Platform", "kind": "fixed", "price": {"model": "fixed", "amount": "10.00"}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let period_end =
        parse_utc(c.get(&format!("/v1/customers/{billed}/usage")).body["period"]["end"].as_str().expect("end"));
    // Past this period and the next (months are at most 31 days) and their grace: two finals.
    server.run_cron_at(period_end + 32 * D + 25 * H);
    let listed = c.get(&format!("/v1/invoices?customer_id={billed}"));
    let invoices: Vec<String> = listed.body["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["status"] == "pending_approval")
                .filter_map(|i| i["id"].as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(invoices.len(), 2, "two invoices waiting for approval: {}", listed.text);

    let s = c.setup("count", json!({}));
    let other = c.customer();
    let voidable = event(&s.customer, &s.event_name, json!(1));
    assert_eq!(c.ingest(&voidable).status, 200);
    let mint = |customer: &str| -> String {
        let r = c.post("/v1/tokens", &json!({"customer_id": customer, "ttl_seconds": 3600}));
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["token"].as_str().expect("token").to_owned()
    };
    let token_this = mint(&s.customer);
    let token_other = mint(&other);
    // Signed with the server's secret, expired a minute ago.
    let expired = token::mint(HARNESS_TOKEN_SECRET, &Claims::new(s.customer.clone(), Timestamp(now_ms() - 61_000), 1))
        .expect("the harness's secret is set");
    // This customer's live token, made out to the other customer (same length), same signature.
    let tampered = token_this.replacen(&s.customer, &other, 1);

    let contracts = contracts_served.then(|| {
        let make = || {
            let r = c.post("/v1/contracts", &contract_body());
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["id"].as_str().expect("contract id").to_owned()
        };
        let all = [make(), make(), make()];
        // One with a document, for `GET …/document`.
        let r = send(
            &server.base,
            "PUT",
            &format!("/v1/contracts/{}/document", all[0]),
            Some(&format!("Bearer {SECRET_KEY}")),
            Some(PDF),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        all
    });
    // A limit for the secret key to delete and set again, and reservations to act on.
    let r = c.send(
        "PUT",
        &format!("/v1/customers/{}/limits/{}", s.customer, s.metric),
        Some(json!({"max": "1000"}).to_string().as_bytes()),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let reserve_body = |k: String| json!({"metric_code": s.metric, "quantity": "1", "idempotency_key": k});
    let reservation = || {
        let r = c.post(&format!("/v1/customers/{}/reservations", s.customer), &reserve_body(key()));
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().expect("reservation id").to_owned()
    };
    let reservations = [reservation(), reservation()];
    let reserve_body = reserve_body(key());
    let made = |path: String, body: Value| -> String {
        let r = c.post(&path, &body);
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().expect("an id").to_owned()
    };
    let grant =
        made(format!("/v1/customers/{}/credit_grants", s.customer), json!({"name": "Credit", "amount": "5.00"}));
    let alert = made(
        format!("/v1/customers/{}/alerts", s.customer),
        json!({"name": "Alert", "kind": "spend", "threshold": "99.00"}),
    );
    let world = World {
        grant,
        alert,
        this: s.customer,
        event_name: s.event_name,
        metric: s.metric,
        voidable: voidable["idempotency_key"].as_str().expect("key").to_owned(),
        invoices: [invoices[0].clone(), invoices[1].clone()],
        contracts,
        reservations,
        reserve_body,
    };
    (world, Creds { token_this, token_other, expired, tampered })
}

/// Every (method, template) `openapi.json` lists.
fn served_routes(server: &Server) -> BTreeSet<(String, String)> {
    let doc = send(&server.base, "GET", "/openapi.json", None, None);
    assert_eq!(doc.status, 200, "{}", doc.text);
    let paths = doc.body["paths"].as_object().expect("paths in openapi.json");
    let methods = ["get", "post", "put", "patch", "delete"];
    paths
        .iter()
        .flat_map(|(p, ops)| {
            methods.iter().filter(|m| ops.get(**m).is_some()).map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect()
}

/// Whether the server serves a route `openapi.json` does not list. A public static route
/// is served once it no longer gets the router's answer to an unknown path (which asks
/// for a key first) nor a 404; an API route once the secret key gets anything but the
/// router's `no route` 404.
fn served_without_openapi(server: &Server, method: &str, template: &str) -> bool {
    if !template.starts_with("/v1/") {
        let r = send(&server.base, method, template, None, None);
        return !(r.status == 401 || r.status == 404);
    }
    let path = normalize(template).replace("{}", "x_matrix");
    let body = matches!(method, "POST" | "PATCH" | "PUT").then_some(&b"{}"[..]);
    let r = send(&server.base, method, &path, Some(&format!("Bearer {SECRET_KEY}")), body);
    let unrouted = r.status == 404 && r.body["error"]["message"].as_str().is_some_and(|m| m.starts_with("no route"));
    !unrouted
}

/// The matrix's rows, and the served routes `openapi.json` does not list.
fn rows(server: &Server, w: &World) -> (Vec<Row>, Vec<String>) {
    let served = served_routes(server);
    let mut unlisted = Vec::new();
    let mut all: Vec<(String, String, Kind, bool)> = served
        .iter()
        .map(|(m, t)| {
            let kind = match (m.as_str(), t.as_str()) {
                ("GET", "/healthz" | "/openapi.json") => Kind::Public,
                ("POST", "/v1/usage/ingest") => Kind::Ingest,
                (_, t) if t.contains("/entitlements") || t.contains("/reservations") => Kind::Customer,
                ("GET", t) if normalize(t) == "/v1/customers/{}/balance" => Kind::Reader,
                _ => Kind::Secret,
            };
            (m.clone(), t.clone(), kind, true)
        })
        .collect();
    for (m, t, kind) in PROMISED {
        if !served.iter().any(|(sm, st)| sm == m && normalize(st) == normalize(t)) {
            let now_served = served_without_openapi(server, m, t);
            if now_served && t.starts_with("/v1/") {
                unlisted.push(format!("{m} {t}"));
            }
            all.push((m.to_string(), t.to_string(), *kind, now_served));
        }
    }
    // By path, then method: a resource's routes together.
    all.sort_by(|a, b| (normalize(&a.1), &a.0).cmp(&(normalize(&b.1), &b.0)));
    let rows = all
        .into_iter()
        .map(|(method, shown, kind, served)| {
            let template = normalize(&shown);
            let (params, query, body, success, no_fixture) = match fixture(w, &method, &template) {
                Some(f) => (f.params, f.query, f.body, Expect::Is(f.status, None), false),
                None => {
                    let n = template.matches("{}").count();
                    let body = matches!(method.as_str(), "POST" | "PATCH" | "PUT").then(|| b"{}".to_vec());
                    (vec!["x_matrix".to_owned(); n], "", body, Expect::LetIn, true)
                }
            };
            let mut path = template.clone();
            for p in &params {
                path = path.replacen("{}", p, 1);
            }
            path.push_str(&query.replace("THIS", &w.this));
            Row { method, shown, path, body, kind, success, served, no_fixture }
        })
        .collect();
    (rows, unlisted)
}

#[test]
fn every_route_answers_every_credential_as_the_contract_says() {
    let server = Server::start("auth-matrix");
    let contracts_served = served_routes(&server).contains(&("POST".to_owned(), "/v1/contracts".to_owned()))
        || served_without_openapi(&server, "POST", "/v1/contracts");
    let (w, creds) = world(&server, contracts_served);
    let (rows, unlisted) = rows(&server, &w);

    let mut table = String::from("| route |");
    for c in CREDS {
        table.push_str(&format!(" {} |", c.title()));
    }
    table.push_str(&format!("\n|---|{}\n", "---|".repeat(CREDS.len())));
    let (mut failures, mut pending, mut slowest) = (Vec::new(), Vec::new(), Duration::ZERO);
    for row in &rows {
        let mut line = format!("| `{} {}`", row.method, row.shown);
        if !row.served {
            line.push_str(" (not served yet)");
            pending.push(format!("{} {}", row.method, row.shown));
        } else if row.no_fixture {
            line.push_str(" (no fixture: made-up ids)");
        }
        line.push_str(" |");
        for cred in CREDS {
            let expect = row.expect(cred);
            if row.served {
                let header = creds.header(cred);
                let r = send(&server.base, &row.method, &row.path, header.as_deref(), row.body.as_deref());
                slowest = slowest.max(r.elapsed);
                let mut ok = expect.holds(&r);
                // An expired token must be refused for its expiry, not its signature.
                if cred == Cred::Expired && r.status == 401 {
                    ok &= r.body["error"]["message"].as_str().is_some_and(|m| m.contains("expired"));
                }
                // Every error carries the error shape.
                if r.status >= 400 {
                    ok &= !r.code().is_empty();
                }
                if !ok {
                    failures.push(format!(
                        "{} {} with {}: expected {}, got {} {}",
                        row.method,
                        row.path,
                        cred.title(),
                        expect.cell(),
                        r.status,
                        r.text.chars().take(300).collect::<String>()
                    ));
                }
            }
            line.push_str(&format!(" {} |", expect.cell()));
        }
        table.push_str(&line);
        table.push('\n');
    }
    println!("{table}");
    println!(
        "401 is `unauthorized`, 403 `forbidden` unless named. {} routes × {} credentials; slowest answer {} ms.",
        rows.len(),
        CREDS.len(),
        slowest.as_millis()
    );
    if !unlisted.is_empty() {
        println!("Served but not in openapi.json (asserted all the same): {}", unlisted.join(", "));
    }
    if !pending.is_empty() {
        println!("Not served yet (expected values from the spec, not asserted): {}", pending.join(", "));
    }
    assert!(failures.is_empty(), "{} cells differ:\n{}", failures.len(), failures.join("\n"));
}
