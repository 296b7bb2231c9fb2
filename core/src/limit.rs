//! Limits and reservations (API.md "Limits, entitlements and reservations"): what a
//! client sends, checked field by field, and the values a customer's object keeps.
//!
//! The decisions that use them (an event or a hold that would cross a hard `max`) are the
//! book's (`book/limits.rs`); this module only reads input and holds the types.

use crate::error::{ApiError, ErrorCode};
use crate::input::{decimal_text, Fields};
use crate::metric::{Aggregation, MetricDef};
use crate::quantity;
use crate::rules::canonical_uuid;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// How long a reservation holds when the request does not say.
pub const DEFAULT_TTL_SECONDS: u64 = 300;
/// The longest a reservation may hold.
pub const MAX_TTL_SECONDS: u64 = 3600;

/// Whether a limit refuses what would cross it (`hard`) or only shows the overage (`soft`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMode {
    Hard,
    Soft,
}

/// A customer's limit on one metric, per service period. It keeps the metric's
/// definition, so the object decides events against it without asking the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub metric: MetricDef,
    pub max: Decimal,
    pub mode: LimitMode,
    pub updated_at: Timestamp,
}

impl Limit {
    pub fn is_hard(&self) -> bool {
        self.mode == LimitMode::Hard
    }

    /// The limit as the API shows it.
    pub fn view(&self) -> LimitView {
        LimitView {
            metric_code: self.metric.code.clone(),
            max: quantity::format(self.max),
            mode: self.mode,
            updated_at: self.updated_at,
        }
    }
}

/// A limit on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitView {
    pub metric_code: String,
    pub max: String,
    pub mode: LimitMode,
    pub updated_at: Timestamp,
}

/// A `PUT …/limits/{metric_code}` body: `{"max", "mode"? = "hard"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitInput {
    pub max: Decimal,
    pub mode: LimitMode,
}

impl LimitInput {
    pub fn from_body(body: &[u8]) -> Result<LimitInput, ApiError> {
        let mut f = Fields::parse(body)?;
        let max = f.req_value("max")?;
        let max = decimal_text(&max)
            .and_then(|t| quantity::parse_value_slow(&t).ok())
            .ok_or_else(|| ApiError::invalid("max", "`max` must be a non-negative decimal (\"1000\", \"12.5\")"))?;
        let mode = match f.opt_str("mode")?.as_deref() {
            None | Some("hard") => LimitMode::Hard,
            Some("soft") => LimitMode::Soft,
            Some(_) => return Err(ApiError::invalid("mode", "`mode` must be `hard` or `soft`")),
        };
        f.finish()?;
        Ok(LimitInput { max, mode })
    }
}

/// Limits apply to metrics whose quantity only grows as events arrive: `sum`, `count`
/// and `unique_count` (a `max` or `latest` can fall and rise again, so a cap on it says
/// nothing about what was used).
pub fn check_limitable(metric: &MetricDef) -> Result<(), ApiError> {
    match metric.aggregation {
        Aggregation::Sum | Aggregation::Count | Aggregation::UniqueCount => Ok(()),
        Aggregation::Max | Aggregation::Latest => Err(ApiError::new(
            ErrorCode::UnsupportedAggregation,
            "limits apply to sum, count and unique_count metrics only",
        )
        .field("metric_code")),
    }
}

/// Where a reservation is. `expired` is never stored: a `held` reservation past its
/// `expires_at` is expired, decided with "now" at each call (see [`Reservation::status_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Held,
    Committed,
    Released,
    Expired,
}

impl ReservationStatus {
    pub fn parse(s: &str) -> Option<ReservationStatus> {
        match s {
            "held" => Some(ReservationStatus::Held),
            "committed" => Some(ReservationStatus::Committed),
            "released" => Some(ReservationStatus::Released),
            "expired" => Some(ReservationStatus::Expired),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Committed => "committed",
            ReservationStatus::Released => "released",
            ReservationStatus::Expired => "expired",
        }
    }
}

