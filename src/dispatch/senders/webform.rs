//! Replies to web-form tickets. Every reply shows on the ticket's status
//! page (it is in the conversation); it also goes by email through the
//! tenant's Gmail account when the form's settings ask for it
//! (`reply_by_email`, the default). Without a Gmail account the reply is
//! `sent` to the status page only, and says so in its metadata; the status
//! page marks it `read` once the customer has seen it.

use super::{Accepted, SendContext, SendFailure};
use crate::channels::DeliveryStatus;
use crate::channels::settings::{AccountSettings, WebformSettings};
use crate::crm::tenant_accounts;
use crate::dispatch::store::PendingReply;
use crate::domain::Channel;
use crate::gmail::GmailClient;
use sqlx::PgPool;

pub async fn send(
    gmail: &GmailClient,
    pool: &PgPool,
    context: &SendContext,
    settings: &WebformSettings,
    reply: &PendingReply,
) -> Result<Accepted, SendFailure> {
    let on_page = || Accepted {
        external_id: format!("webform:{}", reply.message_id),
        status: DeliveryStatus::Sent,
        metadata: serde_json::json!({ "provider": "webform", "delivered_on": "status_page" }),
    };
    if !settings.reply_by_email {
        return Ok(on_page());
    }
    let mailbox = tenant_accounts(pool, reply.tenant_id, Channel::Email)
        .await
        .map_err(|e| SendFailure::temporary(format!("cannot read channel accounts: {e}"), None))?
        .into_iter()
        .next();
    let Some(mailbox) = mailbox else {
        tracing::info!(tenant_id = %reply.tenant_id, "no Gmail account: web-form reply on the status page only");
        return Ok(on_page());
    };
    let AccountSettings::Gmail(gmail_settings) = AccountSettings::parse(mailbox.provider, &mailbox.config)
        .map_err(|e| SendFailure::permanent(format!("account {}: {e}", mailbox.id)))?
    else {
        return Err(SendFailure::permanent("the tenant's email account is not a Gmail account"));
    };
    let to = super::gmail::recipient(context)?;
    let mut accepted = super::gmail::send_email(gmail, &mailbox, &gmail_settings, reply, to).await?;
    if let Some(m) = accepted.metadata.as_object_mut() {
        m.insert("provider".into(), "webform".into());
        m.insert("emailed_via".into(), mailbox.id.to_string().into());
    }
    Ok(accepted)
}
