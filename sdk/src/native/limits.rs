//! Enforcement (API.md, "Limits, entitlements and reservations"): a customer's limits,
//! its entitlements (may it use more right now?) and reservations (hold a quantity, do
//! the work, commit what it really used), as resources of [`Api`].
//!
//! Keys: limits need a secret key; entitlements and reservations may also be used with
//! an ingest key or the customer's own token.
//!
//! Retries: a reservation carries an `idempotency_key` (the key of the usage event its
//! commit records; a fresh UUIDv7 unless given) and is created under that same
//! `Idempotency-Key` header, so a retried create is answered with the first hold instead
//! of holding twice. A repeated commit answers the first result, and a repeated release
//! the reservation as it is.

use super::api::Api;
use super::error::Error;
use super::event::Quantity;
use super::types::{ListParams, Page, Period};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::Future;

/// `hard`: an event or hold past `max` is refused (`limit_exceeded`); `soft`: counted,
/// and the entitlement shows the overage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMode {
    Hard,
    Soft,
    /// One this client does not know yet (responses only).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `PUT /v1/customers/{id}/limits/{metric_code}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LimitInput {
    /// A non-negative decimal, per service period.
    pub max: String,
    /// The server's default is `hard`.
    pub mode: LimitMode,
}

impl LimitInput {
    pub fn hard(max: impl Into<Quantity>) -> LimitInput {
        LimitInput { max: max.into().as_str().to_owned(), mode: LimitMode::Hard }
    }

    pub fn soft(max: impl Into<Quantity>) -> LimitInput {
        LimitInput { max: max.into().as_str().to_owned(), mode: LimitMode::Soft }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Limit {
    pub metric_code: String,
    pub max: String,
    pub mode: LimitMode,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// May the customer use more of a metric right now?
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Entitlement {
    pub metric_code: String,
    /// `None`: the metric has no limit.
    #[serde(default)]
    pub max: Option<String>,
    #[serde(default)]
    pub mode: Option<LimitMode>,
    /// The period's quantity so far.
    pub used: String,
    /// Held by live reservations.
    pub reserved: String,
    /// `max` − `used` − `reserved`, not below 0; `None` without a limit.
    #[serde(default)]
    pub remaining: Option<String>,
    /// `remaining > 0`; always true for a soft limit or none.
    pub allowed: bool,
}

/// `GET /v1/customers/{id}/entitlements`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Entitlements {
    pub period: Period,
    pub data: Vec<Entitlement>,
}

/// `POST /v1/customers/{id}/reservations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReservationInput {
    pub metric_code: String,
    pub quantity: String,
    /// 1 to 3600; default 300.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    /// A UUID: the key of the usage event the commit records. Default: a fresh UUIDv7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl ReservationInput {
    pub fn new(metric_code: impl Into<String>, quantity: impl Into<Quantity>) -> ReservationInput {
        ReservationInput {
            metric_code: metric_code.into(),
            quantity: quantity.into().as_str().to_owned(),
            ttl_seconds: None,
            idempotency_key: None,
        }
    }

    pub fn ttl_seconds(mut self, ttl: u32) -> ReservationInput {
        self.ttl_seconds = Some(ttl);
        self
    }

    /// Your own key (a UUID), to make a create safe to repeat after a restart.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> ReservationInput {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// `held`, then `committed`, `released` or `expired`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Held,
    Committed,
    Released,
    Expired,
    /// One this client does not know yet.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl ReservationStatus {
    /// Its name on the wire; `None` for [`ReservationStatus::Unknown`].
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            ReservationStatus::Held => Some("held"),
            ReservationStatus::Committed => Some("committed"),
            ReservationStatus::Released => Some("released"),
            ReservationStatus::Expired => Some("expired"),
            ReservationStatus::Unknown => None,
        }
    }
}

/// `GET /v1/customers/{id}/reservations` filters and paging.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReservationFilter {
    pub status: Option<ReservationStatus>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Reservation {
    /// `rsv_…`
    pub id: String,
    pub status: ReservationStatus,
    pub metric_code: String,
    pub quantity: String,
    pub expires_at: String,
    pub idempotency_key: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// `POST …/reservations/{rid}/commit`: what was really used. Default: the quantity held.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReservationCommit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// RFC 3339; default: the time of the commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
}

impl ReservationCommit {
    /// Commits the quantity held.
    pub fn held() -> ReservationCommit {
        ReservationCommit::default()
    }

