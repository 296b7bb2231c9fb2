//! Billable metrics (API.md, "Billable metrics"): which events count, and how they are
//! aggregated into a quantity.

use crate::error::{ApiError, ErrorCode};
use crate::event::{ValidEvent, MAX_EVENT_NAME_CHARS};
use crate::ingest::valid_name;
use crate::input::Fields;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// How a metric folds its events into one quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Sum of event values.
    Sum,
    /// Number of events.
    Count,
    /// Largest event value.
    Max,
    /// Number of distinct values of the property named by `field`.
    UniqueCount,
    /// Value of the newest event (by timestamp; ties broken by idempotency key).
    Latest,
}

impl Aggregation {
    pub fn parse(s: &str) -> Option<Aggregation> {
        Some(match s {
            "sum" => Aggregation::Sum,
            "count" => Aggregation::Count,
            "max" => Aggregation::Max,
            "unique_count" => Aggregation::UniqueCount,
            "latest" => Aggregation::Latest,
            _ => return None,
        })
    }
}

/// A metric definition. Definitions never change once created, so a stored aggregate
/// stays valid for its metric for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricDef {
    pub code: String,
    pub name: String,
    pub event_name: String,
    pub aggregation: Aggregation,
    /// The property `unique_count` counts distinct values of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Property → allowed values; an event counts only if every listed property has one
    /// of its allowed values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<String, Vec<String>>,
}

/// A metric as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    pub id: String,
    #[serde(flatten)]
    pub def: MetricDef,
    pub created_at: crate::time::Timestamp,
}

pub const MAX_METRIC_CODE_LEN: usize = 64;
pub const MAX_FILTER_VALUES: usize = 100;

impl MetricDef {
    /// Reads `POST /v1/billing/metrics`'s body.
    pub fn from_body(body: &[u8]) -> Result<MetricDef, ApiError> {
        let mut f = Fields::parse(body)?;
        let code = f.req_str("code")?;
        if code.is_empty()
            || code.len() > MAX_METRIC_CODE_LEN
            || !code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(f.invalid("code", "`code` must be 1 to 64 of a-z, 0-9, `_`, `-`, `.`"));
        }
        let name = f.req_str("name")?;
        if !valid_name(&name, 256) {
            return Err(f.invalid("name", "`name` must be 1 to 256 characters"));
        }
        let event_name = f.req_str("event_name")?;
        if !valid_name(&event_name, MAX_EVENT_NAME_CHARS) {
            return Err(f.invalid("event_name", "`event_name` must be 1 to 128 characters"));
        }
        let agg_text = f.req_str("aggregation")?;
        let aggregation = Aggregation::parse(&agg_text).ok_or_else(|| {
            f.invalid("aggregation", "`aggregation` must be one of sum, count, max, unique_count, latest")
        })?;
        let field = f.opt_str("field")?;
        match (aggregation, &field) {
            (Aggregation::UniqueCount, None) => {
                return Err(ApiError::new(
                    ErrorCode::MissingField,
                    "`unique_count` needs `field`, the property to count",
                )
                .field("field"))
            }
            (Aggregation::UniqueCount, Some(p)) if !valid_name(p, 64) => {
                return Err(f.invalid("field", "`field` must be a property key of 1 to 64 characters"))
            }
            (Aggregation::UniqueCount, Some(_)) => {}
            (_, Some(_)) => {
                return Err(
                    f.invalid("field", "`field` applies only to `unique_count`; other aggregations read `value`")
                )
            }
            (_, None) => {}
        }
        let filters = match f.take("filters") {
            None => BTreeMap::new(),
            Some(v) => parse_filters(v)?,
        };
        f.finish()?;
        Ok(MetricDef { code, name, event_name, aggregation, field, filters })
    }

    /// Whether this metric counts the event: its name matches and every filter passes.
    pub fn matches(&self, ev: &ValidEvent<'_>) -> bool {
        self.event_name == ev.event_name()
            && self.filters.iter().all(|(prop, allowed)| {
                ev.properties().get(prop).is_some_and(|v| allowed.iter().any(|a| a == v.as_text()))
            })
    }
}

fn parse_filters(v: Value) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    let bad = || ApiError::invalid("filters", "`filters` must map property names to non-empty arrays of strings");
    let Value::Object(map) = v else { return Err(bad()) };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if !valid_name(&k, 64) {
            return Err(bad());
        }
        let Value::Array(vals) = v else { return Err(bad()) };
        if vals.is_empty() || vals.len() > MAX_FILTER_VALUES {
            return Err(bad());
        }
        let vals = vals
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(k, vals);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_definition() {
        let m = MetricDef::from_body(
            br#"{"code":"api_calls","name":"API calls","event_name":"call","aggregation":"count","filters":{"region":["eu","us"]}}"#,
        )
        .unwrap();
        assert_eq!(m.aggregation, Aggregation::Count);
        assert_eq!(m.filters["region"], vec!["eu", "us"]);
    }

    #[test]
    fn refuses_bad_definitions_with_their_field() {
        let cases: &[(&str, &str, ErrorCode)] = &[
            (r#"{"name":"x","event_name":"e","aggregation":"sum"}"#, "code", ErrorCode::MissingField),
            (r#"{"code":"A B","name":"x","event_name":"e","aggregation":"sum"}"#, "code", ErrorCode::InvalidField),
            (
                r#"{"code":"c","name":"x","event_name":"e","aggregation":"median"}"#,
                "aggregation",
                ErrorCode::InvalidField,
            ),
            (
                r#"{"code":"c","name":"x","event_name":"e","aggregation":"unique_count"}"#,
                "field",
                ErrorCode::MissingField,
            ),
            (
                r#"{"code":"c","name":"x","event_name":"e","aggregation":"sum","field":"f"}"#,
                "field",
                ErrorCode::InvalidField,
            ),
            (
                r#"{"code":"c","name":"x","event_name":"e","aggregation":"sum","filters":{"a":[]}}"#,
                "filters",
                ErrorCode::InvalidField,
            ),
            (
                r#"{"code":"c","name":"x","event_name":"e","aggregation":"sum","extra":1}"#,
                "extra",
                ErrorCode::UnknownField,
            ),
        ];
        for (body, field, code) in cases {
            let e = MetricDef::from_body(body.as_bytes()).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), (*code, Some(*field)), "{body}");
        }
    }
}
