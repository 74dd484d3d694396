//! The web support form (DESIGN.md §7): the hosted page at `/support`, the
//! embeddable widget at `/support/widget.js` (one `<script>` tag renders
//! the form), the status page at `/support/tickets/{id}`, and their JSON
//! API: `POST /support/api/tickets` (validated field by field; a filled
//! honeypot gets a receipt and is dropped; counted against the tenant's
//! inbound rate limit) and `GET /support/api/tickets/{id}?token=…` (the
//! status link's token is checked before anything is looked up). The form
//! belongs to the tenant owning its widget key.

use super::AppState;
use super::problem::{FieldError, Problem};
use super::webhooks::take_in;
use crate::channels::settings::{AccountSettings, WebformSettings};
use crate::channels::webform::{
    self, Author, StatusMessage, StatusTokenKey, Submission, SubmissionReceipt, TicketRequest, TicketStatus,
    TicketStatusView,
};
use crate::crm::ChannelAccount;
use crate::db::{SystemJob, begin_system_job, begin_tenant};
use crate::domain::Provider;
use crate::domain::TenantId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

fn token_key(state: &AppState) -> Result<StatusTokenKey, Problem> {
    StatusTokenKey::new(state.channels.webform_secret.expose().as_bytes()).map_err(|e| {
        tracing::error!(error = %e, "FTE_WEBFORM_SECRET is unusable");
        Problem::unavailable("the support form is misconfigured")
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    key: Option<String>,
}

/// The hosted form: `?key=` picks the widget key; without it, the one web
/// form configured here (if there is exactly one).
pub async fn page(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Result<Response, Problem> {
    let key = match q.key {
        Some(k) => k,
        None => {
            let forms = state
                .accounts
                .provider(Provider::Webform)
                .await
                .map_err(|_| Problem::unavailable("cannot look the support form up; retry"))?;
            match forms.as_slice() {
                [one] => one.address.clone(),
                [] => return Err(Problem::not_found("no support form is configured here")),
                _ => return Err(Problem::not_found("several support forms are configured: add ?key=<widget key>")),
            }
        }
    };
    Ok(Html(webform::render_support_page(&key)).into_response())
}

pub async fn widget() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        webform::WIDGET_JS,
    )
        .into_response()
}

pub async fn status_page() -> Response {
    Html(webform::STATUS_HTML).into_response()
}

fn problem_from(e: webform::RequestError) -> Problem {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let errors: Vec<FieldError> =
        e.field_errors().iter().map(|f| FieldError { field: f.field.clone(), message: f.message.clone() }).collect();
    if errors.is_empty() { Problem::new(status, "bad-request", e.to_string()) } else { Problem::invalid_fields(errors) }
}

fn webform_settings(account: &ChannelAccount) -> WebformSettings {
    match AccountSettings::parse(Provider::Webform, &account.config) {
        Ok(AccountSettings::Webform(s)) => s,
        _ => WebformSettings { reply_by_email: true, allowed_origins: Vec::new() },
    }
}

/// `Access-Control-Allow-Origin` for an origin one of the forms allows.
async fn cors(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let forms = state.accounts.provider(Provider::Webform).await.ok()?;
    forms
        .iter()
        .any(|f| webform_settings(f).allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin))
        .then(|| HeaderValue::from_str(origin).ok())
        .flatten()
}

fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
        h.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}

/// CORS preflight of the API (embedded widgets on allowed origins).
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = cors(&state, &headers).await;
    let status = if origin.is_some() { StatusCode::NO_CONTENT } else { StatusCode::FORBIDDEN };
    with_cors(status.into_response(), origin)
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, raw: Result<Bytes, BytesRejection>) -> Response {
    let origin = cors(&state, &headers).await;
    let result = async {
        let raw = super::webhooks::body(raw)?;
        let key = token_key(&state)?;
        let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !media.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send the ticket as application/json",
            ));
        }
        let request = match TicketRequest::parse(&raw).map_err(problem_from)? {
            Submission::Spam { .. } => {
                tracing::info!("web form honeypot filled; submission dropped");
                return Ok((StatusCode::CREATED, Json(SubmissionReceipt::new(&key, Uuid::now_v7()))).into_response());
            }
            Submission::Ticket(request) => request,
        };
        let account = match state.accounts.resolve(Provider::Webform, &request.widget_key).await {
            Ok(Some(account)) => account,
            Ok(None) => {
                return Err(Problem::invalid_fields(vec![FieldError {
                    field: "widget_key".into(),
                    message: "this form is not configured here".into(),
                }]));
            }
            Err(_) => return Err(Problem::unavailable("cannot look the support form up; retry")),
        };
        let id = Uuid::now_v7();
        record_submission(&state, &account, id, request.email.as_str())
            .await
            .map_err(|_| Problem::unavailable("cannot store the ticket; retry"))?;
        let message = request.into_inbound_message(account.tenant_id, id, Utc::now());
        if let Err(refused) = take_in(&state, &account, message).await {
            // No receipt, so nothing of it stays: the customer sends again.
            forget_submission(&state, &account, id).await;
            return Err(refused);
        }
        Ok((StatusCode::CREATED, Json(SubmissionReceipt::new(&key, id))).into_response())
    }
    .await;
    with_cors(result.unwrap_or_else(IntoResponse::into_response), origin)
}

