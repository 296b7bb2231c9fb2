//! Reading admin request bodies field by field, so every error names its field and the
//! code is stable (`missing_field`, `invalid_field`, `unknown_field`), instead of serde's
//! free-text messages.

use crate::error::{ApiError, ErrorCode};
use serde_json::{Map, Value};

/// A JSON object being read; [`Fields::finish`] refuses any field nobody asked for.
pub struct Fields {
    map: Map<String, Value>,
    /// Prefix for nested field names in errors (`invoice_schedule.interval`).
    prefix: &'static str,
}

impl Fields {
    /// Parses a request body that must be a JSON object.
    pub fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not valid JSON: {e}")))?;
        match v {
            Value::Object(map) => Ok(Fields { map, prefix: "" }),
            _ => Err(ApiError::new(ErrorCode::InvalidRequest, "body must be a JSON object")),
        }
    }

    pub fn from_value(v: Value, field: &'static str, prefix: &'static str) -> Result<Fields, ApiError> {
        match v {
            Value::Object(map) => Ok(Fields { map, prefix }),
            _ => Err(ApiError::invalid(field, format!("`{field}` must be an object"))),
        }
    }

    fn name(&self, key: &'static str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn missing(&self, key: &'static str) -> ApiError {
        let name = self.name(key);
        ApiError::new(ErrorCode::MissingField, format!("`{name}` is required")).field(name)
    }

    /// An error naming `key` (with this object's prefix).
    pub fn invalid(&self, key: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(self.name(key), message.into())
    }

    /// Takes a field out, treating `null` as absent.
    pub fn take(&mut self, key: &'static str) -> Option<Value> {
        match self.map.remove(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn opt_str(&mut self, key: &'static str) -> Result<Option<String>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(key, format!("`{}` must be a string", self.name(key)))),
        }
    }

    pub fn req_str(&mut self, key: &'static str) -> Result<String, ApiError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn opt_bool(&mut self, key: &'static str) -> Result<Option<bool>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(self.invalid(key, format!("`{}` must be true or false", self.name(key)))),
        }
    }

    /// A whole number in `min..=max`.
    pub fn opt_u64(&mut self, key: &'static str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match whole_number(&n) {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(self.invalid(key, format!("`{}` must be a whole number from {min} to {max}", self.name(key)))),
            },
            Some(_) => Err(self.invalid(key, format!("`{}` must be a whole number", self.name(key)))),
        }
    }

    pub fn req_value(&mut self, key: &'static str) -> Result<Value, ApiError> {
        self.take(key).ok_or_else(|| self.missing(key))
    }

    /// Refuses fields that were not read: a typo must not be silently ignored.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => {
                let name = format!("{}{k}", self.prefix);
                Err(ApiError::new(ErrorCode::UnknownField, format!("unknown field `{name}`")).field(name))
            }
        }
    }
}

/// A decimal amount's text: a string, or a whole JSON number. A fractional JSON number
/// is refused, since it has already passed through a binary float in the parser.
pub fn decimal_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        Value::Number(n) => whole_number(n).map(|v| v.to_string()),
        _ => None,
    }
}

/// A non-negative whole JSON number, also when written with a zero fraction (`17.0`), as
/// JSON Schema's `integer` allows. Read from the number's text, never through a float:
/// such a number prints as `17.0` up to 10^16, which no float rounds to another whole.
fn whole_number(n: &serde_json::Number) -> Option<u64> {
    if let Some(v) = n.as_u64() {
        return Some(v);
    }
    let text = n.to_string();
    let whole = text.strip_suffix(".0")?;
    if whole.is_empty() || whole.len() > 16 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        let mut f = Fields::parse(br#"{"a": 17.0, "b": 17, "c": 17.5, "d": -1.0, "e": 1e300}"#).unwrap();
        assert_eq!(f.opt_u64("a", 0, 100).unwrap(), Some(17));
        assert_eq!(f.opt_u64("b", 0, 100).unwrap(), Some(17));
        assert!(f.opt_u64("c", 0, 100).is_err());
        assert!(f.opt_u64("d", 0, 100).is_err());
        assert!(f.opt_u64("e", 0, u64::MAX).is_err());
        assert_eq!(decimal_text(&json!(6243.0)).as_deref(), Some("6243"));
        assert_eq!(decimal_text(&json!(0.5)), None);
    }
}
