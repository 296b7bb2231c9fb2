//! Every accepted configuration is billable (issue 18): whatever prices `POST
//! /v1/customers/{id}/items` and contracts accept, and whatever quantity a period can
//! reach, the invoice computes, exactly.
//!
//! Prices are read through the API's own parser (`ItemInput::from_body`) at the edges of
//! what it accepts; quantities go up to the largest an aggregate holds (`Decimal::MAX`, where
//! a sum saturates), the largest event value and counts near `u64::MAX`. The model checks
//! the result in schoolbook decimal arithmetic on digit strings of its own, never with the
//! code under test: each tier's subtotal is its units times its price plus its flat fee,
//! the tiers' units add up to the quantity, each line is its subtotal (or minimum)
//! rounded half-even, and the total is the sum of the lines.

use edgemeter_core::currency::Currency;
use edgemeter_core::invoice::{invoice_lines, InvoiceLines, LineInput};
use edgemeter_core::item::{Item, ItemInput, ItemKind};
use edgemeter_core::time::Timestamp;
use edgemeter_core::ErrorCode;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::str::FromStr;

// ---------------------------------------------------------------------------------------
// The model: non-negative decimals as digit strings, added, multiplied and rounded by hand.

/// `digits / 10^scale`, most significant digit first, no leading zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Num {
    digits: Vec<u8>,
    scale: usize,
}

impl Num {
    fn parse(s: &str) -> Num {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        Num { digits, scale: frac.len() }.trim()
    }

    fn trim(mut self) -> Num {
        let lead = self.digits.iter().take_while(|d| **d == 0).count();
        self.digits.drain(..lead);
        self
    }

    /// The mantissa's digits at `scale` decimals, least significant first.
    fn at(&self, scale: usize) -> Vec<u8> {
        let mut v: Vec<u8> = vec![0; scale - self.scale];
        v.extend(self.digits.iter().rev());
        v
    }

    fn add(&self, o: &Num) -> Num {
        let scale = self.scale.max(o.scale);
        let (a, b) = (self.at(scale), o.at(scale));
        let mut out = Vec::new();
        let mut carry = 0;
        for i in 0..a.len().max(b.len()) {
            let t = a.get(i).unwrap_or(&0) + b.get(i).unwrap_or(&0) + carry;
            out.push(t % 10);
            carry = t / 10;
        }
        out.push(carry);
        out.reverse();
        Num { digits: out, scale }.trim()
    }

    fn mul(&self, o: &Num) -> Num {
        let (a, b) = (self.at(self.scale), o.at(o.scale));
        let mut out = vec![0u32; a.len() + b.len() + 1];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                out[i + j] += u32::from(*x) * u32::from(*y);
            }
        }
        for i in 0..out.len() - 1 {
            out[i + 1] += out[i] / 10;
            out[i] %= 10;
        }
        let digits = out.iter().rev().map(|d| *d as u8).collect();
        Num { digits, scale: self.scale + o.scale }.trim()
    }

    fn cmp(&self, o: &Num) -> Ordering {
        let scale = self.scale.max(o.scale);
        let (mut a, mut b) = (self.at(scale), o.at(scale));
        let n = a.len().max(b.len());
        a.resize(n, 0);
        b.resize(n, 0);
        a.iter().rev().cmp(b.iter().rev())
    }

    /// Rounded half-even to `dp` decimals, written with exactly `dp` decimals.
    fn round(&self, dp: usize) -> String {
        let mut low = self.at(self.scale.max(dp));
        let cut = self.scale.max(dp) - dp;
        // Leading zeros, so the first digit dropped is the one just past the kept ones.
        low.resize(low.len().max(cut + 1), 0);
        let dropped: Vec<u8> = low.drain(..cut).collect();
        let first = dropped.last().copied().unwrap_or(0);
        let rest = dropped.iter().rev().skip(1).any(|d| *d != 0);
        let odd = low.first().is_some_and(|d| d % 2 == 1);
        let mut kept = Num { digits: low.iter().rev().copied().collect(), scale: dp }.trim();
        if first > 5 || (first == 5 && (rest || odd)) {
            kept = kept.add(&Num { digits: vec![1], scale: dp });
        }
        kept.show(dp)
    }

    fn show(&self, dp: usize) -> String {
        let mut d: String = self.at(dp.max(self.scale)).iter().rev().map(|d| char::from(b'0' + d)).collect();
        let width = dp.max(self.scale) + 1;
        if d.len() < width {
            d = format!("{}{d}", "0".repeat(width - d.len()));
        }
        let (int, frac) = d.split_at(d.len() - dp.max(self.scale));
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        if frac.is_empty() {
            int.to_owned()
        } else {
            format!("{int}.{frac}")
        }
    }
}

