//! Replies by email through Gmail: an RFC 2822 reply (threaded on the
//! customer's message: `In-Reply-To`, `References`, `Re:` subject, the
//! Gmail thread) sent with `users.messages.send` from the account's
//! mailbox. Web-form replies go the same way when the tenant has a Gmail
//! account, as a new email on the form's subject. Every reply's
//! `Message-ID` is its own id at the mailbox's domain, which is how an
//! earlier attempt is found again (Gmail's `rfc822msgid:` search).

use super::{Accepted, Lookup, SendContext, SendFailure};
use crate::channels::DeliveryStatus;
use crate::channels::gmail::{BodyEncoding, NamedAddress, ReplyContext, compose_reply};
use crate::channels::settings::GmailSettings;
use crate::crm::ChannelAccount;
use crate::dispatch::store::PendingReply;
use crate::domain::{EmailAddress, Identifier};
use crate::gmail::{GmailClient, GmailIoError};

/// Gmail's temporary failures include requests that got no answer, so a
/// temporary failure of a send counts as unanswered (the next attempt asks
/// Gmail first).
fn failure(e: GmailIoError) -> SendFailure {
    match e {
        GmailIoError::Temporary(r) => SendFailure::unanswered(r),
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

/// The mailbox's address and the `Message-ID` `reply` is sent with.
fn sender(account: &ChannelAccount, reply: &PendingReply) -> Result<(EmailAddress, String), SendFailure> {
    let from = EmailAddress::parse(&account.address).map_err(|e| SendFailure::permanent(e.to_string()))?;
    let domain = from.as_str().rsplit('@').next().unwrap_or("localhost").to_string();
    let message_id = format!("<{}@{domain}>", reply.message_id.simple());
    Ok((from, message_id))
}

/// Sends `reply` from `account` to `to`.
pub async fn send_email(
    gmail: &GmailClient,
    account: &ChannelAccount,
    settings: &GmailSettings,
    reply: &PendingReply,
    to: EmailAddress,
) -> Result<Accepted, SendFailure> {
    let (from, message_id) = sender(account, reply)?;
    let context = reply_context(reply, to);
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

/// Looks in `account`'s mailbox for the message `send_email` would have
/// sent for `reply` (by its `Message-ID`), unless its id is in `taken`.
pub async fn find_email(
    gmail: &GmailClient,
    account: &ChannelAccount,
    settings: &GmailSettings,
    reply: &PendingReply,
    taken: &[String],
) -> Result<Lookup, SendFailure> {
    let (_, message_id) = sender(account, reply)?;
    let found = gmail.find_by_message_id(account, settings, &message_id).await.map_err(failure)?;
    Ok(match found.into_iter().find(|(id, _)| !taken.contains(id)) {
        Some((id, thread_id)) => Lookup::Found(Accepted {
            // As a send's: Gmail has no delivery receipts.
            status: DeliveryStatus::Sent,
            metadata: serde_json::json!({
                "provider": "gmail",
                "mailbox": account.address,
                "thread_id": thread_id,
                "message_id_header": message_id,
            }),
            external_id: id,
        }),
        None => Lookup::NotFound,
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
