//! Replies on WhatsApp through Twilio: `POST /2010-04-01/Accounts/{sid}/
//! Messages.json` from the account's business number, with a status
//! callback so delivery updates come back to `/webhooks/twilio/status`.

use super::{Accepted, SendContext, SendFailure, execute};
use crate::channels::settings::TwilioSettings;
use crate::channels::twilio::{SendRequest, TwilioCredentials, parse_send_response};
use crate::dispatch::store::PendingReply;
use crate::domain::{Identifier, PhoneNumber};

pub async fn send(
    http: &reqwest::Client,
    context: &SendContext,
    settings: &TwilioSettings,
    reply: &PendingReply,
    public_url: Option<&str>,
) -> Result<Accepted, SendFailure> {
    let token = settings.auth_token_env.read().map_err(|e| SendFailure::permanent(e.to_string()))?;
    let credentials = TwilioCredentials::new(&settings.account_sid, token.expose())
        .map_err(|e| SendFailure::permanent(e.to_string()))?;
    let from = PhoneNumber::parse(&context.account.address)
        .map_err(|e| SendFailure::permanent(format!("account number: {e}")))?;
    let to = match &context.recipient {
        Some(Identifier::Whatsapp(p) | Identifier::Phone(p)) => p.clone(),
        other => return Err(SendFailure::permanent(format!("no WhatsApp number to reply to (recipient {other:?})"))),
    };
    let callback = settings
        .status_callback_url
        .clone()
        .or_else(|| public_url.map(|base| format!("{}/webhooks/twilio/status", base.trim_end_matches('/'))));
    let request = SendRequest::whatsapp(&settings.base_url, &credentials, &from, &to, &reply.body, callback.as_deref())
        .map_err(|e| SendFailure::permanent(e.to_string()))?;
    let answer = execute(http, &request).await?;
    match parse_send_response(answer.status, &answer.body) {
        Ok(accepted) => Ok(Accepted {
            status: accepted.delivery_status(),
            metadata: serde_json::json!({ "provider": "twilio", "status_callback": callback.is_some() }),
            external_id: accepted.sid,
        }),
        Err(e) => Err(SendFailure {
            retryable: e.retryable(),
            retry_after: answer.retry_after,
            reason: if e.outside_session_window() {
                format!("outside WhatsApp's 24-hour window: {e}")
            } else {
                e.to_string()
            },
        }),
    }
}
