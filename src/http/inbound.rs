//! `POST /api/v1/inbound`: injects a customer message as if a channel had
//! delivered it, and answers once its turn is committed (so a 200 means
//! durable; anything else may be retried with the same `external_id`, which
//! is deduplicated). For tests, load tests and smoke checks of a
//! deployment; mounted only when `INJECT_API_TOKEN` is set, and every call
//! must carry that token as a bearer token.

use super::AppState;
use super::problem::{FieldError, Problem};
use crate::crm::{CrmError, get_tenant};
use crate::domain::{
    Channel, EmailAddress, Identifier, InboundMessage, MAX_BODY_CHARS, PhoneNumber, SlackUserId, TenantId,
};
use crate::runtime::{Accepted, SubmitError};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectRequest {
    pub tenant_id: String,
    pub channel: String,
    pub external_id: String,
    /// The sender's address on the channel: an email address (email,
    /// webform), a phone number (whatsapp) or a Slack user id (slack).
    pub from: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
}

/// Kafka mode: the message is on its inbound topic; a worker takes it
/// from there (202 Accepted).
#[derive(Debug, Serialize)]
pub struct QueuedResponse {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

#[derive(Debug, Serialize)]
pub struct InjectResponse {
    pub message_id: String,
    pub conversation_id: String,
    pub replies: Vec<String>,
    pub duplicate: bool,
    pub state_version: u64,
}

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.inject_token else { return false };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    bool::from(subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), expected.expose().as_bytes()))
}

/// Parses the request into a domain message, collecting every field error.
fn parse(req: InjectRequest) -> Result<InboundMessage, Problem> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: String| errors.push(FieldError { field: field.into(), message });
    let tenant = req.tenant_id.parse::<TenantId>().map_err(|e| bad("tenant_id", e.to_string())).ok();
    let channel = req.channel.parse::<Channel>().map_err(|e| bad("channel", e.to_string())).ok();
    let external_id = req.external_id.trim().to_string();
    if external_id.is_empty() || external_id.len() > 256 {
        bad("external_id", "must be 1-256 characters".into());
    }
    let sender = channel.and_then(|c| {
        let parsed = match c {
            Channel::Email | Channel::Webform => EmailAddress::parse(&req.from).map(Identifier::Email),
            Channel::Whatsapp => PhoneNumber::parse(&req.from).map(Identifier::Whatsapp),
            Channel::Slack => SlackUserId::parse(&req.from).map(Identifier::Slack),
        };
        parsed.map_err(|e| bad("from", e.to_string())).ok()
    });
    if req.body.chars().count() > MAX_BODY_CHARS {
        bad("body", format!("longer than {MAX_BODY_CHARS} characters"));
    }
    match (tenant, channel, sender) {
        (Some(tenant_id), Some(channel), Some(sender)) if errors.is_empty() => Ok(InboundMessage {
            tenant_id,
            channel,
            external_id,
            sender,
            identifiers: vec![],
            display_name: req.display_name,
            subject: req.subject,
            body: req.body,
            received_at: chrono::Utc::now(),
            metadata: serde_json::json!({ "source": "inject_api" }),
        }
        .cleaned()),
        _ => Err(Problem::invalid_fields(errors)),
    }
}

pub async fn inject(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<InjectRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    if !authorized(&state, &headers) {
        return Err(Problem::unauthorized("a valid bearer token is required"));
    }
    let Json(req) = body.map_err(|e| Problem::new(e.status(), "bad-request", e.body_text()))?;
    let message = parse(req)?;
    match get_tenant(&state.pool, message.tenant_id).await {
        Ok(_) => {}
        Err(CrmError::TenantNotFound) => {
            return Err(Problem::not_found(format!("tenant {} not found", message.tenant_id)));
        }
        Err(e) => return Err(Problem::unavailable(e.to_string())),
    }
    let accepted = match (&state.runtime, &state.publisher) {
        (Some(runtime), _) => runtime.accept(message).await,
        (None, Some(kafka)) => kafka
            .publish_inbound(&message)
            .await
            .map(|(topic, partition, offset)| Accepted::Queued { topic, partition, offset })
            .map_err(SubmitError::from),
        (None, None) => return Err(Problem::unavailable("this process takes no messages")),
    }
    .map_err(|e| match e {
        SubmitError::Closed => Problem::unavailable("shutting down; retry"),
        other => Problem::internal(other.to_string()),
    })?;
    let receipt = match accepted {
        Accepted::Committed(receipt) => receipt,
        Accepted::Queued { topic, partition, offset } => {
            return Ok((StatusCode::ACCEPTED, Json(QueuedResponse { topic, partition, offset })).into_response());
        }
    };
    Ok(Json(InjectResponse {
        message_id: receipt.message_id.to_string(),
        conversation_id: receipt.conversation_id.to_string(),
        replies: receipt.replies.iter().map(ToString::to_string).collect(),
        duplicate: receipt.duplicate,
        state_version: receipt.state_version,
    })
    .into_response())
}
