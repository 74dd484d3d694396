//! Replies to web-form tickets. Every reply shows on the ticket's status
//! page (it is in the conversation); it also goes by email through the
//! tenant's Gmail account when the form's settings ask for it
//! (`reply_by_email`, the default). Without a Gmail account the reply is
//! `sent` to the status page only, and says so in its metadata; the status
//! page marks it `read` once the customer has seen it. An earlier emailed
//! attempt is looked for in that Gmail mailbox, as a Gmail reply's is (by
//! `Message-ID`, else by `X-FTE-Reply-Id` among the sent mail to the
//! customer); a reply shown on the page only is shown there however often
//! it is delivered, so it counts as found.

use super::{Accepted, Lookup, SendContext, SendFailure};
use crate::channels::DeliveryStatus;
use crate::channels::gmail::GmailClient;
use crate::channels::settings::{AccountSettings, GmailSettings, WebformSettings};
use crate::crm::{ChannelAccount, tenant_accounts};
use crate::delivery::dispatch::store::PendingReply;
use crate::domain::Channel;
use sqlx::PgPool;

/// The Gmail mailbox the reply is also emailed from; `None`: the status
/// page only.
async fn mailbox(
    pool: &PgPool,
    settings: &WebformSettings,
    reply: &PendingReply,
) -> Result<Option<(ChannelAccount, GmailSettings)>, SendFailure> {
    if !settings.reply_by_email {
        return Ok(None);
    }
    let mailbox = tenant_accounts(pool, reply.tenant_id, Channel::Email)
        .await
        .map_err(|e| SendFailure::temporary(format!("cannot read channel accounts: {e}"), None))?
        .into_iter()
        .next();
    let Some(mailbox) = mailbox else {
        tracing::info!(tenant_id = %reply.tenant_id, "no Gmail account: web-form reply on the status page only");
        return Ok(None);
    };
    let AccountSettings::Gmail(gmail_settings) = AccountSettings::parse(mailbox.provider, &mailbox.config)
        .map_err(|e| SendFailure::permanent(format!("account {}: {e}", mailbox.id)))?
    else {
        return Err(SendFailure::permanent("the tenant's email account is not a Gmail account"));
    };
    Ok(Some((mailbox, gmail_settings)))
}

fn on_page(reply: &PendingReply) -> Accepted {
    Accepted {
        external_id: format!("webform:{}", reply.message_id),
        status: DeliveryStatus::Sent,
        metadata: serde_json::json!({ "provider": "webform", "delivered_on": "status_page" }),
    }
}

/// An email's acceptance, as a web-form reply's.
fn emailed(mut accepted: Accepted, mailbox: &ChannelAccount) -> Accepted {
    if let Some(m) = accepted.metadata.as_object_mut() {
        m.insert("provider".into(), "webform".into());
        m.insert("emailed_via".into(), mailbox.id.to_string().into());
    }
    accepted
}

pub async fn send(
    gmail: &GmailClient,
    pool: &PgPool,
    context: &SendContext,
    settings: &WebformSettings,
    reply: &PendingReply,
) -> Result<Accepted, SendFailure> {
    match mailbox(pool, settings, reply).await? {
        None => Ok(on_page(reply)),
        Some((mailbox, gmail_settings)) => {
            let to = super::gmail::recipient(context)?;
            let accepted = super::gmail::send_email(gmail, &mailbox, &gmail_settings, reply, to).await?;
            Ok(emailed(accepted, &mailbox))
        }
    }
}

/// Looks for the email an earlier attempt (begun at `since`) sent, in the
/// mailbox `send` would use and as `super::gmail::find_email` does; a
/// page-only reply is `Found` as it is.
pub async fn find_sent(
    gmail: &GmailClient,
    pool: &PgPool,
    context: &SendContext,
    settings: &WebformSettings,
    reply: &PendingReply,
    since: chrono::DateTime<chrono::Utc>,
    taken: &[String],
) -> Result<Lookup, SendFailure> {
    match mailbox(pool, settings, reply).await? {
        None => Ok(Lookup::Found(on_page(reply))),
        Some((mailbox, gmail_settings)) => {
            let to = super::gmail::recipient(context)?;
            let found = super::gmail::find_email(gmail, &mailbox, &gmail_settings, reply, to, since, taken).await?;
            Ok(match found {
                Lookup::Found(accepted) => Lookup::Found(emailed(accepted, &mailbox)),
                other => other,
            })
        }
    }
}