fn num(v: &Value) -> Num {
    Num::parse(v.as_str().unwrap_or_else(|| panic!("{v} is not a decimal string")))
}

// ---------------------------------------------------------------------------------------
// Generators at the bounds `docs/api.md` states.

/// An amount as the API takes it: below 10¹² with at most 12 decimals, often at the edge.
fn amount() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("999999999999.999999999999".to_owned()),
        Just("999999999999".to_owned()),
        Just("0.000000000001".to_owned()),
        Just("0".to_owned()),
        (0u64..1_000_000_000_000, 0u64..1_000_000_000_000, 0usize..=12).prop_map(|(i, f, s)| {
            if s == 0 {
                i.to_string()
            } else {
                format!("{i}.{}", &format!("{f:012}")[..s])
            }
        }),
    ]
}

/// A rising list of tier bounds below 10¹², the last tier open.
fn tiers() -> impl Strategy<Value = Value> {
    (prop::collection::btree_set(1u64..1_000_000_000_000, 0..49), prop::collection::vec((amount(), amount()), 50))
        .prop_map(|(bounds, prices)| {
            let mut ups: Vec<Value> = bounds.into_iter().map(|b| json!(b.to_string())).collect();
            ups.push(Value::Null);
            let tiers: Vec<Value> = ups
                .into_iter()
                .zip(prices)
                .map(|(up_to, (unit, flat))| json!({"up_to": up_to, "unit_amount": unit, "flat_amount": flat}))
                .collect();
            Value::Array(tiers)
        })
}

/// An item body, as a client would post it, of any model, with or without a minimum.
fn item_body() -> impl Strategy<Value = Value> {
    let price = prop_oneof![
        amount().prop_map(|a| json!({"model": "per_unit", "unit_amount": a})),
        (prop_oneof![Just(1u64), Just(1_000_000_000), 1u64..=1_000_000_000], amount())
            .prop_map(|(size, a)| json!({"model": "package", "package_size": size, "package_amount": a})),
        tiers().prop_map(|t| json!({"model": "graduated", "tiers": t})),
        tiers().prop_map(|t| json!({"model": "volume", "tiers": t})),
        amount().prop_map(|a| json!({"model": "fixed", "amount": a})),
    ];
    (price, prop::option::of(amount())).prop_map(|(price, minimum)| {
        let fixed = price["model"] == "fixed";
        let mut body = json!({"name": "line", "kind": if fixed { "fixed" } else { "usage" }, "price": price});
        if !fixed {
            body["metric_code"] = json!("m");
        }
        if let Some(m) = minimum {
            body["minimum"] = json!(m);
        }
        body
    })
}

/// A quantity a period can reach: a sum up to where it saturates, the largest event value
/// (`max`, `latest`), counts near `u64::MAX`, and anything in between.
fn quantity() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::MAX),
        Just(Decimal::from_str("999999999999999.999999999").unwrap_or_default()),
        Just(Decimal::from(u64::MAX)),
        Just(Decimal::ZERO),
        (any::<u64>(), any::<u32>(), 0u32..=9).prop_map(|(lo, hi, s)| Decimal::from_parts(
            lo as u32,
            (lo >> 32) as u32,
            hi,
            false,
            s
        )),
    ]
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![Just("USD"), Just("JPY"), Just("KWD"), Just("CLF")]
        .prop_map(|c| Currency::parse(c).unwrap_or(Currency::USD))
}

