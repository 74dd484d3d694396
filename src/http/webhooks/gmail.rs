//! Gmail's Pub/Sub push at `POST /webhooks/gmail/push`. The body names the
//! mailbox (its account gives the tenant); the push's bearer token must be
//! an RS256 JWT from Google for that account's audience and service
//! account. Then the mailbox is synced in steps of a few dozen messages
//! (history since the stored id, each new message fetched, every new
//! customer email taken in, then the step's history id stored), and
//! Pub/Sub acknowledged once it is caught up. A failure on the way, or a
//! backlog that outlasts the request's budget, answers 503: Pub/Sub
//! redelivers, the sync goes on from the last stored step, and messages
//! already taken in are deduplicated by their Gmail id.

use super::{account, body, header, remember, seen_before, take_in};
use crate::channels::Provider;
use crate::channels::gmail::GmailNotification;
use crate::gmail::{GmailIoError, cursor, settings};
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// How long one push request syncs before leaving the rest of a backlog
/// to the next delivery (Pub/Sub's acknowledgement deadline is 10 s).
const SYNC_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

fn problem(account: uuid::Uuid, e: GmailIoError) -> Problem {
    match e {
        GmailIoError::Unauthenticated(reason) => {
            tracing::warn!(account_id = %account, reason, "Gmail push with a bad token rejected");
            Problem::unauthorized(reason)
        }
        GmailIoError::Temporary(reason) => {
            tracing::warn!(account_id = %account, reason, "Gmail sync failed; Pub/Sub will redeliver");
            Problem::unavailable("mailbox sync failed; retry")
        }
        GmailIoError::Permanent(reason) => {
            tracing::error!(account_id = %account, reason, "Gmail account misconfigured");
            Problem::unavailable("the channel account is misconfigured")
        }
    }
}

pub async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
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
    let lock = gmail.lock(&account);
    let _one_sync = lock.lock().await;
    // In steps, each stored as it is done, so a long backlog moves on even
    // when Pub/Sub gives up on this request.
    let started = std::time::Instant::now();
    loop {
        let batch = gmail
            .new_messages(&state.pool, &account, &settings, &notification)
            .await
            .map_err(|e| problem(account.id, e))?;
        for message in batch.messages {
            take_in(&state, &account, message).await?;
        }
        cursor::advance(&state.pool, &account, batch.history_id).await.map_err(|e| {
            tracing::error!(account_id = %account.id, error = %e, "cannot store the Gmail history id");
            Problem::unavailable("cannot store the mailbox position; retry")
        })?;
        if batch.complete {
            break;
        }
        if started.elapsed() >= SYNC_BUDGET {
            // Pub/Sub delivers this push again, and the sync goes on.
            tracing::info!(account_id = %account.id, "Gmail backlog left for the next delivery");
            return Err(Problem::unavailable_for("more mail waiting; the sync goes on at the next delivery", 1));
        }
    }
    remember(&state, account.tenant_id, Provider::Gmail, &notification.push_message_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
