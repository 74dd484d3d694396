//! Replies by email through Gmail: an RFC 2822 reply (threaded on the
//! customer's message: `In-Reply-To`, `References`, `Re:` subject, the
//! Gmail thread) sent with `users.messages.send` from the account's
//! mailbox. Web-form replies go the same way when the tenant has a Gmail
//! account, as a new email on the form's subject.

use super::{Accepted, SendContext, SendFailure};
use crate::channels::gmail::{BodyEncoding, NamedAddress, ReplyContext, compose_reply};
use crate::channels::settings::GmailSettings;
use crate::crm::ChannelAccount;
use crate::dispatch::store::PendingReply;
use crate::domain::{EmailAddress, Identifier};
use crate::gmail::{GmailClient, GmailIoError};

fn failure(e: GmailIoError) -> SendFailure {
    match e {
        GmailIoError::Temporary(r) => SendFailure::temporary(r, None),
        GmailIoError::Permanent(r) | GmailIoError::Unauthenticated(r) => SendFailure::permanent(r),
    }
}

/// The customer's email address.
pub fn recipient(context: &SendContext) -> Result<EmailAddress, SendFailure> {
    match &context.recipient {
        Some(Identifier::Email(e)) => Ok(e.clone()),
        other => Err(SendFailure::permanent(format!("no email address to reply to (recipient {other:?})"))),
    }
}

/// Where the reply goes and how it threads, from the customer's message.
fn reply_context(reply: &PendingReply, to: EmailAddress) -> ReplyContext {
    let origin = reply.origin.as_ref();
    let meta = origin.map(|o| &o.metadata);
    let text = |k: &str| meta.and_then(|m| m.get(k)).and_then(|v| v.as_str()).map(str::to_string);
    let to = text("reply_to").and_then(|r| EmailAddress::parse(&r).ok()).unwrap_or(to);
    ReplyContext {
        to: NamedAddress { name: None, address: to },
        subject: origin.and_then(|o| o.subject.clone()).or_else(|| reply.subject.clone()),
        message_id: text("message_id_header"),
        references: meta
            .and_then(|m| m.get("references"))
            .and_then(|r| r.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).map(str::to_string).collect())
            .unwrap_or_default(),
        thread_id: text("thread_id"),
    }
}

/// Sends `reply` from `account` to `to`.
pub async fn send_email(
    gmail: &GmailClient,
    account: &ChannelAccount,
    settings: &GmailSettings,
    reply: &PendingReply,
    to: EmailAddress,
) -> Result<Accepted, SendFailure> {
    let from = EmailAddress::parse(&account.address).map_err(|e| SendFailure::permanent(e.to_string()))?;
    let domain = from.as_str().rsplit('@').next().unwrap_or("localhost").to_string();
    let context = reply_context(reply, to);
    let message_id = format!("<{}@{domain}>", reply.message_id.simple());
    let composed = compose_reply(
        &NamedAddress { name: settings.from_name.clone(), address: from },
        &context,
        &reply.body,
        &message_id,
        chrono::Utc::now(),
        BodyEncoding::QuotedPrintable,
    )
    .map_err(|e| SendFailure::permanent(e.to_string()))?;
    let sent = gmail.send(account, settings, &composed.raw, composed.thread_id.as_deref()).await.map_err(failure)?;
    Ok(Accepted {
        status: sent.delivery_status(),
        metadata: serde_json::json!({
            "provider": "gmail",
            "mailbox": account.address,
            "thread_id": sent.thread_id,
            "message_id_header": composed.message_id,
        }),
        external_id: sent.id,
    })
}

pub async fn send(
    gmail: &GmailClient,
    context: &SendContext,
    settings: &GmailSettings,
    reply: &PendingReply,
) -> Result<Accepted, SendFailure> {
    send_email(gmail, &context.account, settings, reply, recipient(context)?).await
}