fn accepted(body: &Value, i: usize) -> Item {
    let input = ItemInput::from_body(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{body} refused: {e}"));
    Item {
        id: format!("item_{i}"),
        customer_id: "cus_1".to_owned(),
        name: input.name,
        kind: input.kind,
        event_name: input.metric_code.clone(),
        metric_code: input.metric_code,
        price: input.price,
        minimum: input.minimum,
        created_at: Timestamp(0),
    }
}

fn lines(currency: Currency, items: &[(Item, Decimal)]) -> InvoiceLines {
    let Ok(lines) =
        invoice_lines(currency, items.iter().map(|(item, q)| LineInput { item, quantity: *q, usage: None }));
    lines
}

/// Checks one rendered invoice against the model; the first disagreement.
fn check(rendered: &Value, items: &[(Item, Decimal)], dp: usize) -> Result<(), String> {
    let mut total = Num::parse("0");
    let Some(rendered_lines) = rendered["lines"].as_array() else { return Err("no lines".into()) };
    for (line, (item, q)) in rendered_lines.iter().zip(items) {
        let quantity = if item.kind == ItemKind::Fixed { Num::parse("1") } else { Num::parse(&q.to_string()) };
        let subtotal = num(&line["subtotal_exact"]);
        match line["model"].as_str() {
            Some("per_unit") => {
                let expected = quantity.mul(&num(&line["unit_amount"]));
                if subtotal.cmp(&expected) != Ordering::Equal {
                    return Err(format!("per unit: {line}"));
                }
            }
            Some("fixed") if subtotal.cmp(&num(&line["unit_amount"])) != Ordering::Equal => {
                return Err(format!("fixed: {line}"));
            }
            Some("package") => {
                let packages = num(&line["packages"]);
                let expected = packages.mul(&num(&line["unit_amount"]));
                let size = Num::parse(&line["package_size"].to_string());
                // Enough packages, and one fewer would not be: q ≤ n × size < q + size.
                let held = packages.mul(&size);
                let enough = held.cmp(&quantity) != Ordering::Less && held.cmp(&quantity.add(&size)) == Ordering::Less;
                if subtotal.cmp(&expected) != Ordering::Equal || !enough {
                    return Err(format!("package: {line}"));
                }
            }
            Some("graduated") | Some("volume") => {
                let mut units = Num::parse("0");
                let mut sum = Num::parse("0");
                for t in line["tiers"].as_array().into_iter().flatten() {
                    let sub = num(&t["units"]).mul(&num(&t["unit_amount"])).add(&num(&t["flat_amount"]));
                    if sub.cmp(&num(&t["subtotal"])) != Ordering::Equal {
                        return Err(format!("tier: {t}"));
                    }
                    units = units.add(&num(&t["units"]));
                    sum = sum.add(&sub);
                }
                let all_units = line["tiers"].as_array().is_some_and(|t| !t.is_empty()) || quantity.digits.is_empty();
                if sum.cmp(&subtotal) != Ordering::Equal || (all_units && units.cmp(&quantity) != Ordering::Equal) {
                    return Err(format!("tiers do not add up: {line}"));
                }
            }
            _ => {}
        }
        let billed = match &line["minimum"] {
            Value::Null => subtotal,
            m if num(m).cmp(&subtotal) == Ordering::Greater => num(m),
            _ => subtotal,
        };
        if line["amount"] != json!(billed.round(dp)) {
            return Err(format!("amount {} is not {} rounded: {line}", line["amount"], billed.show(billed.scale)));
        }
        total = total.add(&num(&line["amount"]));
    }
    if rendered["total"] != json!(total.show(dp)) || rendered["subtotal"] != rendered["total"] {
        return Err(format!("total {} is not the sum of the lines {}", rendered["total"], total.show(dp)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any accepted items, any quantities a period can reach: the invoice computes and
    /// every figure on it is exact.
    #[test]
    fn every_accepted_configuration_is_billable(
        specs in prop::collection::vec((item_body(), quantity()), 1..60),
        c in currency(),
    ) {
        let items: Vec<(Item, Decimal)> = specs.iter().enumerate().map(|(i, (b, q))| (accepted(b, i), *q)).collect();
        let rendered = serde_json::to_value(lines(c, &items)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&rendered, &items, c.exponent() as usize).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------------------------------
// Regressions.

/// Configurations that made `GET …/invoices/upcoming` answer 500 (`pricing: Overflow`), and
/// what they bill now.
#[test]
fn configurations_that_overflowed_now_bill() {
    let max = "999999999999.999999999999";
    let cases: &[(&str, Value, &str, &str)] = &[
        // (case, item body, quantity, total in USD)
        (
            "largest unit price, a 15-digit quantity with 9 decimals",
            json!({"name": "a", "kind": "usage", "metric_code": "m", "price": {"model": "per_unit", "unit_amount": max}}),
            "999999999999999.999999999",
            "999999999999999999999998000.00",
        ),
        (
            "a 21-digit quantity times a 9-digit price",
            json!({"name": "a", "kind": "usage", "metric_code": "m", "price": {"model": "per_unit", "unit_amount": "1.23456789"}}),
            "123456789012.123456789",
            "152415787516.87",
        ),
        (
            "graduated, every tier at the largest prices, past the last bound",
            json!({"name": "a", "kind": "usage", "metric_code": "m", "price": {"model": "graduated", "tiers": [
                {"up_to": "999999999998", "unit_amount": max, "flat_amount": max},
                {"up_to": null, "unit_amount": max, "flat_amount": max}]}}),
            "79228162514264337593543950335",
            "79228162514264337593543871108837485735662.41",
        ),
        (
            "package of 1 at the largest price, a saturated sum",
            json!({"name": "a", "kind": "usage", "metric_code": "m", "price": {"model": "package", "package_size": 1, "package_amount": max}}),
            "79228162514264337593543950335",
            "79228162514264337593543871106837485735662.41",
        ),
        (
            "volume with a minimum at the bound, no usage",
            json!({"name": "a", "kind": "usage", "metric_code": "m", "minimum": max, "price": {"model": "volume", "tiers": [
                {"up_to": null, "unit_amount": max, "flat_amount": max}]}}),
            "0",
            "1000000000000.00",
        ),
    ];
    for (case, body, q, total) in cases {
        let items = vec![(accepted(body, 0), Decimal::from_str(q).unwrap_or_default())];
        let inv = lines(Currency::USD, &items);
        let rendered = serde_json::to_value(&inv).unwrap_or_default();
        assert_eq!(rendered["total"], json!(total), "{case}");
        check(&rendered, &items, 2).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
    // Schemathesis's case: ten items at the largest prices on one customer, with usage.
    let items: Vec<(Item, Decimal)> = (0..10)
        .map(|i| {
            let body = if i % 2 == 0 {
                json!({"name": "f", "kind": "fixed", "price": {"model": "fixed", "amount": max}, "minimum": max})
            } else {
                json!({"name": "u", "kind": "usage", "metric_code": "m", "price": {"model": "per_unit", "unit_amount": max}})
            };
            (accepted(&body, i), Decimal::from_str("999999999999999.999999999").unwrap_or_default())
        })
        .collect();
    let rendered = serde_json::to_value(lines(Currency::USD, &items)).unwrap_or_default();
    assert_eq!(rendered["total"], json!("5000000000000004999999990000.00"));
    check(&rendered, &items, 2).unwrap_or_else(|e| panic!("ten items: {e}"));
}

/// A price past the bounds is a 400 with the field at fault, for an item and for a
/// contract's item alike.
#[test]
fn a_price_past_the_bounds_is_refused_with_its_field() {
    let cases: &[(Value, &str)] = &[
        (json!({"model": "per_unit", "unit_amount": "1000000000000"}), "price.unit_amount"),
        (json!({"model": "per_unit", "unit_amount": "0.0000000000001"}), "price.unit_amount"),
        (json!({"model": "package", "package_size": 1_000_000_001u64, "package_amount": "1"}), "price.package_size"),
        (json!({"model": "package", "package_size": 10, "package_amount": "1000000000000"}), "price.package_amount"),
        (
            json!({"model": "graduated", "tiers": [{"up_to": "1000000000000", "unit_amount": "1"}, {"up_to": null, "unit_amount": "1"}]}),
            "price.tiers[0].up_to",
        ),
        (
            json!({"model": "volume", "tiers": [{"up_to": null, "unit_amount": "1", "flat_amount": "1000000000000"}]}),
            "price.tiers[0].flat_amount",
        ),
    ];
    let metric = edgemeter_core::metric::MetricDef::from_body(
        br#"{"code": "m", "name": "M", "event_name": "e", "aggregation": "sum"}"#,
    )
    .unwrap_or_else(|e| panic!("test metric: {e}"));
    for (price, field) in cases {
        let item = json!({"name": "a", "kind": "usage", "metric_code": "m", "price": price});
        let e = ItemInput::from_body(item.to_string().as_bytes()).err().unwrap_or_else(|| panic!("{item} accepted"));
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some(*field)), "{item}");
        let contract = json!({"customer": {"name": "A", "email": "a@example.com"}, "items": [item]});
        let e = edgemeter_core::contract::Terms::from_body(
            contract.to_string().as_bytes(),
            Timestamp(0),
            std::slice::from_ref(&metric),
        )
        .err()
        .unwrap_or_else(|| panic!("{contract} accepted"));
        let at = format!("items[0].{field}");
        assert_eq!(e.field.as_deref(), Some(at.as_str()), "{contract}");
        assert_eq!(e.errors.first().map(|p| p.code), Some(ErrorCode::InvalidField), "{contract}");
    }
    let minimum = json!({"name": "a", "kind": "usage", "metric_code": "m", "minimum": "1000000000000",
                         "price": {"model": "per_unit", "unit_amount": "1"}});
    let e = ItemInput::from_body(minimum.to_string().as_bytes()).err().unwrap_or_else(|| panic!("accepted"));
    assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidField, Some("minimum")));
}
