//! Errors as data: one enum of stable, machine-readable codes, and the API error value
//! that carries a code, a human message and the field at fault.
//!
//! The codes are part of the public contract (API.md): never rename one. The worker maps
//! each code to an HTTP status in one place (`worker/src/respond.rs`).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

macro_rules! codes {
    ($($variant:ident => $code:literal,)*) => {
        /// A stable error code, rendered in snake_case on the wire.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            /// The code as it appears in `{"error": {"code": …}}`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// Every code, for exhaustive tests and documentation.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];
        }
    };
}

codes! {
    // Envelope and request-level problems.
    InvalidJson => "invalid_json",
    PayloadTooLarge => "payload_too_large",
    TooManyEvents => "too_many_events",
    InvalidRequest => "invalid_request",
    MissingField => "missing_field",
    InvalidField => "invalid_field",
    UnknownField => "unknown_field",
    // Auth.
    Unauthorized => "unauthorized",
    Forbidden => "forbidden",
    ForbiddenCustomer => "forbidden_customer",
    // Event validation (API.md, Usage ingestion).
    MissingIdempotencyKey => "missing_idempotency_key",
    InvalidIdempotencyKey => "invalid_idempotency_key",
    MissingCustomerId => "missing_customer_id",
    InvalidCustomerId => "invalid_customer_id",
    MissingEventName => "missing_event_name",
    InvalidEventName => "invalid_event_name",
    InvalidValue => "invalid_value",
    InvalidTimestamp => "invalid_timestamp",
    TimestampInFuture => "timestamp_in_future",
    TimestampTooOld => "timestamp_too_old",
    InvalidProperties => "invalid_properties",
    UnknownCustomer => "unknown_customer",
    UnknownEventName => "unknown_event_name",
    PeriodClosed => "period_closed",
    UniqueCountLimit => "unique_count_limit",
    IdempotencyKeyReused => "idempotency_key_reused",
    // The same Idempotency-Key on a request still running: retry shortly (409).
    IdempotencyKeyInUse => "idempotency_key_in_use",
    EventNotFound => "event_not_found",
    // Resources.
    NotFound => "not_found",
    UnknownMetric => "unknown_metric",
    DuplicateMetricCode => "duplicate_metric_code",
    // Contracts (API.md, "Contracts").
    InvalidContract => "invalid_contract",
    ContractNotDraft => "contract_not_draft",
    ContractExpired => "contract_expired",
    UnsupportedMediaType => "unsupported_media_type",
    InvalidInvoiceState => "invalid_invoice_state",
    MethodNotAllowed => "method_not_allowed",
    // Limits and reservations (API.md, "Limits, entitlements and reservations").
    UnsupportedAggregation => "unsupported_aggregation",
    LimitExceeded => "limit_exceeded",
    UnknownLimit => "unknown_limit",
    UnknownReservation => "unknown_reservation",
    ReservationCommitted => "reservation_committed",
    ReservationReleased => "reservation_released",
    ReservationExpired => "reservation_expired",
    // Credits and alerts (API.md, "Credits and the live balance", "Alerts").
    InvalidAmount => "invalid_amount",
    GrantVoided => "grant_voided",
    // The server's own failures: safe to retry.
    InternalError => "internal_error",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the API renders it: `{"code", "message", "field"?}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<Cow<'static, str>>,
    /// Every problem, when a document is validated whole (`invalid_contract`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ApiError>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError { code, message: message.into(), field: None, errors: Vec::new() }
    }

    /// The same error, naming the field at fault.
    pub fn field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn missing(field: &'static str) -> Self {
        ApiError::new(ErrorCode::MissingField, format!("`{field}` is required")).field(field)
    }

    /// The same error with its field under `prefix`: `price.model` under `items[2]` is
    /// `items[2].price.model`; an error without a field gets `prefix` as its field.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) => format!("{prefix}.{f}").into(),
            None => prefix.to_owned().into(),
        });
        self
    }

    pub fn invalid(field: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(ErrorCode::InvalidField, message).field(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_render_as_their_wire_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn error_shape_omits_absent_field() {
        let e = ApiError::new(ErrorCode::InvalidJson, "bad");
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"code":"invalid_json","message":"bad"}"#);
    }
}
