//! The handlers: each reads its request (`body.rs`), asks the variant's
//! service (`traits.rs`) and answers `202` with the reference, or an error.
//!
//! What every variant must refuse is refused here, once: a `bonusId` at the
//! edge's `POST /payments` (only Incentives pays bonuses, over `internal.rs`),
//! an amount above the limit, both references at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::answers::{Accepted, PaymentRef, PayoutsView, PerformanceView};
use super::body::{CourierPath, StrictJson};
use super::errors::ApiError;
use super::internal::Internal;
use super::requests::{BonusRequest, PaymentRequest, PerformanceRequest, Reference};
use super::traits::{IncentivesApi, PaymentsApi};

pub(super) async fn not_found() -> ApiError {
    ApiError::with_status(StatusCode::NOT_FOUND, "no such endpoint")
}

fn accepted(reference: &Reference) -> Response {
    let body = Accepted {
        status: "accepted".to_string(),
        reference: reference.as_str().to_string(),
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

pub(super) async fn grant_bonus<S: IncentivesApi>(
    State(service): State<S>,
    CourierPath(courier): CourierPath,
    StrictJson(request): StrictJson<BonusRequest>,
) -> Result<Response, ApiError> {
    let bonus_id = request
        .bonus_id
        .unwrap_or_else(|| Reference::generated("bonus"));
    service
        .grant_bonus(courier, request.bonus_type, bonus_id.clone())
        .await?;
    Ok(accepted(&bonus_id))
}

pub(super) async fn set_performance<S: IncentivesApi>(
    State(service): State<S>,
    CourierPath(courier): CourierPath,
    StrictJson(request): StrictJson<PerformanceRequest>,
) -> Result<Response, ApiError> {
    service
        .set_performance(courier, request.performance)
        .await?;
    Ok(accepted(&Reference::for_performance(courier)))
}

pub(super) async fn get_performance<S: IncentivesApi>(
    State(service): State<S>,
    CourierPath(courier): CourierPath,
) -> Result<Json<PerformanceView>, ApiError> {
    let performance = service.performance(courier).await?;
    Ok(Json(PerformanceView {
        courier_id: courier,
        performance,
        incentive: performance.incentive_json(),
    }))
}

/// `POST /payments`, the edge: a delivery, never a bonus.
pub(super) async fn pay_delivery<S: PaymentsApi>(
    State(service): State<S>,
    StrictJson(request): StrictJson<PaymentRequest>,
) -> Result<Response, ApiError> {
    if request.bonus_id.is_some() {
        return Err(ApiError::bad_request(
            "bonusId is not accepted here: from outside, POST /payments pays deliveries \
             only; a bonus is granted at POST /incentives/bonuses/{courierId}",
        ));
    }
    let amount = request.checked_amount()?;
    let delivery = request
        .delivery_id
        .unwrap_or_else(|| Reference::generated("delivery"));
    let reference = PaymentRef::delivery(delivery);
    service
        .pay(request.courier_id, amount, reference.clone())
        .await?;
    Ok(accepted(&reference.id))
}

/// `POST /internal/bonus-payouts`: a bonus, from Incentives only.
pub(super) async fn pay_bonus<S: PaymentsApi>(
    State(service): State<S>,
    _internal: Internal,
    StrictJson(request): StrictJson<PaymentRequest>,
) -> Result<Response, ApiError> {
    let amount = request.checked_amount()?;
    let (None, Some(bonus)) = (request.delivery_id, request.bonus_id) else {
        return Err(ApiError::bad_request(
            "a bonus payout has a bonusId and no deliveryId",
        ));
    };
    let reference = PaymentRef::bonus(bonus);
    service
        .pay(request.courier_id, amount, reference.clone())
        .await?;
    Ok(accepted(&reference.id))
}

pub(super) async fn payouts<S: PaymentsApi>(
    State(service): State<S>,
    CourierPath(courier): CourierPath,
) -> Json<PayoutsView> {
    Json(service.payouts(courier).await)
}
