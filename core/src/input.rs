//! Reading admin request bodies field by field, so every error names its field and the
//! code is stable (`missing_field`, `invalid_field`, `unknown_field`), instead of serde's
//! free-text messages.

use crate::error::{ApiError, ErrorCode};
use serde_json::{Map, Value};

/// A JSON object being read; [`Fields::finish`] refuses any field nobody asked for.
pub struct Fields {
    map: Map<String, Value>,
    /// Prefix for nested field names in errors (`invoice_schedule.interval`,
    /// `price.tiers[1].`).
    prefix: String,
}

impl Fields {
    /// Parses a request body that must be a JSON object.
    pub fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not valid JSON: {e}")))?;
        match v {
            Value::Object(map) => Ok(Fields { map, prefix: String::new() }),
            _ => Err(ApiError::new(ErrorCode::InvalidRequest, "body must be a JSON object")),
        }
    }

    /// Reads the object at `field`; errors inside it are named `{field}.{key}`.
    pub fn from_value(v: Value, field: impl Into<String>) -> Result<Fields, ApiError> {
        let field = field.into();
        match v {
            Value::Object(map) => Ok(Fields { map, prefix: format!("{field}.") }),
            _ => Err(ApiError::invalid(field.clone(), format!("`{field}` must be an object"))),
        }
    }

    /// Reads the object at `field` with its errors naming fields as its own (`name`, not
    /// `items[2].name`): for a part whose problems the caller nests under its path.
    pub fn part(v: Value, field: impl Into<String>) -> Result<Fields, ApiError> {
        let mut f = Fields::from_value(v, field)?;
        f.prefix.clear();
        Ok(f)
    }

    /// Every field left unread, each as an `unknown_field` error (see [`Fields::finish`]).
    pub fn unknown(self) -> Vec<ApiError> {
        self.map
            .keys()
            .map(|k| {
                let name = format!("{}{k}", self.prefix);
                ApiError::new(ErrorCode::UnknownField, format!("unknown field `{name}`")).field(name)
            })
            .collect()
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

    /// The names of the fields not read yet.
    pub fn keys(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    /// Takes a field out as it is, `null` included (a patch's `null` clears a field).
    pub fn take_raw(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
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
        match self.unknown().into_iter().next() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// The problems found in a document read whole (a contract): each part is checked, its
/// error kept, and reading goes on, so a client sees every problem at once.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<ApiError>);

impl Problems {
    /// The value, or `None` with its error kept.
    pub fn keep<T>(&mut self, r: Result<T, ApiError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    pub fn push(&mut self, e: ApiError) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps another part's problems, their fields under `prefix` (`items[2]`).
    pub fn nest(&mut self, prefix: &str, problems: Vec<ApiError>) {
        self.0.extend(problems.into_iter().map(|e| e.under(prefix)));
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
