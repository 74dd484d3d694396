//! The HTTP surface (axum). Now: `/health` and `/ready`. Webhooks, the
//! support form and the admin API mount here as they arrive.

mod health;

use crate::kafka::BrokerProbe;
use axum::Router;
use axum::routing::get;
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

pub fn router(state: AppState) -> Router {
    Router::new().route("/health", get(health::health)).route("/ready", get(health::ready)).with_state(state)
}
