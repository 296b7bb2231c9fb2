//! Price models and invoice lines (API.md, "Items" and "Invoices"), through the public
//! entry points: `Price::from_value` (the API's `price` object), `Price::price`,
//! `invoice_lines` and the JSON they render.
//!
//! Tables cover each model in JPY (0 decimals), USD/EUR/GBP (2) and KWD (3), with
//! half-even ties; property tests hold the invariants: amounts are never negative, grow
//! with the quantity (except volume prices, which may drop at a tier boundary), a
//! graduated price is the sum of its tiers, an invoice's total is the sum of its rounded
//! lines, and prices survive a JSON round trip.

use edgemeter_core::currency::Currency;
use edgemeter_core::exact::Exact;
use edgemeter_core::invoice::{invoice_lines, invoice_number, LineInput, UsageSummary};
use edgemeter_core::item::{Item, ItemKind};
use edgemeter_core::pricing::{format_amount, Price, PricedLine, Tier};
use edgemeter_core::time::Timestamp;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

// ---------------------------------------------------------------------------------------
// Helpers.

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("test decimal {s:?}: {e}"))
}

fn cur(code: &str) -> Currency {
    Currency::parse(code).unwrap_or_else(|| panic!("test currency {code}"))
}

/// A price read the way the API reads it.
fn price(v: Value) -> Price {
    Price::from_value(v.clone()).unwrap_or_else(|e| panic!("test price {v}: {e}"))
}

fn line(p: &Price, quantity: &str, currency: &str, minimum: Option<&str>) -> PricedLine {
    p.price(d(quantity), cur(currency), minimum.map(d))
}

/// An exact amount as a `Decimal`, for values small enough to hold one.
fn dec(e: &Exact) -> Decimal {
    e.to_decimal().unwrap_or_else(|| panic!("{e} does not fit a Decimal"))
}

/// The line amount as the API shows it.
fn amount(p: &Price, quantity: &str, currency: &str) -> String {
    let l = line(p, quantity, currency, None);
    format_amount(l.amount, l.currency)
}

/// (currency, quantity, expected amount) for one price.
fn assert_amounts(p: &Price, cases: &[(&str, &str, &str)]) {
    for &(currency, q, expected) in cases {
        assert_eq!(amount(p, q, currency), expected, "{currency} {q} units of {p:?}");
    }
}

fn per_unit(unit_amount: &str) -> Price {
    price(json!({"model": "per_unit", "unit_amount": unit_amount}))
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_else(|_| panic!("test time {s}"))
}

fn item(id: &str, kind: ItemKind, price: Price, minimum: Option<&str>) -> Item {
    Item {
        id: id.to_owned(),
        customer_id: "cus_1".to_owned(),
        name: format!("{id} name"),
        kind,
        metric_code: (kind == ItemKind::Usage).then(|| format!("{id}_metric")),
        event_name: (kind == ItemKind::Usage).then(|| format!("{id}_event")),
        price,
        minimum: minimum.map(d),
        created_at: Timestamp(0),
    }
}

// ---------------------------------------------------------------------------------------
// Per unit, and half-even rounding in each currency.

#[test]
fn per_unit_rounds_half_even_once_per_line() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (currency, unit amount, quantity, amount)
        ("USD", "0.05", "85.7", "4.28"),      // 4.285: tie, 8 is even
        ("USD", "0.05", "85.5", "4.28"),      // 4.275: tie, 7 is odd
        ("USD", "0.05", "85.9", "4.30"),      // 4.295
        ("USD", "0.05", "85.700002", "4.29"), // 4.2850001: just past the tie
        ("USD", "0.0025", "1001", "2.50"),    // 2.5025
        ("USD", "0.05", "0", "0.00"),
        ("EUR", "0.015", "1", "0.02"),
        ("GBP", "0.025", "1", "0.02"),
        ("JPY", "0.5", "5", "2"), // 2.5
        ("JPY", "0.5", "7", "4"), // 3.5
        ("JPY", "1.5", "1", "2"),
        ("JPY", "12", "100", "1200"),
        ("KWD", "0.0005", "2469", "1.234"), // 1.2345
        ("KWD", "0.0005", "2471", "1.236"), // 1.2355
        ("KWD", "0.125", "3", "0.375"),
    ];
    for &(currency, unit, q, expected) in cases {
        assert_eq!(amount(&per_unit(unit), q, currency), expected, "{currency}: {q} × {unit}");
    }
}

