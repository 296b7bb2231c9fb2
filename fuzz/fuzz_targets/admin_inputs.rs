//! The admin inputs on any bytes: customers, metrics and items with every price model.
//! Never a panic; a price it accepts is never negative, and for models billed by the unit
//! or by the package, or graduated, it never falls as the quantity grows (a volume price
//! may: all units move to the cheaper tier).
#![no_main]

use edgemeter_core::currency::Currency;
use edgemeter_core::customer::CustomerInput;
use edgemeter_core::exact::Exact;
use edgemeter_core::item::ItemInput;
use edgemeter_core::metric::MetricDef;
use edgemeter_core::pricing::Price;
use edgemeter_core::time::Timestamp;
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

fuzz_target!(|data: &[u8]| {
    let now = Timestamp(1_795_600_000_000);
    if let Ok(input) = CustomerInput::from_body(data, now) {
        let _ = input.create("cus_0000000000000000000000000a".into(), now);
    }
    let _ = MetricDef::from_body(data);
    let Ok(item) = ItemInput::from_body(data) else { return };
    let Some(usd) = Currency::parse("USD") else { return };
    let quantities = [0u64, 1, 2, 9, 10, 99, 100, 101, 999, 1_000, 1_001, 10_000, 1_000_000];
    let mut last: Option<Exact> = None;
    let monotone = !matches!(item.price, Price::Volume { .. });
    for q in quantities {
        let line = item.price.price(Decimal::from(q), usd, item.minimum);
        // `Exact` holds no negative value: what remains to check is the order.
        if let (true, Some(prev)) = (monotone, &last) {
            assert!(line.amount >= *prev, "amount fell from {prev} to {} at quantity {q}", line.amount);
        }
        last = Some(line.amount);
    }
});
