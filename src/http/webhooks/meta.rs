//! Meta WhatsApp Cloud API webhooks at `/webhooks/meta/whatsapp`:
//! - `GET`: the subscription check (`hub.mode=subscribe`,
//!   `hub.verify_token`, `hub.challenge`): the challenge is echoed if the
//!   token is that of one of our Meta accounts.
//! - `POST`: a batch of messages and statuses, signed over the raw body
//!   (`X-Hub-Signature-256`, HMAC-SHA256 with the app secret). Each
//!   `phone_number_id` in it must be one of our accounts, and the
//!   signature must check with each such account's app secret; then the
//!   messages are taken in and the statuses applied. Meta gets 200 once
//!   all are stored (anything else makes it retry the whole batch).

use super::{account, body, header, take_in};
use crate::channels::meta::{self, AppSecret, SIGNATURE_HEADER};
use crate::channels::settings::{AccountSettings, MetaSettings};
use crate::crm::ChannelAccount;
use crate::delivery::dispatch::store::apply_delivery_status;
use crate::domain::Provider;
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

fn settings(account: &ChannelAccount) -> Result<MetaSettings, Problem> {
    match AccountSettings::parse(Provider::Meta, &account.config) {
        Ok(AccountSettings::Meta(s)) => Ok(s),
        other => {
            tracing::error!(account_id = %account.id, error = ?other.err(), "Meta account misconfigured");
            Err(Problem::unavailable("the channel account is misconfigured"))
        }
    }
}

fn misconfigured(account: &ChannelAccount, e: impl std::fmt::Display) -> Problem {
    tracing::error!(account_id = %account.id, error = %e, "Meta account misconfigured");
    Problem::unavailable("the channel account is misconfigured")
}

/// Why an item was skipped, without the values the error quotes (a
/// sender's number among them).
fn skip_reason(e: &meta::ItemError) -> String {
    use meta::ItemError as E;
    match e {
        E::NotAnObject | E::Missing(_) | E::NotAnArray(_) => e.to_string(),
        E::BadMessageId(_) => "its message id is not usable as a dedupe key".into(),
        E::BadTimestamp(_) => "its timestamp is not Unix seconds".into(),
        E::BadSender { .. } => "its sender is not a WhatsApp number".into(),
        E::WrongProduct(_) => "its messaging_product is not whatsapp".into(),
    }
}

pub async fn subscribe(State(state): State<AppState>, uri: Uri) -> Result<Response, Problem> {
    let pairs = meta::parse_query(uri.query().unwrap_or_default()).map_err(|e| Problem::bad_request(e.to_string()))?;
    let accounts = state
        .accounts
        .provider(Provider::Meta)
        .await
        .map_err(|_| Problem::unavailable("cannot look the channel accounts up; retry"))?;
    let mut last = None;
    for account in &accounts {
        let token = settings(account)?.verify_token_env.read().map_err(|e| misconfigured(account, e))?;
        match meta::verify_subscription(&pairs, token.expose()) {
            Ok(challenge) => return Ok((StatusCode::OK, challenge).into_response()),
            Err(e) => last = Some(e),
        }
    }
    tracing::warn!(error = ?last, "Meta subscription check refused");
    Err(Problem::forbidden(match last {
        Some(e) => e.to_string(),
        None => "no Meta account is configured here".to_string(),
    }))
}

pub async fn notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let raw = body(raw)?;
    let signature =
        header(&headers, SIGNATURE_HEADER).ok_or_else(|| Problem::unauthorized("X-Hub-Signature-256 is missing"))?;
    // Parsed before it is verified only to learn which accounts it is for
    // (the secret is theirs); nothing from it is used unless it verifies.
    let batch = meta::parse_webhook(&raw).map_err(|e| match e {
        meta::WebhookError::Signature(s) => Problem::unauthorized(s.to_string()),
        other => Problem::bad_request(other.to_string()),
    })?;
    let ids: Vec<&str> = batch
        .messages
        .iter()
        .map(|m| m.phone_number_id.as_str())
        .chain(batch.statuses.iter().map(|s| s.phone_number_id.as_str()))
        .chain(batch.errors.iter().map(|e| e.phone_number_id.as_str()))
        .collect();
    let mut accounts: BTreeMap<String, ChannelAccount> = BTreeMap::new();
    for id in ids {
        if !accounts.contains_key(id) {
            accounts.insert(id.to_string(), account(&state, Provider::Meta, id).await?);
        }
    }
    if accounts.is_empty() {
        // Nothing for any number (e.g. only skipped items): still it must
        // be signed by one of our apps.
        let all = state
            .accounts
            .provider(Provider::Meta)
            .await
            .map_err(|_| Problem::unavailable("cannot look the channel accounts up; retry"))?;
        let any = all.iter().any(|a| {
            settings(a)
                .ok()
                .and_then(|s| s.app_secret_env.read().ok())
                .and_then(|secret| AppSecret::new(secret.expose()).ok())
                .is_some_and(|secret| secret.verify(&raw, Some(signature)).is_ok())
        });
        return if any { Ok(StatusCode::OK.into_response()) } else { Err(Problem::unauthorized("bad signature")) };
    }
    for account in accounts.values() {
        let secret = settings(account)?.app_secret_env.read().map_err(|e| misconfigured(account, e))?;
        let secret = AppSecret::new(secret.expose()).map_err(|e| misconfigured(account, e))?;
        secret.verify(&raw, Some(signature)).map_err(|e| {
            tracing::warn!(account_id = %account.id, error = %e, "Meta webhook with a bad signature rejected");
            Problem::unauthorized(format!("X-Hub-Signature-256: {e}"))
        })?;
    }
    for skipped in &batch.skipped {
        let id = skipped.id.as_deref().map(crate::telemetry::provider_id);
        tracing::warn!(item = %skipped.path, id = id.as_deref(), reason = %skip_reason(&skipped.error), "Meta webhook item skipped");
    }
    for status in &batch.statuses {
        let (Some(delivery), Some(account)) = (status.delivery_status(), accounts.get(&status.phone_number_id)) else {
            continue;
        };
        let error = status.error_code().map(|c| format!("Meta error {c}: {}", status.error_title().unwrap_or("")));
        apply_delivery_status(&state.pool, account, &status.message_id, delivery, error.as_deref()).await.map_err(
            |e| {
                tracing::error!(account_id = %account.id, error = %e, "cannot store a delivery status");
                Problem::unavailable("cannot store the status; retry")
            },
        )?;
    }
    for message in batch.messages {
        let Some(account) = accounts.get(&message.phone_number_id) else { continue };
        let inbound = message.into_inbound_message(account.tenant_id, chrono::Utc::now());
        take_in(&state, account, inbound).await?;
    }
    Ok(StatusCode::OK.into_response())
}
