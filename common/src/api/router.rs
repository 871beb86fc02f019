//! The two services' routes, over any variant's implementation, behind the
//! layers every answer passes: URIs longer than the limit are refused `414`,
//! and an error answer axum made without a body gets the JSON one.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::errors::{ApiError, fill_empty_errors};
use super::handlers::{
    get_performance, grant_bonus, not_found, pay_bonus, pay_delivery, payouts, set_performance,
};
use super::internal::BONUS_PAYOUT_PATH;
use super::traits::{IncentivesApi, PaymentsApi};
use crate::server::limits::MAX_URI_BYTES;

/// Incentives' routes over any implementation.
pub fn incentives_router<S: IncentivesApi>(service: S) -> Router {
    let router = Router::new()
        .route("/incentives/bonuses/{courier_id}", post(grant_bonus::<S>))
        .route(
            "/incentives/performance/{courier_id}",
            post(set_performance::<S>).get(get_performance::<S>),
        )
        .fallback(not_found)
        .with_state(service);
    with_edge_layers(router)
}

/// Payments' routes over any implementation: the edge's two, and the internal
/// bonus route where the variant pays bonuses over HTTP (`internal.rs`).
pub fn payments_router<S: PaymentsApi>(service: S) -> Router {
    let mut router = Router::new()
        .route("/payments", post(pay_delivery::<S>))
        .route("/payments/{courier_id}", get(payouts::<S>));
    if S::PAYS_BONUSES_OVER_HTTP {
        router = router.route(BONUS_PAYOUT_PATH, post(pay_bonus::<S>));
    }
    with_edge_layers(router.fallback(not_found).with_state(service))
}

fn with_edge_layers(router: Router) -> Router {
    router
        .layer(from_fn(fill_empty_errors))
        .layer(from_fn(refuse_long_uris))
}

/// `414` for a URI above [`MAX_URI_BYTES`], before routing.
async fn refuse_long_uris(request: Request<Body>, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > MAX_URI_BYTES {
        let message = format!("the URI is {length} bytes, above the limit of {MAX_URI_BYTES}");
        return ApiError::with_status(StatusCode::URI_TOO_LONG, message).into_response();
    }
    next.run(request).await
}
