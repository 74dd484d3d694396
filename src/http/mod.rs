//! The HTTP surface (axum): `/health`, `/ready`, and (when enabled) the
//! message-injection route. Webhooks, the support form and the admin API
//! mount here as they arrive.

pub mod admin;
mod console;
mod health;
mod inbound;
mod metrics;
mod nul_guard;
pub mod openapi;
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
    pub publisher: Option<Arc<crate::pipeline::InboundPublisher>>,
    pub inject_token: Option<Secret<String>>,
    pub channels: Arc<ChannelIngress>,
    /// The channel accounts webhooks are addressed to, held in memory.
    pub accounts: Arc<crate::crm::AccountCache>,
    /// Whether this process takes provider webhooks and the support form
    /// (`serve` and `api`; workers and dispatchers do not).
    pub ingress: bool,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The knowledge base's embedder, shared with the agent brain; absent
    /// when it could not be built in a process that runs no agent (the
    /// admin API's knowledge-base edits and search then answer 503).
    pub embedder: Option<Arc<dyn crate::kb::Embedder>>,
    /// Hybrid search and its cached statistics, shared with the agent
    /// brain (invalidated after knowledge-base edits).
    pub kb_search: Arc<crate::kb::KbSearch>,
}

/// What the webhook handlers share.
pub struct ChannelIngress {
    /// `FTE_PUBLIC_URL`: the URL providers sign requests for.
    pub public_url: Option<String>,
    pub inbound_limit: crate::channels::rate_limit::RateLimiter,
    /// Signs web-form status links.
    pub webform_secret: Secret<String>,
    /// Gmail push verification and mailbox sync.
    pub gmail: Arc<crate::channels::gmail::GmailClient>,
}

impl ChannelIngress {
    pub fn new(settings: &crate::config::ChannelSettings, gmail: Arc<crate::channels::gmail::GmailClient>) -> Self {
        let webform_secret = settings.webform_secret.clone().unwrap_or_else(|| {
            tracing::warn!("FTE_WEBFORM_SECRET is unset: web-form status links stop working at restart");
            Secret::new(format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
        });
        Self {
            public_url: settings.public_url.clone(),
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

/// The documented API routes and their OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    let (router, mut document) = utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(admin::workflow::routes())
        .merge(admin::approvals::routes())
        .merge(admin::channel_stats::routes())
        .merge(admin::actors::routes())
        .merge(admin::conversations::routes())
        .merge(admin::customers::routes())
        .merge(admin::tickets::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(admin::kb::routes())
        .merge(admin::tenants::routes())
        .split_for_parts();
    openapi::problem_content_types(&mut document);
    (router, document)
}

pub fn router(state: AppState) -> Router {
    let (api, document) = api();
    let document: Option<Arc<str>> = document
        .to_json()
        .map_err(|e| tracing::error!(error = %e, "the OpenAPI document does not serialize"))
        .ok()
        .map(Arc::from);
    let mut router =
        Router::new().merge(api).route("/api/v1/openapi.json", get(move || openapi::serve(document.clone())));
    if state.ingress {
        router = ingress(router);
    }
    if state.inject_token.is_some() {
        router = router.route("/api/v1/inbound", post(inbound::inject).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)));
    }
    router = router.merge(console::routes());
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::record))
        .layer(axum::middleware::from_fn(nul_guard::layer))
        .layer(axum::middleware::from_fn(problem::normalize))
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