/// What a commit recorded: the event's key and fate (`accepted`, or `duplicate` when the
/// key was already stored with the same content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedEvent {
    pub idempotency_key: String,
    pub status: String,
}

/// A quantity held against a metric's limit until it is committed, released or expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: String,
    pub metric_code: String,
    pub quantity: Decimal,
    /// The service period it holds in: the one containing `created_at`.
    pub period_start: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub idempotency_key: String,
    /// As stored: `held`, `committed` or `released`.
    pub status: ReservationStatus,
    /// The commit's answer, kept so that a repeated commit answers the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<CommittedEvent>,
}

impl Reservation {
    /// Its status at `now`: a hold past `expires_at` is expired and holds nothing.
    pub fn status_at(&self, now: Timestamp) -> ReservationStatus {
        match self.status {
            ReservationStatus::Held if now >= self.expires_at => ReservationStatus::Expired,
            s => s,
        }
    }

    /// Whether it holds its quantity at `now`.
    pub fn holds_at(&self, now: Timestamp) -> bool {
        self.status_at(now) == ReservationStatus::Held
    }

    /// The reservation as the API shows it at `now`.
    pub fn view(&self, now: Timestamp) -> ReservationView {
        ReservationView {
            id: self.id.clone(),
            status: self.status_at(now),
            metric_code: self.metric_code.clone(),
            quantity: quantity::format(self.quantity),
            expires_at: self.expires_at,
            idempotency_key: self.idempotency_key.clone(),
            created_at: self.created_at,
        }
    }
}

/// A reservation on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationView {
    pub id: String,
    pub status: ReservationStatus,
    pub metric_code: String,
    pub quantity: String,
    pub expires_at: Timestamp,
    pub idempotency_key: String,
    pub created_at: Timestamp,
}

/// A `POST …/reservations` body: `{"metric_code", "quantity", "ttl_seconds"? = 300,
/// "idempotency_key"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationInput {
    pub metric_code: String,
    pub quantity: Decimal,
    pub ttl_seconds: u64,
    pub idempotency_key: String,
}

impl ReservationInput {
    pub fn from_body(body: &[u8]) -> Result<ReservationInput, ApiError> {
        let mut f = Fields::parse(body)?;
        let metric_code = f.req_str("metric_code")?;
        let quantity = f.req_value("quantity")?;
        let quantity = decimal_text(&quantity)
            .and_then(|t| quantity::parse_value_slow(&t).ok())
            .filter(|q| *q > Decimal::ZERO)
            .ok_or_else(|| {
                ApiError::invalid("quantity", "`quantity` must be a positive decimal (\"4000\", \"2.5\")")
            })?;
        let ttl_seconds = f.opt_u64("ttl_seconds", 1, MAX_TTL_SECONDS)?.unwrap_or(DEFAULT_TTL_SECONDS);
        let key = f.opt_str("idempotency_key")?.ok_or_else(|| {
            ApiError::new(ErrorCode::MissingIdempotencyKey, "`idempotency_key` is required").field("idempotency_key")
        })?;
        let idempotency_key = canonical_uuid(Cow::Owned(key))
            .ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidIdempotencyKey, "`idempotency_key` must be a UUID")
                    .field("idempotency_key")
            })?
            .into_owned();
        f.finish()?;
        Ok(ReservationInput { metric_code, quantity, ttl_seconds, idempotency_key })
    }
}

/// One metric's entitlement in a period (API.md): `remaining` = `max` − `used` −
/// `reserved`, not below 0; `allowed` is `remaining > 0`, always true for a soft limit or
/// none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub metric_code: String,
    pub max: Option<String>,
    pub mode: Option<LimitMode>,
    pub used: String,
    pub reserved: String,
    pub remaining: Option<String>,
    pub allowed: bool,
}

