//! The edge HTTP API, identical in both variants.
//!
//! Paths, JSON field names and enum spellings are the reference system's. This
//! module owns everything about the edge that does not depend on how the services
//! talk to each other: routes, parsing, validation, the `400` answers. A variant
//! plugs in its behaviour by implementing [`IncentivesApi`] and [`PaymentsApi`];
//! `sync_variant/src/incentives.rs` and `async_variant/src/incentives.rs` are the
//! two implementations to read side by side.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::domain::{BonusType, CourierId, Performance};
use crate::money::Money;

/// The largest amount `POST /payments` accepts: 1,000,000.00. Bounding it keeps
/// every adjusted amount and every courier's total far from `u64` overflow.
pub const MAX_AMOUNT: Money = Money::from_cents(100_000_000);

/// A client reference: a bonus id or a delivery id. 1–64 characters of
/// `A–Z a–z 0–9 . _ : -`, so it is safe in logs, URLs and reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Reference(String);

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if text.is_empty() || text.len() > 64 || !text.chars().all(ok_char) {
            return Err(format!(
                "reference must be 1-64 characters of A-Z a-z 0-9 . _ : -, got {text:?}"
            ));
        }
        Ok(Reference(text.to_string()))
    }

    /// A fresh reference for a request that came without one. Unique within the
    /// process; a client that wants retries to be safe must send its own.
    pub fn generated(prefix: &str) -> Reference {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Reference(format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Reference::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Body of `POST /incentives/bonuses/{courierId}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BonusRequest {
    pub bonus_type: BonusType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus_id: Option<Reference>,
}

/// Body of `POST /incentives/performance/{courierId}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PerformanceRequest {
    pub performance: Performance,
}

/// Answer of `GET /incentives/performance/{courierId}`: `{"incentive": 0.1, ...}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceView {
    pub courier_id: CourierId,
    pub performance: Performance,
    pub incentive: Box<RawValue>,
}

/// Body of `POST /payments`. From outside it pays a delivery (`deliveryId`); the
/// synchronous Incentives uses it to pay a bonus (`bonusId`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub courier_id: CourierId,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus_id: Option<Reference>,
}

/// What a payout pays for. With the reference it forms the key that makes a
/// repeated request pay once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayoutKind {
    Bonus,
    Delivery,
}

/// The key of a payout: a bonus id or a delivery id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentRef {
    pub kind: PayoutKind,
    pub id: Reference,
}

impl PaymentRef {
    pub fn bonus(id: Reference) -> PaymentRef {
        PaymentRef {
            kind: PayoutKind::Bonus,
            id,
        }
    }

    pub fn delivery(id: Reference) -> PaymentRef {
        PaymentRef {
            kind: PayoutKind::Delivery,
            id,
        }
    }
}

/// Where the performance behind a payout came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerformanceSource {
    /// Asked Incentives just now (synchronous).
    Live,
    /// Read from Payments' own copy, built from events (asynchronous).
    Cached,
    /// Incentives could not be asked; paid at +0 % (the reference's silent fallback).
    Fallback,
}

/// One line of `GET /payments/{courierId}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    pub kind: PayoutKind,
    pub reference: String,
    pub amount_asked: Money,
    pub performance: Performance,
    pub incentive_percent: u8,
    pub amount_paid: Money,
    pub performance_source: PerformanceSource,
    /// How old the performance used was, in ms: 0 when asked live, the copy's
    /// lag behind the stream when cached, absent for a fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_age_ms: Option<u64>,
    /// When it was paid: wall-clock microseconds since the Unix epoch.
    pub paid_at_us: u64,
}

/// Answer of `GET /payments/{courierId}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayoutsView {
    pub courier_id: CourierId,
    pub payouts: Vec<Payout>,
    pub total: Money,
}

/// Body of every `202`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Accepted {
    pub status: String,
    pub reference: String,
}

