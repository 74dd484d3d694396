//! The HTTP surface (axum): `/health`, `/ready`, and (when enabled) the
//! message-injection route. Webhooks, the support form and the admin API
//! mount here as they arrive.

mod health;
mod inbound;
pub mod problem;

use crate::kafka::BrokerProbe;
use crate::runtime::Runtime;
use crate::secret::Secret;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub broker: Option<BrokerProbe>,
    pub health_timeout: Duration,
    pub ready: Readiness,
    /// The conversation runtime (absent only in tests of the bare server).
    pub runtime: Option<Arc<Runtime>>,
    /// The `api` role's way into Kafka (no runtime in that process).
    pub publisher: Option<Arc<crate::runtime::KafkaParts>>,
    pub inject_token: Option<Secret<String>>,
}

/// Whether this process should receive traffic: false until start-up has
/// finished and again from the moment shutdown begins.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Largest request body accepted by the API routes.
const MAX_REQUEST_BYTES: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    let mut router = Router::new().route("/health", get(health::health)).route("/ready", get(health::ready));
    if state.inject_token.is_some() {
        router = router.route("/api/v1/inbound", post(inbound::inject).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)));
    }
    router.with_state(state)
}
