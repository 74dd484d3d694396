//! The bench's customers writing through the HTTP ingress, the way the
//! providers write: each message as the provider's webhook, signed the way
//! the provider signs it with the secret of the tenant's account, posted to
//! the `api` process — Twilio's WhatsApp webhook (HMAC-SHA1 of the URL and
//! the sorted form fields, `X-Twilio-Signature`), Slack's Events API
//! `message.im` (`v0` HMAC-SHA256 of `v0:{timestamp}:{body}`,
//! `X-Slack-Signature` and `X-Slack-Request-Timestamp`), Meta's WhatsApp
//! Cloud API `messages` batch (`X-Hub-Signature-256`, HMAC-SHA256 of the
//! body under the app secret) — and the web support form's JSON ticket
//! (`POST /support/api/tickets`, unsigned, as browsers send it). Also the
//! message id the identity router's ticket then carries for a Twilio
//! message (`MessageSid`), for the hop breakdown.
//!
//! Gmail is not here: its push only names a mailbox change, which the
//! `api` process then syncs from Google's API, and the bench does not fake
//! Google (the chaos harness does). Owns `Webhook`, `NewMessage` and
//! `WebhookError`.

use super::deployment::{Ingress, MetaIngress, SlackIngress, TwilioIngress};
use crate::channels::meta::{AppSecret, SIGNATURE_HEADER as META_SIGNATURE};
use crate::channels::slack::signature::{SIGNATURE_HEADER as SLACK_SIGNATURE, TIMESTAMP_HEADER};
use crate::channels::slack::{SignatureVerifier, SigningSecret};
use crate::domain::InboundMessage;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot sign the {provider} webhook: {reason}")]
    Sign { provider: &'static str, reason: String },
    #[error("cannot post the webhook: {0}")]
    Send(#[from] reqwest::Error),
    #[error("the webhook answered {0}")]
    Status(StatusCode),
}

fn sign_error(provider: &'static str, reason: impl std::fmt::Display) -> WebhookError {
    WebhookError::Sign { provider, reason: reason.to_string() }
}

/// The webhooks whose acknowledgement the bench times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Webhook {
    Twilio,
    Slack,
    Meta,
    Webform,
}

impl Webhook {
    pub const ALL: [Webhook; 4] = [Self::Twilio, Self::Slack, Self::Meta, Self::Webform];

    /// How the report names the channel.
    pub fn label(self) -> &'static str {
        match self {
            Self::Twilio => "Twilio WhatsApp",
            Self::Slack => "Slack",
            Self::Meta => "Meta WhatsApp",
            Self::Webform => "web form",
        }
    }
}

/// A new customer's first message: `customer` numbers the customers of one
/// webhook in the run `run` (so each is a person of their own).
#[derive(Clone, Copy, Debug)]
pub struct NewMessage<'a> {
    pub run: &'a str,
    pub customer: usize,
    pub text: &'a str,
}

/// Twilio's message id for one of the bench's messages (`SM` and 32 hex
/// digits, derived from the message's own id).
fn twilio_sid(external_id: &str) -> String {
    format!("SM{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, external_id.as_bytes()).simple())
}

/// The id the identity router's ticket carries for `message`.
pub fn routing_id(plan: &super::load::Plan, message: &InboundMessage) -> String {
    if plan.via_http { twilio_sid(&message.external_id) } else { message.external_id.clone() }
}

/// What this plan's tickets' ids start with.
pub fn ticket_prefix(plan: &super::load::Plan, run: &str) -> String {
    if plan.via_http { "SM".into() } else { format!("bench-{}-{run}-", plan.name) }
}

/// Sends `request`; an error unless it is answered 2xx. The answer is read
/// whole, so that its connection goes back to the pool.
pub async fn acknowledged(request: RequestBuilder) -> Result<(), WebhookError> {
    let response = request.send().await?;
    let status = response.status();
    response.bytes().await?;
    if status.is_success() { Ok(()) } else { Err(WebhookError::Status(status)) }
}

/// Posts `message` as Twilio's WhatsApp webhook.
pub async fn post_twilio(
    client: &Client,
    twilio: &TwilioIngress,
    message: &InboundMessage,
) -> Result<(), WebhookError> {
    let sid = twilio_sid(&message.external_id);
    acknowledged(twilio_request(client, twilio, message.sender.value(), &sid, &message.body)?).await
}

/// The signed request carrying `message` as `hook`'s webhook.
pub fn request(
    client: &Client,
    ingress: &Ingress,
    hook: Webhook,
    message: &NewMessage,
) -> Result<RequestBuilder, WebhookError> {
    match hook {
        Webhook::Twilio => {
            let phone = format!("+44770{:09}", message.customer);
            let sid = twilio_sid(&format!("bench-webhook_ack-{}-c{}", message.run, message.customer));
            twilio_request(client, &ingress.twilio, &phone, &sid, message.text)
        }
        Webhook::Slack => slack_request(client, ingress, message),
        Webhook::Meta => meta_request(client, ingress, message),
        Webhook::Webform => {
            Ok(json_post(client, format!("{}/support/api/tickets", ingress.base), ticket(ingress, message)))
        }
    }
}

/// Twilio's WhatsApp webhook from `phone`, signed the way Twilio signs it
/// (HMAC-SHA1 of the URL and the sorted form fields).
fn twilio_request(
    client: &Client,
    twilio: &TwilioIngress,
    phone: &str,
    sid: &str,
    body: &str,
) -> Result<RequestBuilder, WebhookError> {
    let form: Vec<(String, String)> = vec![
        ("MessageSid".into(), sid.into()),
        ("SmsMessageSid".into(), sid.into()),
        ("AccountSid".into(), twilio.account_sid.clone()),
        ("From".into(), format!("whatsapp:{phone}")),
        ("To".into(), format!("whatsapp:{}", twilio.business)),
        ("Body".into(), body.into()),
        ("WaId".into(), phone.trim_start_matches('+').to_string()),
        ("NumMedia".into(), "0".into()),
    ];
    let signature = crate::channels::twilio::signature::RequestValidator::new(&twilio.auth_token)
        .map_err(|e| sign_error("Twilio", e))?
        .compute_signature(&twilio.url, &form);
    Ok(client
        .post(&twilio.url)
        .header("X-Twilio-Signature", signature)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(crate::channels::twilio::form::encode(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))))
}