#[test]
fn per_unit_line_keeps_the_exact_subtotal_and_unit_amount() {
    let l = line(&per_unit("0.05"), "85.70", "USD", None);
    assert_eq!(l.quantity.to_string(), "85.7");
    assert_eq!(l.unit_amount, Some(d("0.05")));
    assert_eq!(l.subtotal_exact, d("4.285"));
    assert_eq!(l.amount, d("4.28"));
    assert!(l.tiers.is_empty());
}

#[test]
fn negative_quantity_is_priced_as_zero() {
    let l = line(&per_unit("0.05"), "-3", "USD", None);
    assert_eq!((l.quantity, dec(&l.amount)), (Decimal::ZERO, Decimal::ZERO));
}

// ---------------------------------------------------------------------------------------
// Package.

#[test]
fn package_bills_whole_packages_rounded_up() {
    let p = price(json!({"model": "package", "package_size": 100, "package_amount": "5.00"}));
    assert_amounts(
        &p,
        &[
            ("USD", "0", "0.00"),
            ("USD", "0.000000001", "5.00"),
            ("USD", "1", "5.00"),
            ("USD", "100", "5.00"),
            ("USD", "101", "10.00"),
            ("USD", "250.5", "15.00"),
        ],
    );
    let l = line(&p, "101", "USD", None);
    assert_eq!(
        (l.package_size, l.packages.as_ref().map(dec), l.unit_amount),
        (Some(100), Some(d("2")), Some(d("5.00")))
    );

    let jpy = price(json!({"model": "package", "package_size": 1000, "package_amount": "300"}));
    assert_amounts(&jpy, &[("JPY", "1000", "300"), ("JPY", "1001", "600")]);

    let kwd = price(json!({"model": "package", "package_size": 1, "package_amount": "0.1235"}));
    assert_amounts(&kwd, &[("KWD", "1", "0.124"), ("KWD", "2.5", "0.370"), ("KWD", "4", "0.494")]);
}

#[test]
fn package_count_is_exact_where_division_would_round() {
    // 8e9 packages and one unit more: the quotient's fraction (4e-19) is below half of what
    // a 96-bit division keeps at that size, so a plain `ceil(q / size)` misses a package.
    // Only a price outside `from_value`'s bounds (package_size ≤ 1e9) gets here.
    let size = 2_500_000_000_000_000_001u64;
    let p = Price::Package { package_size: size, package_amount: Decimal::ONE };
    let q = d("20000000000000000008000000001");
    assert_eq!((q / Decimal::from(size)).ceil(), d("8000000000"), "the division this guards against");
    assert_eq!(
        line(&p, "20000000000000000008000000001", "USD", None).packages.as_ref().map(dec),
        Some(d("8000000001"))
    );
    assert_eq!(
        line(&p, "20000000000000000008000000000", "USD", None).packages.as_ref().map(dec),
        Some(d("8000000000"))
    );
}

// ---------------------------------------------------------------------------------------
// Graduated.

fn graduated_usd() -> Price {
    price(json!({"model": "graduated", "tiers": [
        {"up_to": 1000, "unit_amount": "0.05", "flat_amount": "0"},
        {"up_to": 5000, "unit_amount": "0.03", "flat_amount": "10"},
        {"up_to": null, "unit_amount": "0.01", "flat_amount": "5"},
    ]}))
}

