//! The channel side of a delivery: which account a reply goes out on (the
//! one the customer wrote to, else the tenant's first on that channel),
//! the request its provider needs, and what the answer means. One file per
//! provider; this one holds the shared HTTP step, so every provider's
//! answer is read the same way (status, `Retry-After`, body).
//!
//! Also the reconciliation before a resend (`find_sent`): an attempt that
//! stopped between the provider's acceptance and the storing of its id
//! (a crash, a kill) may have delivered the reply, so the provider is
//! asked first, in its own terms: Twilio's Messages list (recipient, exact
//! text, creation time), Slack's thread or history (the reply id carried
//! as message metadata), Gmail's search (the `Message-ID` the reply was
//! composed with, else its `X-FTE-Reply-Id` among the sent mail to the
//! customer, for Gmail may replace a client-set `Message-ID`). Meta's Cloud API has no way to list sent messages:
//! `Lookup::Unsupported`. A provider that cannot answer (network,
//! 429, 5xx, an unreadable answer) is a temporary failure: the lookup is
//! asked again, never guessed.

pub mod gmail;
mod meta;
mod slack;
mod twilio;
mod webform;

use super::store::PendingReply;
use crate::channels::provider_http::Answer;
use crate::channels::settings::AccountSettings;
use crate::channels::{DeliveryStatus, ProviderRequest};
use crate::crm::{ChannelAccount, get_account, tenant_accounts};
use crate::domain::Identifier;
use sqlx::PgPool;
use std::time::Duration;

/// How much earlier than the claim a provider's clock may date a message
/// of the attempt.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// Pages of a provider's list read at most by one lookup.
pub(crate) const MAX_LOOKUP_PAGES: usize = 10;

/// A provider's acceptance of a reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The provider's id of the message (stored as `external_id`).
    pub external_id: String,
    pub status: DeliveryStatus,
    /// Merged into the reply's metadata.
    pub metadata: serde_json::Value,
}

/// What the provider says about a reply an earlier attempt may have sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The provider has it: the earlier attempt was accepted.
    Found(Accepted),
    /// The provider has no such message: sending is safe.
    NotFound,
    /// The provider offers no way to ask (Meta Cloud API): a resend may duplicate.
    Unsupported,
}

/// Why a send did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendFailure {
    pub reason: String,
    pub retryable: bool,
    /// The provider's own wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// No answer came back (connect error after the request may have
    /// left, time-out): the provider may have accepted the message.
    pub unanswered: bool,
}

impl SendFailure {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), retryable: false, retry_after: None, unanswered: false }
    }

    /// A request that got no answer: retryable, and maybe accepted.
    pub fn unanswered(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), retryable: true, retry_after: None, unanswered: true }
    }

    pub fn temporary(reason: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self { reason: reason.into(), retryable: true, retry_after, unanswered: false }
    }
}

/// Everything needed to send one reply.
#[derive(Clone, Debug)]
pub struct SendContext {
    pub account: ChannelAccount,
    pub settings: AccountSettings,
    /// The customer's address on the channel, from the outbound record.
    pub recipient: Option<Identifier>,
}

/// Picks the account and reads its settings.
pub async fn prepare(
    pool: &PgPool,
    reply: &PendingReply,
    recipient: Option<&Identifier>,
) -> Result<SendContext, SendFailure> {
    let db = |e: crate::crm::CrmError| SendFailure::temporary(format!("cannot read channel accounts: {e}"), None);
    let origin = match reply.origin_account() {
        Some(id) => get_account(pool, reply.tenant_id, id).await.map_err(db)?,
        None => None,
    };
    let account = match origin.filter(|a| a.enabled && a.channel() == reply.channel) {
        Some(account) => account,
        None => {
            tenant_accounts(pool, reply.tenant_id, reply.channel).await.map_err(db)?.into_iter().next().ok_or_else(
                || SendFailure::permanent(format!("the tenant has no {} account to send from", reply.channel)),
            )?
        }
    };
    let settings = AccountSettings::parse(account.provider, &account.config)
        .map_err(|e| SendFailure::permanent(format!("account {}: {e}", account.id)))?;
    Ok(SendContext { account, settings, recipient: recipient.cloned() })
}

/// Sends `reply` once.
pub async fn send(
    http: &reqwest::Client,
    gmail: &crate::channels::gmail::GmailClient,
    pool: &PgPool,
    context: &SendContext,
    reply: &PendingReply,
    public_url: Option<&str>,
) -> Result<Accepted, SendFailure> {
    match &context.settings {
        AccountSettings::Twilio(settings) => twilio::send(http, context, settings, reply, public_url).await,
        AccountSettings::Meta(settings) => meta::send(http, pool, context, settings, reply).await,
        AccountSettings::Slack(settings) => slack::send(http, settings, reply).await,
        AccountSettings::Gmail(settings) => gmail::send(gmail, context, settings, reply).await,
        AccountSettings::Webform(settings) => webform::send(gmail, pool, context, settings, reply).await,
    }
}

/// Asks the provider whether `reply` was already accepted by an attempt that
/// began at `since` (the claim time). `taken` are provider ids already stored
/// for OTHER replies of this tenant on this channel and recipient (so two
/// replies with identical text are told apart): never return one of them.
pub async fn find_sent(
    http: &reqwest::Client,
    gmail: &crate::channels::gmail::GmailClient,
    pool: &PgPool,
    context: &SendContext,
    reply: &PendingReply,
    since: chrono::DateTime<chrono::Utc>,
    taken: &[String],
) -> Result<Lookup, SendFailure> {
    let provider = context.account.provider;
    let lookup = match &context.settings {
        AccountSettings::Twilio(settings) => twilio::find_sent(http, context, settings, reply, since, taken).await,
        AccountSettings::Meta(_) => Ok(meta::find_sent()),
        AccountSettings::Slack(settings) => slack::find_sent(http, settings, reply, since, taken).await,
        AccountSettings::Gmail(settings) => gmail::find_sent(gmail, context, settings, reply, since, taken).await,
        AccountSettings::Webform(settings) => {
            webform::find_sent(gmail, pool, context, settings, reply, since, taken).await
        }
    };
    // The dispatcher reports a found message, an unsupported lookup and a
    // failure itself; what the provider was asked is traced here.
    match &lookup {
        Ok(Lookup::Found(accepted)) => tracing::debug!(
            tenant_id = %reply.tenant_id, message_id = %reply.message_id, provider = %provider,
            external_id = accepted.external_id, since = %since, taken = taken.len(), "found at the provider"
        ),
        Ok(Lookup::NotFound) => tracing::info!(
            tenant_id = %reply.tenant_id, message_id = %reply.message_id, provider = %provider,
            since = %since, taken = taken.len(), "no earlier attempt reached the provider"
        ),
        Ok(Lookup::Unsupported) => {}
        Err(failure) => tracing::debug!(
            tenant_id = %reply.tenant_id, message_id = %reply.message_id, provider = %provider,
            retryable = failure.retryable, reason = failure.reason, "the provider could not be asked"
        ),
    }
    lookup
}

/// Performs a provider call, a send's or a lookup's: a failure to get an
/// answer (connect error, timeout) is retryable. A send's timeout may mean
/// the provider accepted the message (`find_sent` asks).
pub async fn execute(http: &reqwest::Client, request: &ProviderRequest) -> Result<Answer, SendFailure> {
    crate::channels::provider_http::call(http, request).await.map_err(|e| SendFailure::unanswered(e.to_string()))
}