/// Slack's Events API delivery of `message`, signed now with the app's
/// signing secret.
fn slack_request(client: &Client, ingress: &Ingress, message: &NewMessage) -> Result<RequestBuilder, WebhookError> {
    let now = chrono::Utc::now().timestamp();
    let body = slack_event(&ingress.slack, message, now);
    let secret = SigningSecret::new(ingress.slack.signing_secret.clone()).map_err(|e| sign_error("Slack", e))?;
    let timestamp = now.to_string();
    let signature = SignatureVerifier::new(&secret).generate_signature(&timestamp, body.as_bytes());
    Ok(json_post(client, format!("{}/webhooks/slack/events", ingress.base), body)
        .header(TIMESTAMP_HEADER, timestamp)
        .header(SLACK_SIGNATURE, signature))
}

/// A direct message to the app (`message.im`) from a user of its own, in a
/// DM channel of its own.
fn slack_event(slack: &SlackIngress, message: &NewMessage, now: i64) -> String {
    let id = format!("{}C{}", message.run.to_ascii_uppercase(), message.customer);
    let ts = format!("{now}.{:06}", message.customer % 1_000_000);
    json!({
        "token": "bench", "team_id": slack.team_id, "api_app_id": slack.api_app_id, "type": "event_callback",
        "event_id": format!("Ev{id}"), "event_time": now,
        "event": {
            "type": "message", "channel_type": "im", "channel": format!("D{id}"), "user": format!("U{id}"),
            "text": message.text, "ts": ts, "event_ts": ts, "client_msg_id": uuid::Uuid::new_v4().to_string(),
        },
        "authorizations": [{"team_id": slack.team_id, "user_id": slack.bot_user_id, "is_bot": true}],
    })
    .to_string()
}

/// Meta's `messages` webhook carrying `message`, signed with the app
/// secret.
fn meta_request(client: &Client, ingress: &Ingress, message: &NewMessage) -> Result<RequestBuilder, WebhookError> {
    let body = meta_batch(&ingress.meta, message, chrono::Utc::now().timestamp());
    let signature = AppSecret::new(&ingress.meta.app_secret).map_err(|e| sign_error("Meta", e))?.sign(body.as_bytes());
    Ok(json_post(client, format!("{}/webhooks/meta/whatsapp", ingress.base), body).header(META_SIGNATURE, signature))
}

/// A batch of one text message from a WhatsApp user of its own.
fn meta_batch(meta: &MetaIngress, message: &NewMessage, now: i64) -> String {
    let from = format!("44771{:09}", message.customer);
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": meta.display_phone_number, "phone_number_id": meta.phone_number_id},
                    "contacts": [{"profile": {"name": format!("Bench customer {}", message.customer)}, "wa_id": from}],
                    "messages": [{
                        "from": from, "id": format!("wamid.bench{}c{}", message.run, message.customer),
                        "timestamp": now.to_string(), "type": "text", "text": {"body": message.text},
                    }],
                },
            }],
        }],
    })
    .to_string()
}

/// The support form's ticket from a customer of its own (the honeypot
/// `website` left empty, as people leave it).
fn ticket(ingress: &Ingress, message: &NewMessage) -> String {
    json!({
        "name": format!("Bench customer {}", message.customer),
        "email": format!("form-{}-c{}@bench.example", message.run, message.customer),
        "phone": "", "subject": "Question", "category": "general", "message": message.text, "website": "",
        "widget_key": ingress.widget_key,
    })
    .to_string()
}

fn json_post(client: &Client, url: String, body: String) -> RequestBuilder {
    client.post(url).header("Content-Type", "application/json").body(body)
}
