//! The native client's one error type: the server's stable codes (API.md, "Errors") plus
//! the client's own, so code that handles a rejected event or a failed request matches on
//! the same strings whether the server or the client found the problem.

use edgemeter_core::ApiError;
use std::fmt;

/// Codes the client itself produces (the server's are in API.md and `ErrorCode`).
pub mod codes {
    /// `track()` while `max_queue_size` events are queued or in flight.
    pub const QUEUE_FULL: &str = "queue_full";
    /// `track()` after `shutdown()`.
    pub const CLOSED: &str = "closed";
    /// An option out of range at construction; `field` names it.
    pub const INVALID_OPTION: &str = "invalid_option";
    /// The request never got an answer (connection refused, reset, dropped).
    pub const NETWORK_ERROR: &str = "network_error";
    /// No answer within the `timeout` option.
    pub const TIMEOUT: &str = "timeout";
    /// `flush()` or `shutdown()` passed `flush_timeout` with these events undelivered.
    pub const FLUSH_TIMEOUT: &str = "flush_timeout";
    /// The server answered something that is not the API's shape.
    pub const INVALID_RESPONSE: &str = "invalid_response";
    /// An error answer without the API's error body (a proxy's 503 page, say).
    pub const HTTP_ERROR: &str = "http_error";
}

/// An error with a stable machine-readable `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The server's code (`invalid_customer_id`, `unknown_customer`, …) or one of [`codes`].
    pub code: String,
    /// For people; never match on it.
    pub message: String,
    /// The field at fault, as the API names it (`customer_id`), when one is.
    pub field: Option<String>,
    /// The HTTP status, when the error is a server's answer.
    pub status: Option<u16>,
    /// The events it concerns, for delivery errors (a whole batch for a failed request).
    pub idempotency_keys: Vec<String>,
    /// Every problem, when the server reports several at once (`invalid_contract`, each
    /// with its field path: `items[0].price.tiers[1].unit_amount`); `field` is then the
    /// first one's. Empty otherwise. (A boxed slice: it keeps `Error` small, so a
    /// `Result` carrying it stays cheap to move.)
    pub errors: Box<[FieldError]>,
}

/// One problem of a document the server validates whole (an `invalid_contract`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct FieldError {
    pub code: String,
    #[serde(default)]
    pub message: String,
    /// Its path, as the API names it: `customer.email`, `items[2].price.tiers[0].up_to`.
    #[serde(default)]
    pub field: Option<String>,
}

impl Error {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            code: code.into(),
            message: message.into(),
            field: None,
            status: None,
            idempotency_keys: Vec::new(),
            errors: Box::default(),
        }
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_keys(mut self, keys: Vec<String>) -> Self {
        self.idempotency_keys = keys;
        self
    }

    /// From an error answer's body (`{"error": {…}}`) and status; a body that is not the
    /// API's shape gives `http_error` with the status.
    pub(crate) fn from_body(status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            error: WireError,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => b.error.into_error().with_status(status),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.chars().take(200).collect();
                Error::new(codes::HTTP_ERROR, format!("HTTP {status}: {text}")).with_status(status)
            }
        }
    }
}

/// The error object as the server renders it; lenient, since any code may come.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    errors: Box<[FieldError]>,
}

impl WireError {
    pub(crate) fn into_error(self) -> Error {
        Error {
            code: self.code.unwrap_or_else(|| codes::HTTP_ERROR.to_owned()),
            message: self.message.unwrap_or_else(|| "the server refused the request".to_owned()),
            field: self.field,
            status: None,
            idempotency_keys: Vec::new(),
            errors: self.errors,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error {
            code: e.code.as_str().to_owned(),
            message: e.message.into_owned(),
            field: e.field.map(|f| f.into_owned()),
            status: None,
            idempotency_keys: Vec::new(),
            errors: Box::default(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        if let Some(status) = self.status {
            write!(f, " [HTTP {status}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_of_an_invalid_document_is_kept() {
        let body = br#"{"error": {"code": "invalid_contract", "message": "2 problems in the contract",
            "field": "customer.email", "errors": [
              {"code": "missing_field", "message": "email is required", "field": "customer.email"},
              {"code": "invalid_field", "message": "not a decimal", "field": "items[0].price.tiers[1].unit_amount"}]}}"#;
        let e = Error::from_body(400, body);
        assert_eq!(
            (e.code.as_str(), e.field.as_deref(), e.status),
            ("invalid_contract", Some("customer.email"), Some(400))
        );
        let fields: Vec<_> = e.errors.iter().map(|p| (p.code.as_str(), p.field.as_deref())).collect();
        assert_eq!(
            fields,
            [("missing_field", Some("customer.email")), ("invalid_field", Some("items[0].price.tiers[1].unit_amount"))]
        );
        assert!(Error::from_body(404, br#"{"error": {"code": "not_found", "message": "m"}}"#).errors.is_empty());
    }
}
