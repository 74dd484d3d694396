//! The HTTP surface (axum): `/health`, `/ready`, and (when enabled) the
//! message-injection route. Webhooks, the support form and the admin API
//! mount here as they arrive.

pub mod admin;
mod health;
mod inbound;
mod metrics;
pub mod problem;
pub mod request_id;
mod support;
pub mod webhooks;

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
    pub channels: Arc<ChannelIngress>,
    /// Whether this process takes provider webhooks and the support form
    /// (`serve` and `api`; workers and dispatchers do not).
    pub ingress: bool,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// What the webhook handlers share.
pub struct ChannelIngress {
    /// `FTE_PUBLIC_URL`: the URL providers sign requests for.
    pub public_url: Option<String>,
    /// Embedded mode: how long a webhook waits for its turn's commit.
    pub ack_timeout: Duration,
    pub inbound_limit: crate::channels::rate_limit::RateLimiter,
    /// Signs web-form status links.
    pub webform_secret: Secret<String>,
    /// Gmail push verification and mailbox sync.
    pub gmail: Arc<crate::gmail::GmailClient>,
}

impl ChannelIngress {
    pub fn new(settings: &crate::config::ChannelSettings, gmail: Arc<crate::gmail::GmailClient>) -> Self {
        let webform_secret = settings.webform_secret.clone().unwrap_or_else(|| {
            tracing::warn!("FTE_WEBFORM_SECRET is unset: web-form status links stop working at restart");
            Secret::new(format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
        });
        Self {
            public_url: settings.public_url.clone(),
            ack_timeout: Duration::from_millis(settings.webhook_ack_timeout_ms),
            inbound_limit: crate::channels::rate_limit::RateLimiter::new(
                settings.inbound_rate_per_sec,
                settings.inbound_burst,
            ),
            webform_secret,
            gmail,
        }
    }
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
    let mut router = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/api/v1/conversations", get(admin::conversations::list))
        .route("/api/v1/conversations/{id}", get(admin::conversations::detail))
        .route("/api/v1/conversations/{id}/{step}", post(admin::workflow::take_step))
        .route("/api/v1/escalations", get(admin::workflow::escalations))
        .route("/api/v1/actors", get(admin::actors::list))
        .route("/api/v1/actors/{customer_id}/passivate", post(admin::actors::passivate))
        .route("/api/v1/runtime/stats", get(admin::actors::stats))
        .route("/api/v1/customers", get(admin::customers::list))
        .route("/api/v1/customers/merge-candidates", get(admin::customers::merge_candidates))
        .route("/api/v1/customers/{id}", get(admin::customers::detail))
        .route("/api/v1/customers/{id}/merge", post(admin::customers::merge))
        .route("/api/v1/tickets", get(admin::tickets::list))
        .route("/api/v1/tickets/{id}", get(admin::tickets::detail).patch(admin::tickets::update));
    if state.ingress {
        router = ingress(router);
    }
    if state.inject_token.is_some() {
        router = router.route("/api/v1/inbound", post(inbound::inject).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)));
    }
    router
        .route("/metrics", get(metrics::scrape))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::record))
        .layer(axum::middleware::from_fn(request_id::layer))
        .with_state(state)
}

/// Provider webhooks and the support form (`serve` and `api` only).
fn ingress(router: Router<AppState>) -> Router<AppState> {
    let limit = || DefaultBodyLimit::max(webhooks::MAX_WEBHOOK_BYTES);
    router
        .route("/webhooks/twilio/whatsapp", post(webhooks::twilio::message).layer(limit()))
        .route("/webhooks/twilio/status", post(webhooks::twilio::status).layer(limit()))
        .route("/webhooks/meta/whatsapp", get(webhooks::meta::subscribe).post(webhooks::meta::notify).layer(limit()))
        .route("/webhooks/slack/events", post(webhooks::slack::events).layer(limit()))
        .route("/webhooks/gmail/push", post(webhooks::gmail::push).layer(limit()))
        .route("/support", get(support::page))
        .route("/support/widget.js", get(support::widget))
        .route("/support/tickets/{id}", get(support::status_page))
        .route("/support/api/tickets", post(support::submit).options(support::preflight).layer(limit()))
        .route("/support/api/tickets/{id}", get(support::status).options(support::preflight))
}
