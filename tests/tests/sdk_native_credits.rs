//! The native Rust client's credits, balance, alerts, limits, entitlements and
//! reservations (`edgemeter_sdk::native`) through its public API against a real
//! `wrangler dev` (API.md, "Credits and the live balance", "Limits, entitlements and
//! reservations", "Alerts"): each with the keys that may use it, and the reservation
//! helper committing what the work reports, or releasing the hold when it fails.

use edgemeter_sdk::native::{
    AlertInput, AlertKind, AlertTriggered, Api, CreditGrantInput, CreditGrantStatus, Error, ItemInput, LimitInput,
    LimitMode, ListParams, Price, ReservationCommit, ReservationFilter, ReservationInput, ReservationStatus,
    TokenInput, WebhookEvent,
};
use edgemeter_tests::*;
use serde_json::json;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One server for this file's tests; each makes its own customers and metrics.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start("sdk-native-credits"))
}

fn secret() -> Api {
    Api::new(SECRET_KEY, &server().base).expect("client")
}

fn ingest() -> Api {
    Api::new(INGEST_KEY, &server().base).expect("client")
}

/// A customer and a sum metric on a fresh event name: `(customer, metric, event_name)`.
fn setup() -> (String, String, String) {
    let admin = server().client();
    let name = event_name("nc");
    let metric = admin.metric("nc_sum", &name, "sum", json!({}));
    (admin.customer(), metric, name)
}