async fn record_submission(
    state: &AppState,
    account: &ChannelAccount,
    id: Uuid,
    email: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_tenant(&state.pool, account.tenant_id).await?;
    sqlx::query("INSERT INTO webform_submissions (id, tenant_id, account_id, email) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(account.tenant_id.as_uuid())
        .bind(account.id)
        .bind(email)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Removes the routing row of a ticket that was not taken in. A row left
/// behind (the database away) is unreachable: no status link names it.
async fn forget_submission(state: &AppState, account: &ChannelAccount, id: Uuid) {
    let run = async {
        let mut tx = begin_tenant(&state.pool, account.tenant_id).await?;
        sqlx::query("DELETE FROM webform_submissions WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await
    };
    if let Err(e) = run.await {
        tracing::warn!(tenant_id = %account.tenant_id, submission = %id, error = %e, "cannot remove a refused ticket's routing row");
    }
}

#[derive(Deserialize)]
pub struct StatusQuery {
    token: Option<String>,
}

type Row = (String, String, DateTime<Utc>, Uuid, String);

pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    let origin = cors(&state, &headers).await;
    let result = async {
        let id = Uuid::parse_str(&id).map_err(|_| Problem::not_found("no such ticket"))?;
        let key = token_key(&state)?;
        webform::verify(&key, id, q.token.as_deref().unwrap_or_default())
            .map_err(|_| Problem::forbidden("the status link is not valid"))?;
        let tenant = submission_tenant(&state, id)
            .await
            .map_err(|_| Problem::unavailable("cannot look the ticket up; retry"))?
            .ok_or_else(|| Problem::not_found("no such ticket"))?;
        let view = status_view(&state, tenant, id)
            .await
            .map_err(|e| {
                tracing::error!(ticket = %id, error = %e, "cannot read a web-form ticket");
                Problem::unavailable("cannot read the ticket; retry")
            })?
            .ok_or_else(|| Problem::not_found("the ticket is being created; try again shortly"))?;
        Ok::<_, Problem>(([(header::CACHE_CONTROL, "no-store")], Json(view)).into_response())
    }
    .await;
    with_cors(result.unwrap_or_else(IntoResponse::into_response), origin)
}

async fn submission_tenant(state: &AppState, id: Uuid) -> Result<Option<TenantId>, sqlx::Error> {
    let mut tx = begin_system_job(&state.pool, SystemJob::ChannelRouting).await?;
    let tenant: Option<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM webform_submissions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(tenant.map(TenantId::from_uuid))
}

/// The submission's ticket as its customer sees it: their messages and
/// the replies sent to them in its conversation, holding replies and other
/// `system` ones included (not drafts, which are not messages until
/// approved; not failed or unsent replies). Replies shown are marked `read`.
async fn status_view(state: &AppState, tenant: TenantId, id: Uuid) -> Result<Option<TicketStatusView>, sqlx::Error> {
    let mut tx = begin_tenant(&state.pool, tenant).await?;
    let first: Option<(Uuid, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "SELECT conversation_id, created_at, metadata->>'subject' FROM messages
          WHERE channel = 'webform' AND direction = 'inbound' AND external_id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((conversation, created_at, subject)) = first else {
        tx.commit().await?;
        return Ok(None);
    };
    let ticket: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, subject FROM tickets WHERE conversation_id = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(conversation)
    .fetch_optional(&mut *tx)
    .await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT author, body, created_at, id, delivery_status FROM messages
          WHERE conversation_id = $1 AND created_at >= $2
            AND (direction = 'inbound' OR delivery_status NOT IN ('pending', 'failed'))
          ORDER BY created_at, id",
    )
    .bind(conversation)
    .bind(created_at)
    .fetch_all(&mut *tx)
    .await?;
    let mut messages = Vec::new();
    let mut shown = Vec::new();
    for (author, body, at, message_id, _) in rows {
        let Ok(author) = Author::from_db(&author) else { continue };
        if author != Author::Customer {
            shown.push(message_id);
        }
        messages.push(StatusMessage { author, body, created_at: at });
    }
    sqlx::query(
        "UPDATE messages SET delivery_status = 'read', updated_at = now()
          WHERE id = ANY($1) AND delivery_status IN ('queued', 'sent', 'delivered')",
    )
    .bind(&shown)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let (status, ticket_subject) = ticket.unwrap_or(("open".into(), None));
    Ok(Some(TicketStatusView {
        ticket_id: id,
        reference: webform::reference_for(id),
        status: status.parse::<TicketStatus>().unwrap_or(TicketStatus::Open),
        subject: ticket_subject.or(subject),
        created_at,
        messages,
    }))
}
