//! Provider webhooks under `/webhooks/…` (DESIGN.md §6, §7). Every handler
//! follows the same steps: find the channel account the request is for
//! (unknown → 403, never a default tenant), verify the provider's
//! signature with that account's secret (missing or wrong → 401, nothing
//! stored or published), parse into `InboundMessage`, take it in (publish
//! to the inbound topic, or hand it to the embedded runtime), acknowledge.
//! This module holds what the handlers share; one file per provider.

pub mod gmail;
pub mod meta;
pub mod slack;
pub mod twilio;

use super::AppState;
use super::problem::Problem;
use crate::crm::ChannelAccount;
use crate::db::begin_tenant;
use crate::domain::Provider;
use crate::domain::{InboundMessage, TenantId};
use crate::runtime::SubmitError;
use crate::telemetry::{Redacted, provider_id};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri};

/// Largest webhook body accepted (providers send far less; a Slack or
/// Meta batch is a few KB, a Pub/Sub push a few hundred bytes).
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// The raw body, or a problem saying why it could not be read (too large:
/// 413).
pub fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Problem> {
    body.map_err(|e| Problem::new(e.status(), "bad-request", e.body_text()))
}

/// A header's value as text, if present and printable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The enabled account `address` at `provider`, or 403.
pub async fn account(state: &AppState, provider: Provider, address: &str) -> Result<ChannelAccount, Problem> {
    match state.accounts.resolve(provider, address).await {
        Ok(Some(account)) => Ok(account),
        Ok(None) => {
            // The address may be a person's (a mailbox, a number): hashed.
            let address_hash = crate::telemetry::pii_hash(address);
            tracing::warn!(%provider, address_hash, "webhook for an unknown channel account rejected");
            Err(Problem::forbidden(format!("no {provider} account {address:?} is configured here")))
        }
        Err(e) => {
            tracing::error!(%provider, error = %e, "cannot look channel accounts up");
            Err(Problem::unavailable_for("cannot look the channel account up; retry", 1))
        }
    }
}

/// The URL the provider requested, as it sees it: `FTE_PUBLIC_URL` + path
/// and query, or else `http://{Host}` + path and query.
pub fn public_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match &state.channels.public_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => format!("http://{}{path}", header(headers, "host").unwrap_or("localhost")),
    }
}

/// Takes a verified, parsed message in: counts it against the tenant's
/// inbound rate limit (429 beyond it), then makes it durable (Kafka: the
/// inbound topic; embedded: the intake table) and returns; the turn runs
/// after the acknowledgement. A message that could not be made durable is
/// refused with 503 and `Retry-After`, never acknowledged.
pub async fn take_in(state: &AppState, account: &ChannelAccount, message: InboundMessage) -> Result<(), Problem> {
    let mut message = message.cleaned();
    if let Err(wait) = state.channels.inbound_limit.try_take(message.tenant_id, message.channel) {
        tracing::warn!(tenant_id = %message.tenant_id, channel = %message.channel, "inbound rate limit reached");
        return Err(Problem::too_many_requests("too many messages for this account; retry later", wait.as_secs() + 1));
    }
    if let Some(meta) = message.metadata.as_object_mut() {
        meta.insert("account_id".into(), account.id.to_string().into());
    }
    let (tenant_id, channel, external_id) = (message.tenant_id, message.channel, message.external_id.clone());
    let outcome = match (&state.runtime, &state.publisher) {
        (Some(runtime), _) => runtime.take(message).await.map(|_| ()),
        (None, Some(kafka)) => kafka.publish_inbound(&message).await.map(|_| ()).map_err(SubmitError::from),
        (None, None) => return Err(Problem::unavailable("this process takes no messages")),
    };
    outcome.map_err(|e| {
        let (external_id, error) = (provider_id(&external_id), Redacted(&e));
        tracing::warn!(%tenant_id, %channel, %external_id, %error, "inbound message not taken in");
        match e {
            SubmitError::Closed => Problem::unavailable_for("shutting down; retry", 1),
            SubmitError::Busy { retry_after_secs } => Problem::unavailable_for(e.to_string(), retry_after_secs),
            other => Problem::unavailable_for(format!("message not taken in ({other}); retry"), 1),
        }
    })?;
    state.metrics.message(channel.as_str(), "inbound");
    tracing::info!(%tenant_id, %channel, external_id = %provider_id(&external_id), "inbound message taken in");
    Ok(())
}

/// Whether a provider delivery (Slack `event_id`, Pub/Sub message id) was
/// taken in before. Only a shortcut: a delivery taken in twice is one
/// more publish, which the runtime dedupes by the message's external id.
/// So when the database does not answer within `SEEN_BEFORE_BUDGET` (it
/// is away, or its pool is busy) the delivery counts as new, and the
/// webhook is still acknowledged within the provider's deadline.
pub async fn seen_before(state: &AppState, tenant: TenantId, provider: Provider, id: &str) -> bool {
    let run = async {
        let mut tx = begin_tenant(&state.pool, tenant).await?;
        let seen: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM inbound_deliveries WHERE provider = $1 AND delivery_id = $2")
                .bind(provider.as_str())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(seen.is_some())
    };
    match tokio::time::timeout(SEEN_BEFORE_BUDGET, run).await {
        Ok(Ok(seen)) => seen,
        Ok(Err(e)) => {
            tracing::warn!(%provider, delivery_id = id, error = %e, "cannot read inbound deliveries; taking the delivery as new");
            false
        }
        Err(_) => {
            tracing::warn!(%provider, delivery_id = id, "inbound deliveries not read in time; taking the delivery as new");
            false
        }
    }
}

/// How long [`seen_before`] may take.
const SEEN_BEFORE_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

/// Records a delivery as taken in (after it was: a crash in between means
/// one more publish, which the runtime dedupes by external id), in the
/// background, so the acknowledgement does not wait for the database.
pub fn remember(state: &AppState, tenant: TenantId, provider: Provider, id: &str) {
    let (pool, id) = (state.pool.clone(), id.to_string());
    tokio::spawn(async move { record_delivery(&pool, tenant, provider, &id).await });
}

async fn record_delivery(pool: &sqlx::PgPool, tenant: TenantId, provider: Provider, id: &str) {
    let run = async {
        let mut tx = begin_tenant(pool, tenant).await?;
        sqlx::query(
            "INSERT INTO inbound_deliveries (provider, delivery_id, tenant_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(provider.as_str())
        .bind(id)
        .bind(tenant.as_uuid())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    };
    if let Err(e) = run.await {
        tracing::warn!(%provider, delivery_id = id, error = %e, "cannot record an inbound delivery");
    }
}