    /// Commits `value` (above the quantity held only where the limit allows it).
    pub fn value(value: impl Into<Quantity>) -> ReservationCommit {
        ReservationCommit { value: Some(value.into().as_str().to_owned()), ..ReservationCommit::default() }
    }

    pub fn timestamp(mut self, rfc3339: impl Into<String>) -> ReservationCommit {
        self.timestamp = Some(rfc3339.into());
        self
    }

    pub fn property(mut self, key: impl Into<String>, value: impl Into<Value>) -> ReservationCommit {
        self.properties.insert(key.into(), value.into());
        self
    }
}

impl From<Quantity> for ReservationCommit {
    fn from(q: Quantity) -> Self {
        ReservationCommit::value(q)
    }
}

/// The usage event a commit recorded.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CommittedEvent {
    pub idempotency_key: String,
    pub status: String,
}

/// A commit's answer (the same for a repeated commit).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ReservationCommitted {
    pub reservation: Reservation,
    pub event: CommittedEvent,
}

impl Api {
    pub fn limits(&self) -> Limits<'_> {
        Limits(self)
    }

    pub fn entitlements(&self) -> EntitlementsApi<'_> {
        EntitlementsApi(self)
    }

    pub fn reservations(&self) -> Reservations<'_> {
        Reservations(self)
    }
}

/// A customer's limits per metric and service period.
#[derive(Clone, Copy, Debug)]
pub struct Limits<'a>(&'a Api);

impl Limits<'_> {
    /// Sets the metric's limit (a `PUT`: repeating it is harmless). A metric that is not
    /// `sum`, `count` or `unique_count` is 400 `unsupported_aggregation`.
    pub async fn put(&self, customer_id: &str, metric_code: &str, input: &LimitInput) -> Result<Limit, Error> {
        self.0.put_json(&["v1", "customers", customer_id, "limits", metric_code], input).await
    }

    pub async fn list(&self, customer_id: &str) -> Result<Page<Limit>, Error> {
        self.0.page(&["v1", "customers", customer_id, "limits"], &ListParams::default()).await
    }

    /// Removes the limit; a retry that finds it gone (404) is a success.
    pub async fn delete(&self, customer_id: &str, metric_code: &str) -> Result<(), Error> {
        match self.0.delete(&["v1", "customers", customer_id, "limits", metric_code]).await {
            Err(f) if f.retried && f.error.code == "unknown_limit" => Ok(()),
            other => Ok(other?),
        }
    }
}

/// `GET /v1/customers/{id}/entitlements[/{metric_code}]`.
#[derive(Clone, Copy, Debug)]
pub struct EntitlementsApi<'a>(&'a Api);

impl EntitlementsApi<'_> {
    /// Every metric's entitlement in the current period.
    pub async fn get_all(&self, customer_id: &str) -> Result<Entitlements, Error> {
        self.0.get_json(&["v1", "customers", customer_id, "entitlements"], &[]).await
    }

    /// One metric's (`max: None` when it has no limit); an unknown metric is 404.
    pub async fn get(&self, customer_id: &str, metric_code: &str) -> Result<Entitlement, Error> {
        self.0.get_json(&["v1", "customers", customer_id, "entitlements", metric_code], &[]).await
    }
}

/// Holds against a hard limit for work whose size is known only afterwards.
#[derive(Clone, Copy, Debug)]
pub struct Reservations<'a>(&'a Api);

