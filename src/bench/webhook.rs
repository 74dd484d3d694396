//! The bench's customers writing through the HTTP ingress: a message as
//! Twilio's WhatsApp webhook, signed the way Twilio signs it, posted to the
//! `api` process; and the message id the identity router's ticket then
//! carries (Twilio's `MessageSid`), for the hop breakdown.

use crate::domain::InboundMessage;

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

/// Posts `message` as Twilio's WhatsApp webhook, signed the way Twilio
/// signs it (HMAC-SHA1 of the URL and the sorted form fields).
pub async fn post_twilio(
    client: &reqwest::Client,
    twilio: &super::deployment::TwilioIngress,
    message: &InboundMessage,
) -> Result<(), String> {
    let phone = message.sender.value().to_string();
    let sid = twilio_sid(&message.external_id);
    let form: Vec<(String, String)> = vec![
        ("MessageSid".into(), sid.clone()),
        ("SmsMessageSid".into(), sid),
        ("AccountSid".into(), twilio.account_sid.clone()),
        ("From".into(), format!("whatsapp:{phone}")),
        ("To".into(), format!("whatsapp:{}", twilio.business)),
        ("Body".into(), message.body.clone()),
        ("WaId".into(), phone.trim_start_matches('+').to_string()),
        ("NumMedia".into(), "0".into()),
    ];
    let signature = crate::channels::twilio::signature::RequestValidator::new(&twilio.auth_token)
        .map_err(|e| e.to_string())?
        .compute_signature(&twilio.url, &form);
    let response = client
        .post(&twilio.url)
        .header("X-Twilio-Signature", signature)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(crate::channels::twilio::form::encode(form.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() { Ok(()) } else { Err(format!("the webhook answered {}", response.status())) }
}