#[test]
fn graduated_prices_each_unit_by_its_tier_and_flat_fees_of_reached_tiers() {
    assert_amounts(
        &graduated_usd(),
        &[
            ("USD", "0", "0.00"),
            ("USD", "500", "25.00"),
            ("USD", "1000", "50.00"),   // up_to is inclusive: tier 2's flat fee not yet due
            ("USD", "1000.5", "60.02"), // 50 + 0.015 + 10 = 60.015, tie to even
            ("USD", "5000", "180.00"),  // 50 + 120 + 10
            ("USD", "6000", "195.00"),  // 180 + 10 + 5
        ],
    );
    let jpy = price(json!({"model": "graduated", "tiers": [
        {"up_to": 100, "unit_amount": "10"},
        {"up_to": null, "unit_amount": "7.5"},
    ]}));
    assert_amounts(&jpy, &[("JPY", "100", "1000"), ("JPY", "101", "1008"), ("JPY", "103", "1022")]);
    let kwd = price(json!({"model": "graduated", "tiers": [
        {"up_to": 10, "unit_amount": "0.0125"},
        {"up_to": null, "unit_amount": "0.0105", "flat_amount": "0.001"},
    ]}));
    // 0.125 + 0.0105 + 0.001 = 0.1365, tie to even.
    assert_amounts(&kwd, &[("KWD", "10", "0.125"), ("KWD", "11", "0.136")]);
}

#[test]
fn graduated_line_lists_the_tiers_that_received_units() {
    let l = line(&graduated_usd(), "6000", "USD", None);
    let got: Vec<_> = l.tiers.iter().map(|t| (t.up_to, dec(&t.units), t.flat_amount, dec(&t.subtotal))).collect();
    assert_eq!(
        got,
        [
            (Some(d("1000")), d("1000"), d("0"), d("50")),
            (Some(d("5000")), d("4000"), d("10"), d("130")),
            (None, d("1000"), d("5"), d("15")),
        ]
    );
    assert_eq!(l.unit_amount, None);
    assert_eq!(line(&graduated_usd(), "1000", "USD", None).tiers.len(), 1);
    assert!(line(&graduated_usd(), "0", "USD", None).tiers.is_empty());
}

#[test]
fn graduated_line_json_explains_every_tier() {
    let l = line(&graduated_usd(), "1000.5", "USD", None);
    assert_eq!(
        serde_json::to_value(&l).unwrap(),
        json!({
            "model": "graduated",
            "quantity": "1000.5",
            "unit_amount": null,
            "tiers": [
                {"up_to": "1000", "units": "1000", "unit_amount": "0.05", "flat_amount": "0.00", "subtotal": "50.00"},
                {"up_to": "5000", "units": "0.5", "unit_amount": "0.03", "flat_amount": "10.00", "subtotal": "10.015"},
            ],
            "subtotal_exact": "60.015",
            "minimum": null,
            "minimum_applied": false,
            "amount": "60.02",
        })
    );
}

// ---------------------------------------------------------------------------------------
// Volume.

fn volume_usd() -> Price {
    price(json!({"model": "volume", "tiers": [
        {"up_to": 100, "unit_amount": "0.10"},
        {"up_to": 1000, "unit_amount": "0.05", "flat_amount": "1"},
        {"up_to": null, "unit_amount": "0.03"},
    ]}))
}

#[test]
fn volume_prices_all_units_by_the_tier_the_total_falls_in() {
    assert_amounts(
        &volume_usd(),
        &[
            ("USD", "0", "0.00"),
            ("USD", "1", "0.10"),
            ("USD", "100", "10.00"),  // up_to is inclusive
            ("USD", "100.5", "6.02"), // 5.025 + 1 = 6.025, tie to even
            ("USD", "1000", "51.00"),
            ("USD", "1001", "30.03"),
        ],
    );
    let l = line(&volume_usd(), "100.5", "USD", None);
    assert_eq!(l.unit_amount, Some(d("0.05")));
    assert_eq!(l.tiers.len(), 1);
    assert_eq!(
        (l.tiers[0].up_to, dec(&l.tiers[0].units), dec(&l.tiers[0].subtotal)),
        (Some(d("1000")), d("100.5"), d("6.025"))
    );
    assert!(line(&volume_usd(), "0", "USD", None).tiers.is_empty());

    let jpy = price(json!({"model": "volume", "tiers": [
        {"up_to": 10, "unit_amount": "2.5"},
        {"up_to": null, "unit_amount": "1.5"},
    ]}));
    assert_amounts(&jpy, &[("JPY", "1", "2"), ("JPY", "3", "8"), ("JPY", "10", "25"), ("JPY", "11", "16")]);
    let kwd = price(json!({"model": "volume", "tiers": [
        {"up_to": 10, "unit_amount": "0.0125"},
        {"up_to": null, "unit_amount": "0.0105"},
    ]}));
    // 10 × 0.0125 = 0.125; 11 × 0.0105 = 0.1155, tie to even.
    assert_amounts(&kwd, &[("KWD", "10", "0.125"), ("KWD", "11", "0.116")]);
}

