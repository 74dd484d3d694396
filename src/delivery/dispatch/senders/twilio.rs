//! Replies on WhatsApp through Twilio: `POST /2010-04-01/Accounts/{sid}/
//! Messages.json` from the account's business number, with a status
//! callback so delivery updates come back to `/webhooks/twilio/status`.
//! An earlier attempt is looked for in the Messages list from the business
//! number to the customer (`channels::twilio::lookup`): the same text,
//! created since the attempt began.

use super::{Accepted, CLOCK_SKEW, Lookup, MAX_LOOKUP_PAGES, SendContext, SendFailure, execute};
use crate::channels::settings::TwilioSettings;
use crate::channels::twilio::{
    LookupError, MessageQuery, SendRequest, SendResponse, TwilioCredentials, list_request, next_page_request,
    parse_list_response, parse_send_response, scan_page,
};
use crate::delivery::dispatch::store::PendingReply;
use crate::domain::{Identifier, PhoneNumber};

/// The account's credentials, its business number and the customer's.
fn route(
    context: &SendContext,
    settings: &TwilioSettings,
) -> Result<(TwilioCredentials, PhoneNumber, PhoneNumber), SendFailure> {
    let token = settings.auth_token_env.read().map_err(|e| SendFailure::permanent(e.to_string()))?;
    let credentials = TwilioCredentials::new(&settings.account_sid, token.expose())
        .map_err(|e| SendFailure::permanent(e.to_string()))?;
    let from = PhoneNumber::parse(&context.account.address)
        .map_err(|e| SendFailure::permanent(format!("account number: {e}")))?;
    let to = match &context.recipient {
        Some(Identifier::Whatsapp(p) | Identifier::Phone(p)) => p.clone(),
        other => {
            return Err(SendFailure::permanent(format!(
                "no WhatsApp number to reply to (recipient: {})",
                other.as_ref().map_or("none", |i| i.kind().as_str())
            )));
        }
    };
    Ok((credentials, from, to))
}

pub async fn send(
    http: &reqwest::Client,
    context: &SendContext,
    settings: &TwilioSettings,
    reply: &PendingReply,
    public_url: Option<&str>,
) -> Result<Accepted, SendFailure> {
    let (credentials, from, to) = route(context, settings)?;
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
            unanswered: false,
        }),
    }
}

fn lookup_failure(e: LookupError, retry_after: Option<std::time::Duration>) -> SendFailure {
    SendFailure { retryable: e.retryable(), retry_after, reason: e.to_string(), unanswered: false }
}

/// Looks for `reply` among the messages sent to the customer since
/// `since` (less `CLOCK_SKEW`), newest page first, until a page reaches
/// back before that. Of identical texts not in `taken`, the oldest is
/// taken: the one nearest the attempt.
pub async fn find_sent(
    http: &reqwest::Client,
    context: &SendContext,
    settings: &TwilioSettings,
    reply: &PendingReply,
    since: chrono::DateTime<chrono::Utc>,
    taken: &[String],
) -> Result<Lookup, SendFailure> {
    let (credentials, from, to) = route(context, settings)?;
    let query = MessageQuery { to: &to, body: &reply.body, not_before: since - CLOCK_SKEW };
    let mut request =
        list_request(&settings.base_url, &credentials, &from, &to).map_err(|e| lookup_failure(e, None))?;
    let mut found: Option<SendResponse> = None;
    for _ in 0..MAX_LOOKUP_PAGES {
        let answer = execute(http, &request).await?;
        let page =
            parse_list_response(answer.status, &answer.body).map_err(|e| lookup_failure(e, answer.retry_after))?;
        let scan = scan_page(page, &query, taken);
        // Later pages are older: their match is nearer the attempt.
        found = scan.oldest_match.or(found);
        match scan.next_page_uri {
            Some(next) => {
                request =
                    next_page_request(&settings.base_url, &credentials, &next).map_err(|e| lookup_failure(e, None))?;
            }
            None => return Ok(found.map_or(Lookup::NotFound, |m| Lookup::Found(accepted(m)))),
        }
    }
    // The window holds more than the pages read. A matching message found
    // in it is not sent again; with none, nothing can be said.
    match found {
        Some(m) => Ok(Lookup::Found(accepted(m))),
        None => Err(SendFailure::permanent(format!(
            "more than {MAX_LOOKUP_PAGES} pages of messages to the customer since {since}: cannot tell whether the reply was sent"
        ))),
    }
}

fn accepted(message: SendResponse) -> Accepted {
    Accepted {
        status: message.delivery_status(),
        metadata: serde_json::json!({ "provider": "twilio" }),
        external_id: message.sid,
    }
}
