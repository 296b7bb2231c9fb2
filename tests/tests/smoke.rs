use edgemeter_tests::*;
use serde_json::json;

#[test]
fn seed_flow_customer_metric_item_ingest_usage() {
    let c = shared().client();
    let customer = c.customer();
    let name = event_name("invoices");
    let metric = c.metric("invoices_processed", &name, "sum", json!({}));
    let item = c.post(
        &format!("/v1/customers/{customer}/items"),
        &json!({"name": "OCR invoices", "kind": "usage", "metric_code": metric, "price": {"model": "per_unit", "unit_amount": "0.05"}}),
    );
    assert_eq!(item.status, 201, "{:?}", item.body);
    let dup = event(&customer, &name, json!(50));
    let r = c.ingest(
        &json!({"events": [dup, dup, event(&customer, &name, json!("35.7")), event(&customer, "nope", json!(1))]}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["accepted"].as_u64(), r.body["duplicates"].as_u64(), r.body["rejected"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    let u = c.usage(&customer);
    assert_eq!(u[&metric], ("85.7".to_owned(), 2));
}