#[test]
fn volume_is_not_monotone_when_later_tiers_are_cheaper() {
    // The reason the monotonicity property below leaves volume prices out.
    let p = volume_usd();
    assert!(line(&p, "1000", "USD", None).amount > line(&p, "1001", "USD", None).amount);
}

// ---------------------------------------------------------------------------------------
// Fixed, minimum.

#[test]
fn fixed_bills_its_amount_whatever_the_quantity() {
    let usd = price(json!({"model": "fixed", "amount": "99.00"}));
    assert_amounts(&usd, &[("USD", "0", "99.00"), ("USD", "1", "99.00"), ("USD", "7", "99.00")]);
    assert_amounts(&price(json!({"model": "fixed", "amount": "1000"})), &[("JPY", "1", "1000")]);
    assert_amounts(&price(json!({"model": "fixed", "amount": "12.3455"})), &[("KWD", "1", "12.346")]);
}

#[test]
fn minimum_raises_the_line_to_it_even_without_usage() {
    let p = per_unit("0.05");
    for (q, minimum, expected, applied) in [
        ("85.7", "10", "10.00", true),
        ("0", "10", "10.00", true),
        ("200", "10", "10.00", false), // equal: the usage pays it
        ("300", "10", "15.00", false),
        ("85.7", "4.2851", "4.29", true), // rounded once, from the minimum
        ("85.7", "4.284", "4.28", false),
    ] {
        let l = line(&p, q, "USD", Some(minimum));
        assert_eq!((format_amount(l.amount, l.currency).as_str(), l.minimum_applied), (expected, applied), "{q}");
        assert_eq!(l.subtotal_exact, d(q) * d("0.05"), "the subtotal is before the minimum");
    }
    let l = line(&p, "85.7", "USD", Some("10"));
    let v = serde_json::to_value(&l).unwrap();
    assert_eq!((&v["minimum"], &v["minimum_applied"], &v["amount"]), (&json!("10.00"), &json!(true), &json!("10.00")));
}

#[test]
fn unit_and_package_lines_render_as_json() {
    let l = line(&per_unit("0.0025"), "85.70", "USD", None);
    assert_eq!(
        serde_json::to_value(&l).unwrap(),
        json!({"model": "per_unit", "quantity": "85.7", "unit_amount": "0.0025", "tiers": [],
               "subtotal_exact": "0.21425", "minimum": null, "minimum_applied": false, "amount": "0.21"})
    );
    let p = price(json!({"model": "package", "package_size": 100, "package_amount": "5"}));
    assert_eq!(
        serde_json::to_value(line(&p, "101", "JPY", None)).unwrap(),
        json!({"model": "package", "quantity": "101", "unit_amount": "5", "package_size": 100, "packages": "2",
               "tiers": [], "subtotal_exact": "10", "minimum": null, "minimum_applied": false, "amount": "10"})
    );
}

// ---------------------------------------------------------------------------------------
// Exactness at the edges.

#[test]
fn an_amount_beyond_28_digits_is_computed_exactly_not_refused() {
    let p = per_unit("999999999999.123456789012");
    // 27 integer digits and 21 decimals: rust_decimal alone would round the product.
    let l = p.price(d("123456789012345.123456789"), Currency::USD, None);
    assert_eq!(l.subtotal_exact.to_string(), "123456789012236908246529850.968313142891672002468");
    assert_eq!(format_amount(l.amount, Currency::USD), "123456789012236908246529850.97");
    // The largest quantity a sum can reach still prices.
    assert_eq!(p.amount_exact(Decimal::MAX).to_string(), "79228162514194890685573017977173138144954.857101719020");
}

