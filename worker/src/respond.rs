//! Rendering answers: JSON bodies, and the one place where an error code becomes an HTTP
//! status (API.md, "Conventions").

use edgemeter_core::{ApiError, ErrorCode};
use serde::Serialize;
use worker::{Headers, Response, Result};

/// The HTTP status for an error code.
pub fn status_of(code: ErrorCode) -> u16 {
    use ErrorCode::*;
    match code {
        InvalidJson
        | InvalidRequest
        | MissingField
        | InvalidField
        | UnknownField
        | MissingIdempotencyKey
        | InvalidIdempotencyKey
        | MissingCustomerId
        | InvalidCustomerId
        | MissingEventName
        | InvalidEventName
        | InvalidValue
        | InvalidTimestamp
        | TimestampInFuture
        | TimestampTooOld
        | InvalidProperties
        | UnknownEventName
        | PeriodClosed
        | UniqueCountLimit
        | UnknownMetric
        | InvalidContract
        | UnsupportedAggregation => 400,
        InvalidAmount => 400,
        Unauthorized => 401,
        Forbidden | ForbiddenCustomer => 403,
        NotFound | UnknownCustomer | EventNotFound => 404,
        UnknownLimit | UnknownReservation => 404,
        MethodNotAllowed => 405,
        DuplicateMetricCode | InvalidInvoiceState | IdempotencyKeyInUse | ContractNotDraft | ContractExpired => 409,
        LimitExceeded | ReservationCommitted | ReservationReleased | ReservationExpired => 409,
        GrantVoided => 409,
        PayloadTooLarge | TooManyEvents => 413,
        UnsupportedMediaType => 415,
        IdempotencyKeyReused => 422,
        InternalError => 500,
    }
}

/// `{"error": {...}}` with the status its code maps to.
pub fn error(e: &ApiError) -> Result<Response> {
    Reply::error(e).into_response()
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Result<Response> {
    raw_json(status, serde_json::to_vec(body)?)
}

/// A response whose body is already JSON bytes.
pub fn raw_json(status: u16, bytes: Vec<u8>) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8")?;
    Ok(Response::from_bytes(bytes)?.with_status(status).with_headers(headers))
}

/// An internal failure (storage, a binding): logged, answered as a retryable 500.
pub fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
    worker::console_error!("{context}: {e}");
    ApiError::new(ErrorCode::InternalError, format!("{context}; it is safe to retry"))
}

/// An answer before it becomes a `Response`: a status and JSON bytes, so it can be kept
/// for `Idempotency-Key` replays and passed through from a Durable Object unchanged.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// On ingest: how many Durable Object calls this request made (header
    /// `x-edgemeter-do-calls`), so a load test can see calls per event under batching.
    pub object_calls: Option<usize>,
    /// Headers beyond the JSON content type (a document download sets its own type).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn new(status: u16, body: Vec<u8>) -> Reply {
        Reply { status, body, object_calls: None, headers: Vec::new() }
    }

    pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> std::result::Result<Reply, ApiError> {
        let body = serde_json::to_vec(body).map_err(|e| internal("rendering the response", e))?;
        Ok(Reply::new(status, body))
    }

    pub fn error(e: &ApiError) -> Reply {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a ApiError,
        }
        let body = serde_json::to_vec(&Body { error: e }).unwrap_or_else(|_| b"{}".to_vec());
        Reply::new(status_of(e.code), body)
    }

    /// Reads an object's answer.
    pub async fn from_response(mut r: Response) -> std::result::Result<Reply, ApiError> {
        let status = r.status_code();
        let body = r.bytes().await.map_err(|e| internal("reading an object's answer", e))?;
        Ok(Reply::new(status, body))
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn into_response(self) -> Result<Response> {
        let calls = self.object_calls;
        let mut response = raw_json(self.status, self.body)?;
        if let Some(n) = calls {
            response.headers_mut().set("x-edgemeter-do-calls", &n.to_string())?;
        }
        for (name, value) in &self.headers {
            response.headers_mut().set(name, value)?;
        }
        Ok(response)
    }
}