impl Entitlement {
    /// From the period's quantity and live holds, under `limit` if there is one.
    pub fn new(metric_code: &str, limit: Option<&Limit>, used: Decimal, reserved: Decimal) -> Entitlement {
        let remaining = limit.map(|l| (l.max - used - reserved).max(Decimal::ZERO));
        let allowed = match (limit, remaining) {
            (Some(l), Some(r)) if l.is_hard() => r > Decimal::ZERO,
            _ => true,
        };
        Entitlement {
            metric_code: metric_code.to_owned(),
            max: limit.map(|l| quantity::format(l.max)),
            mode: limit.map(|l| l.mode),
            used: quantity::format(used),
            reserved: quantity::format(reserved),
            remaining: remaining.map(quantity::format),
            allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_body_is_read_field_by_field() {
        let l = LimitInput::from_body(br#"{"max": "1000.50", "mode": "soft"}"#).unwrap();
        assert_eq!((l.max, l.mode), (Decimal::new(100050, 2), LimitMode::Soft));
        assert_eq!(LimitInput::from_body(br#"{"max": 7}"#).unwrap().mode, LimitMode::Hard);
        let field = |b: &[u8]| LimitInput::from_body(b).unwrap_err().field.map(|f| f.into_owned());
        assert_eq!(field(br#"{"max": "-1"}"#).as_deref(), Some("max"));
        assert_eq!(field(br#"{"max": "x"}"#).as_deref(), Some("max"));
        assert_eq!(field(br#"{"max": 1.5}"#).as_deref(), Some("max"));
        assert_eq!(field(br#"{"max": "1", "mode": "firm"}"#).as_deref(), Some("mode"));
        assert_eq!(field(br#"{"mode": "hard"}"#).as_deref(), Some("max"));
        assert_eq!(field(br#"{"max": "1", "extra": 1}"#).as_deref(), Some("extra"));
    }

    #[test]
    fn a_reservation_body_is_read_field_by_field() {
        let key = "0192f0c1-0000-7000-8000-000000000001";
        let r = ReservationInput::from_body(
            format!(r#"{{"metric_code":"t","quantity":"40","idempotency_key":"{key}"}}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!((r.quantity, r.ttl_seconds), (Decimal::from(40), DEFAULT_TTL_SECONDS));
        let err = |b: String| ReservationInput::from_body(b.as_bytes()).unwrap_err();
        let e = err(format!(r#"{{"metric_code":"t","quantity":"40","idempotency_key":"{key}","ttl_seconds":3601}}"#));
        assert_eq!(e.field.as_deref(), Some("ttl_seconds"));
        let e = err(format!(r#"{{"metric_code":"t","quantity":"0","idempotency_key":"{key}"}}"#));
        assert_eq!(e.field.as_deref(), Some("quantity"));
        let e = err(r#"{"metric_code":"t","quantity":"1"}"#.to_owned());
        assert_eq!(e.code, ErrorCode::MissingIdempotencyKey);
        let e = err(r#"{"metric_code":"t","quantity":"1","idempotency_key":"nope"}"#.to_owned());
        assert_eq!(e.code, ErrorCode::InvalidIdempotencyKey);
    }

    #[test]
    fn an_entitlement_never_shows_a_negative_remainder() {
        let metric = MetricDef {
            code: "t".into(),
            name: "t".into(),
            event_name: "t".into(),
            aggregation: Aggregation::Sum,
            field: None,
            filters: Default::default(),
        };
        let hard = Limit { metric, max: Decimal::from(10), mode: LimitMode::Hard, updated_at: Timestamp(0) };
        let e = Entitlement::new("t", Some(&hard), Decimal::from(8), Decimal::from(4));
        assert_eq!((e.remaining.as_deref(), e.allowed), (Some("0"), false));
        let soft = Limit { mode: LimitMode::Soft, ..hard };
        assert!(Entitlement::new("t", Some(&soft), Decimal::from(12), Decimal::ZERO).allowed);
        let none = Entitlement::new("t", None, Decimal::from(12), Decimal::ZERO);
        assert_eq!((none.max, none.allowed), (None, true));
    }
}
