//! Slack Events API at `POST /webhooks/slack/events`. The request is
//! signed (`v0` HMAC-SHA256 over `v0:{timestamp}:{raw body}`, refused
//! when more than 5 minutes old) with the signing secret of the workspace's
//! account, found by `team_id` (a `url_verification`, which names no
//! team, must check with one of our accounts' secrets). Messages from bots
//! and edits/joins (subtypes) are acknowledged and dropped, so the agent
//! never answers itself. Slack retries deliveries it does not see
//! acknowledged within 3 seconds (`X-Slack-Retry-Num`): a retried
//! `event_id` already taken in is acknowledged without a second publish.

use super::{account, body, header, remember, seen_before, take_in};
use crate::channels::settings::{AccountSettings, SlackSettings};
use crate::channels::slack::{self, EventOutcome, SignatureVerifier, SigningSecret};
use crate::crm::ChannelAccount;
use crate::domain::Provider;
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

fn verifier(account: &ChannelAccount) -> Result<(SignatureVerifier, SlackSettings), Problem> {
    let fail = |e: String| {
        tracing::error!(account_id = %account.id, error = %e, "Slack account misconfigured");
        Problem::unavailable("the channel account is misconfigured")
    };
    let settings = match AccountSettings::parse(Provider::Slack, &account.config) {
        Ok(AccountSettings::Slack(s)) => s,
        other => return Err(fail(format!("{:?}", other.err()))),
    };
    let secret = settings.signing_secret_env.read().map_err(|e| fail(e.to_string()))?;
    let secret = SigningSecret::new(secret.expose().clone()).map_err(|e| fail(e.to_string()))?;
    Ok((SignatureVerifier::new(&secret), settings))
}

fn refused(e: slack::InboundError) -> Problem {
    match e {
        slack::InboundError::Signature(s) => Problem::unauthorized(format!("Slack signature: {s}")),
        other => Problem::bad_request(other.to_string()),
    }
}

pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let raw = body(raw)?;
    let (ts, sig, content_type) = (
        header(&headers, "x-slack-request-timestamp"),
        header(&headers, "x-slack-signature"),
        header(&headers, "content-type"),
    );
    if sig.is_none() || ts.is_none() {
        return Err(Problem::unauthorized("X-Slack-Signature and X-Slack-Request-Timestamp are required"));
    }
    let now = chrono::Utc::now();
    // Read unverified only for the team id, to pick the secret.
    let team = serde_json::from_slice::<serde_json::Value>(&raw)
        .ok()
        .and_then(|v| v.get("team_id").and_then(|t| t.as_str()).map(str::to_string));
    let Some(team) = team else {
        // url_verification (no team): any of our Slack apps may have sent it.
        let accounts = state
            .accounts
            .provider(Provider::Slack)
            .await
            .map_err(|_| Problem::unavailable_for("cannot look the channel accounts up; retry", 1))?;
        let mut last = Problem::forbidden("no Slack account is configured here");
        for account in &accounts {
            let (verifier, _) = verifier(account)?;
            match slack::parse_request(&verifier, ts, sig, content_type, &raw, now) {
                Ok(EventOutcome::UrlVerification { challenge }) => {
                    return Ok(Json(serde_json::json!({ "challenge": challenge })).into_response());
                }
                Ok(_) => return Err(Problem::bad_request("an event without a team_id")),
                Err(e) => last = refused(e),
            }
        }
        return Err(last);
    };
    let account = account(&state, Provider::Slack, &team).await?;
    let (verifier, settings) = verifier(&account)?;
    let outcome = slack::parse_request(&verifier, ts, sig, content_type, &raw, now).map_err(|e| {
        tracing::warn!(account_id = %account.id, error = %e, "Slack request refused");
        refused(e)
    })?;
    let message = match outcome {
        EventOutcome::UrlVerification { challenge } => {
            return Ok(Json(serde_json::json!({ "challenge": challenge })).into_response());
        }
        EventOutcome::Ignored(reason) => {
            tracing::debug!(account_id = %account.id, reason = reason.code(), "Slack event ignored");
            return Ok(StatusCode::OK.into_response());
        }
        EventOutcome::Message(message) => message,
    };
    let message = match &settings.bot_user_id {
        Some(bot) => message.with_bot_user_id(bot),
        None => *message,
    };
    let event_id = message.event_id.clone();
    if seen_before(&state, account.tenant_id, Provider::Slack, &event_id).await {
        tracing::info!(account_id = %account.id, event_id, retry = header(&headers, "x-slack-retry-num"),
            "Slack redelivery acknowledged");
        return Ok(StatusCode::OK.into_response());
    }
    let inbound = message.into_inbound_message(account.tenant_id, now);
    take_in(&state, &account, inbound).await?;
    remember(&state, account.tenant_id, Provider::Slack, &event_id);
    Ok(StatusCode::OK.into_response())
}