impl Reservations<'_> {
    /// Holds `input.quantity` for its TTL, or 409 `limit_exceeded` and nothing held.
    pub async fn create(&self, customer_id: &str, input: &ReservationInput) -> Result<Reservation, Error> {
        let mut input = input.clone();
        let key = input.idempotency_key.get_or_insert_with(|| uuid::Uuid::now_v7().to_string()).clone();
        let path = ["v1", "customers", customer_id, "reservations"];
        Ok(self.0.post_json(&path, Some(&input), Some(&key)).await?)
    }

    /// Records one usage event for the reservation, exactly once. 409
    /// `reservation_expired` past its `expires_at`; 409 `limit_exceeded` (still held) for
    /// a value above the quantity held that the limit does not allow.
    pub async fn commit(
        &self,
        customer_id: &str,
        reservation_id: &str,
        input: &ReservationCommit,
    ) -> Result<ReservationCommitted, Error> {
        let path = ["v1", "customers", customer_id, "reservations", reservation_id, "commit"];
        Ok(self.0.post_json(&path, Some(input), None).await?)
    }

    /// Frees the hold at once. Releasing what holds nothing any more (released or
    /// expired) answers the reservation as it is; a committed one is 409
    /// `reservation_committed`, an unknown id 404 `unknown_reservation`.
    pub async fn release(&self, customer_id: &str, reservation_id: &str) -> Result<Reservation, Error> {
        let path = ["v1", "customers", customer_id, "reservations", reservation_id, "release"];
        Ok(self.0.post_json(&path, Some(&Map::new()), None).await?)
    }

    /// 404 `unknown_reservation` for an unknown id.
    pub async fn get(&self, customer_id: &str, reservation_id: &str) -> Result<Reservation, Error> {
        self.0.get_json(&["v1", "customers", customer_id, "reservations", reservation_id], &[]).await
    }

    /// Newest first; `status: Some(Held)` for the open ones.
    pub async fn list(&self, customer_id: &str, filter: &ReservationFilter) -> Result<Page<Reservation>, Error> {
        let mut query = Vec::new();
        if let Some(l) = filter.limit {
            query.push(("limit", l.to_string()));
        }
        if let Some(c) = &filter.cursor {
            query.push(("cursor", c.clone()));
        }
        if let Some(s) = filter.status.and_then(ReservationStatus::as_str) {
            query.push(("status", s.to_owned()));
        }
        self.0.get_json(&["v1", "customers", customer_id, "reservations"], &query).await
    }

    /// Holds `input.quantity`, runs `work`, and commits what it reports; returns the
    /// commit. If the hold is refused, `work` does not run. If `work` fails, or the
    /// commit does, the hold is released (a release that fails too is left to the
    /// hold's expiry) and the first error returned.
    ///
    /// ```no_run
    /// # async fn example(api: edgemeter_sdk::native::Api) -> Result<(), edgemeter_sdk::native::Error> {
    /// use edgemeter_sdk::native::{ReservationCommit, ReservationInput};
    ///
    /// let committed = api
    ///     .reservations()
    ///     .with_reservation("cus_…", &ReservationInput::new("llm_tokens", 4000u32), |held| async move {
    ///         let used = 1234u32; // the stream's real size, known at its end
    ///         let _ = held.expires_at;
    ///         Ok::<_, edgemeter_sdk::native::Error>(ReservationCommit::value(used))
    ///     })
    ///     .await?;
    /// assert_eq!(committed.event.status, "accepted");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn with_reservation<F, Fut, E>(
        &self,
        customer_id: &str,
        input: &ReservationInput,
        work: F,
    ) -> Result<ReservationCommitted, E>
    where
        F: FnOnce(Reservation) -> Fut,
        Fut: Future<Output = Result<ReservationCommit, E>>,
        E: From<Error>,
    {
        let held = self.create(customer_id, input).await?;
        let id = held.id.clone();
        let outcome = match work(held).await {
            Ok(report) => self.commit(customer_id, &id, &report).await.map_err(E::from),
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            // Best effort: a hold that stays is freed by its expiry.
            let _ = self.release(customer_id, &id).await;
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_are_decimal_text_and_leave_out_what_is_unset() {
        assert_eq!(serde_json::to_value(LimitInput::hard(50u32)).unwrap(), json!({"max": "50", "mode": "hard"}));
        assert_eq!(
            serde_json::to_value(ReservationInput::new("tokens", "4000").ttl_seconds(60)).unwrap(),
            json!({"metric_code": "tokens", "quantity": "4000", "ttl_seconds": 60})
        );
        assert_eq!(serde_json::to_value(ReservationCommit::held()).unwrap(), json!({}));
        assert_eq!(
            serde_json::to_value(ReservationCommit::value(12u8).property("model", "x")).unwrap(),
            json!({"value": "12", "properties": {"model": "x"}})
        );
    }

    #[test]
    fn an_entitlement_without_a_limit_reads_as_none() {
        let e: Entitlement = serde_json::from_value(json!({
            "metric_code": "ocr", "max": null, "mode": null, "used": "3", "reserved": "0", "remaining": null, "allowed": true
        }))
        .unwrap();
        assert_eq!((e.max, e.mode, e.remaining, e.allowed), (None, None, None, true));
    }
}
