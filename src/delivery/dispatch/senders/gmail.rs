//! Replies by email through Gmail: an RFC 2822 reply (threaded on the
//! customer's message: `In-Reply-To`, `References`, `Re:` subject, the
//! Gmail thread) sent with `users.messages.send` from the account's
//! mailbox. Web-form replies go the same way when the tenant has a Gmail
//! account, as a new email on the form's subject. Every reply's
//! `Message-ID` is its own id at the mailbox's domain, and its
//! `X-FTE-Reply-Id` header is its own id as a uuid.
//!
//! An earlier attempt is found again in two steps, so that it is found
//! whether Gmail kept the `Message-ID` or replaced it on send: first
//! Gmail's `rfc822msgid:` search for the `Message-ID`; when that finds
//! nothing, the sent mail to the reply's recipient dated from
//! `SENT_SEARCH_MARGIN` before the claim on (`in:sent to:… after:…`,
//! spam and trash included, newest first, at most `MAX_LOOKUP_PAGES`
//! pages), whose candidates (less the ids in `taken`) are read one by one
//! with `users.messages.get?format=metadata` until one carries the
//! reply's `X-FTE-Reply-Id` (header name in any case) or `Message-ID`.
//! At most `MAX_HEADER_READS` candidates are read: a lookup that would
//! need more, or more pages, is a temporary failure saying so, never a
//! `NotFound`; only a search that ends with every candidate read is. A
//! candidate Gmail no longer has (404 between list and get) is passed
//! over. Network errors, 429 and 5xx are temporary failures.

use super::{Accepted, Lookup, MAX_LOOKUP_PAGES, SendContext, SendFailure};
use crate::channels::DeliveryStatus;
use crate::channels::gmail::{
    BodyEncoding, MessageMetadata, NamedAddress, REPLY_ID_HEADER, ReplyContext, compose_reply,
};
use crate::channels::gmail::{GmailClient, GmailIoError};
use crate::channels::settings::GmailSettings;
use crate::crm::ChannelAccount;
use crate::delivery::dispatch::store::PendingReply;
use crate::domain::{EmailAddress, Identifier};
use uuid::Uuid;

/// How much earlier than the claim the sent-mail search reaches: Gmail's
/// `after:` counts whole seconds, and its clock may differ from ours.
pub const SENT_SEARCH_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Sent messages whose headers one lookup reads at most.
pub const MAX_HEADER_READS: usize = 50;

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
        other => Err(SendFailure::permanent(format!(
            "no email address to reply to (recipient: {})",
            other.as_ref().map_or("none", |i| i.kind().as_str())
        ))),
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
        reply.message_id,
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

/// A reply found in `account`'s mailbox, accepted as a send's would be.
fn found(account: &ChannelAccount, id: String, thread_id: Option<String>, message_id: &str) -> Lookup {
    Lookup::Found(Accepted {
        // As a send's: Gmail has no delivery receipts.
        status: DeliveryStatus::Sent,
        metadata: serde_json::json!({
            "provider": "gmail",
            "mailbox": account.address,
            "thread_id": thread_id,
            "message_id_header": message_id,
        }),
        external_id: id,
    })
}

/// Whether a sent message's headers name `reply`: its `X-FTE-Reply-Id`
/// is the reply's id (any uuid spelling), or its `Message-ID` is the one
/// `send_email` set.
fn is_reply(message: &MessageMetadata, reply: &PendingReply, message_id: &str) -> bool {
    message.header_values(REPLY_ID_HEADER).any(|v| Uuid::parse_str(v.trim()).is_ok_and(|id| id == reply.message_id))
        || message.header_values("Message-ID").any(|v| v.trim() == message_id)
}

/// Looks in `account`'s mailbox for the message `send_email` would have
/// sent for `reply` to `to` in an attempt that began at `since`, unless its
/// id is in `taken`: by its `Message-ID`, else among the sent mail to the
/// recipient by its `X-FTE-Reply-Id` (see the module's doc).
pub async fn find_email(
    gmail: &GmailClient,
    account: &ChannelAccount,
    settings: &GmailSettings,
    reply: &PendingReply,
    to: EmailAddress,
    since: chrono::DateTime<chrono::Utc>,
    taken: &[String],
) -> Result<Lookup, SendFailure> {
    let (_, message_id) = sender(account, reply)?;
    let by_message_id = gmail.find_by_message_id(account, settings, &message_id).await.map_err(failure)?;
    if let Some((id, thread_id)) = by_message_id.into_iter().find(|(id, _)| !taken.contains(id)) {
        return Ok(found(account, id, thread_id, &message_id));
    }

    let to = reply_context(reply, to).to.address;
    let after = since - SENT_SEARCH_MARGIN;
    let cannot_tell = |what: String| {
        SendFailure::temporary(
            format!(
                "{what} without finding {REPLY_ID_HEADER} {}: cannot tell whether the reply was sent",
                reply.message_id
            ),
            None,
        )
    };
    let mut read: Vec<String> = Vec::new();
    let mut page_token: Option<String> = None;
    for _ in 0..MAX_LOOKUP_PAGES {
        let page = gmail.sent_to(account, settings, &to, after, page_token.as_deref()).await.map_err(failure)?;
        for (id, listed_thread) in page.messages {
            if taken.contains(&id) || read.contains(&id) {
                continue;
            }
            if read.len() >= MAX_HEADER_READS {
                return Err(cannot_tell(format!(
                    "read the headers of {MAX_HEADER_READS} messages sent to {to} since {after}, and more are listed,"
                )));
            }
            let metadata = gmail
                .message_metadata(account, settings, &id, &[REPLY_ID_HEADER, "Message-ID"])
                .await
                .map_err(failure)?;
            read.push(id.clone());
            // Gone since it was listed: nothing to read.
            let Some(message) = metadata else { continue };
            if is_reply(&message, reply, &message_id) {
                let header = message.header("Message-ID").map(str::trim).unwrap_or(&message_id).to_string();
                return Ok(found(account, id, message.thread_id.or(listed_thread), &header));
            }
        }
        match page.next_page_token {
            Some(next) => page_token = Some(next),
            None => return Ok(Lookup::NotFound),
        }
    }
    Err(cannot_tell(format!(
        "listed {MAX_LOOKUP_PAGES} pages of messages sent to {to} since {after}, and more remain,"
    )))
}

/// Looks for `reply` as `send` would have sent it (see `find_email`).
pub async fn find_sent(
    gmail: &GmailClient,
    context: &SendContext,
    settings: &GmailSettings,
    reply: &PendingReply,
    since: chrono::DateTime<chrono::Utc>,
    taken: &[String],
) -> Result<Lookup, SendFailure> {
    find_email(gmail, &context.account, settings, reply, recipient(context)?, since, taken).await
}

pub async fn send(
    gmail: &GmailClient,
    context: &SendContext,
    settings: &GmailSettings,
    reply: &PendingReply,
) -> Result<Accepted, SendFailure> {
    send_email(gmail, &context.account, settings, reply, recipient(context)?).await
}
