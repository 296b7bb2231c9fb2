//! Contract documents (`core::contract`, `POST /v1/contracts` and `PATCH`) on any bytes.
//! Never a panic. Terms it accepts write back and read again to the same terms (an empty
//! patch, which lays nothing over the stored terms and reads the whole again, changes
//! nothing), and the stored contract reads back equal. A refusal is the plain error or
//! `invalid_contract` listing its problems, the first one's field on top. A fresh draft
//! is accepted, naming the same customer and items on every attempt, and only once.
//! A client's document name is cut to a safe one.
#![no_main]

use edgemeter_core::contract::{document_name, Contract, ContractStatus, Terms};
use edgemeter_core::metric::MetricDef;
use edgemeter_core::time::Timestamp;
use edgemeter_core::ErrorCode;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const NOW: Timestamp = Timestamp(1_795_600_000_000);

fn metrics() -> &'static [MetricDef] {
    static METRICS: OnceLock<Vec<MetricDef>> = OnceLock::new();
    METRICS.get_or_init(|| {
        [
            br#"{"code": "pages", "name": "Pages", "event_name": "ocr", "aggregation": "sum"}"#.as_slice(),
            br#"{"code": "users", "name": "Users", "event_name": "login", "aggregation": "unique_count", "field": "user"}"#,
        ]
        .iter()
        .map(|b| MetricDef::from_body(b).expect("a valid metric"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(given) = std::str::from_utf8(data) {
        let name = document_name(Some(given), "pdf");
        assert!(!name.is_empty() && name.chars().count() <= 128, "{name:?}");
        assert!(!name.chars().any(|c| c.is_control() || matches!(c, '"' | '\\' | '/' | ';')), "{name:?}");
    }

    let terms = match Terms::from_body(data, NOW, metrics()) {
        Ok(t) => t,
        Err(e) => {
            match e.code {
                ErrorCode::InvalidContract => {
                    assert!(!e.errors.is_empty(), "invalid_contract without its problems");
                    assert_eq!(e.field, e.errors[0].field, "the first problem's field is on top");
                }
                ErrorCode::InvalidJson | ErrorCode::InvalidRequest => {}
                other => panic!("unexpected refusal {other:?}: {}", e.message),
            }
            return;
        }
    };
    let mut contract = Contract::new("ctr_0000000000000000000000000a".into(), terms.clone(), NOW);
    contract.patch(b"{}", NOW, metrics()).expect("accepted terms read again");
    assert_eq!(contract.terms, terms, "written back and read again, the terms changed");

    let stored = serde_json::to_string(&contract).expect("a contract serializes");
    let back: Contract = serde_json::from_str(&stored).expect("a stored contract reads back");
    assert_eq!(back, contract, "stored as {stored}");

    if contract.status_at(NOW) != ContractStatus::Draft {
        return;
    }
    let first = contract.begin_accept(NOW).expect("a fresh draft is accepted");
    assert_eq!(first.items.len(), terms.items.len());
    assert_eq!((&first.customer.name, first.customer.currency), (&terms.customer.name, terms.customer.currency));
    let again = contract.begin_accept(NOW).expect("a retry of an acceptance under way");
    assert_eq!(again, first, "a retry names other things");
    contract.finish_accept(&first.customer.id, NOW).expect("finished");
    let twice = contract.begin_accept(NOW).expect_err("accepted twice");
    assert_eq!(twice.code, ErrorCode::ContractNotDraft);
});