#[test]
fn no_binary_float_on_the_money_path() {
    let sources = [
        ("pricing.rs", include_str!("../src/pricing.rs")),
        ("invoice.rs", include_str!("../src/invoice.rs")),
        ("currency.rs", include_str!("../src/currency.rs")),
        ("quantity.rs", include_str!("../src/quantity.rs")),
        ("input.rs", include_str!("../src/input.rs")),
    ];
    for (name, src) in sources {
        for word in ["f64", "f32", "as_f64"] {
            assert!(!src.contains(word), "{name} mentions {word}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Invoices.

#[test]
fn invoice_numbers_are_zero_padded_to_six_digits_then_grow() {
    assert_eq!(invoice_number(1), "INV-000001");
    assert_eq!(invoice_number(42), "INV-000042");
    assert_eq!(invoice_number(999_999), "INV-999999");
    assert_eq!(invoice_number(1_000_000), "INV-1000000");
}

#[test]
fn invoice_total_is_the_sum_of_rounded_lines_not_the_rounded_sum() {
    // Three lines of 4.285 round to 4.28 each: 12.84, where rounding 12.855 would give 12.86.
    let items: Vec<Item> =
        (0..3).map(|i| item(&format!("item_{i}"), ItemKind::Usage, per_unit("0.05"), None)).collect();
    let inv =
        invoice_lines(Currency::USD, items.iter().map(|it| LineInput { item: it, quantity: d("85.7"), usage: None }))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((dec(&inv.subtotal), dec(&inv.total)), (d("12.84"), d("12.84")));
}

#[test]
fn invoice_lines_render_with_usage_and_fixed_fees_once() {
    let fee = item("item_fee", ItemKind::Fixed, price(json!({"model": "fixed", "amount": "99.00"})), None);
    let ocr = item("item_ocr", ItemKind::Usage, per_unit("0.05"), None);
    let idle = item("item_idle", ItemKind::Usage, per_unit("0.10"), Some("1"));
    let usage = UsageSummary {
        metric_code: "invoices_processed".to_owned(),
        event_count: 3,
        first_event_at: Some(ts("2026-11-02T10:00:00Z")),
        last_event_at: Some(ts("2026-11-20T08:30:00.250Z")),
        events_digest: None,
    };
    let inv = invoice_lines(
        Currency::USD,
        [
            // A fixed item bills quantity 1, whatever quantity it is given.
            LineInput { item: &fee, quantity: d("5"), usage: None },
            LineInput { item: &ocr, quantity: d("85.7"), usage: Some(usage) },
            LineInput { item: &idle, quantity: Decimal::ZERO, usage: None },
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        serde_json::to_value(&inv).unwrap(),
        json!({
            "currency": "USD",
            "lines": [
                {"item_id": "item_fee", "name": "item_fee name", "kind": "fixed", "model": "fixed",
                 "quantity": "1", "unit_amount": "99.00", "tiers": [], "subtotal_exact": "99.00",
                 "minimum": null, "minimum_applied": false, "amount": "99.00", "usage": null},
                {"item_id": "item_ocr", "name": "item_ocr name", "kind": "usage", "model": "per_unit",
                 "quantity": "85.7", "unit_amount": "0.05", "tiers": [], "subtotal_exact": "4.285",
                 "minimum": null, "minimum_applied": false, "amount": "4.28",
                 "usage": {"metric_code": "invoices_processed", "event_count": 3,
                           "first_event_at": "2026-11-02T10:00:00Z", "last_event_at": "2026-11-20T08:30:00.250Z"}},
                {"item_id": "item_idle", "name": "item_idle name", "kind": "usage", "model": "per_unit",
                 "quantity": "0", "unit_amount": "0.10", "tiers": [], "subtotal_exact": "0.00",
                 "minimum": "1.00", "minimum_applied": true, "amount": "1.00",
                 "usage": {"metric_code": "item_idle_metric", "event_count": 0,
                           "first_event_at": null, "last_event_at": null}},
            ],
            "subtotal": "104.28",
            "total": "104.28",
        })
    );
}

#[test]
fn invoice_in_a_zero_decimal_currency() {
    let a = item("item_a", ItemKind::Usage, per_unit("0.5"), None);
    let b = item("item_b", ItemKind::Usage, per_unit("0.5"), None);
    let inv = invoice_lines(
        cur("JPY"),
        [
            LineInput { item: &a, quantity: d("5"), usage: None }, // 2.5 → 2
            LineInput { item: &b, quantity: d("7"), usage: None }, // 3.5 → 4
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let v = serde_json::to_value(&inv).unwrap();
    assert_eq!(
        (&v["lines"][0]["amount"], &v["lines"][1]["amount"], &v["total"]),
        (&json!("2"), &json!("4"), &json!("6"))
    );
}

// ---------------------------------------------------------------------------------------
// Properties.

/// `mantissa / 10^scale`, so generated values are exact decimals.
fn decimal(max_mantissa: i64, max_scale: u32) -> impl Strategy<Value = Decimal> {
    (0..=max_mantissa, 0..=max_scale).prop_map(|(m, s)| Decimal::new(m, s))
}

fn quantity() -> impl Strategy<Value = Decimal> {
    // Up to 1e7 units with up to 6 decimals, or whole counts up to 1e12.
    prop_oneof![decimal(10_000_000_000_000, 6), decimal(1_000_000_000_000, 0)]
}

fn unit_amount() -> impl Strategy<Value = Decimal> {
    decimal(10_000_000, 6)
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["JPY", "USD", "EUR", "GBP", "KWD"]).prop_map(cur)
}

fn minimum() -> impl Strategy<Value = Option<Decimal>> {
    prop::option::of(decimal(100_000_000, 4))
}

/// 1 to 6 tiers with increasing bounds, the last one open.
fn tiers() -> impl Strategy<Value = Vec<Tier>> {
    prop::collection::vec(
        (decimal(100_000, 2).prop_map(|g| g + Decimal::ONE), unit_amount(), decimal(100_000, 3)),
        1..=6,
    )
    .prop_map(|specs| {
        let n = specs.len();
        let mut bound = Decimal::ZERO;
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (gap, unit_amount, flat_amount))| {
                bound += gap;
                Tier { up_to: (i + 1 < n).then_some(bound), unit_amount, flat_amount }
            })
            .collect()
    })
}

/// Prices whose amount never decreases as the quantity grows: all models but volume.
fn monotone_price() -> impl Strategy<Value = Price> {
    prop_oneof![
        unit_amount().prop_map(|unit_amount| Price::PerUnit { unit_amount }),
        (1..=10_000u64, unit_amount())
            .prop_map(|(package_size, package_amount)| Price::Package { package_size, package_amount }),
        tiers().prop_map(|tiers| Price::Graduated { tiers }),
        decimal(100_000_000, 4).prop_map(|amount| Price::Fixed { amount }),
    ]
}

fn any_price() -> impl Strategy<Value = Price> {
    prop_oneof![4 => monotone_price(), 1 => tiers().prop_map(|tiers| Price::Volume { tiers })]
}

fn priced(p: &Price, q: Decimal, c: Currency, minimum: Option<Decimal>) -> Result<PricedLine, TestCaseError> {
    Ok(p.price(q, c, minimum))
}

/// Rounds `n / 10^shift` half-even, in integers.
fn round_half_even(n: i128, shift: u32) -> i128 {
    let div = 10i128.pow(shift);
    let (q, r) = (n / div, n % div);
    match (2 * r).cmp(&div) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    }
}

/// Minor units as the API writes them (`428`, 2 → `"4.28"`).
fn minor_to_string(minor: i128, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let div = 10i128.pow(exponent);
    format!("{}.{:0width$}", minor / div, minor % div, width = exponent as usize)
}

/// `(m / 10^s) × (n / 10^t)` rounded half-even to the currency, in integers.
fn expected_per_unit(m: i64, s: u32, n: i64, t: u32, c: Currency) -> String {
    let e = c.exponent();
    let exact = m as i128 * n as i128; // at scale s + t
    let minor = if s + t >= e { round_half_even(exact, s + t - e) } else { exact * 10i128.pow(e - s - t) };
    minor_to_string(minor, e)
}

proptest! {
    #[test]
    fn amounts_are_never_negative(p in any_price(), q in quantity(), c in currency(), min in minimum()) {
        let l = priced(&p, q, c, min)?;
        prop_assert!(l.amount >= Exact::ZERO && l.subtotal_exact >= Exact::ZERO, "{l:?}");
        for t in &l.tiers {
            prop_assert!(t.units > Exact::ZERO && t.subtotal >= Exact::ZERO, "{t:?}");
        }
        // A negative quantity is priced as none.
        prop_assert_eq!(priced(&p, -q, c, min)?.amount, priced(&p, Decimal::ZERO, c, min)?.amount);
    }

    #[test]
    fn amounts_never_decrease_as_quantity_grows(p in monotone_price(), a in quantity(), b in quantity(), c in currency()) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (l, h) = (priced(&p, lo, c, None)?, priced(&p, hi, c, None)?);
        prop_assert!(l.subtotal_exact <= h.subtotal_exact, "{lo} → {}, {hi} → {}", l.subtotal_exact, h.subtotal_exact);
        prop_assert!(l.amount <= h.amount);
    }

    #[test]
    fn graduated_is_the_sum_of_its_tiers(tiers in tiers(), q in quantity(), c in currency()) {
        let p = Price::Graduated { tiers: tiers.clone() };
        let l = priced(&p, q, c, None)?;
        let units: Decimal = l.tiers.iter().map(|t| dec(&t.units)).sum();
        let subtotal: Decimal = l.tiers.iter().map(|t| dec(&t.subtotal)).sum();
        prop_assert_eq!(units, q);
        prop_assert_eq!(subtotal, dec(&l.subtotal_exact));
        // The tiers billed are the first ones, in order, each within its bounds.
        let mut lower = Decimal::ZERO;
        for (t, spec) in l.tiers.iter().zip(&tiers) {
            prop_assert_eq!(t.up_to, spec.up_to);
            prop_assert_eq!(dec(&t.subtotal), dec(&t.units) * spec.unit_amount + spec.flat_amount);
            if let Some(u) = spec.up_to {
                prop_assert!(dec(&t.units) <= u - lower);
                lower = u;
            }
        }
        prop_assert_eq!(l.amount, p.amount(q, c));
    }

    #[test]
    fn volume_with_one_open_tier_is_per_unit(unit_amount in unit_amount(), q in quantity(), c in currency()) {
        let volume = Price::Volume { tiers: vec![Tier { up_to: None, unit_amount, flat_amount: Decimal::ZERO }] };
        let (v, u) = (priced(&volume, q, c, None)?, priced(&Price::PerUnit { unit_amount }, q, c, None)?);
        prop_assert_eq!((v.subtotal_exact, v.amount, v.unit_amount), (u.subtotal_exact, u.amount, u.unit_amount));
    }

    #[test]
    fn per_unit_matches_integer_half_even_arithmetic(
        m in 0..=10_000_000_000i64, s in 0..=9u32, n in 0..=10_000_000i64, t in 0..=6u32, c in currency(),
    ) {
        let l = priced(&Price::PerUnit { unit_amount: Decimal::new(n, t) }, Decimal::new(m, s), c, None)?;
        prop_assert_eq!(format_amount(l.amount, c), expected_per_unit(m, s, n, t, c));
    }

    #[test]
    fn exact_ties_round_to_even(m in 0..=1_000_000i64, k in 0..=1_000_000i64, c in currency()) {
        // A unit price ending in 5 one place past the minor unit: every odd quantity is a tie.
        let (n, t) = (10 * k + 5, c.exponent() + 1);
        let l = priced(&Price::PerUnit { unit_amount: Decimal::new(n, t) }, Decimal::from(m), c, None)?;
        prop_assert_eq!(format_amount(l.amount, c), expected_per_unit(m, 0, n, t, c));
    }

    #[test]
    fn package_count_is_the_integer_ceiling(m in 0..=10_000_000_000_000i64, s in 0..=9u32, size in 1..=1_000_000_000u64) {
        let denominator = size as i128 * 10i128.pow(s);
        let expected = (m as i128 + denominator - 1) / denominator;
        let p = Price::Package { package_size: size, package_amount: Decimal::ONE };
        let l = priced(&p, Decimal::new(m, s), Currency::USD, None)?;
        prop_assert_eq!(l.packages.as_ref().map(dec), Some(Decimal::from_i128_with_scale(expected, 0)));
    }

    #[test]
    fn minimum_sets_the_floor_of_the_rounded_line(p in any_price(), q in quantity(), c in currency(), min in decimal(100_000_000, 4)) {
        let (with, without) = (priced(&p, q, c, Some(min))?, priced(&p, q, c, None)?);
        prop_assert_eq!(&with.amount, &without.amount.clone().max(edgemeter_core::pricing::round(&Exact::from(min), c)));
        let floor = Exact::from(min);
        prop_assert_eq!(with.minimum_applied, floor > without.subtotal_exact);
        prop_assert_eq!(with.subtotal_exact, without.subtotal_exact);
    }

    #[test]
    fn invoice_total_is_the_sum_of_its_rounded_lines(
        specs in prop::collection::vec((any_price(), quantity(), minimum()), 0..10),
        c in currency(),
    ) {
        let items: Vec<(Item, Decimal)> = specs
            .into_iter()
            .enumerate()
            .map(|(i, (p, q, min))| {
                let kind = if matches!(p, Price::Fixed { .. }) { ItemKind::Fixed } else { ItemKind::Usage };
                (Item { minimum: min, ..item(&format!("item_{i}"), kind, p, None) }, q)
            })
            .collect();
        let Ok(inv) = invoice_lines(c, items.iter().map(|(it, q)| LineInput { item: it, quantity: *q, usage: None }));
        prop_assert_eq!(inv.lines.len(), items.len());
        let mut sum = Decimal::ZERO;
        for (l, (it, q)) in inv.lines.iter().zip(&items) {
            prop_assert!(l.priced.amount.scale() <= c.exponent(), "{:?} is not rounded to {c}", l.priced.amount);
            let q = if it.kind == ItemKind::Fixed { Decimal::ONE } else { *q };
            prop_assert_eq!(&l.priced.amount, &priced(&it.price, q, c, it.minimum)?.amount);
            sum += dec(&l.priced.amount);
        }
        prop_assert_eq!(dec(&inv.subtotal), sum);
        prop_assert_eq!(dec(&inv.total), sum);
        prop_assert!(inv.total.scale() <= c.exponent());
    }

    #[test]
    fn price_json_round_trip_is_lossless(p in any_price()) {
        let v = serde_json::to_value(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Price = serde_json::from_value(v.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &p);
        // What is stored can be read back by the API's own parser, to the same price.
        let parsed = Price::from_value(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed, &p);
        // And the text is kept digit for digit, scale included.
        prop_assert_eq!(serde_json::to_string(&back).ok(), serde_json::to_string(&p).ok());
    }
}

/// A zero with decimals (`"flat_amount": "0.000"`, as people type it) is not an overflow:
/// rust_decimal adds a zero by returning the other operand at its own scale, which the
/// exactness check once took for a rounded sum, so every invoice of such a price failed
/// (found by `customer_machine_props`).
#[test]
fn a_zero_with_decimals_prices_like_any_zero() {
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let tiers = vec![
        Tier { up_to: Some(d("2")), unit_amount: d("0"), flat_amount: d("0.000") },
        Tier { up_to: Some(d("5.5")), unit_amount: d("126"), flat_amount: d("87.1") },
        Tier { up_to: None, unit_amount: d("13.38"), flat_amount: d("8.43") },
    ];
    let line = Price::Graduated { tiers }.price(d("13.4"), Currency::USD, Some(d("0.00")));
    assert_eq!(line.amount, d("642.23"));
}
