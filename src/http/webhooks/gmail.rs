//! Gmail's Pub/Sub push at `POST /webhooks/gmail/push`. The body names the
//! mailbox (its account gives the tenant); the push's bearer token must be
//! an RS256 JWT from Google for that account's audience and service
//! account. Then the mailbox is synced in steps of a few dozen messages
//! (history since the stored id, each new message fetched, every new
//! customer email taken in, then the step's history id stored), and
//! Pub/Sub acknowledged once it is caught up. A failure on the way, or a
//! backlog that outlasts the request's budget, a sync of the same mailbox
//! that does not finish within a moment, or a step that would keep the
//! request past Pub/Sub's deadline answers 503: Pub/Sub
//! redelivers, the sync goes on from the last stored step, and messages
//! already taken in are deduplicated by their Gmail id.

use super::{account, body, header, remember, seen_before, take_in};
use crate::channels::gmail::GmailNotification;
use crate::channels::gmail::{GmailIoError, cursor, settings};
use crate::channels::settings::GmailSettings;
use crate::crm::ChannelAccount;
use crate::domain::Provider;
use crate::http::AppState;
use crate::http::problem::Problem;
use crate::telemetry::Redacted;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// How long one push request syncs before leaving the rest of a backlog
/// to the next delivery (Pub/Sub's acknowledgement deadline is 10 s).
const SYNC_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a push waits for another sync of its mailbox to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// The most a push request takes, whatever it waits for (the broker's
/// acknowledgement, Gmail, the database): under Pub/Sub's 10 s.
const PUSH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8);

fn problem(account: uuid::Uuid, e: GmailIoError) -> Problem {
    match e {
        GmailIoError::Unauthenticated(reason) => {
            tracing::warn!(account_id = %account, reason = %Redacted(&reason), "Gmail push with a bad token rejected");
            Problem::unauthorized(reason)
        }
        GmailIoError::Temporary(reason) => {
            tracing::warn!(account_id = %account, reason = %Redacted(&reason), "Gmail sync failed; Pub/Sub will redeliver");
            Problem::unavailable_for("mailbox sync failed; retry", 1)
        }
        GmailIoError::Permanent(reason) => {
            tracing::error!(account_id = %account, reason = %Redacted(&reason), "Gmail account misconfigured");
            Problem::unavailable("the channel account is misconfigured")
        }
    }
}

pub async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = std::time::Instant::now();
    let raw = body(raw)?;
    let authorization = header(&headers, "authorization");
    if authorization.is_none() {
        return Err(Problem::unauthorized("a Google-signed bearer token is required"));
    }
    let notification = GmailNotification::parse(&raw).map_err(|e| Problem::bad_request(e.to_string()))?;
    let account = account(&state, Provider::Gmail, notification.mailbox.as_str()).await?;
    let settings = settings(&account).map_err(|e| problem(account.id, e))?;
    let gmail = &state.channels.gmail;
    gmail.verify_push(&settings, authorization).await.map_err(|e| problem(account.id, e))?;
    if seen_before(&state, account.tenant_id, Provider::Gmail, &notification.push_message_id).await {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Bounded at every step, so a push never outlives Pub/Sub's deadline:
    // a push that waited for another sync, or for a broker that does not
    // acknowledge, answers 503 and is delivered again; what it took in is
    // deduplicated by Gmail id when the sync repeats it.
    let lock = gmail.lock(&account);
    let Ok(_one_sync) = tokio::time::timeout(LOCK_WAIT, lock.lock()).await else {
        tracing::info!(account_id = %account.id, "another sync of the mailbox is running; push left for redelivery");
        return Err(Problem::unavailable_for("the mailbox is being synced; retry", 1));
    };
    let sync = sync(&state, &account, &settings, &notification, started);
    match tokio::time::timeout_at((started + PUSH_DEADLINE).into(), sync).await {
        Ok(synced) => synced?,
        Err(_) => {
            tracing::warn!(account_id = %account.id, "Gmail sync did not finish in time; Pub/Sub will redeliver");
            return Err(Problem::unavailable_for("the mailbox sync did not finish in time; retry", 1));
        }
    }
    remember(&state, account.tenant_id, Provider::Gmail, &notification.push_message_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Syncs the mailbox in steps, each stored as it is done, so a long
/// backlog moves on even when Pub/Sub gives up on this request. Stops
/// starting steps once `SYNC_BUDGET` has passed since `started`.
async fn sync(
    state: &AppState,
    account: &ChannelAccount,
    settings: &GmailSettings,
    notification: &GmailNotification,
    started: std::time::Instant,
) -> Result<(), Problem> {
    let gmail = &state.channels.gmail;
    loop {
        let batch = gmail
            .new_messages(&state.pool, account, settings, notification)
            .await
            .map_err(|e| problem(account.id, e))?;
        for message in batch.messages {
            take_in(state, account, message).await?;
        }
        cursor::advance(&state.pool, account, batch.history_id).await.map_err(|e| {
            tracing::error!(account_id = %account.id, error = %e, "cannot store the Gmail history id");
            Problem::unavailable_for("cannot store the mailbox position; retry", 1)
        })?;
        if batch.complete {
            return Ok(());
        }
        if started.elapsed() >= SYNC_BUDGET {
            // Pub/Sub delivers this push again, and the sync goes on.
            tracing::info!(account_id = %account.id, "Gmail backlog left for the next delivery");
            return Err(Problem::unavailable_for("more mail waiting; the sync goes on at the next delivery", 1));
        }
    }
}