/// A refusal's `(code, status)`.
fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> (String, Option<u16>) {
    let e = r.expect_err("refused");
    (e.code, e.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_created_listed_voided_once_and_drawn_on_by_the_live_balance() {
    let api = secret();
    let (customer, metric, name) = setup();
    let price = Price::PerUnit { unit_amount: "0.50".into() };
    api.items().create(&customer, &ItemInput::usage("Pages", &metric, price)).await.expect("item");

    let grant = api
        .credit_grants()
        .create_with_key(
            &customer,
            &CreditGrantInput::new("Prepaid", "100.00").priority(10),
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
        .expect("grant");
    assert!(grant.id.starts_with("cg_"), "{grant:?}");
    assert_eq!(
        (grant.amount.as_str(), grant.remaining.as_str(), grant.priority, grant.status),
        ("100.00", "100.00", 10, CreditGrantStatus::Active)
    );
    assert_eq!(api.credit_grants().get(&customer, &grant.id).await.expect("get"), grant);

    // An event acknowledged before the call is in the balance.
    let r = server().client().ingest(&event(&customer, &name, json!(9)));
    assert_eq!(r.status, 200, "{}", r.text);
    let balance = api.balance().get(&customer).await.expect("balance");
    assert_eq!((balance.customer_id.as_str(), balance.currency.as_str()), (customer.as_str(), "USD"));
    assert_eq!(
        (balance.credits.remaining.as_str(), balance.credits.pending_draw.as_str(), balance.credits.available.as_str()),
        ("100.00", "4.50", "95.50")
    );
    assert_eq!((balance.period_total.as_str(), balance.amount_due_so_far.as_str()), ("4.50", "0.00"));
    let upcoming = api.usage().upcoming(&customer).await.expect("upcoming");
    assert_eq!(upcoming.amount_due.as_deref(), Some("0.00"));
    let drawn: Vec<_> = upcoming.credits_applied.iter().map(|c| (c.grant_id.as_str(), c.amount.as_str())).collect();
    assert_eq!(drawn, [(grant.id.as_str(), "4.50")]);

    let promo = api.credit_grants().create(&customer, &CreditGrantInput::new("Promo", 5u32)).await.expect("promo");
    let page = api.credit_grants().list(&customer, &ListParams::default()).await.expect("page");
    assert_eq!(page.data.len(), 2);
    let mut all: Vec<_> =
        api.credit_grants().list_all(&customer).await.expect("all").into_iter().map(|g| g.id).collect();
    all.sort();
    let mut want = vec![grant.id.clone(), promo.id.clone()];
    want.sort();
    assert_eq!(all, want);

    let voided = api.credit_grants().void(&customer, &promo.id).await.expect("void");
    assert_eq!(voided.status, CreditGrantStatus::Voided);
    assert!(voided.voided_at.is_some());
    assert_eq!(refused(api.credit_grants().void(&customer, &promo.id).await), ("grant_voided".into(), Some(409)));

    // Exact money: more digits than the currency has is refused with its field.
    let e = api.credit_grants().create(&customer, &CreditGrantInput::new("x", "1.005")).await.expect_err("refused");
    assert_eq!((e.code.as_str(), e.field.as_deref(), e.status), ("invalid_amount", Some("amount"), Some(400)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_created_listed_and_deleted() {
    let api = secret();
    let (customer, metric, _) = setup();
    let usage = api.alerts().create(&customer, &AlertInput::usage("80%", &metric, 800u32)).await.expect("usage alert");
    assert!(usage.id.starts_with("alr_"), "{usage:?}");
    assert_eq!(
        (usage.kind, usage.metric_code.as_deref(), usage.threshold.as_str()),
        (AlertKind::Usage, Some(metric.as_str()), "800")
    );
    assert_eq!(usage.last_triggered_at, None);
    let low = api.alerts().create(&customer, &AlertInput::credit_balance("low", "10.00")).await.expect("balance alert");
    let spend = api.alerts().create(&customer, &AlertInput::spend("big", "1000")).await.expect("spend alert");

    let mut listed: Vec<_> = api.alerts().list_all(&customer).await.expect("list").into_iter().map(|a| a.id).collect();
    listed.sort();
    let mut want = vec![usage.id.clone(), low.id.clone(), spend.id.clone()];
    want.sort();
    assert_eq!(listed, want);

    api.alerts().delete(&customer, &low.id).await.expect("delete");
    let left = api.alerts().list(&customer, &ListParams::default()).await.expect("list").data;
    assert!(left.iter().all(|a| a.id != low.id), "{left:?}");
    assert_eq!(refused(api.alerts().delete(&customer, &low.id).await).1, Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_limit_is_set_read_as_an_entitlement_and_removed() {
    let api = secret();
    let (customer, metric, name) = setup();
    let limit = api.limits().put(&customer, &metric, &LimitInput::hard(10u32)).await.expect("put");
    assert_eq!((limit.metric_code.as_str(), limit.max.as_str(), limit.mode), (metric.as_str(), "10", LimitMode::Hard));
    let listed = api.limits().list(&customer).await.expect("list").data;
    assert_eq!(listed.iter().map(|l| l.metric_code.as_str()).collect::<Vec<_>>(), [metric.as_str()]);

    let admin = server().client();
    assert_eq!(admin.ingest(&event(&customer, &name, json!(6))).status, 200);
    let e = ingest().entitlements().get(&customer, &metric).await.expect("entitlement");
    assert_eq!(
        (e.max.as_deref(), e.used.as_str(), e.reserved.as_str(), e.remaining.as_deref(), e.allowed),
        (Some("10"), "6", "0", Some("4"), true)
    );
    let all = ingest().entitlements().get_all(&customer).await.expect("entitlements");
    assert!(all.data.contains(&e), "{all:?}");
    // Past it: refused, not counted.
    let r = admin.ingest_batch(&[event(&customer, &name, json!(5))]);
    assert_eq!((r.status, r.event_codes()), (200, vec!["limit_exceeded"]), "{}", r.text);
    assert_eq!(admin.quantity(&customer, &metric).0, "6");

    api.limits().delete(&customer, &metric).await.expect("delete");
    let free = api.entitlements().get(&customer, &metric).await.expect("entitlement");
    assert_eq!((free.max, free.allowed), (None, true));
    assert_eq!(
        refused(api.limits().put(&customer, &metric, &LimitInput { max: "-1".into(), mode: LimitMode::Soft }).await).1,
        Some(400)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_reservation_commits_what_the_work_reports() {
    let (customer, metric, _) = setup();
    secret().limits().put(&customer, &metric, &LimitInput::hard(4000u32)).await.expect("limit");
    let api = ingest();

    let committed = api
        .reservations()
        .with_reservation(&customer, &ReservationInput::new(&metric, 4000u32).ttl_seconds(60), |held| {
            let api = api.clone();
            let (customer, metric) = (customer.clone(), metric.clone());
            async move {
                assert_eq!((held.status, held.quantity.as_str()), (ReservationStatus::Held, "4000"));
                let e = api.entitlements().get(&customer, &metric).await?;
                assert_eq!(e.reserved, "4000");
                Ok::<_, Error>(ReservationCommit::value("1234.5").property("model", "small"))
            }
        })
        .await
        .expect("committed");
    assert_eq!(committed.reservation.status, ReservationStatus::Committed);
    assert_eq!(committed.event.idempotency_key, committed.reservation.idempotency_key);
    assert_eq!(server().client().quantity(&customer, &metric), ("1234.5".to_owned(), 1));
    let e = api.entitlements().get(&customer, &metric).await.expect("entitlement");
    assert_eq!((e.used.as_str(), e.reserved.as_str(), e.remaining.as_deref()), ("1234.5", "0", Some("2765.5")));

    // A repeated commit answers the first result and records nothing more.
    let again = api.reservations().commit(&customer, &committed.reservation.id, &ReservationCommit::held()).await;
    assert_eq!(again.expect("the first result").event, committed.event);
    assert_eq!(server().client().quantity(&customer, &metric).1, 1);
}

/// The work's own error type: the SDK's errors convert into it.
#[derive(Debug)]
enum WorkError {
    Model(&'static str),
    Api(Error),
}

impl From<Error> for WorkError {
    fn from(e: Error) -> Self {
        WorkError::Api(e)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_reservation_releases_the_hold_and_returns_the_works_error() {
    let (customer, metric, _) = setup();
    secret().limits().put(&customer, &metric, &LimitInput::hard(100u32)).await.expect("limit");
    let api = ingest();

    let mut held_id = None;
    let failed = api
        .reservations()
        .with_reservation(&customer, &ReservationInput::new(&metric, 80u32), |held| {
            held_id = Some(held.id);
            async { Err::<ReservationCommit, _>(WorkError::Model("the model timed out")) }
        })
        .await;
    assert!(matches!(failed, Err(WorkError::Model("the model timed out"))), "{failed:?}");
    let e = api.entitlements().get(&customer, &metric).await.expect("entitlement");
    assert_eq!((e.used.as_str(), e.reserved.as_str(), e.remaining.as_deref()), ("0", "0", Some("100")));
    let id = held_id.expect("the work ran");
    assert_eq!(refused(api.reservations().commit(&customer, &id, &ReservationCommit::held()).await).1, Some(409));

    // A hold that does not fit: the work never runs, and the refusal is the SDK's error.
    let mut ran = false;
    let refused_hold = api
        .reservations()
        .with_reservation(&customer, &ReservationInput::new(&metric, 101u32), |_| {
            ran = true;
            async { Ok::<_, WorkError>(ReservationCommit::held()) }
        })
        .await;
    match refused_hold {
        Err(WorkError::Api(e)) => assert_eq!((e.code.as_str(), e.status), ("limit_exceeded", Some(409))),
        other => panic!("not refused: {other:?}"),
    }
    assert!(!ran);
    assert_eq!(server().client().usage(&customer).get(&metric).map(|u| u.1).unwrap_or(0), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_token_reads_its_own_balance_and_entitlements_not_anothers() {
    let admin = secret();
    let (mine, metric, _) = setup();
    let theirs = server().client().customer();
    admin.limits().put(&mine, &metric, &LimitInput::hard(10u32)).await.expect("limit");
    admin.credit_grants().create(&mine, &CreditGrantInput::new("Prepaid", "20.00")).await.expect("grant");
    let token =
        admin.tokens().create(&TokenInput { customer_id: mine.clone(), ttl_seconds: None }).await.expect("token");
    let browser = Api::new(token.token, &server().base).expect("client");

    assert_eq!(browser.balance().get(&mine).await.expect("own balance").credits.available, "20.00");
    assert_eq!(
        browser.entitlements().get(&mine, &metric).await.expect("own entitlement").remaining.as_deref(),
        Some("10")
    );
    let held = browser.reservations().create(&mine, &ReservationInput::new(&metric, 3u32)).await.expect("own hold");
    let open = ReservationFilter { status: Some(ReservationStatus::Held), ..ReservationFilter::default() };
    let listed = browser.reservations().list(&mine, &open).await.expect("open holds").data;
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [held.id.as_str()]);
    let released = browser.reservations().release(&mine, &held.id).await.expect("released");
    assert_eq!(released.status, ReservationStatus::Released);
    assert_eq!(browser.reservations().get(&mine, &held.id).await.expect("get"), released);
    assert!(browser.reservations().list(&mine, &open).await.expect("open holds").data.is_empty());

    assert_eq!(refused(browser.balance().get(&theirs).await).1, Some(403));
    assert_eq!(refused(browser.entitlements().get(&theirs, &metric).await).1, Some(403));
    assert_eq!(refused(browser.entitlements().get_all(&theirs).await).1, Some(403));
    assert_eq!(
        refused(browser.reservations().create(&theirs, &ReservationInput::new(&metric, 1u32)).await).1,
        Some(403)
    );
    // Grants, alerts and limits are a secret key's.
    assert_eq!(refused(browser.credit_grants().list_all(&mine).await).1, Some(403));
    assert_eq!(refused(ingest().limits().list(&mine).await).1, Some(403));
    assert_eq!(refused(ingest().alerts().create(&mine, &AlertInput::spend("x", 1u32)).await).1, Some(403));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credit_balance_alert_arrives_as_a_signed_webhook_the_sdk_reads() {
    const SECRET: &str = "whsec_native_credits";
    let receiver = Receiver::start(0);
    let server = Server::start_with(
        &fresh_state_dir("sdk-native-alerts"),
        &[("EDGEMETER_WEBHOOK_URL", &receiver.url), ("EDGEMETER_WEBHOOK_SECRET", SECRET)],
    );
    let api = Api::new(SECRET_KEY, &server.base).expect("client");
    let admin = server.client();
    let customer = admin.customer();
    let name = event_name("nca");
    let metric = admin.metric("nca", &name, "sum", json!({}));
    let price = Price::PerUnit { unit_amount: "1.00".into() };
    api.items().create(&customer, &ItemInput::usage("Calls", &metric, price)).await.expect("item");
    api.credit_grants().create(&customer, &CreditGrantInput::new("Prepaid", "20.00")).await.expect("grant");
    let alert = api.alerts().create(&customer, &AlertInput::credit_balance("low", "10.00")).await.expect("alert");

    // 11 × 1.00 drawn: 9.00 available, at or below 10.00.
    assert_eq!(admin.ingest(&event(&customer, &name, json!(11))).status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.received().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = receiver.received();
    assert_eq!(got.len(), 1, "{got:#?}");
    let now = now_ms() / 1000;
    assert_eq!(edgemeter_sdk::verify_signature(SECRET, &got[0].signature, got[0].body.as_bytes(), now, 300), Ok(()));
    let delivered: WebhookEvent<AlertTriggered> = serde_json::from_str(&got[0].body).expect("the SDK's type reads it");
    assert_eq!(delivered.event_type, "alert.triggered");
    assert!(delivered.id.starts_with("evt_"), "{delivered:?}");
    assert_eq!(
        (delivered.data.alert_id.as_str(), delivered.data.customer_id.as_str(), delivered.data.kind),
        (alert.id.as_str(), customer.as_str(), AlertKind::CreditBalance)
    );
    assert_eq!((delivered.data.threshold.as_str(), delivered.data.value.as_str()), ("10.00", "9.00"));
    let listed = api.alerts().list_all(&customer).await.expect("alerts");
    assert!(listed.iter().any(|a| a.id == alert.id && a.last_triggered_at.is_some()), "{listed:?}");
}