/// An edge error: a status and a JSON body `{"error": code, "message": ...}`.
/// Variants return these; the shared middleware counts them by status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    /// A dependency failed or refused: `503`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: message.into(),
        }
    }

    /// A dependency did not answer in time: `504`.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::GATEWAY_TIMEOUT,
            code: "timeout",
            message: message.into(),
        }
    }

    /// A bounded queue is full: `503`, so the client backs off instead of
    /// the service queueing without limit.
    pub fn overloaded(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "overloaded",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// Incentives' behaviour behind the edge. Implemented once per variant.
pub trait IncentivesApi: Clone + Send + Sync + 'static {
    fn grant_bonus(
        &self,
        courier: CourierId,
        bonus: BonusType,
        bonus_id: Reference,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn set_performance(
        &self,
        courier: CourierId,
        performance: Performance,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn performance(
        &self,
        courier: CourierId,
    ) -> impl Future<Output = Result<Performance, ApiError>> + Send;
}

/// Payments' behaviour behind the edge. Implemented once per variant.
pub trait PaymentsApi: Clone + Send + Sync + 'static {
    /// Pays `amount` adjusted by the courier's performance, once per reference.
    fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: PaymentRef,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn payouts(&self, courier: CourierId) -> impl Future<Output = PayoutsView> + Send;
}

/// Incentives' routes over any implementation.
pub fn incentives_router<S: IncentivesApi>(service: S) -> Router {
    Router::new()
        .route("/incentives/bonuses/{courier_id}", post(grant_bonus::<S>))
        .route(
            "/incentives/performance/{courier_id}",
            post(set_performance::<S>).get(get_performance::<S>),
        )
        .fallback(not_found)
        .with_state(service)
}

/// Payments' routes over any implementation.
pub fn payments_router<S: PaymentsApi>(service: S) -> Router {
    Router::new()
        .route("/payments", post(pay::<S>))
        .route("/payments/{courier_id}", get(payouts::<S>))
        .fallback(not_found)
        .with_state(service)
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: "no such endpoint".to_string(),
    }
}

fn accepted(reference: &Reference) -> Response {
    let body = Accepted {
        status: "accepted".to_string(),
        reference: reference.as_str().to_string(),
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// The `{courierId}` path segment: a non-negative integer.
pub fn parse_courier(path: Result<Path<String>, PathRejection>) -> Result<CourierId, ApiError> {
    let Path(text) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "courierId must be a non-negative integer, got {text:?}"
        ))
    })
}

/// A JSON body, or a `400` naming what is wrong with it (axum alone would say `422`
/// for a well-formed body with a bad field; the reference's clients expect `400`).
pub fn parse_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

async fn grant_bonus<S: IncentivesApi>(
    State(service): State<S>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<BonusRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let courier = parse_courier(path)?;
    let request = parse_body(body)?;
    let bonus_id = request
        .bonus_id
        .unwrap_or_else(|| Reference::generated("bonus"));
    service
        .grant_bonus(courier, request.bonus_type, bonus_id.clone())
        .await?;
    Ok(accepted(&bonus_id))
}

async fn set_performance<S: IncentivesApi>(
    State(service): State<S>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PerformanceRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let courier = parse_courier(path)?;
    let request = parse_body(body)?;
    service
        .set_performance(courier, request.performance)
        .await?;
    Ok(accepted(&Reference(format!("performance-{courier}"))))
}

async fn get_performance<S: IncentivesApi>(
    State(service): State<S>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PerformanceView>, ApiError> {
    let courier = parse_courier(path)?;
    let performance = service.performance(courier).await?;
    Ok(Json(PerformanceView {
        courier_id: courier,
        performance,
        incentive: performance.incentive_json(),
    }))
}

async fn pay<S: PaymentsApi>(
    State(service): State<S>,
    body: Result<Json<PaymentRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = parse_body(body)?;
    if request.amount > MAX_AMOUNT {
        return Err(ApiError::bad_request(format!(
            "amount {} is above the limit of {MAX_AMOUNT}",
            request.amount
        )));
    }
    let reference = match (request.delivery_id, request.bonus_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "a payment has a deliveryId or a bonusId, not both",
            ));
        }
        (None, Some(bonus)) => PaymentRef::bonus(bonus),
        (Some(delivery), None) => PaymentRef::delivery(delivery),
        (None, None) => PaymentRef::delivery(Reference::generated("delivery")),
    };
    service
        .pay(request.courier_id, request.amount, reference.clone())
        .await?;
    Ok(accepted(&reference.id))
}

async fn payouts<S: PaymentsApi>(
    State(service): State<S>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PayoutsView>, ApiError> {
    let courier = parse_courier(path)?;
    Ok(Json(service.payouts(courier).await))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_validated() {
        assert!(Reference::parse("b-17").is_ok());
        assert!(Reference::parse("").is_err());
        assert!(Reference::parse("has space").is_err());
        assert!(Reference::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn payment_request_reads_reference_field_names() {
        let req: PaymentRequest =
            serde_json::from_str(r#"{"courierId": 7, "amount": 5.5, "deliveryId": "d-1"}"#)
                .unwrap();
        assert_eq!(req.courier_id, 7);
        assert_eq!(req.amount, Money::from_cents(550));
        assert_eq!(req.delivery_id.unwrap().as_str(), "d-1");
        assert!(
            serde_json::from_str::<PaymentRequest>(r#"{"courierId": 7, "amount": -1}"#).is_err()
        );
    }
}
