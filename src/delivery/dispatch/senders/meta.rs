//! Replies on WhatsApp through Meta's Cloud API: `POST /{version}/
//! {phone_number_id}/messages` with the account's bearer token. Inside
//! the customer's 24-hour service window the reply goes as text; outside
//! it only the account's configured template may be sent (without one the
//! reply fails and the conversation is flagged for a human).
//!
//! No earlier attempt can be looked for: the Graph API has no way to list
//! or search the messages a business number sent (a message is known only
//! by the `wamid` the send answers with, and by the status webhooks that
//! name it), and the send takes no idempotency key. `find_sent` says so
//! (`Lookup::Unsupported`): a resend after an interrupted attempt may
//! duplicate the reply.

use super::{Accepted, Lookup, SendContext, SendFailure, execute};
use crate::channels::meta::{MetaSender, OutboundPlan, Template, parse_send_response, plan_outbound};
use crate::channels::settings::MetaSettings;
use crate::db::begin_tenant;
use crate::delivery::dispatch::store::PendingReply;
use crate::domain::Identifier;
use sqlx::PgPool;

/// When the customer last wrote on WhatsApp.
async fn last_customer_message(
    pool: &PgPool,
    reply: &PendingReply,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, sqlx::Error> {
    let mut tx = begin_tenant(pool, reply.tenant_id).await?;
    let at = sqlx::query_scalar(
        "SELECT max(created_at) FROM messages
          WHERE customer_id = $1 AND channel = 'whatsapp' AND direction = 'inbound'",
    )
    .bind(reply.customer_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(at)
}

pub async fn send(
    http: &reqwest::Client,
    pool: &PgPool,
    context: &SendContext,
    settings: &MetaSettings,
    reply: &PendingReply,
) -> Result<Accepted, SendFailure> {
    let permanent = |e: &dyn std::fmt::Display| SendFailure::permanent(e.to_string());
    let token = settings.access_token_env.read().map_err(|e| permanent(&e))?;
    let sender = MetaSender::new(&context.account.address, token.expose())
        .and_then(|s| s.with_base_url(&settings.base_url))
        .and_then(|s| s.with_api_version(&settings.api_version))
        .map_err(|e| permanent(&e))?;
    let to = match &context.recipient {
        Some(Identifier::Whatsapp(p) | Identifier::Phone(p)) => p.clone(),
        other => {
            return Err(SendFailure::permanent(format!(
                "no WhatsApp number to reply to (recipient: {})",
                other.as_ref().map_or("none", |i| i.kind().as_str())
            )));
        }
    };
    let last = last_customer_message(pool, reply)
        .await
        .map_err(|e| SendFailure::temporary(format!("cannot read the service window: {e}"), None))?;
    let template = match &settings.template {
        Some(t) => Some(Template::new(&t.name, &t.language, Vec::new()).map_err(|e| permanent(&e))?),
        None => None,
    };
    let plan = plan_outbound(&reply.body, last, chrono::Utc::now(), template.as_ref()).map_err(|e| permanent(&e))?;
    let request = sender.plan_request(&to, &plan).map_err(|e| permanent(&e))?;
    let answer = execute(http, &request).await?;
    let retry_after = answer.retry_after_header();
    match parse_send_response(answer.status, retry_after.as_deref(), &answer.body) {
        Ok(sent) => Ok(Accepted {
            status: sent.delivery_status(),
            metadata: serde_json::json!({
                "provider": "meta",
                "sent_as": match plan { OutboundPlan::FreeForm { .. } => "text", OutboundPlan::Template(_) => "template" },
            }),
            external_id: sent.message_id,
        }),
        Err(e) => Err(SendFailure {
            retryable: e.retryable(),
            retry_after: e.retry_after().or(answer.retry_after),
            reason: if e.outside_service_window() {
                format!("outside WhatsApp's 24-hour window: {e}")
            } else {
                e.to_string()
            },
            unanswered: false,
        }),
    }
}

/// Whether an earlier attempt reached Meta: there is no asking (see the
/// module header).
pub fn find_sent() -> Lookup {
    Lookup::Unsupported
}
