//! Twilio WhatsApp webhooks: `POST /webhooks/twilio/whatsapp` (incoming
//! messages, tenant from the business number in `To`) and
//! `POST /webhooks/twilio/status` (delivery statuses of our replies,
//! tenant from the business number in `From`). Both are signed with the
//! account's Auth Token (`X-Twilio-Signature`) over the URL Twilio was
//! given. Twilio gets an empty TwiML `<Response/>` (no auto-reply: the
//! answer goes out through the dispatcher).

use super::{account, body, header, public_url, take_in};
use crate::channels::settings::{AccountSettings, TwilioSettings};
use crate::channels::twilio::{Form, RequestValidator, StatusCallback, WhatsappInbound};
use crate::crm::ChannelAccount;
use crate::delivery::dispatch::store::apply_delivery_status;
use crate::domain::Provider;
use crate::http::AppState;
use crate::http::problem::Problem;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri, header as h};
use axum::response::{IntoResponse, Response};

const SIGNATURE: &str = "x-twilio-signature";

fn twiml_ok() -> Response {
    ([(h::CONTENT_TYPE, "text/xml")], "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>").into_response()
}

/// The form's `field` as a business number, to find the account by.
fn business_number(form: &Form, field: &str) -> Result<String, Problem> {
    let raw = form.get_nonblank(field).ok_or_else(|| Problem::bad_request(format!("the webhook has no {field}")))?;
    crate::channels::settings::normalize_address(Provider::Twilio, raw).map_err(|e| Problem::bad_request(e.to_string()))
}

fn validator(account: &ChannelAccount) -> Result<RequestValidator, Problem> {
    let misconfigured = |detail: String| {
        tracing::error!(account_id = %account.id, error = %detail, "Twilio account misconfigured");
        Problem::unavailable("the channel account is misconfigured")
    };
    let AccountSettings::Twilio(TwilioSettings { auth_token_env, .. }) =
        AccountSettings::parse(Provider::Twilio, &account.config).map_err(|e| misconfigured(e.to_string()))?
    else {
        return Err(misconfigured("not a Twilio account".into()));
    };
    let token = auth_token_env.read().map_err(|e| misconfigured(e.to_string()))?;
    RequestValidator::new(token.expose()).map_err(|e| misconfigured(e.to_string()))
}

/// Decodes the form, finds the account by `field`, checks the signature.
async fn verified(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    raw: &[u8],
    field: &str,
) -> Result<(ChannelAccount, Form), Problem> {
    let form = Form::decode(raw).map_err(|e| Problem::bad_request(e.to_string()))?;
    let account = account(state, Provider::Twilio, &business_number(&form, field)?).await?;
    let signature = header(headers, SIGNATURE).ok_or_else(|| Problem::unauthorized("X-Twilio-Signature is missing"))?;
    let url = public_url(state, headers, uri);
    validator(&account)?.validate_form(&url, form.pairs(), signature).map_err(|e| {
        tracing::warn!(account_id = %account.id, error = %e, "Twilio webhook with a bad signature rejected");
        Problem::unauthorized(format!("X-Twilio-Signature: {e}"))
    })?;
    Ok((account, form))
}

pub async fn message(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let raw = body(raw)?;
    let (account, form) = verified(&state, &headers, &uri, &raw, "To").await?;
    let inbound = WhatsappInbound::from_form(&form).map_err(|e| Problem::bad_request(e.to_string()))?;
    let message = inbound.into_inbound_message(account.tenant_id, chrono::Utc::now());
    take_in(&state, &account, message).await?;
    Ok(twiml_ok())
}

pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let raw = body(raw)?;
    let (account, form) = verified(&state, &headers, &uri, &raw, "From").await?;
    let callback = StatusCallback::from_form(&form).map_err(|e| Problem::bad_request(e.to_string()))?;
    if let Some(status) = callback.delivery_status() {
        let error = callback.error_code.map(|c| format!("Twilio error {c}"));
        apply_delivery_status(&state.pool, &account, &callback.message_sid, status, error.as_deref()).await.map_err(
            |e| {
                tracing::error!(account_id = %account.id, error = %e, "cannot store a delivery status");
                Problem::unavailable_for("cannot store the status; retry", 1)
            },
        )?;
    }
    Ok(twiml_ok())
}
